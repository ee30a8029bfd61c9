"""Wall-clock steps (NTP correcting a wrong clock, an operator setting it): slots are decided
on the wall time read after every wake, so a step that is corrected never silences jobs, and a
step back while a run waits on the start line neither parks it nor hangs stop().

`FakeClock.step` moves the wall clock while timers keep their elapsed time, like the system
clock under asyncio's monotonic timers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from crondeck.core.clock import FakeClock
from crondeck.core.results import RunStatus
from crondeck.core.schedule import every
from crondeck.core.scheduler import Scheduler

T0 = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)


async def agent(prompt: str) -> str:
    return "done"


def test_step_moves_wall_time_but_not_timers() -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        woke: list[datetime] = []
        clock.call_later(10, lambda: woke.append(clock.now()))
        clock.step(-3600)
        await clock.run_for(10)
        assert woke == [T0 - timedelta(hours=1) + timedelta(seconds=10)]

    asyncio.run(main())


def test_a_corrected_forward_step_does_not_silence_the_jobs() -> None:
    async def main() -> list[tuple[datetime, RunStatus]]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(agent, "p", every(minutes=1), name="j")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(60)  # 12:01 ran
        clock.step(2 * 3600)  # the clock is wrongly set two hours ahead...
        await clock.run_for(40)
        clock.step(-2 * 3600)  # ...and corrected
        await clock.run_for(5 * 60)
        s.stop()
        await asyncio.wait_for(task, 5)
        return [(r.scheduled_for, r.status) for r in job.results]

    results = asyncio.run(main())
    after = [when for when, status in results
             if status is RunStatus.OK and T0 + timedelta(minutes=2) <= when
             <= T0 + timedelta(minutes=6)]
    assert len(after) >= 4, results  # the minutes after the correction ran on time
    ids = [when for when, status in results if status is RunStatus.OK]
    assert len(ids) == len(set(ids))  # and no slot ran twice


def test_a_step_back_inside_the_lead_window_neither_parks_the_run_nor_hangs_stop() -> None:
    async def main() -> list[tuple[datetime, RunStatus]]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock, lead=0.1)
        job = s.add_job(agent, "p", every(minutes=1), name="j")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        slot = datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
        await clock.run_until(slot - timedelta(seconds=0.05))  # prepared, on the start line
        assert job.running
        clock.step(-3600)
        await clock.run_for(1)
        s.stop()
        await clock.run_for(1)
        await asyncio.wait_for(task, 5)
        return [(r.scheduled_for, r.status) for r in job.results]

    results = asyncio.run(main())
    assert results == [(datetime(2026, 3, 1, 12, 1, tzinfo=UTC), RunStatus.OK)]


def test_a_step_back_never_runs_a_slot_twice() -> None:
    async def main() -> list[tuple[datetime, RunStatus]]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(agent, "p", every(minutes=1), name="j")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(5 * 60)  # 12:01 ... 12:05 ran
        clock.step(-3 * 60)
        await clock.run_for(6 * 60)
        s.stop()
        await asyncio.wait_for(task, 5)
        return [(r.scheduled_for, r.status) for r in job.results]

    results = asyncio.run(main())
    ran = [when.minute for when, status in results if status is RunStatus.OK]
    assert ran == [1, 2, 3, 4, 5, 6, 7, 8]  # 12:03-12:05 came round again: not run twice
