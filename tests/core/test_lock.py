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
