"""A console opened after downtime, with many runs due at once: its first screen is drawn
before they are all handled, and they are handled after it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from crondeck.core import FakeClock, Scheduler, every
from crondeck.core import scheduler as scheduler_module
from crondeck.tui.app import CrondeckApp

N = 100


@pytest.mark.slow
def test_the_first_screen_comes_before_the_runs_due_at_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "FIRE_SLICE", 0.0)  # one job a slice
    monkeypatch.setattr(scheduler_module, "FIRE_PAUSE", 0.02)
    clock = FakeClock(datetime(2025, 1, 6, 12, 0, tzinfo=UTC))
    s = Scheduler(clock=clock, max_concurrent_runs=N)

    async def agent(prompt: str) -> str:
        return "ok\n"

    for i in range(N):
        s.add_job(agent, "p", every(seconds=10), name=f"job-{i:03d}")
    clock.advance(15)  # every job's first slot has passed when the console opens
    now = clock.now()

    def handled() -> int:
        return sum(1 for job in s.jobs.values() if job.next_fire and job.next_fire > now)

    app = CrondeckApp(s, clock=clock, zone=UTC, start=True, live=False)

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert app.dashboard.table.row_count == N  # the rows are on screen
            assert handled() < N  # while runs due at start are still being handled
            async with asyncio.timeout(20):
                while handled() < N:
                    await pilot.pause(0.05)
            await app.shutdown(terminate=False)

    asyncio.run(go())
    assert all(job.run_count == 1 for job in s.jobs.values())
