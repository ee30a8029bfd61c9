"""`crondeck logs JOB [--run RUN_ID] [--follow]`: the full output of a run, from its log file."""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import TextIO

from crondeck.core import RunLogs, safe_name

from ._shared import EXIT_BAD_CONFIG, EXIT_ERROR, add_config_arg, known_job, load, read_state

_FINAL = re.compile(r"^# crondeck: attempt \d+ (ok|failed|timed_out|cancelled)\b")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "logs",
        help="print the output of a job's run",
        description="Print the full output of a job's latest run, or of --run RUN_ID. "
        "With --follow, keep printing as the run writes, until it ends (or Ctrl-C).",
    )
    p.add_argument("job", metavar="JOB", help="job name")
    p.add_argument("--run", metavar="RUN_ID", help="a run id from `crondeck history JOB`")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new output")
    p.add_argument("--list", action="store_true", help="list the job's log files instead")
    add_config_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    config = load(args, "logs", err)
    if config is None:
        return EXIT_BAD_CONFIG
    if not known_job(config, args.job, "logs", err):
        return EXIT_ERROR
    logs = RunLogs(Path(config.state_dir) / "runs")
    if args.list:
        for run_path in logs.runs(args.job):
            print(run_path, file=out)
        return 0
    path = logs.find(args.job, args.run)
    if path is None:
        what = f"run {args.run!r}" if args.run else "any run"
        print(f"crondeck logs: no log for {what} of {args.job!r} in {logs.job_dir(args.job)}"
              "; `crondeck history JOB` lists run ids", file=err)
        return EXIT_ERROR
    with open(path, encoding="utf-8", errors="replace") as fh:
        out.write(fh.read())
        out.flush()
        if not args.follow:
            return 0
        run_id = args.run
        try:
            while True:
                chunk = fh.read()
                if chunk:
                    out.write(chunk)
                    out.flush()
                    continue
                if _finished(path, config, args.job, run_id):
                    return 0
                time.sleep(0.2)
        except KeyboardInterrupt:
            return 0


def _finished(path: Path, config: object, job: str, run_id: str | None) -> bool:
    """The log ends with a final crondeck note and the run is not in flight any more."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return True
    if not lines or not _FINAL.match(lines[-1]):
        return False
    st = read_state(config).jobs.get(job)  # type: ignore[arg-type]
    running = st.running if st else ()
    return not any(safe_name(r) + ".log" == path.name for r in running)
