"""Upcoming repaints only the rows in view whose fire changed when its list changes and keeps
its length (a job paused or resumed further down the list): a change out of view repaints
nothing, and what it shows is what a full repaint would show."""

from __future__ import annotations

import asyncio

from conftest import SIZE, quick, refresh_spy, settle, shown_lines

from crondeck.tui.widgets.upcoming import UpcomingList


def _fresh(widget: UpcomingList) -> list[str]:
    """The rows as drawn from nothing (no cached strip)."""
    widget._strips.clear()
    return shown_lines(widget)


def test_a_list_change_repaints_only_the_rows_in_view_that_changed(make_app):
    app, sched, _clock, _streamer = make_app(start=False)
    sched.add_job(quick, "late", "20 9 * * *", name="late", tz="UTC")  # 20 minutes away

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            upcoming = screen.query_one(UpcomingList)
            count = len(upcoming.items)

            def names(items: list) -> set[str]:
                return {name for _when, name in items}

            # listed, but below the rows in view (alpha fires every 10 s)
            assert "late" in names(upcoming.items)
            assert "late" not in names(upcoming.items[:upcoming.size.height])
            before = shown_lines(upcoming)
            asked = refresh_spy(upcoming)
            sched.pause_job("late")
            screen.observer.pump()
            await pilot.pause()
            del upcoming.refresh
            assert "late" not in names(upcoming.items)
            assert len(upcoming.items) == count  # as long: another of alpha's fires fills it
            assert asked == []  # nothing in view changed: nothing drawn again
            assert shown_lines(upcoming) == before

            # beta's fire at 09:00 is in view: the rows from it down move up one
            assert "beta" in names(upcoming.items[:upcoming.size.height])
            asked = refresh_spy(upcoming)
            sched.pause_job("beta")
            screen.observer.pump()
            await pilot.pause()
            del upcoming.refresh
            assert len(upcoming.items) == count
            after = shown_lines(upcoming)
            moved = {y for y, (a, b) in enumerate(zip(before, after, strict=True)) if a != b}
            assert moved and 0 not in moved  # the rows before beta's stay as they were
            assert None not in asked
            assert {y for r in asked for y in range(r.y, r.bottom)} == moved
            assert after == _fresh(upcoming)
            assert "beta" not in "".join(after)

    asyncio.run(go())


def test_a_change_to_a_job_beyond_the_list_leaves_upcoming_as_it_is(make_app):
    """Upcoming's fires are merged again only when a changed job is listed or would now
    fire before the last fire listed; otherwise the list stays what a merge would give."""
    app, sched, _clock, _streamer = make_app(start=False)
    sched.add_job(quick, "noon", "0 12 * * *", name="far", tz="UTC")  # 3 hours away

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            upcoming = screen.query_one(UpcomingList)
            merged: list[list] = []
            recompute = upcoming.recompute

            def spy(starts):
                merged.append(list(starts))
                return recompute(merged[-1])

            upcoming.recompute = spy
            listed = {name for _when, name in upcoming.items}
            assert "far" not in listed  # its fire is past the 200 listed
            before = list(upcoming.items)
            sched.pause_job("far")
            screen.observer.pump()
            await pilot.pause()
            assert merged == []
            assert upcoming.items == before
            sched.resume_job("far")
            screen.observer.pump()
            await pilot.pause()
            assert merged == []

            sched.resume_job("gamma")  # paused, now fires at 09:00: among those listed
            screen.observer.pump()
            await pilot.pause()
            assert len(merged) == 1
            assert "gamma" in {name for _when, name in upcoming.items}
            del upcoming.recompute
            screen._recompute_upcoming()  # a merge from scratch gives the same list
            after = list(upcoming.items)
            sched.pause_job("far")
            screen.observer.pump()
            await pilot.pause()
            assert upcoming.items == after

    asyncio.run(go())
