"""`crondeck exec JOB`: run one slot of one job now, in the foreground, exactly as the
scheduler would (gate, agent streaming to stdout, timeout, retries, redaction), and exit with
a code that says how it went. This is what exported CronJobs, timers and crontab lines run.

The slot is a Scheduler holding only this job, dispatched through the scheduler's own slot
path, so no scheduling or run logic is duplicated here. The run id is `JOB@<slot UTC>` with
the slot from `--scheduled-for` (or a Kubernetes Job name), default now to the minute, so a
retried pod or a re-run unit reuses the same id. Beside a running scheduler, an exec with no
slot given is a manual run with an id of its own (the minute's id is the scheduler's run).

The job's counters (tokens today against `daily_token_budget`, runs in total, consecutive
failures) are read from the state before the run and the result is added to them after it,
so a job exported to cron, systemd or Kubernetes keeps its budget. The state file is parsed
once: under the lock, after the run, what was read is reused unless the file changed since.

History: with no scheduler running, the result is recorded in `state.toml` under the state
lock (taken only for that moment); beside a running scheduler it goes to `.crondeck/inbox/`
for the scheduler to fold in; on a read-only state directory it is only printed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from crondeck.core import Config, ConfigError

# The run machinery (asyncio, the scheduler, the state store) is imported once the jobs file
# is read: a file with a problem is reported without paying for it.
if TYPE_CHECKING:
    from crondeck.core import Event, Job, JobSpec, JobState, RunLogs, RunResult, StateStore

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
        "gate, agent (output streamed to stdout, terminal control characters shown escaped "
        "as \\x1b), timeout, retries, redaction. Exit codes: "
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
    p.add_argument("--skipped-exit-code", type=_exit_status, default=EXIT_SKIPPED, metavar="N",
                   help="exit code for a slot the gate skipped or a disabled job (default 3)")
    p.add_argument("--force", action="store_true",
                   help="run the job even if it is disabled (enabled = false)")
    p.set_defaults(func=run)


def _exit_status(text: str) -> int:
    """An argparse type: an exit status a shell can see (0-255; 256 would read as 0)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f"{value} is not an exit status: give 0 to 255")
    return value


def exit_code(result: RunResult, skipped: int = EXIT_SKIPPED) -> int:
    """The documented exit code of a final result."""
    from crondeck.core import RunStatus

    return {
        RunStatus.OK: EXIT_OK,
        RunStatus.SKIPPED: skipped,
        RunStatus.TIMED_OUT: EXIT_TIMED_OUT,
        RunStatus.CANCELLED: EXIT_INTERRUPTED,
    }.get(result.status, EXIT_FAILED)


