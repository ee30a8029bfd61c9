"""Slot policies: what happens when a job's slots fall due. Catch-up after an outage
(latest/none/all), misfire grace, pause and skip-next, max_runs/until, and the overlap policy
(skip/queue_one/replace/allow) deciding whether a slot starts, waits, or is recorded.

A mixin of `Scheduler`, kept apart so the loop and the policies each read on their own.
"""

from __future__ import annotations

import asyncio
import heapq
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .events import (
    JobExhausted,
    JobResumed,
    NextFireComputed,
    RunMissed,
    RunQueued,
)
from .guards import budget_reason
from .jobs import Job, RunHandle
from .outcomes import SchedulerState
from .redact import refresh_env
from .results import RunResult, RunStatus, SkipReason, make_run_id
from .runner import execute_slot

if TYPE_CHECKING:
    pass

__all__ = ["MAX_ENUMERATED", "MAX_MISSED_RECORDS", "ON_TIME", "SlotPolicies"]

MAX_ENUMERATED = 1_000  # due slots looked at one by one before jumping ahead
MAX_MISSED_RECORDS = 100  # individual `missed` results per catch-up; older ones summarised
ON_TIME = 5.0  # catchup="none": how late a slot may be and still count as on time


class SlotPolicies(SchedulerState):
    """Firing and dispatch for `Scheduler` (uses its state and its Outcomes methods)."""

    def _next_slot(self, job: Job, after: datetime) -> datetime | None:
        try:
            nxt = job.schedule.next_after(after)
        except Exception as exc:  # a schedule that can never fire again
            self._error(job.name, "schedule", exc)
            return None
        until = job.options.until
        if nxt is None or (until is not None and nxt > until):
            return None
        return nxt

    def _wake_at(self, job: Job) -> datetime | None:
        """When the loop must next look at `job`: its next fire, or the end of its pause
        if that comes first (None when it is exhausted)."""
        if job.exhausted or job.next_fire is None:
            return None
        wake = job.next_fire
        if job.paused and job.pause_until is not None and job.pause_until < wake:
            wake = job.pause_until
        return wake

    def _push(self, job: Job) -> None:
        job._version += 1
        wake = self._wake_at(job)
        if wake is not None:
            heapq.heappush(self._heap, (wake.timestamp(), next(self._tiebreak), job.name,
                                        job._version))

    def _after_change(self, job: Job, now: datetime) -> None:
        """Re-file the job in the heap, notice exhaustion, tell observers and the sink."""
        if not job.exhausted:
            reason = ""
            max_runs = job.options.max_runs
            if max_runs is not None and job.run_count >= max_runs:
                reason = "max_runs reached"
            elif job.next_fire is None:
                until = job.options.until
                reason = "past until" if until is not None and until <= now else "no more slots"
            if reason:
                job.exhausted = reason
                job.next_fire = None
                self._emit(JobExhausted, job=job.name, reason=reason)
        self._push(job)
        if self.bus.active:
            self._emit(NextFireComputed, job=job.name, next_fire=job.next_fire)
        self._state_changed(job)
        self._poke()

    def _fire_due(self, now: datetime, ahead: float = 0.0) -> None:
        """Handle every job due at `now`, and with `ahead` > 0 also those due within that
        many seconds: their decisions are taken as of their own instant and their runs
        wait on the start line until it comes (see `Scheduler.lead`)."""
        now_ts = now.timestamp()
        horizon = now_ts + ahead
        heap = self._heap
        if heap and heap[0][0] <= horizon:
            refresh_env()  # one environment scan per wake-up, shared by every run it starts
            self._redactor = None
        later: list[tuple[float, int, str, int]] = []
        while heap and heap[0][0] <= horizon:
            entry = heapq.heappop(heap)
            ts, _, name, version = entry
            job = self.jobs.get(name)
            if job is None or job._version != version:
                continue
            at = now
            if ts > now_ts:  # ahead of its instant: prepare it only if it will simply start
                at = max(now, self._wake_at(job) or now)
                if not self._starts_plainly(job, at):
                    later.append(entry)  # skips and queues are booked at the instant
                    continue
                self._not_before = at
            try:
                self._process_job(job, at)
            except Exception as exc:  # one broken job must not stop the others or the loop
                self._error(job.name, "dispatch", exc)
            finally:
                self._not_before = None
        for entry in later:
            heapq.heappush(heap, entry)

    def _starts_plainly(self, job: Job, at: datetime) -> bool:
        """Whether the slot due at `at` will start a run with no policy in the way (the
        only kind of slot worth preparing ahead of its instant)."""
        return (
            at == job.next_fire
            and not job.paused
            and not self.paused
            and not job.skip_next_pending
            and not job.running
            and not job.backlog
            and job.queued is None
            and budget_reason(job, at) is None
        )

    def _is_paused_at(self, job: Job, slot: datetime) -> str | None:
        """The pause note if `slot` falls in a job or global pause, else None."""
        if job.paused and (job.pause_until is None or slot < job.pause_until):
            return job.pause_note
        if self.paused and (self.pause_until is None or slot < self.pause_until):
            return self.pause_note
        return None

    def _process_job(self, job: Job, now: datetime) -> None:
        """Handle every slot of `job` due at `now`, then file its next fire."""
        if job.exhausted:
            return
        slots: list[datetime] = []
        slot = job.next_fire
        more_missed = 0
        while slot is not None and slot <= now:
            slots.append(slot)
            if len(slots) >= MAX_ENUMERATED:
                latest, skipped_over = self._latest_due(job, slot, now)
                if latest is not None and latest > slot:
                    more_missed = skipped_over
                    slots.append(latest)
                    slot = latest
            slot = self._next_slot(job, slot)
        job.next_fire = slot
        if slots:
            self._handle_slots(job, slots, now, more_missed)
        if job.paused and job.pause_until is not None and job.pause_until <= now:
            job.paused, job.pause_note, job.pause_until = False, "", None
            self._emit(JobResumed, job=job.name)
        self._after_change(job, now)

    def _latest_due(self, job: Job, after: datetime, now: datetime) -> tuple[datetime | None, int]:
        """The last slot <= now, found without walking every slot of a long outage, and how
        many slots lie strictly between `after` and it (-1 when not cheaply known)."""
        sched = job.schedule
        period = getattr(sched, "period", None)
        if getattr(sched, "is_interval", False) and isinstance(period, timedelta):
            n = int((now - after) / period)
            latest = after + n * period
            return latest, max(n - 1, 0)
        window = timedelta(days=1)
        while window < timedelta(days=366 * 5):
            probe = self._next_slot(job, max(after, now - window))
            if probe is not None and probe <= now:
                latest = probe
                while (nxt := self._next_slot(job, latest)) is not None and nxt <= now:
                    latest = nxt
                return latest, -1
            window *= 8
        return None, 0

    def _handle_slots(self, job: Job, slots: list[datetime], now: datetime, more: int) -> None:
        opts = job.options
        if (
            len(slots) == 1
            and not self.paused
            and not job.paused
            and not job.backlog
            and (now - slots[0]).total_seconds() <= min(ON_TIME, opts.misfire_grace or ON_TIME)
        ):  # the common case, one on-time slot: no policy can turn it into a miss
            self._dispatch(job, slots[0], now)
            return
        runnable: list[datetime] = []
        missed: list[tuple[datetime, str]] = []
        for slot in slots:
            note = self._is_paused_at(job, slot)
            if note is not None:
                self._mark_slot(job, slot)
                self._skip_result(job, slot, SkipReason.PAUSED,
                                  f"paused: {note}" if note else "paused")
                continue
            late = (now - slot).total_seconds()
            if opts.misfire_grace is not None and late > opts.misfire_grace:
                missed.append((slot, f"missed: {late:.0f}s late, beyond misfire_grace "
                                     f"({opts.misfire_grace:g}s)"))
            else:
                runnable.append(slot)
        if opts.catchup == "latest":
            for slot in runnable[:-1]:
                missed.append((slot, "missed: a later slot was due too; ran only the latest"))
            runnable = runnable[-1:]
        elif opts.catchup == "none":
            keep = []
            for i, slot in enumerate(runnable):
                late = (now - slot).total_seconds()
                tolerance = opts.misfire_grace if opts.misfire_grace is not None else ON_TIME
                if i == len(runnable) - 1 and late <= tolerance:
                    keep.append(slot)
                else:
                    missed.append((slot, f"missed: {late:.0f}s late (catchup = none)"))
            runnable = keep
        missed.sort()
        if more or len(missed) > MAX_MISSED_RECORDS:
            head = missed[: len(missed) - MAX_MISSED_RECORDS + 1] if missed else []
            if head:
                missed = missed[len(head):]
                count = len(head) + (more if more > 0 else 0)
                extra = "" if more >= 0 else " (and more)"
                first, last = head[0][0], head[-1][0]
                self._mark_slot(job, last)
                self._record(job, RunResult(
                    run_id=make_run_id(job.name, first), job=job.name, scheduled_for=first,
                    status=RunStatus.MISSED, finished_at=now,
                    error=f"missed: {count} slots from {first.astimezone(UTC):%Y-%m-%d %H:%M} "
                          f"to {last.astimezone(UTC):%Y-%m-%d %H:%M} UTC{extra}"))
        for slot, why in missed:
            self._mark_slot(job, slot)
            result = RunResult(run_id=make_run_id(job.name, slot), job=job.name,
                               scheduled_for=slot, status=RunStatus.MISSED, finished_at=now,
                               error=why)
            self._record(job, result)
            self._emit(RunMissed, job=job.name, run_id=result.run_id, result=result)
        if opts.catchup == "all" and (len(runnable) > 1 or job.backlog):
            job.backlog.extend(runnable)
            self._drain_backlog(job)
            return
        for slot in runnable:
            self._dispatch(job, slot, now)

    def _drain_backlog(self, job: Job) -> None:
        while job.backlog and not job.running and not job.exhausted:
            self._dispatch(job, job.backlog.popleft(), self.clock.now())

    def _mark_slot(self, job: Job, slot: datetime) -> None:
        if job.last_slot is None or slot > job.last_slot:
            job.last_slot = slot

    def _dispatch(self, job: Job, slot: datetime, now: datetime, *, manual: bool = False,
                  run_id: str | None = None) -> RunHandle:
        """Apply skip-next, max_runs and the overlap policy to one slot; start it or record
        why not. Returns the handle (already done when the slot did not start)."""
        run_id = run_id or make_run_id(job.name, slot)
        if not manual:
            self._mark_slot(job, slot)
            if job.skip_next_pending:
                job.skip_next_pending = False
                return self._done_handle(job, slot, manual, self._skip_result(
                    job, slot, SkipReason.OPERATOR, "skipped by operator", run_id))
            # Scheduled slots only: an operator's "run now" is attended, so it may spend
            # past the budget (its tokens still count).
            why = budget_reason(job, now)
            if why is not None:
                return self._done_handle(job, slot, manual, self._skip_result(
                    job, slot, SkipReason.BUDGET, why, run_id))
        if job.running:
            policy = job.options.overlap
            max_runs = job.options.max_runs
            if (policy == "allow" and max_runs is not None and not manual
                    and job.run_count + len(job.running) >= max_runs):
                policy = "skip"
            if policy == "skip":
                return self._done_handle(job, slot, manual, self._skip_result(
                    job, slot, SkipReason.OVERLAP, "still running", run_id, manual=manual))
            if policy == "queue_one":
                if job.queued is not None:
                    old, old_manual = job.queued
                    r = self._skip_result(
                        job, old, SkipReason.OVERLAP,
                        "still running; a newer slot took its place in the queue",
                        manual=old_manual)
                    if job.queued_handle is not None:
                        job.queued_handle._set_result(r)
                        job.queued_handle = None
                job.queued = (slot, manual)
                self._emit(RunQueued, job=job.name, run_id=run_id, scheduled_for=slot,
                           why="previous run still going (queue_one)")
                handle = RunHandle(job.name, run_id, slot, manual)
                job.queued_handle = handle
                return handle
            if policy == "replace":
                for other in list(job.running.values()):
                    other.cancel(f"replaced by {run_id}")
        return self._start(job, slot, manual, run_id)

    def _start(self, job: Job, slot: datetime, manual: bool, run_id: str,
               handle: RunHandle | None = None) -> RunHandle:
        self._bind_loop()
        handle = handle or RunHandle(job.name, run_id, slot, manual)
        job.running[run_id] = handle
        if self._not_before is None:  # a run prepared ahead is claimed at its instant
            self._claim(job, handle)
        handle.task = asyncio.get_running_loop().create_task(
            execute_slot(self, job, handle, self._not_before))
        for lst in self._new_handles:
            lst.append(handle)
        return handle

    def _claim(self, job: Job, handle: RunHandle) -> None:
        """Tell the state sink this slot's run is starting (its run id is taken: after a
        crash it is found and recorded as abandoned, never run again)."""
        if self.state_sink is not None:
            try:
                self.state_sink.run_claimed(job.name, handle.run_id, handle.scheduled_for)
            except Exception as exc:
                self._error(job.name, "state_sink.run_claimed", exc)

    def _done_handle(self, job: Job, slot: datetime, manual: bool, result: RunResult) -> RunHandle:
        handle = RunHandle(job.name, result.run_id, slot, manual)
        handle._set_result(result)
        return handle
