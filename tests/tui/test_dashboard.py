"""What the dashboard shows: rows, countdowns, upcoming, header, panes, filter, sort."""

import asyncio

import pytest
from conftest import SIZE, settle, text_of, type_text

from crondeck.tui.screens.details import JobDetailsScreen
from crondeck.tui.screens.help import HelpScreen
from crondeck.tui.widgets.history import HistoryList
from crondeck.tui.widgets.job_table import JobTable
from crondeck.tui.widgets.output_pane import OutputPane
from crondeck.tui.widgets.upcoming import UpcomingList


@pytest.mark.slow
def test_jobs_sorted_by_next_fire_with_countdowns_and_paused_note(make_app):
    app, _sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            # alpha fires at 08:58:40, beta/epsilon at 09:00, delta at 09:00 (every 1h from
            # the epoch), gamma is paused and sorts last
            assert table.order[0] == "alpha"
            assert table.order[-1] == "gamma"
            shown = text_of(table)
            assert "in 10s" in shown
            assert "in 1m 30s" in shown
            assert "waiting for keys" in shown
            assert "paused" in shown
            header = text_of(app.dashboard.query_one("#header"))
            assert "scheduling" in header
            assert "1 paused" in header
            assert "08:58:30" in header
            assert "/srv/ops/crondeck.toml" in header

    asyncio.run(go())


def test_countdown_follows_the_clock_on_each_tick(make_app):
    app, _sched, clock, _ = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            table = app.dashboard.query_one(JobTable)
            assert "in 10s" in text_of(table)
            clock.advance(4)
            app.dashboard.tick()
            await pilot.pause()
            assert "in 6s" in text_of(table)
            assert "in 10s" not in text_of(table)

    asyncio.run(go())


@pytest.mark.slow
def test_upcoming_merges_next_fires_in_time_order_without_paused_jobs(make_app):
    app, _sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            upcoming = app.dashboard.query_one(UpcomingList)
            times = [when for when, _ in upcoming.items]
            assert times == sorted(times)
            names = [name for _, name in upcoming.items]
            assert names[0] == "alpha"
            assert names.count("alpha") > 5  # every 10 s within the hour
            assert "gamma" not in names

    asyncio.run(go())


@pytest.mark.slow
def test_tab_cycles_panes(make_app):
    app, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            order = []
            for _ in range(4):
                order.append(type(app.focused).__name__)
                await pilot.press("tab")
            assert order == ["JobTable", "UpcomingList", "OutputPane", "HistoryList"]
            assert isinstance(app.focused, JobTable)

    asyncio.run(go())


@pytest.mark.slow
def test_filter_by_name_agent_or_status_and_escape_clears(make_app):
    app, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            await pilot.press("slash", "g", "a", "m")
            assert table.order == ["gamma"]
            assert "Jobs (1/5)" in str(table.border_title)
            await pilot.press("escape")
            assert len(table.order) == 5
            await pilot.press("slash")
            await type_text(pilot, "paused")
            await pilot.press("enter")
            assert table.order == ["gamma"]
            assert isinstance(app.focused, JobTable)
            await pilot.press("escape")
            await pilot.press("slash")
            await type_text(pilot, "failer")  # by agent
            assert table.order == ["beta"]

    asyncio.run(go())


@pytest.mark.slow
def test_sort_cycles_by_key(make_app):
    app, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            await pilot.press("o")
            assert table.sort_key == "name"
            assert table.order == ["alpha", "beta", "delta", "epsilon", "gamma"]
            assert "sort: name" in str(table.border_title)

    asyncio.run(go())


@pytest.mark.slow
def test_cursor_moves_and_output_follows_the_selected_job(make_app):
    app, _sched, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            assert table.selected == "alpha"
            await pilot.press("down")
            assert table.selected == table.order[1]
            output = app.dashboard.query_one(OutputPane)
            assert "has not run yet" in "\n".join(output.lines)

    asyncio.run(go())


@pytest.mark.slow
def test_enter_opens_job_details(make_app):
    app, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, JobDetailsScreen)
            assert app.screen.job.name == "alpha"
            await pilot.press("escape")
            assert not isinstance(app.screen, JobDetailsScreen)

    asyncio.run(go())


@pytest.mark.slow
def test_help_lists_every_key(make_app):
    app, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            described = {what for _, _, what in app.screen.entries}
            for needle in ("run the selected job now", "skip the selected job's next run",
                           "cancel the selected job's running run", "pause every job",
                           "follow the output", "filter jobs", "cycle panes", "quit"):
                assert any(needle in d for d in described), needle
            keys = {k for _, k, _ in app.screen.entries}
            wanted = {"space / p", "r", "s", "x", "/", "tab", "f", "P", "?", "q"}
            assert wanted <= {k.strip() for k in keys}
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

    asyncio.run(go())


@pytest.mark.slow
def test_history_filter_to_selected_job(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            sched.run_now("beta")
            sched.run_now("epsilon")
            await settle(pilot)
            history = app.dashboard.query_one(HistoryList)
            assert {r.job for r in history.items} == {"beta", "epsilon"}
            app.dashboard.query_one(JobTable).select("beta")
            await pilot.press("h")
            assert [r.job for r in history.items] == ["beta"]
            assert "History · beta" in str(history.border_title)
            await pilot.press("h")
            assert len(history.items) == 2

    asyncio.run(go())


@pytest.mark.slow
def test_a_narrow_history_still_says_why(make_app):
    """At 80x24 the history pane is ~38 columns: a fixed STATUS column left no room for the
    reason (the exit code, the gate's words). There the status word leads the reason."""
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            sched.run_now("beta")  # exits 2
            await settle(pilot)
            history = app.dashboard.query_one(HistoryList)
            shown = text_of(history)
            assert "STATUS: REASON" in shown.splitlines()[0]
            assert "✗ failed: exit 2" in shown

    asyncio.run(go())


def test_a_tiny_terminal_still_shows_a_job_row(make_app):
    """At 40x10 (a failing job's line above the footer: 7 rows left) the two rows of panes
    split the height and the jobs table had room for its column header only: no job at all,
    while Output and History each had a line."""
    app, *_ = make_app()

    async def go():
        async with app.run_test(size=(40, 9)) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            assert table.order[0] in text_of(table)

    asyncio.run(go())
