"""The `crondeck` command line: the TUI by default, headless subcommands otherwise.

Each subcommand lives in `crondeck.cli.commands.<name>` with `register(subparsers)` that
adds its parser and sets `func=run`; this module only wires them together.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from .commands._shared import silence

EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a reader gone away

# Modules, in the order `crondeck --help` lists their commands (`control` registers pause,
# resume, trigger, skip, cancel and reload).
COMMANDS = ["run", "status", "control", "list", "check", "history", "logs", "next", "exec",
            "export"]


def _version() -> str:
    try:
        return version("crondeck")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crondeck",
        description=(
            "Run AI agents and commands on cron or interval schedules, and watch them live."
        ),
    )
    parser.add_argument("--version", action="version", version=f"crondeck {_version()}")
    parser.add_argument("--config", metavar="PATH", help="jobs file (default: see README)")
    parser.add_argument(
        "--demo", action="store_true", help="open the app on a bundled demo config"
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="observe state and logs without firing anything (no lock taken)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        import_module(f"crondeck.cli.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        func = _default_command(args)
    try:
        code = int(func(args) or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`crondeck list | head -1`): stop quietly, as cat does.
        silence(sys.stdout)
        return EXIT_PIPE



def _default_command(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    """No subcommand: the console (Textual is imported only here)."""
    return import_module("crondeck.tui.app").run_app  # type: ignore[no-any-return]


if __name__ == "__main__":
    sys.exit(main())
