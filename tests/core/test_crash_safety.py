"""What survives a crash of the scheduler, and what a full disk does to claims and results:
a run whose claim is not durable never starts, a finished result is on disk before the job's
next slot is decided, and the abandoned record says which attempt was under way."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crondeck.core import store as store_module
from crondeck.core.clock import FakeClock
from crondeck.core.config import load_config
from crondeck.core.events import RunSkipped, SchedulerError
from crondeck.core.results import RunStatus, SkipReason, make_run_id
from crondeck.core.runtime import Runtime, open_runtime
from crondeck.core.store import StateStore

T0 = datetime(2025, 3, 1, 9, 0, 30, tzinfo=UTC)


def _write(tmp_path: Path, body: str) -> Path:
    """A jobs file beside a fresh importable agents module; each call of `tick` appends a
    line to ran.txt, so a test can count the runs that really happened."""
    module = f"agents_{uuid.uuid4().hex[:8]}"
    ran = tmp_path / "ran.txt"
    (tmp_path / f"{module}.py").write_text(
        "async def tick(prompt):\n"
        f"    with open({str(ran)!r}, 'a') as f:\n"
        "        f.write(prompt + '\\n')\n"
        "    return 'tick\\n'\n"
    )
    path = tmp_path / "crondeck.toml"
    path.write_text(body.replace("MODULE", module))
    return path


TICKER = """
[defaults]
timezone = "UTC"

[[jobs]]
name = "ticker"
python = "MODULE:tick"
prompt = "hello"
schedule = "* * * * *"
"""


def _runs(tmp_path: Path) -> int:
    ran = tmp_path / "ran.txt"
    return len(ran.read_text().splitlines()) if ran.exists() else 0


async def _run(runtime: Runtime, clock: FakeClock, seconds: float) -> None:
    task = asyncio.create_task(runtime.scheduler.astart(stop_when_done=False))
    await clock.run_for(seconds)
    runtime.scheduler.stop()
    await asyncio.wait_for(task, 5)


def _disk_full(*_args: object, **_kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_claim_that_cannot_be_written_does_not_start_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(_write(tmp_path, TICKER))
    clock = FakeClock(T0)
    events: list[object] = []

    async def full_disk() -> Runtime:
        with open_runtime(cfg, clock=clock) as runtime:
            runtime.scheduler.add_listener(events.append)
            monkeypatch.setattr(store_module, "atomic_write_bytes", _disk_full)
            await _run(runtime, clock, 40)  # 09:01 falls due with the disk full
            monkeypatch.undo()
        return runtime

    runtime = asyncio.run(full_disk())
    assert _runs(tmp_path) == 0  # not started: a crash now could not tell it had run
    [result] = runtime.scheduler.jobs["ticker"].results
    assert result.status is RunStatus.SKIPPED and result.skip_reason is SkipReason.UNRECORDED
    assert "No space left on device" in result.error and "not started" in result.error
    assert [e.reason for e in events if isinstance(e, RunSkipped)] == [SkipReason.UNRECORDED]
    assert any(isinstance(e, SchedulerError) and e.where == "state_sink.run_claimed"
               for e in events)
    saved = StateStore(cfg.state_dir / "state.toml").load().jobs["ticker"]
    assert saved.running == ()  # the failed claim left no "running" behind to abandon

    async def later() -> None:  # room again: the next slot runs, once
        with open_runtime(cfg, clock=clock) as runtime:
            await _run(runtime, clock, 60)

    asyncio.run(later())
    assert _runs(tmp_path) == 1
    saved = StateStore(cfg.state_dir / "state.toml").load().jobs["ticker"]
    assert [r.status for r in saved.results if r.status is not RunStatus.SKIPPED] == [
        RunStatus.OK]
    assert not [r for r in saved.results if r.status is RunStatus.ABANDONED]


def test_starting_with_the_disk_full_says_so_and_keeps_scheduling(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(_write(tmp_path, TICKER))
    clock = FakeClock(T0)
    monkeypatch.setattr(store_module, "atomic_write_bytes", _disk_full)

    async def start() -> Runtime:
        with open_runtime(cfg, clock=clock) as runtime:  # no traceback from store.flush()
            await _run(runtime, clock, 40)
            monkeypatch.undo()
        return runtime

    runtime = asyncio.run(start())
    assert any("No space left on device" in p and "state.toml" in p for p in runtime.problems)
    [result] = runtime.scheduler.jobs["ticker"].results
    assert result.skip_reason is SkipReason.UNRECORDED and _runs(tmp_path) == 0


FLAKY = """
[defaults]
timezone = "UTC"

