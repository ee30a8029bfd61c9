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

from crondeck.core import (
    Config,
    ConfigError,
    Problem,
    Schedule,
    cron,
    get_zone,
    load_config,
    local_zone,
)
from crondeck.core import first_fire as job_first_fire

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
        upcoming = first_fire(config)
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
    print(summary(config, upcoming), file=out)
    return True


def _runs_commands_only(config: Config) -> bool:
    """No job needs code imported to be set up: no Python target, no model agent."""
    return all(job.python is None and (not job.agent or config.agents[job.agent].kind
                                       == "command") for job in config.jobs)


def first_fire(config: Config, now: datetime | None = None,
               ) -> list[tuple[datetime, str, Schedule]]:
    """The next fire (instant, job, schedule) of the file, as `build_scheduler(config)
    .upcoming(1)` gives it. Raises ConfigError as that does for a job that cannot be set up.

    A file of commands needs no scheduler for that: the validated config has checked every
    command, so the first fire is the earliest of its jobs' own (`crondeck.core.first_fire`,
    the rule `Scheduler.add_job` follows: asyncio and the run machinery stay unloaded). A Python
    target or a model agent is built by the scheduler itself, which imports it. `now`: the
    scheduler's clock (default the system's)."""
    if not _runs_commands_only(config):
        from crondeck.core import FakeClock, build_scheduler

        clock = FakeClock(now) if now is not None else None
        return [(at, job.name, job.schedule)
                for at, job in build_scheduler(config, clock=clock).upcoming(1)]
    now = now if now is not None else datetime.now(UTC)
    best: tuple[datetime, str, Schedule] | None = None
    problems: list[Problem] = []
    for job in config.jobs:
        try:
            policy = config.policy(job)
            zone = str(get_zone(policy.timezone) if policy.timezone else local_zone())
            schedule = cron(job.schedule, zone)
            options = config.options(job, policy)
        except Exception as exc:
            problems.append(Problem(config.path, f"cannot set up this job: {exc}", None,
                                    job.name, "agent" if job.agent else "command"))
            continue
        try:
            at = job_first_fire(schedule, options, now, enabled=policy.enabled is not False)
        except Exception:  # a schedule that can never fire again
            at = None
        if at is not None and (best is None or at < best[0]):
            best = (at, job.name, schedule)
    if problems:
        raise ConfigError(problems)
    return [best] if best is not None else []


def summary(config: Config, upcoming: list[tuple[datetime, str, Schedule]]) -> str:
    """"path: OK, 3 jobs, 1 agent; next: tick at … (in 4s)", one line."""
    nxt = ""
    if upcoming:
        at, name, schedule = upcoming[0]
        left = (at - datetime.now(UTC)).total_seconds()
        nxt = f"; next: {name} at {when(at, schedule.tz)} (in {span(left)})"
    n, a, w = len(config.jobs), len(config.agents), len(config.warnings)
    warn = f", {w} warning{'s' if w != 1 else ''}" if w else ""
    return (f"{config.path}: OK, {n} job{'s' if n != 1 else ''}, {a} agent"
            f"{'s' if a != 1 else ''}{warn}{nxt}")
