"""A scheduler's state kept on disk: the `StateSink` backed by a `StateStore`, and the state
directory as a running scheduler holds it (lock, state.toml with its claims, run logs).

`crondeck run` and the console reach it through `runtime.open_runtime`; a program with jobs
defined in code through `Scheduler(state_dir=...)`. Both keep the same files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from .jobs import JobState
from .lock import LockLostError, StateLock
from .process import end_instances, start_watchdog
from .results import RunResult
from .runlogs import RunLogRecorder, RunLogs
from .store import StateStore

__all__ = ["StateDir", "StoreSink", "lose_lock"]



def lose_lock(lock: StateLock, store: StateStore) -> str:
    """Why `lock` no longer guards its directory ("" while it does). Once it does not, the
    state is not saved any more: it belongs to whoever locked the new file."""
    why = lock.lost()
    if not why:
        return ""
    store.read_only = True
    return (f"lost the lock: {why}, so another crondeck may be running these jobs; this one "
            "stops firing and saving state (runs in flight finish, unsaved)")

class StoreSink:
    """The scheduler's StateSink backed by a StateStore: claims are durable at once, the rest
    is coalesced by the store's writer."""

    def __init__(self, store: StateStore,
                 lock_lost: Callable[[], str] | None = None) -> None:
        self.store = store
        self.lock_lost = lock_lost  # why this process is no longer the only scheduler, or ""

    def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
        # A claim is only worth something while this process holds the state lock.
        why = self.lock_lost() if self.lock_lost is not None else ""
        if why:
            raise LockLostError(why)
        self.claim_runs([(job, run_id, scheduled_for)])

    def claim_runs(self, claims: Sequence[tuple[str, str, datetime]]) -> None:
        """`run_claimed` for runs starting together (job, run id, slot): one lock check and
        one durable write for all of them; raises (and records none) when it fails."""
        why = self.lock_lost() if self.lock_lost is not None else ""
        if why:
            raise LockLostError(why)
        self.store.claim_many(claims)

    def result_recorded(self, result: RunResult) -> None:
        self.store.record(result)

    def job_changed(self, state: JobState) -> None:
        self.store.put(state)


class StateDir:
    """A state directory held by one scheduler: `lock` (a second holder gets LockHeld),
    `state.toml` (+ `claims.toml`), and `runs/<job>/<run-id>.log` written by `recorder`.
    `check_lock()` before each claim: once the lock file is deleted or replaced (so another
    scheduler may hold the directory), nothing more is claimed or saved. Close it to save and
    unlock."""

    def __init__(self, path: str | os.PathLike[str], *, history: int = 50,
                 on_log_error: Callable[[str], object] | None = None) -> None:
        self.path = Path(path)
        self.lock = StateLock(self.path / "lock").acquire()
        self.lock_lost = ""
        try:
            self.store = StateStore(self.path / "state.toml", history=history).load()
            self.store.problems.extend(self.lock.notes)
            self.logs = RunLogs(self.path / "runs")
            self.recorder = RunLogRecorder(self.logs, on_error=on_log_error)
            self.sink = StoreSink(self.store, lock_lost=self.check_lock)
            # What a dead scheduler's runs left running ends before they are restored as
            # abandoned (run id -> processes ended; None when nothing was in flight).
            in_flight = any(st.running for st in self.store.jobs.values())
            self.survivors = end_instances(self.store.previous_instances) if in_flight else None
            start_watchdog()
            self.store.start()
        except BaseException:
            self.lock.release()
            raise

    def check_lock(self) -> str:
        """Why the lock no longer guards the directory ("" while it does); once lost, the
        state is no longer saved (it belongs to whoever locked the new file)."""
        if not self.lock_lost:
            self.lock_lost = lose_lock(self.lock, self.store)
        return self.lock_lost

    def close(self) -> None:
        self.recorder.close()
        try:
            self.store.close()
        finally:
            self.lock.release()
