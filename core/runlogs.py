"""Per-run log files: `.crondeck/runs/<job>/<run-id>.log`, the full output of each run.

The state file keeps only a short tail of each result; the log keeps everything (already
redacted by the scheduler) up to a per-run cap, and old logs are rotated away by count and by
total size per job so a chatty agent cannot fill the disk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .atomic import FILE_MODE, UnsafeDir, ensure_real_dir
from .events import Event, OutputChunk, RunFinished, RunSkipped, RunStarted
from .lazyclass import dataclass

__all__ = ["RunLog", "RunLogRecorder", "RunLogs", "path_name", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")
_NAME_MAX = 200  # escaped names longer than this end in a digest (file names stop at 255)


def path_name(text: str) -> str:
    """The file name of a job's log directory, distinct for distinct names: a name of safe
    characters (letters, digits, `._@+-`, not starting with a dot) is kept as it is; any other
    character, and a leading dot, is written `%XX` per UTF-8 byte (`a:b` -> `a%3Ab`, `%` ->
    `%25`). Safe names never hold `%`, so they cannot meet an escaped one; a name too long
    for a file name keeps its start and ends in `%~` and a digest of the whole name."""
    if text and not _UNSAFE.search(text) and not text.startswith(".") and len(text) < 256:
        return text
    out = _UNSAFE.sub(lambda m: _escape(m.group()), text)
    if out.startswith("."):
        out = "%2E" + out[1:]
    out = out or "%"  # the empty name (`%` alone is no escape of anything)
    if len(out) > _NAME_MAX:  # `%~` never comes out of escaping
        import hashlib  # only for a name too long for a file name (OpenSSL loads with it)

        out = out[:_NAME_MAX - 34] + "%~" + hashlib.sha256(text.encode("utf-8",
                                                                       "surrogatepass")
                                                           ).hexdigest()[:32]
    return out


def _escape(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))


def safe_name(text: str) -> str:
    """A file-name-safe form of a job name or run id (":" and "/" become "-")."""
    name = _UNSAFE.sub("-", text).strip()
    return name if name and not name.startswith(".") else f"_{name}"


class RunLog:
    """One run's log file, appended to as output arrives (a chunk of lines at a time);
    stderr lines are marked."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.written = 0
        self.truncated = False
        try:  # never through a link planted at the log's path
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW,
                         FILE_MODE)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafeDir(f"{path} is a symlink; crondeck does not write through "
                                "symlinks in its state directory (remove the link)") from None
            raise
        self._fh = os.fdopen(fd, "w", encoding="utf-8", errors="replace")

    def note(self, text: str) -> None:
        """A crondeck line (start, attempt, end), outside the output cap."""
        self._fh.write(f"# crondeck: {text}\n")
        self._fh.flush()

    def write(self, text: str, stream: str = "stdout") -> None:
        """Append output (any number of lines); past `max_bytes`, the lines that still fit
        whole are written and the rest of the run's output is not."""
        if self.truncated:
            return
        if stream == "stderr":
            text = "".join(f"[stderr] {line}" for line in text.splitlines(keepends=True))
        size = len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
        if self.written + size > self.max_bytes:
            data = text.encode("utf-8", "replace")[:self.max_bytes - self.written]
            fit = data.rfind(b"\n") + 1
            if fit:
                self.written += fit
                self._fh.write(data[:fit].decode("utf-8", "replace"))
            self.truncated = True
            self.note(f"output beyond {self.max_bytes} bytes not logged (the run went on)")
            return
        self.written += size
        self._fh.write(text)
        self._fh.flush()  # so `crondeck logs --follow` sees it at once

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._fh.close()


