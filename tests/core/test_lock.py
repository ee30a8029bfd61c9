"""One scheduler per state directory; observers may watch without the lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from crondeck.core.lock import LockHeld, StateLock


def test_second_holder_is_refused_with_the_pid(tmp_path: Path) -> None:
    path = tmp_path / ".crondeck" / "lock"
    with StateLock(path) as first:
        assert first.held and first.holder() == os.getpid()
        with pytest.raises(LockHeld) as info:
            StateLock(path).acquire()
        assert info.value.pid == os.getpid()
        assert f"pid {os.getpid()}" in str(info.value) and "--read-only" in str(info.value)
    StateLock(path).acquire().release()  # free again once released


def test_lock_held_by_another_process_and_freed_when_it_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from crondeck.core.lock import StateLock; "
         f"StateLock({str(path)!r}).acquire(); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld) as info:
            StateLock(path).acquire()
        assert info.value.pid == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The kernel released it with the process: no stale lock, whatever the file says.
    with StateLock(path) as mine:
        assert mine.holder() == os.getpid()


def test_a_world_writable_state_directory_of_ours_is_tightened(tmp_path: Path) -> None:
    state = tmp_path / ".crondeck"
    state.mkdir()
    os.chmod(state, 0o777)
    with StateLock(state / "lock") as lock:
        assert os.stat(state).st_mode & 0o777 == 0o700
        assert any("0777" in note and "0700" in note for note in lock.notes)


def test_a_planted_symlink_at_the_lock_path_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    state = tmp_path / ".crondeck"
    state.mkdir(mode=0o700)
    (state / "lock").symlink_to(victim)
    with pytest.raises(OSError, match="symlink"):
        StateLock(state / "lock").acquire()
    assert victim.read_text() == "untouched\n"


def test_a_deleted_or_replaced_lock_file_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / ".crondeck" / "lock"
    with StateLock(path) as lock:
        assert lock.lost() is None
        path.unlink()
        assert "deleted" in (lock.lost() or "")
        StateLock(path).acquire()  # a second scheduler gets in: the lock is another file now
        assert "replaced" in (lock.lost() or "")


def _crondeck_run(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "crondeck.cli", "--config", str(config),
                             "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_scheduler_whose_lock_file_was_deleted_stops_firing_and_says_why(
        tmp_path: Path) -> None:
    import time

    config = tmp_path / "crondeck.toml"
    config.write_text('[[jobs]]\nname = "tick"\ncommand = "date +%s%N >> fired.txt"\n'
                      'schedule = "@every 1s"\n')
    first = _crondeck_run(config)
    second = None
    try:
        lock = tmp_path / ".crondeck" / "lock"
        deadline = time.monotonic() + 30
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        lock.unlink()
        second = _crondeck_run(config)
        try:
            code = first.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError("the first scheduler kept running without its lock") from None
        out, err = first.communicate()
        assert code == 1
        assert "lost the lock" in err and ("deleted" in err or "replaced" in err)
        events = [json.loads(line) for line in out.splitlines()]
        assert any(e["event"] == "lock_lost" for e in events)
        assert second.poll() is None  # the new holder goes on
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.communicate(timeout=30)
