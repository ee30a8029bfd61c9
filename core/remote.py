"""A live mirror of a scheduler running in another process, over its control socket.

`RemoteScheduler` has the surface the console reads from an in-process `Scheduler`: `jobs`
(`RemoteJob`s with the `Job` attributes a view reads), `paused`, `pause_note`, `pause_until`,
`running_loop`, `in_flight`, `clock`, `subscribe()`, and the operator methods
(`pause_job`, `resume_job`, `run_now`, `skip_next`, `cancel`, `pause_all`, `resume_all`,
`enable`, `disable`, `reload`). It is filled from the control protocol's snapshot, job and
scheduler records, and republishes the scheduler's events on its own `EventBus` (same
classes, same `seq`) after applying the records that precede them, so an observer reading
`mirror.jobs[name]` on an event sees the job as of that event.

Operator methods never block: each sends its command and returns at once. Their answer comes
back on a `RemoteCall` (awaitable; `add_done_callback`), and a refusal is also published as a
`ControlRefused` event for a console to show. When the connection drops the mirror keeps its
last picture, publishes `ControlDisconnected`, and reconnects by itself with backoff; a fresh
snapshot then replaces the picture (`JobAdded`/`JobRemoved` for jobs that came or went) and
`ControlAttached(resync=True)` follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from zoneinfo import ZoneInfo

from .clock import Clock, SystemClock, utc
from .collector import collector_paused
from .control import ControlError
from .control_client import ControlClient
from .cronexpr import parse
from .display import LARGE_SCHEDULE
from .events import (
    ConfigRejected,
    ConfigReloaded,
    ControlAttached,
    ControlDisconnected,
    ControlRefused,
    Event,
    EventBus,
    ExecResultRecorded,
    JobAdded,
    JobChanged,
    JobRemoved,
    OutputChunk,
    RunFinished,
    RunMissed,
    RunSkipped,
    SchedulerError,
    SchedulerPaused,
    SchedulerResumed,
    SchedulerStarted,
    SchedulerStopped,
    Subscription,
)
from .interval import Every
from .jobs import PendingResult, Settling
from .notify import NotifySpec
from .options import OPTION_NAMES, JobOptions
from .results import RunResult, RunStatus, SkipReason
from .wire import event_from_json, file_refused_from_json, resolve_shared, shared_part

__all__ = ["ControlLink", "RemoteAgent", "RemoteCall", "RemoteJob", "RemoteRun",
           "RemoteScheduler", "options_from_json", "schedule_from_json"]

# Output a run in flight printed, kept per run for a subscriber that joins late.
TAIL_BYTES = 64 * 1024
RECENT_RESULTS = 512  # final results kept by run id, to settle run-now handles that ask late
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 5.0
SLICE = 0.005  # seconds of applying lines before the loop is let go (the console draws)
STEADY = 5.0  # seconds a connection must last for its loss to be retried at once


class ControlLink(Protocol):
    """One connection to a scheduler as the mirror uses it (`ControlClient` is one): the
    server's hello and first snapshot, then its stream of messages, and commands."""

    hello: dict[str, Any]
    snapshot: dict[str, Any] | None

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    async def call(self, op: str, **args: Any) -> dict[str, Any]: ...

    async def close(self) -> None: ...


Connect = Callable[[], Awaitable[ControlLink]]


# --- the answers to commands ------------------------------------------------------------


class RemoteCall(Settling[dict[str, Any]]):
    """A command on its way: settles with the server's result dict (`reply`), or its refusal
    (raised on `await`, kept in `error`/`code`). Never blocks the caller."""

    def __init__(self, op: str, job: str | None = None) -> None:
        super().__init__()
        self.op = op
        self.job = job
        self.code = ""
        self.error = ""

    def __repr__(self) -> str:
        state = "pending" if not self._settled else ("ok" if not self.code else self.code)
        return f"<RemoteCall {self.op} {state}>"

    @property
    def reply(self) -> dict[str, Any] | None:
        """The server's result dict once answered; None before, or when refused."""
        return self._value

    @property
    def ok(self) -> bool:
        return self._settled and not self.code

    def _answer(self, reply: dict[str, Any] | None, code: str = "", error: str = "") -> None:
        if not self._settled:
            self.code, self.error = code, error
            self._settle(reply)

    async def wait(self) -> dict[str, Any]:
        """The result dict; raises ControlError when the server said no or never answered
        (code "disconnected" when the connection was gone)."""
        reply = await self._until_settled()
        if self.code:
            raise ControlError(self.code, self.error)
        return reply or {}


class RemoteRun(PendingResult):
    """A run in flight on the remote scheduler, or one asked for by `run_now`: the
    `RunHandle` attributes a console reads. `wait()` (or `await`) gives its final result
    once the mirror has seen it; `skipped` also when the command itself was refused."""

    def __init__(self, job: str, run_id: str, scheduled_for: datetime, *, manual: bool = False,
                 attempt: int = 1, started_at: datetime | None = None) -> None:
        super().__init__()
        self.job = job
        self.run_id = run_id
        self.scheduled_for = scheduled_for
        self.manual = manual
        self.attempt = attempt
        self.started_at = started_at
        self.call: RemoteCall | None = None  # run_now's command, for its refusal


# --- jobs ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class RemoteAgent:
    """What the JOB record says of a job's agent (`command` is set for a command agent)."""

    name: str
    kind: str = "command"
    program: str = ""
    describe: str = ""

    @property
    def command(self) -> str | None:
        return self.describe if self.kind == "command" and self.describe else None

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True, slots=True)
class RemoteSchedule:
    """A schedule the mirror could not rebuild (written in Python, not re-parseable): it
    shows as written and described, and computes no fires."""

    text: str
    description: str
    tz: ZoneInfo | None = None

    def describe(self) -> str:
        return self.description

    def warnings(self, now: datetime | None = None) -> list[str]:
        return []

    def next_after(self, dt: datetime) -> datetime:
        raise ValueError(f"{self.text}: its fires are known only to the scheduler")

    def upcoming(self, dt: datetime, n: int) -> list[datetime]:
        return []


