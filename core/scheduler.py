"""The scheduler: a heap of next fires, one asyncio loop, and the slot policies (pause,
skip-next, overlap, catch-up, misfire grace, max_runs/until) applied when slots fall due.

The loop sleeps until the earliest due time (never more than 30 s at a time), then re-reads
wall time, so suspend/resume and clock steps are noticed instead of trusting a monotonic
timer. Everything is compared as aware datetimes; run ids (the idempotency keys) are UTC.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from .actions import OperatorActions
from .agents import Agent, as_agent
from .clock import Clock, SystemClock, utc
from .events import (
    ClockJumped,
    Event,
    EventBus,
    JobAdded,
    JobRemoved,
    SchedulerStarted,
    SchedulerStopped,
    Subscription,
)
from .jobs import Job, JobState, OnResult, RunHandle, StateSink
from .notify import Notifier
from .options import JobOptions, checked
from .outcomes import Outcomes
from .redact import Redactor
from .results import RunResult, RunStatus
from .runner import Limiter, call_later
from .schedule import Schedule, cron
from .starts import StartLine

__all__ = ["Scheduler"]

MAX_SLEEP = 30.0
LEAD = 0.1  # seconds the real-time loop wakes ahead of a slot to prepare its runs
NOTIFY_DRAIN = 15.0  # seconds notifications in flight may delay the end of astart()
CLOCK_JUMP = 2.0  # seconds of disagreement between wall time and time slept
# What add_job accepts as an agent: an Agent, an argv list, a callable, or an object with
# .run/.arun (`as_agent` decides, and raises TypeError for anything else).
AgentLike = Agent | Sequence[str] | Callable[..., object] | object


class Scheduler(OperatorActions, Outcomes):
    """Runs agents on cron/interval schedules in-process and reports everything as events.

    `clock` (default SystemClock; FakeClock in tests) drives now() and every wait, timeouts
    and backoff included. `max_concurrent_runs` bounds agent runs in flight (gates run
    outside the limit). `defaults` supplies the job options not given to `add_job`.
    `state_sink` hears, synchronously, what must persist (see `StateSink`); `snapshot()` /
    `restore()` move the same state in bulk. Observers use `subscribe()` (bounded, async)
    or `add_listener()` (sync, must be quick); `JobAdded` is only sent to those already
    subscribed, so a late observer starts from `jobs` and `snapshot()`.

    `lead` (default 0.1 s with the system clock, 0 with any other) is how early the loop
    wakes to prepare the runs of slots that will simply start (no pause, skip, overlap or
    budget in the way; those are booked at the instant). Prepared runs start at the
    slot's instant, never before, so a thousand jobs due together all start within
    milliseconds of it; a pause given in those last `lead` seconds applies from the next slot.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        max_concurrent_runs: int = 4,
        *,
        defaults: JobOptions | None = None,
        state_sink: StateSink | None = None,
        max_sleep: float = MAX_SLEEP,
        lead: float | None = None,
    ) -> None:
        if max_concurrent_runs < 1:
            raise ValueError("max_concurrent_runs must be at least 1")
        self.clock: Clock = clock or SystemClock()
        self.max_concurrent_runs = max_concurrent_runs
        self.defaults = defaults or JobOptions()
        self.state_sink = state_sink
        self.max_sleep = min(max_sleep, MAX_SLEEP)
        if lead is None:
            lead = LEAD if isinstance(self.clock, SystemClock) else 0.0
        if not 0.0 <= lead <= 1.0:
            raise ValueError(f"lead must be between 0 and 1 second, got {lead!r}")
        self.lead = lead
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
        self._start_line: StartLine | None = None
        self._not_before: datetime | None = None  # set while _fire_due prepares ahead
        self._redactor: Redactor | None = None
        self._poked = False
        self._waiter: asyncio.Future[bool] | None = None
        self._stop_requested = False
        self._terminate_on_stop = False
        self._collectors: list[list[RunResult]] = []
        self._options_cache: dict[tuple[tuple[str, Any], ...], JobOptions] = {}
        self._options_base = self.defaults
        self._new_handles: list[list[RunHandle]] = []
        self._background: set[asyncio.Future[None]] = set()
        self.notifier = Notifier(self._notified)

    # ------------------------------------------------------------------ jobs

    def add_job(
        self,
        agent: AgentLike,
        prompt: str,
        schedule: Schedule | str,
        *,
        name: str | None = None,
        options: JobOptions | None = None,
        on_result: OnResult | None = None,
        tz: str | None = None,
        paused: bool = False,
        pause_note: str = "",
        **overrides: object,
    ) -> Job:
        """Add a job and return it.

        `agent` is an Agent (`CommandAgent`, `PythonAgent`, a model agent), an argv list, a
        callable or an object with `.run`/`.arun`. `schedule` is a Schedule (`cron(...)`,
        `every(...)`) or a string parsed as cron or `@every` in `tz`. Names are unique
        (default `job-N`). `on_result` (sync or async) gets each final result;
        `paused`/`pause_note` start the job paused.

        `options` (default: the scheduler's `defaults`) are the job's policies, and
        `overrides` replace single ones by `JobOptions` field name, e.g.
        `add_job(agent, "p", "0 9 * * *", timeout="10m", overlap="queue_one")`; an unknown
        name is a TypeError. Durations accept seconds, a timedelta or "5m"-style strings.
        The options: `timeout` per attempt (None = none); `overlap`
        skip|queue_one|replace|allow; `catchup` latest|none|all and `misfire_grace` for late
        slots; `max_runs` (agent runs; gate skips do not count) and `until` end the job;
        `start_immediately` adds a slot at once; `pre_run` gate with `gate_timeout` and
        `on_gate_error` run|skip; `retries` with exponential `retry_backoff`; `kill_grace`
        between SIGTERM and SIGKILL of a stopped process; `pause_after_failures` N
        consecutive failures; `output_tail` bytes of output kept per run; `history` results
        kept. Guard rails: `expect` (a regex the stdout must match; a `json` group is parsed
        onto the result), `fail_if_empty`, `daily_token_budget` (slots skipped with reason
        "budget" once the day's tokens are spent, reset at local midnight),
        `price_in`/`price_out` per million tokens; `notify` a `NotifySpec`.
        """
        options = self._options(options if options is not None else self.defaults,
                                checked(overrides))
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

    def _options(self, base: JobOptions, given: dict[str, object]) -> JobOptions:
        """`base` with `given` (checked) applied. Jobs given the same overrides of the
        defaults share one frozen JobOptions (a 10,000-job program has a handful of distinct
        ones)."""
        if not given:
            return base
        if base is not self.defaults:  # options of the caller's own: theirs to share
            return base.merged(**given)
        try:
            key = tuple(sorted(given.items()))
            hash(key)
        except TypeError:  # an unhashable value (a dict): no sharing for this job
            return base.merged(**given)
        if self._options_base is not self.defaults:  # defaults replaced: start over
            self._options_cache.clear()
            self._options_base = self.defaults
        options = self._options_cache.get(key)
        if options is None:
            if len(self._options_cache) >= 1024:
                self._options_cache.clear()
            options = self._options_cache[key] = base.merged(**given)
        return options

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
            job.tokens_day, job.tokens_today = st.tokens_day, st.tokens_today
            job.tokens_total, job.cost_today, job.cost_total = (st.tokens_total, st.cost_today,
                                                                st.cost_total)
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
            await self.notifier.drain(NOTIFY_DRAIN)
        finally:
            self._collectors.remove(collected)
            self._new_handles.remove(handles)
        return collected

    async def astart(self, until: datetime | None = None, *, stop_when_done: bool = True) -> None:
        """Run the loop until stop(), the `until` deadline, or (with `stop_when_done`) every
        job is exhausted. Runs in flight are awaited before returning (or cancelled when
        stop(terminate=True) was asked)."""
        if self.running_loop:
            raise RuntimeError("this scheduler's loop is already running")
        self._bind_loop()
        deadline = utc(until) if until is not None else None
        self._stop_requested = False
        self._terminate_on_stop = False
        self.running_loop = True
        self._emit(SchedulerStarted, jobs=len(self.jobs))
        reason = "stopped"
        try:
            while True:
                now = self.clock.now()
                if self.paused and self.pause_until is not None and self.pause_until <= now:
                    self.resume_all()
                ahead = self.lead
                if deadline is not None:
                    ahead = max(0.0, min(ahead, (deadline - now).total_seconds()))
                self._fire_due(now, ahead)
                if self._stop_requested:
                    break
                if deadline is not None and now >= deadline:
                    reason = "deadline reached"
                    break
                if stop_when_done and self.jobs and self._all_done():
                    reason = "every job is exhausted"
                    break
                delay = self.max_sleep
                if self._heap:  # wake `lead` early (already inside it: the deadline cut
                    wait = self._heap[0][0] - now.timestamp()  # `ahead`; sleep to it)
                    delay = min(delay, wait - self.lead if wait > self.lead else wait)
                if deadline is not None:
                    delay = min(delay, (deadline - now).total_seconds())
                if self.paused and self.pause_until is not None:
                    delay = min(delay, (self.pause_until - now).total_seconds())
                delay = max(delay, 0.0)
                self._poked = False
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
            await self.notifier.drain(NOTIFY_DRAIN)
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
        """Sleep on the clock until `delay` passes (True) or something pokes us (False).
        One future and one clock timer per wake-up, no tasks: the loop stays cheap."""
        if self._poked:
            return False
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiter = fut

        def ring() -> None:
            if not fut.done():
                fut.set_result(True)

        timer = call_later(self.clock, delay, ring)
        try:
            return await fut
        finally:
            timer.cancel()
            self._waiter = None

    def _bind_loop(self) -> None:
        """asyncio primitives belong to one loop; (re)create them for the running one."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._limiter = Limiter(self.max_concurrent_runs)
            self._start_line = StartLine(self.clock)
            self._waiter = None

    def _poke(self) -> None:
        """Wake the loop to re-plan (a job added, resumed, finished...)."""
        self._poked = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(False)


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
