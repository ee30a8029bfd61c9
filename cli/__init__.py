"""crondeck.cli: the `crondeck` command line (`crondeck.cli.main:main`). Headless commands
import no Textual; the console is loaded only when no subcommand is given."""
