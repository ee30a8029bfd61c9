"""Shared plumbing of the commands that work on a jobs file: find it, load it, say what is
wrong with it, and format times the way `systemctl list-timers` does."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from crondeck.core import (
    Config,
    ConfigError,
    ConfigLocation,
    load_config,
    resolve_config,
)

if TYPE_CHECKING:
    from crondeck.core import StateStore

EXIT_ERROR = 1
EXIT_BAD_CONFIG = 2


def silence(stream: TextIO) -> None:
    """Send further writes to `stream` (a pipe whose reader went away) to /dev/null, so
    neither later writes nor the interpreter's final flush raise again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def reader_gone(stream: TextIO) -> bool:
    """Whether nobody reads `stream` any more (a pipe whose reader exited, a hung-up
    terminal), found without writing to it: a command with nothing to print for hours
    would otherwise only learn it at its next write."""
    import select

    try:
        fd = stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    poll = select.poll()
    poll.register(fd, 0)  # only what is always reported: an error or a hang-up
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))


def count(limit: int) -> Callable[[str], int]:
    """An argparse type for `-n`: a whole number from 1 to `limit`, or a usage error that
    says so (`-n 0` and `-n -5` used to print one result)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"{value} is out of range: give 1 to {limit}")
        return value

    return parse


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    """`--config` after the command too (`crondeck run --config x`); SUPPRESS keeps a value
    given before the command (`crondeck --config x run`)."""
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="jobs file (default: $CRONDECK_CONFIG, ./crondeck.toml, "
                             "then $XDG_CONFIG_HOME/crondeck/crondeck.toml)")


def locate(args: argparse.Namespace, err: TextIO) -> ConfigLocation:
    loc = resolve_config(getattr(args, "config", None))
    if loc.created:
        print(f"crondeck: created an example jobs file at {loc.path}; edit it to add jobs",
              file=err)
    return loc


def refuse_read_only(args: argparse.Namespace, command: str, err: TextIO) -> bool:
    """True (after saying why) when `--read-only` was given to a command that fires jobs:
    an observer must never run anything, so the flag is refused rather than ignored."""
    if not getattr(args, "read_only", False):
        return False
    print(f"crondeck {command}: --read-only only observes, and `crondeck {command}` runs "
          "jobs; nothing was run. Drop --read-only to run them, or watch with "
          "`crondeck --read-only` (the console), `crondeck list`, `history` or `logs`.",
          file=err)
    return True


def load(args: argparse.Namespace, command: str, err: TextIO) -> Config | None:
    """The validated config, or None after printing every problem to `err`."""
    loc = locate(args, err)
    try:
        return load_config(loc.path)
    except ConfigError as exc:
        print_problems(exc, command, err)
        return None


def print_problems(exc: ConfigError, command: str, err: TextIO) -> None:
    n = len(exc.problems)
    print(f"crondeck {command}: {n} problem{'s' if n != 1 else ''} in the jobs file "
          "(nothing was changed):", file=err)
    for problem in exc.problems:
        print(f"  {problem}".replace("\n", "\n  "), file=err)


def read_state(config: Config) -> StateStore:
    """The state as last saved, read-only: nothing is written, moved or locked."""
    # Loaded here: the store brings the jobs and their run machinery, which `check` skips.
    from crondeck.core import StateStore

    return StateStore(Path(config.state_dir) / "state.toml", read_only=True).load()


def known_job(config: Config, name: str, command: str, err: TextIO | None = None) -> bool:
    names = [j.name for j in config.jobs]
    if name in names:
        return True
    import difflib  # here: only a misspelt name needs it

    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else (
        f"; jobs: {', '.join(names)}" if names else "; the jobs file has no jobs")
    print(f"crondeck {command}: no job named {name!r} in {config.path}{hint}",
          file=err or sys.stderr)
    return False


def when(dt: datetime | None, zone: object | None = None) -> str:
    """"Sat 2025-03-01 09:05:00 CET" in the job's zone (or UTC), "-" for none."""
    if dt is None:
        return "-"
    local = dt.astimezone(zone) if zone is not None else dt.astimezone(UTC)  # type: ignore[arg-type]
    return local.strftime("%a %Y-%m-%d %H:%M:%S %Z")


def span(seconds: float) -> str:
    """A span as the console shows it (`4m 12s`, `7h 07m`, `2d 9h`): one format everywhere."""
    from crondeck.core import short_span  # here: only listings show spans

    return short_span(seconds)


def table(rows: list[list[str]], out: TextIO) -> None:
    """Left-aligned columns separated by two spaces; the first row is the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
