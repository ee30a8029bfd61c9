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

JOBS = """
[[jobs]]
name = "long"
schedule = "@every 1s"
command = "echo started; sleep 60"
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


def test_sighup_terminates_runs_and_exits(tmp_path: Path) -> None:
    config = tmp_path / "crondeck.toml"
    config.write_text(JOBS)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crondeck.tui.cli", "--config", str(config)],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
    )
    os.close(slave)
    try:
        assert b"running" in read_until(master, b"running", 60), "the job never started"
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            read_until(master, b"\x00", 0.2)  # keep the pty drained
        assert proc.poll() is not None, "crondeck kept running after SIGHUP"
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    state = tomllib.loads((tmp_path / ".crondeck" / "state.toml").read_text())
    statuses = [r["status"] for r in state["jobs"]["long"]["results"]]
    assert "cancelled" in statuses  # the run in flight was terminated and recorded
