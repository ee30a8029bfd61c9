"""The upcoming pane: the next fires across all jobs merged in time order (the next hour, and
further while that leaves visible rows empty).

The list is rebuilt only when next fires change (`recompute`), lazily merging each job's
schedule with a heap so it stays cheap with thousands of jobs; the 1 s tick only repaints the
visible countdowns."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip

from crondeck.core import clock_time, countdown

from .lines import LineList, Pieces, fit, to_strip

__all__ = ["MAX_ITEMS", "UpcomingList"]

HORIZON = timedelta(hours=1)
MAX_ITEMS = 200
MIN_SHOWN = 5  # listed even beyond the hour, before the pane has a size
_BOLD = Style(bold=True)


class UpcomingList(LineList):
    """Rows of (time, job); Enter selects that job in the jobs table."""

    has_header = False
    cursor_when_blurred = False
    empty_text = "no fires coming up"

    @dataclass
    class JobChosen(Message):
        job: str

    class MoreRoom(Message):
        """The pane grew taller than its list, which the horizon had cut short: the screen
        should `recompute` so the new rows fill."""

    def __init__(self, *, now: Callable[[], datetime], zone: tzinfo,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self._now = now
        self.zone = zone
        self.items: list[tuple[datetime, str]] = []
        # index -> ((item, second, width, cursor), strip, its (time, countdown) texts)
        self._strips: dict[int, tuple[tuple[object, ...], Strip, tuple[str, str]]] = {}
        self._cut_short = False  # the horizon stopped the list while fires remained
        # index -> (item, second, texts): what a tick worked out, kept for the rendering
        self._ticked: dict[int, tuple[tuple[datetime, str], int, tuple[str, str]]] = {}

    def recompute(self, starts: Iterable[tuple[str, datetime, Any]]) -> None:
        """Merge the fires of jobs given as (name, first fire to list, schedule), within the
        horizon, or beyond it while fewer than the visible rows are listed. The caller
        leaves out jobs that will not fire and starts a budget-held job after its reset."""
        now = self._now()
        end = now + HORIZON
        fill = max(MIN_SHOWN, self.size.height)
        heap = [(first, i, name, sched) for i, (name, first, sched) in enumerate(starts)]
        heapq.heapify(heap)
        items: list[tuple[datetime, str]] = []
        while heap and len(items) < MAX_ITEMS:
            if heap[0][0] > end and len(items) >= fill:
                break
            when, i, name, sched = heapq.heappop(heap)
            items.append((when, name))
            try:
                nxt = sched.next_after(when)
            except Exception:
                nxt = None
            if nxt is not None:
                heapq.heappush(heap, (nxt, i, name, sched))
        cut_short = bool(heap) and len(items) < MAX_ITEMS
        if items == self.items and cut_short == self._cut_short:
            return  # the same list: nothing to repaint (a batch rarely moves the first 50)
        old = self.items
        self.items = items
        self._cut_short = cut_short
        if len(items) != len(old) or not self.is_mounted:
            self._strips.clear()
            self.rows_changed()
            return
        # As many items (a job paused beyond the rows in view, say): repaint only the rows
        # in view whose item changed. The cached strips are keyed by their item, so a
        # changed row renders anew, and an unchanged one is not drawn again.
        top = int(self.scroll_y)
        width = self.size.width
        moved = [Region(0, y, width, 1) for y in range(self.size.height)
                 if top + y < len(items) and items[top + y] != old[top + y]]
        if moved:
            self.refresh(*moved)

    @property
    def row_count(self) -> int:
        return len(self.items)

    def render_line(self, y: int) -> Strip:
        """Straight to segments, cached per item and second (no Rich `Text` layout)."""
        index = int(self.scroll_y) + y
        if not 0 <= index < len(self.items):
            return super().render_line(y)
        width = self.content_width()
        now = self._now()
        cursor = index == self.cursor and self.has_focus
        item = self.items[index]
        key = (item, int(now.timestamp()), width, cursor)
        hit = self._strips.get(index)
        if hit is not None and hit[0] == key:
            return hit[1]
        ticked = self._ticked.get(index)
        texts = (ticked[2] if ticked is not None and ticked[0] == item and ticked[1] == key[1]
                 else self._texts(item, now))
        pieces: Pieces = [
            (texts[0] + " ", None),
            (texts[1], self.style_of("line-list--dim")),
            (item[1], _BOLD),
        ]
        strip = to_strip(fit(pieces, width), self._base_style(),
                         self.cursor_style() if cursor else None, width, self.combined_styles())
        self._strips[index] = (key, strip, texts)
        return strip

    def refresh_countdowns(self) -> None:
        """The 1 s tick: repaint the countdowns whose text changed (a fire hours away moves
        once a minute); the rest moves only with the items themselves, which `recompute`
        repaints, or with the day (the time column then shows a date)."""
        now = self._now()
        second = int(now.timestamp())
        top = int(self.scroll_y)
        self._ticked.clear()
        moved: list[Region] = []  # one refresh for them all: each call costs as much as a row
        for y in range(self.size.height):
            index = top + y
            if index >= len(self.items):
                break
            hit = self._strips.get(index)
            item = self.items[index]
            if hit is not None and hit[0][0] == item:
                texts = self._texts(item, now)
                self._ticked[index] = (item, second, texts)
                if texts == hit[2]:
                    continue
                moved.append(Region(0, y, 21, 1) if texts[0] != hit[2][0]
                             else Region(10, y, 11, 1))
            else:
                moved.append(Region(0, y, self.size.width, 1))
        if moved:
            self.refresh(*moved)

    def _texts(self, item: tuple[datetime, str], now: datetime) -> tuple[str, str]:
        when = item[0]
        return (clock_time(when, self.zone, now).rjust(9),
                countdown((when - now).total_seconds()).ljust(11))

    def on_resize(self, event: events.Resize) -> None:
        super().on_resize(event)
        if self._cut_short and self.size.height > len(self.items):
            self.post_message(self.MoreRoom())

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def on_focus(self) -> None:
        self._strips.clear()
        super().on_focus()

    def on_blur(self) -> None:
        self._strips.clear()
        super().on_blur()

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
