"""The upcoming pane: the next fires across all jobs merged in time order (the next hour).

The list is rebuilt only when next fires change (`recompute`), lazily merging each job's
schedule with a heap so it stays cheap with thousands of jobs; the 1 s tick only repaints the
visible countdowns."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from rich.text import Text
from textual.message import Message

from ..format import clock_time, countdown
from .lines import LineList

__all__ = ["UpcomingList"]

HORIZON = timedelta(hours=1)
MAX_ITEMS = 200


class UpcomingList(LineList):
    """Rows of (time, job); Enter selects that job in the jobs table."""

    has_header = False
    cursor_when_blurred = False
    empty_text = "no fires coming up"

    @dataclass
    class JobChosen(Message):
        job: str

    def __init__(self, *, now: Callable[[], datetime], zone: tzinfo,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self._now = now
        self.zone = zone
        self.items: list[tuple[datetime, str]] = []

    def recompute(self, jobs: Iterable[Any], skip: Callable[[str], bool]) -> None:
        """Merge the next fires of `jobs` (core `Job` objects: `next_fire` and `schedule`)
        within the horizon; a job for which `skip(name)` is true (paused) is left out."""
        now = self._now()
        end = now + HORIZON
        heap: list[tuple[datetime, int, str, Any]] = []
        for i, job in enumerate(jobs):
            nf = job.next_fire
            if nf is None or job.exhausted or skip(job.name):
                continue
            heap.append((nf, i, job.name, job.schedule))
        heapq.heapify(heap)
        items: list[tuple[datetime, str]] = []
        while heap and len(items) < MAX_ITEMS:
            when, i, name, sched = heapq.heappop(heap)
            if when > end and len(items) >= 5:  # always show a few, even beyond the hour
                break
            items.append((when, name))
            try:
                nxt = sched.next_after(when)
            except Exception:
                nxt = None
            if nxt is not None and nxt <= end:
                heapq.heappush(heap, (nxt, i, name, sched))
        self.items = items
        self.rows_changed()

    @property
    def row_count(self) -> int:
        return len(self.items)

    def render_row(self, index: int, width: int) -> Text:
        when, name = self.items[index]
        now = self._now()
        text = Text()
        text.append(clock_time(when, self.zone, now).rjust(9))
        text.append(" ")
        text.append(countdown((when - now).total_seconds()).ljust(11),
                    style=self.style_of("line-list--dim"))
        text.append(name, style="bold")
        return text

    def action_activate(self) -> None:
        if self.items:
            self.post_message(self.JobChosen(self.items[self.cursor][1]))
