"""The jobs pane: one row per job with a live countdown, on the line API.

Rows come from the view-model (`JobRow`); only the rows in view are rendered, and the 1 s
countdown tick is just `refresh()`, which repaints those lines and nothing else. The order
(sorted by next fire by default) and the `/` filter are recomputed only when rows change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive

from ..format import ago, clock_time, countdown, short_span
from ..model import LAST_GLYPH, STATUS_GLYPH, JobRow
from .lines import LineList

__all__ = ["SORTS", "JobTable"]

SORTS: dict[str, Callable[[JobRow], object]] = {
    "next": lambda r: (r.next_fire is None or r.status == "paused",
                       r.next_fire.timestamp() if r.next_fire else 0.0, r.name),
    "name": lambda r: r.name.lower(),
    "status": lambda r: (("running", "failing", "idle", "paused", "done", "disabled")
                         .index(r.status),
                         r.name),
    "last": lambda r: (-(r.last_finished.timestamp() if r.last_finished else 0.0), r.name),
}
STATUS_STYLE = {  # dashboard.tcss colours these from the theme's $status-* variables
    "running": "job-table--running",
    "paused": "job-table--paused",
    "failing": "job-table--failing",
    "done": "line-list--dim",
    "disabled": "line-list--dim",
    "idle": "job-table--idle",
}
LAST_STYLE = {
    "ok": "job-table--ok",
    "failed": "job-table--failing",
    "timed_out": "job-table--failing",
    "cancelled": "line-list--dim",
    "abandoned": "job-table--failing",
}


@dataclass(frozen=True)
class _Col:
    key: str
    title: str
    width: int  # 0: takes the remaining width
    justify: str = "left"


# Column sets from widest to narrowest: the first that fits the widget's width is used.
_LAYOUTS: list[tuple[int, list[_Col]]] = [
    (130, [_Col("status", "STATUS", 15), _Col("name", "JOB", 18), _Col("schedule", "SCHEDULE", 0),
           _Col("agent", "AGENT", 12), _Col("next", "NEXT", 9), _Col("left", "LEFT", 11),
           _Col("last", "LAST", 4), _Col("passed", "PASSED", 9),
           _Col("runs", "RUNS", 5, "right"), _Col("rate", "OK%", 5, "right")]),
    (100, [_Col("status", "STATUS", 15), _Col("name", "JOB", 16), _Col("schedule", "SCHEDULE", 0),
           _Col("next", "NEXT", 9), _Col("left", "LEFT", 11), _Col("last", "LAST", 4),
           _Col("passed", "PASSED", 9), _Col("rate", "OK%", 5, "right")]),
    (0, [_Col("status", "STATUS", 13), _Col("name", "JOB", 14), _Col("schedule", "SCHEDULE", 0),
         _Col("left", "LEFT", 10), _Col("last", "LAST", 4), _Col("passed", "PASSED", 8)]),
]


class JobTable(LineList):
    """Jobs sorted by next fire; the cursor follows its job when the order changes."""

    COMPONENT_CLASSES: ClassVar = LineList.COMPONENT_CLASSES | {
        "job-table--running", "job-table--paused", "job-table--failing", "job-table--ok",
        "job-table--idle", "job-table--schedule",
    }

    empty_text = "no jobs match the filter (esc clears it)"
    sort_key = reactive("next")
    filter_text = reactive("")

    @dataclass
    class Selected(Message):
        """The highlighted job changed (None when the table is empty)."""

        job: str | None

    @dataclass
    class DetailsRequested(Message):
        job: str

    def __init__(self, *, now: Callable[[], datetime], zone: tzinfo,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self._now = now
        self.zone = zone
        self.rows: Mapping[str, JobRow] = {}
        self.order: list[str] = []
        self.selected: str | None = None
        self._name_width = 18

    # -- data ------------------------------------------------------------------------------

    def set_rows(self, rows: Mapping[str, JobRow]) -> None:
        """New or changed rows: re-sort and re-filter, keeping the cursor on its job."""
        self.rows = rows
        self._name_width = max(4, max((len(n) for n in rows), default=4))
        self._reorder()

    def watch_sort_key(self) -> None:
        self._reorder()

    def watch_filter_text(self) -> None:
        self._reorder()

    def _reorder(self) -> None:
        needle = self.filter_text.strip()
        rows = self.rows.values()
        if needle:
            rows = [r for r in rows if r.matches(needle)]
        key = SORTS.get(self.sort_key, SORTS["next"])
        self.order = [r.name for r in sorted(rows, key=key)]
        if self.selected in self.order:
            index = self.order.index(self.selected)
            if index != self.cursor:
                self.cursor = index
        self.rows_changed()
        self._sync_selected()

    def _sync_selected(self) -> None:
        job = self.order[self.cursor] if 0 <= self.cursor < len(self.order) else None
        if job != self.selected:
            self.selected = job
            self.post_message(self.Selected(job))

    def watch_cursor(self, old: int, new: int) -> None:
        super().watch_cursor(old, new)
        self._sync_selected()

    def select(self, job: str) -> None:
        if job in self.order:
            self.cursor = self.order.index(job)

    @property
    def row_count(self) -> int:
        return len(self.order)

    def action_activate(self) -> None:
        if self.selected is not None:
            self.post_message(self.DetailsRequested(self.selected))

    # -- rendering ---------------------------------------------------------------------------

    def _columns(self, width: int) -> list[tuple[_Col, int]]:
        cols = next(c for minimum, c in _LAYOUTS if width >= minimum)
        cols = [_Col(c.key, c.title, min(c.width, self._name_width), c.justify)
                if c.key == "name" else c for c in cols]
        fixed = sum(c.width for c in cols) + len(cols) - 1
        flex = max(8, width - fixed)
        return [(c, c.width or flex) for c in cols]

    def render_header(self, width: int) -> Text:
        text = Text()
        for i, (col, w) in enumerate(self._columns(width)):
            if i:
                text.append(" ")
            cell = Text(col.title)
            cell.truncate(w, pad=True)
            if col.justify == "right":
                cell = Text(col.title.rjust(w)[:w])
            text.append_text(cell)
        return text

    def render_row(self, index: int, width: int) -> Text:
        row = self.rows[self.order[index]]
        now = self._now()
        text = Text()
        for i, (col, w) in enumerate(self._columns(width)):
            if i:
                text.append(" ")
            cell = self._cell(col.key, row, now, w)
            cell.no_wrap = True
            cell.truncate(w, overflow="ellipsis")
            if col.justify == "right":
                cell.pad_left(w - cell.cell_len)
            else:
                cell.pad_right(w - cell.cell_len)
            text.append_text(cell)
        return text

    def _style(self, component: str) -> Style:
        return self.style_of(component)

    def _cell(self, key: str, row: JobRow, now: datetime, width: int) -> Text:
        if key == "status":
            word = row.status
            if row.status == "running":
                since = row.running_since
                word = f"running {short_span((now - since).total_seconds())}" if since else word
                if row.running_count > 1:
                    word += f" ×{row.running_count}"
            elif row.status == "failing" and row.failures > 1:
                word = f"failing ×{row.failures}"
            return Text(f"{STATUS_GLYPH[row.status]} {word}",
                        style=self._style(STATUS_STYLE[row.status]))
        if key == "name":
            return Text(row.name, style="bold")
        if key == "schedule":
            if row.status == "paused" and (row.note or row.until):
                note = f"‖ {row.note}" if row.note else "‖ paused"
                if row.until:
                    soon = (row.until - now).total_seconds() < 86400
                    until = (row.until.astimezone(self.zone).strftime("%H:%M") if soon
                             else clock_time(row.until, self.zone, now))
                    note += f" (until {until})"
                return Text(note, style=self._style("job-table--paused"))
            cell = Text(row.schedule)
            if row.description and row.description.lower() != row.schedule.lower():
                cell.append(f"  {row.description}", style=self._style("job-table--schedule"))
            return cell
        if key == "agent":
            return Text(row.agent)
        if key == "next":
            if row.status == "paused" or row.next_fire is None:
                return Text("—", style=self._style("line-list--dim"))
            return Text(clock_time(row.next_fire, self.zone, now))
        if key == "left":
            if row.exhausted:
                return Text("done", style=self._style("line-list--dim"))
            if row.status == "paused":
                return Text("paused", style=self._style("job-table--paused"))
            if row.next_fire is None:
                return Text("—")
            left = countdown((row.next_fire - now).total_seconds())
            if row.skip_next:
                left = f"{left} ↷"
            return Text(left)
        if key == "last":
            if not row.last_status:
                return Text("—", style=self._style("line-list--dim"))
            return Text(LAST_GLYPH.get(row.last_status, "?"),
                        style=self._style(LAST_STYLE.get(row.last_status, "line-list--dim")))
        if key == "passed":
            if row.last_finished is None:
                return Text("—", style=self._style("line-list--dim"))
            return Text(ago((now - row.last_finished).total_seconds()))
        if key == "runs":
            return Text(str(row.runs))
        if key == "rate":
            if row.ok_rate is None:
                return Text("—", style=self._style("line-list--dim"))
            return Text(f"{row.ok_rate * 100:.0f}%")
        return Text("")
