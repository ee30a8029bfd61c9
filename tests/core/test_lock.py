"""One scheduler per state directory; observers may watch without the lock."""

from __future__ import annotations

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
