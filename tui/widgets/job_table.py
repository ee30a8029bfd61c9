"""The jobs pane: one row per job with a live countdown, on the line API.

Rows come from the view-model (`JobRow`); only the rows in view are rendered, each straight
to segments (no Rich `Text` layout) and cached per row until the row or the second changes,
so the 1 s countdown tick re-renders just the twenty-odd rows on screen. The order (sorted by
next fire by default) is kept incrementally, in blocks of about a thousand sort keys
(`SortedBlocks`): a batch of events re-places only the rows it touched, each a bisection and a
move within its block, instead of re-sorting (or copying) 100,000 rows ten times a second.
A COST column appears only when some job uses a model (has spent tokens, a price or a budget).
NEXT widens to a whole date when some job's next fire is a week or more away, before SCHEDULE's
words take the room (in a table too narrow for both, the date in short: "Dec 14").
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, ClassVar, overload

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip

from crondeck.core import ago, clock_time, countdown, money, short_span, token_count

from ..fire_order import SortedBlocks
from ..model import LAST_GLYPH, STATUS_GLYPH, JobRow
from .lines import LineList, Pieces, fit, to_strip

__all__ = ["SORTS", "JobOrder", "JobTable"]

ROWS_CACHED = 1024  # rendered rows kept: a screenful many times over, not 10,000


def _next_start(row: JobRow) -> float:
    """When the job can next run, as a timestamp: its next slot, or its budget's reset if
    the slots before that will be skipped for budget (what NEXT and LEFT show)."""
    at = row.budget_until if row.held_by_budget else row.next_fire
    return at.timestamp() if at is not None else 0.0


def _shown_next(row: JobRow) -> datetime | None:
    """The instant NEXT shows (None: "—"): the next slot, or the spent budget's reset."""
    if row.status == "paused" or row.held or row.next_fire is None:
        return None
    if row.held_by_budget and row.budget_until is not None:
        return row.budget_until
    return row.next_fire


def _latest_next(rows: Iterable[JobRow]) -> datetime | None:
    """The latest next fire of a job not paused: whether NEXT needs a date (a budget's reset
    it shows instead is within a day, as is the slot it holds back)."""
    return max((row.next_fire for row in rows if row.next_fire is not None and not row.held),
               default=None)


