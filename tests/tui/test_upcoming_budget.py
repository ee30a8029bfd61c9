"""The Upcoming pane fills its rows when many jobs are held by a spent token budget.

A held job's slots before its budget resets (its zone's midnight) will be skipped, so they
are not listed; its first slot after the reset is, in time order with everyone else's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from conftest import START, quick, settle

from crondeck.core.budget import local_day
from crondeck.core.clock import FakeClock
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.widgets.upcoming import UpcomingList

SIZE = (120, 36)


def spend_budget(sched: Scheduler, name: str) -> None:
    """As if the job had used up today's tokens (what a run reporting usage leaves behind)."""
    job = sched.jobs[name]
    job.tokens_day = local_day(job, START)
    job.tokens_today = job.options.daily_token_budget or 0


def app_for(sched: Scheduler, clock: FakeClock) -> CrondeckApp:
    return CrondeckApp(sched, config_path="/srv/ops/crondeck.toml", clock=clock, zone=UTC,
                       start=True, live=False)


def test_held_jobs_firing_first_do_not_crowd_out_the_jobs_that_will_run() -> None:
    """220 held jobs share the next slot with 20 that will run (and sort before them by
    name): the pane still lists the runnable jobs' fires, every visible row used."""
    clock = FakeClock(START)  # 08:58:30 UTC
    sched = Scheduler(clock=clock)
    for i in range(220):
        sched.add_job(quick, "go", "*/5 * * * *", name=f"held-{i:03d}", tz="UTC",
                      daily_token_budget=1_000)
        spend_budget(sched, f"held-{i:03d}")
    for i in range(20):
        sched.add_job(quick, "go", "*/5 * * * *", name=f"runs-{i:02d}", tz="UTC")
    app = app_for(sched, clock)

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            upcoming = app.dashboard.query_one(UpcomingList)
            names = [name for _, name in upcoming.items]
            assert not any(name.startswith("held-") for name in names)  # all before midnight
            assert {name for name in names} == {f"runs-{i:02d}" for i in range(20)}
            assert len(names) >= upcoming.size.height > 5  # no empty rows at the bottom
            times = [when for when, _ in upcoming.items]
            assert times == sorted(times)
            assert times[0] == datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

    asyncio.run(go())


def test_a_held_jobs_first_fire_after_its_reset_is_listed() -> None:
    """In Pacific/Marquesas (UTC-9:30) midnight is 09:30 UTC: the held job's 09:00-09:25
    slots are skipped, so it is listed from 09:30 on; with too few fires in the next hour
    to fill the pane, the list carries on past the hour rather than leave rows empty."""
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    sched.add_job(quick, "go", "*/5 * * * *", name="marquesas", tz="Pacific/Marquesas",
                  daily_token_budget=1_000)
    spend_budget(sched, "marquesas")
    sched.add_job(quick, "go", "0 * * * *", name="hourly", tz="UTC")
    app = app_for(sched, clock)

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            upcoming = app.dashboard.query_one(UpcomingList)
            held = [when for when, name in upcoming.items if name == "marquesas"]
            assert held[0] == datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
            assert held[:6] == [datetime(2025, 3, 3, 9, 30 + 5 * k, tzinfo=UTC)
                                for k in range(6)]
            hourly = [when for when, name in upcoming.items if name == "hourly"]
            assert hourly[:2] == [datetime(2025, 3, 3, 9, 0, tzinfo=UTC),
                                  datetime(2025, 3, 3, 10, 0, tzinfo=UTC)]
            assert len(upcoming.items) >= upcoming.size.height  # filled past the hour

    asyncio.run(go())
