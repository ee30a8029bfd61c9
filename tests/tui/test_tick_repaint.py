"""The 1 s countdown tick repaints only what it changes: the timed cells of rows whose text
moved, the upcoming countdowns that moved, and the header's clock (the rest of the screen is
not drawn again)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from conftest import SIZE, refresh_spy, settle, shown_lines
from textual.app import App
from textual.strip import Strip
from textual.widget import Widget

from crondeck.tui.widgets.header import DeckHeader
from crondeck.tui.widgets.job_table import JobTable
from crondeck.tui.widgets.upcoming import UpcomingList


def test_a_tick_repaints_exactly_the_rows_whose_text_moved(make_app):
    app, _sched, clock, _streamer = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            table, upcoming = screen.query_one(JobTable), screen.query_one(UpcomingList)
            header = screen.query_one(DeckHeader)
            for step in (1, 1, 60, 3600):  # seconds, a minute, an hour: other cells move
                before = {w: shown_lines(w) for w in (table, upcoming)}
                clock_before = header.render_line(0).text
                asked = {w: refresh_spy(w) for w in (table, upcoming, header)}
                clock.advance(step)
                screen.tick()
                for w in asked:
                    del w.refresh  # the instance's spy: the class's method again
                await pilot.pause()
                for w in (table, upcoming):
                    after = shown_lines(w)
                    moved = {y for y, (a, b) in enumerate(zip(before[w], after, strict=True))
                             if a != b}
                    repainted = {y for r in asked[w] for y in range(r.y, r.bottom)}
                    assert moved, (step, w)  # something moved: the test tests something
                    assert repainted == moved, (step, w, before[w], after)
                    for r in asked[w]:  # only the cells whose text changed
                        assert all(before[w][y][r.x:r.right] != after[y][r.x:r.right]
                                   for y in range(r.y, r.bottom)), (step, w)
                clock_after = header.render_line(0).text
                assert clock_after.rstrip()[-8:] != clock_before.rstrip()[-8:]
                [region] = asked[header]  # the clock's cells, not the whole line
                assert region is not None and region.width <= 10
                assert clock_after[:region.x] == clock_before[:region.x]

    asyncio.run(go())


def test_what_the_ticks_repaint_is_what_a_whole_repaint_shows(make_app):
    """Second by second (and a minute, an hour on) the screen the ticks leave, repainted
    only where they moved, is the screen every widget repainted from scratch shows, down to
    the segments and their styles; the header's clock moves on the line it drew."""
    app, _sched, clock, _streamer = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            screen.query_one(JobTable).focus()
            await pilot.pause()
            header = screen.query_one(DeckHeader)
            for step in (1, 1, 1, 60, 3600):
                clock.advance(step)
                screen.tick()
                await pilot.pause()
                ticked = app.export_screenshot()
                clock_line = list(header.render_line(0))
                for widget in screen.query("*"):
                    widget.refresh()
                await pilot.pause()
                assert app.export_screenshot() == ticked, step
                assert list(Widget.render_line(header, 0)) == clock_line, step

    asyncio.run(go())


def test_an_attached_headers_uptime_moves_with_its_clock():
    """Attached, the uptime moves with the clock: each second in the scheduler's first hour
    (the whole line repainted), then each minute (between, only the clock's cells); what is
    drawn is always what drawing the header from scratch shows."""
    now = [datetime(2025, 3, 3, 9, 0, 0, tzinfo=UTC)]

    class HeaderApp(App[None]):
        def compose(self):
            yield DeckHeader(now=lambda: now[0], zone=UTC)

    async def go():
        async with HeaderApp().run_test(size=(100, 3)) as pilot:
            header = pilot.app.query_one(DeckHeader)
            header.attached = "crondeck run, pid 4121"
            header.attached_since = now[0] - timedelta(minutes=59, seconds=58)
            await pilot.pause()
            for step, uptime, whole in ((1, "59m 59s", True), (1, "1h 00m", True),
                                        (1, "1h 00m", False), (59, "1h 01m", True)):
                now[0] += timedelta(seconds=step)
                asked = refresh_spy(header)
                header.refresh_clock()
                del header.refresh
                await pilot.pause()
                drawn = list(header.render_line(0))
                assert (asked == [None]) == whole, (step, uptime, asked)
                assert f"up {uptime} " in Strip(drawn).text
                assert now[0].strftime("%H:%M:%S") in Strip(drawn).text
                header.refresh()
                assert list(Widget.render_line(header, 0)) == drawn

    asyncio.run(go())
