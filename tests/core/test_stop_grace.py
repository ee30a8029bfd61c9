"""Scheduler.stop(grace=...): nothing new starts, runs in flight get the grace to finish,
then are cancelled; a stop(terminate=True) meanwhile cancels them at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from crondeck.core.clock import FakeClock
from crondeck.core.results import RunStatus
from crondeck.core.schedule import every
from crondeck.core.scheduler import Scheduler

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def _scheduler(seconds: float) -> tuple[Scheduler, FakeClock]:
    clock = FakeClock(T0)
    s = Scheduler(clock, shutdown_grace=20.0)

    async def agent(prompt: str) -> str:
        await clock.sleep(seconds)
        return "done\n"

    s.add_job(agent, "p", every(minutes=1), name="j", start_immediately=True)
    return s, clock


def test_runs_that_finish_within_the_grace_are_recorded_ok() -> None:
    async def go() -> None:
        s, clock = _scheduler(10)
        task = asyncio.create_task(s.astart())
        await clock.run_for(1)
        assert s.in_flight == 1
        s.stop(grace=s.shutdown_grace)
        await clock.run_for(60)  # the grace is 20 s; the run needs 9 more
        await asyncio.wait_for(task, 5)
        assert [r.status for r in s.jobs["j"].results] == [RunStatus.OK]
        assert clock.now() - T0 >= timedelta(seconds=10)

    asyncio.run(go())


def test_runs_that_outlive_the_grace_are_cancelled() -> None:
    async def go() -> None:
        s, clock = _scheduler(3600)
        task = asyncio.create_task(s.astart())
        await clock.run_for(1)
        s.stop(grace=5)
        await clock.run_for(4)
        assert s.in_flight == 1 and not task.done()  # still inside the grace
        await clock.run_for(2)
        await asyncio.wait_for(task, 5)
        last = s.jobs["j"].results[-1]
        assert last.status is RunStatus.CANCELLED and "scheduler stopped" in (last.error or "")
        assert len(s.jobs["j"].results) == 1  # the slot at 12:01 never started

    asyncio.run(go())


def test_terminate_during_the_grace_cancels_at_once() -> None:
    async def go() -> None:
        s, clock = _scheduler(3600)
        task = asyncio.create_task(s.astart())
        await clock.run_for(1)
        s.stop(grace=600)
        await clock.run_for(1)
        assert not task.done()
        s.stop(terminate=True)
        await clock.settle()
        await asyncio.wait_for(task, 5)
        assert s.jobs["j"].results[-1].status is RunStatus.CANCELLED
        assert clock.now() - T0 < timedelta(seconds=10)

    asyncio.run(go())


def test_a_grace_given_while_runs_finish_still_bounds_them() -> None:
    async def go() -> None:
        s, clock = _scheduler(3600)
        task = asyncio.create_task(s.astart())
        await clock.run_for(1)
        s.stop()  # wait for the run, however long
        await clock.run_for(30)
        assert not task.done()
        s.stop(grace=5)
        await clock.run_for(6)
        await asyncio.wait_for(task, 5)
        assert s.jobs["j"].results[-1].status is RunStatus.CANCELLED

    asyncio.run(go())


def test_a_stop_asked_before_the_loop_starts_is_kept_and_a_later_loop_runs_again() -> None:
    """A signal that arrives while the host is still setting up must not be lost."""
    async def go() -> None:
        s, clock = _scheduler(1)
        s.stop()
        await asyncio.wait_for(s.astart(), 2)  # ends at once: nothing was started
        assert s.jobs["j"].results == type(s.jobs["j"].results)()
        task = asyncio.create_task(s.astart())  # the stop was used up by the loop that ended
        await clock.run_for(3)
        assert not task.done()
        s.stop()
        await clock.run_for(5)
        await asyncio.wait_for(task, 5)
        assert [r.status for r in s.jobs["j"].results] == [RunStatus.OK]

    asyncio.run(go())
