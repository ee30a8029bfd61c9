"""The one ordered event stream through which observers (TUI, headless log, user code) learn
everything the scheduler does.

Events are frozen dataclasses with a global, strictly increasing `seq` and an aware UTC `at`.
Observers get bounded queues: a slow observer loses intermediate output chunks (and is told
how many with an `ObserverDropped` notice in their place), never blocks the scheduler, and
keeps every other event unless it falls absurdly far behind.
"""

from __future__ import annotations

import asyncio
import reprlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, fields
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, dataclass_transform

from .lazyclass import compile_init
from .results import GateResult, RunResult, RunStatus, SkipReason

__all__ = [
    "ClockJumped",
    "ConfigRejected",
    "ConfigReloaded",
    "ControlAttached",
    "ControlDisconnected",
    "ControlRefused",
    "Event",
    "EventBus",
    "ExecResultRecorded",
    "GateDecided",
    "GateStarted",
    "JobAdded",
    "JobChanged",
    "JobExhausted",
    "JobPaused",
    "JobRemoved",
    "JobResumed",
    "LockLost",
    "NextFireComputed",
    "NotificationFailed",
    "NotificationSent",
    "ObserverDropped",
    "OutputChunk",
    "RunFinished",
    "RunMissed",
    "RunQueued",
    "RunSkipped",
    "RunStarted",
    "SchedulerError",
    "SchedulerPaused",
    "SchedulerResumed",
    "SchedulerStarted",
    "SchedulerStopped",
    "Subscription",
]

Stream = Literal["stdout", "stderr"]

# Per event class: the names its __repr__ shows and the names its __eq__ and __hash__ read.
_NAMES: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _names(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    names = _NAMES.get(cls)
    if names is None:
        every = fields(cls)
        names = _NAMES[cls] = (tuple(f.name for f in every if f.repr),
                               tuple(f.name for f in every if f.compare))
    return names


_E = TypeVar("_E", bound=type)


@dataclass_transform(kw_only_default=True, frozen_default=True)
def _event(cls: _E) -> _E:
    """An event class: a dataclass (fields, slots, keyword-only) whose generated code is
    all shared or deferred. Event's __repr__, __eq__ and __hash__ read the fields and behave
    as the generated ones would; Event's frozen guards stand in for the generated ones; and
    each class's __init__ is compiled when it is first instantiated (`_init_of`). Generating
    code per class is most of what importing this module costs, and a short process such
    as `crondeck exec` builds only a few kinds of event."""
    doc = cls.__doc__
    cls.__doc__ = "-"  # spares dataclass working out a signature for a text made below
    made: _E = dataclass(slots=True, kw_only=True, repr=False, eq=False, init=False)(cls)  # type: ignore[assignment]
    if doc:
        made.__doc__ = doc
    else:  # what dataclass writes: the class name and its __init__'s signature
        shown = ", ".join(f"{f.name}: {f.type!r}" if f.default is MISSING
                          else f"{f.name}: {f.type!r} = {f.default!r}" for f in fields(made))
        made.__doc__ = f"{made.__name__}(*, {shown})"
    return made


_INITS: dict[type, Callable[..., None]] = {}


def _init_of(cls: type) -> Callable[..., None]:
    """The __init__ dataclass would generate for `cls` (keyword-only, every field set through
    object.__setattr__ as in a frozen dataclass), compiled once and installed on the class."""
    init = _INITS.get(cls)
    if init is None:
        init = _INITS[cls] = compile_init(cls, slots=True, frozen=True)
        if cls is not Event:  # Event's own stays the one that compiles each subclass's
            cls.__init__ = init  # type: ignore[misc]
    return init


@_event
class Event:
    """Base of every event: `seq` orders the stream, `at` is when it happened (aware UTC)."""

    if TYPE_CHECKING:  # not a pseudo-field to dataclass: every field is an __init__ one
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    seq: int
    at: datetime

    if not TYPE_CHECKING:  # the type checker sees the __init__ of the fields
        def __init__(self, *args: Any, **values: Any) -> None:
            _init_of(type(self))(self, *args, **values)

    # Events are frozen: what a frozen dataclass's generated guards and pickling do.
    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self) -> list[Any]:
        return [getattr(self, f.name) for f in fields(self)]

    def __setstate__(self, state: list[Any]) -> None:
        for f, value in zip(fields(self), state, strict=False):
            object.__setattr__(self, f.name, value)

    @property
    def kind(self) -> str:
        """Stable snake_case name for logs (`RunFinished` -> "run_finished")."""
        return _kind(type(self))

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in _names(type(self))[0])
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        compared = _names(type(self))[1]
        return (tuple(getattr(self, n) for n in compared)
                == tuple(getattr(other, n) for n in compared))

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in _names(type(self))[1]))


