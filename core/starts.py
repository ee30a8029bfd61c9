"""The start line: runs prepared a little ahead of their slot wait here for its instant.

Dispatching a slot (policies, run id, handle, task) costs tens of microseconds; when a
thousand jobs fall due in the same second, doing that work *at* the instant makes the last
run start tens of milliseconds late. The scheduler therefore wakes `lead` seconds early,
prepares every slot due by then, and parks each run here; one clock timer per instant then
releases them all at once, so what remains at the instant is only resuming the tasks.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from .clock import Clock
from .runner import call_later

__all__ = ["StartLine"]


class StartLine:
    """Parks coroutines until an instant of the clock's (wall) time; one timer per instant."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._waiting: dict[datetime, list[asyncio.Future[None]]] = {}

    async def wait(self, instant: datetime) -> None:
        """Return at `instant` (at once if it has passed). Cancelling one waiter leaves the
        others parked."""
        if self.clock.now() >= instant:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.get(instant)
        if waiting is None:
            waiting = self._waiting[instant] = []
            self._arm(instant)
        waiting.append(fut)
        await fut

    def _arm(self, instant: datetime) -> None:
        delay = (instant - self.clock.now()).total_seconds()
        call_later(self.clock, delay, lambda: self._release(instant))

    def _release(self, instant: datetime) -> None:
        # The system clock's timers run on the monotonic clock; if wall time is still short
        # of the instant (a slewing clock), wait for the rest rather than start early.
        if self.clock.now() < instant:
            self._arm(instant)
            return
        for fut in self._waiting.pop(instant, ()):
            if not fut.done():
                fut.set_result(None)
