"""Jobs: what to run, when, under which policies, and the runtime state that must survive
restarts (paused, last slot fired, counts, recent results).

`JobOptions` holds every per-job policy; the scheduler's `defaults` supply unset ones.
`JobState` is the persistable part of a job, exchanged with a `StateSink` and via
`Scheduler.snapshot()` / `Scheduler.restore()`. A `Job` reaches its scheduler only through
`JobHost`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import field
from datetime import datetime
from operator import attrgetter
from typing import Any, Generic, Protocol, Self, TypeVar, overload

from .agents import Agent
from .clock import Clock, utc
from .lazyclass import dataclass
from .options import JobOptions
from .results import RunResult, RunStatus
from .schedule import Schedule, resolve

__all__ = [
    "Job",
    "JobHost",
    "JobOptions",
    "JobState",
    "NullStateSink",
    "RunHandle",
    "Seldom",
    "StateSink",
]

# Sync, or async (awaited in the background); what it returns is ignored.
OnResult = Callable[[RunResult], object]

# A pause note is shown in every status line, row and history entry: a line or two of why.
PAUSE_NOTE_MAX = 500


def check_pause_note(note: str) -> str:
    """`note` if it fits a pause note; else ValueError saying the limit. Every way of pausing
    (Scheduler.pause_job/pause_all, the control protocol, `crondeck pause` offline) asks."""
    if len(note) > PAUSE_NOTE_MAX:
        raise ValueError(f"the pause note is {len(note):,} characters; the most is "
                         f"{PAUSE_NOTE_MAX}: say in a line or two why the job is paused")
    return note


@dataclass(frozen=True, slots=True)
class JobState:
    """The persistable runtime state of one job (what `state.toml` keeps)."""

    name: str
    paused: bool = False
    pause_note: str = ""
    pause_until: datetime | None = None
    skip_next: bool = False
    next_fire: datetime | None = None
    last_slot: datetime | None = None
    run_count: int = 0
    consecutive_failures: int = 0
    exhausted: str = ""
    running: tuple[str, ...] = ()
    results: tuple[RunResult, ...] = ()
    tokens_day: str = ""  # the local day (job's zone) tokens_today and cost_today count
    # Disabled when saved: enabling it later continues from then, owing no slots for the
    # time it was off (a restore alone would catch up from `last_slot`).
    disabled: bool = False
    tokens_today: int = 0
    tokens_total: int = 0
    cost_today: float = 0.0
    cost_total: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML/JSON-friendly types; None values are omitted."""
        out: dict[str, Any] = {
            "name": self.name,
            "paused": self.paused,
            "pause_note": self.pause_note,
            "skip_next": self.skip_next,
            "run_count": self.run_count,
            "consecutive_failures": self.consecutive_failures,
            "exhausted": self.exhausted,
            "running": list(self.running),
            "results": [r.to_dict() for r in self.results],
        }
        if self.disabled:
            out["disabled"] = True
        if self.tokens_day or self.tokens_total or self.cost_total:
            out |= {"tokens_day": self.tokens_day, "tokens_today": self.tokens_today,
                    "tokens_total": self.tokens_total, "cost_today": self.cost_today,
                    "cost_total": self.cost_total}
        for key in ("pause_until", "next_fire", "last_slot"):
            value = getattr(self, key)
            if value is not None:
                out[key] = utc(value).isoformat()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobState:
        def when(key: str) -> datetime | None:
            value = data.get(key)
            if value is None:
                return None
            return utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))

        return cls(
            name=str(data["name"]),
            paused=bool(data.get("paused", False)),
            pause_note=str(data.get("pause_note", "")),
            pause_until=when("pause_until"),
            skip_next=bool(data.get("skip_next", False)),
            next_fire=when("next_fire"),
            last_slot=when("last_slot"),
            run_count=int(data.get("run_count", 0)),
            consecutive_failures=int(data.get("consecutive_failures", 0)),
            exhausted=str(data.get("exhausted", "")),
            running=tuple(data.get("running", ())),
            results=tuple(RunResult.from_dict(r) for r in data.get("results", ())),
            tokens_day=str(data.get("tokens_day", "")),
            tokens_today=int(data.get("tokens_today", 0)),
            tokens_total=int(data.get("tokens_total", 0)),
            cost_today=float(data.get("cost_today", 0.0)),
            cost_total=float(data.get("cost_total", 0.0)),
            disabled=bool(data.get("disabled", False)),
        )


