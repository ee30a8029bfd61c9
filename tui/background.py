"""Keeping the jobs running when the console quits: a detached `crondeck run` on the same
jobs file takes the schedule over. It starts first and waits for the lock
(`--wait-for-lock`), so once the console's scheduler has stopped and saved its state the gap
is one lock poll: the next slot is neither missed nor fired twice (the state says which slots
were started, and a slot a few milliseconds late is still on time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from crondeck.core import Runtime, StateLock

__all__ = ["Background", "BackgroundFailed", "start_background"]

# Seconds the new scheduler waits for the console to let go: runs in flight may take long,
# and should the console die meanwhile, the kernel frees the lock and the jobs still go on.
LOCK_WAIT = 86400.0
READY_WAIT = 30.0  # seconds for it to start and say it is waiting (a loaded machine)
TAKE_OVER_WAIT = 30.0  # seconds for it to take the lock once the console let go
POLL = 0.05


class BackgroundFailed(RuntimeError):
    """The detached scheduler ended or did not answer in time; the message says where to look."""


@dataclass
class Background:
    """The detached `crondeck run`: its process, and where it writes."""

    proc: subprocess.Popen[bytes]
    log: Path
    errors: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _failed(self, what: str) -> BackgroundFailed:
        code = self.proc.poll()
        why = f"it exited with status {code}" if code is not None else "it did not answer"
        return BackgroundFailed(f"the background scheduler {what}: {why} (see {self.errors})")

    def wait_ready(self, timeout: float = READY_WAIT) -> None:
        """Until it says (in its log) that it waits for the lock."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self._said_waiting():
                return
            time.sleep(POLL)
        raise self._failed("did not start")

    def _said_waiting(self) -> bool:
        try:
            with open(self.log, "rb") as fh:
                fh.seek(max(0, os.fstat(fh.fileno()).st_size - 65536))
                lines = fh.read().splitlines()
        except OSError:
            return False
        for line in lines:
            if b'"waiting_for_lock"' in line:
                try:
                    if json.loads(line).get("pid") == self.pid:
                        return True
                except ValueError:
                    continue
        return False

    def wait_taken_over(self, lock: Path, timeout: float = TAKE_OVER_WAIT) -> None:
        """Until it holds the lock (its pid written in the lock file)."""
        deadline = time.monotonic() + timeout
        holder = StateLock(lock)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if holder.holder() == self.pid:
                return
            time.sleep(POLL)
        raise self._failed("did not take over the jobs")

    def abandon(self) -> None:
        """It is not wanted after all (the console keeps the schedule): stop it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_background(runtime: Runtime) -> Background:
    """Start `crondeck run --wait-for-lock` on the runtime's jobs file, detached: its own
    session (a closed terminal does not hang it up), stdin from /dev/null, its JSON lines in
    `.crondeck/run.log` (rotated) and anything it prints on stderr in `.crondeck/run.err`."""
    state_dir = Path(runtime.config.state_dir)
    log, errors = state_dir / "run.log", state_dir / "run.err"
    config = str(Path(runtime.config.path).resolve())
    argv = [sys.executable, "-m", "crondeck.cli", "--config", config, "run",
            "--wait-for-lock", f"{LOCK_WAIT:g}s", "--log", str(log)]
    fd = os.open(errors, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=fd, start_new_session=True, close_fds=True,
                                cwd=Path(config).parent)
    finally:
        os.close(fd)
    return Background(proc, log, errors)
