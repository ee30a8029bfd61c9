"""A big scheduler's first screen is drawn before every row is made (LARGE_SCHEDULE): it shows
the jobs that fire soonest, and once the rest are made the table is complete and in order as if
built at once: scrolling to the end, filtering and sorting show every job, the counts and
Upcoming are those of every job, and what happened to a job meanwhile shows on its row.

The thresholds are lowered so sixty jobs take that path, and the test takes the fill's steps
itself (their pause is an hour), so what is on screen between steps is known."""

from __future__ import annotations

import asyncio

import pytest
from conftest import START, quick, settle, text_of, type_text

from crondeck.core.clock import FakeClock
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.model import DashboardModel
from crondeck.tui.screens import dashboard
from crondeck.tui.widgets.header import DeckHeader
from crondeck.tui.widgets.job_table import SORTS, JobTable
from crondeck.tui.widgets.upcoming import UpcomingList

SIZE = (150, 30)
N = 60


@pytest.fixture(autouse=True)
def _small_thresholds(monkeypatch):
    monkeypatch.setattr(dashboard, "LARGE_SCHEDULE", 10)
    monkeypatch.setattr(dashboard, "FIRST_ROWS", 5)
    monkeypatch.setattr(dashboard, "FILL_STEP", 7)
    monkeypatch.setattr(dashboard, "FILL_PAUSE", 3600)  # the test takes each next step


def _scheduler() -> tuple[Scheduler, FakeClock]:
    clock = FakeClock(START)
    s = Scheduler(clock=clock)
    for i in range(N):
        sched = f"*/{(i % 7) + 2} * * * *" if i % 2 else f"@every {(i * 37) % 50 + 10}s"
        name = f"job-{i:02d}" + ("-with-a-much-longer-name" if i == 41 else "")
        s.add_job(quick, "p", sched, name=name, tz="UTC")
    for name in ("job-00", "job-07", "job-30"):  # paused: sorted after every other job
        s.pause_job(name, note="later")
    return s, clock


def _app(sched: Scheduler, clock: FakeClock) -> CrondeckApp:
    return CrondeckApp(sched, config_path="/srv/ops/crondeck.toml", clock=clock, zone=None,
                       start=True, live=False)


def _in_order(sched: Scheduler, sort: str = "next", needle: str = "") -> list[str]:
    """The table's order over rows made all at once."""
    rows = DashboardModel(sched).rows.values()
    return [r.name for r in sorted(rows, key=lambda r: (SORTS[sort](r), r.name))
            if not needle or r.matches(needle)]


async def _fill(pilot, screen) -> int:
    """Take the fill's steps until every row is made; returns how many it took."""
    steps = 0
    while screen.model.pending:
        assert steps < 20, "the rows were never all made"
        screen._fill_rows()
        steps += 1
        await pilot.pause()
    return steps


@pytest.mark.slow
def test_the_table_is_complete_and_in_order_once_filled():
    sched, clock = _scheduler()
    app = _app(sched, clock)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.dashboard
            table = screen.query_one(JobTable)
            expected = _in_order(sched)
            # the first screen: the soonest jobs' rows, in their places; every job counted
            assert screen.model.pending
            assert table.order == expected[:len(table.order)]
            assert len(table.order) < N
            assert "Jobs (60)" in str(table.border_title)
            assert screen.query_one(DeckHeader).jobs == N
            assert await _fill(pilot, screen) > 1
            assert table.order == expected
            assert table.selected == expected[0]
            assert screen.query_one(DeckHeader).jobs == N
            assert screen.query_one(DeckHeader).paused == 3
            # Upcoming as from every job (a full model's fire order)
            full = _app(*_scheduler())
            async with full.run_test(size=SIZE) as other:
                await other.pause()
                assert not full.dashboard.model.pending or await _fill(other, full.dashboard)
                want = text_of(full.dashboard.query_one(UpcomingList))
            assert text_of(screen.query_one(UpcomingList)) == want
            # scrolling to the end shows the last job
            table.focus()
            await pilot.press("end")
            assert table.selected == expected[-1]
            assert expected[-1] in text_of(table)
            # sorting by name lists every job
            await pilot.press("o")
            assert table.sort_key == "name"
            assert table.order == _in_order(sched, "name")
            # the filter finds every match
            await pilot.press("slash")
            await type_text(pilot, "job-4")
            await pilot.press("enter")
            await pilot.pause()
            assert table.order == _in_order(sched, "name", "job-4")
            assert len(table.order) == 10
            await pilot.press("home")
            assert "job-41-with" in text_of(table)

    asyncio.run(go())


@pytest.mark.slow
def test_what_happens_to_a_job_while_rows_are_made_shows_once_filled():
    sched, clock = _scheduler()
    app = _app(sched, clock)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.dashboard
            table = screen.query_one(JobTable)
            pending = [n for n in screen.model.pending if not sched.jobs[n].paused]
            assert len(pending) > 2
            paused, removed = pending[0], pending[1]
            sched.pause_job(paused, note="mid-fill")
            sched.remove_job(removed)
            await settle(pilot)
            screen._fill_rows()  # one step, then the scheduler's events, then the rest
            await settle(pilot)
            await _fill(pilot, screen)
            await settle(pilot)
            assert table.order == _in_order(sched)
            assert removed not in table.order and len(table.order) == N - 1
            assert screen.model.rows[paused].status == "paused"
            assert screen.model.rows[paused].note == "mid-fill"
            assert screen.query_one(DeckHeader).jobs == N - 1
            assert screen.query_one(DeckHeader).paused == 4

    asyncio.run(go())


@pytest.mark.slow
def test_the_rows_are_all_made_by_themselves(monkeypatch):
    monkeypatch.setattr(dashboard, "FILL_PAUSE", 0.002)
    sched, clock = _scheduler()
    app = _app(sched, clock)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            screen = app.dashboard
            table = screen.query_one(JobTable)
            for _ in range(200):  # bounded: 2 s at the least
                if not screen.model.pending and len(table.order) == N:
                    break
                await pilot.pause(0.01)
            assert table.order == _in_order(sched)

    asyncio.run(go())