def slot_for(args: argparse.Namespace, zone: tzinfo, err: TextIO,
             beside_scheduler: bool = False) -> datetime | None:
    """The scheduled instant: --scheduled-for, else a Kubernetes Job name, else now (to the
    minute), or None beside a running scheduler (a manual run: that minute's id is the
    scheduler's). Raises ValueError with what to write instead."""
    if args.scheduled_for:
        try:
            when = datetime.fromisoformat(args.scheduled_for)
        except ValueError:
            raise ValueError(f"--scheduled-for {args.scheduled_for!r} is not an ISO date-time; "
                             "write e.g. 2026-03-01T09:00 or 2026-03-01T08:00:00Z") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        try:
            return when.astimezone(UTC)
        except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
            raise ValueError(f"--scheduled-for {args.scheduled_for!r} is outside the calendar "
                             "(years 1 to 9999 in UTC)") from None
    if args.k8s_job:
        m = _K8S_JOB.search(args.k8s_job)
        if m:
            try:
                return datetime.fromtimestamp(int(m.group(1)) * 60, UTC)
            except (OverflowError, OSError, ValueError):
                raise ValueError(f"--k8s-job {args.k8s_job!r}: {m.group(1)} minutes since the "
                                 "epoch is past the year 9999; give the Job's own name, "
                                 "<cronjob>-<minutes since the epoch>") from None
        print(f"crondeck exec: {args.k8s_job!r} is not a CronJob's Job name (created by hand?); "
              "using now as the slot", file=err)
    if beside_scheduler:
        return None
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
        self.reservation = ""  # this run's share of the daily budget, while it runs
        # The state as read before the run, with the stamps of the files it came from.
        self._read: tuple[object, StateStore] | None = None

    def scheduler_running(self) -> bool:
        """Whether a scheduler holds the state lock (its results then go through the inbox)."""
        if not self.writable:
            return False
        from crondeck.core import StateLock

        try:
            return StateLock(self.state_dir / "lock").in_use()
        except OSError:
            return False

    def _stamps(self, path: Path) -> object:
        """What changes when the state (state.toml, and claims.toml folded into it) does."""
        from crondeck.core import file_stamp

        return file_stamp(path), file_stamp(path.with_name("claims.toml"))

    def counters(self, name: str) -> JobState | None:
        """The job's saved state (its counters), read without the lock: the state file is
        replaced atomically, by a running scheduler too."""
        from crondeck.core import StateStore

        path = self.state_dir / "state.toml"
        stamps = self._stamps(path)  # taken first: a change while reading is a change
        try:
            store = StateStore(path, history=self.history, read_only=True).load()
        except Exception:  # unreadable state: the run goes ahead, `save` says what is wrong
            return None
        self._read = (stamps, store)
        return store.get(name)

    def reserve(self, name: str, budget: int | None, zone: tzinfo,
                saved: JobState | None) -> JobState | None:
        """Check the daily budget and reserve this run's share in one step, under the budget
        lock, so two execs started together cannot both pass: the counters the run decides
        on (today's tokens include the job's results waiting in the inbox and what its runs
        in flight elsewhere reserved)."""
        if budget is None or not self.writable:
            return saved
        from crondeck.core import JobState, read_inbox, reserve_budget, run_spend

        state = saved or JobState(name=name)
        day = datetime.now(UTC).astimezone(zone).date().isoformat()
        used = state.tokens_today if state.tokens_day == day else 0
        for _, waiting in read_inbox(self.state_dir):
            if (waiting is not None and waiting.job == name and waiting.finished_at is not None
                    and waiting.finished_at.astimezone(zone).date().isoformat() == day):
                used += run_spend(waiting)[0]
        # What one run may spend: the most a recorded run of the job spent, else the rest.
        known = [r.usage.total for r in state.results if r.usage is not None]
        self.reservation = f"{name}#{os.getpid()}#{datetime.now(UTC).timestamp()}"
        try:
            used = reserve_budget(self.state_dir, name, self.reservation, day, used, budget,
                                  max(known) if known else None)
        except OSError:  # no lock to be had: the budget as the state file tells it
            self.reservation = ""
        return replace(state, tokens_day=day, tokens_today=used)

    def release(self) -> None:
        if self.reservation:
            from crondeck.core import release_budget

            with contextlib.suppress(OSError):
                release_budget(self.state_dir, self.reservation)
            self.reservation = ""

    def save(self, result: RunResult, job: Job | None = None,
             before: JobState | None = None) -> str:
        if not self.writable:
            return f"not recorded: {self.state_dir} is not writable"
        from crondeck.core import (
            JobState,
            LockHeld,
            StateLock,
            StateStore,
            count_result,
            drop_result,
            fold_inbox,
            local_day,
        )

        # Every attempt's tokens count, as in the scheduler (the result has the last's).
        spent = paid = None
        if job is not None and before is not None:
            spent = job.tokens_total - before.tokens_total
            paid = round(job.cost_total - before.cost_total, 8)
        lock = StateLock(self.state_dir / "lock")
        try:
            lock.acquire()
        except LockHeld as exc:
            path = drop_result(self.state_dir, result, tokens=spent, cost=paid)
            who = f"pid {exc.pid}" if exc.pid else "another process"
            return f"recorded for the running scheduler ({who}) in {path}"
        except OSError as exc:
            return f"not recorded: {exc}"
        try:
            path = self.state_dir / "state.toml"
            store = StateStore(path, history=self.history)
            if self._read is not None and self._read[0] == self._stamps(path):
                store.take_over(self._read[1])  # unchanged since it was read before the run
            else:
                store.load()

            def book(folded: RunResult, tokens: int | None = None,
                     cost: float | None = None) -> None:
                state = store.get(folded.job) or JobState(name=folded.job)
                if folded in state.results:
                    return
                day = local_day(job, datetime.now(UTC)) if job is not None else ""
                store.put(count_result(state, folded, day or state.tokens_day, tokens=tokens,
                                       cost=cost))
                store.record(folded)

            book(result, spent, paid)
            fold_inbox(self.state_dir, book, store.flush)
            store.flush()
            return f"recorded in {store.path}"
        finally:
            lock.release()


