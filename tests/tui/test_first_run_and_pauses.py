"""A first run with no jobs says what to do; keys that need a job say why they do nothing;
a paused job's LEFT says when it resumes, and under "pause all" a running job has no
countdown either."""

import asyncio
from datetime import timedelta

import pytest
from conftest import SIZE, START, settle, text_of

from crondeck.core.clock import FakeClock
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.screens.pause_dialog import PauseDialog
from crondeck.tui.textual_compat import shown_notifications
from crondeck.tui.widgets.header import DeckHeader
from crondeck.tui.widgets.job_table import JobTable


async def quick(prompt: str) -> str:
    return "done\n"


def test_an_empty_jobs_file_says_what_to_do_and_why_keys_do_nothing():
    clock = FakeClock(START)
    app = CrondeckApp(Scheduler(clock=clock), config_path="/home/me/.config/crondeck.toml",
                      clock=clock, start=False, live=False)
    app.config_created = True

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            shown = text_of(table)
            assert "no jobs yet: n makes one (saved in /home/me/.config/crondeck.toml)" in shown
            assert "filter" not in shown
            notes = [n.message for n in shown_notifications(app)]
            assert any("created /home/me/.config/crondeck.toml" in m and "n adds a job" in m
                       for m in notes)
            app.clear_notifications()
            for key in ("r", "x", "s", "e", "d", "enter", "space"):
                await pilot.press(key)
                await pilot.pause()
                notes = [n.message for n in shown_notifications(app)]
                assert any("no jobs yet (n makes one)" in m for m in notes), key
                app.clear_notifications()
            assert "0 jobs" in text_of(app.dashboard.query_one(DeckHeader))

    asyncio.run(go())


def test_one_job_is_one_job_and_a_filter_that_matches_none_says_so():
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    sched.add_job(quick, "hi", "@every 1h", name="solo", tz="UTC")
    app = CrondeckApp(sched, config_path="/tmp/x.toml", clock=clock, start=False, live=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert " 1 job " in text_of(app.dashboard.query_one(DeckHeader)) + " "
            await pilot.press("slash", *"zzz", "enter")
            await pilot.pause()
            assert "no jobs match the filter" in text_of(app.dashboard.query_one(JobTable))
            await pilot.press("r")
            await pilot.pause()
            assert any("matches none" in n.message for n in shown_notifications(app))

    asyncio.run(go())


def _left_of(table: JobTable, job: str) -> str:
    row = next(line for line in text_of(table).splitlines() if f" {job} " in line)
    return row


WIDE = (200, 50)


def test_a_paused_job_says_when_it_resumes(make_app):
    app, sched, clock, _ = make_app()

    async def go():
        async with app.run_test(size=WIDE) as pilot:
            await settle(pilot)
            sched.pause_job("delta", until=clock.now() + timedelta(hours=2))
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            assert "resumes in 2h 00m" in _left_of(table, "delta")
            assert "resumes" not in _left_of(table, "gamma")  # paused without an end
            assert "paused" in _left_of(table, "gamma")
            await pilot.resize_terminal(*SIZE)  # a narrow LEFT column: the short form
            await settle(pilot)
            assert "‖ 2h 00m" in _left_of(table, "delta")

    asyncio.run(go())


@pytest.mark.slow
def test_pause_all_stops_a_running_job_s_countdown(make_app):
    app, sched, _clock, streamer = make_app()

    async def go():
        async with app.run_test(size=WIDE) as pilot:
            await settle(pilot)
            sched.run_now("alpha")
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            assert " in " in _left_of(table, "alpha")
            await pilot.press("P")
            await pilot.pause()
            assert isinstance(app.screen, PauseDialog)
            await pilot.press("tab", *"1h", "enter")
            await settle(pilot)
            row = _left_of(table, "alpha")
            assert "running" in row and "resumes in 1h 00m" in row
            assert "resumes in 1h 00m" in _left_of(table, "beta")
            streamer.release.set()
            await settle(pilot)

    asyncio.run(go())


def test_a_wide_terminal_gives_width_to_upcoming_and_long_names():
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    long = "warehouse-reconciliation"
    sched.add_job(quick, "hi", "*/5 * * * *", name=long, tz="UTC")
    sched.add_job(quick, "hi", "@every 1h", name="short", tz="UTC")
    app = CrondeckApp(sched, config_path="/tmp/x.toml", clock=clock, start=False, live=False)

    async def go():
        async with app.run_test(size=WIDE) as pilot:
            await settle(pilot)
            upcoming = app.dashboard.upcoming
            assert upcoming.size.width > 40
            assert long in text_of(upcoming)
            assert long in text_of(app.dashboard.query_one(JobTable))

    asyncio.run(go())
