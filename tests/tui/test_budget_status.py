"""A job whose daily token budget is spent says so in the Jobs pane ("∅ budget",
in the theme's paused colour), its LEFT counts down to the budget's reset (the next midnight
in the job's own zone), and the row goes back to normal once that midnight passes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import START, settle, text_of
from textual.color import Color

from crondeck.core.agents import RunContext
from crondeck.core.clock import FakeClock
from crondeck.core.results import RunStatus, SkipReason
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp

WIDE = (180, 36)  # wide enough for the NEXT column
NARROW = (100, 30)


def answer(text: str, prompt_tokens: int, completion_tokens: int) -> Any:
    """A model-like agent: answers `text` and reports the tokens it spent."""

    async def agent(prompt: str, ctx: RunContext) -> str:
        ctx.add_usage(prompt_tokens, completion_tokens)
        return text

    return agent


def build() -> tuple[CrondeckApp, Scheduler, FakeClock]:
    """`digest` runs at 20:00 Tokyo time (11:00 UTC); it is 17:58:30 in Tokyo (08:58:30 UTC),
    so its budget resets at 15:00 UTC, six hours from now."""
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    sched.add_job(answer("summary\n", 700, 400), "go", "0 20 * * *", name="digest",
                  tz="Asia/Tokyo", daily_token_budget=1_000)
    sched.add_job(answer("ok\n", 700, 400), "go", "0 20 * * *", name="plain", tz="Asia/Tokyo")
    app = CrondeckApp(sched, config_path="/srv/ops/crondeck.toml", clock=clock,
                      zone=START.tzinfo, start=True, live=False)
    return app, sched, clock


def _row(table: Any, job: str) -> str:
    return next(line for line in text_of(table).splitlines() if f" {job} " in line)


@pytest.mark.slow
def test_a_spent_budget_shows_in_the_row_until_the_jobs_local_midnight() -> None:
    app, sched, clock = build()

    async def go() -> None:
        async with app.run_test(size=WIDE) as pilot:
            await settle(pilot)
            dash = app.dashboard
            table = dash.table
            assert "○ idle" in _row(table, "digest")
            sched.run_now("digest")  # spends 1,100 of its 1,000 tokens
            sched.run_now("plain")  # the same spend, no budget
            await settle(pilot)
            await settle(pilot)
            row = _row(table, "digest")
            assert "∅ budget" in row
            # NEXT: the 20:00 Tokyo slot (11:00 UTC) will be skipped; it resumes at 15:00 UTC
            assert "15:00:00" in row and "11:00:00" not in row
            assert "∅ in 6h 01m" in row
            plain = _row(table, "plain")
            assert "○ idle" in plain and "11:00:00" in plain and "in 2h 01m" in plain
            # in the theme's colour for held jobs (a pause until midnight)
            index = table.order.index("digest")
            cell = table.render_row(index, table.content_width())
            colour = cell.get_style_at_offset(app.console, 0).color
            expected = Color.parse(app.get_css_variables()["status-paused"])
            assert colour.triplet.hex.upper() == expected.hex.upper()
            # `/` finds it by its status word
            table.filter_text = "budget"
            assert table.order == ["digest"]
            table.filter_text = ""

            await clock.run_for(2 * 3600 + 90)  # 11:00 UTC: the slot is skipped for budget
            await settle(pilot)
            job = sched.jobs["digest"]
            assert job.results[-1].status is RunStatus.SKIPPED
            assert job.results[-1].skip_reason is SkipReason.BUDGET
            assert "∅ budget" in _row(table, "digest")

            await clock.run_for(4 * 3600 + 30)  # 15:00:30 UTC: midnight in Tokyo, a new day
            await settle(pilot)
            dash.tick()  # the once-a-second tick (frozen in tests)
            row = _row(table, "digest")
            assert "∅" not in row and "budget" not in row
            assert "○ idle" in row
            assert "in 19h 59m" in row  # tomorrow's 20:00 Tokyo slot will run

    asyncio.run(go())


@pytest.mark.slow
def test_narrow_table_keeps_the_budget_countdown() -> None:
    """Below 130 columns LEFT is 10 wide: the countdown drops its "in", keeps the glyph."""
    app, sched, _clock = build()

    async def go() -> None:
        async with app.run_test(size=NARROW) as pilot:
            await settle(pilot)
            sched.run_now("digest")
            await settle(pilot)
            await settle(pilot)
            row = _row(app.dashboard.table, "digest")
            assert "∅ budget" in row and "∅ 6h 01m" in row

    asyncio.run(go())


@pytest.mark.slow
def test_the_header_counts_budget_held_jobs_until_their_reset() -> None:
    """Jobs held by a spent budget are counted in the header next to running / paused /
    failing (only while there are some), and the count goes once the budget resets."""
    app, sched, clock = build()

    async def go() -> None:
        async with app.run_test(size=WIDE) as pilot:
            await settle(pilot)
            header = app.dashboard.query_one("#header")
            assert "budget" not in text_of(header)
            sched.run_now("digest")  # spends 1,100 of its 1,000 tokens
            sched.run_now("plain")
            await settle(pilot)
            await settle(pilot)
            assert "2 jobs · 1 budget-held" in text_of(header)

            await clock.run_for(6 * 3600 + 120)  # past midnight in Tokyo: a new budget day
            await settle(pilot)
            app.dashboard.tick()
            await settle(pilot)
            assert "budget" not in text_of(header)

    asyncio.run(go())
