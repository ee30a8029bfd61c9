"""Time as the scheduler sees it: `now()` (aware UTC) and `sleep()`, behind one protocol.

The scheduler, run timeouts, gate timeouts and retry backoff all go through the clock, so a
`FakeClock` makes every policy (outages, DST days, overlaps, timeouts) testable in
milliseconds, while `SystemClock` is the real thing.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

# asyncio is imported where a loop is used: `utc` and the config loader need none.
if TYPE_CHECKING:
    import asyncio

__all__ = ["CLOCK_JUMP", "Clock", "FakeClock", "SystemClock", "in_thread", "utc"]

# Seconds of disagreement between wall time and time slept that count as the clock being set
# (a step), not slewed.
CLOCK_JUMP = 2.0

# Sync code the loop awaits in a worker thread (a job's function, a gate), by when it began
# (monotonic). A FakeClock lets it finish before moving on, as real time would barely move,
# for up to THREAD_SETTLE seconds of real time: longer is work that takes time.
_in_threads: dict[object, float] = {}
THREAD_SETTLE = 0.5


@contextlib.contextmanager
def in_thread() -> Iterator[None]:
    """Around awaiting sync code run in a thread (see `FakeClock.settle`)."""
    key = object()
    _in_threads[key] = time.monotonic()
    try:
        yield
    finally:
        del _in_threads[key]


def utc(dt: datetime) -> datetime:
    """`dt` as aware UTC; a naive datetime is rejected because its meaning is a guess."""
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"naive datetime {dt!r}: pass a timezone-aware datetime")
    return dt.astimezone(UTC)


@runtime_checkable
class Clock(Protocol):
    """Wall time plus a way to wait. `now()` must be aware UTC."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's wall clock and asyncio's sleep."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, seconds: float, fn: Callable[[], None]) -> asyncio.TimerHandle:
        """Run `fn` after `seconds` (a timer, not a task: cheap enough for every run)."""
        import asyncio

        return asyncio.get_running_loop().call_later(max(0.0, seconds), fn)

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that only moves when told to. Sleepers wake when `advance()`/`set()` passes
    their deadline; `run_for()` steps from deadline to deadline, letting the event loop
    settle in between, like time passing with nothing else going on."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = utc(start) if start is not None else datetime(2025, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        import asyncio

        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._sleepers, (self._now + timedelta(seconds=seconds), next(self._counter), fut)
        )
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()  # leaves a dead entry, skipped by _wake/_next_deadline

    def call_later(self, seconds: float, fn: Callable[[], None]) -> asyncio.Future[None]:
        """Run `fn` once fake time has advanced by `seconds`; cancel() the result to drop it."""
        import asyncio

        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._sleepers, (self._now + timedelta(seconds=max(0.0, seconds)),
                             next(self._counter), fut)
        )
        fut.add_done_callback(lambda f: None if f.cancelled() else fn())
        if seconds <= 0:
            self._wake()
        return fut

    @property
    def sleepers(self) -> int:
        """How many live sleepers are waiting (handy in tests)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> datetime | None:
        """The earliest live sleeper's wake time."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    def set(self, when: datetime) -> None:
        """Jump to `when` (may go backwards, like a wall clock being set); wakes due sleepers."""
        self._now = utc(when)
        self._wake()

    def step(self, seconds: float) -> None:
        """Step the wall clock by `seconds` (either way) while timers keep their elapsed time:
        how the system clock behaves when it is set, asyncio's timers being monotonic."""
        delta = timedelta(seconds=seconds)
        self._now += delta
        self._sleepers = [(at + delta, n, fut) for at, n, fut in self._sleepers]
        heapq.heapify(self._sleepers)

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        """Move forward by `seconds` (plus timedelta keywords) and wake due sleepers."""
        self._now += timedelta(seconds=seconds, **delta)
        self._wake()

    def _wake(self) -> None:
        while self._sleepers and (
            self._sleepers[0][0] <= self._now or self._sleepers[0][2].done()
        ):
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def settle(self, rounds: int = 30) -> None:
        """Let ready tasks run until things quiet down: stop early once the loop has nothing
        ready (peeking at asyncio's ready queue when available), else after `rounds` turns.
        Sync code run in a thread (`in_thread`) that began less than THREAD_SETTLE seconds
        ago is waited for: a sync job function finishes within the instant it started in."""
        import asyncio

        await self._settle(rounds)
        while _in_threads:
            young = time.monotonic() - THREAD_SETTLE
            if all(began < young for began in _in_threads.values()):
                return
            await asyncio.sleep(0.001)  # real time: the thread is working
            await self._settle(rounds)

    async def _settle(self, rounds: int) -> None:
        import asyncio

        ready = getattr(asyncio.get_running_loop(), "_ready", None)
        idle = 0
        for _ in range(rounds):
            await asyncio.sleep(0)
            if ready is not None:
                idle = idle + 1 if not ready else 0
                if idle >= 2:
                    return

    async def run_for(self, seconds: float, settle_rounds: int = 30) -> None:
        """Let `seconds` of fake time pass: jump to each sleeper deadline in turn (waking it
        and settling the loop) until the target time, then settle once more."""
        target = self._now + timedelta(seconds=seconds)
        await self.settle(settle_rounds)
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > target:
                break
            self.set(max(deadline, self._now))
            await self.settle(settle_rounds)
        self.set(target)
        await self.settle(settle_rounds)

    async def run_until(self, when: datetime, settle_rounds: int = 30) -> None:
        await self.run_for((utc(when) - self._now).total_seconds(), settle_rounds)

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"
