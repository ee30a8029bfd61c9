"""The core FileWatcher: an edit of the jobs file on disk is applied or refused, and results
`crondeck exec` left in the inbox are folded in; each says so with a core event."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crondeck.core.clock import FakeClock
from crondeck.core.config import load_config
from crondeck.core.events import (
    ConfigRejected,
    ConfigReloaded,
    Event,
    ExecResultRecorded,
    SchedulerError,
)
from crondeck.core.inbox import drop_result, read_inbox
from crondeck.core.results import RunResult, RunStatus
from crondeck.core.runtime import Runtime, open_runtime
from crondeck.core.watch import FileWatcher

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
JOBS = '[[jobs]]\nname = "a"\nschedule = "*/5 * * * *"\ncommand = "echo a"\n'
JOB_B = '\n[[jobs]]\nname = "b"\nschedule = "@every 1m"\ncommand = "echo b"\n'


def edit(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    st = path.stat()  # the change must show even within one mtime tick
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


@pytest.fixture
def runtime(tmp_path: Path):
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS)
    rt = open_runtime(load_config(path), clock=FakeClock(T0))
    yield rt
    rt.close()


def look(runtime: Runtime) -> list[Event]:
    sub = runtime.scheduler.subscribe()
    try:
        FileWatcher(runtime).check()
        return sub.drain()
    finally:
        sub.close()


def test_an_unchanged_file_and_an_empty_inbox_say_nothing(runtime: Runtime) -> None:
    sub = runtime.scheduler.subscribe()
    done = FileWatcher(runtime).check()
    assert (done.reload, done.folded, done.inbox_error) == (None, [], None)
    assert sub.drain() == []


def test_an_edit_is_applied_and_reported(runtime: Runtime) -> None:
    edit(runtime.config.path, JOBS + JOB_B, 1)
    events = look(runtime)
    assert set(runtime.scheduler.jobs) == {"a", "b"}
    [reloaded] = [e for e in events if isinstance(e, ConfigReloaded)]
    assert (reloaded.added, reloaded.removed, reloaded.changed) == (("b",), (), ())
    assert reloaded.path == str(runtime.config.path)
    # the same edit seen again is no news
    assert [e for e in look(runtime) if isinstance(e, ConfigReloaded)] == []


def test_an_invalid_edit_is_refused_and_the_schedule_kept(runtime: Runtime) -> None:
    running = runtime.scheduler.jobs["a"]
    edit(runtime.config.path, JOBS.replace("*/5", "*/0"), 1)
    sub = runtime.scheduler.subscribe()
    done = FileWatcher(runtime).check()
    assert done.reload is not None and not done.reload.ok
    [rejected] = sub.drain()
    assert isinstance(rejected, ConfigRejected)
    assert rejected.problems and "step" in rejected.problems[0]
    assert rejected.problems == tuple(str(p) for p in done.reload.problems)
    assert runtime.scheduler.jobs == {"a": running}
    assert runtime.config.job("a").schedule == "*/5 * * * *"


def test_exec_results_in_the_inbox_join_the_history(runtime: Runtime) -> None:
    state_dir = Path(runtime.config.state_dir)
    result = RunResult(run_id="a@2026-03-01T08:55:00Z", job="a", scheduled_for=T0,
                       status=RunStatus.FAILED, exit_code=3)
    drop_result(state_dir, result)
    sub = runtime.scheduler.subscribe()
    done = FileWatcher(runtime).check()
    assert done.folded == [result]
    [recorded] = sub.drain()
    assert isinstance(recorded, ExecResultRecorded)
    assert (recorded.job, recorded.run_id, recorded.status) == ("a", result.run_id,
                                                                RunStatus.FAILED)
    assert recorded.result == result
    assert result in runtime.scheduler.jobs["a"].results
    assert read_inbox(state_dir) == []


def test_an_unwritable_state_leaves_the_inbox_for_the_next_look(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = Path(runtime.config.state_dir)
    drop_result(state_dir, RunResult(run_id="a@x", job="a", scheduled_for=T0,
                                     status=RunStatus.OK))

    def full_disk() -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runtime.store, "flush", full_disk)
    sub = runtime.scheduler.subscribe()
    done = FileWatcher(runtime).check()
    assert isinstance(done.inbox_error, OSError) and done.folded == []
    [error] = sub.drain()
    assert isinstance(error, SchedulerError) and error.where == "inbox"
    assert "could not read exec results" in error.message
    assert len(read_inbox(state_dir)) == 1  # kept: folded once the state can be written
    monkeypatch.undo()
    assert [r.run_id for r in FileWatcher(runtime).check().folded] == ["a@x"]


def test_a_read_only_runtime_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS)
    with open_runtime(load_config(path), read_only=True) as observer:
        edit(path, JOBS + JOB_B, 1)
        done = FileWatcher(observer).check()
        assert done.reload is None and set(observer.scheduler.jobs) == {"a"}


def test_watch_looks_on_its_interval_until_cancelled(runtime: Runtime) -> None:
    async def scenario() -> ConfigReloaded:
        sub = runtime.scheduler.subscribe()
        task = asyncio.create_task(FileWatcher(runtime).watch(every=0.01))
        edit(runtime.config.path, JOBS + JOB_B, 1)
        try:
            while True:
                event = await asyncio.wait_for(sub.get(), timeout=10)
                if isinstance(event, ConfigReloaded):
                    return event
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    assert asyncio.run(scenario()).added == ("b",)