class _Stream:
    """Streams a run's output to stdout/stderr, control characters escaped as `trigger --wait`
    shows them (an agent must not clear or retitle the operator's terminal), and remembers
    whether stdout ended mid-line, so `--json` can start its line on a line of its own."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        from crondeck.core import OutputChunk, escape_controls

        self.out, self.err = out, err
        self.mid_line = False
        self._chunk = OutputChunk
        self._escape = escape_controls

    def __call__(self, event: Event) -> None:
        if isinstance(event, self._chunk) and event.text:
            target = self.err if event.stream == "stderr" else self.out
            target.write(self._escape(event.text))
            target.flush()
            if target is self.out:
                self.mid_line = not event.text.endswith("\n")


def _restore_counters(job: Job, state: JobState) -> None:
    """What the budget and the counters continue from."""
    job.tokens_day, job.tokens_today, job.tokens_total = (
        state.tokens_day, state.tokens_today, state.tokens_total)
    job.cost_today, job.cost_total = state.cost_today, state.cost_total
    job.run_count, job.consecutive_failures = state.run_count, state.consecutive_failures


async def _run_slot(config: Config, name: str, slot: datetime | None, stream: _Stream,
                    logs: RunLogs | None, saved: JobState | None,
                    collection: _Collection) -> tuple[RunResult, Job]:
    import asyncio
    import signal

    from crondeck.core import RunLogRecorder, build_scheduler

    scheduler = build_scheduler(config)  # raises ConfigError (an agent that cannot load)
    collection.run_starts()
    job = scheduler.jobs[name]
    if saved is not None:
        _restore_counters(job, saved)
    scheduler.add_listener(stream)
    recorder = None
    if logs is not None:
        recorder = RunLogRecorder(logs)
        scheduler.add_listener(recorder)
    # The scheduler's own path for a due slot (overlap, claim, gate, attempts, retries), or
    # for "run now" beside a running scheduler, unattended: the daily budget still holds.
    if slot is None:
        handle = scheduler.run_now(job, unattended=True)
    else:
        handle = scheduler.run_slot(job, slot)
    # Plain handlers that hand the cancel to the loop, restored after: the loop's own
    # add_signal_handler re-validates every signal and sets the wakeup fd on each call.
    loop = asyncio.get_running_loop()

    def interrupted(signum: int, _frame: object) -> None:
        loop.call_soon_threadsafe(handle.cancel,
                                  f"interrupted by {signal.Signals(signum).name}")

    # SIGHUP (its terminal closed) as `crondeck run` takes it: the run is cancelled and
    # recorded, not lost with the process; unless it is ignored (nohup)
    stops = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        stops.append(signal.SIGHUP)
    previous = {signum: signal.signal(signum, interrupted) for signum in stops}
    try:
        return await handle.wait(), job
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if recorder is not None:
            recorder.close()


def _runs_python(config: Config, spec: JobSpec) -> bool:
    """Whether the slot runs Python in this process: a `python` target or a model client (a
    gate from a file is always a command)."""
    agent = config.agents.get(spec.agent) if spec.agent else None
    return spec.python is not None or (
        agent is not None and (agent.kind != "command" or agent.python is not None))


def _import_asyncio(with_tls: bool) -> None:
    """asyncio imports ssl (and with it OpenSSL) for TLS streams, which a command's slot never
    opens in this process: without `with_tls`, asyncio is imported with ssl hidden, so its
    TLS support is off in this process. Anything importing ssl afterwards (a notification's
    HTTPS request) gets the real module."""
    if with_tls or "asyncio" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # `import ssl` raises ImportError
    try:
        import asyncio  # noqa: F401
    finally:
        del sys.modules["ssl"]


@contextlib.contextmanager
def _sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, as Python's own handler does, until the slot's
    handler takes over (`_run_slot`). Being another handler than Python's, it keeps
    asyncio.run from installing its own, whose removal asks `signal` about it and so formats
    the main task, with its result and callbacks, into an error message no one sees (that
    alone imported `inspect`)."""
    import signal

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    previous = signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class _Collection:
    """Start-up builds objects that live until the process exits (modules, classes, the
    parsed files): collections meanwhile would walk them again and again and free none. So
    the collector is off until the run starts, and what start-up built is frozen then (the
    run's collections skip it); both are undone when `exec` returns."""

    def __init__(self, frozen: bool = False) -> None:
        self.frozen = frozen  # `main` froze start-up already (so gc need not count)

    def __enter__(self) -> _Collection:
        self.enabled = gc.isenabled()
        # Frozen already (by `main`, or the embedding program): left so at the end, ours too.
        self.unfreeze = not self.frozen and gc.get_freeze_count() == 0
        gc.disable()
        return self

    def run_starts(self) -> None:
        gc.freeze()
        if self.enabled:
            gc.enable()

    def __exit__(self, *exc: object) -> None:
        if self.unfreeze:
            gc.unfreeze()
        if self.enabled:
            gc.enable()


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    with _Collection(getattr(args, "gc_frozen", False)) as collection:
        return _exec(args, out or sys.stdout, err or sys.stderr, collection)


def _exec(args: argparse.Namespace, out: TextIO, err: TextIO, collection: _Collection) -> int:
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
    name = spec.name
    _import_asyncio(with_tls=_runs_python(config, spec))
    import asyncio

    from crondeck.core import JobState, RunLogs

    history = History(config)
    try:
        slot = slot_for(args, config.zone(spec), err, history.scheduler_running())
    except ValueError as exc:
        print(f"crondeck exec: {exc}", file=err)
        return EXIT_BAD_CONFIG
    logs = RunLogs(history.state_dir / "runs") if history.writable else None
    stream = _Stream(out, err)
    saved = history.counters(name)
    counters = history.reserve(name, config.policy(spec).daily_token_budget,
                               config.zone(spec), saved)
    try:
        try:
            with _sigint_raises():
                result, job = asyncio.run(_run_slot(one, name, slot, stream, logs, counters,
                                                    collection))
        except ConfigError as exc:
            print_problems(exc, "exec", err)
            return EXIT_BAD_CONFIG
        where = history.save(result, job, counters or JobState(name=name))
    finally:
        history.release()  # the result is recorded (or the run never started)
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
