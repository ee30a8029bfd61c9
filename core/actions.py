"""Operator actions on a running scheduler: pause/resume (one job or all), skip the next
slot, run now, run one given slot, cancel. A mixin of `Scheduler`: each is a thin, public
entry into the slot policies, so what an operator does is booked like what the loop does.
"""

from __future__ import annotations

from datetime import datetime

from .clock import utc
from .events import JobChanged, JobPaused, JobResumed, SchedulerPaused, SchedulerResumed
from .jobs import Job, RunHandle
from .policies import SlotPolicies
from .redact import refresh_env
from .results import SkipReason, make_run_id

__all__ = ["OperatorActions"]


class OperatorActions(SlotPolicies):
    """What an operator (the TUI, the CLI, user code) can do to jobs while they run."""

    def get_job(self, job: str | Job) -> Job:
        """The job itself, or the one of that name (KeyError naming it when there is none)."""
        if isinstance(job, Job):
            return job
        try:
            return self.jobs[job]
        except KeyError:
            raise KeyError(f"no job named {job!r}") from None

    def pause_job(self, job: str | Job, note: str = "", until: datetime | None = None) -> None:
        j = self.get_job(job)
        j.paused, j.pause_note = True, note
        j.pause_until = utc(until) if until is not None else None
        self._emit(JobPaused, job=j.name, note=note, until=j.pause_until)
        self._after_change(j, self.clock.now())

    def resume_job(self, job: str | Job) -> None:
        """Resume: slots already due are recorded as paused-skips, then it continues from now."""
        j = self.get_job(job)
        if not j.paused:
            return
        now = self.clock.now()
        self._process_job(j, now)  # flush slots that fell due while paused (as skipped)
        j.paused, j.pause_note, j.pause_until = False, "", None
        self._emit(JobResumed, job=j.name)
        self._after_change(j, now)

    def skip_next(self, job: str | Job, skip: bool = True) -> None:
        j = self.get_job(job)
        j.skip_next_pending = skip
        self._emit(JobChanged, job=j.name, what="skip_next" if skip else "skip_next_cleared")
        self._state_changed(j)

    def pause_all(self, note: str = "", until: datetime | None = None) -> None:
        """Pause everything (slots recorded as skipped "paused: note"); jobs keep their own
        pause state underneath, so resume_all() restores exactly what was before."""
        self.paused, self.pause_note = True, note
        self.pause_until = utc(until) if until is not None else None
        self._emit(SchedulerPaused, note=note, until=self.pause_until)
        self._poke()

    def resume_all(self) -> None:
        if not self.paused:
            return
        now = self.clock.now()
        self._fire_due(now)  # record slots that fell due while paused, as paused-skips
        self.paused, self.pause_note, self.pause_until = False, "", None
        self._emit(SchedulerResumed)
        self._poke()

    def run_now(self, job: str | Job) -> RunHandle:
        """Run a job now, outside its schedule, obeying its overlap policy. The handle is
        already done (skipped, "still running") when the policy refuses."""
        j = self.get_job(job)
        self._bind_loop()
        refresh_env()
        self._redactor = None
        now = self.clock.now()
        run_id = make_run_id(j.name, now)
        n = 2
        while run_id in j.running:
            run_id = f"{make_run_id(j.name, now)}~{n}"
            n += 1
        return self._dispatch(j, now, now, manual=True, run_id=run_id)

    def run_slot(self, job: str | Job, scheduled_for: datetime) -> RunHandle:
        """Run one scheduled slot now, exactly as the loop would when it falls due (overlap,
        claim, gate, attempts, retries), with the slot's own run id. `crondeck exec` uses
        this so a retried pod or timer reuses the same idempotency key."""
        j = self.get_job(job)
        self._bind_loop()
        return self._dispatch(
            j, scheduled_for, self.clock.now(), run_id=make_run_id(j.name, scheduled_for)
        )

    def cancel(self, job: str | Job, reason: str = "cancelled by operator") -> int:
        """Cancel a job's runs in flight and its queued slot; returns how many were stopped."""
        j = self.get_job(job)
        count = 0
        if j.queued is not None:
            slot, _manual = j.queued
            j.queued = None
            r = self._skip_result(j, slot, SkipReason.OPERATOR, reason)
            if j.queued_handle is not None:
                j.queued_handle._set_result(r)
                j.queued_handle = None
            count += 1
        while j.backlog:
            self._skip_result(j, j.backlog.popleft(), SkipReason.OPERATOR, reason)
        for handle in list(j.running.values()):
            count += handle.cancel(reason)
        return count
