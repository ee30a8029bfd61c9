"""Every use of Textual's private API in crondeck, in one place.

Textual offers no public way to do these few things, so each reaches into its internals.
They were checked against Textual 8.2.8 (the version pinned in pyproject.toml), and
tests/tui/test_textual_compat.py tests each by what it does, so a Textual upgrade that
changes one of them fails there, by name, instead of somewhere in the dashboard.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from rich.segment import Segment
from textual.app import App
from textual.binding import Binding
from textual.driver import Driver
from textual.geometry import Region, Size, Spacing
from textual.notifications import Notification
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

if TYPE_CHECKING:  # not imported at run time: it needs termios (none on Windows)
    from textual.drivers.linux_driver import LinuxDriver

__all__ = [
    "LineApiView",
    "QuickRepaint",
    "app_driver",
    "dismiss_notification",
    "footer_keys",
    "relabel_footer_key",
    "set_virtual_size",
    "shown_notifications",
    "writer_thread",
]


def shown_notifications(app: App[Any]) -> list[Notification]:
    """The app's notifications still up (not timed out or dismissed), oldest first.

    Needed because a failure toast must be taken down when another screen goes on top, and
    only the app's own (private) collection says which are still up. Textual 8.2.8:
    `App._notifications`, a `Notifications` that drops expired ones as it is read."""
    return list(app._notifications)


def dismiss_notification(app: App[Any], notification: Notification) -> None:
    """Take one notification (toast) down, as clicking it does.

    Textual's public API clears all notifications or none; crondeck takes down its own
    failure toasts and leaves other notices up. Textual 8.2.8: `App._unnotify`, which the
    toast itself calls when clicked."""
    app._unnotify(notification)


def set_virtual_size(view: ScrollView, size: Size) -> None:
    """Give a line-API view a new scrollable size without a screen-wide layout.

    Textual's `virtual_size` is a layout reactive: assigning it re-lays out and repaints the
    whole screen, though a view whose own size is fixed by CSS moves nothing else when its
    content grows. So the value is set quietly and only the view's own scrollbars and scroll
    position are updated; if that changes whether a scrollbar shows, Textual still lays out
    (that reactive is a layout one), so nothing is ever mis-drawn. Textual 8.2.8:
    `Widget._scroll_update`, what a layout calls to size the scrollbars and clamp the scroll.
    """
    if view.virtual_size == size:
        return
    view.set_reactive(Widget.virtual_size, size)
    if view.is_mounted and view.container_size:
        view._scroll_update(size)
    view.refresh()


_NO_SPACING = Spacing(0, 0, 0, 0)

# A mixin, not a Widget: Textual inherits CSS, bindings and component classes along each
# widget class's first DOMNode base only, which this must not take the place of.
if TYPE_CHECKING:
    _Mixin = Widget
else:
    _Mixin = object


class QuickRepaint(_Mixin):
    """A widget whose repainted lines skip Textual's restyling where nothing needs it.

    A line repainted (`refresh(region)`) is styled again by Textual as a whole: the border's
    styles and colours worked out anew and the line rebuilt around the content, for each
    line, which costs more than rendering the content itself (a countdown tick repaints
    forty-odd lines). A widget with no padding, outline, hatch, tint or opacity puts nothing
    but its border cells (if any) around the content, padded to the content width, so a
    dirty content line is rebuilt from its new content and the border cells of its last
    styled version, or, where none is kept (a whole repaint, a restyle such as a change of
    focus, a new width), of the first such line, styled by Textual: the segments Textual
    would make. Anything else goes Textual's way. Textual 8.2.8: `Widget._styles_cache` (a
    `StylesCache`), its per-line `_cache`, its `_dirty_lines` and the `_width` it was rendered at;
    `StylesCache.render_line` builds a content line as `[left, *content padded, right]`.
    Put it before the widget class in the bases: `class View(QuickRepaint, ScrollView)`."""

    def render_lines(self, crop: Region) -> list[Strip]:
        """The lines in `crop`, dirty content lines rebuilt the short way where they can be."""
        cache = self._styles_cache
        dirty = cache._dirty_lines
        if dirty and not self.BLANK:
            self._restyle(cache._cache, dirty, crop)
        return super().render_lines(crop)

    def _restyle(self, lines: dict[int, Strip], dirty: set[int], crop: Region) -> None:
        width, height = self.region.size
        styles = self.styles
        if (styles.tint.a or self.opacity != 1.0 or styles.text_opacity != 1.0
                or styles.padding != _NO_SPACING or any(kind for kind, _ in styles.outline)
                or (styles.has_rule("hatch") and styles.hatch != "none")):
            return
        (top, _), (right, _), (bottom, _), (left, _) = styles.border
        first, last = (1 if top else 0), height - (1 if bottom else 0)
        inner_width = width - (1 if left else 0) - (1 if right else 0)
        pad_style: Any = None
        render_line = self.render_line
        # what lines with no version kept take their border cells from: the first of them
        # styled by Textual now (a whole repaint, a restyle, a new width keep nothing)
        template: Strip | None = None
        for y in crop.line_range:
            if not first <= y < last or (y not in dirty and y in lines):
                continue  # a border line, or one kept as it is (Textual's own test)
            old = lines.get(y) if self._styles_cache._width == width else None
            if old is None:
                if template is None:
                    super().render_lines(Region(0, y, width, 1))
                    template = lines.get(y)
                    continue
                old = template
                if old is None:
                    continue
            content = render_line(y - first)
            room = inner_width - content.cell_length
            if room < 0:
                continue  # cut short: Textual's way
            segments = [old._segments[0]] if left else []
            segments.extend(content._segments)
            if room:
                if pad_style is None:
                    base, background = self.background_colors
                    pad_style = Style(background=base + background).rich_style
                segments.append(Segment(" " * room, pad_style))
            if right:
                segments.append(old._segments[-1])
            lines[y] = Strip(segments, width)
            dirty.discard(y)


class LineApiView(QuickRepaint, ScrollView):
    """A line-API view whose scrollbars are re-sized only when its own sizes change.

    A screen's layout hands each `ScrollView` the size of its region as its virtual size,
    never the scrollable size the view set itself (its rows), so `ScrollView` took every
    layout of the screen (a dialog closing, a toast, the footer's keys) for a new virtual
    size and re-sized and repainted its scrollbars, each a Rich render of its whole height.
    Here the view's own virtual size is compared instead (the one `ScrollView` keeps anyway);
    a change of the view's size or of its container still updates them, and `set_virtual_size`
    does when the rows change. Textual 8.2.8: `ScrollView._size_updated`, which a layout
    calls for every widget it places. Its repainted lines are rebuilt as `QuickRepaint`'s."""

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size,
                      layout: bool = True) -> bool:
        return super()._size_updated(size, self.virtual_size, container_size, layout)


