"""The ledger: where results are booked. History, failure counters and the auto-pause
verdict, the state sink, notifications, `on_result` callbacks and the events that report them;
nothing a user supplies (sink, callback, notifier) may break the scheduler's loop from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from .budget import run_spend
from .clock import Clock
from .events import (
    Event,
    EventBus,
    NotificationFailed,
    NotificationSent,
    RunMissed,
    RunSkipped,
    SchedulerError,
)
from .jobs import Job, JobState, RunHandle, StateSink
from .notify import Notifier, event_for
from .results import GateResult, RunResult, RunStatus, SkipReason, make_run_id

__all__ = ["Ledger", "count_result"]


class Ledger:
    """Books every result of a scheduler's jobs and reports it (events, state sink,
    notifications, callbacks). `collectors` are lists each given every result recorded."""

    def __init__(self, clock: Clock, bus: EventBus, state_sink: StateSink | None) -> None:
        self.clock = clock
        self.bus = bus
        self.state_sink = state_sink
        self.notifier = Notifier(self._notified)
        self.collectors: list[list[RunResult]] = []
        self._background: set[asyncio.Future[None]] = set()

    # ------------------------------------------------------------------ reporting

    def emit(self, cls: type[Event], **fields: Any) -> None:
        if self.bus.active:
            self.bus.emit(cls, **fields)

    def error(self, job: str | None, where: str, exc: BaseException) -> None:
        """Report a failure of user code or of one job as an event, never raising."""
        with contextlib.suppress(Exception):
            self.emit(SchedulerError, job=job, where=where,
                      message=f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ results

    def record(self, job: Job, result: RunResult) -> None:
        """Add a result to the job's history and hand it to the collectors and the sink."""
        job.results.append(result)
        for lst in self.collectors:
            lst.append(result)
        self.sink_result(result)

    def skip(self, job: Job, slot: datetime, reason: SkipReason, why: str,
             run_id: str | None = None, *, exit_code: int | None = None,
             gate: GateResult | None = None, manual: bool = False,
             booked_later: bool = False) -> RunResult:
        """Book a slot that did not run; returns its result. A gate's skip (or any with
        `booked_later`) is recorded when its run task finishes (`book`), so it is only
        reported here."""
        now = self.clock.now()
        result = RunResult(run_id=run_id or make_run_id(job.name, slot), job=job.name,
                           scheduled_for=slot, status=RunStatus.SKIPPED, finished_at=now,
                           exit_code=exit_code, error=why, gate=gate, skip_reason=reason,
                           manual=manual)
        if gate is None and not booked_later:
            self.record(job, result)
        self.emit(RunSkipped, job=job.name, run_id=result.run_id, reason=reason, result=result)
        self.notify(job, result, was_failing=False)
        return result

    def missed(self, job: Job, result: RunResult) -> None:
        """Book a slot missed by the catch-up or misfire policy."""
        self.record(job, result)
        self.emit(RunMissed, job=job.name, run_id=result.run_id, result=result)

    def book(self, job: Job, result: RunResult) -> str | None:
        """Book a run's final result: history, notification, failure counters. Returns the
        note to pause the job with when `pause_after_failures` is reached, else None."""
        self.record(job, result)
        if result.status is not RunStatus.SKIPPED:  # gate skips were notified by `skip`
            self.notify(job, result, was_failing=job.consecutive_failures > 0)
        return self.count_outcome(job, result)

    def count_outcome(self, job: Job, result: RunResult) -> str | None:
        """The failure counter after a final result; the auto-pause note when
        `pause_after_failures` is reached, else None."""
        if result.failed:
            job.consecutive_failures += 1
            limit = job.options.pause_after_failures
            if limit is not None and job.consecutive_failures >= limit and not job.paused:
                return f"auto-paused after {job.consecutive_failures} consecutive failures"
        elif result.status is RunStatus.OK:
            job.consecutive_failures = 0
        return None

    def call_on_result(self, job: Job, result: RunResult) -> None:
        """The job's `on_result` callback (sync, or async awaited in the background)."""
        if job.on_result is None:
            return
        try:
            out = job.on_result(result)
        except Exception as exc:
            self.error(job.name, "on_result", exc)
            return
        if inspect.isawaitable(out):
            async def wait() -> None:
                try:
                    await out
                except Exception as exc:
                    self.error(job.name, "on_result", exc)

            task = asyncio.ensure_future(wait())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ state sink

    def claim(self, job: Job, handle: RunHandle) -> str:
        """Tell the state sink this slot's run is starting (its run id is taken: after a
        crash it is found and recorded as abandoned, never run again). Returns "" when the
        sink took it, else why not: such a run must not start, since after a crash nothing
        would show that it had."""
        if self.state_sink is not None:
            try:
                self.state_sink.run_claimed(job.name, handle.run_id, handle.scheduled_for)
            except Exception as exc:
                self.error(job.name, "state_sink.run_claimed", exc)
                return f"{type(exc).__name__}: {exc}"
        return ""

    def claim_many(self, runs: list[tuple[Job, RunHandle]]) -> list[str]:
        """`claim` for several runs, through the sink's `claim_runs` when it has one (one
        call for all; a failure refuses them all), else one `run_claimed` each."""
        sink = self.state_sink
        claim_runs = getattr(sink, "claim_runs", None)
        if sink is None or claim_runs is None or len(runs) < 2:
            return [self.claim(job, handle) for job, handle in runs]
        try:
            claim_runs([(job.name, h.run_id, h.scheduled_for) for job, h in runs])
        except Exception as exc:
            for name in dict.fromkeys(job.name for job, _ in runs):
                self.error(name, "state_sink.run_claimed", exc)
            return [f"{type(exc).__name__}: {exc}"] * len(runs)
        return [""] * len(runs)

    def unclaimed(self, job: Job, handle: RunHandle, why: str, *,
                  booked_later: bool = False) -> RunResult:
        """Book a run whose claim failed (`claim` said `why`) as skipped, not started."""
        return self.skip(job, handle.scheduled_for, SkipReason.UNRECORDED,
                         f"not started: its start could not be recorded ({why})",
                         handle.run_id, manual=handle.manual, booked_later=booked_later)

    def sink_result(self, result: RunResult) -> None:
        if self.state_sink is not None:
            try:
                self.state_sink.result_recorded(result)
            except Exception as exc:
                self.error(result.job, "state_sink.result_recorded", exc)

    def state_changed(self, job: Job) -> None:
        if self.state_sink is not None:
            try:
                self.state_sink.job_changed(job.state())
            except Exception as exc:
                self.error(job.name, "state_sink.job_changed", exc)

    def jobs_wait(self, waiting: Iterator[tuple[str, datetime]]) -> None:
        """`job_waits` of many jobs (name, next fire) to a sink offering `jobs_wait`."""
        sink = self.state_sink
        if sink is None:
            return
        try:
            sink.jobs_wait(waiting)  # type: ignore[attr-defined]
        except Exception as exc:
            self.error(None, "state_sink.job_changed", exc)

    def job_waits(self, job: Job, next_fire: datetime) -> None:
        """`state_changed` for a job whose state is its next fire alone (a job just added):
        a sink offering `job_waits(name, next_fire)` is told that without a JobState made
        for it (100,000 jobs are added at once)."""
        sink = self.state_sink
        if sink is None:
            return
        waits = getattr(sink, "job_waits", None)
        if waits is None:
            self.state_changed(job)
            return
        try:
            waits(job.name, next_fire)
        except Exception as exc:
            self.error(job.name, "state_sink.job_changed", exc)

    # ------------------------------------------------------------------ notifications

    def notify(self, job: Job, result: RunResult, *, was_failing: bool) -> None:
        """Hand a final result to the job's notification targets (off the loop)."""
        spec = job.options.notify
        if spec is None:
            return
        event = event_for(result, was_failing)
        if event is None or not spec.wants(event):
            return
        try:
            self.notifier.submit(spec, result, event)
        except Exception as exc:  # never let a notification break the loop
            self.error(job.name, "notify", exc)

    def _notified(self, result: RunResult, event: str, target: str, attempts: int,
                  error: str) -> None:
        if error:
            self.emit(NotificationFailed, job=result.job, run_id=result.run_id,
                      notify_event=event, target=target, attempts=attempts, error=error)
        else:
            self.emit(NotificationSent, job=result.job, run_id=result.run_id,
                      notify_event=event, target=target, attempts=attempts)


def count_result(state: JobState, result: RunResult, day: str, *, tokens: int | None = None,
                 cost: float | None = None) -> JobState:
    """`state` with a result booked outside any scheduler (`crondeck exec` with none running)
    added to its counters as the scheduler counts its own runs: tokens and cost (today's
    restart on a new local `day`; `tokens`/`cost` when every attempt's are known), runs in
    total when the agent started, consecutive failures."""
    run_tokens, run_cost = run_spend(result)  # a folded exec run: all its attempts
    spent = tokens if tokens is not None else run_tokens
    paid = cost if cost is not None else (run_cost or 0.0)
    today, paid_today = (state.tokens_today, state.cost_today) if state.tokens_day == day \
        else (0, 0.0)
    failures = state.consecutive_failures
    if result.failed:
        failures += 1
    elif result.status is RunStatus.OK:
        failures = 0
    return replace(
        state, tokens_day=day if spent or paid or state.tokens_day else "",
        tokens_today=today + spent, tokens_total=state.tokens_total + spent,
        cost_today=round(paid_today + paid, 8), cost_total=round(state.cost_total + paid, 8),
        run_count=state.run_count + (result.started_at is not None),
        consecutive_failures=failures)