[[jobs]]
name = "ticker"
python = "MODULE:fail"
prompt = "hello"
schedule = "* * * * *"
retries = 2
retry_backoff = "30s"
"""


def _crash(runtime: Runtime) -> None:
    """What a SIGKILL leaves: whatever is on disk now; nothing saved on the way out."""
    runtime.store.read_only = True
    if runtime.lock is not None:
        runtime.lock.release()


@pytest.fixture
def batched(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background saves: only what is written synchronously (claims) reaches the disk,
    as when a crash comes before the writer's next batch."""
    monkeypatch.setattr(StateStore, "_writer", lambda self: None)


def test_a_run_killed_between_attempts_is_abandoned_naming_its_last_attempt(
        tmp_path: Path) -> None:
    path = _write(tmp_path, FLAKY)
    with next(tmp_path.glob("agents_*.py")).open("a") as f:
        f.write("async def fail(prompt):\n    raise RuntimeError('boom')\n")
    cfg = load_config(path)
    clock = FakeClock(T0)

    async def until_second_attempt() -> Runtime:
        runtime = open_runtime(cfg, clock=clock)
        task = asyncio.create_task(runtime.scheduler.astart(stop_when_done=False))
        await clock.run_for(31 + 30 + 1)  # 09:01 attempt 1 fails; attempt 2 at 09:01:30 fails
        runtime.store.flush()  # the writer's batch saved attempts 1 and 2
        _crash(runtime)  # killed in the backoff before attempt 3
        task.cancel()
        return runtime

    asyncio.run(until_second_attempt())
    clock.advance(5)

    async def restart() -> Runtime:
        with open_runtime(cfg, clock=clock) as runtime:
            pass
        return runtime

    runtime = asyncio.run(restart())
    [abandoned] = runtime.abandoned
    assert abandoned.run_id == make_run_id("ticker", T0.replace(second=0) + timedelta(minutes=1))
    assert abandoned.attempt == 3 and "attempt 3" in abandoned.error


def test_a_finished_result_is_on_disk_before_the_next_slot_of_its_job_is_decided(
        tmp_path: Path, batched: None) -> None:
    cfg = load_config(_write(tmp_path, TICKER))
    clock = FakeClock(T0)

    async def two_runs_then_crash() -> None:
        runtime = open_runtime(cfg, clock=clock)
        task = asyncio.create_task(runtime.scheduler.astart(stop_when_done=False))
        await clock.run_for(100)  # 09:01 and 09:02 run and finish
        _crash(runtime)
        task.cancel()

    asyncio.run(two_runs_then_crash())
    assert _runs(tmp_path) == 2

    async def restart() -> Runtime:
        with open_runtime(cfg, clock=clock) as runtime:
            pass
        return runtime

    runtime = asyncio.run(restart())
    results = {r.scheduled_for.strftime("%H:%M"): r.status
               for r in runtime.scheduler.jobs["ticker"].results}
    assert results["09:01"] is RunStatus.OK  # its job's next slot was decided after it


def test_an_atomic_write_leaves_one_private_file_and_no_temporary(tmp_path):
    from crondeck.core.atomic import atomic_write_bytes

    target = tmp_path / "state.toml"
    for data in (b"one", b"two"):
        atomic_write_bytes(target, data)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.toml"]