# --- jobs -----------------------------------------------------------------------------------


@_event
class JobAdded(Event):
    job: str
    schedule: str
    description: str
    agent: str


@_event
class JobChanged(Event):
    """A job's definition or runtime state changed (`what` names it, e.g. "skip_next")."""

    job: str
    what: str


@_event
class JobRemoved(Event):
    job: str


@_event
class JobExhausted(Event):
    """The job will fire no more: max_runs reached, past `until`, or no future slot."""

    job: str
    reason: str


@_event
class NextFireComputed(Event):
    job: str
    next_fire: datetime | None


@_event
class JobPaused(Event):
    job: str
    note: str
    until: datetime | None


@_event
class JobResumed(Event):
    job: str


# --- runs -----------------------------------------------------------------------------------


@_event
class GateStarted(Event):
    job: str
    run_id: str
    scheduled_for: datetime


@_event
class GateDecided(Event):
    job: str
    run_id: str
    gate: GateResult


@_event
class RunQueued(Event):
    """A slot is waiting: for the running one to end (queue_one) or for a concurrency slot."""

    job: str
    run_id: str
    scheduled_for: datetime
    why: str


@_event
class RunStarted(Event):
    job: str
    run_id: str
    scheduled_for: datetime
    attempt: int
    manual: bool = False


@_event
class OutputChunk(Event):
    """A piece of live output, already redacted: from a command, every complete line one
    read of its pipe delivered (newlines included; a line without one only after a pause);
    from a Python agent, what it yielded."""

    job: str
    run_id: str
    stream: Stream
    text: str


@_event
class RunFinished(Event):
    """An attempt ended (ok, failed, timed_out, cancelled); `will_retry` if another follows."""

    job: str
    run_id: str
    result: RunResult
    will_retry: bool = False


@_event
class RunSkipped(Event):
    job: str
    run_id: str
    reason: SkipReason
    result: RunResult


@_event
class RunMissed(Event):
    job: str
    run_id: str
    result: RunResult


@_event
class NotificationSent(Event):
    """A notification about a run was delivered. `notify_event` is what it announced (failure,
    recovered...); not `event`, which names the event's own kind in JSON."""

    job: str
    run_id: str
    notify_event: str
    target: str
    attempts: int


@_event
class NotificationFailed(Event):
    """A notification could not be delivered after its retries; the run is unaffected."""

    job: str
    run_id: str
    notify_event: str
    target: str
    attempts: int
    error: str


# --- scheduler ------------------------------------------------------------------------------


@_event
class SchedulerStarted(Event):
    jobs: int


@_event
class SchedulerStopped(Event):
    reason: str


@_event
class SchedulerPaused(Event):
    """Everything is paused (operator's pause-all); slots are recorded as skipped."""

    note: str
    until: datetime | None


@_event
class SchedulerResumed(Event):
    pass


@_event
class ClockJumped(Event):
    """Wall time moved differently from what the loop slept (suspend, NTP step, manual set)."""

    expected: datetime
    actual: datetime

    @property
    def seconds(self) -> float:
        return (self.actual - self.expected).total_seconds()


@_event
class SchedulerError(Event):
    """Something user-supplied raised (callback, observer, state sink); the loop carried on."""

    job: str | None
    where: str
    message: str


@_event
class LockLost(Event):
    """The state directory's lock file was deleted or replaced: another scheduler may run
    these jobs now, so this one stops firing and stops saving state."""

    path: str
    reason: str


@_event
class ObserverDropped(Event):
    """Delivered to one observer in place of `dropped` lines of output it was too slow for
    (and `dropped_events` other events if it fell even further behind)."""

    dropped: int
    dropped_events: int = 0


# --- the world outside: the jobs file, `crondeck exec` results ---------------------------


@_event
class ConfigReloaded(Event):
    """The jobs file changed on disk and the scheduler now runs it (`changed` includes jobs
    only switched on or off). All three lists are empty if no job was affected."""

    path: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]


@_event
class ConfigRejected(Event):
    """The jobs file changed on disk but cannot be used; the running schedule is kept."""

    path: str
    problems: tuple[str, ...]


