"""`crondeck exec JOB`: run one slot of one job now, in the foreground, exactly as the
scheduler would (gate, agent streaming to stdout, timeout, retries, redaction), and exit with
a code that says how it went. This is what exported CronJobs, timers and crontab lines run.

The slot is a Scheduler holding only this job, dispatched through the scheduler's own slot
path, so no scheduling or run logic is duplicated here. The run id is `JOB@<slot UTC>` with
the slot from `--scheduled-for` (or a Kubernetes Job name), default now to the minute, so a
retried pod or a re-run unit reuses the same id.

History: with no scheduler running, the result is recorded in `state.toml` under the state
lock (taken only for that moment); beside a running scheduler it goes to `.crondeck/inbox/`
for the scheduler to fold in; on a read-only state directory it is only printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TextIO

from crondeck.core import (
    Config,
    ConfigError,
    Event,
    LockHeld,
    OutputChunk,
    RunLogRecorder,
    RunLogs,
    RunResult,
    RunStatus,
    StateLock,
    StateStore,
    build_scheduler,
    drop_result,
    fold_inbox,
)

from ._shared import (
    EXIT_BAD_CONFIG,
    add_config_arg,
    known_job,
    load,
    print_problems,
    refuse_read_only,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_SKIPPED = 3
EXIT_TIMED_OUT = 4
EXIT_INTERRUPTED = 130
_K8S_JOB = re.compile(r"-(\d{7,})$")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "exec",
        help="run one slot of one job now, as the scheduler would",
        description="Run one slot of JOB in the foreground, exactly as the scheduler would: "
        "gate, agent (output streamed to stdout), timeout, retries, redaction. Exit codes: "
        "0 ok, 1 failed, 2 bad configuration, 3 skipped (by the gate, or the job is "
        "disabled), 4 timed out, 130 interrupted. Needs no lock: beside a running scheduler "
        "the result joins its history through .crondeck/inbox/.",
    )
    p.add_argument("job", metavar="JOB")
    add_config_arg(p)
    p.add_argument("--scheduled-for", metavar="ISO",
                   help="the slot this run is for (its run id); a time without zone is in "
                        "the job's zone (default: now, to the minute)")
    p.add_argument("--k8s-job", metavar="NAME",
                   help="take the slot from a CronJob's Job name (<cronjob>-<minutes since "
                        "the epoch>), so a retried pod keeps the run id")
    p.add_argument("--json", action="store_true",
                   help="end with one JSON line: the RunResult")
    p.add_argument("--no-retries", action="store_true",
                   help="one attempt only (when the engine retries, like Kubernetes)")
    p.add_argument("--skipped-exit-code", type=int, default=EXIT_SKIPPED, metavar="N",
                   help="exit code for a slot the gate skipped or a disabled job (default 3)")
    p.add_argument("--force", action="store_true",
                   help="run the job even if it is disabled (enabled = false)")
    p.set_defaults(func=run)


def exit_code(result: RunResult, skipped: int = EXIT_SKIPPED) -> int:
    """The documented exit code of a final result."""
    return {
        RunStatus.OK: EXIT_OK,
        RunStatus.SKIPPED: skipped,
        RunStatus.TIMED_OUT: EXIT_TIMED_OUT,
        RunStatus.CANCELLED: EXIT_INTERRUPTED,
    }.get(result.status, EXIT_FAILED)


def slot_for(args: argparse.Namespace, zone: tzinfo, err: TextIO) -> datetime:
    """The scheduled instant: --scheduled-for, else a Kubernetes Job name, else now (to the
    minute). Raises ValueError with what to write instead."""
    if args.scheduled_for:
        try:
            when = datetime.fromisoformat(args.scheduled_for)
        except ValueError:
            raise ValueError(f"--scheduled-for {args.scheduled_for!r} is not an ISO date-time; "
                             "write e.g. 2026-03-01T09:00 or 2026-03-01T08:00:00Z") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        return when.astimezone(UTC)
    if args.k8s_job:
        m = _K8S_JOB.search(args.k8s_job)
        if m:
            return datetime.fromtimestamp(int(m.group(1)) * 60, UTC)
        print(f"crondeck exec: {args.k8s_job!r} is not a CronJob's Job name (created by hand?); "
              "using now as the slot", file=err)
    return datetime.now(UTC).replace(second=0, microsecond=0)


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


class History:
    """Where the result goes: state.toml under a briefly held lock, the inbox beside a
    running scheduler, or nowhere (read-only state directory)."""

    def __init__(self, config: Config) -> None:
        self.state_dir = Path(config.state_dir)
        self.history = config.scheduler.history or 50
        self.writable = _writable(self.state_dir)
        self.where = ""

    def save(self, result: RunResult) -> str:
        if not self.writable:
            return f"not recorded: {self.state_dir} is not writable"
        lock = StateLock(self.state_dir / "lock")
        try:
            lock.acquire()
        except LockHeld as exc:
            path = drop_result(self.state_dir, result)
            who = f"pid {exc.pid}" if exc.pid else "another process"
            return f"recorded for the running scheduler ({who}) in {path}"
        except OSError as exc:
            return f"not recorded: {exc}"
        try:
            store = StateStore(self.state_dir / "state.toml", history=self.history).load()
            store.record(result)
            fold_inbox(self.state_dir, store.record, store.flush)
            store.flush()
            return f"recorded in {store.path}"
        finally:
            lock.release()


class _Stream:
    """Streams a run's output to stdout/stderr and remembers whether stdout ended mid-line,
    so `--json` can start its line on a line of its own."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self.mid_line = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, OutputChunk) and event.text:
            target = self.err if event.stream == "stderr" else self.out
            target.write(event.text)
            target.flush()
            if target is self.out:
                self.mid_line = not event.text.endswith("\n")


