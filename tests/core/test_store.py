"""Atomic writes and the runtime state file: nothing the scheduler recorded may be lost."""

from __future__ import annotations

import os
import random
import signal
import stat
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tomli_w

from crondeck.core import atomic
from crondeck.core.atomic import (
    atomic_write_bytes,
    atomic_write_toml,
    read_toml,
    save_with_backup,
)
from crondeck.core.jobs import JobState
from crondeck.core.results import GateResult, RunResult, RunStatus, SkipReason, make_run_id
from crondeck.core.store import StateStore

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _temps(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if ".tmp-" in p.name]


def test_atomic_write_replaces_whole_file_with_private_mode(tmp_path: Path) -> None:
    target = tmp_path / "f.toml"
    target.write_text("old = 1\n")
    atomic_write_toml(target, {"new": 2, "gone": None})
    assert read_toml(target) == {"new": 2}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert _temps(tmp_path) == []


def test_failed_rename_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.toml"
    target.write_text("old = 1\n")

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new = 2\n")
    assert target.read_text() == "old = 1\n"
    assert _temps(tmp_path) == []


def test_save_with_backup_keeps_previous_version_and_mode(tmp_path: Path) -> None:
    jobs = tmp_path / "crondeck.toml"
    assert save_with_backup(jobs, b"# first\nv = 1\n") is None
    os.chmod(jobs, 0o644)
    backup = save_with_backup(jobs, b"v = 2\n")
    assert backup == tmp_path / "crondeck.toml.bak"
    assert backup.read_text() == "# first\nv = 1\n"
    assert read_toml(jobs) == {"v": 2}
    assert stat.S_IMODE(jobs.stat().st_mode) == 0o644


def _result(job: str, minute: int, status: RunStatus = RunStatus.OK, **kw: object) -> RunResult:
    slot = T0 + timedelta(minutes=minute)
    return RunResult(
        run_id=make_run_id(job, slot),
        job=job,
        scheduled_for=slot,
        status=status,
        **kw,  # type: ignore[arg-type]
    )


def _full_state() -> JobState:
    return JobState(
        name="a",
        paused=True,
        pause_note="investigating flaky API",
        pause_until=T0 + timedelta(hours=2),
        skip_next=True,
        next_fire=T0 + timedelta(minutes=5),
        last_slot=T0,
        run_count=7,
        consecutive_failures=2,
        exhausted="",
        running=("a@2025-03-01T09:05:00Z",),
        results=(
            _result(
                "a",
                0,
                RunStatus.FAILED,
                started_at=T0,
                finished_at=T0 + timedelta(seconds=3),
                exit_code=3,
                error="exit 3: boom",
                output_tail="line 1\nline 2\n",
                gate=GateResult(run=True, exit_code=0, context="2 new mails", duration=0.5),
                output_bytes=14,
            ),
            _result("a", 1, RunStatus.SKIPPED, skip_reason=SkipReason.GATE, error="no mail"),
        ),
    )


def test_state_round_trips_every_field(tmp_path: Path) -> None:
    path = tmp_path / ".crondeck" / "state.toml"
    s = StateStore(path)
    s.put(_full_state())
    s.flush()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = StateStore(path).load()
    assert again.problems == []
    assert again.jobs["a"] == _full_state()
    doc = read_toml(path)
    # Human-readable: real TOML date-times and a summary of the last run.
    assert doc["jobs"]["a"]["next_fire"] == T0 + timedelta(minutes=5)
    assert doc["jobs"]["a"]["last"]["status"] == "failed"


def test_history_is_capped_and_long_output_trimmed(tmp_path: Path) -> None:
    s = StateStore(tmp_path / "state.toml", history=3)
    for i in range(6):
        s.record(_result("j", i, output_tail="x" * 50_000))
    s.record(_result("j", 5, output_tail="x" * 50_000))  # the same result twice: kept once
    s.flush()
    st = StateStore(tmp_path / "state.toml").load().jobs["j"]
    assert [r.scheduled_for.minute for r in st.results] == [3, 4, 5]
    assert all(len(r.output_tail) <= 2001 for r in st.results)


def test_a_claim_is_durable_at_once_and_survives_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "state.toml"
    s = StateStore(path, min_interval=3600)
    s.put(JobState(name="a", run_count=3))
    s.flush()
    run_id = make_run_id("a", T0)
    s.claim("a", run_id, T0)
    # No state save happened: a crash now must still know the slot was taken.
    crashed = StateStore(path).load()
    assert crashed.jobs["a"].running == (run_id,)
    assert crashed.jobs["a"].last_slot == T0
    assert crashed.jobs["a"].run_count == 3
    # Once the state itself is saved, the claims file is folded in and gone.
    s.flush()
    assert not (tmp_path / "claims.toml").exists()
    assert StateStore(path).load().jobs["a"].running == (run_id,)