class RemoteJob:
    """A job of the remote scheduler as of the last record: the `Job` attributes views read,
    and its operator actions (sent to the scheduler)."""

    def __init__(self, mirror: RemoteScheduler, name: str) -> None:
        self._mirror = mirror
        self.name = name
        self._rec: Mapping[str, Any] | None = None  # the record still to read (`_later`)
        self._shared: Any = None  # the snapshot's shared parts `_rec` refers to
        self.paused = False
        self.pause_note = ""
        self.pause_until: datetime | None = None
        self.skip_next_pending = False
        self.next_fire: datetime | None = None
        self.last_slot: datetime | None = None
        self.run_count = 0
        self.consecutive_failures = 0
        self._exhausted = ""
        self._enabled = True
        self.tokens_day = ""
        self.tokens_today = 0
        self.tokens_total = 0
        self.cost_today = 0.0
        self.cost_total = 0.0
        self.prompt = ""
        self.agent = RemoteAgent(name="agent")
        self.options = _DEFAULT_OPTIONS
        self.schedule: Any = _NO_SCHEDULE
        self.running: dict[str, RemoteRun] = {}
        self.results: deque[RunResult] = deque(maxlen=self.options.history)
        self._schedule_key: tuple[Any, ...] = ()
        self._options_key: Any = None

    @classmethod
    def _later(cls, mirror: RemoteScheduler, name: str, rec: Mapping[str, Any],
               shared: Any = None) -> RemoteJob:
        """A job whose record is read in full when first needed: a snapshot of 100,000 jobs
        is taken at once, each job's schedule, options and results built as the console
        comes to it. What sorting by next fire reads is set now; anything else fills it.
        Only for a job with no run in flight (its runs must be known at once). `shared`:
        the snapshot's shared parts, should the record refer to them."""
        job = cls.__new__(cls)
        job._mirror = mirror
        job.name = name
        job._rec = rec
        job._shared = shared
        job.paused = _paused(rec, shared)
        job.next_fire = _when(rec.get("next_fire"))
        job.running = {}
        return job

    def _defer(self, rec: Mapping[str, Any], shared: Any) -> None:
        """Forget what the job was read from and hold `rec` to read when next needed (as
        `_later`); a resync does this to a job that changed (and has no run in flight)."""
        mirror, name = self._mirror, self.name
        attrs = self.__dict__
        attrs.clear()
        attrs.update(_mirror=mirror, name=name, _rec=rec, _shared=shared,
                     paused=_paused(rec, shared), next_fire=_when(rec.get("next_fire")),
                     running={})

    if not TYPE_CHECKING:  # kept out of mypy's view: every other attribute stays checked
        def __getattr__(self, attr: str) -> Any:
            # Called only for an attribute not set: a `_later` job reads its record now.
            if self.__dict__.get("_rec") is None or attr.startswith("__"):
                raise AttributeError(f"{type(self).__name__!r} object has no attribute "
                                     f"{attr!r}")
            self._fill()
            return object.__getattribute__(self, attr)

    def _fill(self) -> None:
        """Read the record a `_later` job was made with (once; at once for others)."""
        rec = self._rec
        if rec is not None:
            shared = self._shared
            RemoteJob.__init__(self, self._mirror, self.name)
            self.apply(rec, shared)

    @property
    def filled(self) -> bool:
        """False while the job's snapshot record is still to read (see `_later`)."""
        return self._rec is None

    def __repr__(self) -> str:
        return f"<RemoteJob {self.name}>"

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        """Switch the job on or off on the scheduler (in its memory, as `Job.enabled`)."""
        value = bool(value)
        if value != self._enabled:
            self._enabled = value  # until the scheduler's record says otherwise
            if value:
                self._mirror.enable(self.name)
            else:
                self._mirror.disable(self.name)

    @property
    def exhausted(self) -> str:
        return self._exhausted if self._enabled else "disabled"

    @property
    def is_running(self) -> bool:
        return bool(self.running)

    @property
    def last_result(self) -> RunResult | None:
        if self._rec is not None:
            if not self._rec.get("results"):  # a first screen asks each job, most have none
                return None
            self._fill()
        return self.results[-1] if self.results else None

    # operator actions, as on Job
    def pause(self, note: str = "", until: datetime | None = None) -> RemoteCall:
        return self._mirror.pause_job(self.name, note=note, until=until)

    def resume(self) -> RemoteCall:
        return self._mirror.resume_job(self.name)

    def skip_next(self, skip: bool = True) -> RemoteCall:
        return self._mirror.skip_next(self.name, skip)

    def run_now(self) -> RemoteRun:
        return self._mirror.run_now(self.name)

    def cancel(self) -> int:
        return self._mirror.cancel(self.name)

    # -- records -------------------------------------------------------------------------

    def apply(self, rec: Mapping[str, Any], shared: Any = None) -> list[RemoteRun]:
        """Take a JOB record (referring to `shared`, a snapshot's shared parts, if it has
        them); returns the runs it no longer lists (ended)."""
        if self._rec is not None:  # what this record leaves out stays as the first said
            self._fill()
        state = rec
        if shared is not None:
            ref = rec.get("state")
            if type(ref) is int:
                state = _state(shared, ref, rec)
        self.paused = bool(state.get("paused", False))
        self.pause_note = str(state.get("pause_note", ""))
        self.pause_until = _when(state.get("pause_until"))
        self.skip_next_pending = bool(state.get("skip_next", False))
        self.next_fire = _when(rec.get("next_fire"))
        self.last_slot = _when(rec.get("last_slot"))
        self.run_count = int(state.get("run_count", 0))
        self.consecutive_failures = int(state.get("consecutive_failures", 0))
        self._exhausted = str(state.get("exhausted", ""))
        self._enabled = not state.get("disabled", False)
        self.tokens_day = str(state.get("tokens_day", ""))
        self.tokens_today = int(state.get("tokens_today", 0))
        self.tokens_total = int(state.get("tokens_total", 0))
        self.cost_today = float(state.get("cost_today", 0.0))
        self.cost_total = float(state.get("cost_total", 0.0))
        if "prompt" in rec:
            self.prompt = str(rec.get("prompt") or "")
        agent = rec.get("agent")
        if shared is not None and type(agent) is int:
            part = shared_part(shared, "agent", agent, rec)
            if isinstance(part, dict):
                self.agent = self._mirror._agent_from(part)
        elif isinstance(agent, dict):
            self.agent = _agent(agent)
        options = rec.get("options")
        part = False
        if shared is not None and type(options) is int:
            part, options = True, shared_part(shared, "options", options, rec)
        if (isinstance(options, dict) and options is not self._options_key
                and options != self._options_key):
            self._options_key = options
            self.options = self._mirror._options_from(options, part=part)
            if self.results.maxlen != self.options.history:
                self.results = deque(self.results, maxlen=max(1, self.options.history))
        schedule = rec.get("schedule")
        if shared is not None and type(schedule) is int:
            schedule = shared_part(shared, "schedule", schedule, rec)
        if isinstance(schedule, dict):
            self._apply_schedule(schedule)
        if "results" in rec:
            self.results = deque((RunResult.from_dict(r) for r in rec["results"]),
                                 maxlen=max(1, self.options.history))
        return self._apply_running(rec.get("running") or [])

    def _apply_schedule(self, rec: Mapping[str, Any]) -> None:
        key = (rec.get("expression"), rec.get("zone"), rec.get("describe"))
        if key != self._schedule_key:
            self._schedule_key = key
            self.schedule = self._mirror._schedule_from(key, rec, self.next_fire)
        elif isinstance(self.schedule, Every) and self.next_fire is not None:
            self.schedule = dataclasses.replace(self.schedule, anchor=self.next_fire)

    def _apply_running(self, items: Iterable[Mapping[str, Any]]) -> list[RemoteRun]:
        seen: dict[str, RemoteRun] = {}
        for item in items:
            run_id = str(item.get("run_id", ""))
            if not run_id:
                continue
            run = self.running.get(run_id)
            scheduled = _when(item.get("scheduled_for")) or self._mirror.clock.now()
            if run is None:
                run = RemoteRun(self.name, run_id, scheduled, manual=bool(item.get("manual")))
            run.attempt = int(item.get("attempt", 1))
            run.started_at = _when(item.get("started_at"))
            seen[run_id] = run
        ended = [run for run_id, run in self.running.items() if run_id not in seen]
        self.running = seen
        return ended

    def _shows(self, rec: Mapping[str, Any], shared: Any = None) -> bool:
        """Whether this job (read in full) already shows what the snapshot record `rec`
        says (its parts in `shared`), runs in flight aside: a resync announces only the
        jobs that changed meanwhile."""
        if self.next_fire != _when(rec.get("next_fire")):  # what moves most: first
            return False
        state, agent, options, schedule = rec, rec.get("agent"), rec.get("options"), \
            rec.get("schedule")
        if shared is not None:
            ref = rec.get("state")
            state = _state(shared, ref, rec) if type(ref) is int else rec
            agent = shared_part(shared, "agent", agent, rec) if type(agent) is int else agent
            options = (shared_part(shared, "options", options, rec) if type(options) is int
                       else options)
            schedule = (shared_part(shared, "schedule", schedule, rec)
                        if type(schedule) is int else schedule)
        results = rec.get("results") or []
        last = self.results[-1] if self.results else None
        return (self.last_slot == _when(rec.get("last_slot"))
                and self.run_count == int(state.get("run_count", 0))
                and self.paused == bool(state.get("paused", False))
                and self.pause_note == str(state.get("pause_note", ""))
                and self.pause_until == _when(state.get("pause_until"))
                and self.skip_next_pending == bool(state.get("skip_next", False))
                and self.consecutive_failures == int(state.get("consecutive_failures", 0))
                and self._exhausted == str(state.get("exhausted", ""))
                and self._enabled == (not state.get("disabled", False))
                and self.tokens_day == str(state.get("tokens_day", ""))
                and self.tokens_today == int(state.get("tokens_today", 0))
                and self.tokens_total == int(state.get("tokens_total", 0))
                and self.cost_today == float(state.get("cost_today", 0.0))
                and self.cost_total == float(state.get("cost_total", 0.0))
                and ("prompt" not in rec or self.prompt == str(rec.get("prompt") or ""))
                and (not isinstance(agent, dict) or self.agent == _agent(agent))
                and (not isinstance(options, dict) or options is self._options_key
                     or options == self._options_key)
                and (not isinstance(schedule, dict) or self._schedule_key == (
                    schedule.get("expression"), schedule.get("zone"), schedule.get("describe")))
                and (last is None) == (not results)
                and (last is None or RunResult.from_dict(results[-1]) == last))

    def add_result(self, result: RunResult) -> None:
        """A result the stream reported (a run's final one, a skip, a miss, an exec result),
        once, as the scheduler's own history does."""
        for r in reversed(self.results):
            if r == result:
                return
        self.results.append(result)


