"""The runs starting at one instant are claimed together: one durable write covers all of
them, before any of them starts; when that write fails, none of them starts."""

from __future__ import annotations

import asyncio
import errno
import gc
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crondeck.core import FakeClock, RunStatus, Scheduler, SkipReason, every
from crondeck.core import store as store_module
from crondeck.core.jobs import NullStateSink
from crondeck.core.persist import StateDir
from crondeck.core.results import make_run_id
from crondeck.core.store import StateStore

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class BatchSink(NullStateSink):
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.single: list[str] = []
        self.fail = fail

    def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
        self.single.append(run_id)

    def claim_runs(self, claims: Sequence[tuple[str, str, datetime]]) -> None:
        if self.fail:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.calls.append([run_id for _, run_id, _ in claims])


def _run_twenty(sink: BatchSink) -> tuple[Scheduler, list[tuple[str, int]]]:
    """Twenty jobs due at 12:00:10, prepared ahead; each agent notes how many claim calls
    the sink had seen when it started."""
    clock = FakeClock(at(3))
    started: list[tuple[str, int]] = []
    s = Scheduler(clock=clock, lead=0.5, max_concurrent_runs=50, state_sink=sink)

    def agent_for(name: str) -> Callable[[str], Awaitable[str]]:
        async def agent(prompt: str) -> str:
            started.append((name, len(sink.calls)))
            return "ok\n"
        return agent

    for i in range(20):
        s.add_job(agent_for(f"j{i}"), "p", every(seconds=10), name=f"j{i}", max_runs=1)

    async def main() -> None:
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(8)
        s.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    return s, started


def test_runs_due_together_are_claimed_in_one_call_before_any_starts() -> None:
    sink = BatchSink()
    _, started = _run_twenty(sink)
    assert len(sink.calls) == 1 and sorted(sink.calls[0]) == sorted(
        make_run_id(f"j{i}", at(10)) for i in range(20))
    assert sink.single == []
    assert len(started) == 20 and all(seen == 1 for _, seen in started)


def test_a_batch_that_cannot_be_written_starts_none_of_its_runs() -> None:
    sink = BatchSink(fail=True)
    s, started = _run_twenty(sink)
    assert started == []
    for job in s.jobs.values():
        [result] = job.results
        assert result.status is RunStatus.SKIPPED
        assert result.skip_reason is SkipReason.UNRECORDED
        assert "No space left on device" in (result.error or "")


def test_claim_many_is_one_durable_write(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.toml"
    store = StateStore(path, min_interval=3600)
    writes: list[Path] = []
    real = store_module.atomic_write_bytes

    def counting(target: Path, data: bytes) -> None:
        writes.append(target)
        real(target, data)

    monkeypatch.setattr(store_module, "atomic_write_bytes", counting)
    claims = [(f"j{i}", make_run_id(f"j{i}", T0), T0) for i in range(50)]
    store.claim_many(claims)
    assert writes == [tmp_path / "claims.toml"]
    crashed = StateStore(path).load()  # nothing else was saved: the claims alone tell
    assert {name: st.running for name, st in crashed.jobs.items()} == {
        job: (run_id,) for job, run_id, _ in claims}


def test_claim_many_that_fails_leaves_no_run_claimed(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.toml"
    store = StateStore(path, min_interval=3600)
    earlier = make_run_id("j0", T0 - timedelta(minutes=1))
    store.claim("j0", earlier, T0 - timedelta(minutes=1))

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "atomic_write_bytes", full)
    with pytest.raises(OSError):
        store.claim_many([(f"j{i}", make_run_id(f"j{i}", T0), T0) for i in range(3)])
    monkeypatch.undo()
    assert store.jobs["j0"].running == (earlier,)  # the earlier, durable claim stays
    assert all(not store.jobs[f"j{i}"].running for i in (1, 2))
    store.flush()
    assert StateStore(path).load().jobs["j0"].running == (earlier,)


def test_the_state_dir_sink_claims_a_batch_once_the_lock_is_checked(tmp_path: Path) -> None:
    state = StateDir(tmp_path / ".crondeck")
    try:
        state.sink.claim_runs([("a", make_run_id("a", T0), T0), ("b", make_run_id("b", T0), T0)])
        assert state.store.jobs["a"].running and state.store.jobs["b"].running
        (tmp_path / ".crondeck" / "lock").unlink()  # another scheduler could take it now
        with pytest.raises(Exception, match="lost the lock"):
            state.sink.claim_runs([("c", make_run_id("c", T0), T0)])
        assert "c" not in state.store.jobs
    finally:
        state.close()


def _collector_seen_by_twenty(enabled_before: bool) -> tuple[list[bool], bool]:
    """What twenty runs released together see of the cyclic collector as they enter their
    agents, and whether it is on once they have all finished."""
    clock = FakeClock(at(3))
    seen: list[bool] = []
    s = Scheduler(clock=clock, lead=0.5, max_concurrent_runs=50)

    async def agent(prompt: str) -> str:
        seen.append(gc.isenabled())
        await asyncio.sleep(0)
        return "ok\n"

    for i in range(20):
        s.add_job(agent, "p", every(seconds=10), name=f"j{i}", max_runs=1)

    async def main() -> bool:
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(8)
        s.stop()
        await asyncio.wait_for(task, 5)
        return gc.isenabled()

    was = gc.isenabled()
    (gc.enable if enabled_before else gc.disable)()
    try:
        after = asyncio.run(main())
    finally:
        (gc.enable if was else gc.disable)()
    return seen, after


def test_no_collector_pass_holds_up_runs_released_together() -> None:
    """A pass over a big heap would delay every run still waiting its turn at the instant:
    the collector is off while they enter their agents, and on again after."""
    seen, after = _collector_seen_by_twenty(enabled_before=True)
    assert seen == [False] * 20
    assert after is True


def test_a_collector_switched_off_by_the_application_stays_off() -> None:
    seen, after = _collector_seen_by_twenty(enabled_before=False)
    assert seen == [False] * 20
    assert after is False