def app_driver(app: App[Any]) -> Driver | None:
    """The driver the app is running on (None before it runs).

    Needed to tell the driver that the terminal is gone (SIGHUP), so it stops writing to
    it. Textual 8.2.8: `App._driver`, set when the app starts running."""
    return app._driver


def writer_thread(driver: LinuxDriver) -> threading.Thread | None:
    """The thread that writes the driver's output to the terminal (None outside application
    mode).

    Textual's writer thread dies on the first write to a closed terminal, and every later
    write then blocks on its full queue; a driver that knows the thread is dead can drop
    writes instead. Textual 8.2.8: `LinuxDriver._writer_thread`, started by
    `start_application_mode` and stopped by `close`."""
    return driver._writer_thread


def footer_keys(footer: Footer) -> list[Widget]:
    """The footer's key widgets, left to right (labels and groups are not keys).

    Needed to relabel a key in place (Pause <-> Resume) instead of rebuilding the footer.
    Textual 8.2.8: `FooterKey`, in `textual.widgets._footer` (not exported)."""
    return list(footer.query_children(FooterKey))


def relabel_footer_key(key: Widget, binding: Binding, tooltip: str) -> bool:
    """Make a footer key show and do `binding` (same key display and dimmed state), as the
    footer's own compose would have made it; returns True when its width changed (the
    footer then needs laying out again).

    Textual 8.2.8: `FooterKey` keeps `key`, `description` and `action` as attributes, read
    when it renders and when it is clicked."""
    assert isinstance(key, FooterKey)
    resized = len(key.description) != len(binding.description)
    key.key, key.description, key.action = binding.key, binding.description, binding.action
    key.tooltip = tooltip or None
    key.refresh(layout=resized)
    return resized
