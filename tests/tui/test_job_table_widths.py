"""The jobs table at terminal widths from 80 to 250 columns: a fire a week or more away is shown
as a whole date in NEXT ("2025-04-01 09:00", never cut to "2025-04-…") wherever the table has
the room, before SCHEDULE's words take it; where it has not, as a short date ("Apr 01"). Without
such a fire NEXT keeps its own width, and leaves the rest to SCHEDULE."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta

import pytest
from conftest import START, quick, settle, text_of

from crondeck.core.clock import FakeClock
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.widgets.job_table import JobTable

# the four a user checks by hand, and the band where the table's middle column set begins
# (100 columns of table): there NEXT widens only once SCHEDULE keeps its 24 columns
WIDTHS = (80, 120, *range(134, 146), 160, 250)
FAR = "2025-03-12 09:00"  # the far job's next fire: 9 days after START (Monday 08:58:30)


def app_for(*, far: bool) -> tuple[CrondeckApp, FakeClock]:
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    sched.add_job(quick, "go", "*/5 * * * *", name="every-five", tz="UTC")
    sched.add_job(quick, "go", "0 9 * * 3", name="wednesdays", tz="UTC")
    if far:
        sched.add_job(quick, "go", "0 9 12 3 *", name="march-12th", tz="UTC")
    app = CrondeckApp(sched, config_path="/srv/ops/crondeck.toml", clock=clock, zone=UTC,
                      start=False, live=False)
    return app, clock


def cells(table: JobTable) -> dict[str, dict[str, str]]:
    """Each job's row, by column title, as shown."""
    lines = text_of(table).splitlines()
    header = lines[0]
    titles = ["STATUS", "JOB", "SCHEDULE", "AGENT", "NEXT", "LEFT", "LAST"]
    starts = sorted((header.index(t), t) for t in titles if t in header)
    out: dict[str, dict[str, str]] = {}
    for line in lines[1:]:
        row = {title: line[a:b].strip() for (a, title), (b, _) in zip(
            starts, [*starts[1:], (len(line), "")], strict=True)}
        if row.get("JOB"):
            out[row["JOB"]] = row
    return out


def next_width(table: JobTable) -> int:
    header = text_of(table).splitlines()[0]
    return header.index("LEFT") - header.index("NEXT") - 1


@pytest.mark.slow
def test_next_shows_a_far_fire_whole_at_every_width_with_room_for_it():
    app, _clock = app_for(far=True)

    async def go() -> None:
        async with asyncio.timeout(60), app.run_test(size=(WIDTHS[0], 30)) as pilot:
            table = app.dashboard.table
            shown_whole, shown_short = [], []
            for width in WIDTHS:
                await pilot.resize_terminal(width, 30)
                await settle(pilot)
                rows = cells(table)
                assert set(rows) == {"every-five", "wednesdays", "march-12th"}, width
                if "NEXT" not in text_of(table).splitlines()[0]:
                    assert width < 160 and table.content_width() < 100  # LEFT says when
                    continue
                nxt = rows["march-12th"]["NEXT"]
                assert "…" not in nxt, (width, nxt)
                assert rows["wednesdays"]["NEXT"] == "Wed 09:00", width
                if nxt == FAR:
                    shown_whole.append(width)
                    # what was left to SCHEDULE still shows the expression and a word
                    assert rows["every-five"]["SCHEDULE"].startswith("*/5 * * * *  Every")
                else:
                    assert nxt == "Mar 12", width
                    shown_short.append(width)
            assert {160, 250} <= set(shown_whole)
            assert shown_short and max(shown_short) < min(shown_whole)

    asyncio.run(go())


@pytest.mark.slow
def test_without_a_far_fire_next_keeps_its_width_and_schedule_the_rest():
    async def widths(app: CrondeckApp, size: int) -> tuple[int, int]:
        async with asyncio.timeout(60), app.run_test(size=(size, 30)) as pilot:
            await settle(pilot)
            table = app.dashboard.table
            return next_width(table), len(cells(table)["every-five"]["SCHEDULE"])

    async def go() -> None:
        for size in (160, 250):
            plain_next, plain_schedule = await widths(app_for(far=False)[0], size)
            far_next, far_schedule = await widths(app_for(far=True)[0], size)
            assert plain_next == len("Wed 09:00") < far_next == len(FAR)
            assert plain_schedule >= far_schedule  # "Every 5 minutes" whole either way

    asyncio.run(go())


def test_next_narrows_again_once_the_far_fire_is_within_a_week():
    """The 1 s tick works out again whether NEXT needs a date: the clock moves on."""
    app, clock = app_for(far=True)

    async def go() -> None:
        async with asyncio.timeout(30), app.run_test(size=(250, 30)) as pilot:
            await settle(pilot)
            table = app.dashboard.table
            assert cells(table)["march-12th"]["NEXT"] == FAR
            assert next_width(table) == len(FAR)
            clock.set(START + timedelta(days=3))  # Thursday: the 12th is next Wednesday
            table.refresh_countdowns()
            await pilot.pause()
            assert cells(table)["march-12th"]["NEXT"] == "Wed 09:00"
            assert next_width(table) == len("Wed 09:00")

    asyncio.run(go())
