"""The output pane: one run's output, streaming live, on Textual's line API.

Switching jobs must not cost a screen-wide layout (a Textual `Log` cleared and refilled
causes one on every cursor move). So the pane holds references to the run's `OutputLine`s in
a bounded buffer, formats and renders only the lines in view (`render_line`), and grows its
scrollable size without relaying out its siblings (`set_virtual_size`). Lines arrive in
batches (about ten a second) through `catch_up`; the
number kept is capped. stderr lines carry a `▌` marker and are coloured; timestamps can be
toggled. Follow mode (stick to the end) is on by default and turns itself off as soon as the
operator scrolls up; `f` (or End) turns it back on.

Long lines scroll sideways, or wrap (`wrap`): a wrapped line takes as many rows as it needs at
the pane's width, breaking at a space when one is near, continuing under its text (past the
marker and timestamp). Each line's row count is kept as it arrives (from its text alone, no
layout), so a flood costs about the same wrapped or not; only a width change or a toggle
recounts the kept lines. `search` marks
every occurrence of a text in the lines in view; `find` moves to the next or previous line
holding it.
"""

from __future__ import annotations

import re
import shlex
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from itertools import islice
from typing import ClassVar, overload

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scrollbar import ScrollTo, ScrollUp
from textual.selection import Selection
from textual.strip import Strip

from crondeck.core import SkipReason, duration

from ..model import OutputLine, RunOutput
from ..textual_compat import LineApiView, set_virtual_size

__all__ = ["MAX_LINES", "OutputPane"]

MAX_LINES = 10_000
ERR_MARK = "▌"
_STAMP = 9  # "HH:MM:SS "
_PREFIX = 2  # "▌ " or "  "
BREAK_LOOKBACK = 20  # a wrapped row ends at a space at most this many cells before its edge
# Rendered lines kept: a few screenfuls (scrolling back re-renders only what is in view).
# A flood scrolls thousands of lines past once each; every strip kept holds Textual's own
# per-strip caches (a dozen objects), which the collector's full passes walk.
CACHED = 256
_CONTROL = re.compile("[\u0000-\u0008\u000b-\u001f\u007f]").sub

Entry = OutputLine | str  # str: a line of the pane's own (placeholder, dropped note, outcome)


def _cells(text: str) -> int:
    """Width of a line as shown; plain ASCII (nearly all agent output) skips Rich's tables."""
    if text.isascii() and "\t" not in text:
        return len(text)
    return cell_len(text.replace("\t", "    "))


class _Lines(Sequence[str]):
    """The shown lines as text, formatted on access (tests and selections read them)."""

    def __init__(self, pane: OutputPane) -> None:
        self._pane = pane

    def __len__(self) -> int:
        return len(self._pane._entries)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        entries = self._pane._entries
        if isinstance(index, slice):
            return [self._pane.format_entry(e) for e in list(entries)[index]]
        return self._pane.format_entry(entries[index])

    def __iter__(self) -> Iterator[str]:
        return (self._pane.format_entry(e) for e in list(self._pane._entries))