def _renumbering(before: Mapping[str, Any], after: Mapping[str, Any]
                 ) -> list[tuple[str, list[int]]]:
    """How two snapshots' shared parts are numbered differently: for each kind whose
    numbers moved, the new number of each old part (-1: not in the new snapshot)."""
    out = []
    for kind in ("schedule", "agent", "options", "state"):
        olds, news = before.get(kind), after.get(kind)
        olds = olds if isinstance(olds, list) else []
        numbers = {_key(part): i for i, part in enumerate(news if isinstance(news, list)
                                                           else [])}
        turned = [numbers.get(_key(part), -1) for part in olds]
        if turned != list(range(len(olds))):
            out.append((kind, turned))
    return out


def _key(part: Any) -> str:
    return json.dumps(part, sort_keys=True)


def _added(seq: int, at: datetime, name: str, rec: Mapping[str, Any]) -> JobAdded:
    """The `JobAdded` of a job not read yet, from its (full) record."""
    schedule = rec.get("schedule")
    schedule = schedule if isinstance(schedule, dict) else {}
    agent = rec.get("agent")
    return JobAdded(seq=seq, at=at, job=name, schedule=str(schedule.get("expression") or ""),
                    description=str(schedule.get("describe") or ""),
                    agent=_agent(agent).name if isinstance(agent, dict) else "agent")


def _paused(rec: Mapping[str, Any], shared: Any) -> bool:
    """A snapshot record's `paused`, from its shared state part where it has one."""
    ref = rec.get("state")
    if type(ref) is int:
        rec = _state(shared, ref, rec)
    return bool(rec.get("paused", False))


def _state(shared: Any, ref: int, rec: Mapping[str, Any]) -> Mapping[str, Any]:
    state = shared_part(shared, "state", ref, rec)
    if not isinstance(state, dict):
        raise ValueError(f"job {rec.get('name')!r}: shared state {ref} is not an object")
    return state


def _agent(rec: Mapping[str, Any]) -> RemoteAgent:
    return RemoteAgent(name=str(rec.get("name") or rec.get("program") or rec.get("kind")
                                or "agent"),
                       kind=str(rec.get("kind", "")), program=str(rec.get("program", "")),
                       describe=str(rec.get("describe", "")))