@_event
class ExecResultRecorded(Event):
    """A result `crondeck exec` left in the inbox joined the job's history."""

    job: str
    run_id: str
    status: RunStatus
    result: RunResult


# --- a console attached to a scheduler in another process (core/remote.py) -----------------
# Published by a RemoteScheduler on its own stream, never by a scheduler.


@_event
class ControlAttached(Event):
    """The mirror (re)attached: its jobs are now the scheduler's snapshot. `resync` after a
    reconnect, when what happened meanwhile is only in the jobs' state and results.
    `pid`, `what` ("crondeck run", "crondeck console", "embedded") and `started_at` are the
    scheduler process's, from its hello."""

    pid: int
    what: str
    started_at: datetime | None
    resync: bool = False


@_event
class ControlDisconnected(Event):
    """The connection to the scheduler is gone; the mirror keeps its last picture and tries
    again in `retry_in` seconds."""

    reason: str
    retry_in: float


@_event
class ControlRefused(Event):
    """An operator command sent to the scheduler was refused or could not be delivered
    (`code`: the protocol's error code, or "disconnected")."""

    op: str
    job: str | None
    code: str
    error: str


def _kind(cls: type) -> str:
    name = cls.__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


# --- delivery -------------------------------------------------------------------------------


def _line_count(text: str) -> int:
    """The lines a chunk of output shows (a last line without its newline counts)."""
    return text.count("\n") + (not text.endswith("\n"))


class Subscription:
    """A bounded, async-iterable view of the event stream for one observer.

    Output is limited to `max_chunks` lines pending (a chunk holds every line one read
    delivered; one larger than the limit still passes when nothing else is pending); beyond
    that chunks are dropped whole and an `ObserverDropped` notice counting their lines
    takes their place. Other events are limited to the much larger
    `max_events` (beyond which the oldest pending chunk, then the oldest event, is dropped),
    so a stalled observer costs bounded memory.
    """

    def __init__(self, bus: EventBus, max_chunks: int, max_events: int) -> None:
        self._bus = bus
        self._items: deque[Event] = deque()
        self._chunks = 0  # lines of output pending
        self._chunk_items = 0  # the chunks holding them
        self._no_chunk = 0  # the first this many pending events are no chunk
        self._max_chunks = max(1, max_chunks)
        self._max_events = max(1, max_events)
        self._dropped_chunks = 0
        self._dropped_events = 0
        self._last_dropped_seq = 0
        self._last_dropped_at: datetime | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.total_dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def _push(self, event: Event) -> None:
        """Called by the bus on the loop thread; O(1), never blocks."""
        if self.closed:
            return
        lines = 0
        if isinstance(event, OutputChunk):
            lines = _line_count(event.text)
            if self._chunks and self._chunks + lines > self._max_chunks:
                self._note_drop(event, lines)
                return
        elif len(self._items) - self._chunk_items >= self._max_events:
            self._evict()
        self._flush_drop_notice()
        self._items.append(event)
        if lines:
            self._chunks += lines
            self._chunk_items += 1
        self._wake()

    def _note_drop(self, event: Event, lines: int) -> None:
        """`lines` lines of output dropped (0: one other event)."""
        if lines:
            self._dropped_chunks += lines
        else:
            self._dropped_events += 1
        self.total_dropped += lines or 1
        self._last_dropped_seq = event.seq
        self._last_dropped_at = event.at

    def _evict(self) -> None:
        """Make room for a non-chunk event: drop the oldest pending chunk, else oldest event."""
        # The walk starts past the events known to hold no chunk: a full queue of thousands
        # of events is not walked again for each one that arrives.
        start = self._no_chunk
        for i, item in enumerate(islice(self._items, start, None) if self._chunk_items else (),
                                 start):
            if isinstance(item, OutputChunk):
                del self._items[i]
                self._no_chunk = i
                lines = _line_count(item.text)
                self._chunks -= lines
                self._chunk_items -= 1
                self._dropped_chunks += lines
                self.total_dropped += lines
                return
        # No chunks pending: drop the oldest event, folding the count into one notice at the
        # front (where the gap is), so repeated evictions do not pile up notices.
        chunks = events = 0
        first = self._items[0] if self._items else None
        if isinstance(first, ObserverDropped):
            self._items.popleft()
            chunks, events = first.dropped, first.dropped_events
        old = self._items.popleft()
        if isinstance(old, ObserverDropped):
            chunks += old.dropped
            events += old.dropped_events
        else:
            events += 1
            self.total_dropped += 1
        self._items.appendleft(
            ObserverDropped(seq=old.seq, at=old.at, dropped=chunks, dropped_events=events)
        )
        self._no_chunk = len(self._items)

    def _flush_drop_notice(self) -> None:
        if not (self._dropped_chunks or self._dropped_events):
            return
        notice = ObserverDropped(
            seq=self._last_dropped_seq,
            at=self._last_dropped_at or self._bus.now(),
            dropped=self._dropped_chunks,
            dropped_events=self._dropped_events,
        )
        self._dropped_chunks = 0
        self._dropped_events = 0
        self._items.append(notice)

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def get_nowait(self) -> Event:
        """The next event; raises asyncio.QueueEmpty if none is pending."""
        if not self._items:
            self._flush_drop_notice()
        if not self._items:
            raise asyncio.QueueEmpty
        event = self._items.popleft()
        self._no_chunk = max(0, self._no_chunk - 1)
        if isinstance(event, OutputChunk):
            self._chunks -= _line_count(event.text)
            self._chunk_items -= 1
        return event

    def drain(self) -> list[Event]:
        """Everything pending, in order (for UIs that batch once per frame)."""
        out: list[Event] = []
        while True:
            try:
                out.append(self.get_nowait())
            except asyncio.QueueEmpty:
                return out

    async def get(self) -> Event:
        """Wait for the next event; raises EOFError once closed and drained."""
        while True:
            try:
                return self.get_nowait()
            except asyncio.QueueEmpty:
                if self.closed:
                    raise EOFError("subscription closed") from None
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        while True:
            try:
                yield await self.get()
            except EOFError:
                return

    def close(self) -> None:
        """Stop receiving; pending events can still be read, then iteration ends."""
        if not self.closed:
            self.closed = True
            self._bus._unsubscribe(self)
            self._wake()