@dataclass
class RunLogs:
    """The `runs/` directory: where each run's log goes, listing, reading and rotation."""

    root: Path
    keep: int = 50
    max_bytes: int = 10 * 1024 * 1024
    max_total: int = 100 * 1024 * 1024

    def job_dir(self, job: str) -> Path:
        return Path(self.root) / path_name(job)

    def path(self, job: str, run_id: str) -> Path:
        return self.job_dir(job) / f"{safe_name(run_id)}.log"

    def open(self, job: str, run_id: str) -> RunLog:
        """A new log for the run; raises OSError (UnsafeDir for a symlinked `runs/` or job
        directory, or a link at the log's path) rather than write anywhere else."""
        ensure_real_dir(Path(self.root))
        ensure_real_dir(self.job_dir(job))
        return RunLog(self.path(job, run_id), self.max_bytes)

    def _real_job_dir(self, job: str) -> Path | None:
        """The job's directory if it and `runs/` are real directories (not links)."""
        directory = self.job_dir(job)
        for path in (Path(self.root), directory):
            try:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    return None
            except OSError:
                return None
        return directory

    def runs(self, job: str) -> list[Path]:
        """This job's logs, oldest first (by modification time, then name): regular files
        only, and none at all under a symlinked directory, so rotation never reaches
        outside `runs/`."""
        directory = self._real_job_dir(job)
        if directory is None:
            return []
        try:
            entries = [e for e in os.scandir(directory)
                       if e.name.endswith(".log") and e.is_file(follow_symlinks=False)]
            entries.sort(key=lambda e: (e.stat(follow_symlinks=False).st_mtime_ns, e.name))
        except OSError:
            return []
        return [Path(e.path) for e in entries]

    def find(self, job: str, run_id: str | None = None) -> Path | None:
        """The log of `run_id`, or the newest one; a run id may be given as its file name."""
        if run_id is None:
            runs = self.runs(job)
            return runs[-1] if runs else None
        if self._real_job_dir(job) is None:
            return None
        for candidate in (self.path(job, run_id), self.job_dir(job) / safe_name(run_id)):
            if candidate.is_file() and not candidate.is_symlink():
                return candidate
        matches = [p for p in self.runs(job) if safe_name(run_id) in p.name]
        return matches[-1] if len(matches) == 1 else None

    def rotate(self, job: str, keep_paths: frozenset[Path] = frozenset()) -> list[Path]:
        """Delete the oldest logs beyond `keep` files or `max_total` bytes (never one in use)."""
        runs = self.runs(job)
        sizes = {}
        for p in runs:
            with contextlib.suppress(OSError):
                sizes[p] = p.lstat().st_size
        total = sum(sizes.values())
        removed: list[Path] = []
        for p in runs:
            if len(runs) - len(removed) <= self.keep and total <= self.max_total:
                break
            if p in keep_paths:
                continue
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
                total -= sizes.get(p, 0)
        return removed


class RunLogRecorder:
    """A scheduler listener that writes every run's output to its log file, unbounded by the
    observer queues (it runs synchronously on each event, so no chunk is dropped)."""

    def __init__(self, logs: RunLogs, on_error: Callable[[str], Any] | None = None) -> None:
        self.logs = logs
        self.open: dict[str, RunLog] = {}
        self.on_error = on_error

    def __call__(self, event: Event) -> None:
        try:
            self._handle(event)
        except OSError as exc:  # a full disk or a refused link must not stop the scheduler
            run_id = getattr(event, "run_id", None)
            log = self.open.pop(run_id, None) if run_id is not None else None
            if log is not None:  # said once per run, not once per chunk
                log.close()
            if self.on_error is not None:
                self.on_error(f"run log: {exc}")

    def _handle(self, event: Event) -> None:
        if isinstance(event, OutputChunk):
            log = self.open.get(event.run_id)
            if log is not None:
                log.write(event.text, event.stream)
        elif isinstance(event, RunStarted):
            log = self.open.get(event.run_id)
            if log is None:
                log = self.open[event.run_id] = self.logs.open(event.job, event.run_id)
            when = _iso(event.scheduled_for)
            log.note(f"run {event.run_id} (scheduled {when}) attempt {event.attempt} "
                     f"started {_iso(event.at)}")
        elif isinstance(event, RunFinished):
            log = self.open.get(event.run_id)
            if log is None:
                return
            r = event.result
            code = "" if r.exit_code is None else f" exit {r.exit_code}"
            log.note(f"attempt {r.attempt} {r.status.value}{code} at {_iso(event.at)}"
                     + (f": {r.error.strip().splitlines()[0]}" if r.error.strip() else ""))
            if not event.will_retry:
                self._close(event.job, event.run_id)
        elif isinstance(event, RunSkipped):
            self._close(event.job, event.run_id)

    def _close(self, job: str, run_id: str) -> None:
        log = self.open.pop(run_id, None)
        if log is not None:
            log.close()
            in_use = frozenset(v.path for v in self.open.values())
            self.logs.rotate(job, in_use)

    def close(self) -> None:
        for log in self.open.values():
            log.note("crondeck stopped while the run was in progress")
            log.close()
        self.open.clear()


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def read_lines(path: Path, last: int | None = None) -> Iterator[str]:
    """The lines of a log, or only the `last` n."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.readlines()
    yield from (lines[-last:] if last else lines)
