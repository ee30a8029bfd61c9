"""Runs due when the loop starts (a restart after downtime) are fired in slices, and the runs
of one slice are claimed together: one durable write before any of them starts. A refused
claim skips its run as a claim of its own would; a crash after the write leaves every run
of the slice claimed, so the restart records each as abandoned and never fires its slot."""

from __future__ import annotations

import asyncio
import errno
import tomllib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crondeck.core import FakeClock, GateResult, RunResult, RunStatus, Scheduler, SkipReason, every
from crondeck.core import scheduler as scheduler_module
from crondeck.core import store as store_module
from crondeck.core.atomic import to_toml_value
from crondeck.core.events import SchedulerError
from crondeck.core.jobs import NullStateSink
from crondeck.core.persist import StoreSink
from crondeck.core.results import make_run_id
from crondeck.core.store import StateStore

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
SLOT = T0 + timedelta(seconds=10)  # every job's slot, passed when the loop starts


class SpySink(NullStateSink):
    """Notes each claim call (one durable write for a real sink) with the runs it claims;
    refuses them all with `fail`."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
        self.claim_runs([(job, run_id, scheduled_for)])

    def claim_runs(self, claims: Sequence[tuple[str, str, datetime]]) -> None:
        if self.fail:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.calls.append([run_id for _, run_id, _ in claims])


def _recording(started: list[tuple[str, int]], sink: SpySink,
               name: str) -> Callable[[str], Awaitable[str]]:
    async def agent(prompt: str) -> str:
        started.append((name, len(sink.calls)))
        return "ok\n"
    return agent


def _catch_up(s: Scheduler, done: Callable[[], bool]) -> None:
    async def main() -> None:
        task = asyncio.create_task(s.astart())
        try:
            async with asyncio.timeout(10):  # the runs' own steps, then the test's look
                while True:
                    if done():
                        break
                    await asyncio.sleep(0)
        finally:
            s.stop()
            await asyncio.wait_for(task, 10)

    asyncio.run(main())


def _due_jobs(s: Scheduler, started: list[tuple[str, int]], sink: SpySink, n: int,
              **options: object) -> None:
    for i in range(n):
        s.add_job(_recording(started, sink, f"j{i}"), "p", every(seconds=10), name=f"j{i}",
                  **options)  # type: ignore[arg-type]


def test_the_due_runs_of_a_slice_are_claimed_in_one_call_before_any_starts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "FIRE_FIRST", 60.0)  # the whole catch-up, one slice
    monkeypatch.setattr(scheduler_module, "FIRE_SLICE", 60.0)
    clock = FakeClock(T0)
    sink = SpySink()
    s = Scheduler(clock=clock, max_concurrent_runs=50, state_sink=sink)
    started: list[tuple[str, int]] = []
    _due_jobs(s, started, sink, 30)
    clock.advance(15)
    _catch_up(s, lambda: len(started) == 30)
    assert sink.calls == [[make_run_id(f"j{i}", SLOT) for i in range(30)]]
    assert all(seen == 1 for _, seen in started)  # each agent began after the one write


def test_each_slice_is_one_claim_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "FIRE_SLICE", 0.0)  # one job a slice
    clock = FakeClock(T0)
    sink = SpySink()
    s = Scheduler(clock=clock, max_concurrent_runs=50, state_sink=sink)
    started: list[tuple[str, int]] = []
    _due_jobs(s, started, sink, 5)
    clock.advance(15)
    _catch_up(s, lambda: len(started) == 5)
    assert sorted(sink.calls) == [[make_run_id(f"j{i}", SLOT)] for i in range(5)]
    # a slice's agent starts after its own claim, not after the whole catch-up's
    assert sorted(seen for _, seen in started) == [1, 2, 3, 4, 5]


def test_the_slice_is_one_durable_write_of_the_state_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "FIRE_FIRST", 60.0)
    monkeypatch.setattr(scheduler_module, "FIRE_SLICE", 60.0)
    monkeypatch.setattr(StateStore, "_writer", lambda self: None)  # only the loop's writes
    writes: list[str] = []
    real = store_module.atomic_write_bytes

    def counting(target: Path, data: bytes, *args: object) -> None:
        writes.append(target.name)
        real(target, data, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module, "atomic_write_bytes", counting)
    clock = FakeClock(T0)
    ran: list[tuple[str, int]] = []

    def agent_for(name: str) -> Callable[[str], Awaitable[str]]:
        async def agent(prompt: str) -> str:
            ran.append((name, writes.count("claims.toml")))
            return "ok\n"
        return agent

    with Scheduler(clock=clock, max_concurrent_runs=50, state_dir=tmp_path / "st") as s:
        for i in range(40):
            s.add_job(agent_for(f"j{i}"), "p", every(seconds=10), name=f"j{i}")
        clock.advance(15)
        writes.clear()
        _catch_up(s, lambda: len(ran) == 40)
        assert all(seen == 1 for _, seen in ran)
        assert writes.count("claims.toml") == 1


def test_a_refused_claim_skips_its_run_as_before() -> None:
    clock = FakeClock(T0)
    sink = SpySink(fail=True)
    s = Scheduler(clock=clock, max_concurrent_runs=50, state_sink=sink)
    errors: list[SchedulerError] = []
    s.add_listener(lambda e: errors.append(e) if isinstance(e, SchedulerError) else None)
    started: list[tuple[str, int]] = []
    _due_jobs(s, started, sink, 6)
    clock.advance(15)
    _catch_up(s, lambda: all(j.results for j in s.jobs.values()))
    assert started == []
    for job in s.jobs.values():
        [result] = job.results
        assert result.run_id == make_run_id(job.name, SLOT)
        assert result.status is RunStatus.SKIPPED
        assert result.skip_reason is SkipReason.UNRECORDED
        assert "not started" in (result.error or "") and "No space left" in (result.error or "")
        assert not job.is_running
    assert {e.job for e in errors if e.where == "state_sink.run_claimed"} == {
        f"j{i}" for i in range(6)}


def test_a_refused_claim_lets_the_backlog_go_on_as_before() -> None:
    """catchup = "all": each owed slot is dispatched once the one before it is over; a run
    whose claim is refused is over at once, so the next slot is tried (and refused) too."""
    clock = FakeClock(T0)
    sink = SpySink(fail=True)
    s = Scheduler(clock=clock, max_concurrent_runs=50, state_sink=sink)
    started: list[tuple[str, int]] = []
    _due_jobs(s, started, sink, 2, catchup="all")
    clock.advance(35)  # 12:00:10, :20 and :30 owed
    _catch_up(s, lambda: all(len(j.results) == 3 for j in s.jobs.values()))
    assert started == []
    for job in s.jobs.values():
        assert [(r.scheduled_for, r.skip_reason) for r in job.results] == [
            (T0 + timedelta(seconds=k), SkipReason.UNRECORDED) for k in (10, 20, 30)]
        assert not job.backlog


def test_the_backlog_still_waits_for_a_claimed_run() -> None:
    clock = FakeClock(T0)
    sink = SpySink()
    s = Scheduler(clock=clock, max_concurrent_runs=50, state_sink=sink)
    started: list[tuple[str, int]] = []
    _due_jobs(s, started, sink, 1, catchup="all")
    clock.advance(35)
    _catch_up(s, lambda: len(started) == 3)
    # one slot at a time, each claimed on its own write before it started
    assert sink.calls == [[make_run_id("j0", T0 + timedelta(seconds=k))] for k in (10, 20, 30)]
    assert [seen for _, seen in started] == [1, 2, 3]


class Crash(BaseException):
    """The process dying: nothing after it runs or reaches the disk."""


def test_a_crash_after_the_write_leaves_the_slice_claimed_and_abandoned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "FIRE_FIRST", 60.0)
    monkeypatch.setattr(scheduler_module, "FIRE_SLICE", 60.0)
    real = StoreSink.claim_runs

    def write_then_die(self: StoreSink, claims: Sequence[tuple[str, str, datetime]]) -> None:
        real(self, claims)  # durable
        self.store.read_only = True  # whatever happens after it never reaches the disk
        raise Crash

    monkeypatch.setattr(StoreSink, "claim_runs", write_then_die)
    # No background saves: what reaches the disk is what the loop wrote itself, up to the
    # crash (a save racing the simulated death would write what the dead could not).
    monkeypatch.setattr(StateStore, "_writer", lambda self: None)
    clock = FakeClock(T0)
    ran: list[str] = []

    def agent_for(name: str) -> Callable[[str], Awaitable[str]]:
        async def agent(prompt: str) -> str:
            ran.append(name)
            return "ok\n"
        return agent

    state = tmp_path / "st"
    s = Scheduler(clock=clock, max_concurrent_runs=50, state_dir=state)
    for i in range(10):
        s.add_job(agent_for(f"j{i}"), "p", every(seconds=10), name=f"j{i}")
    clock.advance(15)
    with pytest.raises(Crash):
        asyncio.run(s.astart())
    assert ran == []  # no agent before (or after) the write
    assert s._state_dir is not None
    s._state_dir.lock.release()
    monkeypatch.undo()

    clock.advance(2)  # 12:00:17: the next slot, 12:00:20, not due yet
    with Scheduler(clock=clock, max_concurrent_runs=50, state_dir=state) as again:
        for i in range(10):
            again.add_job(agent_for(f"j{i}"), "p", every(seconds=10), name=f"j{i}")
        for job in again.jobs.values():
            [abandoned] = job.results
            assert abandoned.run_id == make_run_id(job.name, SLOT)
            assert abandoned.status is RunStatus.ABANDONED
            assert job.next_fire == T0 + timedelta(seconds=20)
        assert again.run_pending() == []  # the claimed slot is never fired again
    assert ran == []


def _results() -> list[RunResult]:
    t = datetime(2026, 12, 5, 12, 0, 31, 123456, tzinfo=UTC)
    return [
        RunResult(run_id="a@2026-12-05T12:00:00Z", job="a", scheduled_for=T0,
                  status=RunStatus.MISSED, finished_at=t,
                  error="missed: a later slot was due too; ran only the latest"),
        RunResult(run_id="b@x", job="b", scheduled_for=T0, status=RunStatus.SKIPPED,
                  finished_at=t, skip_reason=SkipReason.OVERLAP, error="still running",
                  manual=True),
        RunResult(run_id="c@x", job='c "quoted" \\ é', scheduled_for=T0, status=RunStatus.OK,
                  started_at=T0, finished_at=t, exit_code=0,
                  output_tail="line\n\ttab \x1b[31mred\x1b[0m \x7f del \u2028 ünï 🙂\n",
                  output_bytes=61, truncated=True, attempt=2),
        RunResult(run_id="d@x", job="d", scheduled_for=T0, status=RunStatus.FAILED,
                  started_at=T0, finished_at=t, exit_code=-9, error="x" * 3000,
                  gate=GateResult(run=True, exit_code=0, context="ctx"), cost=0.25,
                  extra={"will_retry": True}),
    ]


def test_a_result_carried_by_a_claim_reads_back_as_the_generic_writer_wrote_it() -> None:
    """claims.toml's results are written by hand when their fields are plain: what is read
    back is what the generic TOML writer's text gave."""
    for result in _results():
        fast = store_module._result_toml(result)
        generic = store_module._dumps(
            to_toml_value({"results": [store_module.result_to_toml(result)]}))
        assert tomllib.loads(fast) == tomllib.loads(generic)
        [back] = tomllib.loads(fast)["results"]
        assert RunResult.from_dict(back) == RunResult.from_dict(
            tomllib.loads(generic)["results"][0])


def test_results_carried_by_a_claim_survive_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "state.toml"
    store = StateStore(path, min_interval=3600)  # no background writer: only claims write
    for result in _results():
        store.record(result)
    store.claim("e", make_run_id("e", SLOT), SLOT)
    crashed = StateStore(path).load()  # state.toml never saved: claims.toml alone tells
    for result in _results():
        [back] = crashed.jobs[result.job].results
        assert back.run_id == result.run_id and back.status is result.status
        assert back.error == result.error and back.output_tail == result.output_tail
        assert back.finished_at == result.finished_at and back.manual == result.manual
    assert crashed.jobs["e"].running == (make_run_id("e", SLOT),)
