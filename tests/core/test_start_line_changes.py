"""A run prepared ahead waits on the start line for its instant (up to a second with many
command agents). An operator's pause or skip in that time must count as it would have had
the run been dispatched at its instant: the slot is skipped, and the agent never runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from crondeck.core import FakeClock, RunResult, RunStatus, Scheduler, SkipReason, every

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _run(act: Callable[[Scheduler], None]) -> tuple[list[RunResult], list[datetime]]:
    """A job due every 10 s (12:00:10 first), prepared 0.5 s ahead; `act` is done while its
    first run waits on the start line. Returns its results and when its agent ran."""
    clock = FakeClock(at(3))
    ran: list[datetime] = []
    results: list[RunResult] = []
    s = Scheduler(clock=clock, lead=0.5)

    async def agent(prompt: str) -> str:
        ran.append(clock.now())
        return "ok\n"

    job = s.add_job(agent, "p", every(seconds=10), name="j", on_result=results.append)

    async def main() -> None:
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(6.8)  # 12:00:09.8: the run is parked, its instant not yet come
        assert job.is_running and ran == []
        act(s)
        await clock.run_for(0.5)
        s.resume_all()
        s.resume_job("j")
        await clock.run_for(10)
        s.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    return results, ran


def test_a_pause_while_the_run_waits_for_its_instant_skips_that_slot() -> None:
    results, ran = _run(lambda s: s.pause_job("j", note="maintenance"))
    first = results[0]
    assert first.scheduled_for == at(10) and first.status is RunStatus.SKIPPED
    assert first.skip_reason is SkipReason.PAUSED and first.error == "paused: maintenance"
    assert ran == [at(20)]  # resumed: the next slot runs


def test_pausing_everything_while_the_run_waits_skips_it_too() -> None:
    results, ran = _run(lambda s: s.pause_all(note="deploy"))
    assert results[0].status is RunStatus.SKIPPED and results[0].error == "paused: deploy"
    assert ran == [at(20)]


def test_skip_next_while_the_run_waits_skips_that_slot_and_only_that_one() -> None:
    def skip(s: Scheduler) -> None:
        s.skip_next("j")

    results, ran = _run(skip)
    assert results[0].status is RunStatus.SKIPPED
    assert results[0].skip_reason is SkipReason.OPERATOR
    assert ran == [at(20)]
    assert [r.status for r in results] == [RunStatus.SKIPPED, RunStatus.OK]