class EventBus:
    """Numbers events and fans them out to subscriptions and synchronous listeners.

    Emitting is cheap and never awaits; with nobody listening it does almost nothing, so
    firing 1,000 jobs at once is not slowed down by event bookkeeping.
    """

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self._seq = 0
        self._subs: list[Subscription] = []
        self._listeners: list[Callable[[Event], Any]] = []
        self.on_listener_error: Callable[[Callable[[Event], Any], BaseException], None] | None = (
            None
        )

    @property
    def active(self) -> bool:
        return bool(self._subs or self._listeners)

    @property
    def last_seq(self) -> int:
        return self._seq

    def emit(self, cls: type[Event], **fields: Any) -> Event | None:
        """Build and deliver an event; returns it (or None when nobody listens)."""
        if not (self._subs or self._listeners):
            return None
        self._seq += 1
        event = cls(seq=self._seq, at=self.now(), **fields)
        self.publish(event)
        return event

    def publish(self, event: Event) -> None:
        """Deliver a ready-made event as it is: one relayed from a scheduler in another
        process keeps that scheduler's `seq` (the bus's own numbering follows it)."""
        self._seq = max(self._seq, event.seq)
        for sub in self._subs:
            sub._push(event)
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception as exc:  # a listener must never break the scheduler
                if self.on_listener_error is not None and not isinstance(
                    event, SchedulerError
                ):
                    self.on_listener_error(listener, exc)

    def subscribe(self, max_chunks: int = 10_000, max_events: int = 100_000) -> Subscription:
        sub = Subscription(self, max_chunks, max_events)
        self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        try:
            self._subs.remove(sub)
        except ValueError:
            pass

    def add_listener(self, fn: Callable[[Event], Any]) -> Callable[[], None]:
        """A synchronous callback for every event (must be quick); returns an unsubscriber."""
        self._listeners.append(fn)

        def remove() -> None:
            try:
                self._listeners.remove(fn)
            except ValueError:
                pass

        return remove


# Frozen they are (Event's guards): what dataclasses report of them, and what a subclass made
# elsewhere must be. Marked once all are made: dataclass refuses a subclass of a frozen base
# that is not frozen itself.
for _name in __all__:
    _cls = globals()[_name]
    if isinstance(_cls, type) and issubclass(_cls, Event):
        _cls.__dataclass_params__.frozen = True  # type: ignore[attr-defined]
del _name, _cls
