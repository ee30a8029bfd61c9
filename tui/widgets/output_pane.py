"""The output pane: one run's output, streaming live, on Textual's line API.

Switching jobs must not cost a screen-wide layout (a Textual `Log` cleared and refilled
causes one on every cursor move). So the pane holds references to the run's `OutputLine`s in
a bounded buffer, formats and renders only the lines in view (`render_line`), and grows its
scrollable size without relaying out its siblings (`set_virtual_size`). Lines arrive in
batches (about ten a second) through `catch_up`; the
number kept is capped. stderr lines carry a `▌` marker and are coloured; timestamps can be
toggled. Follow mode (stick to the end) is on by default and turns itself off as soon as the
operator scrolls up; `f` (or End) turns it back on.
"""

from __future__ import annotations

import re
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
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollTo, ScrollUp
from textual.selection import Selection
from textual.strip import Strip

from crondeck.core import duration

from ..model import OutputLine, RunOutput
from ..textual_compat import set_virtual_size

__all__ = ["MAX_LINES", "OutputPane"]

MAX_LINES = 10_000
ERR_MARK = "▌"
_STAMP = 9  # "HH:MM:SS "
_PREFIX = 2  # "▌ " or "  "
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


class OutputPane(ScrollView, can_focus=True):
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
    ]
    COMPONENT_CLASSES: ClassVar = {"output-pane--stderr", "output-pane--stamp", "output-pane--note"}

    follow = reactive(True)
    timestamps = reactive(False)

    @dataclass
    class FollowChanged(Message):
        follow: bool

    def __init__(self, *, zone: tzinfo, id: str | None = None) -> None:
        super().__init__(id=id)
        self.zone = zone
        self.run: RunOutput | None = None
        self._seen = 0  # how many of the run's lines (`RunOutput.total`) are in the pane
        self._outcome_shown = False
        self._entries: deque[Entry] = deque(maxlen=MAX_LINES)
        self._first = 0  # how many entries have rolled off the front (keeps cache keys stable)
        self._widest = 0  # cells of the widest entry, without timestamp
        self._cache: LRUCache[int, Strip] = LRUCache(1024)
        self._styles: dict[str, Style] = {}
        self._resetting = False

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
        are formatted, when they are drawn."""
        self.run = run
        self._seen = run.total if run is not None else 0
        entries: deque[Entry] = deque(maxlen=MAX_LINES)
        if run is None:
            if placeholder:
                entries.append(placeholder)
        else:
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
        self._add(list(islice(lines, max(0, len(lines) - n), None)))

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
        self._first += before + len(new) - len(entries)  # rolled off the front
        self._widest = max(self._widest, self._width_of(new[-MAX_LINES:]))
        self._resize()
        if self.follow:
            self.scroll_to(y=self.max_scroll_y, animate=False)
        self.refresh()

    @staticmethod
    def _width_of(entries: Iterable[Entry]) -> int:
        return max((_cells(e) if isinstance(e, str) else _cells(e.text) + _PREFIX
                    for e in entries), default=0)

    def _resize(self) -> None:
        width = self._widest + (_STAMP if self.timestamps else 0)
        set_virtual_size(self, Size(width, len(self._entries)))

    @staticmethod
    def outcome(run: RunOutput) -> str:
        r = run.result
        assert r is not None
        took = f" after {duration(r.duration)}" if r.duration is not None else ""
        what = r.status.value.replace("_", " ")
        if r.exit_code not in (None, 0):
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
        index = scroll_y + y
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        if not 0 <= index < len(self._entries):
            return Strip.blank(width, base)
        selection = self.text_selection
        strip = self._cache.get(self._first + index) if selection is None else None
        if strip is None:
            strip = self._render_entry(index, base, selection)
            if selection is None:
                self._cache[self._first + index] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_offsets(scroll_x, index)

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
        if selection is not None and (span := selection.get_span(index)) is not None:
            start, end = span
            text.stylize(self.screen.get_component_rich_style("screen--selection"),
                         start, len(plain) if end == -1 else end)
        return Strip(text.render(self.app.console), text.cell_len)

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
        self._cache.clear()
        self._resize()
        self.refresh()

    def action_follow_end(self) -> None:
        self.follow = True
