"""The scheduler embedded in an application: changing jobs in place, a loop that serves until
stopped, functions without arguments or prompt, intervals anchored now, state on disk."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_type_hints

import pytest

from crondeck.core import (
    Agent,
    FakeClock,
    JobChanged,
    JobOverrides,
    LockHeld,
    LockLost,
    RunContext,
    RunResult,
    RunStatus,
    Scheduler,
    SchedulerError,
    every,
)
from crondeck.core.options import OPTION_NAMES

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def slow(clock: FakeClock, seconds: float) -> Callable[[str], Awaitable[str]]:
    async def agent(prompt: str) -> str:
        await clock.sleep(seconds)
        return "slow done\n"

    return agent


async def quick(prompt: str) -> str:
    return "done\n"


async def serve(s: Scheduler) -> asyncio.Task[None]:
    task = asyncio.create_task(s.astart())
    await asyncio.sleep(0)
    return task


async def stop(s: Scheduler, task: asyncio.Task[None]) -> None:
    s.stop(terminate=True)
    await asyncio.wait_for(task, 5)


# ------------------------------------------------------------------ changing a job in place


def test_a_new_schedule_applies_at_once_and_keeps_the_run_in_flight_and_history() -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        sub = s.subscribe()
        job = s.add_job(slow(clock, 600), "p", every(hours=1), name="j")
        task = await serve(s)
        first = job.run_now()  # runs for ten minutes
        await clock.run_for(60)
        assert job.is_running and job.next_fire == at(3600)
        s.update_job("j", schedule=every(minutes=15))
        assert job.next_fire == at(900)  # at once, not after the old 13:00 slot
        assert job.is_running and not first.done()  # the run in flight goes on
        await clock.run_for(600)
        assert (await first).status is RunStatus.OK
        await clock.run_for(300)  # 12:15: the new schedule's first slot starts
        assert [h.scheduled_for for h in job.running.values()] == [at(900)]
        assert [r.scheduled_for for r in job.results] == [T0]
        await stop(s, task)
        assert any(isinstance(e, JobChanged) and e.what == "schedule" for e in sub.drain())

    asyncio.run(main())


def test_job_reschedule_takes_a_schedule_or_a_string() -> None:
    async def main() -> None:
        clock = FakeClock(T0 + timedelta(minutes=10))
        s = Scheduler(clock=clock)
        job = s.add_job(quick, "p", every(hours=1), name="j")
        job.reschedule(every(minutes=15))
        assert job.next_fire == at(900)
        job.reschedule("0 18 * * *", tz="UTC")
        assert job.next_fire == at(6 * 3600)
        assert job.schedule.describe() == "At 18:00"

    asyncio.run(main())


def test_update_job_checks_everything_before_changing_anything() -> None:
    clock = FakeClock(T0)
    s = Scheduler(clock=clock)
    job = s.add_job(quick, "p", every(hours=1), name="j", timeout=60)
    before = (job.schedule, job.options, job.next_fire)
    with pytest.raises(TypeError, match="did you mean 'timeout'"):
        s.update_job("j", schedule=every(minutes=5), timeot=10)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="overlap"):
        s.update_job("j", schedule=every(minutes=5), overlap="never")  # type: ignore[typeddict-item]
    assert (job.schedule, job.options, job.next_fire) == before
    s.update_job(job, timeout="5m", retries=2)
    assert (job.options.timeout, job.options.retries) == (300.0, 2)
    assert job.options.overlap == before[1].overlap and job.next_fire == before[2]


def test_raising_max_runs_revives_a_job_that_had_ended() -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(quick, "p", every(seconds=10), name="j", max_runs=1)
        task = await serve(s)
        await clock.run_for(25)
        assert job.exhausted == "max_runs reached" and job.run_count == 1
        s.update_job(job, max_runs=3)
        assert not job.exhausted and job.next_fire == at(30)
        await clock.run_for(30)
        assert job.run_count == 3 and job.exhausted == "max_runs reached"
        await stop(s, task)

    asyncio.run(main())


def test_history_size_change_keeps_the_newest_results() -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(quick, "p", every(seconds=10), name="j")
        task = await serve(s)
        await clock.run_for(45)
        assert len(job.results) == 4
        s.update_job(job, history=2)
        assert [r.scheduled_for for r in job.results] == [at(30), at(40)]
        await stop(s, task)

    asyncio.run(main())


# ------------------------------------------------------------------ the loop as a service


def test_astart_serves_until_stopped_even_when_the_only_job_is_disabled() -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(quick, "p", every(seconds=10), name="j")
        task = await serve(s)
        await clock.run_for(15)
        job.enabled = False
        await clock.run_for(60)
        assert not task.done(), "the loop ended when its only job was disabled"
        s.update_job("j", enabled=True)
        await clock.run_for(10)
        assert [r.scheduled_for for r in job.results] == [at(10), at(80)]
        await stop(s, task)

    asyncio.run(main())


def test_a_job_added_after_every_other_ended_still_fires() -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        s.add_job(quick, "p", every(seconds=10), name="once", max_runs=1)
        task = await serve(s)
        await clock.run_for(30)
        later = s.add_job(quick, "p", every(seconds=10), name="later")
        await clock.run_for(10)
        assert not task.done() and len(later.results) == 1
        await stop(s, task)

    asyncio.run(main())


def test_stop_when_done_is_the_way_to_run_until_the_jobs_are_done() -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        s.add_job(quick, "p", every(seconds=10), name="j", max_runs=2)
        task = asyncio.create_task(s.astart(stop_when_done=True))
        await clock.run_for(30)
        await asyncio.wait_for(task, 1)

    asyncio.run(main())


# ------------------------------------------------------------------ functions and prompts


def test_a_function_without_arguments_and_a_job_without_prompt() -> None:
    calls: list[str] = []

    def tick() -> str:
        calls.append("tick")
        return "ticked"

    async def main() -> list[RunResult]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(tick, None, every(seconds=1), max_runs=1)
        task = asyncio.create_task(s.astart(stop_when_done=True))
        await clock.run_for(2)
        await asyncio.wait_for(task, 5)
        return list(job.results)

    results = asyncio.run(main())
    assert calls == ["tick"]
    assert [r.status for r in results] == [RunStatus.OK]
    assert results[0].output_tail == "ticked"


def test_an_async_function_without_arguments() -> None:
    async def ping() -> str:
        return "pong"

    async def main() -> RunResult:
        s = Scheduler(clock=FakeClock(T0))
        job = s.add_job(ping, None, every(hours=1))
        return await job.run_now()

    result = asyncio.run(main())
    assert result.ok and result.output_tail == "pong"


def test_a_function_the_scheduler_cannot_call_is_refused_when_added() -> None:
    def needs_three(a: str, b: RunContext, c: int) -> None: ...

    def keyword(prompt: str, *, key: str) -> None: ...

    s = Scheduler(clock=FakeClock(T0))
    with pytest.raises(TypeError, match=r"requires c; a job calls it with \(\), \(prompt\)"):
        s.add_job(needs_three, "p", every(hours=1))
    with pytest.raises(TypeError, match="requires key"):
        s.add_job(keyword, "p", every(hours=1))
    assert not s.jobs


def test_an_error_preparing_a_run_is_that_runs_failure_and_the_loop_goes_on() -> None:
    async def main() -> tuple[RunResult, RunResult, bool]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        bad = s.add_job(quick, "p", every(seconds=10), name="bad")
        good = s.add_job(quick, "p", every(seconds=10), name="good")
        bad.prompt = None  # type: ignore[assignment]  # as a careless caller might
        task = await serve(s)
        await clock.run_for(25)
        alive = not task.done()
        await stop(s, task)
        return bad.results[-1], good.results[-1], alive and not bad.running

    bad, good, alive = asyncio.run(main())
    assert bad.status is RunStatus.FAILED and "TypeError" in bad.error
    assert good.ok and alive


def test_a_failure_while_booking_a_result_settles_the_run_and_is_reported() -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        sub = s.subscribe()
        job = s.add_job(quick, "p", every(seconds=10), name="j")

        def broken(*args: object) -> None:
            raise RuntimeError("disk on fire")

        s._ledger.book = broken  # type: ignore[method-assign]
        handle = job.run_now()
        result = await asyncio.wait_for(handle.wait(), 2)
        assert result.ok and not job.running
        errors = [e for e in sub.drain() if isinstance(e, SchedulerError)]
        assert errors and "disk on fire" in errors[0].message

    asyncio.run(main())


# ------------------------------------------------------------------ intervals anchored now


def test_every_is_anchored_to_the_epoch_unless_started_now() -> None:
    clock = FakeClock(datetime(2025, 1, 6, 10, 17, tzinfo=UTC))
    s = Scheduler(clock=clock)
    grid = s.add_job(quick, "p", every(hours=1), name="grid")
    now = s.add_job(quick, "p", every(hours=1, start="now"), name="now")
    assert grid.next_fire == datetime(2025, 1, 6, 11, 0, tzinfo=UTC)
    assert now.next_fire == datetime(2025, 1, 6, 11, 17, tzinfo=UTC)
    clock.advance(minutes=30)  # rescheduled at 10:47: the grid starts again from then
    s.update_job("now", schedule=every(hours=2, start="now"))
    assert now.next_fire == datetime(2025, 1, 6, 12, 47, tzinfo=UTC)
    with pytest.raises(ValueError, match="'now'"):
        every(hours=1, start="soon")  # type: ignore[arg-type]


# ------------------------------------------------------------------ state on disk


def test_state_dir_keeps_pause_history_and_counts_across_restarts(tmp_path: Path) -> None:
    clock = FakeClock(T0)

    def make() -> Scheduler:
        s = Scheduler(clock=clock, state_dir=tmp_path / "state")
        s.add_job(quick, "p", every(seconds=10), name="j")
        return s

    async def first() -> None:
        with make() as s:
            task = await serve(s)
            await clock.run_for(25)
            s.jobs["j"].pause(note="holiday")
            await stop(s, task)

    asyncio.run(first())
    assert (tmp_path / "state" / "state.toml").exists()
    assert list((tmp_path / "state" / "runs").rglob("*.log"))

    with make() as s:
        job = s.jobs["j"]
        assert job.paused and job.pause_note == "holiday"
        assert job.run_count == 2
        assert [r.scheduled_for for r in job.results if r.ok] == [at(10), at(20)]
        with pytest.raises(LockHeld):
            Scheduler(clock=clock, state_dir=tmp_path / "state")


def test_state_dir_never_fires_a_claimed_slot_twice(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    seen: list[str] = []

    async def once(prompt: str, ctx: RunContext) -> None:
        seen.append(ctx.run_id)

    async def run(seconds: float) -> None:
        with Scheduler(clock=clock, state_dir=tmp_path) as s:
            s.add_job(once, "p", every(seconds=10), name="j")
            task = await serve(s)
            await clock.run_for(seconds)
            await stop(s, task)

    asyncio.run(run(15))  # fires the 12:00:10 slot
    clock.set(at(10))  # restarted within the same second
    asyncio.run(run(5))
    assert seen == ["j@2025-01-06T12:00:10Z"]


def test_an_interval_started_now_keeps_its_grid_across_a_restart(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2025, 1, 6, 10, 17, tzinfo=UTC))

    async def run(seconds: float) -> datetime | None:
        with Scheduler(clock=clock, state_dir=tmp_path) as s:
            job = s.add_job(quick, "p", every(hours=1, start="now"), name="j")
            task = await serve(s)
            await clock.run_for(seconds)
            await stop(s, task)
            return job.next_fire

    assert asyncio.run(run(3600 + 180)) == datetime(2025, 1, 6, 12, 17, tzinfo=UTC)
    clock.advance(minutes=20)  # restarted at 11:40: 12:17 is still next, nothing owed
    assert asyncio.run(run(0)) == datetime(2025, 1, 6, 12, 17, tzinfo=UTC)


def test_state_dir_that_lost_its_lock_stops_and_saves_nothing_more(tmp_path: Path) -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        with Scheduler(clock=clock, state_dir=tmp_path) as s:
            events: list[object] = []
            s.add_listener(events.append)
            job = s.add_job(quick, "p", every(seconds=10), name="j")
            task = await serve(s)
            await clock.run_for(15)
            assert len(job.results) == 1
            s._state_dir.store.flush()  # type: ignore[union-attr]
            before = (tmp_path / "state.toml").read_bytes()
            (tmp_path / "lock").unlink()  # someone deletes it: another scheduler could lock
            await clock.run_for(10)
            await asyncio.wait_for(task, 5)  # the loop stopped by itself
            lost = [e for e in events if isinstance(e, LockLost)]
            assert len(lost) == 1 and "deleted" in lost[0].reason
            s.close()
            assert (tmp_path / "state.toml").read_bytes() == before

    asyncio.run(main())


def test_state_dir_and_state_sink_are_exclusive(tmp_path: Path) -> None:
    from crondeck.core import NullStateSink

    with pytest.raises(ValueError, match="not both"):
        Scheduler(state_dir=tmp_path, state_sink=NullStateSink())
    assert not (tmp_path / "lock").exists()


# ------------------------------------------------------------------ types


def test_the_typed_overrides_name_every_job_option() -> None:
    assert set(get_type_hints(JobOverrides, include_extras=False, localns={
        "Gate": object, "NotifySpec": object})) == OPTION_NAMES


def test_agent_is_exported_as_a_protocol() -> None:
    class Echo:
        name = "echo"

        async def execute(self, ctx: RunContext) -> int | None:
            ctx.emit(ctx.prompt, "stdout")
            return 0

    agent: Agent = Echo()
    assert isinstance(agent, Agent)
