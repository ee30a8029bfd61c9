"""A reload that changes a job changes it in place, as `Scheduler.update_job` does: its run in
flight finishes as it started and is recorded, the next run takes the new definition; a job
removed from the file has its run in flight cancelled; a bad edit changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from helpers import until

from crondeck.core.clock import FakeClock
from crondeck.core.config import load_config
from crondeck.core.events import Event, JobAdded, JobChanged, JobRemoved
from crondeck.core.results import RunStatus
from crondeck.core.runtime import Runtime, open_runtime

T0 = datetime(2025, 3, 3, 8, 0, 10, tzinfo=UTC)
WAIT = 10.0  # seconds a real process gets to reach a point

# Reads its prompt, says it, and runs until the test creates `release`.
HELD = """read p; echo "got $p"; while [ ! -e release ]; do sleep 0.05; done; echo done"""

FILE = """
[defaults]
timezone = "UTC"

[[jobs]]
name = "slow"
command = 'CMD'
prompt = "old prompt"
schedule = "0 9 * * *"
timeout = "1m"

[[jobs]]
name = "other"
command = "true"
schedule = "0 0 1 1 *"
"""


def _deck(tmp_path: Path) -> tuple[Path, Runtime]:
    path = tmp_path / "crondeck.toml"
    path.write_text(FILE.replace("CMD", HELD))
    return path, open_runtime(load_config(path), clock=FakeClock(T0))


def _output(runtime: Runtime, run_id: str) -> str:
    handle = runtime.scheduler.jobs["slow"].running.get(run_id)
    return handle.output.text() if handle is not None and handle.output is not None else ""


def test_a_changed_job_keeps_its_run_in_flight_and_runs_the_new_definition_next(
        tmp_path: Path) -> None:
    path, runtime = _deck(tmp_path)
    events: list[Event] = []

    async def scenario() -> None:
        scheduler = runtime.scheduler
        job = scheduler.jobs["slow"]
        handle = scheduler.run_now("slow")
        await until(lambda: "got old prompt" in _output(runtime, handle.run_id), WAIT)
        scheduler.add_listener(events.append)
        path.write_text(path.read_text().replace('"old prompt"', '"new prompt"')
                        .replace('"0 9 * * *"', '"30 9 * * *"')
                        .replace('timeout = "1m"', 'timeout = "2m"'))
        reload = runtime.reload()
        assert reload.ok and reload.changed == ["slow"] and not reload.removed + reload.added
        assert scheduler.jobs["slow"] is job and handle.run_id in job.running
        assert job.prompt == "new prompt" and job.options.timeout == 120
        assert job.schedule.text == "30 9 * * *"
        assert job.next_fire == datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
        # The overlap policy (skip) still sees the run: no second one starts beside it.
        beside = await asyncio.wait_for(scheduler.run_now("slow").wait(), WAIT)
        assert beside.status is RunStatus.SKIPPED and not handle.done()

        (tmp_path / "release").touch()
        result = await asyncio.wait_for(handle.wait(), WAIT)
        assert result.status is RunStatus.OK
        assert "got old prompt" in result.output_tail and "done" in result.output_tail
        assert job.last_result == result
        assert result in runtime.store.get("slow").results  # recorded in the state too

        nxt = await asyncio.wait_for(scheduler.run_now("slow").wait(), WAIT)
        assert nxt.status is RunStatus.OK and "got new prompt" in nxt.output_tail

    try:
        asyncio.run(scenario())
    finally:
        runtime.close()
    changes = {e.what for e in events if isinstance(e, JobChanged) and e.job == "slow"}
    assert {"prompt", "options", "schedule"} <= changes
    assert "agent" not in changes  # the command is as it was
    assert not [e for e in events if isinstance(e, JobRemoved | JobAdded)]
    statuses = [r.status for r in runtime.store.get("slow").results]
    assert sorted(statuses) == [RunStatus.OK, RunStatus.OK, RunStatus.SKIPPED]  # none cancelled


def test_a_job_removed_from_the_file_has_its_run_cancelled(tmp_path: Path) -> None:
    path, runtime = _deck(tmp_path)

    async def scenario() -> None:
        handle = runtime.scheduler.run_now("slow")
        await until(lambda: "got old prompt" in _output(runtime, handle.run_id), WAIT)
        text = path.read_text()
        first, other = text.index("[[jobs]]"), text.index('[[jobs]]\nname = "other"')
        path.write_text(text[:first] + text[other:])  # "slow" gone
        assert runtime.replaced_by(load_config(path)) == ["slow"]
        reload = runtime.reload()
        assert reload.ok and reload.removed == ["slow"] and "slow" not in runtime.scheduler.jobs
        result = await asyncio.wait_for(handle.wait(), WAIT)
        assert result.status is RunStatus.CANCELLED and result.error == "job removed"
        assert "got old prompt" in result.output_tail

    try:
        asyncio.run(scenario())
    finally:
        runtime.close()


def test_an_edit_that_cannot_be_set_up_changes_nothing(tmp_path: Path) -> None:
    path, runtime = _deck(tmp_path)

    async def scenario() -> None:
        job = runtime.scheduler.jobs["slow"]
        handle = runtime.scheduler.run_now("slow")
        await until(lambda: "got old prompt" in _output(runtime, handle.run_id), WAIT)
        path.write_text(path.read_text().replace('"old prompt"', '"new prompt"').replace(
            'command = "true"', 'python = "no_such_module_here:tick"'))
        reload = runtime.reload()
        assert not reload.ok and reload.problems[0].job == "other"
        assert runtime.scheduler.jobs["slow"] is job and job.prompt == "old prompt"
        assert handle.run_id in job.running
        (tmp_path / "release").touch()
        assert (await asyncio.wait_for(handle.wait(), WAIT)).status is RunStatus.OK

    try:
        asyncio.run(scenario())
    finally:
        runtime.close()


def test_a_new_schedule_counts_from_the_last_slot_or_from_now_if_it_never_fired(
        tmp_path: Path) -> None:
    """The next fire after a reload that changes the schedule: from the job's last slot when
    it has one (slots since are owed, as after a restart), else the new schedule's first slot
    after now. A change that leaves the schedule alone leaves the next fire alone."""
    path = tmp_path / "crondeck.toml"
    path.write_text('[defaults]\ntimezone = "UTC"\n\n'
                    '[[jobs]]\nname = "fired"\ncommand = "true"\nschedule = "0 7 * * *"\n\n'
                    '[[jobs]]\nname = "never"\ncommand = "true"\nschedule = "0 9 * * *"\n')
    with open_runtime(load_config(path), clock=FakeClock(T0)) as runtime:
        jobs = runtime.scheduler.jobs
        jobs["fired"].last_slot = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)  # it ran at 07:00
        path.write_text(path.read_text().replace('"0 7 * * *"', '"*/5 * * * *"')
                        .replace('"0 9 * * *"', '"*/5 * * * *"'))
        assert runtime.reload().changed == ["fired", "never"]
        assert jobs["fired"].next_fire == datetime(2025, 3, 3, 7, 5, tzinfo=UTC)  # owed
        assert jobs["never"].next_fire == datetime(2025, 3, 3, 8, 5, tzinfo=UTC)
        path.write_text(path.read_text().replace('name = "never"\ncommand = "true"',
                                                 'name = "never"\ncommand = "true"\n'
                                                 'prompt = "now with a prompt"'))
        assert runtime.reload().changed == ["never"]
        assert jobs["never"].next_fire == datetime(2025, 3, 3, 8, 5, tzinfo=UTC)
        assert jobs["never"].prompt == "now with a prompt"


def test_a_run_in_flight_retries_under_the_definition_it_started_with() -> None:
    """`update_job` (what a reload calls) during a run: its retry still takes the agent,
    prompt and options the run started with; the next run takes the new ones."""
    from crondeck.core.scheduler import Scheduler

    async def scenario() -> None:
        scheduler = Scheduler(clock=FakeClock(T0))
        release = asyncio.Event()
        calls: list[tuple[str, str]] = []

        async def old(prompt: str) -> None:
            calls.append(("old", prompt))
            await release.wait()
            raise RuntimeError("boom")

        def new(prompt: str) -> str:
            calls.append(("new", prompt))
            return "ok"

        scheduler.add_job(old, "first", "0 9 * * *", name="j", retries=1, retry_backoff=0)
        handle = scheduler.run_now("j")
        await until(lambda: bool(calls), WAIT)
        scheduler.update_job("j", agent=new, prompt="second", retries=0)
        release.set()
        result = await asyncio.wait_for(handle.wait(), WAIT)
        assert result.status is RunStatus.FAILED and result.attempt == 2  # retries=1 kept
        assert calls == [("old", "first"), ("old", "first")]
        nxt = await asyncio.wait_for(scheduler.run_now("j").wait(), WAIT)
        assert nxt.status is RunStatus.OK and calls[-1] == ("new", "second")

    asyncio.run(scenario())


def test_an_ended_job_given_more_runs_and_a_new_schedule_fires_again(tmp_path: Path) -> None:
    """A job that reached its max_runs, given more runs and a new schedule in one edit, is
    live again (whether it has ended is decided again)."""
    path = tmp_path / "crondeck.toml"
    path.write_text('[defaults]\ntimezone = "UTC"\n\n[[jobs]]\nname = "once"\n'
                    'command = "echo hi"\nschedule = "0 7 * * *"\nmax_runs = 1\n')

    async def scenario() -> None:
        with open_runtime(load_config(path), clock=FakeClock(T0)) as runtime:
            job = runtime.scheduler.jobs["once"]
            done = await asyncio.wait_for(runtime.scheduler.run_now("once").wait(), WAIT)
            assert done.status is RunStatus.OK
            await until(lambda: job.exhausted == "max_runs reached", WAIT)
            path.write_text(path.read_text().replace("max_runs = 1", "max_runs = 3")
                            .replace('"0 7 * * *"', '"0 9 * * *"'))
            assert runtime.reload().changed == ["once"]
            assert runtime.scheduler.jobs["once"] is job and job.exhausted == ""
            assert job.next_fire == datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

    asyncio.run(scenario())
