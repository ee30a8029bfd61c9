"""The Jobs pane's result columns: LAST (the last run's glyph), PASSED (`3m ago`),
RUNS and OK% read right after an ok run, a failed run, and a mix of both."""

from __future__ import annotations

import asyncio

import pytest
from conftest import START, settle

from crondeck.core.agents import RunContext
from crondeck.core.clock import FakeClock
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp

WIDE = (180, 36)  # the widest column set: RUNS and OK% shown
NEVER = "0 0 1 1 *"  # no scheduled run during the test: only the operator's run-now


async def ok(prompt: str) -> str:
    return "fine\n"


class Flaky:
    """Succeeds, then fails, then succeeds... (one run in two ok)."""

    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    async def execute(self, ctx: RunContext) -> int | None:
        self.calls += 1
        return 0 if self.calls % 2 else 1


class Broken:
    name = "broken"

    async def execute(self, ctx: RunContext) -> int | None:
        ctx.emit("boom\n", "stderr")
        return 3


def build() -> tuple[CrondeckApp, Scheduler, FakeClock]:
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    sched.add_job(ok, "go", NEVER, name="good", tz="UTC")
    sched.add_job(Broken(), "go", NEVER, name="bad", tz="UTC")
    sched.add_job(Flaky(), "go", NEVER, name="mixed", tz="UTC")
    app = CrondeckApp(sched, config_path="/srv/ops/crondeck.toml", clock=clock, zone=START.tzinfo,
                      start=True, live=False)
    return app, sched, clock


def cells(app: CrondeckApp, job: str) -> dict[str, str]:
    """The job's row as drawn, cut into its columns by the header's titles."""
    table = app.dashboard.table
    width = table.content_width()
    line = table.render_row(table.order.index(job), width).plain
    out: dict[str, str] = {}
    x = 0
    for col, w in table._columns(width):
        out[col.title] = line[x:x + w].strip()
        x += w + 1
    assert table.render_header(width).plain.split()[:3] == ["STATUS", "JOB", "SCHEDULE"]
    return out


@pytest.mark.slow
def test_last_passed_runs_and_rate_after_ok_failed_and_mixed_runs() -> None:
    app, sched, clock = build()

    async def go() -> None:
        async with app.run_test(size=WIDE) as pilot:
            await settle(pilot)
            before = cells(app, "good")
            assert (before["LAST"], before["PASSED"], before["RUNS"], before["OK%"]) == \
                ("—", "—", "0", "—")
            for name in ("good", "bad", "mixed"):
                sched.run_now(name)
                await settle(pilot)
            await clock.run_for(60)
            sched.run_now("mixed")  # its second run fails
            await settle(pilot)
            await clock.run_for(120)  # three minutes after the first runs
            await settle(pilot)

            good = cells(app, "good")
            assert good["STATUS"] == "○ idle"
            assert (good["LAST"], good["PASSED"], good["RUNS"], good["OK%"]) == \
                ("✓", "3m ago", "1", "100%")

            bad = cells(app, "bad")
            assert bad["STATUS"] == "✗ failing"
            assert (bad["LAST"], bad["PASSED"], bad["RUNS"], bad["OK%"]) == \
                ("✗", "3m ago", "1", "0%")

            mixed = cells(app, "mixed")
            assert (mixed["LAST"], mixed["PASSED"], mixed["RUNS"], mixed["OK%"]) == \
                ("✗", "2m ago", "2", "50%")

            # PASSED keeps moving with the clock (the row itself unchanged)
            await clock.run_for(3600)
            await settle(pilot)
            assert cells(app, "good")["PASSED"] == "1h ago"

    asyncio.run(go())