@pytest.mark.parametrize(
    "content",
    [
        b"jobs = [not toml",
        b"\xff\xfe garbage",
        b"format = 1\njobs = 3\n",
        b'format = 1\n[jobs.a]\nrun_count = "many"\n',
        b"format = 99\n",
        b'format = 1\n[[jobs.a.results]]\nrun_id = "a@x"\n',
    ],
)
def test_corrupt_state_is_moved_aside_and_reported(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.toml"
    path.write_bytes(content)
    s = StateStore(path).load()
    assert s.jobs == {}
    assert len(s.problems) == 1 and "moved it aside" in s.problems[0]
    [aside] = s.moved_aside
    assert aside.name.startswith("state.toml.corrupt-")
    assert aside.read_bytes() == content  # nothing lost
    assert not path.exists()


def test_corrupt_claims_file_is_moved_aside_and_state_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.toml"
    s = StateStore(path)
    s.put(JobState(name="a", run_count=2))
    s.flush()
    (tmp_path / "claims.toml").write_text("[[claims]]\njob = 'a'\n")  # no run_id
    again = StateStore(path).load()
    assert again.jobs["a"].run_count == 2
    assert len(again.problems) == 1 and "claims.toml" in again.problems[0]
    assert not (tmp_path / "claims.toml").exists()


def test_read_only_never_moves_or_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.toml"
    path.write_bytes(b"not = [toml")
    s = StateStore(path, read_only=True).load()
    assert s.problems and "left in place" in s.problems[0]
    s.record(_result("x", 0))
    s.flush()
    assert path.read_bytes() == b"not = [toml"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.toml"]


def test_stale_temp_files_of_dead_writers_are_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "state.toml"
    dead = tmp_path / ".state.toml.tmp-999999999-abc"
    dead.write_text("half a fi")
    mine = tmp_path / f".state.toml.tmp-{os.getpid()}-xyz"  # a live writer's: left alone
    mine.write_text("")
    StateStore(path).load()
    assert not dead.exists() and mine.exists()


@pytest.mark.slow
def test_writes_are_coalesced(tmp_path: Path) -> None:
    path = tmp_path / "state.toml"
    # A long interval: the first change is written, the other 1,999 wait for close().
    s = StateStore(path, min_interval=3600)
    s.start()
    for i in range(2_000):
        s.record(_result(f"job-{i}", 0))
    s.close()
    assert s.write_count <= 2
    assert len(read_toml(path)["jobs"]) == 2_000


# --- SIGKILL at random moments ------------------------------------------------------------

FILLER = {f"job-{i}": {"note": "x" * 40, "n": i} for i in range(30)}


def _writer(directory: Path, report_fd: int) -> None:
    """Child process: load, then save state and jobs file alternately forever, reporting
    each completed save on the pipe."""
    state = StateStore(directory / "state.toml").load()
    if state.problems:
        os.write(report_fd, b"corrupt\n")
    n = state.jobs["counter"].run_count if "counter" in state.jobs else 0
    jobs_path = directory / "crondeck.toml"
    while True:
        n += 1
        state.put(JobState(name="counter", run_count=n, pause_note="y" * 500))
        state.flush()
        os.write(report_fd, f"s {n}\n".encode())
        save_with_backup(jobs_path, tomli_w.dumps({"counter": n, "jobs": FILLER}).encode())
        os.write(report_fd, f"j {n}\n".encode())


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_a_completed_save(tmp_path: Path) -> None:
    rng = random.Random(4)
    last_state = last_jobs = 0
    for _ in range(200):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 0
            try:
                os.close(r)
                _writer(tmp_path, w)
            except BaseException:
                code = 1
            os._exit(code)
        os.close(w)
        reports = b""
        # Sometimes kill at once (during load and cleanup), mostly in the middle of saving.
        if rng.random() >= 0.1:
            reports = os.read(r, 16)  # the child is alive and has saved at least once
            time.sleep(rng.uniform(0, 0.015))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status), "the writer died by itself"
        while chunk := os.read(r, 65536):
            reports += chunk
        os.close(r)
        assert b"corrupt" not in reports
        for line in reports.decode().splitlines():
            kind, n = line.split()
            if kind == "s":
                last_state = max(last_state, int(n))
            else:
                last_jobs = max(last_jobs, int(n))
        state_doc = tomllib.loads((tmp_path / "state.toml").read_text())
        assert state_doc["jobs"]["counter"]["run_count"] >= last_state
        if (tmp_path / "crondeck.toml").exists():
            assert tomllib.loads((tmp_path / "crondeck.toml").read_text())["counter"] >= last_jobs
        if (tmp_path / "crondeck.toml.bak").exists():
            tomllib.loads((tmp_path / "crondeck.toml.bak").read_text())
    assert last_state > 100 and last_jobs > 50
    # The next start cleans up what killed writers left behind.
    StateStore(tmp_path / "state.toml").load()
    save_with_backup(tmp_path / "crondeck.toml", b"counter = 0\n")
    assert _temps(tmp_path) == []
    assert not any("corrupt" in p.name for p in tmp_path.iterdir())