async def _run_slot(config: Config, name: str, slot: datetime, stream: _Stream,
                    logs: RunLogs | None) -> RunResult:
    scheduler = build_scheduler(config)  # raises ConfigError (an agent that cannot load)
    job = scheduler.jobs[name]
    scheduler.add_listener(stream)
    recorder = None
    if logs is not None:
        recorder = RunLogRecorder(logs)
        scheduler.add_listener(recorder)
    # The scheduler's own path for a due slot (overlap, claim, gate, attempts, retries).
    handle = scheduler.run_slot(job, slot)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, handle.cancel,
                                f"interrupted by {signal.Signals(signum).name}")
    try:
        return await handle.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if recorder is not None:
            recorder.close()


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if refuse_read_only(args, "exec", err):
        return EXIT_BAD_CONFIG
    config = load(args, "exec", err)
    if config is None:
        return EXIT_BAD_CONFIG
    if not known_job(config, args.job, "exec", err):
        return EXIT_BAD_CONFIG
    spec = config.job(args.job)
    if not config.enabled(spec):
        # Timers and CronJobs exported earlier keep calling exec: a job switched off in the
        # file must not run behind the operator's back, and nothing is recorded for it.
        if not args.force:
            print(f"crondeck exec: job {spec.name!r} is disabled (enabled = false in "
                  f"{config.path}); nothing run, nothing recorded; exit "
                  f"{args.skipped_exit_code}. Use --force to run it anyway.", file=err)
            return args.skipped_exit_code
        spec = replace(spec, policy=replace(spec.policy, enabled=True))
    if args.no_retries:
        spec = replace(spec, policy=replace(spec.policy, retries=0))
    one = replace(config, jobs=[spec])
    try:
        slot = slot_for(args, config.zone(spec), err)
    except ValueError as exc:
        print(f"crondeck exec: {exc}", file=err)
        return EXIT_BAD_CONFIG
    history = History(config)
    logs = RunLogs(history.state_dir / "runs") if history.writable else None
    stream = _Stream(out, err)
    try:
        result = asyncio.run(_run_slot(one, spec.name, slot, stream, logs))
    except ConfigError as exc:
        print_problems(exc, "exec", err)
        return EXIT_BAD_CONFIG
    where = history.save(result)
    code = exit_code(result, args.skipped_exit_code)
    line = f"crondeck exec: {result.run_id}: {result.status.value}"
    if result.reason:
        line += f" ({result.reason})"
    print(f"{line}; exit {code}; {where}", file=err)
    if args.json:
        if stream.mid_line:
            out.write("\n")
        out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        out.flush()
    with contextlib.suppress(Exception):
        err.flush()
    return code
