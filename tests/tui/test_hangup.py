"""A crondeck whose terminal goes away must not run on without a screen: on SIGHUP (and
SIGTERM) it terminates the runs in flight, records them, and exits."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import tomllib
from pathlib import Path

import pytest

from crondeck.tui.app import HANGUP_GRACE

JOBS = """
[[jobs]]
name = "long"
schedule = "@every 1s"
command = "echo started; touch started.flag; sleep 60"
"""
CHATTY = """
[[jobs]]
name = "chatty"
schedule = "@every 1s"
overlap = "skip"
command = "while true; do echo line; sleep 0.02; done"
"""


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    seen = b""
    end = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def _start(tmp_path: Path, jobs: str) -> tuple[subprocess.Popen[bytes], int]:
    """crondeck on a fresh pty (120x40) running `jobs`; returns it and the pty's master."""
    config = tmp_path / "crondeck.toml"
    config.write_text(jobs)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crondeck.cli", "--config", str(config)],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
    )
    os.close(slave)
    return proc, master


def _statuses(tmp_path: Path) -> list[str]:
    state = tomllib.loads((tmp_path / ".crondeck" / "state.toml").read_text())
    return [r["status"] for r in state["jobs"]["long"]["results"]]


def wait_started(master: int, tmp_path: Path, timeout: float = 60) -> None:
    """Until the long job's run has really started (it touches a flag file beside the jobs
    file), keeping the pty drained; the word "running" on screen could come from a header."""
    end = time.monotonic() + timeout
    while not (tmp_path / "started.flag").exists():
        assert time.monotonic() < end, "the job never started"
        read_until(master, b"\x00", 0.1)


@pytest.mark.slow
def test_sighup_terminates_runs_and_exits(tmp_path: Path) -> None:
    proc, master = _start(tmp_path, JOBS)
    try:
        wait_started(master, tmp_path)
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            read_until(master, b"\x00", 0.2)  # keep the pty drained
        assert proc.poll() is not None, "crondeck kept running after SIGHUP"
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert "cancelled" in _statuses(tmp_path)  # the run in flight was terminated and recorded


@pytest.mark.slow
def test_a_terminal_that_is_really_gone_does_not_stall_the_exit(tmp_path: Path) -> None:
    """tmux kill-session: the pty is closed, so every write fails. The app must still
    record its runs and exit promptly, not hang until the watchdog's last resort."""
    proc, master = _start(tmp_path, JOBS + CHATTY)
    try:
        wait_started(master, tmp_path)
        os.close(master)  # the terminal is gone: writes to it now fail with EIO
        master = -1
        time.sleep(4)  # the app keeps drawing the chatty job's output to it meanwhile
        signalled = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        proc.wait(timeout=30)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
        if master >= 0:
            os.close(master)
    assert took < HANGUP_GRACE / 2, f"took {took:.1f}s (the watchdog waits {HANGUP_GRACE}s)"
    assert proc.returncode == 0
    assert "cancelled" in _statuses(tmp_path)


@pytest.mark.slow
def test_a_closed_terminal_without_any_signal_is_noticed_and_exits(tmp_path: Path) -> None:
    """Under `make demo` in tmux, kill-session hangs up make (the session leader) and no
    SIGHUP reaches crondeck: its input thread then spun on the dead terminal at a full core,
    for good. It must notice the hangup itself, record its runs and exit."""
    proc, master = _start(tmp_path, JOBS)  # a session of its own: the pty is not its ctty
    try:
        wait_started(master, tmp_path)
        os.close(master)
        master = -1
        proc.wait(timeout=HANGUP_GRACE + 20)
    finally:
        if proc.poll() is None:
            proc.kill()
        if master >= 0:
            os.close(master)
    assert proc.returncode == 0, "exited by the watchdog's last resort, or killed"
    assert "cancelled" in _statuses(tmp_path)