class OutputPane(LineApiView, can_focus=True):
    """Shows the run set by `show_run`; `catch_up` adds the lines that run gains."""

    ALLOW_SELECT = True
    DEFAULT_CSS = """
    OutputPane {
        background: $surface;
        color: $text;
        overflow: scroll;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """
    BINDINGS: ClassVar = [
        Binding("end", "follow_end", "Follow", show=False, id="output.end"),
        Binding("slash", "search", "Search", show=False, id="output.search",
                tooltip="search the shown run's output"),
        Binding("n", "find(1)", "Next match", show=False, id="output.next"),
        Binding("N", "find(-1)", "Previous match", show=False, id="output.previous"),
    ]
    COMPONENT_CLASSES: ClassVar = {"output-pane--stderr", "output-pane--stamp", "output-pane--note",
                                   "output-pane--match", "output-pane--match-current"}

    follow = reactive(True)
    timestamps = reactive(False)
    wrap = reactive(False)
    search = reactive("")

    @dataclass
    class FollowChanged(Message):
        follow: bool

    class SearchRequested(Message):
        """`/` in the pane: the screen shows its search box."""

    class SearchMoved(Message):
        """The current match or the search changed (the screen shows "match 3/17")."""

    def __init__(self, *, zone: tzinfo, id: str | None = None) -> None:
        super().__init__(id=id)
        self.zone = zone
        self.run: RunOutput | None = None
        self._seen = 0  # how many of the run's lines (`RunOutput.total`) are in the pane
        self._outcome_shown = False
        self._entries: deque[Entry] = deque(maxlen=MAX_LINES)
        self._first = 0  # how many entries have rolled off the front (keeps cache keys stable)
        self._widest = 0  # cells of the widest entry, without timestamp
        # a line's whole strip by its index, and a wrapped line's rows by (index, row)
        self._cache: LRUCache[int | tuple[int, int], Strip] = LRUCache(CACHED)
        self._styles: dict[str, Style] = {}
        self._resetting = False
        # Wrapping: `_starts[i - _dead]` is the first row of entry `_first + i`, counted
        # from the first entry ever added; `_rows_total` is where the next entry starts.
        self._starts: list[int] = []
        self._dead = 0  # entries rolled off the front whose starts are still in `_starts`
        self._rows_total = 0
        self._wrap_width = 0  # the width the rows were counted at
        self.current: int | None = None  # absolute index (`_first` based) of the current match

    # -- reading --------------------------------------------------------------------------

    @property
    def lines(self) -> Sequence[str]:
        """The kept lines as shown (with marker and optional timestamp)."""
        return _Lines(self)

    @property
    def line_count(self) -> int:
        return len(self._entries)

    @property
    def allow_select(self) -> bool:
        return True

    def format_line(self, line: OutputLine) -> str:
        text = line.text.replace("\t", "    ")
        body = f"{ERR_MARK} {text}" if line.stream == "stderr" else f"  {text}"
        if self.timestamps:
            return f"{line.at.astimezone(self.zone):%H:%M:%S} {body}"
        return body

    def format_entry(self, entry: Entry) -> str:
        return entry if isinstance(entry, str) else self.format_line(entry)

    # -- content --------------------------------------------------------------------------

    def show_run(self, run: RunOutput | None, *, placeholder: str = "") -> None:
        """Replace the content with `run`'s kept output (and its outcome when finished).

        Costs a copy of the run's line references, not a re-render: only the lines in view
        are formatted, when they are drawn. A search belongs to the run it was typed on:
        another run (another job's, the job's next one, one opened from History) clears it."""
        before = self.run
        self.run = run
        if self.search and (run.run_id if run else None) != (before.run_id if before else None):
            self.search = ""
        self._seen = run.total if run is not None else 0
        entries: deque[Entry] = deque(maxlen=MAX_LINES)
        if run is None:
            if placeholder:
                entries.append(placeholder)
        else:
            if run.total > len(run.lines):  # its first lines rolled off the run's kept ones
                entries.append(self._not_kept(run, run.total - len(run.lines)))
            entries.extend(run.lines)
            if run.dropped:
                entries.append(f"── {run.dropped} lines dropped (too fast to show)")
            if run.result is not None:
                entries.append(self.outcome(run))
        self._outcome_shown = run is not None and run.result is not None
        self._entries = entries
        self._first = 0
        self._cache.clear()
        self._widest = self._width_of(entries)
        self.current = None
        self._relayout()
        self._resetting = True
        try:
            self._resize()
            self.scroll_to(x=0, y=self.max_scroll_y if self.follow else 0, animate=False)
        finally:
            self._resetting = False
        self.refresh()

    def catch_up(self) -> None:
        """Add the shown run's lines that arrived since it was shown or last caught up (about
        ten times a second). Counted from the run itself, not from event batches: a run shown
        between a batch being folded in and being announced already holds that batch's lines,
        which must not appear twice."""
        run = self.run
        if run is None or run.total <= self._seen:
            return
        n = run.total - self._seen
        self._seen = run.total
        lines = run.lines
        if n > len(lines):  # more came at once than the run keeps: say where lines are missing
            self._add([self._not_kept(run, n - len(lines)), *lines])
        elif n == len(lines):
            self._add(list(lines))
        else:  # from the end: the work is the new lines, not the run's kept ones
            new: list[Entry] = list(islice(reversed(lines), n))
            new.reverse()
            self._add(new)

    @staticmethod
    def _not_kept(run: RunOutput, count: int) -> str:
        return (f"── {count:,} lines not kept here: crondeck logs {shlex.quote(run.job)} "
                f"--run {shlex.quote(run.run_id)} prints them")

    def finished(self) -> None:
        """The shown run ended: add its outcome line (unless `show_run` already did: the run
        can be shown between its end being folded in and being announced)."""
        if self.run is not None and self.run.result is not None and not self._outcome_shown:
            self._outcome_shown = True
            self._add([self.outcome(self.run)])

    def _add(self, new: list[Entry]) -> None:
        if not new:
            return
        entries = self._entries
        before = len(entries)
        entries.extend(new)
        gone = before + len(new) - len(entries)  # rolled off the front
        self._first += gone
        self._widest = max(self._widest, self._width_of(new[-MAX_LINES:]))
        if self.wrap:
            self._dead += min(before, gone)  # new lines dropped at once were never counted
            self._count_rows(new[-MAX_LINES:])
        self._resize()
        if self.follow:
            self.scroll_to(y=self.max_scroll_y, animate=False)
        self.refresh()

    @staticmethod
    def _width_of(entries: Sequence[Entry]) -> int:
        texts = [e.text for e in entries if not isinstance(e, str)]
        widest = max((_cells(e) for e in entries if isinstance(e, str)), default=0)
        if not texts:
            return widest
        joined = "".join(texts)  # one check for a whole batch of plain ASCII lines
        if joined.isascii() and "\t" not in joined:
            return max(widest, max(map(len, texts)) + _PREFIX)
        return max(widest, max(map(_cells, texts)) + _PREFIX)

    def _resize(self) -> None:
        if self.wrap:
            set_virtual_size(self, Size(self._wrap_width, self.row_count))
            return
        width = self._widest + (_STAMP if self.timestamps else 0)
        set_virtual_size(self, Size(width, len(self._entries)))

    # -- wrapping -------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows the kept lines take (one per line unless wrapping)."""
        if not self.wrap:
            return len(self._entries)
        return self._rows_total - (self._starts[self._dead] if self._entries else 0)

    def _indent(self, entry: Entry) -> int:
        """Cells a wrapped line's continuation rows start at: under the line's text."""
        if isinstance(entry, str):
            return _PREFIX
        return _PREFIX + (_STAMP if self.timestamps else 0)

    def _breaks(self, entry: Entry, width: int) -> list[int]:
        """Where a line's continuation rows start, in cells of the line as shown: after the
        last space that leaves a row at most `BREAK_LOOKBACK` short, else mid-word (and
        always mid-word for wide characters, whose cells are not their characters)."""
        indent = self._indent(entry)
        room = width - indent
        text = self.format_entry(entry)
        size = _cells(text)
        if not (text.isascii() and "\t" not in text):
            return list(range(width, size, room))
        starts: list[int] = []
        end = width
        while end < size:
            if text[end] != " " and text[end - 1] != " ":
                space = text.rfind(" ", max(end - BREAK_LOOKBACK, (starts[-1] if starts
                                                                   else indent) + 1), end)
                if space > 0:
                    end = space + 1
            starts.append(end)
            end += room
        return starts

    def _count_rows(self, new: Iterable[Entry]) -> None:
        width = self._wrap_width
        starts = self._starts
        total = self._rows_total
        lead = _PREFIX + (_STAMP if self.timestamps else 0)  # read once: a flood is per line
        for entry in new:
            starts.append(total)
            cells = _cells(entry) if isinstance(entry, str) else _cells(entry.text) + lead
            total += 1 if cells <= width else 1 + len(self._breaks(entry, width))
        self._rows_total = total
        if self._dead > MAX_LINES:  # drop the rolled-off starts now and then, not per line
            del starts[:self._dead]
            self._dead = 0

    def _relayout(self) -> None:
        """Recount every kept line's rows (wrap toggled, width or timestamps changed)."""
        self._starts = []
        self._dead = 0
        self._rows_total = 0
        if self.wrap:
            # never narrower than the continuation indent plus some text
            self._wrap_width = max(self.scrollable_content_region.width or self.size.width,
                                   _STAMP + _PREFIX + 8)
            self._count_rows(self._entries)

    def _locate(self, row: int) -> tuple[int, int]:
        """(entry index, row within the entry) of a row of the pane."""
        if not self.wrap:
            return row, 0
        base = self._starts[self._dead]
        i = bisect_right(self._starts, base + row, lo=self._dead) - 1
        return i - self._dead, base + row - self._starts[i]

    def _row_of(self, index: int) -> int:
        """The pane row an entry starts at."""
        if not self.wrap:
            return index
        return self._starts[self._dead + index] - self._starts[self._dead]

    def on_resize(self) -> None:
        if self.wrap:
            width = max(self.scrollable_content_region.width or self.size.width,
                        _STAMP + _PREFIX + 8)
            if width != self._wrap_width:
                self._rewrap()

    def _rewrap(self) -> None:
        """Lay the lines out again, keeping the top line in view (or the end when following)."""
        top_entry = int(self.scroll_y)  # in the layout being left: unwrapped, or wrapped
        if self._starts and self._entries:
            top_entry = bisect_right(self._starts, self._starts[self._dead] + top_entry,
                                     lo=self._dead) - 1 - self._dead
        self._cache.clear()
        self._relayout()
        self._resetting = True
        try:
            self._resize()
            y = self.max_scroll_y if self.follow else self._row_of(
                min(top_entry, max(0, len(self._entries) - 1))) if self._entries else 0
            self.scroll_to(x=0, y=y, animate=False, immediate=True)
        finally:
            self._resetting = False
        self.refresh()

    @staticmethod
    def outcome(run: RunOutput) -> str:
        r = run.result
        assert r is not None
        took = f" after {duration(r.duration)}" if r.duration is not None else ""
        what = r.status.value.replace("_", " ")
        if r.skip_reason is SkipReason.GATE:  # the exit code is the gate's; its reason is
            why = f": {r.reason}" if r.reason else ""  # all the output such a slot has
            code = f" (exit code {r.exit_code})" if r.exit_code not in (None, 0) else ""
            what = f"skipped by its pre-run gate{code}{why}"
        elif r.exit_code not in (None, 0):
            what += f" (exit code {r.exit_code})"
        elif r.error and not r.ok:  # a missed slot's reason already starts "missed: "
            what += f": {r.reason.removeprefix(what + ': ')}"
        return f"── {what}{took}"

    # -- rendering ------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._cache.clear()

    def selection_updated(self, selection: Selection | None) -> None:
        self._cache.clear()
        self.refresh()

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(self.lines)), "\n"

    def _style(self, component: str) -> Style:
        style = self._styles.get(component)
        if style is None:
            style = self._styles[component] = self.get_component_rich_style(component)
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        if not 0 <= scroll_y + y < self.row_count:
            return Strip.blank(width, base)
        index, part = self._locate(scroll_y + y)
        selection = self.text_selection
        strip = self._cache.get(self._first + index) if selection is None else None
        if strip is None:
            strip = self._render_entry(index, base, selection)
            if selection is None:
                self._cache[self._first + index] = strip
        if self.wrap:
            key = (self._first + index, part)
            row = self._cache.get(key) if selection is None else None
            if row is None:
                row = self._wrapped_row(index, part, strip, base)
                if selection is None:
                    self._cache[key] = row
            return row.apply_offsets(0, index)
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_offsets(scroll_x, index)

    def _wrapped_row(self, index: int, part: int, strip: Strip, base: Style) -> Strip:
        """Row `part` of a wrapped line: the first `width` cells, then each next `width -
        indent` cells after an indent (the stderr marker repeats in it)."""
        width = self._wrap_width
        entry = self._entries[index]
        breaks = self._breaks(entry, width)
        if part == 0:
            return strip.crop_extend(0, breaks[0] if breaks else width, base).extend_cell_length(
                width, base)
        indent = self._indent(entry)
        start = breaks[part - 1]
        stop = breaks[part] if part < len(breaks) else start + width - indent
        body = strip.crop(start, stop)
        if isinstance(entry, OutputLine) and entry.stream == "stderr":
            stamp = indent - _PREFIX
            lead = Strip.join([Strip.blank(stamp, base), strip.crop(stamp, indent)])
        else:
            lead = Strip.blank(indent, base)
        return Strip.join([lead, body]).extend_cell_length(width, base)

    def _render_entry(self, index: int, base: Style, selection: Selection | None) -> Strip:
        entry = self._entries[index]
        plain = _CONTROL("�", self.format_entry(entry))
        text = Text(plain, no_wrap=True, end="")
        text.stylize(base)
        offset = 0
        if isinstance(entry, OutputLine):
            if self.timestamps:
                offset = _STAMP
                text.stylize(self._style("output-pane--stamp"), 0, offset)
            if entry.stream == "stderr":
                text.stylize(self._style("output-pane--stderr"), offset)
        elif plain.startswith("──"):
            text.stylize(self._style("output-pane--note"))
        if self.search:
            self._mark_matches(text, plain, index)
        if selection is not None and (span := selection.get_span(index)) is not None:
            start, end = span
            text.stylize(self.screen.get_component_rich_style("screen--selection"),
                         start, len(plain) if end == -1 else end)
        return Strip(text.render(self.app.console), text.cell_len)

    # -- search ---------------------------------------------------------------------------

    def _mark_matches(self, text: Text, plain: str, index: int) -> None:
        needle = self.search.casefold()
        style = self._style("output-pane--match-current" if self._first + index == self.current
                            else "output-pane--match")
        hay = plain.casefold()
        if len(hay) != len(plain):  # casefold changed lengths (ß): match as typed
            hay, needle = plain, self.search
        at = hay.find(needle)
        while at >= 0:
            text.stylize(style, at, at + len(needle))
            at = hay.find(needle, at + len(needle))

    def _matches(self, entry: Entry) -> bool:
        return self.search.casefold() in self.format_entry(entry).casefold()

    def match_count(self) -> tuple[int, int]:
        """(position of the current match, number of lines holding the search text)."""
        if not self.search:
            return 0, 0
        needle = self.search.casefold()
        position = total = 0
        for i, entry in enumerate(self._entries):
            if needle in self.format_entry(entry).casefold():
                total += 1
                if self._first + i == self.current:
                    position = total
        return position, total

    def watch_search(self) -> None:
        self.current = None
        self._cache.clear()
        self.refresh()
        self.post_message(self.SearchMoved())

    def find(self, step: int = 1, *, here: bool = False) -> bool:
        """Move to the next (`step` 1) or previous (-1) line holding the search text, from
        the current match or the line at the top of the view, wrapping around the run; `here`
        lets the starting line itself match (as typing refines a search). False: none."""
        entries = self._entries
        if not self.search or not entries:
            return False
        count = len(entries)
        if self.current is not None and self.current >= self._first:
            start = self.current - self._first
        else:
            start = self._locate(int(self.scroll_y))[0] if self.row_count else 0
            here = here or step > 0
        first = start if here else start + step
        for k in range(count):
            i = (first + k * step) % count
            if self._matches(entries[i]):
                self.current = self._first + i
                self._cache.clear()
                self._stop_following()
                row = self._row_of(i)
                if not self.scroll_offset.y <= row < self.scroll_offset.y + self.size.height - 1:
                    self.scroll_to(y=max(0, row - self.size.height // 3), animate=False,
                                   immediate=True)
                self.refresh()
                self.post_message(self.SearchMoved())
                return True
        return False

    def action_search(self) -> None:
        self.post_message(self.SearchRequested())

    def action_find(self, step: int) -> None:
        if not self.search:
            self.post_message(self.SearchRequested())
        elif not self.find(step):
            self.app.bell()

    # -- follow mode ----------------------------------------------------------------------

    # Follow turns off only on the operator's own scrolling up, never on layout changes.
    # The handlers below run before Textual's own, which then scroll as usual.

    def _stop_following(self) -> None:
        if self.follow and not self._resetting:
            self.follow = False

    def action_scroll_up(self) -> None:
        self._stop_following()
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self._stop_following()
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self._stop_following()
        super().action_scroll_home()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._stop_following()

    def on_scroll_to(self, message: ScrollTo) -> None:  # dragging the scrollbar
        if message.y is not None and message.y < self.max_scroll_y:
            self._stop_following()

    def on_scroll_up(self, event: ScrollUp) -> None:  # clicking the scrollbar track
        self._stop_following()

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.scroll_end(animate=False, immediate=True)
        self.post_message(self.FollowChanged(follow))

    def watch_timestamps(self) -> None:
        if self.wrap:
            self._rewrap()
            return
        self._cache.clear()
        self._resize()
        self.refresh()

    def watch_wrap(self) -> None:
        self._rewrap()

    def action_follow_end(self) -> None:
        self.follow = True
