"""The scheduler: a heap of next fires, one asyncio loop, the operator actions, and the
policies applied when slots fall due, as one `Scheduler` owning its state.

Its parts each read on their own: `slots` decides what becomes of due slots (pure),
`ledger` books results, `runner` executes one run against the `RunHost` interface
(`abc.py`), which `Scheduler` implements; a `Job` reaches it only through `JobHost`.

The loop sleeps until the earliest due time (never more than 30 s at a time), then re-reads
wall time, so suspend/resume and clock steps are noticed instead of trusting a monotonic
timer. Everything is compared as aware datetimes; run ids (the idempotency keys) are UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import FunctionType, MethodType, TracebackType
from typing import Any, Unpack

from . import slots
from .agents import Agent, AgentLike, as_agent
from .budget import account, budget_reason
from .clock import CLOCK_JUMP, Clock, SystemClock, utc
from .cronexpr import CronExpr
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
    LockLost,
    NextFireComputed,
    RunFinished,
    RunQueued,
    SchedulerError,
    SchedulerPaused,
    SchedulerResumed,
    SchedulerStarted,
    SchedulerStopped,
    Subscription,
)
from .interval import Every
from .jobs import Job, JobState, OnResult, RunHandle, StateSink, check_pause_note
from .ledger import Ledger
from .options import SHUTDOWN_GRACE, JobOptions, JobOverrides, checked
from .persist import StateDir
from .process import hold_cost, hold_room
from .results import GateResult, RunResult, RunStatus, SkipReason, make_run_id
from .runner import Runner, call_later, spawns_ahead
from .schedule import Schedule, cron, first_fire, resolve
from .zones import local_zone

__all__ = ["Scheduler"]

MAX_SLEEP = 30.0
STARTED_KEPT = 256  # scheduled slots remembered per job as started (see _stepped_back)
LEAD = 0.1  # seconds the real-time loop wakes ahead of a slot to prepare its runs
FIRE_SLICE = 0.05  # seconds of due jobs handled in one go before the loop lets others run
FIRE_PAUSE = 0.01  # and how long it then leaves the event loop to them (a console's frames)
# A slice that starts runs at once ends after this the first time, then doubling up to
# FIRE_SLICE: the first runs are claimed (one write a slice) and start without waiting for a
# whole slice of others to be handled.
FIRE_FIRST = 0.002
MAX_LEAD = 1.0  # the most it wakes ahead when an instant's runs take long to prepare
PREP_PER_RUN = 2e-4  # first guess of the seconds one run takes to prepare, on a loaded machine
SCHEDULES_KEPT = 1024  # distinct schedule strings kept parsed for the next add_job
CANCEL_SLACK = 3.0  # seconds past a cancelled run's kill grace before stop() gives up on it
NOTIFY_DRAIN = 15.0  # seconds notifications in flight may delay the end of astart()


class Scheduler:
    """Runs agents on cron/interval schedules in-process and reports everything as events.

    `clock` (default SystemClock; FakeClock in tests) drives now() and every wait, timeouts
    and backoff included. `max_concurrent_runs` bounds agent runs in flight (gates run
    outside the limit). `defaults` supplies the job options not given to `add_job`.
    `shutdown_grace` (default 30 s) is how long a service gives runs in flight when told to
    stop (`stop(grace=scheduler.shutdown_grace)`, as `crondeck run` does on SIGTERM).
    `state_sink` hears, synchronously, what must persist (see `StateSink`); `snapshot()` /
    `restore()` move the same state in bulk. Observers use `subscribe()` (bounded, async)
    or `add_listener()` (sync, must be quick); `JobAdded` is only sent to those already
    subscribed, so a late observer starts from `jobs` and `snapshot()`.

    `lead` (default 0.1 s with the system clock, 0 with any other) is how early the loop
    wakes to prepare the runs of slots that will simply start (no pause, skip, overlap or
    budget in the way; those are booked at the instant); earlier, up to 1 s, when so many
    runs are due at the next slot that preparing them takes longer. Prepared runs start at
    the slot's instant, never before, so a thousand jobs due together all start within
    milliseconds of it; a pause given in that window applies from the next slot.

    `state_dir` keeps the jobs' state on disk as `crondeck run` does beside a jobs file: the
    directory is locked (a second scheduler on it raises LockHeld), each job added finds its
    saved state again (pause, enabled, history, run counts and token counters; a slot already
    started is never fired twice, a run left in flight is recorded as abandoned), and every
    run's output goes to `runs/<job>/<run-id>.log`. `close()` (or `with`) saves and unlocks.
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
        state_dir: str | os.PathLike[str] | None = None,
        shutdown_grace: float = SHUTDOWN_GRACE,
    ) -> None:
        if max_concurrent_runs < 1:
            raise ValueError("max_concurrent_runs must be at least 1")
        if shutdown_grace < 0:
            raise ValueError(f"shutdown_grace must not be negative, got {shutdown_grace!r}")
        if defaults is not None and not isinstance(defaults, JobOptions):
            raise TypeError(f"defaults must be a JobOptions, not {type(defaults).__name__}")
        if state_dir is not None and state_sink is not None:
            raise ValueError("give state_dir or state_sink, not both")
        self.clock: Clock = clock or SystemClock()
        self.max_concurrent_runs = max_concurrent_runs
        self.defaults = defaults or JobOptions()
        self.max_sleep = min(max_sleep, MAX_SLEEP)
        if lead is None:
            lead = LEAD if isinstance(self.clock, SystemClock) else 0.0
        if not 0.0 <= lead <= 1.0:
            raise ValueError(f"lead must be between 0 and 1 second, got {lead!r}")
        self.lead = lead
        self.jobs: dict[str, Job] = {}
        self.bus = EventBus(self.clock.now)
        self._ledger = Ledger(self.clock, self.bus, state_sink)
        self.bus.on_listener_error = lambda fn, exc: self._ledger.error(None, "listener", exc)
        self.notifier = self._ledger.notifier
        self._runner = Runner(self)
        self.paused = False
        self.pause_note = ""
        self.pause_until: datetime | None = None
        self.running_loop = False
        # (wake-up timestamp, tiebreak, job name); an entry is live while `_filed[name]` is
        # its tiebreak, so re-filing a job leaves its old entries to be skipped when popped.
        self._heap: list[tuple[float, int, str]] = []
        # Per job, slots handled before the wall clock was set back (see _stepped_back), and
        # the latest scheduled slots started (so a step back never starts one twice).
        self._handled: dict[str, set[datetime]] = {}
        self._started: dict[str, deque[datetime]] = {}
        self._filed: dict[str, int] = {}
        self._tiebreak = itertools.count()
        self._auto_names = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0  # the thread astart() runs on
        self._not_before: datetime | None = None  # set while _fire_due prepares ahead
        # While _fire_due runs: the scheduled runs it starts, claimed together (one durable
        # write) when it returns, and their jobs' names (see `_claim_fired`).
        self._fired: list[tuple[Job, RunHandle]] | None = None
        self._fired_jobs: set[str] = set()
        self._fire_passes = 0  # slices in a row that left due jobs for the next (see FIRE_FIRST)
        self._prep_per_run = PREP_PER_RUN  # seconds to prepare one run ahead (see _lead)
        self._ended: list[Job] = []  # jobs whose max_runs the runs just started reached
        self._ended_on: asyncio.AbstractEventLoop | None = None
        self._poked = False
        self._waiter: asyncio.Future[bool] | None = None
        self._stop_requested = False
        self._terminate_on_stop = False
        self._stop_grace: float | None = None
        self._draining = False
        self._drain_wake: asyncio.Future[None] | None = None  # wakes the drain to cancel
        self._grace_timer: Any = None  # cancels runs in flight once the stop's grace is over
        self.shutdown_grace = shutdown_grace
        self._options_cache: dict[tuple[tuple[str, Any], ...], JobOptions] = {}
        # While jobs are added in bulk (`_adding`): their heap entries, filed at the end in
        # one heapify, and (for a sink taking them in one call) their blank states.
        self._adding_entries: list[tuple[float, int, str]] | None = None
        self._adding_waits: list[str] | None = None
        self._adding_now: datetime | None = None  # the instant jobs added in bulk are added at
        self._schedules: dict[tuple[str, str], Schedule] = {}
        self._first_slots: dict[int, tuple[Schedule, datetime, datetime, float]] = {}
        self._first_of: Any = None  # the schedule `_first_fire` asks `_first_after` about
        self._last_function: object = None
        self._last_agent: Agent | None = None
        self._options_base = self.defaults
        self._new_handles: list[list[RunHandle]] = []
        self._state_dir: StateDir | None = None
        self._unrecord: Callable[[], None] | None = None
        if state_dir is not None:  # last: nothing after it can fail and leave it locked
            self._state_dir = StateDir(
                state_dir, history=self.defaults.history,
                on_log_error=lambda message: self._emit(SchedulerError, job=None,
                                                        where="run_log", message=message))
            self._state_dir.sink.lock_lost = self._check_lock
            self.state_sink = self._state_dir.sink
            self._unrecord = self.bus.add_listener(self._state_dir.recorder)

    def _check_lock(self) -> str:
        """Before each claim: once the state directory's lock is lost, say so (`LockLost`)
        and stop the loop, as `crondeck run` does; the claim itself is refused."""
        state_dir = self._state_dir
        if state_dir is None:
            return ""
        known = state_dir.lock_lost
        why = state_dir.check_lock()
        if why and not known:
            self._emit(LockLost, path=str(state_dir.lock.path), reason=why)
            self.stop()
        return why

    @property
    def state_dir(self) -> Path | None:
        """Where the state is kept (None: in memory only)."""
        return self._state_dir.path if self._state_dir is not None else None

    @property
    def state_problems(self) -> list[str]:
        """What was wrong with the saved state when it was opened (a corrupt state.toml is
        moved aside and named here); empty without a `state_dir`."""
        return list(self._state_dir.store.problems) if self._state_dir is not None else []

    def close(self) -> None:
        """Save the state and release the state directory's lock (nothing to do without a
        `state_dir`). Call it once the loop has ended."""
        if self.running_loop and self._state_dir is not None:
            raise RuntimeError("close() while the loop runs would release the state "
                               "directory under it: stop() and await astart() first")
        state_dir, self._state_dir = self._state_dir, None
        if state_dir is not None:
            if self._unrecord is not None:
                self._unrecord()
            self.state_sink = None
            state_dir.close()

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def state_sink(self) -> StateSink | None:
        """Where what must persist is reported (None: nowhere)."""
        return self._ledger.state_sink

    @state_sink.setter
    def state_sink(self, sink: StateSink | None) -> None:
        self._ledger.state_sink = sink

    # ------------------------------------------------------------------ jobs

    def add_job(
        self,
        agent: AgentLike,
        prompt: str | None,
        schedule: Schedule | str,
        *,
        name: str | None = None,
        options: JobOptions | None = None,
        on_result: OnResult | None = None,
        tz: str | None = None,
        paused: bool = False,
        pause_note: str = "",
        **overrides: Unpack[JobOverrides],
    ) -> Job:
        """Add a job and return it.

        `agent` is an Agent (`CommandAgent`, `PythonAgent`, a model agent), an argv list, a
        function taking `()`, `(prompt)` or `(prompt, ctx)` (another signature is a
        TypeError here), or an object with `.run`/`.arun`. `prompt` may be None (a job
        without one). `schedule` is a Schedule (`cron(...)`, `every(...)`) or a string parsed
        as cron or `@every` in `tz`. Names are unique (default `job-N`). `on_result` (sync or
        async) gets each final result; `paused`/`pause_note` start the job paused. With a
        `state_dir`, a saved state of the same name is restored onto the job.

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
        if self.running_loop:
            self._on_loop_thread("add_job")
        if schedule is None:
            raise TypeError("add_job: a schedule is required: a cron string like '0 9 * * *', "
                            "cron(...) or every(...)")
        if not isinstance(paused, bool):
            raise TypeError(f"add_job: paused must be True or False, not {paused!r}")
        _check_args("add_job", prompt, schedule, options)
        if on_result is not None and not callable(on_result):
            raise TypeError(f"add_job: on_result must be a function taking the RunResult, "
                            f"not {type(on_result).__name__} {on_result!r}")
        options = options if options is not None else self.defaults
        if overrides:
            options = self._options(options, checked(overrides))
        if name is None:
            name = f"job-{next(self._auto_names)}"
            while name in self.jobs:
                name = f"job-{next(self._auto_names)}"
        if (not isinstance(name, str) or not name.strip() or "/" in name or "\\" in name
                or "\n" in name):
            raise ValueError(f"invalid job name {name!r}")
        if name in self.jobs:
            raise ValueError(f"a job named {name!r} already exists: change it with "
                             f"update_job({name!r}, ...), or remove_job it first")
        now = self._adding_now or self.clock.now()
        sched = resolve(self._parsed(schedule, tz), tz, now)
        saved = self._state_dir.store.get(name) if self._state_dir is not None else None
        if saved is not None and saved.last_slot is not None and isinstance(sched, Every) \
                and sched.from_now:
            sched = replace(sched, anchor=saved.last_slot)  # the grid goes on where it was
        # One wrapper for the jobs added in a row with one function, or one object's method
        # (`self.handle` is a new bound method at each access, equal to the last).
        wrapped = self._last_agent
        last = self._last_function
        same = (agent is last and isinstance(agent, FunctionType)) or (
            isinstance(agent, MethodType) and agent == last)  # (its object's identity)
        if wrapped is None or not same:
            wrapped = as_agent(agent)
            self._last_function, self._last_agent = agent, wrapped
        job = Job(name=name, agent=wrapped, prompt=prompt or "", schedule=sched,
                  options=options, on_result=on_result, paused=paused, _scheduler=self)
        if pause_note:
            job.pause_note = pause_note
        self.jobs[name] = job
        nxt, stamp = self._first_fire(job, now)
        job._next_fire = nxt
        if self.bus.active:
            self._emit(JobAdded, job=name, schedule=getattr(sched, "text", str(sched)),
                       description=_describe(sched), agent=getattr(job.agent, "name", "agent"))
        if nxt is not None and (options.max_runs is None or options.max_runs > 0):
            # A new job that will fire: filed as `refile` would, without its checks (100,000
            # jobs are added in bulk). Jobs sharing a first fire share its timestamp too.
            tiebreak = next(self._tiebreak)
            self._filed[name] = tiebreak
            entry = (nxt.timestamp() if stamp is None else stamp, tiebreak, name)
            if self._adding_entries is not None:
                self._adding_entries.append(entry)
            else:
                heapq.heappush(self._heap, entry)
            if self.bus.active:
                self._emit(NextFireComputed, job=name, next_fire=nxt)
            if paused or pause_note:
                self._ledger.state_changed(job)
            elif self._adding_waits is not None:
                self._adding_waits.append(name)
            else:  # its state is its next fire alone
                self._ledger.job_waits(job, nxt)
            self._poke()
        else:
            self.refile(job, now)
        if saved is not None:
            self.restore([saved], survivors=self._state_dir.survivors
                         if self._state_dir is not None else None)
            if saved.disabled:
                job.enabled = False
        return job

    @contextlib.contextmanager
    def _adding(self) -> Iterator[None]:
        """Add many jobs in the block (with `add_job`, nothing else changes): their heap
        entries are filed with one heapify at the end and, for a state sink offering
        `jobs_wait(pairs)`, the states of those still holding only their next fire are
        reported in one call then (a job changed since was reported when it changed). They are
        added as of the block's start: jobs alike get the same first fire however long adding
        them all takes, even across a slot boundary."""
        if self._adding_entries is not None:  # already adding
            yield
            return
        bulk = getattr(self.state_sink, "jobs_wait", None) is not None
        self._adding_entries, self._adding_waits = [], [] if bulk else None
        self._adding_now = self.clock.now()
        try:
            yield
        finally:
            entries, waits = self._adding_entries, self._adding_waits
            self._adding_entries = self._adding_waits = self._adding_now = None
            if entries:
                self._heap.extend(entries)
                heapq.heapify(self._heap)
            if waits:
                jobs = self.jobs
                self._ledger.jobs_wait((name, when) for name in waits
                                       if (job := jobs.get(name)) is not None
                                       and (when := job.next_fire) is not None
                                       and _waits_only(job))

    def _parsed(self, schedule: Schedule | str, tz: str | None) -> Schedule | str:
        """A schedule string parsed once per scheduler and zone: jobs written with the same
        expression share one schedule (and its day caches), as `crondeck run` shares them."""
        if not isinstance(schedule, str):
            return schedule
        key = (schedule, tz if tz is not None else local_zone().key)
        parsed = self._schedules.get(key)
        if parsed is None:
            if len(self._schedules) >= SCHEDULES_KEPT:
                self._schedules.clear()
            parsed = self._schedules[key] = cron(schedule, tz)
        return parsed

    def update_job(
        self,
        job: str | Job,
        *,
        schedule: Schedule | str | None = None,
        tz: str | None = None,
        enabled: bool | None = None,
        prompt: str | None = None,
        agent: AgentLike | None = None,
        options: JobOptions | None = None,
        after: datetime | None = None,
        **overrides: Unpack[JobOverrides],
    ) -> Job:
        """Change a job in place, at once; what is not given stays. Everything is checked
        before anything changes (a bad schedule or option raises and leaves the job as it
        was). History, counters and pause are kept, and a run in flight is never cancelled:
        it finishes as it started (its agent, prompt and options), the overlap policy still
        seeing it; the next run uses the new definition.

        `schedule` (a string is parsed in `tz`): the next fire is the new schedule's first
        slot after now (earlier slots are not owed). `after` moves that point (the next fire
        decided again by a new schedule, or by a changed `until` or `max_runs`, is the first
        slot after it; slots between it and now then fall due under the catch-up policy):
        a reload of the jobs file passes the job's last slot. `enabled`: as `job.enabled`.
        `options` replaces all the job's options, `overrides` single ones (as in `add_job`),
        e.g. `update_job("digest", schedule=every(minutes=15), timeout="5m")`. Changing
        `until` or `max_runs` re-decides whether the job has ended. Observers get
        `JobChanged` with `what` = "schedule", "options", "prompt" or "agent" (and
        "enabled"/"disabled"), one per aspect that changed."""
        self._on_loop_thread("update_job")
        _check_args("update_job", prompt, schedule, options)
        if enabled is not None and not isinstance(enabled, bool):
            raise TypeError(f"update_job: enabled must be True or False, not {enabled!r}")
        j = self.get_job(job)
        now = self.clock.now()
        new_options = options if options is not None else j.options
        if overrides:
            new_options = new_options.merged(**checked(overrides))
        new_schedule = resolve(schedule, tz, now) if schedule is not None else None
        new_agent = as_agent(agent) if agent is not None else None
        start = utc(after) if after is not None else now
        if prompt is not None and prompt != j.prompt:
            j.prompt = prompt
            self.note_change(j, "prompt")
        if new_agent is not None and new_agent is not j.agent:
            j.agent = new_agent
            self.note_change(j, "agent")
        if new_options != j.options:
            old, j.options = j.options, new_options
            if new_options.history != old.history:
                j.results = deque(j.results, maxlen=max(1, new_options.history))
            if (old.until, old.max_runs) != (new_options.until, new_options.max_runs):
                j.exhausted = ""  # refile (or reschedule, below) decides again
                if new_schedule is None:
                    j.next_fire = self.next_slot(j, start)
                    self.refile(j, now)
            self.note_change(j, "options")
        if new_schedule is not None:
            j.reschedule(new_schedule, after=start)
        if enabled is not None:
            j.enabled = enabled
        return j

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
        self._on_loop_thread("remove_job")
        j = self.get_job(job)
        if j.name in self._fired_jobs:  # (a listener, while due runs are being fired)
            self._claim_fired()
        del self.jobs[j.name]
        self._filed.pop(j.name, None)
        self._started.pop(j.name, None)
        self._handled.pop(j.name, None)
        for handle in list(j._running.values() if j._running else ()):
            handle.cancel("job removed")
        self._emit(JobRemoved, job=j.name)
        self._poke()
        return j

    def get_job(self, job: str | Job) -> Job:
        """The job itself, or the one of that name (KeyError naming it when there is none,
        or when the Job given is not this scheduler's: removed, or another's)."""
        if isinstance(job, Job):
            if self.jobs.get(job.name) is not job:
                raise KeyError(f"job {job.name!r} is not in this scheduler (removed, or another's)")
            return job
        try:
            return self.jobs[job]
        except KeyError:
            import difflib  # here: only a misspelt name needs it

            close = difflib.get_close_matches(str(job), list(self.jobs), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"no job named {job!r}{hint}") from None

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

    # ------------------------------------------------------ operator actions

    def pause_job(self, job: str | Job, note: str = "", until: datetime | None = None) -> None:
        self._on_loop_thread("pause_job")
        check_pause_note(note)
        j = self.get_job(job)
        j.paused, j.pause_note = True, note
        j.pause_until = utc(until) if until is not None else None
        self._emit(JobPaused, job=j.name, note=note, until=j.pause_until)
        self.refile(j, self.clock.now())

    def resume_job(self, job: str | Job) -> None:
        """Resume: slots already due are recorded as paused-skips, then it continues from now."""
        self._on_loop_thread("resume_job")
        j = self.get_job(job)
        if not j.paused:
            return
        now = self.clock.now()
        self._process_job(j, now)  # flush slots that fell due while paused (as skipped)
        j.paused, j.pause_note, j.pause_until = False, "", None
        self._emit(JobResumed, job=j.name)
        self.refile(j, now)

    def skip_next(self, job: str | Job, skip: bool = True) -> None:
        self._on_loop_thread("skip_next")
        j = self.get_job(job)
        j.skip_next_pending = skip
        self._emit(JobChanged, job=j.name, what="skip_next" if skip else "skip_next_cleared")
        self._ledger.state_changed(j)

    def pause_all(self, note: str = "", until: datetime | None = None) -> None:
        """Pause everything (slots recorded as skipped "paused: note"); jobs keep their own
        pause state underneath, so resume_all() restores exactly what was before."""
        self._on_loop_thread("pause_all")
        check_pause_note(note)
        self.paused, self.pause_note = True, note
        self.pause_until = utc(until) if until is not None else None
        self._emit(SchedulerPaused, note=note, until=self.pause_until)
        self._poke()

    def resume_all(self) -> None:
        self._on_loop_thread("resume_all")
        if not self.paused:
            return
        now = self.clock.now()
        self._fire_due(now)  # record slots that fell due while paused, as paused-skips
        self.paused, self.pause_note, self.pause_until = False, "", None
        self._emit(SchedulerResumed)
        self._poke()

    def run_now(self, job: str | Job, *, unattended: bool = False) -> RunHandle:
        """Run a job now, outside its schedule, obeying its overlap policy. The handle is
        already done (skipped, "still running") when the policy refuses. An `unattended` run
        (`crondeck exec` beside a scheduler) also honours the daily token budget."""
        self._on_loop_thread("run_now")
        j = self.get_job(job)
        self._bind_loop()
        self._runner.refresh_env()
        now = self.clock.now()
        run_id = make_run_id(j.name, now)
        n = 2
        while run_id in j.running:
            run_id = f"{make_run_id(j.name, now)}~{n}"
            n += 1
        why = budget_reason(j, now) if unattended else None
        if why is not None:
            return self._done_handle(j, now, True, self._ledger.skip(
                j, now, SkipReason.BUDGET, why, run_id, manual=True))
        return self._dispatch(j, now, now, manual=True, run_id=run_id)

    def fold_result(self, result: RunResult) -> bool:
        """Book a result of this job run elsewhere (`crondeck exec`): history, tokens and
        cost, runs in total, consecutive failures (and the auto-pause), as for its own runs.
        False when the job is unknown or the result already booked."""
        job = self.jobs.get(result.job)
        if job is None or result in job.results:
            return False
        self._ledger.record(job, result)
        account(job, result, self.clock.now())
        if result.started_at is not None:
            job.run_count += 1
        pause_note = self._ledger.count_outcome(job, result)
        if pause_note is not None:
            self.pause_job(job, note=pause_note)
        self._ledger.state_changed(job)
        return True

    def run_slot(self, job: str | Job, scheduled_for: datetime) -> RunHandle:
        """Run one scheduled slot now, exactly as the loop would when it falls due (overlap,
        claim, gate, attempts, retries), with the slot's own run id. `crondeck exec` uses
        this so a retried pod or timer reuses the same idempotency key."""
        j = self.get_job(job)
        self._bind_loop("run_slot")
        return self._dispatch(
            j, scheduled_for, self.clock.now(), run_id=make_run_id(j.name, scheduled_for)
        )

    def cancel(self, job: str | Job, reason: str = "cancelled by operator") -> int:
        """Cancel a job's runs in flight and its queued slot; returns how many were stopped."""
        self._on_loop_thread("cancel")
        j = self.get_job(job)
        if j.name in self._fired_jobs:  # (a listener, while due runs are being fired)
            self._claim_fired()
        count = 0
        if j.queued is not None:
            slot, _manual = j.queued
            j.queued = None
            r = self._ledger.skip(j, slot, SkipReason.OPERATOR, reason)
            if j.queued_handle is not None:
                j.queued_handle.set_result(r)
                j.queued_handle = None
            count += 1
        while j._backlog:
            self._ledger.skip(j, j._backlog.popleft(), SkipReason.OPERATOR, reason)
        for handle in list(j._running.values() if j._running else ()):
            count += handle.cancel(reason)
        return count

    # -------------------------------------------------------------- events

    def subscribe(self, max_chunks: int = 10_000, max_events: int = 100_000) -> Subscription:
        """A bounded, ordered view of every event from now on (async-iterable)."""
        return self.bus.subscribe(max_chunks=max_chunks, max_events=max_events)

    def add_listener(self, fn: Callable[[Event], Any]) -> Callable[[], None]:
        """A synchronous callback for every event (keep it quick); returns a remover."""
        return self.bus.add_listener(fn)

    def _emit(self, cls: type[Event], **fields: Any) -> None:
        if self.bus.active:
            self.bus.emit(cls, **fields)

    # ---------------------------------------------------------- state I/O

    def snapshot(self) -> dict[str, JobState]:
        """Every job's persistable state, by name."""
        return {name: job.state() for name, job in self.jobs.items()}

    def restore(self, states: Mapping[str, JobState] | Iterable[JobState], *,
                survivors: Mapping[str, int] | None = None) -> None:
        """Apply saved states to jobs of the same name (unknown names are ignored). The next
        fire is recomputed from the last slot fired, so slots missed while down are handled
        by the catch-up policy once the loop runs; runs recorded as in flight are returned
        as `abandoned` results (and recorded). `survivors`, when the caller looked, counts
        by run id the processes those runs had left running and that were ended."""
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
            if st.results or job.last_result is not None:  # no empty history made per job
                job.results.clear()
                job.results.extend(st.results)
            job.last_slot = st.last_slot
            if st.last_slot is not None:
                job.next_fire = self.next_slot(job, st.last_slot)
            elif st.next_fire is not None:
                job.next_fire = st.next_fire
            for run_id in st.running:
                mine = [r for r in st.results if r.run_id == run_id]
                if any(r.status is not RunStatus.RUNNING and not r.extra.get("will_retry")
                       for r in mine):
                    continue
                attempt = 1 + max((r.attempt for r in mine), default=0)  # after the retried
                slot = _slot_of(run_id) or now
                self._ledger.record(job, RunResult(
                    run_id=run_id, job=job.name, scheduled_for=slot,
                    status=RunStatus.ABANDONED, finished_at=now, attempt=attempt,
                    error=f"found running after a restart, at attempt {attempt}"
                          + (f" (attempt {attempt - 1} had failed)" if attempt > 1 else "")
                          + "; the previous crondeck process ended while it ran"
                          + _survivors(survivors, run_id)))
            job.exhausted = ""
            if job.options.max_runs is not None and job.run_count >= job.options.max_runs:
                job.exhausted = "max_runs reached"
            self.refile(job, now)

    # ----------------------------------------------------------------- run

    def run_pending(self) -> list[RunResult]:
        """Fire what is due now, once, and wait for those runs (sync; no loop running)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # none: as it should be
            return asyncio.run(self.arun_pending())
        raise RuntimeError("run_pending() is for sync code: on a running event loop, "
                           "await arun_pending()")

    async def arun_pending(self) -> list[RunResult]:
        """Fire what is due now, once; wait for the runs started; return every result
        produced (runs, skips, misses)."""
        self._bind_loop("arun_pending")
        collected: list[RunResult] = []
        handles: list[RunHandle] = []
        self._ledger.collectors.append(collected)
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
            self._ledger.collectors.remove(collected)
            self._new_handles.remove(handles)
        return collected

    async def astart(self, until: datetime | None = None, *,
                     stop_when_done: bool = False) -> None:
        """Serve: run the loop until `stop()` (or the `until` deadline), whatever the jobs do;
        jobs can be added, changed, disabled and enabled meanwhile. For a script or a test,
        `stop_when_done=True` also returns once no job will fire again by itself (each has
        reached its `max_runs` or `until`, or is disabled) and none is running. Runs in
        flight are awaited before returning (or cancelled when stop(terminate=True) was
        asked). The state is saved when it returns (with a `state_dir`)."""
        if self.running_loop:
            raise RuntimeError("this scheduler's loop is already running")
        self._bind_loop("astart")
        deadline = utc(until) if until is not None else None
        # A stop() asked before the loop began (a signal while the host set up) is kept:
        # the flags are reset when a loop ends, not when one starts.
        self.running_loop = True
        self._thread = threading.get_ident()
        self._emit(SchedulerStarted, jobs=len(self.jobs))
        reason = "stopped"
        try:
            while True:
                now = self.clock.now()
                if self.paused and self.pause_until is not None and self.pause_until <= now:
                    self.resume_all()
                lead = ahead = self._lead()
                if deadline is not None:
                    ahead = max(0.0, min(ahead, (deadline - now).total_seconds()))
                if self._stop_requested:  # stopping starts nothing more
                    break
                more = self._fire_due(now, ahead, FIRE_SLICE)
                if self._stop_requested:
                    break
                if more:  # many due at once (a restart after downtime): the rest next pass
                    await asyncio.sleep(FIRE_PAUSE)
                    continue
                if deadline is not None and now >= deadline:
                    reason = "deadline reached"
                    break
                if stop_when_done and self.jobs and self._all_done():
                    reason = "every job is exhausted"
                    break
                delay = self.max_sleep
                if self._heap:  # wake `lead` early (already inside it: the deadline cut
                    wait = self._heap[0][0] - now.timestamp()  # `ahead`; sleep to it)
                    delay = min(delay, wait - lead if wait > lead else wait)
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
                if after < now - timedelta(seconds=CLOCK_JUMP):
                    self._stepped_back(after)
            await self._drain()
            await self.notifier.drain(NOTIFY_DRAIN)
        finally:
            self.running_loop = False
            self._stop_requested = False
            self._terminate_on_stop = False
            self._stop_grace = None
            self._emit(SchedulerStopped, reason=reason)
            if self._state_dir is not None:
                try:
                    self._state_dir.store.flush()
                except OSError as exc:  # the writer reports it too; the loop has ended anyway
                    self._ledger.error(None, "state_dir", exc)

    def stop(self, terminate: bool = False, grace: float | None = None) -> None:
        """Ask the loop to end; nothing new starts. Runs in flight finish first, or are
        cancelled (processes terminated, results recorded as cancelled, with the output they
        printed) with `terminate=True`, or once they have had `grace` seconds. Called again
        with `terminate=True` while they finish, it cancels them at once. Safe to call from
        any thread (handed over to the loop's)."""
        loop = self._loop
        if self.running_loop and loop is not None and threading.get_ident() != self._thread:
            loop.call_soon_threadsafe(self.stop, terminate, grace)
            return
        self._stop_requested = True
        if grace is not None:
            grace = max(0.0, grace)
            self._stop_grace = grace if self._stop_grace is None else min(grace,
                                                                           self._stop_grace)
        if terminate and not self._terminate_on_stop and self._draining:
            self._cancel_all()
            if self._drain_wake is not None and not self._drain_wake.done():
                self._drain_wake.set_result(None)  # the drain's bound starts now
        self._terminate_on_stop = self._terminate_on_stop or terminate
        if self._draining:
            self._arm_grace()
        self._poke()

    def _arm_grace(self) -> None:
        """While draining with a grace: cancel what still runs once it is over."""
        if self._grace_timer is None and self._stop_grace is not None \
                and not self._terminate_on_stop:
            self._grace_timer = call_later(self.clock, self._stop_grace,
                                           lambda: self.stop(terminate=True))

    def _cancel_all(self) -> None:
        for j in list(self.jobs.values()):
            self.cancel(j, "scheduler stopped")

    async def _drain(self) -> None:
        """Wait for the runs in flight (and queued successors that start meanwhile). Once
        they are cancelled, a run that has not ended within its kill grace and CANCEL_SLACK
        (an agent that swallows the cancellation) is given up on, so stop() is bounded."""
        self._draining = True
        self._arm_grace()
        loop = asyncio.get_running_loop()
        give_up: float | None = None
        try:
            while True:
                if self._terminate_on_stop:
                    self._cancel_all()
                handles = [(j, h) for j in self.jobs.values() if j._running
                           for h in j._running.values()]
                if not handles:
                    return
                if self._terminate_on_stop and give_up is None:
                    give_up = loop.time() + CANCEL_SLACK + max(
                        getattr(j.agent, "kill_grace", None) or j.options.kill_grace
                        for j, _h in handles)
                if give_up is not None and loop.time() >= give_up:
                    self._give_up(handles)
                    return
                # Until every run has ended, a stop(terminate=True) or the bound: whichever
                # comes first.
                wake = self._drain_wake = loop.create_future()
                waiting = {wake, loop.create_task(_all_settled([h for _j, h in handles]))}
                try:
                    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED,
                                       timeout=None if give_up is None
                                       else give_up - loop.time())
                finally:
                    for fut in waiting:
                        fut.cancel()
                    self._drain_wake = None
        finally:
            self._draining = False
            if self._grace_timer is not None:
                self._grace_timer.cancel()
                self._grace_timer = None

    def _give_up(self, handles: list[tuple[Job, RunHandle]]) -> None:
        """Runs still going long after they were cancelled: record each as cancelled now and
        let the loop end (its task is left to end when it will; nothing it does is booked)."""
        for job, handle in handles:
            if handle.done():
                continue
            tail = handle.output
            result = RunResult(
                run_id=handle.run_id, job=job.name, scheduled_for=handle.scheduled_for,
                status=RunStatus.CANCELLED, started_at=handle.started_at,
                finished_at=self.clock.now(), attempt=handle.attempt, manual=handle.manual,
                error=f"{handle.cancel_reason or 'cancelled'}; its agent had not ended "
                      f"{CANCEL_SLACK:g}s after its kill grace (it does not give way to "
                      "cancellation), so it was left running",
                output_tail=tail.text() if tail is not None else "")
            self._emit(RunFinished, job=job.name, run_id=handle.run_id, result=result)
            self.finish_run(job, handle, result)

    @property
    def in_flight(self) -> int:
        return sum(len(j._running) for j in self.jobs.values() if j._running)

    @property
    def stopping(self) -> bool:
        """Asked to stop while its loop runs: no slot starts, runs in flight are finishing."""
        return self.running_loop and self._stop_requested

    def _all_done(self) -> bool:
        return all(j.exhausted and not j._running for j in self.jobs.values())

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

    def _on_loop_thread(self, what: str) -> None:
        """While the loop runs, the scheduler is changed only from its thread: another
        thread's change would race the loop and could leave it asleep."""
        if self.running_loop and threading.get_ident() != self._thread:
            raise RuntimeError(
                f"Scheduler.{what}() called from another thread than the one its loop runs "
                "on: hand the call over with loop.call_soon_threadsafe (stop() may be called "
                "from any thread)")

    def _bind_loop(self, what: str = "run_now") -> None:
        """asyncio primitives belong to one loop; (re)create them for the running one. While
        the scheduler's loop runs, another event loop (another thread's) is refused."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"Scheduler.{what}() needs a running event loop: call it from async code on "
                "the scheduler's loop (from sync code: run_pending())") from None
        if loop is not self._loop:
            if self.running_loop:
                raise RuntimeError(
                    f"Scheduler.{what}() called from another event loop than the one the "
                    "scheduler runs on: call it on that loop (from another thread: "
                    "loop.call_soon_threadsafe)")
            self._loop = loop
            self._runner.bind(self.max_concurrent_runs)
            self._waiter = None

    def _poke(self) -> None:
        """Wake the loop to re-plan (a job added, resumed, finished...)."""
        self._poked = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(False)

    # ------------------------------------------------- filing jobs (JobHost)

    def next_slot(self, job: Job, after: datetime) -> datetime | None:
        """The job's next slot after `after`, None when it will not fire again (a schedule
        that raises is reported and counts as ended)."""
        try:
            return slots.next_slot(job.schedule, after, job.options.until)
        except Exception as exc:  # a schedule that can never fire again
            self._ledger.error(job.name, "schedule", exc)
            return None

    def _first_fire(self, job: Job, now: datetime) -> tuple[datetime | None, float | None]:
        """`first_fire` of a job being added, with its timestamp when known (a schedule that
        raises is reported and the job does not fire)."""
        self._first_of = job.schedule
        try:
            nxt = first_fire(job.schedule, job.options, now, next_after=self._first_after)
        except Exception:  # reported, with what it raised, by next_slot
            return self.next_slot(job, now), None
        memo = self._first_slots.get(id(job.schedule))
        return nxt, memo[3] if nxt is not None and memo is not None and memo[2] is nxt else None

    def _first_after(self, now: datetime) -> datetime | None:
        """`next_after(now)` of the schedule `_first_fire` asks about. Jobs added in bulk
        share a few schedules: a schedule's next fire after an earlier instant is also its
        next fire after any later one before that fire, so it is asked once (its timestamp,
        for the heap, kept beside it)."""
        sched: Schedule = self._first_of
        if not isinstance(sched, CronExpr | Every):  # a schedule of the caller's own may vary
            return sched.next_after(now)
        memo = self._first_slots.get(id(sched))
        if memo is None or memo[0] is not sched or not memo[1] <= now < memo[2]:
            got = sched.next_after(now)
            if got is None:
                return None
            if len(self._first_slots) >= SCHEDULES_KEPT:
                self._first_slots.clear()
            memo = self._first_slots[id(sched)] = (sched, now, got, got.timestamp())
        return memo[2]

    def refile(self, job: Job, now: datetime) -> None:
        """Re-file the job in the heap after a change, notice exhaustion, tell observers and
        the state sink, and wake the loop to re-plan."""
        if not job.exhausted:
            reason = slots.exhaustion(job, now)
            if reason:
                job.exhausted = reason
                job.next_fire = None
                self._emit(JobExhausted, job=job.name, reason=reason)
        self._push(job)
        if self.bus.active:
            self._emit(NextFireComputed, job=job.name, next_fire=job.next_fire)
        self._ledger.state_changed(job)
        self._poke()

    def note_change(self, job: Job, what: str) -> None:
        """Tell observers `job` changed (`what`: "enabled", "disabled"...)."""
        self._emit(JobChanged, job=job.name, what=what)

    def _push(self, job: Job) -> None:
        tiebreak = next(self._tiebreak)
        wake = slots.wake_at(job)
        if wake is None:
            self._filed.pop(job.name, None)
            return
        self._filed[job.name] = tiebreak
        heapq.heappush(self._heap, (wake.timestamp(), tiebreak, job.name))

    # ---------------------------------------------- applying slot decisions

    def _lead(self) -> float:
        """How early to wake before the next slot: `lead`, or longer (up to a second) when
        that many runs are due at it that preparing them would not fit in `lead` (a command
        agent's run also starts its child then, held until the instant)."""
        if not self.lead or not self._heap:
            return self.lead
        heap = self._heap
        first = heap[0][0]
        per_run = self._prep_per_run
        per_hold, room, jobs = hold_cost(), hold_room(), self.jobs
        enough = MAX_LEAD / 1.5
        # Entries due by then, counted down the heap's tree (a subtree past it is skipped);
        # stale entries count too, which errs on the early side.
        need, stack, size = 0.0, [0], len(heap)
        while stack and need < enough:
            i = stack.pop()
            if i < size and heap[i][0] <= first:
                need += per_run
                if room:
                    job = jobs.get(heap[i][2])
                    if job is not None and spawns_ahead(job):
                        need += per_hold
                        room -= 1
                stack.append(2 * i + 1)
                stack.append(2 * i + 2)
        return min(MAX_LEAD, max(self.lead, 1.5 * need))

    def _fire_due(self, now: datetime, ahead: float = 0.0,
                  budget: float | None = None) -> bool:
        """Handle every job due at `now`, and with `ahead` > 0 also those due within that
        many seconds: their decisions are taken as of their own instant and their runs
        wait on the start line until it comes (see `Scheduler.lead`). With a `budget`
        (seconds), stop once it is spent: True when jobs due are left for the next call.
        The scheduled runs it starts at once are claimed together as it returns."""
        if self._fired is not None:  # called again from within (a listener): same group
            return self._fire_slice(now, ahead, budget)
        self._fired = []
        try:
            more = self._fire_slice(now, ahead, budget)
            self._fire_passes = self._fire_passes + 1 if more else 0
            self._claim_fired()
        except BaseException as exc:
            self._refuse_fired(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self._fired = None
            self._fired_jobs.clear()
        return more

    def _fire_slice(self, now: datetime, ahead: float, budget: float | None) -> bool:
        now_ts = now.timestamp()
        horizon = now_ts + ahead
        heap = self._heap
        filed = self._filed
        if heap and heap[0][0] <= horizon:
            self._runner.refresh_env()
        later: list[tuple[float, int, str]] = []
        prepared = 0
        t0 = time.perf_counter()
        more = False
        popped = 0
        firing = 0.0 if budget is None else min(budget,
                                                FIRE_FIRST * 2 ** min(self._fire_passes, 16))
        while heap and heap[0][0] <= horizon:
            if budget is not None and popped:
                spent = time.perf_counter() - t0
                if spent > budget or (self._fired and spent > firing):
                    more = True
                    break
            popped += 1
            entry = heapq.heappop(heap)
            ts, tiebreak, name = entry
            if filed.get(name) != tiebreak:
                continue
            job = self.jobs.get(name)
            if job is None:
                continue
            if name in self._fired_jobs:  # popped again: its run's claim decides what follows
                self._claim_fired()
            at = now
            if ts > now_ts:  # ahead of its instant: prepare it only if it will simply start
                at = max(now, slots.wake_at(job) or now)
                if not slots.starts_plainly(job, at, self):
                    later.append(entry)  # skips and queues are booked at the instant
                    continue
                self._not_before = at
                prepared += 1
            try:
                self._process_job(job, at)
            except Exception as exc:  # one broken job must not stop the others or the loop
                self._ledger.error(job.name, "dispatch", exc)
            finally:
                self._not_before = None
        for entry in later:
            heapq.heappush(heap, entry)
        if prepared:  # the runs' own first steps cost about as much again
            took = 2 * (time.perf_counter() - t0) / prepared
            self._prep_per_run = min(PREP_PER_RUN * 5, max(PREP_PER_RUN / 10, took))
        return more

    def _stepped_back(self, now: datetime) -> None:
        """The wall clock was set back to `now`: a next fire planned on the later time would
        leave the job silent until the clock comes round again. Plan each job's next slot
        from `now`, except slots already handled (run, missed, skipped), never done twice."""
        for job in self.jobs.values():
            if job.exhausted or job.next_fire is None or job.next_fire <= now:
                continue
            started = self._started.get(job.name) or deque()
            after = now
            if len(started) >= STARTED_KEPT and started[0] > now:
                after = started[0]  # runs started before these are forgotten: no replay
            nxt = self.next_slot(job, after)
            if nxt is None or nxt >= job.next_fire:
                continue
            done = {r.scheduled_for for r in job.results
                    if not r.manual and r.scheduled_for > now}
            done.update(slot for slot in started if slot > now)
            if done:
                self._handled[job.name] = done
            job.next_fire = nxt
            if job.last_slot is not None and job.last_slot > now:
                job.last_slot = now  # a restart meanwhile continues from here too
            self.refile(job, now)

    def _process_job(self, job: Job, now: datetime) -> None:
        """Handle every slot of `job` due at `now`, then file its next fire."""
        if job.exhausted:
            return
        due = slots.due_slots(job, now, lambda after: self.next_slot(job, after))
        job.next_fire = due.next_fire
        handled = self._handled.get(job.name) if self._handled else None
        if handled is not None:  # after a step back: slots handled before it are not redone
            due.slots = [slot for slot in due.slots if slot not in handled]
            if due.next_fire is None or due.next_fire > max(handled):
                del self._handled[job.name]
        if due.slots:
            self._handle_slots(job, due.slots, now, due.more_missed)
        if job.paused and job.pause_until is not None and job.pause_until <= now:
            job.paused, job.pause_note, job.pause_until = False, "", None
            self._emit(JobResumed, job=job.name)
        self.refile(job, now)

    def _handle_slots(self, job: Job, due: list[datetime], now: datetime, more: int) -> None:
        if slots.on_time(job, due, now, self):
            self._dispatch(job, due[0], now)
            return
        plan = slots.plan_slots(job, due, now, more, self)
        for slot, note in plan.paused:
            self._mark_slot(job, slot)
            self._ledger.skip(job, slot, SkipReason.PAUSED, f"paused: {note}" if note else "paused")
        if plan.summary is not None:
            first, last, error = plan.summary
            self._mark_slot(job, last)
            self._ledger.record(job, RunResult(
                run_id=make_run_id(job.name, first), job=job.name, scheduled_for=first,
                status=RunStatus.MISSED, finished_at=now, error=error))
        for slot, why in plan.missed:
            self._mark_slot(job, slot)
            self._ledger.missed(job, RunResult(
                run_id=make_run_id(job.name, slot), job=job.name, scheduled_for=slot,
                status=RunStatus.MISSED, finished_at=now, error=why))
        if plan.to_backlog:
            job.backlog.extend(plan.runnable)
            self._drain_backlog(job)
            return
        for slot in plan.runnable:
            self._dispatch(job, slot, now)

    def _drain_backlog(self, job: Job) -> None:
        # A run waiting for its claim counts as running: refused, it drains the rest then.
        while job._backlog and not job._running and not job.exhausted \
                and job.name not in self._fired_jobs:
            self._dispatch(job, job.backlog.popleft(), self.clock.now())

    def _mark_slot(self, job: Job, slot: datetime) -> None:
        if job.last_slot is None or slot > job.last_slot:
            job.last_slot = slot

    def _dispatch(self, job: Job, slot: datetime, now: datetime, *, manual: bool = False,
                  run_id: str | None = None) -> RunHandle:
        """Apply `slots.decide` to one slot; start it or book why not. Returns the handle
        (already done when the slot did not start)."""
        run_id = run_id or make_run_id(job.name, slot)
        if job.name in self._fired_jobs:  # its run waiting for its claim decides this one
            self._claim_fired()
        if not manual:
            self._mark_slot(job, slot)
        decision = slots.decide(job, now, manual)
        if decision is slots.START:
            return self._start(job, slot, manual, run_id)
        if decision.action == "skip":
            assert decision.reason is not None
            if decision.reason is SkipReason.OPERATOR:
                job.skip_next_pending = False
            return self._done_handle(job, slot, manual, self._ledger.skip(
                job, slot, decision.reason, decision.why, run_id, manual=manual))
        if decision.action == "queue":
            if job.queued is not None:
                old, old_manual = job.queued
                r = self._ledger.skip(
                    job, old, SkipReason.OVERLAP,
                    "still running; a newer slot took its place in the queue",
                    manual=old_manual)
                if job.queued_handle is not None:
                    job.queued_handle.set_result(r)
                    job.queued_handle = None
            job.queued = (slot, manual)
            self._emit(RunQueued, job=job.name, run_id=run_id, scheduled_for=slot,
                       why="previous run still going (queue_one)")
            handle = RunHandle(job.name, run_id, slot, manual)
            job.queued_handle = handle
            return handle
        for other in list(job.running.values()):  # "replace"
            other.cancel(f"replaced by {run_id}")
        return self._start(job, slot, manual, run_id)

    def _start(self, job: Job, slot: datetime, manual: bool, run_id: str,
               handle: RunHandle | None = None) -> RunHandle:
        self._bind_loop()
        handle = handle or RunHandle(job.name, run_id, slot, manual)
        if not manual:
            started = self._started.get(job.name)
            if started is None:
                started = self._started[job.name] = deque(maxlen=STARTED_KEPT)
            started.append(slot)
        if self._not_before is None:  # a run prepared ahead is claimed at its instant
            if self._fired is not None and not manual:  # claimed with the others fired
                self._fired.append((job, handle))
                self._fired_jobs.add(job.name)
                return handle
            why = self._ledger.claim(job, handle)
            if why:
                handle.set_result(self._ledger.unclaimed(job, handle, why))
                return handle
        job.running[run_id] = handle
        handle.task = self._runner.start(job, handle, self._not_before)
        for lst in self._new_handles:
            lst.append(handle)
        return handle

    def _claim_fired(self) -> None:
        """Claim the runs `_fire_due` started so far in one durable write, then start each
        (none before the write); a refused claim books its run as skipped instead, as a
        claim of its own would have, and its job's backlog goes on (claimed likewise)."""
        while self._fired:
            runs, self._fired = self._fired, []
            self._fired_jobs.clear()
            refused: list[Job] = []
            try:
                whys = self._ledger.claim_many(runs)
            except BaseException:  # (the ledger reports a sink's Exception): none starts
                self._fired = runs
                self._fired_jobs.update(job.name for job, _ in runs)
                raise
            for (job, handle), why in zip(runs, whys, strict=True):
                if why:
                    handle.set_result(self._ledger.unclaimed(job, handle, why))
                    refused.append(job)
                    continue
                job.running[handle.run_id] = handle
                handle.task = self._runner.start(job, handle)
                for lst in self._new_handles:
                    lst.append(handle)
            for job in refused:
                if self.jobs.get(job.name) is job:
                    self._drain_backlog(job)

    def _refuse_fired(self, why: str) -> None:
        """`_fire_due` was interrupted: the runs it started and has not claimed do not start
        (booked as skipped, `why`: what interrupted it)."""
        runs, self._fired = self._fired or [], []
        self._fired_jobs.clear()
        for job, handle in runs:
            if not handle.done():
                handle.set_result(self._ledger.unclaimed(job, handle, why))

    def _done_handle(self, job: Job, slot: datetime, manual: bool, result: RunResult) -> RunHandle:
        handle = RunHandle(job.name, result.run_id, slot, manual)
        handle.set_result(result)
        return handle

    # ------------------------------------------------ the runner's host (RunHost)

    def claim_run(self, job: Job, handle: RunHandle) -> RunResult | None:
        """RunHost: a run prepared ahead reached its instant; its run id is taken (or, when
        that cannot be recorded, the skip it comes to instead)."""
        return self.claim_runs([(job, handle)])[0]

    def claim_runs(self, runs: list[tuple[Job, RunHandle]]) -> list[RunResult | None]:
        """RunHost: `claim_run` for the runs released together at one instant, in one
        durable write. A scheduled run whose job was paused, or told to skip its next slot,
        while it waited on the start line comes to that skip instead, as it would have had
        it been dispatched at its instant."""
        paused = self.paused  # (a job told to skip has its rarely set fields made)
        late = [self._decided_meanwhile(job, handle)
                if paused or job.paused or job.seldom() is not None else None
                for job, handle in runs]
        if self._ledger.state_sink is None:  # nothing to record: every claim is taken
            return late
        claims = iter(self._ledger.claim_many(
            [run for run, skipped in zip(runs, late, strict=True) if skipped is None]))
        out: list[RunResult | None] = []
        for (job, handle), skipped in zip(runs, late, strict=True):
            if skipped is None:
                why = next(claims)
                skipped = self._ledger.unclaimed(job, handle, why, booked_later=True) \
                    if why else None
            out.append(skipped)
        return out

    def _decided_meanwhile(self, job: Job, handle: RunHandle) -> RunResult | None:
        """The skip a run prepared ahead comes to when, since then, its job was paused (or
        all were) or told to skip its next slot; None when it may start."""
        if handle.manual:
            return None
        slot = handle.scheduled_for
        note = slots.pause_note_at(job, slot, self)
        if note is not None:
            return self._ledger.skip(job, slot, SkipReason.PAUSED,
                                     f"paused: {note}" if note else "paused", handle.run_id,
                                     booked_later=True)
        if job.skip_next_pending:
            job.skip_next_pending = False
            return self._ledger.skip(job, slot, SkipReason.OPERATOR, "skipped by operator",
                                     handle.run_id, booked_later=True)
        return None

    def count_run(self, job: Job, handle: RunHandle) -> None:
        """RunHost: an attempt is starting; the first counts towards max_runs."""
        if not handle.agent_started:
            handle.agent_started = True
            job.run_count += 1
            if job.options.max_runs is not None and job.run_count >= job.options.max_runs:
                # Booked right after the runs starting at this instant have all started:
                # no slot of this job can fall due in between.
                loop = asyncio.get_running_loop()
                if not self._ended or self._ended_on is not loop:  # one booking per instant
                    loop.call_soon(self._exhaust_started)
                    self._ended_on = loop
                self._ended.append(job)

    def _exhaust_started(self) -> None:
        ended, self._ended = self._ended, []
        for job in ended:
            if self.jobs.get(job.name) is job and not job.exhausted:
                self.refile(job, self.clock.now())

    def skip_gated(self, job: Job, handle: RunHandle, gate: GateResult) -> RunResult:
        """RunHost: the gate said no; the slot is skipped (recorded by `finish_run`)."""
        return self._ledger.skip(
            job, handle.scheduled_for, SkipReason.GATE, gate.reason, handle.run_id,
            exit_code=gate.exit_code, gate=gate, manual=handle.manual)

    def record_attempt(self, result: RunResult) -> None:
        """RunHost: a failed attempt that will be retried goes to the state sink, marked
        `will_retry` (the run is still going: a crash now leaves it abandoned)."""
        self._ledger.sink_result(replace(result, extra={**result.extra, "will_retry": True}))

    def abandon_run(self, job: Job, handle: RunHandle, result: RunResult,
                    exc: Exception) -> None:
        """RunHost: booking the final result raised; report it and settle the handle anyway,
        so the slot is free and whoever awaits the run gets its result."""
        self._ledger.error(job.name, "finish_run", exc)
        job.running.pop(handle.run_id, None)
        if not handle.done():
            handle.set_result(result)
        self._poke()

    def finish_run(self, job: Job, handle: RunHandle, result: RunResult) -> None:
        """RunHost: book a final result (history, counters, auto-pause, callback), then
        start the queued successor or the backlog. A run already given up on (`_give_up`)
        is not booked again when it finally ends."""
        if handle.done():
            return
        job.running.pop(handle.run_id, None)
        pause_note = self._ledger.book(job, result)
        if pause_note is not None:
            self.pause_job(job, note=pause_note)
        handle.set_result(result)
        self._ledger.call_on_result(job, result)
        if self.jobs.get(job.name) is job:
            if job.queued is not None and not job.running:
                slot, manual = job.queued
                job.queued = None
                qh, job.queued_handle = job.queued_handle, None
                run_id = qh.run_id if qh is not None else make_run_id(job.name, slot)
                note = None if manual else slots.pause_note_at(job, slot, self)
                if note is not None:
                    r = self._ledger.skip(job, slot, SkipReason.PAUSED, f"paused: {note}")
                    if qh is not None:
                        qh.set_result(r)
                else:
                    self._start(job, slot, manual, run_id, qh)
            self._drain_backlog(job)
            self._ledger.state_changed(job)
        self._poke()


def _check_args(what: str, prompt: object, schedule: object, options: object) -> None:
    """TypeErrors, at the call, for arguments of the wrong kind that would otherwise be
    taken and fail later (a job that never fires, a prompt that is not text)."""
    if prompt is not None and not isinstance(prompt, str):
        raise TypeError(f"{what}: prompt must be a string or None, not "
                        f"{type(prompt).__name__} {prompt!r}")
    if schedule is not None and not isinstance(schedule, str | CronExpr | Every):
        raise TypeError(f"{what}: schedule must be a cron string like '0 9 * * *' or "
                        f"'@every 5m', cron(...) or every(...), not "
                        f"{type(schedule).__name__} {schedule!r}")
    if options is not None and not isinstance(options, JobOptions):
        raise TypeError(f"{what}: options must be a JobOptions, not {type(options).__name__} "
                        f"(single options go as keywords: {what}(..., timeout='10m'))")


async def _all_settled(handles: list[RunHandle]) -> None:
    for handle in handles:
        await handle.wait()


def _waits_only(job: Job) -> bool:
    """Is `job`'s state its next fire alone (as `store.waits_only` would find it)?"""
    if job.next_fire is None or job._exhausted or job.paused or job.last_slot is not None \
            or job.run_count or job.consecutive_failures or job._results or job._running:
        return False
    seldom = job.seldom()
    return seldom is None or not any(seldom)  # a pause_until set (a datetime) counts too


def _describe(schedule: Schedule) -> str:
    try:
        return schedule.describe()
    except Exception:
        return getattr(schedule, "text", str(schedule))


def _survivors(survivors: Mapping[str, int] | None, run_id: str) -> str:
    if survivors is None:
        return ""
    n = survivors.get(run_id, 0)
    if not n:
        return " (none of its processes was left)"
    return (" (1 process it left running was terminated)" if n == 1
            else f" ({n} processes it left running were terminated)")


def _slot_of(run_id: str) -> datetime | None:
    _, _, stamp = run_id.rpartition("@")
    try:
        return utc(datetime.fromisoformat(stamp.split("~")[0].replace("Z", "+00:00")))
    except ValueError:
        return None
