"""The `crondeck` command line: the TUI by default, headless subcommands otherwise.

Each subcommand lives in `crondeck.cli.commands.<name>` with `register(subparsers)` that
adds its parser and sets `func=run`; this module only wires them together. A command's
module is imported only when that command is given: `crondeck next` never pays for the
scheduler, agents or exporters, and `crondeck --help` for none of them.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any, cast

# Options taking a duration: argparse reads `--for -5m` as a missing value followed by an
# option, so a value that looks negative is handed over as `--for=-5m` for the type to refuse.
_DURATION_OPTIONS = ("--for", "--wait-for-lock")
EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a reader gone away
_OUTPUT_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)

# Each command's one-line help for `crondeck --help`, in the order listed there. It repeats
# the help its module registers (a test keeps the two equal), so the list needs no module.
COMMAND_HELP = {
    "run": "run the scheduler headless, logging JSON lines",
    "status": "what the running scheduler is doing, and who it is",
    "pause": "pause a job (or every job) on the running scheduler",
    "resume": "resume a paused job (or the whole scheduler)",
    "trigger": "run a job now on the running scheduler",
    "skip": "skip a job's next slot",
    "cancel": "cancel a job's runs in flight (or every run)",
    "reload": "make the running scheduler re-read the jobs file now",
    "list": "list jobs with their next and last runs",
    "check": "validate jobs files",
    "history": "show recent runs, skips and failures",
    "logs": "print the output of a job's run",
    "next": "describe a cron expression and print its next fires",
    "exec": "run one slot of one job now, as the scheduler would",
    "export": "export jobs as Kubernetes CronJobs, systemd timers or a crontab, or the "
              "scheduler as a systemd user service",
}
COMMANDS = list(COMMAND_HELP)
# The operator's verbs share one module (`commands/control.py`); every other command is the
# module of its own name.
_MODULE = dict.fromkeys(("pause", "resume", "trigger", "skip", "cancel", "reload"), "control")


def command_module(name: str) -> str:
    """The module under `crondeck.cli.commands` that registers command `name`."""
    return _MODULE.get(name, name)


def _version() -> str:
    # importlib.metadata is slow to import and only --version needs it.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crondeck")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


class _VersionAction(argparse.Action):
    """argparse's "version" action, with the version looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS,
                 help: str = "show program's version number and exit") -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"crondeck {_version()}")
        parser.exit()


def _columns() -> int:
    """The terminal's width as `shutil.get_terminal_size` tells it (COLUMNS, else the
    terminal on stdout, else 80), without importing shutil: it loads zlib, bz2 and lzma."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    try:
        lines = int(os.environ["LINES"])
    except (KeyError, ValueError):
        lines = 0
    if columns <= 0 or lines <= 0:
        try:
            size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            size = os.terminal_size((80, 24))
        if columns <= 0:
            columns = size.columns or 80
    return columns


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, its default width found by `_columns`: argparse makes one
    for every argument added (to check its metavar), and its own asks shutil."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _columns() - 2 if width is None else width)


class _Filled:
    """Stands in for the subparsers action when a command module registers itself: hands
    back the parser already listed under that name, with the module's settings applied."""

    def __init__(self, name: str, parser: argparse.ArgumentParser) -> None:
        self._name = name
        self._parser = parser

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if name != self._name:  # a module registering several commands: not the one given
            return argparse.ArgumentParser(prog=name, add_help=False)
        kwargs.pop("help", None)  # listed from COMMAND_HELP already
        for key, value in kwargs.items():
            setattr(self._parser, key, value)
        return self._parser


class _LazyCommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands listed by name and help line; a command's parser is made, and its
    arguments added by its module, only when that command is given (an ArgumentParser with
    its help option costs about as much as importing a small module)."""

    def list_command(self, name: str, help_text: str) -> None:
        """What `add_parser(name, help=help_text)` lists, without making the parser."""
        self._choices_actions.append(self._ChoicesPseudoAction(name, (), help_text))
        self._name_parser_map[name] = None  # a choice, its parser made by `load`

    def load(self, name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser | None = self._name_parser_map[name]
        if parser is None:  # what add_parser(name) makes, in the place listed
            parser = self._parser_class(prog=f"{self._prog_prefix} {name}",
                                        formatter_class=_Formatter)
            self._name_parser_map[name] = parser
            import_module(f"crondeck.cli.commands.{command_module(name)}").register(
                _Filled(name, parser))
        return parser

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        if values and values[0] in self._name_parser_map:
            self.load(values[0])
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crondeck",
        formatter_class=_Formatter,
        description=(
            "Run AI agents and commands on cron or interval schedules, and watch them live."
        ),
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("--config", metavar="PATH", help="jobs file (default: see README)")
    parser.add_argument(
        "--demo", action="store_true", help="open the app on a bundled demo config"
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="observe state and logs without firing anything (no lock taken)",
    )
    sub = cast(_LazyCommands, parser.add_subparsers(dest="command", metavar="COMMAND",
                                                    action=_LazyCommands))
    for name, help_text in COMMAND_HELP.items():
        sub.list_command(name, help_text)
    return parser


def _negative_durations(argv: Sequence[str]) -> list[str]:
    """`argv` with a duration option followed by a negative-looking value (`--for -5m`)
    joined into one word, so the option's type says what is wrong with the value."""
    out: list[str] = []
    for word in argv:
        if (out and out[-1] in _DURATION_OPTIONS and len(word) > 1 and word[0] == "-"
                and (word[1].isdigit() or word[1] == ".")):
            out[-1] = f"{out[-1]}={word}"
        else:
            out.append(word)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    own = argv is None  # this process's own command line (not a call from other code)
    if own:
        # Importing the command's modules builds objects that live until exit: collecting
        # meanwhile would free none, and once frozen no later collection walks them again.
        gc.disable()
    parser = build_parser()
    try:
        args = parser.parse_args(_negative_durations(sys.argv[1:] if argv is None else argv))
    except OSError as exc:  # --help or --version printed to a full disk
        return _output_failed("crondeck", exc)
    finally:
        if own:
            gc.freeze()
            gc.enable()
    if own:  # told to the command: asking gc walks every frozen object to count them
        args.gc_frozen = True
    func = getattr(args, "func", None)
    if func is None:
        func = _default_command(args)
    try:
        code = int(func(args) or 0)
        sys.stdout.flush()
        if own:
            # The process exits next: the full collection at exit would walk every object to
            # free only what the OS takes back anyway.
            gc.freeze()
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`crondeck list | head -1`): stop quietly, as cat does.
        from .commands._shared import silence

        silence(sys.stdout)
        return EXIT_PIPE
    except OSError as exc:
        return _output_failed(f"crondeck {args.command}" if args.command else "crondeck", exc)


def _output_failed(prog: str, exc: OSError) -> int:
    """An OSError no command handled, most often its output refused (stdout on a full disk,
    /dev/full, a quota): one line on stderr rather than a traceback, exit 1."""
    from .commands._shared import silence

    if exc.filename:
        what = f"{exc.filename}: "
    elif exc.errno in _OUTPUT_ERRORS:  # no file named: the write that failed was stdout's
        what = "cannot write its output: "
        silence(sys.stdout)  # what is still buffered must not raise again at exit
    else:
        what = ""
    with contextlib.suppress(OSError):
        print(f"{prog}: {what}{exc.strerror or exc}", file=sys.stderr)
    return 1


def _default_command(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    """No subcommand: the console (Textual is imported only here)."""
    return import_module("crondeck.tui.app").run_app  # type: ignore[no-any-return]


if __name__ == "__main__":
    sys.exit(main())
