"""Outcomes: booking what runs, skips and misses came to: history, counters, auto-pause,
`on_result` callbacks, the state sink and events. A mixin of `Scheduler`; the runner and the
policies report through it, and nothing a user supplies may break the loop from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .clock import Clock
from .events import (
    Event,
    EventBus,
    NotificationFailed,
    NotificationSent,
    RunSkipped,
    SchedulerError,
)
from .jobs import Job, RunHandle, StateSink
from .notify import Notifier, event_for
from .redact import Redactor
from .results import GateResult, RunResult, RunStatus, SkipReason, make_run_id
from .runner import Limiter
from .starts import StartLine

if TYPE_CHECKING:
    from .jobs import JobOptions

__all__ = ["Outcomes"]


class SchedulerState:
    """The state `Scheduler.__init__` owns, declared once for its two halves (`Outcomes`
    and `policies.SlotPolicies`), for readers and type checkers."""

    clock: Clock
    bus: EventBus
    jobs: dict[str, Job]
    paused: bool
    pause_note: str
    pause_until: datetime | None
    state_sink: StateSink | None
    defaults: JobOptions
    _heap: list[tuple[float, int, str, int]]
    _tiebreak: itertools.count[int]
    _limiter: Limiter | None
    _start_line: StartLine | None
    _not_before: datetime | None
    _redactor: Redactor | None
    _collectors: list[list[RunResult]]
    _new_handles: list[list[RunHandle]]
    _background: set[asyncio.Future[None]]
    notifier: Notifier


class Outcomes(SchedulerState):
    """Result bookkeeping for `Scheduler`."""

    def _emit(self, cls: type[Event], **fields: Any) -> None:
        if self.bus.active:
            self.bus.emit(cls, **fields)

    def _redactor_for(self, job: Job) -> Redactor:
        """The redactor for a run: os.environ's secrets (scanned once per wake-up) plus the
        agent's own environment."""
        env = getattr(job.agent, "env", None)
        if env:
            return Redactor.from_env(env)
        if self._redactor is None:
            self._redactor = Redactor.from_env()
        return self._redactor

    def _run_started(self, job: Job, handle: RunHandle) -> None:
        if not handle.agent_started:
            handle.agent_started = True
            job.run_count += 1
            if job.options.max_runs is not None and job.run_count >= job.options.max_runs:
                # Booked right after the runs starting at this instant have all started:
                # no slot of this job can fall due in between.
                asyncio.get_running_loop().call_soon(self._exhaust_started, job)

    def _exhaust_started(self, job: Job) -> None:
        if self.jobs.get(job.name) is job and not job.exhausted:
            self._after_change(job, self.clock.now())

    def _skip_result(self, job: Job, slot: datetime, reason: SkipReason, why: str,
                     run_id: str | None = None, *, exit_code: int | None = None,
                     gate: GateResult | None = None, manual: bool = False) -> RunResult:
        now = self.clock.now()
        result = RunResult(run_id=run_id or make_run_id(job.name, slot), job=job.name,
                           scheduled_for=slot, status=RunStatus.SKIPPED, finished_at=now,
                           exit_code=exit_code, error=why, gate=gate, skip_reason=reason,
                           manual=manual)
        if gate is None:  # gate skips are recorded when the run task finishes
            self._record(job, result)
        self._emit(RunSkipped, job=job.name, run_id=result.run_id, reason=reason, result=result)
        self._notify(job, result, was_failing=False)
        return result

    def _notify(self, job: Job, result: RunResult, *, was_failing: bool) -> None:
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
            self._error(job.name, "notify", exc)

    def _notified(self, result: RunResult, event: str, target: str, attempts: int,
                  error: str) -> None:
        if error:
            self._emit(NotificationFailed, job=result.job, run_id=result.run_id, event=event,
                       target=target, attempts=attempts, error=error)
        else:
            self._emit(NotificationSent, job=result.job, run_id=result.run_id, event=event,
                       target=target, attempts=attempts)

    def _sink_result(self, result: RunResult) -> None:
        if self.state_sink is not None:
            try:
                self.state_sink.result_recorded(result)
            except Exception as exc:
                self._error(result.job, "state_sink.result_recorded", exc)

    def _record(self, job: Job, result: RunResult) -> None:
        job.results.append(result)
        for lst in self._collectors:
            lst.append(result)
        self._sink_result(result)

    def _finish(self, job: Job, handle: RunHandle, result: RunResult) -> None:
        """Book a final result: history, counters, auto-pause, callback, queued successor."""
        job.running.pop(handle.run_id, None)
        self._record(job, result)
        if result.status is not RunStatus.SKIPPED:  # gate skips notified in _skip_result
            self._notify(job, result, was_failing=job.consecutive_failures > 0)
        if result.status in (RunStatus.FAILED, RunStatus.TIMED_OUT):
            job.consecutive_failures += 1
            limit = job.options.pause_after_failures
            if limit is not None and job.consecutive_failures >= limit and not job.paused:
                self.pause_job(job, note=f"auto-paused after {job.consecutive_failures} "
                                         "consecutive failures")
        elif result.status is RunStatus.OK:
            job.consecutive_failures = 0
        handle._set_result(result)
        if job.on_result is not None:
            self._call_on_result(job, result)
        if self.jobs.get(job.name) is job:
            if job.queued is not None and not job.running:
                slot, manual = job.queued
                job.queued = None
                qh, job.queued_handle = job.queued_handle, None
                run_id = qh.run_id if qh is not None else make_run_id(job.name, slot)
                note = None if manual else self._is_paused_at(job, slot)
                if note is not None:
                    r = self._skip_result(job, slot, SkipReason.PAUSED, f"paused: {note}")
                    if qh is not None:
                        qh._set_result(r)
                else:
                    self._start(job, slot, manual, run_id, qh)
            self._drain_backlog(job)
            self._state_changed(job)
        self._poke()

    def _call_on_result(self, job: Job, result: RunResult) -> None:
        assert job.on_result is not None
        try:
            out = job.on_result(result)
        except Exception as exc:
            self._error(job.name, "on_result", exc)
            return
        if inspect.isawaitable(out):
            async def wait() -> None:
                try:
                    await out
                except Exception as exc:
                    self._error(job.name, "on_result", exc)

            task = asyncio.ensure_future(wait())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _state_changed(self, job: Job) -> None:
        if self.state_sink is not None:
            try:
                self.state_sink.job_changed(job.state())
            except Exception as exc:
                self._error(job.name, "state_sink.job_changed", exc)

    def _error(self, job: str | None, where: str, exc: BaseException) -> None:
        with contextlib.suppress(Exception):
            self._emit(SchedulerError, job=job, where=where,
                       message=f"{type(exc).__name__}: {exc}")
