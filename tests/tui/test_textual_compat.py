"""Each entry of `crondeck.tui.textual_compat` does what crondeck relies on, tested by its
effect, so that a Textual upgrade that changes the private API behind one fails here."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import select
import sys
import time

import pytest
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual._styles_cache import StylesCache
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.drivers.linux_driver import LinuxDriver
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Footer, Static

from crondeck.tui.textual_compat import (
    LineApiView,
    QuickRepaint,
    app_driver,
    dismiss_notification,
    footer_keys,
    relabel_footer_key,
    set_virtual_size,
    shown_notifications,
    writer_thread,
)

# -- notifications ------------------------------------------------------------------------


def _toasts(app: App[None]) -> list[str]:
    """The toasts drawn on the current screen, as their text."""
    return [str(toast.render()) for toast in app.screen.query("Toast")]


def test_shown_notifications_lists_those_still_up_oldest_first():
    async def go() -> None:
        app: App[None] = App()
        async with app.run_test(notifications=True) as pilot:
            app.notify("stays", timeout=60)
            app.notify("goes soon", timeout=0.2)
            await pilot.pause()
            assert [n.message for n in shown_notifications(app)] == ["stays", "goes soon"]
            await asyncio.sleep(0.3)
            assert [n.message for n in shown_notifications(app)] == ["stays"]

    asyncio.run(go())


def test_dismiss_notification_takes_that_toast_down_and_leaves_the_others():
    async def go() -> None:
        app: App[None] = App()
        async with app.run_test(notifications=True) as pilot:
            app.notify("a run failed", title="Run failed", timeout=60)
            app.notify("the jobs file was reloaded", timeout=60)
            await pilot.pause()
            assert len(_toasts(app)) == 2
            failed = next(n for n in shown_notifications(app) if n.title == "Run failed")
            dismiss_notification(app, failed)
            await pilot.pause()
            assert [n.message for n in shown_notifications(app)] == [
                "the jobs file was reloaded"]
            drawn = _toasts(app)
            assert len(drawn) == 1 and "the jobs file was reloaded" in drawn[0]

    asyncio.run(go())


# -- scrolling ----------------------------------------------------------------------------


class Lines(ScrollView):
    DEFAULT_CSS = "Lines { height: 10; width: 30; }"

    def render_line(self, y: int) -> Strip:
        return Strip([Segment(f"line {int(self.scroll_y) + y}")])


class LinesApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Lines()


def test_set_virtual_size_updates_scrollbar_and_scroll_range_at_once():
    """Without a layout: the scrollbar's thumb and the scroll range follow the new size
    immediately, and a scroll past the new end is pulled back."""

    async def go() -> None:
        async with LinesApp().run_test(size=(40, 20)) as pilot:
            view = pilot.app.query_one(Lines)
            set_virtual_size(view, Size(10, 100))  # the scrollbar appears: Textual lays out
            await pilot.pause()
            assert view.show_vertical_scrollbar
            assert view.max_scroll_y == 90

            set_virtual_size(view, Size(10, 200))
            assert view.virtual_size == Size(10, 200)
            assert view.vertical_scrollbar.window_virtual_size == 200
            assert view.max_scroll_y == 190
            view.scroll_to(y=view.max_scroll_y, animate=False, immediate=True)
            assert view.scroll_y == 190

            set_virtual_size(view, Size(10, 50))
            assert view.vertical_scrollbar.window_virtual_size == 50
            assert view.scroll_y == 40  # clamped to the new end
            await pilot.pause()
            assert view.render_line(0).text.startswith("line 40")

    asyncio.run(go())


class ApiLines(LineApiView):
    DEFAULT_CSS = "ApiLines { height: 10; width: 30; }"

    def render_line(self, y: int) -> Strip:
        return Strip([Segment(f"line {int(self.scroll_y) + y}")])


class TwoViewsApp(App[None]):
    """A line-API view of each kind, and a line whose showing lays the screen out."""

    def compose(self) -> ComposeResult:
        yield Lines()
        yield ApiLines()
        yield Static("a notice", id="notice")


def test_line_api_view_keeps_its_scrollbar_through_a_screen_layout():
    """A layout of the screen re-sizes (and repaints) a plain ScrollView's scrollbar, not a
    LineApiView's; a change of the view's own size still updates its scrollbar."""

    async def go() -> None:
        async with TwoViewsApp().run_test(size=(40, 30)) as pilot:
            plain, api = pilot.app.query_one(Lines), pilot.app.query_one(ApiLines)
            for view in (plain, api):
                set_virtual_size(view, Size(10, 100))
            await pilot.pause()
            assert plain.show_vertical_scrollbar and api.show_vertical_scrollbar
            repainted: dict[object, int] = {plain: 0, api: 0}
            for view in (plain, api):
                bar = view.vertical_scrollbar

                def spy(*args, _view=view, _refresh=bar.refresh, **kwargs):
                    repainted[_view] += 1
                    return _refresh(*args, **kwargs)

                bar.refresh = spy  # type: ignore[method-assign]
            notice = pilot.app.query_one("#notice")
            notice.display = False  # the screen is laid out again; neither view moves
            await pilot.pause()
            assert plain.region.height == api.region.height == 10
            assert repainted[plain] > 0  # what LineApiView is there to avoid
            assert repainted[api] == 0

            api.styles.height = 6  # its own size changed: the scrollbar follows
            await pilot.pause()
            assert repainted[api] > 0
            assert api.vertical_scrollbar.window_size == 6
            assert api.vertical_scrollbar.window_virtual_size == 100

    asyncio.run(go())


class Countdowns(LineApiView):
    """Bordered rows, each a styled name and a countdown that moves on its own."""

    DEFAULT_CSS = """
    Countdowns { height: 8; width: 34; border: round $accent; background: $surface; }
    Countdowns.-greyed { tint: $background 55%; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.left = list(range(100, 110))

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        return Strip([Segment(f"job-{y} ", base + RichStyle(bold=True)),
                      Segment(f"in {self.left[y]}s", base)])  # shorter than the view: padded


class CountdownsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Countdowns()


def _lines_as_textual_renders_them(view: LineApiView) -> list[list[Segment]]:
    """The view's lines rendered by Textual from scratch (a whole repaint keeps nothing),
    every line Textual's way (`Widget.render_lines`, not the view's own)."""
    view.refresh()
    return [list(strip) for strip in Widget.render_lines(view, view.size.region)]


@pytest.mark.parametrize("greyed", [False, True])
def test_line_api_view_repaints_a_line_as_textual_would_without_restyling_it(greyed):
    """A repainted content line is rebuilt around its new content with the segments Textual
    would make (border cells, padding, styles); Textual's own per-line styling is skipped
    unless the view has something it must do (here a tint)."""

    async def go() -> None:
        async with CountdownsApp().run_test(size=(40, 12)) as pilot:
            view = pilot.app.query_one(Countdowns)
            view.set_class(greyed, "-greyed")
            await pilot.pause()
            styled: list[int] = []
            textual_render_line = StylesCache.render_line

            def spy(cache, styles, y, *args, **kwargs):
                styled.append(y)
                return textual_render_line(cache, styles, y, *args, **kwargs)

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(StylesCache, "render_line", spy)
                for y in (0, 3, 5):
                    view.left[y] -= 1
                    view.refresh(Region(4, y, 8, 1))
                await pilot.pause()
            shown = [list(strip) for strip in view.render_lines(view.size.region)]
            assert any("in 102s" in Strip(line).text for line in shown)
            assert styled == ([1, 4, 6] if greyed else [])  # the content lines, below the border
            assert shown == _lines_as_textual_renders_them(view)

    asyncio.run(go())


class FocusCountdowns(Countdowns):
    DEFAULT_CSS = """
    FocusCountdowns { border: round $foreground 35%; }
    FocusCountdowns:focus { border: round $accent; }
    """
    can_focus = True


class FocusApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FocusCountdowns()
        yield FocusCountdowns()


@pytest.mark.parametrize("change", ["focus", "repaint", "width"])
def test_line_api_view_restyled_whole_styles_one_line_and_copies_its_border(change):
    """Where no styled version of a line is kept (the view restyled because its focus changed
    its border's colour, repainted whole, or given a new width), one content line is styled
    by Textual and the others are rebuilt with its border cells: the same segments as
    Textual's, new border colour included."""

    async def go() -> None:
        async with FocusApp().run_test(size=(40, 20)) as pilot:
            view, other = pilot.app.query(FocusCountdowns).results()
            view.focus()
            await pilot.pause()
            before = [list(strip) for strip in view.render_lines(view.size.region)]
            styled: list[int] = []
            textual_render_line = StylesCache.render_line

            def spy(cache, styles, y, *args, **kwargs):
                if cache is view._styles_cache:
                    styled.append(y)
                return textual_render_line(cache, styles, y, *args, **kwargs)

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(StylesCache, "render_line", spy)
                if change == "focus":
                    other.focus()
                elif change == "repaint":
                    view.refresh()
                else:
                    view.styles.width = 30
                await pilot.pause()
                shown = [list(strip) for strip in view.render_lines(view.size.region)]
            assert sorted(styled) == [0, 1, 7]  # top border, one content line, bottom border
            assert shown == _lines_as_textual_renders_them(view)
            if change == "focus":
                assert shown != before  # the border's colour did change
            assert any("in 100s" in Strip(line).text for line in shown)

    asyncio.run(go())


class QuickScreen(QuickRepaint, Screen[None]):
    DEFAULT_CSS = """
    QuickScreen { background: $surface; }
    QuickScreen.-alert { background: $error; }
    """

    def compose(self) -> ComposeResult:
        yield Static("top", id="top")


def test_quick_repaint_screen_restyled_draws_what_textual_draws():
    """A screen (no border) restyled to a new background: one line styled by Textual, the
    others rebuilt from it, and every line as Textual's own."""

    async def go() -> None:
        app: App[None] = App()
        async with app.run_test(size=(30, 6)) as pilot:
            screen = QuickScreen()
            await app.push_screen(screen)
            await pilot.pause()
            before = {seg.style.bgcolor for strip in screen.render_lines(screen.size.region)
                      for seg in strip}
            styled: list[int] = []
            textual_render_line = StylesCache.render_line

            def spy(cache, styles, y, *args, **kwargs):
                if cache is screen._styles_cache:
                    styled.append(y)
                return textual_render_line(cache, styles, y, *args, **kwargs)

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(StylesCache, "render_line", spy)
                screen.add_class("-alert")
                await pilot.pause()
                shown = [list(strip) for strip in screen.render_lines(screen.size.region)]
            assert len(styled) == 1
            screen.refresh()
            assert shown == [list(strip) for strip in Widget.render_lines(screen,
                                                                          screen.size.region)]
            after = {seg.style.bgcolor for line in shown for seg in line}
            assert len(after) == 1 and after != before  # the whole screen in the new colour

    asyncio.run(go())


# -- the driver ---------------------------------------------------------------------------


def test_app_driver_is_the_driver_the_app_writes_through():
    async def go() -> None:
        app: App[None] = App()
        assert app_driver(app) is None
        async with app.run_test() as pilot:
            driver = app_driver(app)
            assert driver is not None and driver.is_headless == app.is_headless
            written: list[str] = []
            driver.write = written.append  # type: ignore[method-assign]
            app.copy_to_clipboard("hi")
            await pilot.pause()
            assert any("\x1b]52;c;aGk=" in w for w in written)

    asyncio.run(go())


def _read(fd: int, needle: bytes, timeout: float = 5.0) -> bytes:
    seen = b""
    end = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < end:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def _driver_on_a_pty(monkeypatch: pytest.MonkeyPatch) -> tuple[LinuxDriver, int]:
    """A LinuxDriver whose terminal (in and out) is a fresh pty; returns it and the master."""
    master, slave = pty.openpty()
    terminal = io.TextIOWrapper(io.FileIO(slave, "r+", closefd=True), write_through=True)
    monkeypatch.setattr(sys, "__stdin__", terminal)
    monkeypatch.setattr(sys, "__stderr__", terminal)
    return LinuxDriver(App()), master


def test_writer_thread_writes_the_terminal_in_application_mode(monkeypatch):
    async def go() -> None:
        driver, master = _driver_on_a_pty(monkeypatch)
        try:
            assert writer_thread(driver) is None
            driver.start_application_mode()
            thread = writer_thread(driver)
            assert thread is not None and thread.is_alive()
            driver.write("crondeck-was-here")
            driver.flush()
            assert b"crondeck-was-here" in _read(master, b"crondeck-was-here")
            driver.stop_application_mode()
            driver.close()
            assert not thread.is_alive()
        finally:
            os.close(master)

    asyncio.run(go())


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_writer_thread_dies_when_the_terminal_is_gone(monkeypatch):
    """What `HangupSafeDriver` guards against: after a write to a closed terminal the
    writer thread is dead, and writes would only fill its queue."""

    async def go() -> None:
        driver, master = _driver_on_a_pty(monkeypatch)
        driver.start_application_mode()
        thread = writer_thread(driver)
        assert thread is not None
        driver.exit_event.set()  # stop reading the terminal before it goes
        os.close(master)
        end = time.monotonic() + 5
        while thread.is_alive() and time.monotonic() < end:
            driver.write("x")
            await asyncio.sleep(0.05)
        assert not thread.is_alive()

    asyncio.run(go())


# -- footer keys ----------------------------------------------------------------------------


class _Keys(App[None]):
    BINDINGS = [  # noqa: RUF012 (Textual reads it as a class attribute)
        Binding("space", "pause", "Pause", tooltip="pause it"),
        Binding("r", "run", "Run now"),
        Binding("x", "hidden", "Hidden", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Footer()


def test_footer_keys_are_the_shown_bindings_left_to_right():
    async def go() -> None:
        app = _Keys()
        async with app.run_test() as pilot:
            await pilot.pause()
            keys = footer_keys(app.query_one(Footer))
            assert [(k.key, k.description, k.action) for k in keys][:2] == [
                ("space", "Pause", "pause"), ("r", "Run now", "run")]

    asyncio.run(go())


def test_relabel_footer_key_shows_and_does_the_new_binding():
    async def go() -> None:
        app = _Keys()
        async with app.run_test() as pilot:
            await pilot.pause()
            footer = app.query_one(Footer)
            pause = footer_keys(footer)[0]
            width = pause.size.width
            resume = Binding("space", "resume", "Resume", tooltip="resume it")
            assert relabel_footer_key(pause, resume, "resume it") is True
            await pilot.pause()
            assert "Resume" in str(pause.render()) and "Pause" not in str(pause.render())
            assert pause.action == "resume" and pause.tooltip == "resume it"
            assert pause.size.width == width + 1  # laid out again for the longer word
            same = Binding("space", "pause", "Paused", tooltip="")
            assert relabel_footer_key(pause, same, "") is False
            assert pause.tooltip is None

    asyncio.run(go())
