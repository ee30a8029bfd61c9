"""`LineList`: a keyboard-first list on Textual's line API (`ScrollView` + `render_line`).

Only the rows in view are rendered, so a list of 10,000 items costs the same to repaint as
one of ten, and refreshing it (e.g. each second for countdowns) never rebuilds anything.
Subclasses supply `row_count`, `render_row()` and optionally `render_header()`; the base keeps
a cursor, scrolls to it and posts `CursorMoved` / `Activated` with the row index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip

from ..textual_compat import LineApiView, set_virtual_size

__all__ = ["LineList", "Pieces", "fit", "to_strip"]

Pieces = list[tuple[str, Style | None]]
LINES_CACHED = 512  # rendered lines kept: a few screenfuls


def fit(pieces: Pieces, width: int) -> Pieces:
    """Cut (text, style) pieces to `width` cells, ending with `…` in the style of the piece
    it lands on, as Rich's `Text.truncate(overflow="ellipsis")` does (rows look the same)."""
    if sum(cell_len(t) for t, _ in pieces) <= width:
        return pieces
    if width <= 0:
        return []
    out: Pieces = []
    room = width - 1
    for text, style in pieces:
        size = cell_len(text)
        if size <= room:
            out.append((text, style))
            room -= size
            continue
        out.append((set_cell_size(text, room) + "…", style))
        break
    return out


def to_strip(pieces: Pieces, base: Style, over: Style | None, width: int,
             styled: dict[tuple[Style, Style | None, Style | None], Style] | None = None,
             ) -> Strip:
    """Pieces as one line: each in the widget's base style, then its own, then `over` (the
    cursor), padded or cropped to `width` in the base style. Neighbouring pieces of one
    style become one segment, as Rich's text layout would make them. `styled` keeps the
    combined styles from line to line (the caller drops it when its styles change)."""
    if styled is None:
        styled = {}
    segments: list[Segment] = []
    append = segments.append
    cells = 0
    last: Style | None = None
    buffer: list[str] = []
    for text, style in pieces:
        if style is not last or not buffer:
            if buffer:
                append(Segment("".join(buffer), _combined(styled, base, last, over)))
                buffer.clear()
            last = style
        buffer.append(text)
        cells += cell_len(text)
    if buffer:
        append(Segment("".join(buffer), _combined(styled, base, last, over)))
    if cells > width:
        return Strip(segments).crop_extend(0, width, base)
    if cells < width:
        append(Segment(" " * (width - cells), base))
    return Strip(segments, width)


def _combined(styled: dict[tuple[Style, Style | None, Style | None], Style], base: Style,
              style: Style | None, over: Style | None) -> Style:
    key = (base, style, over)
    final = styled.get(key)
    if final is None:
        final = base + style if style else base
        if over is not None:
            final += over
        styled[key] = final
    return final


