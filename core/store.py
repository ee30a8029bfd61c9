"""Crash-safe files: atomic TOML writes and the runtime state (`.crondeck/state.toml`).

Every write goes to a temp file in the same directory, is fsynced, renamed over the old file,
and the directory is fsynced, so a SIGKILL at any instant leaves either the complete old file
or the complete new one, never a torn mix. State writes are coalesced by a background thread
so a burst of thousands of events costs a few writes per second, not thousands.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "STATE_FORMAT",
    "JobState",
    "RunRecord",
    "StateStore",
    "atomic_write_bytes",
    "atomic_write_toml",
    "ensure_dir",
    "pid_alive",
    "read_toml",
    "save_with_backup",
]

FILE_MODE = 0o600
DIR_MODE = 0o700
STATE_FORMAT = 1
_TMP_INFIX = ".tmp-"
# What a stored result keeps of the output: the full output lives in the run's log file.
RECORD_OUTPUT_CHARS = 2000


def ensure_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing; the leaf gets mode 0700."""
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=DIR_MODE)
    return path


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace `path` with `data` so that readers (and a crash) see the old or the new file whole.

    Temp file in the same directory (same filesystem, so rename is atomic), fsync it, rename
    over the target, fsync the directory so the rename itself is durable.
    """
    path = Path(path)
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{_TMP_INFIX}{os.getpid()}-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode != FILE_MODE:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def to_toml_value(value: Any) -> Any:
    """Recursively drop None (TOML has no null) and normalise aware datetimes to UTC."""
    if isinstance(value, Mapping):
        return {str(k): to_toml_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [to_toml_value(v) for v in value if v is not None]
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def atomic_write_toml(path: Path, data: Mapping[str, Any], mode: int = FILE_MODE) -> None:
    """Serialise with tomli-w and write atomically."""
    atomic_write_bytes(path, tomli_w.dumps(to_toml_value(data)).encode("utf-8"), mode)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file with tomllib (raises OSError, UnicodeDecodeError or TOMLDecodeError)."""
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def save_with_backup(path: Path, data: bytes) -> Path | None:
    """Atomically replace a file the operator owns, first keeping its current bytes as `.bak`.

    Returns the backup path (None when there was no previous file). The file keeps its mode.
    """
    path = Path(path)
    backup: Path | None = None
    mode = FILE_MODE
    remove_stale_temps(path)
    remove_stale_temps(path.with_name(path.name + ".bak"))
    try:
        old = path.read_bytes()
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        old = None
    if old is not None:
        backup = path.with_name(path.name + ".bak")
        atomic_write_bytes(backup, old, mode)
    atomic_write_bytes(path, data, mode)
    return backup


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (signal 0 probes without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(path: Path) -> int:
    """Delete temp files left beside `path` by writers that were killed mid-save."""
    removed = 0
    pattern = re.compile(re.escape(f".{path.name}{_TMP_INFIX}") + r"(\d+)-")
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            m = pattern.match(entry.name)
            if m and not pid_alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


# --- runtime state -----------------------------------------------------------------------


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return None


@dataclass
class RunRecord:
    """One finished (or skipped/missed/abandoned) run as kept in state.toml and shown by history."""

    run_id: str
    job: str
    status: str
    scheduled_for: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    reason: str | None = None
    error: str | None = None
    output_tail: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @classmethod
    def from_result(cls, result: Any) -> RunRecord:
        """From a scheduler RunResult (read by attribute, so it tolerates added fields)."""
        status = getattr(result, "status", "failed")
        status = getattr(status, "value", status)
        tail = getattr(result, "output_tail", None) or None
        if tail and len(tail) > RECORD_OUTPUT_CHARS:
            tail = "…" + tail[-RECORD_OUTPUT_CHARS:]
        reason = getattr(result, "reason", None) or getattr(result, "skip_reason", None)
        gate = getattr(result, "gate", None)
        if reason is None and gate is not None:
            reason = getattr(gate, "reason", None)
        return cls(
            run_id=str(getattr(result, "run_id", "")),
            job=str(getattr(result, "job", "")),
            status=str(status),
            scheduled_for=_utc(getattr(result, "scheduled_for", None)),
            started_at=_utc(getattr(result, "started_at", None)),
            finished_at=_utc(getattr(result, "finished_at", None)),
            exit_code=getattr(result, "exit_code", None),
            reason=str(reason) if reason else None,
            error=getattr(result, "error", None) or None,
            output_tail=tail,
        )

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        _check_table(data, "result")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in data:
                value = data[f.name]
                if f.name in ("scheduled_for", "started_at", "finished_at"):
                    value = _utc(value)
                kwargs[f.name] = value
        for required in ("run_id", "job", "status"):
            if not isinstance(kwargs.get(required), str):
                raise StateFormatError(f"a result has no {required}")
        return cls(**kwargs)


@dataclass
class RunningRecord:
    """A run that has started and not yet finished: written before the agent is launched."""

    run_id: str
    pid: int
    scheduled_for: datetime | None = None
    started_at: datetime | None = None


@dataclass
class JobState:
    """What crondeck has learned about one job at run time."""

    paused: bool = False
    pause_note: str = ""
    paused_until: datetime | None = None
    next_fire: datetime | None = None
    # Latest scheduled slot already fired or recorded; a restart never fires it again.
    last_slot: datetime | None = None
    run_count: int = 0
    consecutive_failures: int = 0
    running: list[RunningRecord] = field(default_factory=list)
    results: list[RunRecord] = field(default_factory=list)  # oldest first

    @property
    def last(self) -> RunRecord | None:
        """The newest result that actually ran (not skipped or missed), for LAST/PASSED."""
        for rec in reversed(self.results):
            if rec.status not in ("skipped", "missed"):
                return rec
        return None

    def to_dict(self) -> dict[str, Any]:
        last = self.last
        return {
            "paused": self.paused,
            "pause_note": self.pause_note,
            "paused_until": self.paused_until,
            "next_fire": self.next_fire,
            "last_slot": self.last_slot,
            "run_count": self.run_count,
            "consecutive_failures": self.consecutive_failures,
            "last": None
            if last is None
            else {
                "run_id": last.run_id,
                "status": last.status,
                "finished_at": last.finished_at,
                "exit_code": last.exit_code,
            },
            "running": [
                {
                    "run_id": r.run_id,
                    "pid": r.pid,
                    "scheduled_for": r.scheduled_for,
                    "started_at": r.started_at,
                }
                for r in self.running
            ],
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobState:
        _check_table(data, "job state")
        st = cls(
            paused=bool(data.get("paused", False)),
            pause_note=str(data.get("pause_note", "")),
            paused_until=_utc(data.get("paused_until")),
            next_fire=_utc(data.get("next_fire")),
            last_slot=_utc(data.get("last_slot")),
            run_count=_int(data.get("run_count", 0), "run_count"),
            consecutive_failures=_int(data.get("consecutive_failures", 0), "consecutive_failures"),
        )
        for r in _list(data.get("running", []), "running"):
            _check_table(r, "running entry")
            st.running.append(
                RunningRecord(
                    run_id=str(r.get("run_id", "")),
                    pid=_int(r.get("pid", 0), "pid"),
                    scheduled_for=_utc(r.get("scheduled_for")),
                    started_at=_utc(r.get("started_at")),
                )
            )
        st.results = [RunRecord.from_dict(r) for r in _list(data.get("results", []), "results")]
        return st


class StateFormatError(ValueError):
    """state.toml parsed as TOML but does not have the shape crondeck writes."""


def _check_table(value: Any, what: str) -> None:
    if not isinstance(value, Mapping):
        raise StateFormatError(f"{what} is {type(value).__name__}, expected a table")


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise StateFormatError(f"{what} is {value!r}, expected an integer")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise StateFormatError(f"{what} is {type(value).__name__}, expected an array")
    return value


class StateStore:
    """The runtime state of every job, in memory, saved to state.toml atomically and coalesced.

    Mutate only inside `with store.edit() as jobs:`; the background writer saves at most once
    per `min_interval` seconds. `flush()` saves now (used before a run starts, so a restart
    knows the slot was taken). In `read_only` mode nothing is ever written or moved.
    """

    def __init__(
        self,
        path: Path,
        *,
        history: int = 50,
        min_interval: float = 0.25,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.history = history
        self.min_interval = min_interval
        self.read_only = read_only
        self.jobs: dict[str, JobState] = {}
        self.problems: list[str] = []  # what went wrong loading (shown to the operator)
        self.moved_aside: Path | None = None
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._wake = threading.Condition(threading.Lock())
        self._generation = 0
        self._written = 0
        self._thread: threading.Thread | None = None
        self._closing = False
        self.write_count = 0
        self.last_write_seconds = 0.0
        self.write_errors: list[str] = []

    # -- loading ------------------------------------------------------------------------

    def load(self) -> StateStore:
        """Read state.toml. A file that is unreadable, not TOML, or not shaped like crondeck's
        state is moved aside to `state.toml.corrupt-<time>` (unless read-only), reported in
        `problems`, and the store starts empty."""
        if not self.read_only:
            remove_stale_temps(self.path)
        try:
            doc = read_toml(self.path)
        except FileNotFoundError:
            return self
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            self._corrupt(f"cannot read it: {exc}")
            return self
        try:
            fmt = doc.get("format", STATE_FORMAT)
            if fmt != STATE_FORMAT:
                raise StateFormatError(f"format {fmt!r}, this crondeck writes {STATE_FORMAT}")
            jobs = doc.get("jobs", {})
            _check_table(jobs, "jobs")
            loaded = {name: JobState.from_dict(data) for name, data in jobs.items()}
        except (StateFormatError, TypeError, ValueError) as exc:
            self._corrupt(str(exc))
            return self
        with self._lock:
            self.jobs = loaded
        return self

    def _corrupt(self, why: str) -> None:
        if self.read_only:
            self.problems.append(f"{self.path}: {why}; ignoring it (read-only, left in place)")
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            os.replace(self.path, aside)
            self.moved_aside = aside
            self.problems.append(
                f"{self.path}: {why}; moved it aside to {aside.name} and started from the "
                "jobs file alone"
            )
        except OSError as exc:
            self.problems.append(
                f"{self.path}: {why}; could not move it aside ({exc}); starting from the jobs "
                "file alone"
            )

    # -- editing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, JobState]]:
        """Mutate job states under the store's lock; schedules a coalesced save afterwards."""
        with self._lock:
            yield self.jobs
            self._generation += 1
        self._schedule()

    def job(self, name: str) -> JobState:
        """The state of `name`, created empty if unknown (call inside `edit()` to mutate)."""
        with self._lock:
            st = self.jobs.get(name)
            if st is None:
                st = self.jobs[name] = JobState()
            return st

    def add_result(self, record: RunRecord) -> None:
        """Append a result to its job's history (capped at `history`) and update counters."""
        with self.edit():
            st = self.job(record.job)
            st.running = [r for r in st.running if r.run_id != record.run_id]
            st.results.append(record)
            if len(st.results) > self.history:
                del st.results[: len(st.results) - self.history]
            if record.status in ("skipped", "missed"):
                return
            st.run_count += 1
            if record.status == "ok":
                st.consecutive_failures = 0
            elif record.status in ("failed", "timed_out", "abandoned"):
                st.consecutive_failures += 1

    # -- saving -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The document state.toml holds, as plain TOML-able data."""
        with self._lock:
            return {
                "format": STATE_FORMAT,
                "saved_at": datetime.now(UTC).replace(microsecond=0),
                "jobs": {name: st.to_dict() for name, st in sorted(self.jobs.items())},
            }

    def flush(self) -> None:
        """Save now, synchronously, if anything changed since the last save."""
        if self.read_only:
            return
        with self._write_lock:
            with self._lock:
                gen = self._generation
                if gen == self._written and self.path.exists():
                    return
                doc = self.snapshot()  # plain dicts: serialised below without the lock
            started = time.monotonic()
            data = tomli_w.dumps(to_toml_value(doc)).encode("utf-8")
            ensure_dir(self.path.parent)
            atomic_write_bytes(self.path, data)
            self._written = gen
            self.write_count += 1
            self.last_write_seconds = time.monotonic() - started

    def start(self) -> None:
        """Start the background writer that coalesces saves."""
        if self.read_only or self._thread is not None:
            return
        self._closing = False
        self._thread = threading.Thread(target=self._writer, name="crondeck-state", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the writer and save whatever is pending."""
        thread = self._thread
        if thread is not None:
            with self._wake:
                self._closing = True
                self._wake.notify_all()
            thread.join()
            self._thread = None
        self.flush()

    def _schedule(self) -> None:
        if self._thread is None:
            return
        with self._wake:
            self._wake.notify_all()

    def _writer(self) -> None:
        while True:
            with self._wake:
                while not self._closing and self._generation == self._written:
                    self._wake.wait()
                if self._closing:
                    return
            try:
                self.flush()
            except OSError as exc:  # disk full, permissions: keep running, report
                self.write_errors.append(f"saving {self.path} failed: {exc}")
                del self.write_errors[:-10]
            # Coalesce: whatever changes during the next interval goes out in one write. A huge
            # state that takes long to write waits longer, so saving stays under ~20% of a core.
            deadline = time.monotonic() + max(self.min_interval, 4 * self.last_write_seconds)
            with self._wake:
                while not self._closing and (left := deadline - time.monotonic()) > 0:
                    self._wake.wait(left)
