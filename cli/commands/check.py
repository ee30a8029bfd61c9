"""`crondeck check [PATH ...]`: validate jobs files; every problem (exit 2) or a one-line
summary per file.

Several paths are accepted so that `crondeck check examples/*.toml` works in CI the way
shells expand it: each file is checked on its own, a bad one never hides the verdict on the
others, and the exit status is 2 if any file has a problem."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from crondeck.core import Config, ConfigError, Job, build_scheduler, load_config

from ._shared import EXIT_BAD_CONFIG, add_config_arg, locate, print_problems, span, when


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="validate jobs files",
        description="Validate jobs files (the one --config or the default search finds, "
        "or every PATH given): print every problem with file, line, job and key, or a "
        "one-line summary per file. Exit 2 if any file has a problem, else 0. Never "
        "changes any file.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="jobs files to check (e.g. examples/*.toml); none: the usual one")
    add_config_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    paths = [Path(p) for p in getattr(args, "paths", None) or ()]
    if getattr(args, "config", None) and paths:
        paths.insert(0, Path(args.config))  # `--config a.toml b.toml`: both are asked for
    if not paths:  # the usual search (and the first-use example file), as every command
        paths = [locate(args, err).path]
    several = len(paths) > 1
    bad = sum(not check_one(path, out, err, named=several) for path in paths)
    if several and bad:
        print(f"crondeck check: {bad} of {len(paths)} files have problems" if bad > 1 else
              f"crondeck check: 1 of {len(paths)} files has problems", file=err)
    return EXIT_BAD_CONFIG if bad else 0


def check_one(path: Path, out: TextIO, err: TextIO, *, named: bool = False) -> bool:
    """Validate one file, print its verdict; True if it has no problem. `named` puts the
    file in the problems' header, needed once several files' reports follow each other."""
    try:
        config = load_config(path)
        scheduler = build_scheduler(config)  # agents too: a Python target must import
    except ConfigError as exc:
        if named:
            n = len(exc.problems)
            print(f"crondeck check: {n} problem{'s' if n != 1 else ''} in {path} "
                  "(nothing was changed):", file=err)
            for problem in exc.problems:
                print(f"  {problem}".replace("\n", "\n  "), file=err)
        else:
            print_problems(exc, "check", err)
        return False
    for warning in config.warnings:
        print(f"warning: {warning}", file=err)
    print(summary(config, scheduler.upcoming(1)), file=out)
    return True


def summary(config: Config, upcoming: list[tuple[datetime, Job]]) -> str:
    """"path: OK, 3 jobs, 1 agent; next: tick at … (in 4s)", one line."""
    nxt = ""
    if upcoming:
        at, job = upcoming[0]
        left = (at - datetime.now(UTC)).total_seconds()
        nxt = f"; next: {job.name} at {when(at, job.schedule.tz)} (in {span(left)})"
    n, a, w = len(config.jobs), len(config.agents), len(config.warnings)
    warn = f", {w} warning{'s' if w != 1 else ''}" if w else ""
    return (f"{config.path}: OK, {n} job{'s' if n != 1 else ''}, {a} agent"
            f"{'s' if a != 1 else ''}{warn}{nxt}")