SORTS: dict[str, Callable[[JobRow], object]] = {
    "next": lambda r: (r.next_fire is None or r.status == "paused", _next_start(r), r.name),
    "name": lambda r: r.name.lower(),
    "status": lambda r: (("running", "failing", "budget", "idle", "paused", "done", "disabled")
                         .index(r.status),
                         r.name),
    "last": lambda r: (-(r.last_finished.timestamp() if r.last_finished else 0.0), r.name),
}
STATUS_STYLE = {  # dashboard.tcss colours these from the theme's $status-* variables
    "running": "job-table--running",
    "paused": "job-table--paused",
    "failing": "job-table--failing",
    "budget": "job-table--budget",
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


# Column sets from widest to narrowest: the first that fits the widget's width is used. The
# COST column (last of each set) is there only when some job uses a model, and then the set
# needs its width more: a runtime without models loses nothing.
_LAYOUTS: list[tuple[int, list[_Col]]] = [
    (130, [_Col("status", "STATUS", 15), _Col("name", "JOB", 18), _Col("schedule", "SCHEDULE", 0),
           _Col("agent", "AGENT", 12), _Col("next", "NEXT", 9), _Col("left", "LEFT", 11),
           _Col("last", "LAST", 4), _Col("passed", "PASSED", 9),
           _Col("runs", "RUNS", 5, "right"), _Col("rate", "OK%", 5, "right"),
           _Col("cost", "COST", 19)]),
    (100, [_Col("status", "STATUS", 15), _Col("name", "JOB", 16), _Col("schedule", "SCHEDULE", 0),
           _Col("next", "NEXT", 9), _Col("left", "LEFT", 11), _Col("last", "LAST", 4),
           _Col("passed", "PASSED", 9), _Col("rate", "OK%", 5, "right"),
           _Col("cost", "COST", 13)]),
    (0, [_Col("status", "STATUS", 13), _Col("name", "JOB", 14), _Col("schedule", "SCHEDULE", 0),
         _Col("left", "LEFT", 10), _Col("last", "LAST", 4), _Col("passed", "PASSED", 8),
         _Col("cost", "COST", 6)]),
]
_BOLD = Style(bold=True)
SCHEDULE_ROOM = 36  # SCHEDULE keeps this much before other columns grow (expression + words)
_NEXT_SHORT = 9  # NEXT's text but for a date: a time today or a day this week, "Tue 14:05"
NEXT_ROOM = 16  # NEXT's longest text: a fire a week or more away, "2026-12-14 09:00"
SCHEDULE_KEEPS = 24  # what SCHEDULE keeps (an expression, a word or two) when NEXT grows
NAME_ROOM = 40  # the widest a JOB column grows to

# A cell: pieces of (text, style) and the style of its padding (Rich's `Text(..., style=)`
# colours a cell's padding too; a cell of several styled pieces pads unstyled).
_Cell = tuple[list[tuple[str, Style | None]], Style | None]
# (row rendered from, (second, width, cursor), strip, its timed cells' pieces)
_Rendered = tuple[JobRow, tuple[int, int, bool], Strip, list[Pieces]]
# (row, columns, each column's pieces or None where they move with time, the row's pieces
# as runs: the cells that do not move with the separators between them, pieces of one style
# already joined (what `to_strip` would join), and None for each cell that moves)
_Static = tuple[JobRow, list[tuple[_Col, int]], list[Pieces | None], list[Pieces | None]]


def _one(text: str, style: Style | None = None) -> _Cell:
    """A cell of one piece, padded in its own style."""
    return [(text, style)], style


def _joined(pieces: Pieces) -> Pieces:
    """Neighbouring pieces of one style (the same object) as one piece."""
    out: Pieces = []
    for text, style in pieces:
        if out and out[-1][1] is style:
            out[-1] = (out[-1][0] + text, style)
        else:
            out.append((text, style))
    return out


def _cost_texts(row: JobRow, today: bool) -> list[str]:
    """The COST cell from most to least informative; the first that fits is shown."""
    if not row.uses_model:
        return ["—"]
    if row.priced or row.cost_total:
        day = money(row.cost_today if today else 0.0)
        total = money(row.cost_total)
        return [f"{day} today · {total}", f"{day} · {total}", day]
    used = row.tokens_today if today else 0
    day, total = token_count(used), token_count(row.tokens_total)
    if row.token_budget is not None:  # today's share of the budget matters most
        of = f"{day}/{token_count(row.token_budget)}"
        return [f"{of} tok · {total}", f"{of} tok", of, f"{used / max(1, row.token_budget):.0%}"]
    return [f"{day} tok today · {total}", f"{day} · {total} tok", f"{day} tok", day]


class JobOrder(Sequence[str]):
    """The names of the rows shown, top to bottom: a read-only view of the table's sort
    keys (each ends with its row's name). Compares equal to a list of the same names."""

    __slots__ = ("_key_of", "_keys")

    def __init__(self, keys: SortedBlocks, key_of: Mapping[str, tuple[Any, ...]]) -> None:
        self._keys = keys
        self._key_of = key_of

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            if index.step not in (None, 1):
                return list(self)[index]
            return [key[-1] for key in self._keys.items(*index.indices(len(self._keys))[:2])]
        return str(self._keys[index][-1])

    def __iter__(self) -> Iterator[str]:
        for key in self._keys:
            yield key[-1]

    def __contains__(self, name: object) -> bool:
        return name in self._key_of

    def index(self, name: Any, start: int = 0, stop: int | None = None) -> int:
        key = self._key_of.get(name)
        at = self._keys.index(key) if key is not None else -1
        if at < 0 or at < start or (stop is not None and at >= stop):
            raise ValueError(f"{name!r} is not shown")
        return at

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JobOrder | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compares by content, like a list

    def __repr__(self) -> str:
        return f"JobOrder({list(self)!r})"


class JobTable(LineList):
    """Jobs sorted by next fire; the cursor follows its job when the order changes."""

    COMPONENT_CLASSES: ClassVar = LineList.COMPONENT_CLASSES | {
        "job-table--running", "job-table--paused", "job-table--failing", "job-table--ok",
        "job-table--idle", "job-table--schedule", "job-table--budget",
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
        self.selected: str | None = None
        self._name_width = 18
        # The latest next fire NEXT shows (grows with changed rows; read anew with many),
        # and whether NEXT shows it as a date (a week or more away): NEXT widens then.
        self._latest: datetime | None = None
        self._dated = False
        self._keys = SortedBlocks()  # the shown rows' sort keys, in order
        self._key_of: dict[str, tuple[Any, ...]] = {}  # a shown row's key in `_keys`
        self.order = JobOrder(self._keys, self._key_of)  # the shown rows' names, in order
        self.show_cost = False
        self._columns_cache: dict[tuple[int, int, bool, bool], list[tuple[_Col, int]]] = {}
        self._row_cache: LRUCache[str, _Rendered] = LRUCache(ROWS_CACHED)
        # name -> (row, second, width, the pieces of its cells that move with time): what a
        # tick works out to tell changed rows from unchanged ones, kept for their rendering
        self._timed_memo: dict[str, tuple[JobRow, int, int, list[Pieces]]] = {}
        # name -> (row, columns, each column's pieces or None where they move with time)
        self._static: LRUCache[str, _Static] = LRUCache(ROWS_CACHED)

    # -- data ------------------------------------------------------------------------------

    def set_rows(self, rows: Mapping[str, JobRow], changed: Collection[str] | None = None) -> None:
        """New or changed rows, keeping the cursor on its job.

        `changed` names the rows an event batch touched (added, changed or removed): only
        those are re-placed in the order, each in its block. Without it (or when it names
        half the rows) everything is re-sorted and re-filtered."""
        self.rows = rows
        if changed is None or len(changed) * 2 > len(self._key_of) + 8:
            self._name_width = max(4, max((len(n) for n in rows), default=4))
            self.show_cost = any(r.uses_model for r in rows.values())
            self._latest = _latest_next(rows.values())
            self._date_next()
            self._reorder()
            return
        if len(changed) * 8 > len(self._key_of) + 8:  # an eighth of the rows: columns anew
            shape = (self._name_width, self.show_cost)
            self._name_width = max(4, max((len(n) for n in rows), default=4))
            self.show_cost = any(r.uses_model for r in rows.values())
            self._latest = _latest_next(rows.values())
            if self._date_next() or (self._name_width, self.show_cost) != shape:
                self._forget_rendered()
        self._replace(changed)

    def _sort_key(self, row: JobRow) -> tuple[Any, ...]:
        """`(SORTS[sort](row), name)`, a tuple one level deep (ordered alike): comparing
        keys is most of what placing a row costs."""
        key = SORTS.get(self.sort_key, SORTS["next"])(row)
        return (*key, row.name) if type(key) is tuple else (key, row.name)

    def _replace(self, changed: Collection[str]) -> None:
        needle = self.filter_text.strip()
        keys, key_of = self._keys, self._key_of
        for name in changed:
            old = key_of.pop(name, None)
            if old is not None:
                keys.discard(old)
            row = self.rows.get(name)
            self._row_cache.discard(name)
            if row is not None and (at := row.next_fire) is not None and not row.held and (
                    self._latest is None or at > self._latest):
                self._latest = at
            if row is None or (needle and not row.matches(needle)):
                continue
            key = key_of[name] = self._sort_key(row)
            keys.add(key)
            self._name_width = max(self._name_width, len(name))
            self.show_cost = self.show_cost or row.uses_model
        if self._date_next():
            self._forget_rendered()
        self._placed()

    def _date_next(self) -> bool:
        """Whether NEXT shows a date for the latest fire (as `clock_time` writes it) is
        worked out again; True when that changed (the columns then change)."""
        latest = self._latest
        dated = latest is not None and cell_len(
            clock_time(latest, self.zone, self._now())) > _NEXT_SHORT
        changed, self._dated = dated != self._dated, dated
        return changed

    def _forget_rendered(self) -> None:
        self._row_cache.clear()
        self._static.clear()
        self._timed_memo.clear()

    def watch_sort_key(self) -> None:
        self._reorder()

    def watch_filter_text(self) -> None:
        self._reorder()

    def _reorder(self) -> None:
        needle = self.filter_text.strip()
        rows: Iterable[JobRow] = self.rows.values()
        if needle:
            rows = [r for r in rows if r.matches(needle)]
        placed = sorted(self._sort_key(r) for r in rows)
        self._keys = SortedBlocks(placed, ordered=True)
        self._key_of = {key[-1]: key for key in placed}
        self.order = JobOrder(self._keys, self._key_of)
        self._row_cache.clear()
        self._static.clear()
        self._timed_memo.clear()
        self._placed()

    def _placed(self) -> None:
        """After the order changed: keep the cursor on its job, repaint, say what is selected."""
        key = self._key_of.get(self.selected) if self.selected is not None else None
        if key is not None:
            index = self._keys.index(key)
            if index != self.cursor:
                self.cursor = index
        self.rows_changed()
        self._sync_selected()

    def refresh_countdowns(self) -> None:
        """The 1 s tick: repaint what moves with the clock in the rows in view (NEXT to
        PASSED, and COST: one band of columns) where its text changed, plus whole rows whose
        status or note moves (running, paused until). Rows are cached per second, so each is
        rendered once; the 10,000 rows out of view cost nothing."""
        self._timed_memo.clear()  # what the last second worked out
        if self._date_next():  # the latest fire came within a week, or the day turned
            self.invalidate()
            return
        width = self.content_width()
        spans: dict[str, tuple[int, int]] = {}
        x = 0
        for col, w in self._columns(width):
            spans[col.key] = (x, x + w)
            x += w + 1
        timed = [spans[k] for k in ("next", "left", "passed", "cost") if k in spans]
        if not timed:
            self.refresh()
            return
        start, end = min(a for a, _ in timed), max(b for _, b in timed)
        now = self._now()
        top = int(self.scroll_y)
        shown = self.order[top:top + max(0, self.size.height - self._top)]
        moved: list[Region] = []  # one refresh for them all: each call costs as much as a row
        for y, name in enumerate(shown, self._top):
            row = self.rows.get(name)  # None: removed from the model, its batch not yet here
            if row is None:
                continue
            if row.status == "running" or (row.status == "paused" and row.until is not None):
                moved.append(Region(0, y, self.size.width, 1))
                continue
            # unchanged text (a fire hours away, a cost) is not drawn again
            hit = self._row_cache.get(name)
            if (hit is None or hit[0] is not row or hit[1][1] != width
                    or hit[3] != self._timed_cells(row, now, width)):
                moved.append(Region(start, y, end - start, 1))
        if moved:
            self.refresh(*moved)

    def invalidate(self) -> None:
        self._row_cache.clear()
        self._static.clear()
        self._timed_memo.clear()
        super().invalidate()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._row_cache.clear()
        self._static.clear()
        self._timed_memo.clear()

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
        key = (width, self._name_width, self.show_cost, self._dated)
        cached = self._columns_cache.get(key)
        if cached is not None:
            return cached
        for minimum, cols in _LAYOUTS:
            cost = next(c.width + 1 for c in cols if c.key == "cost")
            if width >= minimum + (cost if self.show_cost else 0):
                break
        cols = [_Col(c.key, c.title, min(c.width, self._name_width), c.justify)
                if c.key == "name" else c
                for c in cols if c.key != "cost" or self.show_cost]
        fixed = sum(c.width for c in cols) + len(cols) - 1
        # A time column before SCHEDULE's words: NEXT shows a date whole when some row's
        # fire is a week or more away (else it keeps its width, the date in short).
        grow = next((NEXT_ROOM - c.width for c in cols if c.key == "next"), 0)
        if self._dated and 0 < grow <= width - fixed - SCHEDULE_KEEPS:
            cols = [_Col(c.key, c.title, NEXT_ROOM, c.justify) if c.key == "next" else c
                    for c in cols]
            fixed += grow
        # A wide table gives what SCHEDULE need not keep to LEFT (room for "resumes in 1h
        # 59m"), then to long job and agent names, rather than to blank columns.
        # (only in the widest set: a narrower one keeps its compact forms, "∅ 6h 01m")
        spare = width - fixed - SCHEDULE_ROOM if minimum == _LAYOUTS[0][0] else 0
        grown = []
        for c in sorted(cols, key=lambda c: ("left", "name").index(c.key)
                        if c.key in ("left", "name") else 2):
            want = {"name": min(self._name_width, NAME_ROOM), "left": 18,
                    "agent": 20}.get(c.key, c.width)
            extra = max(0, min(spare, want - c.width))
            spare -= extra
            grown.append(_Col(c.key, c.title, c.width + extra, c.justify) if extra else c)
        cols = sorted(grown, key=lambda g: [c.key for c in cols].index(g.key))
        fixed = sum(c.width for c in cols) + len(cols) - 1
        flex = max(8, width - fixed)
        result = self._columns_cache[key] = [(c, c.width or flex) for c in cols]
        return result

    def render_header(self, width: int) -> Text:
        text = Text()
        for i, (col, w) in enumerate(self._columns(width)):
            if i:
                text.append(" ")
            title = col.title
            if col.key == "next":  # its times are the operator's: say in which zone
                zone = self._now().astimezone(self.zone).tzname() or ""
                title = f"{title} {zone}" if len(title) + 1 + len(zone) <= w else title
            cell = Text(title)
            cell.truncate(w, pad=True)
            if col.justify == "right":
                cell = Text(col.title.rjust(w)[:w])
            text.append_text(cell)
        return text

    def render_line(self, y: int) -> Strip:
        """A row from its cache while neither the row nor the second changed."""
        index = int(self.scroll_y) + y - self._top
        if y < self._top or not 0 <= index < len(self.order):
            return super().render_line(y)
        width = self.content_width()
        name = self.order[index]
        row = self.rows.get(name)
        if row is None:  # removed from the model; the batch that says so re-places the rows
            return Strip.blank(width, self._base_style())
        now = self._now()
        cursor = index == self.cursor and (self.has_focus or self.cursor_when_blurred)
        key = (int(now.timestamp()), width, cursor)
        hit = self._row_cache.get(name)
        if hit is not None:
            if hit[0] is row and hit[1] == key:
                return hit[2]
            self._row_cache.discard(name)  # an LRUCache keeps a key's first value
        strip = self._row_strip(row, now, width, cursor)
        self._row_cache[name] = (row, key, strip, self._timed_cells(row, now, width))
        return strip

    def _row_strip(self, row: JobRow, now: datetime, width: int, cursor: bool) -> Strip:
        over = self.cursor_style() if cursor else None
        return to_strip(self._row_pieces(row, now, width), self._base_style(), over, width,
                        self.combined_styles())

    def _row_pieces(self, row: JobRow, now: datetime, width: int) -> Pieces:
        """The row's pieces; cells that do not move with the clock come from a cache, so a
        countdown tick re-renders three or four cells of each row in view, not ten."""
        runs = self._static_row(row, now, width)[3]
        timed = iter(self._timed_cells(row, now, width))
        out: Pieces = []
        for run in runs:
            out.extend(next(timed) if run is None else run)
        return out

    def _timed_cells(self, row: JobRow, now: datetime, width: int) -> list[Pieces]:
        """The pieces of the row's cells that move with the clock, once per second."""
        second = int(now.timestamp())
        hit = self._timed_memo.get(row.name)
        if hit is not None and hit[0] is row and hit[1] == second and hit[2] == width:
            return hit[3]
        cols, parts = self._static_parts(row, now, width)
        cells = [self._column(col, w, row, now)
                 for (col, w), part in zip(cols, parts, strict=True) if part is None]
        self._timed_memo[row.name] = (row, second, width, cells)
        return cells

    def _static_parts(self, row: JobRow, now: datetime,
                      width: int) -> tuple[list[tuple[_Col, int]], list[Pieces | None]]:
        """The row's columns, and each one's pieces (None where they move with time)."""
        hit = self._static_row(row, now, width)
        return hit[1], hit[2]

    def _static_row(self, row: JobRow, now: datetime, width: int) -> _Static:
        cols = self._columns(width)
        hit = self._static.get(row.name)
        if hit is not None and hit[0] is row and hit[1] is cols:
            return hit
        if hit is not None:
            self._static.discard(row.name)  # an LRUCache keeps a key's first value
        parts = [None if self._timed(col.key, row) else self._column(col, w, row, now)
                 for col, w in cols]
        runs: list[Pieces | None] = []
        run: Pieces = []
        for i, part in enumerate(parts):
            if i:
                run.append((" ", None))
            if part is None:
                runs += [_joined(run), None]
                run = []
            else:
                run += part
        runs.append(_joined(run))
        entry = self._static[row.name] = (row, cols, parts, [r for r in runs if r != []])
        return entry

    @staticmethod
    def _timed(key: str, row: JobRow) -> bool:
        """Does this cell change as time passes (with the row itself unchanged)?"""
        return (key in ("next", "left", "passed")
                or (key == "status" and row.status == "running")
                or (key == "schedule" and row.status == "paused" and row.until is not None)
                or (key == "cost" and row.uses_model))

    def _column(self, col: _Col, width: int, row: JobRow, now: datetime) -> Pieces:
        pieces, pad = self._cell(col.key, row, now, width)
        pieces = fit(pieces, width)
        room = width - sum(cell_len(t) for t, _ in pieces)
        if room <= 0:
            return pieces
        if col.justify == "right":
            return [(" " * room, pad), *pieces]
        return [*pieces, (" " * room, pad)]

    def render_row(self, index: int, width: int) -> Text:
        """The row as Rich text (what `render_line` draws, for callers that want text)."""
        text = Text(no_wrap=True)
        for piece, style in self._row_pieces(self.rows[self.order[index]], self._now(), width):
            text.append(piece, style)
        return text

    def _style(self, component: str) -> Style:
        return self.style_of(component)

    def _cell(self, key: str, row: JobRow, now: datetime, width: int) -> _Cell:
        if key == "status":
            word: str = row.status
            if row.status == "running":
                since = row.running_since
                word = f"running {short_span((now - since).total_seconds())}" if since else word
                if row.running_count > 1:
                    word += f" ×{row.running_count}"
            elif row.status == "failing" and row.failures > 1:
                word = f"failing ×{row.failures}"
            return _one(f"{STATUS_GLYPH[row.status]} {word}",
                        self._style(STATUS_STYLE[row.status]))
        if key == "name":
            return _one(row.name, _BOLD)
        if key == "schedule":
            if row.status == "paused" and (row.note or row.until):
                note = f"‖ {row.note}" if row.note else "‖ paused"
                if row.until:
                    soon = (row.until - now).total_seconds() < 86400
                    until = (row.until.astimezone(self.zone).strftime("%H:%M") if soon
                             else clock_time(row.until, self.zone, now))
                    note += f" (until {until})"
                return _one(note, self._style("job-table--paused"))
            pieces: list[tuple[str, Style | None]] = [(row.schedule, None)]
            if row.description and row.description.lower() != row.schedule.lower():
                pieces.append((f"  {row.description}", self._style("job-table--schedule")))
            return pieces, None
        if key == "agent":
            return _one(row.agent)
        if key == "next":
            at = _shown_next(row)
            if at is None:
                return _one("—", self._style("line-list--dim"))
            text = clock_time(at, self.zone, now)
            if cell_len(text) > width:  # a date, in a column too narrow for it: "Dec 14"
                text = at.astimezone(self.zone).strftime("%b %d")
            if at != row.next_fire:  # the budget's reset: slots skip till then
                return _one(text, self._style("job-table--budget"))
            return _one(text)
        if key == "left":
            if row.exhausted:
                return _one("done", self._style("line-list--dim"))
            if row.status == "paused" or row.held:
                if row.resumes is None:
                    return _one("paused", self._style("job-table--paused"))
                span = short_span((row.resumes - now).total_seconds())
                texts = [f"resumes in {span}", f"‖ in {span}", f"‖ {span}"]  # the paused glyph
                return _one(next((t for t in texts if cell_len(t) <= width), texts[-1]),
                            self._style("job-table--paused"))
            if row.next_fire is None:
                return _one("—")
            if row.held_by_budget and row.budget_until is not None:
                span = short_span((row.budget_until - now).total_seconds())
                texts = [f"∅ in {span}", f"∅ {span}"]  # the status glyph: "budget resets in"
                return _one(next((t for t in texts if cell_len(t) <= width), texts[-1]),
                            self._style("job-table--budget"))
            left = countdown((row.next_fire - now).total_seconds())
            if row.skip_next:
                left = f"{left} ↷"
            return _one(left)
        if key == "last":
            if not row.last_status:
                return _one("—", self._style("line-list--dim"))
            return _one(LAST_GLYPH.get(row.last_status, "?"),
                        self._style(LAST_STYLE.get(row.last_status, "line-list--dim")))
        if key == "passed":
            if row.last_finished is None:
                return _one("—", self._style("line-list--dim"))
            return _one(ago((now - row.last_finished).total_seconds()))
        if key == "runs":
            return _one(str(row.runs))
        if key == "rate":
            if row.ok_rate is None:
                return _one("—", self._style("line-list--dim"))
            return _one(f"{row.ok_rate * 100:.0f}%")
        if key == "cost":
            today = bool(row.usage_day) and row.usage_day == now.astimezone(
                row.usage_zone or self.zone).date().isoformat()
            texts = _cost_texts(row, today)
            text = next((t for t in texts if cell_len(t) <= width), texts[-1])
            return _one(text, None if row.uses_model else self._style("line-list--dim"))
        return _one("")