class StateSink(Protocol):
    """Where the scheduler reports what must persist. Called synchronously on the loop, so
    implementations should be quick (buffer and coalesce writes)."""

    def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
        """A slot is about to run (before its gate): record the run id so a restart never
        fires it again and can mark it abandoned if it never finishes. A sink may also offer
        `claim_runs(claims)` (a sequence of job, run id, slot): the runs starting at one
        instant are then claimed with one call (one durable write) instead of one each."""

    def result_recorded(self, result: RunResult) -> None:
        """A result: every attempt, skip and miss."""

    def job_changed(self, state: JobState) -> None:
        """The job's persistable state changed. A sink may also offer
        `job_waits(job, next_fire)`: a job just added whose state is its next fire alone is
        then reported with that call, without a JobState made for it."""


class NullStateSink:
    """A StateSink that keeps nothing: subclass and override what you need."""

    def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
        pass

    def result_recorded(self, result: RunResult) -> None:
        pass

    def job_changed(self, state: JobState) -> None:
        pass


class JobHost(Protocol):
    """What a `Job` asks of the scheduler holding it (`Scheduler` is one): its clock, the
    next slot, re-filing after a change, and the operator actions a job offers itself."""

    @property
    def clock(self) -> Clock: ...

    def next_slot(self, job: Job, after: datetime) -> datetime | None:
        """The job's next slot after `after` (None when it will not fire again)."""
        ...

    def refile(self, job: Job, now: datetime) -> None:
        """Re-file the job after its state changed: next fire, exhaustion, observers."""
        ...

    def note_change(self, job: Job, what: str) -> None:
        """Tell observers the job changed (`what`: "enabled", "disabled", ...)."""
        ...

    def pause_job(self, job: str | Job, note: str = "", until: datetime | None = None) -> None:
        ...

    def resume_job(self, job: str | Job) -> None: ...

    def skip_next(self, job: str | Job, skip: bool = True) -> None: ...

    def run_now(self, job: str | Job) -> RunHandle: ...

    def cancel(self, job: str | Job, reason: str = "cancelled by operator") -> int: ...


_V = TypeVar("_V")


class Settling(Generic[_V]):
    """A value that settles once and is awaited: `wait()` (or `await`) gives it then,
    `add_done_callback` calls back then (at once if it already has). The first `_settle`
    stands. `PendingResult` (a run's result) and `remote.RemoteCall` (a command's answer)
    are both one."""

    def __init__(self) -> None:
        self._settled = False
        self._value: _V | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._callbacks: list[Callable[[Any], object]] = []

    def done(self) -> bool:
        return self._settled

    def add_done_callback(self, fn: Callable[[Self], object]) -> None:
        """`fn(self)` once settled (at once if it already is)."""
        if self._settled:
            fn(self)
        else:
            self._callbacks.append(fn)

    def _settle(self, value: _V | None) -> bool:
        """Settle with `value`, wake the waiters, call the callbacks; False (and nothing
        done) when already settled."""
        if self._settled:
            return False
        self._settled = True
        self._value = value
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            with contextlib.suppress(Exception):  # one observer's bug must not stop the rest
                fn(self)
        return True

    async def _until_settled(self) -> _V | None:
        if not self._settled:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            await fut
        return self._value

    async def wait(self) -> _V:
        value = await self._until_settled()
        assert value is not None  # a kind that settles with None overrides wait
        return value

    def __await__(self) -> Generator[Any, None, _V]:
        return self.wait().__await__()


