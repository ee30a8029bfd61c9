"""A scheduler's state kept on disk: the `StateSink` backed by a `StateStore`, and the state
directory as a running scheduler holds it (lock, state.toml with its claims, run logs).

`crondeck run` and the console reach it through `runtime.open_runtime`; a program with jobs
defined in code through `Scheduler(state_dir=...)`. Both keep the same files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
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

    def job_waits(self, job: str, next_fire: datetime) -> None:
        """`job_changed` of a state holding only its next fire (see `StateSink`)."""
        self.store.put_waiting(job, next_fire)

    def jobs_wait(self, waiting: Iterator[tuple[str, datetime]]) -> None:
        """`job_waits` of many jobs (name, next fire), as one change of the store."""
        self.store.put_waiting_many(waiting)


class StateDir:
    """A state directory held by one scheduler: `lock` (a second holder gets LockHeld),
    `state.toml` (+ `claims.toml`), and `runs/<job>/<run-id>.log` written by `recorder`.
    On opening, what a dead scheduler's runs left running is ended (`survivors`: run id ->
    processes ended; None when nothing was in flight) before those runs can be restored as
    abandoned. `check_lock()` before each claim: once the lock file is deleted or replaced (so
    another scheduler may hold the directory), nothing more is claimed or saved. Close it to
    save and unlock.

    `read_only` opens it to watch: no lock taken, nothing written or ended. With `start`
    false the background writer waits for `start_saving()` (after the saved state has been
    restored into a scheduler, so nothing half-restored is ever saved)."""

    def __init__(self, path: str | os.PathLike[str], *, history: int = 50,
                 on_log_error: Callable[[str], object] | None = None,
                 read_only: bool = False, start: bool = True) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.lock = StateLock(self.path / "lock")
        if not read_only:
            self.lock.acquire()
        self.lock_lost = ""
        try:
            self.store = StateStore(self.path / "state.toml", history=history,
                                    read_only=read_only).load()
            self.store.problems.extend(self.lock.notes)
            self.logs = RunLogs(self.path / "runs")
            self.recorder = RunLogRecorder(self.logs, on_error=on_log_error)
            self.sink = StoreSink(self.store, lock_lost=self.check_lock)
            self.survivors: dict[str, int] | None = None
            if not read_only:
                # (a state holding only a next fire runs nothing: not made for each job)
                in_flight = any(st.running for st in self.store.jobs.full.values())
                if in_flight:
                    self.survivors = end_instances(self.store.previous_instances)
                start_watchdog()
                if start:
                    self.store.start()
        except BaseException:
            self.lock.release()
            raise

    def start_saving(self) -> None:
        """Save now and start the background writer. A disk too full to save is reported in
        `store.problems` and scheduling goes on (runs whose start cannot be recorded are
        skipped)."""
        if self.read_only:
            return
        try:
            self.store.flush()
        except OSError as exc:
            self.store.problems.append(
                f"cannot save {self.store.path}: {exc.strerror or exc}; runs whose start cannot "
                "be recorded are skipped (not run) until it can be written again")
        self.store.start()

    def check_lock(self) -> str:
        """Why the lock no longer guards the directory ("" while it does); once lost, the
        state is no longer saved (it belongs to whoever locked the new file)."""
        if not self.lock_lost and not self.read_only:
            self.lock_lost = lose_lock(self.lock, self.store)
        return self.lock_lost

    def close(self) -> None:
        self.recorder.close()
        try:
            self.store.close()
        finally:
            self.lock.release()