def _when(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if dt.tzinfo is UTC:  # what the server writes: already as `utc` would make it
        return dt
    return utc(dt) if dt.tzinfo is not None else None


def schedule_from_json(rec: Mapping[str, Any], next_fire: datetime | None = None) -> Any:
    """The job's schedule rebuilt with core's parser from the record's expression and zone,
    so fires are computed locally. An interval is anchored on its next fire (the scheduler
    may have anchored it when the job was added)."""
    text = str(rec.get("expression") or "")
    zone = rec.get("zone") or None
    try:
        sched: Any = parse(text, zone)
    except Exception:  # a newer syntax, or a schedule written in Python
        tz: ZoneInfo | None = None
        with contextlib.suppress(Exception):
            tz = ZoneInfo(str(zone)) if zone else None
        return RemoteSchedule(text, str(rec.get("describe") or text), tz)
    if isinstance(sched, Every) and next_fire is not None:
        sched = dataclasses.replace(sched, anchor=next_fire)
    return sched


def options_from_json(data: Mapping[str, Any]) -> JobOptions:
    """A JobOptions from the record's dict (durations in seconds). Values that do not fit
    (a newer option, a notify target this version cannot read) are left at their default."""
    values: dict[str, Any] = {k: v for k, v in data.items() if k in OPTION_NAMES}
    if values.get("until") is not None:
        values["until"] = _when(values["until"])
    notify = values.get("notify")
    if isinstance(notify, dict):
        try:
            fields = {f.name for f in dataclasses.fields(NotifySpec)}
            spec = {k: v for k, v in notify.items() if k in fields}
            if isinstance(spec.get("on"), list):
                spec["on"] = tuple(spec["on"])
            values["notify"] = NotifySpec(**spec)
        except (TypeError, ValueError):
            values.pop("notify")
    elif notify is not None:
        values.pop("notify")
    if isinstance(values.get("pre_run"), list):
        values["pre_run"] = tuple(values["pre_run"])
    try:
        return JobOptions(**values)
    except (TypeError, ValueError):
        out = JobOptions()
        for key, value in values.items():
            with contextlib.suppress(TypeError, ValueError):
                out = dataclasses.replace(out, **{key: value})
        return out


_DEFAULT_OPTIONS = JobOptions()
_NO_SCHEDULE = RemoteSchedule("", "")
KEPT = 4096  # distinct schedules and option sets a mirror keeps parsed


# --- the mirror --------------------------------------------------------------------------


class _Tail:
    """What a run in flight printed, as the events a late subscriber replays (bounded)."""

    __slots__ = ("chunks", "size")

    def __init__(self) -> None:
        self.chunks: deque[OutputChunk] = deque()
        self.size = 0

    def add(self, chunk: OutputChunk) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk.text)
        while self.size > TAIL_BYTES and len(self.chunks) > 1:
            self.size -= len(self.chunks.popleft().text)

    def text(self) -> str:
        return "".join(c.text for c in self.chunks)