class PendingResult(Settling[RunResult]):
    """A run's final result, to be awaited: `wait()` (or `await`) gives it once settled,
    `add_done_callback` calls back then. `RunHandle` (in this process) and `RemoteRun` (a
    scheduler attached over the control socket) are both one."""

    job: str  # each kind of run names its job and run id
    run_id: str

    def __repr__(self) -> str:
        state = self._value.status.value if self._value else "running"
        return f"<{type(self).__name__} {self.run_id or self.job} {state}>"

    @property
    def skipped(self) -> bool:
        """True when the slot never started (e.g. run now refused by the overlap policy)."""
        return self._value is not None and self._value.status is RunStatus.SKIPPED

    def result(self) -> RunResult:
        if self._value is None:
            raise asyncio.InvalidStateError("run still in progress")
        return self._value

    def set_result(self, result: RunResult) -> None:
        """Settle with the final result; the first one stands."""
        self._settle(result)


class RunHandle(PendingResult):
    """One dispatched slot (gate, attempts, result). Await it for the final RunResult."""

    def __init__(self, job: str, run_id: str, scheduled_for: datetime, manual: bool) -> None:
        super().__init__()
        self.job = job
        self.run_id = run_id
        self.scheduled_for = scheduled_for
        self.manual = manual
        self.attempt = 1
        self.started_at: datetime | None = None
        self.agent_started = False
        self.cancel_reason = ""
        # The current attempt's output so far (a runner.OutputTail): a cancelled run keeps
        # what it printed before it was cancelled.
        self.output: Any = None
        self.task: asyncio.Task[None] | None = None

    def cancel(self, reason: str = "cancelled by operator") -> bool:
        if self._settled or self.task is None:
            return False
        self.cancel_reason = self.cancel_reason or reason
        self.task.cancel()
        return True


class _Rare:
    """The part of a job's state most jobs never set: made on first set (a job without it
    reads these defaults from `_RARE`, which is never written)."""

    __slots__ = ("cost_today", "cost_total", "pause_note", "pause_until", "queued",
                 "queued_handle", "skip_next_pending", "tokens_day", "tokens_today",
                 "tokens_total")

    def __init__(self) -> None:
        self.pause_note = ""
        self.pause_until: datetime | None = None
        self.skip_next_pending = False
        self.queued: tuple[datetime, bool] | None = None
        self.queued_handle: RunHandle | None = None
        self.tokens_day = ""
        self.tokens_today = 0
        self.tokens_total = 0
        self.cost_today = 0.0
        self.cost_total = 0.0


_RARE = _Rare()
_T = TypeVar("_T")
# What `Job.seldom` gives: pause_note, pause_until, skip_next_pending, tokens_day,
# tokens_today, tokens_total, cost_today, cost_total.
Seldom = tuple[str, datetime | None, bool, str, int, int, float, float]


class _RareField(Generic[_T]):
    """A `Job` attribute kept in its `_Rare` part: it reads as `_RARE`'s value until it is
    first set to anything else (most jobs never are, and so hold no `_Rare`)."""

    __slots__ = ("_get", "name")

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self._get = attrgetter(name)

    @overload
    def __get__(self, job: None, owner: type | None = None) -> _RareField[_T]: ...

    @overload
    def __get__(self, job: Job, owner: type | None = None) -> _T: ...

    def __get__(self, job: Job | None, owner: type | None = None) -> _T | _RareField[_T]:
        if job is None:
            return self
        value: _T = self._get(job._more or _RARE)
        return value

    def __set__(self, job: Job, value: _T) -> None:
        if job._more is not None or value != self._get(_RARE):
            setattr(job._rare(), self.name, value)


