"""The output pane's follow mode turns off when the operator scrolls up by any means (wheel,
scrollbar drag, a click on the scrollbar's track), and scrolls all the same."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.scrollbar import ScrollTo

from crondeck.tui.model import OutputLine, RunOutput
from crondeck.tui.widgets.output_pane import OutputPane

AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield OutputPane(zone=UTC, id="output")

    def on_mount(self) -> None:
        run = RunOutput("job@1", "job", AT)
        for i in range(200):
            run.lines.append(OutputLine(AT, "stdout", f"line {i}"))
        run.total = len(run.lines)
        self.query_one(OutputPane).show_run(run)


def _wheel_up(pane: OutputPane) -> events.MouseScrollUp:
    x, y = pane.region.x + 2, pane.region.y + 2
    return events.MouseScrollUp(widget=pane, x=x, y=y, delta_x=0, delta_y=-1, button=0,
                                shift=False, meta=False, ctrl=False, screen_x=x, screen_y=y)


def _follow_off_after(act) -> tuple[bool, bool, float]:
    """Run `act(pane, pilot)` on a pane following the end of 200 lines; returns whether it
    still follows, whether it is still at the end, and how far it scrolled up."""

    async def go() -> tuple[bool, bool, float]:
        async with PaneApp().run_test(size=(60, 12)) as pilot:
            await pilot.pause()
            pane = pilot.app.query_one(OutputPane)
            assert pane.follow and pane.is_vertical_scroll_end
            end = pane.scroll_y
            await act(pane, pilot)
            await pilot.pause()
            await pilot.wait_for_scheduled_animations()
            return pane.follow, pane.is_vertical_scroll_end, end - pane.scroll_y

    return asyncio.run(go())


def test_the_mouse_wheel_up_turns_follow_off_and_scrolls():
    async def act(pane, pilot):
        pane.post_message(_wheel_up(pane))

    follow, at_end, moved = _follow_off_after(act)
    assert not follow and not at_end and moved > 0


def test_dragging_the_scrollbar_up_turns_follow_off_and_scrolls():
    async def act(pane, pilot):
        pane.post_message(ScrollTo(y=10, animate=False))

    follow, at_end, moved = _follow_off_after(act)
    assert not follow and not at_end and moved > 0


def test_dragging_the_scrollbar_to_the_end_keeps_following():
    async def act(pane, pilot):
        pane.post_message(ScrollTo(y=pane.max_scroll_y, animate=False))

    follow, at_end, _moved = _follow_off_after(act)
    assert follow and at_end


@pytest.mark.slow
def test_a_click_on_the_scrollbar_track_above_the_thumb_turns_follow_off_and_pages_up():
    async def act(pane, pilot):
        await pilot.click(pane, offset=(pane.size.width - 1, 0))

    follow, at_end, moved = _follow_off_after(act)
    assert not follow and not at_end and moved > 0
