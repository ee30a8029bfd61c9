"""The bridge from the scheduler's event stream to the UI.

`Observer` subscribes to `Scheduler.subscribe()` (a bounded queue: a flood of output drops
chunks with a count, never blocks the scheduler), folds each batch into the `DashboardModel`
and posts one `ModelChanged` message to its target. The live loop drains the queue at most
about ten times a second, so 50,000 output lines a second become ~10 messages, each added to
the output pane at once (`OutputPane.catch_up`). Tests call `pump()` to apply what is pending now.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message
from textual.message_pump import MessagePump

from .model import Changes, DashboardModel

if TYPE_CHECKING:
    from crondeck.core import Scheduler

__all__ = ["BATCH_INTERVAL", "ModelChanged", "Observer"]

BATCH_INTERVAL = 0.1  # seconds between UI batches (~10 Hz)


@dataclass
class ModelChanged(Message):
    """A batch of events was folded into the model; `changes` says what moved."""

    changes: Changes


class Observer:
    """Consumes the event stream on the app's event loop and keeps `model` current."""

    def __init__(self, scheduler: Scheduler, target: MessagePump,
                 *, max_chunks: int = 20_000, first: int | None = None) -> None:
        self.scheduler = scheduler
        self.target = target
        self.subscription = scheduler.subscribe(max_chunks=max_chunks)
        self.model = DashboardModel(scheduler, first=first)  # `first`: see DashboardModel
        self._task: asyncio.Task[None] | None = None

    def pump(self, *, post: bool = True) -> Changes:
        """Apply everything pending now; post `ModelChanged` if anything moved (unless
        `post` is False: the caller shows the changes itself)."""
        events = self.subscription.drain()
        changes = self.model.apply(events) if events else Changes()
        if changes and post:
            self.target.post_message(ModelChanged(changes))
        return changes

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="observer")

    async def _run(self) -> None:
        sub = self.subscription
        while True:
            try:
                first = await sub.get()
            except EOFError:
                return
            changes = self.model.apply([first, *sub.drain()])
            if changes:
                self.target.post_message(ModelChanged(changes))
            await asyncio.sleep(BATCH_INTERVAL)

    async def stop(self) -> None:
        self.subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
