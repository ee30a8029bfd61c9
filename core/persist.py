"""A scheduler's state kept on disk: the `StateSink` backed by a `StateStore`, and the state
directory as a running scheduler holds it (lock, state.toml with its claims, run logs).

`crondeck run` and the console reach it through `runtime.open_runtime`; a program with jobs
defined in code through `Scheduler(state_dir=...)`. Both keep the same files.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from .jobs import JobState
from .lock import StateLock
from .results import RunResult
from .runlogs import RunLogRecorder, RunLogs
from .store import StateStore

__all__ = ["StateDir", "StoreSink"]


class StoreSink:
    """The scheduler's StateSink backed by a StateStore: claims are durable at once, the rest
    is coalesced by the store's writer."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
        self.store.claim(job, run_id, scheduled_for)

    def result_recorded(self, result: RunResult) -> None:
        self.store.record(result)

    def job_changed(self, state: JobState) -> None:
        self.store.put(state)


class StateDir:
    """A state directory held by one scheduler: `lock` (a second holder gets LockHeld),
    `state.toml` (+ `claims.toml`), and `runs/<job>/<run-id>.log` written by `recorder`.
    Close it to save and unlock."""

    def __init__(self, path: str | os.PathLike[str], *, history: int = 50) -> None:
        self.path = Path(path)
        self.lock = StateLock(self.path / "lock").acquire()
        try:
            self.store = StateStore(self.path / "state.toml", history=history).load()
            self.logs = RunLogs(self.path / "runs")
            self.recorder = RunLogRecorder(self.logs)
            self.sink = StoreSink(self.store)
            self.store.start()
        except BaseException:
            self.lock.release()
            raise

    def close(self) -> None:
        self.recorder.close()
        try:
            self.store.close()
        finally:
            self.lock.release()
