"""`crondeck check`: validate the jobs file; every problem (exit 2) or a one-line summary."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TextIO

from crondeck.core.config import ConfigError
from crondeck.core.deck import build_scheduler

from ._shared import EXIT_BAD_CONFIG, add_config_arg, load, print_problems, span, when


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="validate the jobs file",
        description="Validate the jobs file: print every problem with file, line, job and key "
        "and exit 2, or print a one-line summary and exit 0. Never changes any file.",
    )
    add_config_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    config = load(args, "check", err)
    if config is None:
        return EXIT_BAD_CONFIG
    try:
        scheduler = build_scheduler(config)  # agents too: a Python target must import
    except ConfigError as exc:
        print_problems(exc, "check", err)
        return EXIT_BAD_CONFIG
    for warning in config.warnings:
        print(f"warning: {warning}", file=err)
    upcoming = scheduler.upcoming(1)
    nxt = ""
    if upcoming:
        at, job = upcoming[0]
        left = (at - datetime.now(UTC)).total_seconds()
        nxt = f"; next: {job.name} at {when(at, job.schedule.tz)} (in {span(left)})"
    n, a = len(config.jobs), len(config.agents)
    warn = f", {len(config.warnings)} warning{'s' if len(config.warnings) != 1 else ''}" if (
        config.warnings) else ""
    print(f"{config.path}: OK, {n} job{'s' if n != 1 else ''}, {a} agent{'s' if a != 1 else ''}"
          f"{warn}{nxt}", file=out)
    return 0
