"""The start line on the real system clock: its timer is armed ahead of the instant and its
runs' wake-ups are queued then, yet no agent starts before the wall clock reaches its
instant, the claim is written at the instant before any agent starts, and a run cancelled
while parked, or timing out after its release, ends as it would have without the early arm."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from crondeck.core import RunResult, RunStatus, Scheduler, every
from crondeck.core.jobs import NullStateSink


class StampedSink(NullStateSink):
    """Notes the wall time of every claim."""

    def __init__(self) -> None:
        self.claimed_at: list[float] = []
        self.claimed: list[str] = []

    def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
        self.claimed_at.append(time.time())
        self.claimed.append(run_id)

    def claim_runs(self, claims: Sequence[tuple[str, str, datetime]]) -> None:
        self.claimed_at.append(time.time())
        self.claimed.extend(run_id for _, run_id, _ in claims)


def _due(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_no_agent_starts_before_its_instant_nor_before_its_claim() -> None:
    sink = StampedSink()
    stamps: list[float] = []

    async def agent() -> None:
        stamps.append(time.time())

    async def main() -> None:
        # A lead long enough for 200 runs to be parked before the instant on a loaded
        # machine (one prepared past it is claimed on its own, as it must be).
        s = Scheduler(max_concurrent_runs=300, state_sink=sink, lead=1.0)
        due = _due(1.5)
        for i in range(200):
            s.add_job(agent, None, every(hours=1, start=due), name=f"a{i}", max_runs=1)
        await asyncio.wait_for(
            s.astart(until=due + timedelta(seconds=10), stop_when_done=True), 15)
        assert len(stamps) == 200
        assert min(stamps) >= due.timestamp()
        assert len(sink.claimed) == 200 and len(sink.claimed_at) == 1  # one write for all
        assert due.timestamp() <= sink.claimed_at[0] <= min(stamps)

    asyncio.run(main())


def test_a_run_cancelled_while_parked_is_not_claimed_and_the_others_start() -> None:
    sink = StampedSink()
    started: list[str] = []
    all_kept = asyncio.Event()

    async def agent(prompt: str) -> None:
        started.append(prompt)
        if len(started) == 3:
            all_kept.set()

    async def main() -> RunResult:
        s = Scheduler(max_concurrent_runs=10, state_sink=sink)
        due = _due(0.4)
        gone = s.add_job(agent, "gone", every(hours=1, start=due), name="gone", max_runs=1)
        for i in range(3):
            s.add_job(agent, f"kept{i}", every(hours=1, start=due), name=f"kept{i}",
                      max_runs=1)
        task = asyncio.create_task(s.astart(until=due + timedelta(seconds=10),
                                            stop_when_done=True))
        while not gone.running:  # prepared once the lead window opens...
            assert datetime.now(UTC) < due, "the run was never prepared"
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.01)  # ...and parked once its task has taken its first step
        assert datetime.now(UTC) < due, "too late to cancel it while parked"
        handle = next(iter(gone.running.values()))
        assert s.cancel(gone, "not today") == 1
        result = await asyncio.wait_for(handle.wait(), 5)
        await asyncio.wait_for(all_kept.wait(), 10)
        s.stop()
        await asyncio.wait_for(task, 15)
        return result

    result = asyncio.run(main())
    assert result.status is RunStatus.CANCELLED and result.started_at is None
    assert result.error == "not today"
    assert sorted(started) == ["kept0", "kept1", "kept2"]
    assert len(sink.claimed) == 3 and not any(r.startswith("gone") for r in sink.claimed)


def test_a_run_released_together_still_times_out() -> None:
    async def slow() -> None:
        await asyncio.sleep(30)

    async def quick() -> str:
        return "done"

    async def main() -> list[RunResult]:
        s = Scheduler(max_concurrent_runs=10)
        due = _due(0.4)
        jobs = [s.add_job(slow, None, every(hours=1, start=due), name="slow", max_runs=1,
                          timeout=0.3),
                s.add_job(quick, None, every(hours=1, start=due), name="quick", max_runs=1)]
        await asyncio.wait_for(
            s.astart(until=due + timedelta(seconds=10), stop_when_done=True), 15)
        return [j.results[-1] for j in jobs]

    slow_result, quick_result = asyncio.run(main())
    assert slow_result.status is RunStatus.TIMED_OUT
    assert slow_result.error == "timed out after 0.3s"
    assert quick_result.ok and quick_result.output_tail == "done"
    for r in (slow_result, quick_result):
        assert r.started_at is not None and r.started_at >= r.scheduled_for