class RemoteScheduler:
    """A mirror of the scheduler serving a control socket (see the module docstring).

    `await RemoteScheduler.attach(path)` connects (raising what `ControlClient.connect`
    raises when nothing listens), takes the first snapshot and starts following; `aclose()`
    ends it. `connect` replaces the socket with any `ControlLink` factory (tests)."""

    def __init__(self, path: str | Path | None = None, *,
                 connect: Connect | None = None, clock: Clock | None = None,
                 client: str = "crondeck console",
                 backoff: tuple[float, float] = (BACKOFF_FIRST, BACKOFF_MAX)) -> None:
        if connect is None:
            if path is None:
                raise TypeError("RemoteScheduler needs the control socket's path or connect=")
            connect = _socket_connect(Path(path), client)
        self.path = Path(path) if path is not None else None
        self.clock: Clock = clock or SystemClock()
        self.bus = EventBus(self.clock.now)
        self.jobs: dict[str, RemoteJob] = {}
        self.paused = False
        self.pause_note = ""
        self.pause_until: datetime | None = None
        self.running_loop = False
        self.seq = 0  # the last remote event applied
        self.hello: dict[str, Any] | None = None
        self.connected = False
        self.disconnected_reason = ""
        self.attached_at: datetime | None = None
        # the scheduler's word on its jobs file on disk: refused (path, its problems, since
        # when) while it runs the version before it; None while it runs the file
        self.file_refused: tuple[str, tuple[str, ...], datetime | None] | None = None
        self._connect = connect
        self._backoff = backoff
        self._link: ControlLink | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._calls: set[asyncio.Task[None]] = set()
        self._tails: dict[str, _Tail] = {}
        self._finals: OrderedDict[str, RunResult] = OrderedDict()
        self._wanted: dict[str, RemoteRun] = {}  # run_now handles by run id, until they end
        self._leaving: dict[str, RemoteRun] = {}  # left `running`, final result not yet seen
        self._attached = asyncio.Event()
        self.last_call: RemoteCall | None = None  # cancel's command (it returns a count)
        # Jobs written alike share one parsed schedule and one JobOptions, as they do in the
        # scheduler (10,000 jobs of a few dozen schedules are parsed a few dozen times).
        self._schedules: dict[tuple[Any, ...], Any] = {}
        self._options: dict[Any, JobOptions] = {}
        # A snapshot's shared part (one dict for many jobs) -> what it was read as; the dict
        # is kept beside it, so an id is never taken for another's.
        self._read_parts: dict[int, tuple[Mapping[str, Any], Any]] = {}

    # -- life ------------------------------------------------------------------------------

    @classmethod
    async def attach(cls, path: str | Path | None = None, *, connect: Connect | None = None,
                     clock: Clock | None = None, client: str = "crondeck console",
                     backoff: tuple[float, float] = (BACKOFF_FIRST, BACKOFF_MAX),
                     ) -> RemoteScheduler:
        """Connect once (errors raised: nothing listens, refused, wrong version), take the
        snapshot, and follow the scheduler from then on, reconnecting by itself."""
        mirror = cls(path, connect=connect, clock=clock, client=client, backoff=backoff)
        link = await mirror._connect()
        try:
            mirror._attach(link, resync=False)
        except BaseException:
            with contextlib.suppress(Exception):
                await link.close()
            raise
        mirror._task = asyncio.get_running_loop().create_task(mirror._follow(link),
                                                              name="remote-scheduler")
        return mirror

    async def aclose(self) -> None:
        """Stop following and close the connection (the remote scheduler runs on)."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        link, self._link = self._link, None
        if link is not None:
            with contextlib.suppress(Exception):
                await link.close()
        for task in list(self._calls):
            task.cancel()
        self.connected = False
        # Runs still going on the scheduler: their end will never reach a closed mirror, so
        # whoever awaits one is answered now instead of waiting for ever.
        runs = {id(r): r for r in (*self._leaving.values(), *self._wanted.values(),
                                   *(r for job in self.jobs.values()
                                     for r in job.running.values()))}
        self._leaving.clear()
        self._wanted.clear()
        for run in runs.values():
            run.set_result(RunResult(
                run_id=run.run_id, job=run.job, scheduled_for=run.scheduled_for,
                status=RunStatus.ABANDONED, started_at=run.started_at, manual=run.manual,
                error="the mirror was closed before the run ended (it goes on in the "
                      "scheduler; `crondeck history` has its result)"))

    async def __aenter__(self) -> RemoteScheduler:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def wait_attached(self) -> None:
        """Until the mirror is connected (at once if it is)."""
        await self._attached.wait()

    @property
    def in_flight(self) -> int:
        return sum(len(j.running) for j in self.jobs.values())

    def subscribe(self, max_chunks: int = 10_000, max_events: int = 100_000) -> Subscription:
        """A bounded view of the scheduler's events from now on, as `Scheduler.subscribe`;
        it starts with what each run in flight has printed so far (`OutputChunk`s)."""
        sub = self.bus.subscribe(max_chunks=max_chunks, max_events=max_events)
        for tail in self._tails.values():
            for chunk in tail.chunks:
                sub._push(chunk)
        return sub

    def add_listener(self, fn: Callable[[Event], Any]) -> Callable[[], None]:
        return self.bus.add_listener(fn)

    def _schedule_from(self, key: tuple[Any, ...], rec: Mapping[str, Any],
                       next_fire: datetime | None) -> Any:
        """`schedule_from_json`, parsed once per distinct schedule (an interval is anchored
        on each job's own next fire)."""
        sched = self._schedules.get(key)
        if sched is None:
            if len(self._schedules) >= KEPT:
                self._schedules.clear()
            sched = self._schedules[key] = schedule_from_json(rec)
        if isinstance(sched, Every) and next_fire is not None:
            sched = dataclasses.replace(sched, anchor=next_fire)
        return sched

    def _agent_from(self, data: Mapping[str, Any]) -> RemoteAgent:
        """The RemoteAgent of a snapshot's shared agent part, read once per part."""
        seen = self._read_parts.get(id(data))
        if seen is not None and seen[0] is data:
            return seen[1]  # type: ignore[no-any-return]
        agent = _agent(data)
        self._keep_part(data, agent)
        return agent

    def _keep_part(self, data: Mapping[str, Any], value: Any) -> None:
        if len(self._read_parts) >= KEPT:
            self._read_parts.clear()
        self._read_parts[id(data)] = (data, value)

    def _options_from(self, data: Mapping[str, Any], *, part: bool = False) -> JobOptions:
        """`options_from_json`, made once per distinct set (JobOptions is frozen); `part`:
        `data` is a snapshot's shared part, looked up by itself after its first time."""
        seen = self._read_parts.get(id(data)) if part else None
        if seen is not None and seen[0] is data:
            return seen[1]  # type: ignore[no-any-return]
        values = tuple(data.values())  # the server sends the options in one order
        try:
            key: Any = (tuple(data), values)
            hash(key)
        except TypeError:  # a notify target or gate (a dict, a list) among them
            key = repr(data)
        options = self._options.get(key)
        if options is None:
            if len(self._options) >= KEPT:
                self._options.clear()
            options = self._options[key] = options_from_json(data)
        if part:
            self._keep_part(data, options)
        return options

    # -- following -------------------------------------------------------------------------

    async def _follow(self, link: ControlLink | None) -> None:
        loop = asyncio.get_running_loop()
        delay = self._backoff[0]
        since = loop.time()
        while not self._closing:
            if link is None:
                try:
                    link = await self._connect()
                    self._attach(link, resync=True)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if link is not None:  # it answered, but with a snapshot we cannot apply
                        self._local(SchedulerError, job=None, where="control snapshot",
                                    message=f"{type(exc).__name__}: {_one_line(exc)}")
                        with contextlib.suppress(Exception):
                            await link.close()
                        link = self._link = None
                    self.disconnected_reason = _one_line(exc) or type(exc).__name__
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._backoff[1])
                    continue
                since = loop.time()
            reason = "the scheduler closed the connection"
            try:
                busy = 0.0  # time spent applying lines since the loop was last let go
                async for message in link:
                    began = loop.time()
                    said = self._take(message)
                    if said:
                        reason = said
                    busy += loop.time() - began
                    if busy > SLICE:  # a flood of lines: let the UI draw
                        await asyncio.sleep(0)
                        busy = 0.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = _one_line(exc) or type(exc).__name__
            with contextlib.suppress(Exception):
                await link.close()
            link = self._link = None
            if self._closing:
                return
            # A connection that ends at once (a server that says bye on arrival) is retried
            # with backoff; after one that lasted, the first try is immediate.
            brief = loop.time() - since < STEADY
            if not brief:
                delay = self._backoff[0]
            self._lost(reason, delay if brief else 0.0)
            if brief:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])

    def _attach(self, link: ControlLink, *, resync: bool) -> None:
        self._link = link
        self.hello = dict(link.hello or {})
        self.connected = True
        self.disconnected_reason = ""
        self.attached_at = self.clock.now()
        if link.snapshot is not None:
            self._apply_snapshot(link.snapshot, resync=resync)
        self._attached.set()
        self._local(ControlAttached, pid=int(self.hello.get("pid") or 0),
                    what=str(self.hello.get("kind") or ""),
                    started_at=_when(self.hello.get("started_at")), resync=resync)

    def _lost(self, reason: str, retry_in: float) -> None:
        self.connected = False
        self._attached.clear()
        self.disconnected_reason = reason
        self._local(ControlDisconnected, reason=reason, retry_in=retry_in)

    def _local(self, cls: type[Event], **fields: Any) -> None:
        """A mirror's own event: it carries the seq of the last remote event before it."""
        self.bus.publish(cls(seq=self.seq, at=self.clock.now(), **fields))

    def _take(self, msg: Mapping[str, Any]) -> str:
        """`_on_message`, a line it cannot apply reported as a SchedulerError event rather
        than ending the connection (a reconnect would meet the same line again)."""
        try:
            return self._on_message(msg)
        except Exception as exc:
            self._local(SchedulerError, job=None, where="control stream",
                        message=f"cannot apply a {msg.get('type')!r} message: "
                                f"{type(exc).__name__}: {_one_line(exc)}")
            return ""

    def _on_message(self, msg: Mapping[str, Any]) -> str:
        """Apply one message; returns the reason the server gave when it is leaving."""
        kind = msg.get("type")
        if kind == "event":
            self._apply_event(msg.get("event") or {})
        elif kind == "job":
            rec = msg.get("job")
            if isinstance(rec, dict) and rec.get("name"):
                self._apply_job(rec)
        elif kind == "scheduler":
            rec = msg.get("scheduler")
            if isinstance(rec, dict):
                self._apply_sched(rec)
        elif kind == "snapshot":
            self.attached_at = self.clock.now()
            self._apply_snapshot(msg, resync=True)
            self._local(ControlAttached, pid=int((self.hello or {}).get("pid") or 0),
                        what=str((self.hello or {}).get("kind") or ""),
                        started_at=_when((self.hello or {}).get("started_at")), resync=True)
        elif kind in ("bye", "error"):
            return str(msg.get("reason") or msg.get("error") or kind)
        return ""

    # -- records ---------------------------------------------------------------------------

    def _apply_sched(self, rec: Mapping[str, Any]) -> None:
        self.paused = bool(rec.get("paused", False))
        self.pause_note = str(rec.get("pause_note", ""))
        self.pause_until = _when(rec.get("pause_until"))
        self.running_loop = bool(rec.get("running_loop", False))

    def _apply_job(self, rec: Mapping[str, Any]) -> RemoteJob:
        name = str(rec["name"])
        job = self.jobs.get(name)
        if job is None:
            job = self.jobs[name] = RemoteJob(self, name)
        for run in job.apply(rec):
            # A record is the job's state when the server wrote it: a run can leave
            # `running` a moment before its RunFinished arrives. It settles then.
            final = self._finals.get(run.run_id)
            if final is not None:
                self._ended(run, final)
            else:
                self._leaving[run.run_id] = run
                while len(self._leaving) > RECENT_RESULTS:
                    self._ended(self._leaving.pop(next(iter(self._leaving))))
        return job

    def _ended(self, run: RemoteRun, result: RunResult | None = None) -> None:
        """A run left the job's `running` without the mirror seeing its end (it ended while
        disconnected, or its job went): settle whoever waits for it, with its result if
        known."""
        self._leaving.pop(run.run_id, None)
        final = result or self._finals.get(run.run_id) or RunResult(
            run_id=run.run_id, job=run.job, scheduled_for=run.scheduled_for,
            status=RunStatus.ABANDONED, started_at=run.started_at,
            error="ended while the console was not following the scheduler", manual=run.manual)
        run.set_result(final)
        wanted = self._wanted.pop(run.run_id, None)
        if wanted is not None:
            wanted.set_result(final)
        self._tails.pop(run.run_id, None)

    def _apply_snapshot(self, snap: Mapping[str, Any], *, resync: bool = False) -> None:
        """Replace the picture with a fresh snapshot; jobs that came or went are announced,
        and on a resync the jobs that changed meanwhile."""
        with collector_paused():  # thousands of jobs' objects, no cycles among them
            self._apply_snapshot_now(snap, resync)

    def _apply_snapshot_now(self, snap: Mapping[str, Any], resync: bool = False) -> None:
        seq = int(snap.get("seq", self.seq) or 0)
        sched = snap.get("scheduler")
        if isinstance(sched, dict):
            self._apply_sched(sched)
        records = [r for r in snap.get("jobs") or [] if isinstance(r, dict) and r.get("name")]
        names = {str(r["name"]) for r in records}
        gone = [name for name in self.jobs if name not in names]
        self.seq = seq  # a restarted scheduler counts from 0 again
        for name in gone:
            job = self.jobs.pop(name)
            for run in job.running.values():
                self._ended(run)
            self.bus.publish(JobRemoved(seq=seq, at=self.clock.now(), job=name))
        jobs = self.jobs
        shared = snap.get("shared")
        # A big snapshot's jobs (LARGE_SCHEDULE or more) are read when first needed: on the
        # first attach while nobody watches (nobody to tell of them yet), and on a resync,
        # which announces only the jobs that came, went or changed (from the records,
        # without reading them in full).
        later = len(records) >= LARGE_SCHEDULE and (resync or not self.bus.active)
        tell = self.bus.active
        moved: dict[int, list[tuple[str, list[int]]]] = {}  # see `_changed`
        for rec in records:
            known = jobs.get(rec["name"])
            if later and not rec.get("running") and (known is None or not known.running):
                name = str(rec["name"])
                if known is None:
                    jobs[name] = RemoteJob._later(self, name, rec, shared)
                    if tell:
                        self.bus.publish(_added(seq, self.clock.now(), name,
                                                resolve_shared(rec, shared)))
                elif self._changed(known, rec, shared, moved):
                    known._defer(rec, shared)
                    self.bus.publish(JobChanged(seq=seq, at=self.clock.now(), job=name,
                                                what="resync"))
                continue
            new = known is None
            job = known if known is not None else RemoteJob(self, str(rec["name"]))
            jobs[job.name] = job
            for run in job.apply(rec, shared):
                # Ended while disconnected: its end is published, so views close it.
                result = next((r for r in reversed(job.results) if r.run_id == run.run_id),
                              None)
                self._ended(run, result)
                if result is not None:
                    self.bus.publish(RunFinished(seq=seq, at=self.clock.now(), job=job.name,
                                                 run_id=run.run_id, result=result))
            if new:
                described = job._schedule_key[2] if job._schedule_key else None
                self.bus.publish(JobAdded(seq=seq, at=self.clock.now(), job=job.name,
                                          schedule=str(getattr(job.schedule, "text", "")),
                                          description=str(described or "")
                                          or job.schedule.describe(),
                                          agent=job.agent.name))
            else:
                self.bus.publish(JobChanged(seq=seq, at=self.clock.now(), job=job.name,
                                            what="resync"))
        # Runs whose end fell in a gap of the stream: settled from the history, if there.
        running = {run_id for job in self.jobs.values() for run_id in job.running}
        unsettled = [*self._leaving.values(),
                     *(h for run_id, h in self._wanted.items() if run_id not in running)]
        for run in unsettled:
            known = self.jobs.get(run.job)
            self._ended(run, next((r for r in reversed(known.results)
                                   if r.run_id == run.run_id), None) if known else None)
        for run_id in [r for r in self._tails if r not in running]:
            del self._tails[run_id]
        self._apply_output(snap.get("output") or [], seq)
        self._apply_file_word(snap)

    def _apply_file_word(self, snap: Mapping[str, Any]) -> None:
        """The snapshot's word on the jobs file; a change from what the mirror knew is told
        as the event that would have said it (a refusal, or the file running again). An
        older server's snapshot does not say: what its events said stands."""
        if "file_refused" not in snap:
            return
        before, self.file_refused = self.file_refused, file_refused_from_json(snap)
        now = self.file_refused
        if now is not None and (before is None or before[1] != now[1]):
            self._local(ConfigRejected, path=now[0], problems=now[1])
        elif now is None and before is not None:
            self._local(ConfigReloaded, path=before[0], added=(), removed=(), changed=())

    @staticmethod
    def _changed(job: RemoteJob, rec: Mapping[str, Any], shared: Any,
                 moved: dict[int, list[tuple[str, list[int]]]]) -> bool:
        """Does the snapshot's `rec` say anything about `job` the mirror does not show? A
        job not read yet compares its two records as sent, the earlier one's part numbers
        turned into the new snapshot's (`moved`: per earlier `shared`, the kinds whose
        numbers differ, old number -> new, -1 for a part no longer sent); one read
        compares what it shows."""
        old = job._rec
        if old is None:
            return not job._shows(rec, shared)
        before = job._shared
        if before is shared:
            return old != rec
        if not isinstance(before, dict) or not isinstance(shared, dict):
            return resolve_shared(old, before) != resolve_shared(rec, shared)
        renumber = moved.get(id(before))
        if renumber is None:
            renumber = moved[id(before)] = _renumbering(before, shared)
        if not renumber:
            return old != rec
        turned = dict(old)
        for kind, numbers in renumber:
            ref = turned.get(kind)
            if type(ref) is int:
                turned[kind] = numbers[ref] if 0 <= ref < len(numbers) else -1
        return turned != rec

    def _apply_output(self, items: Iterable[Any], seq: int) -> None:
        """The snapshot's tail of each run in flight: what the mirror has not seen yet is
        published (after a reconnect, what follows the last text it had)."""
        by_run: dict[str, list[Mapping[str, Any]]] = {}
        for item in items:
            if isinstance(item, dict) and item.get("run_id") and item.get("text"):
                by_run.setdefault(str(item["run_id"]), []).append(item)
        now = self.clock.now()
        for run_id, parts in by_run.items():
            known = self._tails.get(run_id)
            skip = _overlap(known.text(), "".join(str(p["text"]) for p in parts)) if known else 0
            for part in parts:
                text = str(part["text"])
                if skip >= len(text):
                    skip -= len(text)
                    continue
                text, skip = text[skip:], 0
                stream: Literal["stdout", "stderr"] = (
                    "stderr" if part.get("stream") == "stderr" else "stdout")
                self._chunk(OutputChunk(seq=seq, at=now, job=str(part.get("job", "")),
                                        run_id=run_id, stream=stream, text=text))

    def _chunk(self, chunk: OutputChunk) -> None:
        tail = self._tails.get(chunk.run_id)
        if tail is None:
            tail = self._tails[chunk.run_id] = _Tail()
        tail.add(chunk)
        self.bus.publish(chunk)

    def _final(self, job: RemoteJob, result: RunResult) -> None:
        """A run's final result: settle its handles, free its slot in `running`."""
        self._finals[result.run_id] = result
        while len(self._finals) > RECENT_RESULTS:
            self._finals.popitem(last=False)
        run = job.running.pop(result.run_id, None) or self._leaving.pop(result.run_id, None)
        if run is not None:
            run.set_result(result)
        wanted = self._wanted.pop(result.run_id, None)
        if wanted is not None:
            wanted.set_result(result)
        self._tails.pop(result.run_id, None)

    def _apply_event(self, data: Mapping[str, Any]) -> None:
        if data.get("event") == "output_chunk":  # the flood: read without the generic reader
            chunk = _chunk_from_json(data)
            if chunk is not None:
                self.seq = max(self.seq, chunk.seq)
                self._chunk(chunk)
                return
        try:
            event = event_from_json(dict(data))
        except ValueError:  # a kind a newer scheduler sends: skip it, keep following
            return
        self.seq = max(self.seq, event.seq)
        if isinstance(event, OutputChunk):
            self._chunk(event)
            return
        job = self.jobs.get(getattr(event, "job", None) or "")
        if isinstance(event, SchedulerPaused):  # its SCHED record follows the event
            self.paused, self.pause_note, self.pause_until = True, event.note, event.until
        elif isinstance(event, SchedulerResumed):
            self.paused, self.pause_note, self.pause_until = False, "", None
        elif isinstance(event, SchedulerStarted | SchedulerStopped):
            self.running_loop = isinstance(event, SchedulerStarted)
        elif isinstance(event, ConfigRejected):
            since = self.file_refused[2] if self.file_refused is not None else event.at
            self.file_refused = (event.path, tuple(event.problems), since)
        elif isinstance(event, ConfigReloaded):
            self.file_refused = None
        elif isinstance(event, JobRemoved):
            gone = self.jobs.pop(event.job, None)
            if gone is not None:
                for run in gone.running.values():
                    self._ended(run)
        elif job is not None:
            if isinstance(event, RunFinished):
                if not event.will_retry:
                    job.add_result(event.result)
                    self._final(job, event.result)
            elif isinstance(event, RunSkipped | RunMissed | ExecResultRecorded):
                job.add_result(event.result)
                if (event.run_id in job.running or event.run_id in self._wanted
                        or event.run_id in self._leaving):
                    self._final(job, event.result)
        self.bus.publish(event)

    # -- commands -------------------------------------------------------------------------

    def _send(self, op: str, job: str | None = None, **args: Any) -> RemoteCall:
        call = RemoteCall(op, job)
        if job is not None:
            args["job"] = job
        link = self._link
        if link is None or not self.connected:
            self._refused(call, "disconnected", "not connected to the scheduler"
                          + (f" ({self.disconnected_reason})" if self.disconnected_reason
                             else ""))
            return call

        async def send() -> None:
            try:
                reply = await link.call(op, **args)
            except asyncio.CancelledError:
                self._refused(call, "disconnected", "the console closed before the answer")
                raise
            except Exception as exc:
                code = getattr(exc, "code", "") or "disconnected"
                self._refused(call, str(code), _one_line(exc) or type(exc).__name__)
            else:
                call._answer(reply if isinstance(reply, dict) else {})

        task = asyncio.get_running_loop().create_task(send(), name=f"control:{op}")
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        return call

    def _refused(self, call: RemoteCall, code: str, error: str) -> None:
        call._answer(None, code, error)
        self._local(ControlRefused, op=call.op, job=call.job, code=code, error=error)

    @staticmethod
    def _name(job: str | RemoteJob | Any) -> str:
        return job if isinstance(job, str) else str(job.name)

    def pause_job(self, job: str | RemoteJob, note: str = "",
                  until: datetime | None = None) -> RemoteCall:
        return self._send("pause", self._name(job), note=note,
                          until=utc(until).isoformat() if until is not None else None)

    def resume_job(self, job: str | RemoteJob) -> RemoteCall:
        return self._send("resume", self._name(job))

    def skip_next(self, job: str | RemoteJob, skip: bool = True) -> RemoteCall:
        return self._send("skip_next", self._name(job), skip=skip)

    def pause_all(self, note: str = "", until: datetime | None = None) -> RemoteCall:
        return self._send("pause_all", note=note,
                          until=utc(until).isoformat() if until is not None else None)

    def resume_all(self) -> RemoteCall:
        return self._send("resume_all")

    def enable(self, job: str | RemoteJob) -> RemoteCall:
        return self._send("enable", self._name(job))

    def disable(self, job: str | RemoteJob) -> RemoteCall:
        return self._send("disable", self._name(job))

    def reload(self) -> RemoteCall:
        """Ask the scheduler to re-read its jobs file; the call settles with `{"applied",
        "added", "removed", "changed", "problems"}`."""
        return self._send("reload")

    def history(self, job: str | RemoteJob) -> RemoteCall:
        """Ask for a job's full history (a snapshot carries only the newest results): once
        answered, the job's `results` are the scheduler's and a `JobChanged(what="history")`
        is published. The call settles with `{"job", "results"}`."""
        name = self._name(job)
        call = self._send("history", name)

        def answered(c: RemoteCall) -> None:
            known = self.jobs.get(name)
            items = (c.reply or {}).get("results")
            if not c.ok or known is None or not isinstance(items, list):
                return
            fetched = [RunResult.from_dict(r) for r in items if isinstance(r, dict)]
            # results the stream brought after the server answered are kept after them
            edge = max((f.finished_at or f.scheduled_for for f in fetched), default=None)
            later = [r for r in known.results if r not in fetched
                     and (edge is None or (r.finished_at or r.scheduled_for) > edge)]
            known.results = deque([*fetched, *later], maxlen=max(1, known.options.history))
            self._local(JobChanged, job=name, what="history")

        call.add_done_callback(answered)
        return call

    def cancel(self, job: str | RemoteJob, reason: str = "cancelled by operator") -> int:
        """Send the cancel; returns how many runs of the job the mirror sees in flight (the
        scheduler's own count comes back on `last_call`)."""
        name = self._name(job)
        self.last_call = self._send("cancel", name, reason=reason)
        known = self.jobs.get(name)
        return len(known.running) if known is not None else 0

    def run_now(self, job: str | RemoteJob) -> RemoteRun:
        """Ask for a run now. The handle is pending until the scheduler answers: then it has
        its `run_id`, and settles with the run's final result (a skip when the overlap policy
        refused, with its reason; a cancelled-looking skip when the command was refused)."""
        name = self._name(job)
        now = self.clock.now()
        handle = RemoteRun(name, "", now, manual=True)
        call = handle.call = self._send("run_now", name)

        def answered(c: RemoteCall) -> None:
            reply = c.reply or {}
            handle.run_id = str(reply.get("run_id") or "")
            if not c.ok or reply.get("skipped"):
                why = c.error if not c.ok else str(reply.get("reason") or "")
                handle.set_result(RunResult(
                    run_id=handle.run_id or f"{name}@refused", job=name, scheduled_for=now,
                    status=RunStatus.SKIPPED, finished_at=self.clock.now(), error=why,
                    skip_reason=SkipReason.OVERLAP if c.ok else SkipReason.OPERATOR,
                    manual=True))
                return
            final = self._finals.get(handle.run_id)
            if final is not None:
                handle.set_result(final)
            else:
                self._wanted[handle.run_id] = handle

        call.add_done_callback(answered)
        return handle


