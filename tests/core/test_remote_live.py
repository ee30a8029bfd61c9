"""RemoteScheduler on a real control socket, served by a ControlServer over a real Scheduler in
this process: commands reach the scheduler, its events and output reach the mirror, and the
mirror survives the server going away and coming back."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Gate, next_event, until

from crondeck.core import (
    ControlAttached,
    ControlDisconnected,
    ControlError,
    ControlRefused,
    ControlServer,
    Event,
    JobAdded,
    JobChanged,
    JobPaused,
    JobRemoved,
    OutputChunk,
    RemoteScheduler,
    RunFinished,
    RunStatus,
    Scheduler,
    SchedulerPaused,
    control_path,
    every,
)

WAIT = 10.0


def run(main: Callable[[], Any]) -> None:
    asyncio.run(asyncio.wait_for(main(), 30))


class Setup:
    def __init__(self, short_dir: Path) -> None:
        self.path = control_path(short_dir)
        self.gate = Gate()
        self.scheduler = Scheduler()
        self.scheduler.add_job(self.gate, None, every(hours=1), name="digest")
        self.scheduler.add_job(lambda: "ok", None, "*/5 * * * *", name="other",
                               tz="Europe/Paris")
        self.server: ControlServer | None = None
        self.loop_task: asyncio.Task[None] | None = None

    async def start(self) -> RemoteScheduler:
        self.loop_task = asyncio.create_task(self.scheduler.astart(stop_when_done=False))
        await until(lambda: self.scheduler.running_loop, WAIT)
        self.server = await ControlServer(self.scheduler, self.path).start()
        return await RemoteScheduler.attach(self.path, backoff=(0.05, 0.2))

    async def stop(self, mirror: RemoteScheduler) -> None:
        await mirror.aclose()
        if self.server is not None:
            await self.server.close()
        self.gate.release.set()
        self.scheduler.stop(terminate=True)
        if self.loop_task is not None:
            await asyncio.wait_for(self.loop_task, WAIT)


def test_the_mirror_starts_as_the_scheduler_is(short_dir: Path) -> None:
    async def main() -> None:
        setup = Setup(short_dir)
        mirror = await setup.start()
        try:
            assert mirror.connected and mirror.hello is not None
            assert mirror.hello["pid"] == os.getpid() and mirror.hello["kind"] == "embedded"
            assert set(mirror.jobs) == {"digest", "other"} and mirror.running_loop
            real, seen = setup.scheduler.jobs["other"], mirror.jobs["other"]
            assert seen.next_fire == real.next_fire and seen.schedule == real.schedule
            assert seen.schedule.next_after(real.next_fire) == real.schedule.next_after(
                real.next_fire)  # Upcoming and details compute the same fires locally
            assert seen.options == real.options
        finally:
            await setup.stop(mirror)

    run(main)


def test_commands_from_the_mirror_act_on_the_scheduler(short_dir: Path) -> None:
    async def main() -> None:
        setup = Setup(short_dir)
        mirror = await setup.start()
        sched = setup.scheduler
        try:
            sub = mirror.subscribe()
            seen_paused: list[bool] = []
            mirror.add_listener(lambda e: seen_paused.append(mirror.jobs["digest"].paused)
                                if isinstance(e, JobPaused) else None)
            await mirror.pause_job("digest", note="vacation")
            assert sched.jobs["digest"].paused and sched.jobs["digest"].pause_note == "vacation"
            await next_event(sub, JobPaused, WAIT)
            assert seen_paused == [True] and mirror.jobs["digest"].pause_note == "vacation"

            await mirror.resume_job("digest")
            await until(lambda: not mirror.jobs["digest"].paused, WAIT)
            assert not sched.jobs["digest"].paused

            await mirror.pause_all(note="freeze")
            assert sched.paused
            await next_event(sub, SchedulerPaused, WAIT)
            assert mirror.paused and mirror.pause_note == "freeze"
            await mirror.resume_all()
            await until(lambda: not mirror.paused, WAIT)

            await mirror.skip_next("other")
            await until(lambda: mirror.jobs["other"].skip_next_pending, WAIT)
            assert sched.jobs["other"].skip_next_pending

            await mirror.disable("other")
            await until(lambda: not mirror.jobs["other"].enabled, WAIT)
            assert not sched.jobs["other"].enabled and mirror.jobs["other"].next_fire is None

            refused = mirror.resume_job("nope")
            notice = await next_event(sub, ControlRefused, WAIT)
            assert notice.code == "no_such_job" and "no job named 'nope'" in notice.error
            assert refused.code == "no_such_job"
            reload = mirror.reload()
            notice = await next_event(sub, ControlRefused, WAIT)
            assert notice.op == "reload" and reload.code == "not_supported"
        finally:
            await setup.stop(mirror)

    run(main)


def test_a_run_started_from_the_mirror_streams_its_output_and_result(short_dir: Path) -> None:
    async def main() -> None:
        setup = Setup(short_dir)
        mirror = await setup.start()
        try:
            sub = mirror.subscribe()
            handle = mirror.run_now("digest")
            await until(lambda: bool(handle.run_id), WAIT)
            assert handle.run_id in setup.scheduler.jobs["digest"].running
            lines: list[str] = []
            while len(lines) < 2:
                chunk = await next_event(sub, OutputChunk, WAIT)
                assert chunk.run_id == handle.run_id and chunk.job == "digest"
                lines.append(chunk.text)
            assert lines == ["first line\n", "second line\n"]
            assert mirror.in_flight == 1 and handle.run_id in mirror.jobs["digest"].running

            # a console that subscribes now sees what the run printed so far
            late = mirror.subscribe()
            assert [e.text for e in late.drain() if isinstance(e, OutputChunk)] == lines

            # cancel from the mirror: the run ends cancelled, in both pictures
            assert mirror.cancel("digest") == 1
            result = await asyncio.wait_for(handle.wait(), WAIT)
            assert result.status is RunStatus.CANCELLED
            assert mirror.jobs["digest"].last_result == result
            assert not mirror.jobs["digest"].running and mirror.in_flight == 0
            assert setup.scheduler.jobs["digest"].last_result == result
            assert (await mirror.last_call)["cancelled"] == 1  # type: ignore[misc]
        finally:
            await setup.stop(mirror)

    run(main)


def test_closing_the_mirror_answers_whoever_awaits_a_run_still_going(short_dir: Path) -> None:
    """A run's end never reaches a closed mirror: awaiting it gives a result at once that
    says why (the run goes on in the scheduler), instead of waiting for ever."""

    async def main() -> None:
        setup = Setup(short_dir)
        mirror = await setup.start()
        try:
            handle = mirror.run_now("digest")
            await until(lambda: bool(handle.run_id)
                        and handle.run_id in mirror.jobs["digest"].running, WAIT)
            seen = mirror.jobs["digest"].running[handle.run_id]
            await mirror.aclose()
            for run in (handle, seen):
                result = await asyncio.wait_for(run.wait(), 1.0)
                assert result.status is RunStatus.ABANDONED
                assert "mirror was closed" in result.error
            assert handle.run_id in setup.scheduler.jobs["digest"].running  # it goes on
        finally:
            await setup.stop(mirror)

    run(main)


def test_the_mirror_reattaches_when_the_server_comes_back(short_dir: Path) -> None:
    async def main() -> None:
        setup = Setup(short_dir)
        mirror = await setup.start()
        sched = setup.scheduler
        try:
            sub = mirror.subscribe()
            assert setup.server is not None
            await setup.server.close()
            lost = await next_event(sub, ControlDisconnected, WAIT)
            assert lost.reason and not mirror.connected
            assert set(mirror.jobs) == {"digest", "other"}  # the last picture is kept
            assert mirror.pause_job("digest").code == "disconnected"

            # meanwhile: one job goes, one comes, a run finishes
            sched.remove_job("other")
            sched.add_job(lambda: "ok", None, every(minutes=30), name="fresh")
            done = sched.run_now("fresh")
            await asyncio.wait_for(done.wait(), WAIT)

            setup.server = await ControlServer(sched, setup.path).start()
            attached = await next_event(sub, ControlAttached, WAIT)
            assert attached.resync and mirror.connected
            assert set(mirror.jobs) == {"digest", "fresh"}
            assert mirror.jobs["fresh"].last_result == done.result()
        finally:
            await setup.stop(mirror)

    run(main)


def test_the_resync_announces_the_jobs_that_came_and_went(short_dir: Path) -> None:
    async def main() -> None:
        setup = Setup(short_dir)
        mirror = await setup.start()
        sched = setup.scheduler
        try:
            assert setup.server is not None
            await setup.server.close()
            await until(lambda: not mirror.connected, WAIT)
            sub = mirror.subscribe()
            sched.remove_job("other")
            sched.add_job(lambda: "ok", None, every(minutes=30), name="fresh")
            setup.server = await ControlServer(sched, setup.path).start()
            got: list[Event] = []
            while not any(isinstance(e, ControlAttached) for e in got):
                got.append(await asyncio.wait_for(sub.get(), WAIT))
            assert [e.job for e in got if isinstance(e, JobRemoved)] == ["other"]
            assert [e.job for e in got if isinstance(e, JobAdded)] == ["fresh"]
            # and it follows the new connection
            await mirror.pause_job("fresh")
            await until(lambda: mirror.jobs["fresh"].paused, WAIT)
        finally:
            await setup.stop(mirror)

    run(main)


def test_a_run_that_ends_after_the_snapshot_settles_the_mirror(short_dir: Path) -> None:
    async def main() -> None:
        setup = Setup(short_dir)
        setup.loop_task = asyncio.create_task(
            setup.scheduler.astart(stop_when_done=False))
        await until(lambda: setup.scheduler.running_loop, WAIT)
        setup.server = await ControlServer(setup.scheduler, setup.path).start()
        real = setup.scheduler.run_now("digest")
        await until(lambda: real.started_at is not None, WAIT)
        mirror = await RemoteScheduler.attach(setup.path)
        try:
            sub = mirror.subscribe()  # the run in flight's output so far, first
            first = sub.get_nowait()
            assert isinstance(first, OutputChunk) and first.text == "first line\n"
            handle = mirror.jobs["digest"].running[real.run_id]
            setup.gate.release.set()
            finished = await next_event(sub, RunFinished, WAIT)
            assert finished.result.status is RunStatus.OK
            assert await asyncio.wait_for(handle.wait(), WAIT) == finished.result
            assert not mirror.jobs["digest"].running
        finally:
            await setup.stop(mirror)

    run(main)


def test_a_job_replaced_by_a_reload_keeps_its_results_in_the_mirror(short_dir: Path) -> None:
    """A job removed and added again with its saved state (as a reload re-adding a job the
    state remembers): the record before `job_added` carries the results the scheduler
    holds, so LAST is not blank."""
    async def main() -> None:
        setup = Setup(short_dir)
        mirror = await setup.start()
        sched = setup.scheduler
        try:
            sub = mirror.subscribe()
            done = await asyncio.wait_for(sched.run_now("other").wait(), WAIT)
            await until(lambda: mirror.jobs["other"].last_result == done, WAIT)
            saved = sched.jobs["other"].state()
            sched.remove_job("other")  # what runtime.apply does for a job gone, then back
            sched.add_job(lambda: "ok", None, "*/10 * * * *", name="other")
            sched.restore([saved])
            await next_event(sub, JobAdded, WAIT, lambda e: e.job == "other")
            assert list(mirror.jobs["other"].results) == [done]
            assert mirror.jobs["other"].last_result == done

            sched.remove_job("other")  # really gone, and a new job of that name: no history
            sched.add_job(lambda: "ok", None, "*/10 * * * *", name="other")
            await next_event(sub, JobAdded, WAIT, lambda e: e.job == "other")
            assert list(mirror.jobs["other"].results) == []
        finally:
            await setup.stop(mirror)

    run(main)


def test_a_snapshot_carries_the_newest_results_and_history_fetches_a_jobs_own(
        short_dir: Path) -> None:
    """A snapshot carries the newest results across all jobs (as many as the History pane
    holds) and each job's newest and newest that ran; `history` gives a job's whole."""
    from datetime import UTC, datetime, timedelta

    from crondeck.core import RunResult

    t0 = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)

    def result(job: str, minute: int, status: RunStatus = RunStatus.OK) -> RunResult:
        at = t0 + timedelta(minutes=minute)
        return RunResult(run_id=f"{job}@{minute}", job=job, scheduled_for=at, status=status,
                         started_at=at, finished_at=at)

    async def main() -> None:
        setup = Setup(short_dir)
        sched = setup.scheduler
        digest = [result("digest", m) for m in (1, 2, 3, 10)]
        other = [result("other", m) for m in (4, 5)] + [result("other", 6, RunStatus.SKIPPED)]
        sched.jobs["digest"].results.extend(digest)
        sched.jobs["other"].results.extend(other)
        setup.loop_task = asyncio.create_task(sched.astart(stop_when_done=False))
        await until(lambda: sched.running_loop, WAIT)
        setup.server = await ControlServer(sched, setup.path, snapshot_results=3).start()
        mirror = await RemoteScheduler.attach(setup.path, backoff=(0.05, 0.2))
        try:
            # the newest three overall (digest@10, other@6, other@5), and other's newest
            # that ran (other@5) and digest's newest (digest@10)
            assert list(mirror.jobs["digest"].results) == digest[3:]
            assert list(mirror.jobs["other"].results) == other[1:]
            sub = mirror.subscribe()
            answer = await mirror.history("digest")
            assert [r["run_id"] for r in answer["results"]] == [r.run_id for r in digest]
            assert list(mirror.jobs["digest"].results) == digest
            changed = await next_event(sub, JobChanged, WAIT, lambda e: e.what == "history")
            assert changed.job == "digest"
            refused = mirror.history("nope")
            with pytest.raises(ControlError) as err:
                await refused
            assert err.value.code == "no_such_job"
        finally:
            await setup.stop(mirror)

    run(main)
