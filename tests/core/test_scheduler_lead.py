"""Runs prepared ahead of their slot (`Scheduler.lead`) start at the slot's instant, never
before, and the decisions taken early are the ones the instant would have taken."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from crondeck.core import FakeClock, RunResult, RunStatus, Scheduler, every
from crondeck.core.jobs import NullStateSink

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_runs_are_prepared_ahead_and_start_exactly_at_their_slot() -> None:
    async def main() -> None:
        clock = FakeClock(at(3))
        s = Scheduler(clock=clock, lead=0.5, max_concurrent_runs=50)
        called: list[tuple[str, datetime]] = []

        def agent_for(name: str) -> Callable[[str], Awaitable[str]]:
            async def agent(prompt: str) -> str:
                called.append((name, clock.now()))
                return "ok\n"
            return agent

        jobs = [s.add_job(agent_for(f"j{i}"), "p", every(seconds=10), name=f"j{i}")
                for i in range(20)]
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(6.6)  # now 9.6: inside the lead window of the 10 s slot
        assert all(j.running for j in jobs), "the slot should be prepared by now"
        assert called == []  # ...but no agent may start before its instant
        await clock.run_for(0.4)  # now 10
        assert sorted(called) == sorted((f"j{i}", at(10)) for i in range(20))
        for j in jobs:
            r = j.results[-1]
            assert r.ok and r.started_at == r.scheduled_for == at(10)
        s.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())


def test_a_run_removed_while_waiting_for_its_instant_is_cancelled_and_others_still_start() -> (
    None
):
    async def main() -> list[RunResult]:
        clock = FakeClock(at(3))
        s = Scheduler(clock=clock, lead=0.5)
        started: list[str] = []

        async def agent(prompt: str) -> str:
            started.append(prompt)
            return "ok\n"

        gone = s.add_job(agent, "gone", every(seconds=10), name="gone")
        s.add_job(agent, "kept", every(seconds=10), name="kept")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(6.8)
        handle = next(iter(gone.running.values()))
        s.remove_job("gone")
        await clock.run_for(0.2)
        assert started == ["kept"]
        s.stop()
        await asyncio.wait_for(task, 5)
        return [handle.result()]

    (result,) = asyncio.run(main())
    assert result.status is RunStatus.CANCELLED and result.started_at is None
    assert result.error == "job removed"


def test_a_slot_just_past_the_deadline_is_not_prepared() -> None:
    async def main() -> list[str]:
        clock = FakeClock(at(3))
        s = Scheduler(clock=clock, lead=0.5)
        ran: list[str] = []

        async def agent(prompt: str) -> str:
            ran.append(clock.now().isoformat())
            return "ok\n"

        s.add_job(agent, "p", every(seconds=10), name="late")
        task = asyncio.create_task(s.astart(until=at(9.8)))
        await clock.run_for(10)
        await asyncio.wait_for(task, 5)
        return ran

    assert asyncio.run(main()) == []


def test_a_paused_slot_decided_ahead_is_still_a_paused_skip_at_its_instant() -> None:
    async def main() -> list[RunResult]:
        clock = FakeClock(at(3))
        s = Scheduler(clock=clock, lead=0.5)

        async def agent(prompt: str) -> str:
            raise AssertionError("a paused job must not run")

        job = s.add_job(agent, "p", every(seconds=10), name="held", paused=True,
                        pause_note="maintenance")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(7.5)
        s.stop()
        await asyncio.wait_for(task, 5)
        return list(job.results)

    (r,) = asyncio.run(main())
    assert r.status is RunStatus.SKIPPED and r.error == "paused: maintenance"
    assert r.scheduled_for == at(10) and r.finished_at == at(10)


def test_lead_is_bounded_and_defaults_to_none_on_a_fake_clock() -> None:
    assert Scheduler(clock=FakeClock(T0)).lead == 0.0
    assert Scheduler().lead > 0
    with pytest.raises(ValueError, match="lead must be between 0 and 1 second"):
        Scheduler(lead=5)


def test_a_prepared_run_is_claimed_at_its_instant_not_when_prepared() -> None:
    """The claim marks the run id as taken (a crash after it records the slot abandoned):
    a run prepared ahead must not claim its slot before the slot's instant."""

    class Sink(NullStateSink):
        def __init__(self) -> None:
            self.claims: list[tuple[str, datetime]] = []

        def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
            self.claims.append((run_id, clock.now()))

    clock = FakeClock(at(3))
    sink = Sink()

    async def main() -> None:
        s = Scheduler(clock=clock, lead=0.5, state_sink=sink)

        async def agent(prompt: str) -> str:
            return "ok\n"

        s.add_job(agent, "p", every(seconds=10), name="c")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(6.7)  # 9.7: prepared
        assert sink.claims == []
        await clock.run_for(0.3)
        assert sink.claims == [("c@2025-01-06T12:00:10Z", at(10))]
        s.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
