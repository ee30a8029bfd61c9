"""Many jobs due at once (a restart after downtime) are handled in slices: between them the
event loop serves others (a console's first frame, its keys), and every job is still handled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from crondeck.core import FakeClock, Scheduler, every
from crondeck.core import scheduler as scheduler_module

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def test_jobs_due_at_start_leave_the_loop_to_others_between_slices(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "FIRE_SLICE", 0.0)  # one job a slice
    clock = FakeClock(T0)
    s = Scheduler(clock=clock, max_concurrent_runs=50)

    async def agent(prompt: str) -> str:
        return "ok\n"

    for i in range(30):
        s.add_job(agent, "p", every(seconds=10), name=f"j{i}")
    clock.advance(15)  # every job's first slot has passed before the loop starts
    now = clock.now()

    def handled() -> int:
        return sum(1 for job in s.jobs.values() if job.next_fire and job.next_fire > now)

    async def main() -> list[int]:
        seen: list[int] = []
        loop = asyncio.create_task(s.astart())
        try:
            async with asyncio.timeout(10):
                while handled() < 30:
                    seen.append(handled())
                    await asyncio.sleep(0)
        finally:
            s.stop()
            await asyncio.wait_for(loop, 10)
        return seen

    seen = asyncio.run(main())
    assert any(0 < n < 30 for n in seen)  # others ran while jobs were still due
    assert handled() == 30
    assert all(job.run_count == 1 for job in s.jobs.values())