class LineList(LineApiView, can_focus=True):
    """A cursor over rows rendered one line at a time; row 0 of the view may be a header."""

    BINDINGS: ClassVar = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="list.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="list.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="list.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="list.page_down"),
        Binding("home,g", "jump(0)", "First", show=False, id="list.first"),
        Binding("end,G", "jump(-1)", "Last", show=False, id="list.last"),
        Binding("enter", "activate", "Open", show=False, id="list.open"),
    ]

    COMPONENT_CLASSES: ClassVar = {"line-list--header", "line-list--cursor", "line-list--dim"}

    cursor = reactive(0, always_update=True, repaint=False)
    has_header = True
    cursor_when_blurred = True  # False: the cursor shows only while the pane has focus
    empty_text = ""  # shown (dim) in the first row while there are no rows

    @dataclass
    class CursorMoved(Message):
        """The highlighted row changed."""

        widget: LineList
        index: int

    @dataclass
    class Activated(Message):
        """Enter (or a double click) on a row."""

        widget: LineList
        index: int

    # -- subclass hooks -------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return 0

    def render_header(self, width: int) -> Text:
        return Text("")

    def render_row(self, index: int, width: int) -> Text:
        return Text("")

    # -- geometry ---------------------------------------------------------------------------

    @property
    def _top(self) -> int:
        return 1 if self.has_header else 0

    # -- caches: styles are resolved once per style change, lines once per content change --

    def style_of(self, component: str) -> Style:
        """A component class's (partial) rich style, cached until styles or focus change."""
        cache = self.__dict__.setdefault("_style_cache", {})
        style = cache.get(component)
        if style is None:
            style = cache[component] = self.get_component_rich_style(component, partial=False)
        return style

    def _base_style(self) -> Style:
        cache = self.__dict__.setdefault("_style_cache", {})
        style = cache.get(None)
        if style is None:
            style = cache[None] = self.rich_style
        return style

    def combined_styles(self) -> dict[tuple[Style, Style | None, Style | None], Style]:
        """`to_strip`'s combined styles, kept until styles or focus change."""
        cache = self.__dict__.setdefault("_style_cache", {})
        combined = cache.get("combined")
        if combined is None:
            combined = cache["combined"] = {}
        return combined  # type: ignore[no-any-return]

    def _lines(self) -> LRUCache[tuple[int, int], Strip]:
        """Rendered lines by (row index, width); -1 is the header."""
        cache = self.__dict__.get("_line_cache")
        if cache is None:
            cache = self.__dict__["_line_cache"] = LRUCache(LINES_CACHED)
        return cache

    def invalidate(self) -> None:
        """Content changed (e.g. each second for countdowns): re-render the visible lines."""
        self._lines().clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.__dict__.pop("_style_cache", None)
        self.__dict__.pop("_line_cache", None)
        self.__dict__.pop("_width_cache", None)  # a border or gutter may have changed

    def rows_changed(self) -> None:
        """Call after the number or order of rows changed."""
        self._lines().clear()
        count = self.row_count
        set_virtual_size(self, Size(self.size.width, count + self._top))
        if count and self.cursor >= count:
            self.cursor = count - 1
        self.refresh()

    def refresh_rows(self, *indexes: int) -> None:
        """Repaint just these rows (if in view): a cursor move touches two lines, not all."""
        top = int(self.scroll_y)
        width = self.size.width
        for index in indexes:
            y = index - top + self._top
            if self._top <= y < self.size.height:
                self.refresh(Region(0, y, width, 1))

    def watch_cursor(self, old: int, new: int) -> None:
        count = self.row_count
        if count == 0:
            return
        clamped = max(0, min(new, count - 1))
        if clamped != new:
            self.cursor = clamped
            return
        scrolled = self._scroll_to_cursor()
        lines = self._lines()
        cached = lines.keys()  # at any width the view had (an LRUCache is not iterable)
        for key in [k for k in cached if k[0] in (old, new)]:
            lines.discard(key)
        if not scrolled:  # a scroll repaints the whole view by itself
            self.refresh_rows(old, new)
        if old != new:
            self.post_message(self.CursorMoved(self, new))

    def _scroll_to_cursor(self) -> bool:
        """Bring the cursor into view; True when that scrolled."""
        visible = max(1, self.scrollable_content_region.height - self._top)
        y = int(self.scroll_y)
        if self.cursor < y:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= y + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)
        else:
            return False
        return int(self.scroll_y) != y

    def on_focus(self) -> None:
        self.__dict__.pop("_style_cache", None)
        self.invalidate()

    def on_blur(self) -> None:
        self.__dict__.pop("_style_cache", None)
        self.invalidate()

    def on_resize(self, event: events.Resize) -> None:
        self.rows_changed()

    # -- actions --------------------------------------------------------------------------

    def action_cursor(self, delta: int) -> None:
        if self.row_count:
            self.cursor = max(0, min(self.cursor + delta, self.row_count - 1))

    def action_page(self, direction: int) -> None:
        step = max(1, self.scrollable_content_region.height - self._top - 1)
        self.action_cursor(direction * step)

    def action_jump(self, where: int) -> None:
        if self.row_count:
            self.cursor = 0 if where == 0 else self.row_count - 1

    def action_activate(self) -> None:
        if self.row_count:
            self.post_message(self.Activated(self, self.cursor))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y - self._top
        if event.y >= self._top and 0 <= index < self.row_count:
            self.cursor = index
            if event.chain == 2:
                self.action_activate()

    # -- rendering ------------------------------------------------------------------------

    def content_width(self) -> int:
        """Width of a line (the view less its vertical scrollbar), cached: Textual works
        it out anew on every call, and every rendered line asks. Keyed by the outer size,
        which the layout stores (`size` asks the compositor for the region each time)."""
        key = (self.outer_size, self.show_vertical_scrollbar)
        cached = self.__dict__.get("_width_cache")
        if cached is None or cached[0] != key:
            width = self.scrollable_content_region.width or self.size.width
            cached = self.__dict__["_width_cache"] = (key, width)
        return cached[1]

    def render_line(self, y: int) -> Strip:
        width = self.content_width()
        index = -1 if self.has_header and y == 0 else int(self.scroll_y) + y - self._top
        cache = self._lines()
        key = (index, width)
        strip = cache.get(key)
        if strip is None:
            strip = self._render_index(index, width)
            cache[key] = strip
        return strip

    def _render_index(self, index: int, width: int) -> Strip:
        base = self._base_style()
        if index == -1:
            text = self.render_header(width)
            cache = self.__dict__.setdefault("_style_cache", {})
            if "header" not in cache:
                cache["header"] = self.get_component_rich_style("line-list--header")
            text.stylize(cache["header"])
            return self._strip(text, width, base)
        if index == 0 and self.row_count == 0 and self.empty_text:
            text = Text(self.empty_text)
            text.stylize(self.style_of("line-list--dim"))
            return self._strip(text, width, base)
        if index < 0 or index >= self.row_count:
            return Strip.blank(width, base)
        text = self.render_row(index, width)
        if index == self.cursor and (self.has_focus or self.cursor_when_blurred):
            text.stylize(self.cursor_style())
        return self._strip(text, width, base)

    def cursor_style(self) -> Style:
        """The cursor row's style (differs with focus), cached until styles or focus change."""
        cache = self.__dict__.setdefault("_style_cache", {})
        style = cache.get("cursor")
        if style is None:
            style = cache["cursor"] = self.get_component_rich_style("line-list--cursor")
        return style

    def _strip(self, text: Text, width: int, base: Style) -> Strip:
        text.no_wrap = True
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = [Segment(s.text, base + s.style if s.style else base, s.control)
                    for s in text.render(self.app.console, end="")]
        return Strip(segments, width).crop_extend(0, width, base)