def _chunk_from_json(data: Mapping[str, Any]) -> OutputChunk | None:
    """An `output_chunk` line's event, as `event_from_json` reads it (None when a field does
    not fit: the generic reader then says why)."""
    try:
        at = datetime.fromisoformat(data["at"])
        stream = data["stream"]
        text, job, run_id, seq = data["text"], data["job"], data["run_id"], data["seq"]
    except (KeyError, TypeError, ValueError):
        return None
    if (at.tzinfo is None or stream not in ("stdout", "stderr") or type(seq) is not int
            or not isinstance(text, str) or not isinstance(job, str)
            or not isinstance(run_id, str)):
        return None
    return OutputChunk(seq=seq, at=utc(at), job=job, run_id=run_id, stream=stream, text=text)


def _overlap(known: str, tail: str) -> int:
    """How much of `tail` (the end of a run's output, from the server) the mirror already
    has: all of `known` inside it, else the longest start of `tail` that `known` ends with.
    0 when they do not meet: then the whole tail is new."""
    if not known or not tail:
        return 0
    at = tail.rfind(known)
    if at >= 0:
        return at + len(known)
    prefix = tail[:8]
    pos = known.find(prefix)
    for _ in range(256):  # each candidate is checked in full; repetitive output has many
        if pos < 0:
            break
        if tail.startswith(known[pos:]):
            return len(known) - pos
        pos = known.find(prefix, pos + 1)
    return 0


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _socket_connect(path: Path, client: str) -> Connect:
    async def connect() -> ControlLink:
        link: ControlLink = await ControlClient.connect(path, subscribe=True, client=client,
                                                        shared=True)
        return link

    return connect