@dataclass(eq=False, slots=True)
class Job:
    """A scheduled agent with its policies and live state. Created by `Scheduler.add_job`.

    A disabled job (`enabled = False`) is switched off rather than paused: it has no next
    fire and reads as exhausted ("disabled") to the scheduler, so it never fires and records
    no skipped or missed slots. Its runs in flight finish, and an operator's "run now" still
    works. Enabling it files its next fire from now.
    """

    name: str
    agent: Agent
    prompt: str
    schedule: Schedule
    options: JobOptions
    on_result: OnResult | None = None
    # runtime state
    paused: bool = False
    _next_fire: datetime | None = None
    last_slot: datetime | None = None
    run_count: int = 0
    consecutive_failures: int = 0
    _exhausted: str = ""
    _enabled: bool = True
    _scheduler: JobHost | None = field(default=None, repr=False)
    # What most jobs never set (a pause note, a queued slot, token counts): made on first set.
    _more: _Rare | None = field(default=None, init=False, repr=False)
    # Made on first use: most of 100,000 jobs never run at once, queue or back up, and an
    # empty deque alone costs more than the rest of the job.
    _results: deque[RunResult] | None = field(default=None, init=False, repr=False)
    _running: dict[str, RunHandle] | None = field(default=None, init=False, repr=False)
    _backlog: deque[datetime] | None = field(default=None, init=False, repr=False)

    def _rare(self) -> _Rare:
        more = self._more
        if more is None:
            more = self._more = _Rare()
        return more

    pause_note = _RareField[str]()
    pause_until = _RareField["datetime | None"]()
    skip_next_pending = _RareField[bool]()
    # The slot waiting for the run in flight (overlap = "queue_one"): slot, manual.
    queued = _RareField["tuple[datetime, bool] | None"]()
    queued_handle = _RareField["RunHandle | None"]()
    tokens_day = _RareField[str]()  # the local day (job's zone) tokens_today and cost_today count
    tokens_today = _RareField[int]()
    tokens_total = _RareField[int]()
    cost_today = _RareField[float]()
    cost_total = _RareField[float]()

    def seldom(self) -> Seldom | None:
        """The fields most jobs never set (a pause note or end, a skip, token and cost
        counts), in `Seldom`'s order; None while none of them was ever set: all are at
        their defaults, and a caller going through many jobs can pass them by."""
        more = self._more
        if more is None:
            return None
        return (more.pause_note, more.pause_until, more.skip_next_pending, more.tokens_day,
                more.tokens_today, more.tokens_total, more.cost_today, more.cost_total)

    def capture(self, results: bool = False) -> tuple[Any, ...]:
        """The job's state as of now, taken cheaply for a snapshot of many jobs (100,000 take
        one each): values that do not change later (times, numbers, the runs in flight and,
        with `results`, the results as tuples; the schedule, agent and options objects), in
        the order `wire.job_record` reads them; None for results when not asked."""
        more = self._more or _RARE
        enabled = self._enabled
        running = self._running
        kept = self._results
        return (self.name, self.paused, more.pause_note, more.pause_until,
                more.skip_next_pending, self._next_fire if enabled else None, self.last_slot,
                self.run_count, self.consecutive_failures, self._exhausted, enabled,
                more.tokens_day, more.tokens_today, more.tokens_total, more.cost_today,
                more.cost_total,
                [(h.run_id, h.scheduled_for, h.started_at, h.manual, h.attempt)
                 for h in running.values()] if running else (),
                self.schedule, self.prompt, self.agent, self.options,
                (tuple(kept) if kept else ()) if results else None)

    @property
    def results(self) -> deque[RunResult]:
        """The latest results, oldest first (at most `options.history`)."""
        kept = self._results
        if kept is None:
            kept = self._results = deque(maxlen=max(1, self.options.history))
        return kept

    @results.setter
    def results(self, value: deque[RunResult]) -> None:
        self._results = value

    @property
    def running(self) -> dict[str, RunHandle]:
        """The runs in flight, by run id."""
        runs = self._running
        if runs is None:
            runs = self._running = {}
        return runs

    @property
    def backlog(self) -> deque[datetime]:
        """Slots waiting their turn (catchup = "all")."""
        slots = self._backlog
        if slots is None:
            slots = self._backlog = deque()
        return slots

    # -- enabled / disabled ----------------------------------------------------------------
    # The scheduler decides what fires from `next_fire` and `exhausted`; a disabled job shows
    # it None and "disabled" while keeping the real values underneath, so every scheduler path
    # (the heap, due_jobs, upcoming, restore) leaves it alone without knowing about `enabled`.

    @property
    def enabled(self) -> bool:
        """False: the job never fires and records no slots (see the class docstring)."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        if not isinstance(value, bool):  # "no" would be true
            raise TypeError(f"enabled must be True or False, not {value!r}")
        if value == self._enabled:
            return
        self._enabled = value
        host = self._scheduler
        if host is None:
            return
        if value:
            self.reschedule()  # slots that fell while it was off are not owed
        else:
            host.refile(self, host.clock.now())
        host.note_change(self, "enabled" if value else "disabled")

    @property
    def next_fire(self) -> datetime | None:
        return self._next_fire if self._enabled else None

    @next_fire.setter
    def next_fire(self, value: datetime | None) -> None:
        self._next_fire = value

    @property
    def exhausted(self) -> str:
        """Why the job will not fire again ("max_runs reached", "past until", ...), or
        "disabled"; empty while it is live."""
        return self._exhausted if self._enabled else "disabled"

    @exhausted.setter
    def exhausted(self, value: str) -> None:
        self._exhausted = value

    def reschedule(self, schedule: Schedule | str | None = None, *,
                   tz: str | None = None, after: datetime | None = None) -> None:
        """Apply a new `schedule` at once (a Schedule, or a string parsed in `tz`), or with
        none re-file the current one. The next fire is its first slot after `after`
        (default: now); slots before it are neither run nor recorded as missed. History,
        counters, a pause and a run in flight are kept (that run finishes; the overlap policy
        meets the new slots as usual). Same as `Scheduler.update_job(job, schedule=...)`."""
        host = self._owner()
        jobs = getattr(host, "jobs", None)
        if jobs is not None and jobs.get(self.name) is not self:
            raise KeyError(f"job {self.name!r} is not in this scheduler (removed, or another's)")
        now = host.clock.now()
        if schedule is not None:
            self.schedule = resolve(schedule, tz, now)
            if self._exhausted != "max_runs reached":
                self._exhausted = ""  # a schedule that had ended may fire again
        if not self._exhausted:
            self._next_fire = host.next_slot(self, utc(after) if after is not None else now)
        host.refile(self, now)
        if schedule is not None:
            host.note_change(self, "schedule")

    # -- operator actions ----------------------------------------------------------

    def _owner(self) -> JobHost:
        if self._scheduler is None:
            raise RuntimeError(f"job {self.name!r} is not in a scheduler")
        return self._scheduler

    def pause(self, note: str = "", until: datetime | None = None) -> None:
        """Pause: slots are recorded as skipped ("paused: note") until resumed or `until`."""
        self._owner().pause_job(self, note=note, until=until)

    def resume(self) -> None:
        """Resume; the schedule continues from now (no catch-up of paused slots)."""
        self._owner().resume_job(self)

    def skip_next(self, skip: bool = True) -> None:
        """Skip only the next slot (recorded as skipped by operator); False undoes it."""
        self._owner().skip_next(self, skip)

    def run_now(self) -> RunHandle:
        return self._owner().run_now(self)

    def cancel(self) -> int:
        return self._owner().cancel(self)

    # -- views -------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return bool(self._running)

    @property
    def last_result(self) -> RunResult | None:
        return self._results[-1] if self._results else None

    def state(self) -> JobState:
        return JobState(
            name=self.name,
            paused=self.paused,
            pause_note=self.pause_note,
            pause_until=self.pause_until,
            skip_next=self.skip_next_pending,
            next_fire=self.next_fire,
            last_slot=self.last_slot,
            run_count=self.run_count,
            consecutive_failures=self.consecutive_failures,
            exhausted=self._exhausted,
            running=tuple(self._running or ()),
            results=tuple(self._results or ()),
            tokens_day=self.tokens_day,
            tokens_today=self.tokens_today,
            tokens_total=self.tokens_total,
            cost_today=self.cost_today,
            cost_total=self.cost_total,
            disabled=not self._enabled,
        )
