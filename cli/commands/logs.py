"""`crondeck logs JOB [--run RUN_ID] [--follow]`: the full output of a run, from its log file."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from crondeck.core import RunLogs, escape_controls, safe_name

from ._shared import (
    EXIT_BAD_CONFIG,
    EXIT_ERROR,
    add_config_arg,
    known_job,
    load,
    read_state,
    reader_gone,
)

# How often a follower looks for more output of the run it follows, and for a next run.
POLL = 0.2
POLL_RUNS = 0.5
_TAIL_BYTES = 65536  # more than a final crondeck note (and its error) takes
_FINAL = re.compile(r"^# crondeck: attempt \d+ (ok|failed|timed_out|cancelled)\b")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "logs",
        help="print the output of a job's run",
        description="Print the full output of a job's latest run, or of --run RUN_ID. "
        "With --follow, keep printing as the run writes, then each next run of the job as it "
        "starts, until Ctrl-C (like `journalctl -f`); with --run and --follow, until that "
        "run ends.",
    )
    p.add_argument("job", metavar="JOB", help="job name")
    p.add_argument("--run", metavar="RUN_ID", help="a run id from `crondeck history JOB`")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep printing new output, and the next runs' (Ctrl-C stops)")
    p.add_argument("--list", action="store_true", help="list the job's log files instead")
    p.add_argument("--raw", action="store_true",
                   help="print terminal control characters as the agent wrote them (by "
                        "default they are shown escaped, e.g. \\x1b, so a run's output "
                        "cannot drive your terminal)")
    add_config_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    config = load(args, "logs", err)
    if config is None:
        return EXIT_BAD_CONFIG
    if not known_job(config, args.job, "logs", err):
        return EXIT_BAD_CONFIG
    logs = RunLogs(Path(config.state_dir) / "runs")
    if args.list:
        for run_path in logs.runs(args.job):
            print(run_path, file=out)
        return 0
    path = logs.find(args.job, args.run)
    # Escaped whatever stdout is: a log piped through `tail` or `grep` ends up on a terminal
    # too. --raw gives the bytes as logged.
    shown = (lambda text: text) if args.raw else escape_controls
    if path is None and args.follow and args.run is None:
        print(f"crondeck logs: {args.job!r} has no run yet; waiting for its first one "
              "(Ctrl-C stops)", file=err)
        return _follow_next(logs, config, args.job, out, shown)
    if path is None:
        what = f"run {args.run!r}" if args.run else "any run"
        print(f"crondeck logs: no log for {what} of {args.job!r} in {logs.job_dir(args.job)}"
              "; `crondeck history JOB` lists run ids", file=err)
        return EXIT_ERROR
    with open(path, encoding="utf-8", errors="replace") as fh:
        out.write(shown(fh.read()))
        out.flush()
        if not args.follow:
            return 0
        try:
            _tail(fh, path, config, args.job, args.run, out, shown,
                  None if args.run else _newer_than(logs, args.job, path))
        except KeyboardInterrupt:
            return 0
    if args.run is not None:
        return 0
    return _follow_next(logs, config, args.job, out, shown)


def _follow_next(logs: RunLogs, config: object, job: str, out: TextIO,
                 shown: Callable[[str], str]) -> int:
    """Print each run of `job` that starts from now on, as it writes, until Ctrl-C: every
    log file present now has been printed (or predates the follower)."""
    seen = set(logs.runs(job))
    try:
        while True:
            new = [p for p in logs.runs(job) if p not in seen]
            if not new:
                _reader_gone(out)
                time.sleep(POLL_RUNS)
                continue
            for path in new:  # oldest first
                seen.add(path)
                with contextlib.suppress(FileNotFoundError), \
                        open(path, encoding="utf-8", errors="replace") as fh:
                    _tail(fh, path, config, job, None, out, shown, _newer_than(logs, job, path))
    except KeyboardInterrupt:
        return 0


def _newer_than(logs: RunLogs, job: str, path: Path) -> Callable[[], bool]:
    """Whether a later run of `job` has started: the followed one will write no more (a
    crondeck killed mid-run leaves a log that never gets its final line)."""
    def newer() -> bool:
        runs = logs.runs(job)
        return bool(runs) and runs[-1] != path
    return newer


def _tail(fh: TextIO, path: Path, config: object, job: str, run_id: str | None,
          out: TextIO, shown: Callable[[str], str],
          moved_on: Callable[[], bool] | None = None) -> None:
    """Print what the run writes to `fh` until it has ended (or `moved_on`)."""
    idle = 0
    while True:
        chunk = fh.read()
        if chunk:
            out.write(shown(chunk))
            out.flush()
            idle = 0
            continue
        if _finished(path, config, job, run_id):
            return
        idle += 1
        # checked once a second of silence: a later log means this run will write no more
        if (moved_on is not None and idle % 5 == 0 and moved_on()
                and not _running(path, config, job)):
            out.write(shown(fh.read()))
            out.flush()
            return
        _reader_gone(out)
        time.sleep(POLL)


def _reader_gone(out: TextIO) -> None:
    """Raise BrokenPipeError once nobody reads `out` (`crondeck logs -f JOB | head -2`): a
    follower may have nothing to print for hours, and would only find out at its next write."""
    if reader_gone(out):
        raise BrokenPipeError(errno.EPIPE, "the reader of stdout went away")


def _finished(path: Path, config: object, job: str, run_id: str | None) -> bool:
    """The log ends with a final crondeck note and the run is not in flight any more."""
    try:  # its last line only: a follower of a 10 MiB log asks five times a second
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - _TAIL_BYTES))
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return True
    if not lines or not _FINAL.match(lines[-1]):
        return False
    return not _running(path, config, job)


def _running(path: Path, config: object, job: str) -> bool:
    """The state file lists the run whose log `path` is as in flight."""
    st = read_state(config).jobs.get(job)  # type: ignore[arg-type]
    running = st.running if st else ()
    return any(safe_name(r) + ".log" == path.name for r in running)
