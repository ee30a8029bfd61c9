"""The scheduler: a heap of next fires, one asyncio loop, and the slot policies (pause,
skip-next, overlap, catch-up, misfire grace, max_runs/until) applied when slots fall due.

The loop sleeps until the earliest due time (never more than 30 s at a time), then re-reads
wall time, so suspend/resume and clock steps are noticed instead of trusting a monotonic
timer. Everything is compared as aware datetimes; run ids (the idempotency keys) are UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import inspect
import itertools
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from .agents import Agent, as_agent
from .clock import Clock, SystemClock, utc
from .events import (
    ClockJumped,
    Event,
    EventBus,
    JobAdded,
    JobChanged,
    JobExhausted,
    JobPaused,
    JobRemoved,
    JobResumed,
    NextFireComputed,
    RunMissed,
    RunQueued,
    RunSkipped,
    SchedulerError,
    SchedulerPaused,
    SchedulerResumed,
    SchedulerStarted,
    SchedulerStopped,
    Subscription,
)
from .jobs import Job, JobOptions, JobState, OnResult, RunHandle, StateSink, seconds
from .redact import Redactor, refresh_env
from .results import GateResult, RunResult, RunStatus, SkipReason, make_run_id
from .runner import Limiter, execute_slot
from .schedule import Schedule, cron

__all__ = ["Scheduler"]

MAX_SLEEP = 30.0
CLOCK_JUMP = 2.0  # seconds of disagreement between wall time and time slept
MAX_ENUMERATED = 1_000  # due slots looked at one by one before jumping ahead
MAX_MISSED_RECORDS = 100  # individual `missed` results per catch-up; older ones summarised
ON_TIME = 5.0  # catchup="none": how late a slot may be and still count as on time
_UNSET: Any = object()


class Scheduler:
    """Runs agents on schedules in-process. See issue 3 for the policies.

    `clock` (default SystemClock) drives now() and every wait; `max_concurrent_runs`
    bounds agent runs in flight; `defaults` supplies job options not given to `add_job`;
    `state_sink` hears what must persist (see `StateSink`).
    """

    def __init__(
        self,
        clock: Clock | None = None,
        max_concurrent_runs: int = 4,
        *,
        defaults: JobOptions | None = None,
        state_sink: StateSink | None = None,
        max_sleep: float = MAX_SLEEP,
    ) -> None:
        if max_concurrent_runs < 1:
            raise ValueError("max_concurrent_runs must be at least 1")
        self.clock: Clock = clock or SystemClock()
        self.max_concurrent_runs = max_concurrent_runs
        self.defaults = defaults or JobOptions()
        self.state_sink = state_sink
        self.max_sleep = min(max_sleep, MAX_SLEEP)
        self.jobs: dict[str, Job] = {}
        self.bus = EventBus(self.clock.now)
        self.bus.on_listener_error = lambda fn, exc: self._error(None, "listener", exc)
        self.paused = False
        self.pause_note = ""
        self.pause_until: datetime | None = None
        self.running_loop = False
        self._heap: list[tuple[float, int, str, int]] = []
        self._tiebreak = itertools.count()
        self._auto_names = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._limiter: Limiter | None = None
        self._redactor: Redactor | None = None
        self._wake: asyncio.Event | None = None
        self._stop_requested = False
        self._terminate_on_stop = False
        self._collectors: list[list[RunResult]] = []
        self._new_handles: list[list[RunHandle]] = []
        self._background: set[asyncio.Future[None]] = set()

    # ------------------------------------------------------------------ jobs

    def add_job(
        self,
        agent: Agent | Any,
        prompt: str,
        schedule: Schedule | str,
        name: str | None = None,
        *,
        max_runs: int | None = _UNSET,
        on_result: OnResult | None = None,
        start_immediately: bool = _UNSET,
        pre_run: Any = _UNSET,
        gate_timeout: float | timedelta | str = _UNSET,
        timeout: float | timedelta | str | None = _UNSET,
        overlap: str = _UNSET,
        catchup: str = _UNSET,
        misfire_grace: float | timedelta | str | None = _UNSET,
        until: datetime | None = _UNSET,
        retries: int = _UNSET,
        retry_backoff: float | timedelta | str = _UNSET,
        auto_pause_after: int | None = _UNSET,
        on_gate_error: str = _UNSET,
        output_tail_bytes: int = _UNSET,
        keep_results: int = _UNSET,
        kill_grace: float | timedelta | str = _UNSET,
        tz: str | None = None,
        paused: bool = False,
        pause_note: str = "",
    ) -> Job:
        """Add a job; unset options come from the scheduler's `defaults`. A string
        `schedule` is parsed as cron/`@every` in `tz`. Names are unique (default `job-N`)."""
        given = {
            k: v
            for k, v in {
                "max_runs": max_runs,
                "start_immediately": start_immediately,
                "pre_run": pre_run,
                "gate_timeout": gate_timeout,
                "timeout": timeout,
                "overlap": overlap,
                "catchup": catchup,
                "misfire_grace": misfire_grace,
                "until": until,
                "retries": retries,
                "retry_backoff": retry_backoff,
                "auto_pause_after": auto_pause_after,
                "on_gate_error": on_gate_error,
                "output_tail_bytes": output_tail_bytes,
                "keep_results": keep_results,
                "kill_grace": kill_grace,
            }.items()
            if v is not _UNSET
        }
        for key in ("timeout", "misfire_grace", "gate_timeout", "retry_backoff", "kill_grace"):
            if key in given:
                given[key] = seconds(given[key], key)
        options = self.defaults.merged(**given) if given else self.defaults
        if name is None:
            name = f"job-{next(self._auto_names)}"
            while name in self.jobs:
                name = f"job-{next(self._auto_names)}"
        if not isinstance(name, str) or not name.strip() or any(c in name for c in "/\\\n"):
            raise ValueError(f"invalid job name {name!r}")
        if name in self.jobs:
            raise ValueError(f"a job named {name!r} already exists")
        sched = cron(schedule, tz) if isinstance(schedule, str) else schedule
        job = Job(name=name, agent=as_agent(agent), prompt=prompt, schedule=sched,
                  options=options, on_result=on_result, _scheduler=self)
        job.paused, job.pause_note = paused, pause_note
        now = self.clock.now()
        self.jobs[name] = job
        if options.start_immediately:
            job.next_fire = now
        else:
            job.next_fire = self._next_slot(job, now)
        if self.bus.active:
            self._emit(JobAdded, job=name, schedule=getattr(sched, "text", str(sched)),
                       description=_describe(sched), agent=getattr(job.agent, "name", "agent"))
        self._after_change(job, now)
        return job

    def get_job(self, job: str | Job) -> Job:
        if isinstance(job, Job):
            return job
        try:
            return self.jobs[job]
        except KeyError:
            raise KeyError(f"no job named {job!r}") from None

    def remove_job(self, job: str | Job) -> Job:
        """Remove a job; its runs in flight are cancelled ("job removed")."""
        j = self.get_job(job)
        del self.jobs[j.name]
        j._version += 1
        for handle in list(j.running.values()):
            handle.cancel("job removed")
        self._emit(JobRemoved, job=j.name)
        self._poke()
        return j

    def due_jobs(self, now: datetime | None = None) -> list[Job]:
        """Jobs with a slot due at `now` (default: the clock's now), earliest first."""
        now = utc(now) if now is not None else self.clock.now()
        due = [j for j in self.jobs.values()
               if not j.exhausted and j.next_fire is not None and j.next_fire <= now]
        return sorted(due, key=lambda j: j.next_fire or now)

    def upcoming(self, limit: int = 50) -> list[tuple[datetime, Job]]:
        """The next fire of each job, merged in time order (for an "upcoming" view)."""
        items = [(j.next_fire, j) for j in self.jobs.values()
                 if j.next_fire is not None and not j.exhausted]
        return heapq.nsmallest(limit, items, key=lambda t: t[0])

    # ------------------------------------------------------------ operator

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

    # -------------------------------------------------------------- events

    def subscribe(self, max_chunks: int = 10_000, max_events: int = 100_000) -> Subscription:
        """A bounded, ordered view of every event from now on (async-iterable)."""
        return self.bus.subscribe(max_chunks=max_chunks, max_events=max_events)

    def add_listener(self, fn: Callable[[Event], Any]) -> Callable[[], None]:
        """A synchronous callback for every event (keep it quick); returns a remover."""
        return self.bus.add_listener(fn)

    # ---------------------------------------------------------- state I/O

    def snapshot(self) -> dict[str, JobState]:
        """Every job's persistable state, by name."""
        return {name: job.state() for name, job in self.jobs.items()}

    def restore(self, states: Mapping[str, JobState] | Iterable[JobState]) -> None:
        """Apply saved states to jobs of the same name (unknown names are ignored). The next
        fire is recomputed from the last slot fired, so slots missed while down are handled
        by the catch-up policy once the loop runs; runs recorded as in flight are returned
        as `abandoned` results (and recorded)."""
        items = states.values() if isinstance(states, Mapping) else states
        now = self.clock.now()
        for st in items:
            job = self.jobs.get(st.name)
            if job is None:
                continue
            job.paused, job.pause_note, job.pause_until = st.paused, st.pause_note, st.pause_until
            job.skip_next_pending = st.skip_next
            job.run_count, job.consecutive_failures = st.run_count, st.consecutive_failures
            job.results.clear()
            job.results.extend(st.results)
            job.last_slot = st.last_slot
            if st.last_slot is not None:
                job.next_fire = self._next_slot(job, st.last_slot)
            elif st.next_fire is not None:
                job.next_fire = st.next_fire
            for run_id in st.running:
                if any(r.run_id == run_id and r.status is not RunStatus.RUNNING
                       for r in st.results):
                    continue
                slot = _slot_of(run_id) or now
                self._record(job, RunResult(
                    run_id=run_id, job=job.name, scheduled_for=slot,
                    status=RunStatus.ABANDONED, finished_at=now,
                    error="found running after a restart; the previous process ended"))
            job.exhausted = ""
            if job.options.max_runs is not None and job.run_count >= job.options.max_runs:
                job.exhausted = "max_runs reached"
            self._after_change(job, now)

    # ----------------------------------------------------------------- run

    def run_pending(self) -> list[RunResult]:
        """Fire what is due now, once, and wait for those runs (sync; no loop running)."""
        return asyncio.run(self.arun_pending())

    async def arun_pending(self) -> list[RunResult]:
        """Fire what is due now, once; wait for the runs started; return every result
        produced (runs, skips, misses)."""
        self._bind_loop()
        collected: list[RunResult] = []
        handles: list[RunHandle] = []
        self._collectors.append(collected)
        self._new_handles.append(handles)
        try:
            self._fire_due(self.clock.now())
            while True:
                pending = [h for h in handles if not h.done()]
                if not pending:
                    break
                await asyncio.gather(*(h.wait() for h in pending))
        finally:
            self._collectors.remove(collected)
            self._new_handles.remove(handles)
        return collected

    async def astart(self, until: datetime | None = None, *, stop_when_done: bool = True) -> None:
        """Run the loop until stop(), the `until` deadline, or (with `stop_when_done`) every
        job is exhausted. Runs in flight are awaited before returning (or cancelled when
        stop(terminate=True) was asked)."""
        self._bind_loop()
        deadline = utc(until) if until is not None else None
        self._stop_requested = False
        self._terminate_on_stop = False
        self.running_loop = True
        self._emit(SchedulerStarted, jobs=len(self.jobs))
        reason = "stopped"
        assert self._wake is not None
        try:
            while True:
                now = self.clock.now()
                if self.paused and self.pause_until is not None and self.pause_until <= now:
                    self.resume_all()
                self._fire_due(now)
                if self._stop_requested:
                    break
                if deadline is not None and now >= deadline:
                    reason = "deadline reached"
                    break
                if stop_when_done and self.jobs and self._all_done():
                    reason = "every job is exhausted"
                    break
                delay = self.max_sleep
                if self._heap:
                    delay = min(delay, self._heap[0][0] - now.timestamp())
                if deadline is not None:
                    delay = min(delay, (deadline - now).total_seconds())
                if self.paused and self.pause_until is not None:
                    delay = min(delay, (self.pause_until - now).total_seconds())
                delay = max(delay, 0.0)
                self._wake.clear()
                timed_out = await self._sleep(delay)
                after = self.clock.now()
                if timed_out:
                    drift = (after - now).total_seconds() - delay
                    if abs(drift) > CLOCK_JUMP:
                        self._emit(ClockJumped, expected=now + timedelta(seconds=delay),
                                   actual=after)
                elif after < now - timedelta(seconds=CLOCK_JUMP):
                    self._emit(ClockJumped, expected=now, actual=after)
            await self._drain(terminate=self._terminate_on_stop)
        finally:
            self.running_loop = False
            self._emit(SchedulerStopped, reason=reason)

    def stop(self, terminate: bool = False) -> None:
        """Ask the loop to end. Runs in flight finish first, or are cancelled (processes
        terminated, results recorded as cancelled) with `terminate=True`."""
        self._stop_requested = True
        self._terminate_on_stop = self._terminate_on_stop or terminate
        self._poke()

    async def _drain(self, terminate: bool) -> None:
        handles = [h for j in self.jobs.values() for h in j.running.values()]
        if terminate:
            for j in self.jobs.values():
                self.cancel(j, "scheduler stopped")
        if handles:
            await asyncio.gather(*(h.wait() for h in handles), return_exceptions=True)
        # queued successors may have started meanwhile
        rest = [h for j in self.jobs.values() for h in j.running.values()]
        if rest:
            await self._drain(terminate)

    @property
    def in_flight(self) -> int:
        return sum(len(j.running) for j in self.jobs.values())

    def _all_done(self) -> bool:
        return all(j.exhausted and not j.running for j in self.jobs.values())

    async def _sleep(self, delay: float) -> bool:
        """Sleep on the clock until `delay` passes (True) or something pokes us (False)."""
        assert self._wake is not None
        if self._wake.is_set():
            return False
        sleeper = asyncio.ensure_future(self.clock.sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
        return sleeper.done() and not sleeper.cancelled()

    def _bind_loop(self) -> None:
        """asyncio primitives belong to one loop; (re)create them for the running one."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._limiter = Limiter(self.max_concurrent_runs)
            self._wake = asyncio.Event()

    def _poke(self) -> None:
        if self._wake is not None and self._loop is not None and not self._loop.is_closed():
            self._wake.set()

    # ----------------------------------------------------------- firing

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

    def _push(self, job: Job) -> None:
        job._version += 1
        if job.exhausted or job.next_fire is None:
            return
        wake = job.next_fire
        if job.paused and job.pause_until is not None and job.pause_until < wake:
            wake = job.pause_until
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

    def _fire_due(self, now: datetime) -> None:
        now_ts = now.timestamp()
        heap = self._heap
        if heap and heap[0][0] <= now_ts:
            refresh_env()  # one environment scan per wake-up, shared by every run it starts
            self._redactor = None
        while heap and heap[0][0] <= now_ts:
            _, _, name, version = heapq.heappop(heap)
            job = self.jobs.get(name)
            if job is None or job._version != version:
                continue
            self._process_job(job, now)

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
        if self.state_sink is not None:
            try:
                self.state_sink.run_claimed(job.name, run_id, slot)
            except Exception as exc:
                self._error(job.name, "state_sink.run_claimed", exc)
        handle.task = asyncio.get_running_loop().create_task(execute_slot(self, job, handle))
        for lst in self._new_handles:
            lst.append(handle)
        return handle

    def _done_handle(self, job: Job, slot: datetime, manual: bool, result: RunResult) -> RunHandle:
        handle = RunHandle(job.name, result.run_id, slot, manual)
        handle._set_result(result)
        return handle

    # ------------------------------------------------- called by the runner

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
        return result

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
        if result.status in (RunStatus.FAILED, RunStatus.TIMED_OUT):
            job.consecutive_failures += 1
            limit = job.options.auto_pause_after
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


def _describe(schedule: Schedule) -> str:
    try:
        return schedule.describe()
    except Exception:
        return getattr(schedule, "text", str(schedule))


def _slot_of(run_id: str) -> datetime | None:
    _, _, stamp = run_id.rpartition("@")
    try:
        return utc(datetime.fromisoformat(stamp.split("~")[0].replace("Z", "+00:00")))
    except ValueError:
        return None
