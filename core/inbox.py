"""Results of `crondeck exec` runs waiting to join a job's history.

A running scheduler owns `state.toml` (it rewrites it from memory), so another process must
never edit that file behind its back. `crondeck exec` instead drops each result as one small
file in `.crondeck/inbox/` (atomically); the scheduler folds them into its history
(`fold_inbox`), and so does the next `crondeck exec` that finds no scheduler running.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import atomic_write_toml, ensure_real_dir, read_toml
from .results import RunResult
from .runlogs import path_name
from .store import result_to_toml

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["INBOX", "drop_result", "fold_inbox", "fold_into_runtime", "read_inbox"]

INBOX = "inbox"


def drop_result(state_dir: Path, result: RunResult, *, tokens: int | None = None,
                cost: float | None = None) -> Path:
    """Leave `result` in the inbox for the scheduler to pick up; returns the file. `tokens`
    and `cost` are the whole run's, every attempt's (the result has its last attempt's)."""
    directory = ensure_real_dir(Path(state_dir) / INBOX)  # never a symlinked inbox
    path = directory / f"{path_name(result.run_id)}.toml"  # one file per run id, never shared
    doc: dict[str, Any] = {"result": result_to_toml(result)}
    spent = {k: v for k, v in (("tokens", tokens), ("cost", cost)) if v is not None}
    if spent:
        doc["run"] = spent
    atomic_write_toml(path, doc)
    return path


def _read(path: Path) -> RunResult:
    doc = read_toml(path)
    result = RunResult.from_dict(doc["result"])
    spent = doc.get("run")
    if isinstance(spent, dict) and isinstance(spent.get("tokens"), int):
        extra = {**result.extra, "run_tokens": spent["tokens"]}
        if isinstance(spent.get("cost"), int | float):
            extra["run_cost"] = float(spent["cost"])
        result = replace(result, extra=extra)
    return result


def read_inbox(state_dir: Path) -> list[tuple[Path, RunResult | None]]:
    """Every inbox file, oldest first, with its result (None if unreadable)."""
    directory = Path(state_dir) / INBOX
    try:
        if not stat.S_ISDIR(os.lstat(directory).st_mode):  # a link: folding deletes files
            return []
        entries = sorted(
            (e for e in os.scandir(directory) if e.name.endswith(".toml")
             and not e.name.startswith(".") and e.is_file(follow_symlinks=False)),
            key=lambda e: (e.stat().st_mtime_ns, e.name))
    except OSError:
        return []
    out: list[tuple[Path, RunResult | None]] = []
    for entry in entries:
        try:
            out.append((Path(entry.path), _read(Path(entry.path))))
        except (OSError, KeyError, TypeError, ValueError):  # TOMLDecodeError is one
            out.append((Path(entry.path), None))
    return out


def fold_inbox(state_dir: Path, record: Callable[[RunResult], object],
               flush: Callable[[], object]) -> list[RunResult]:
    """Hand every waiting result to `record`, make them durable with `flush` (the state
    file is written), and only then delete their files, so a crash in between repeats a
    result (recording is idempotent) rather than losing it. Unreadable files are moved
    aside, not lost."""
    folded: list[tuple[Path, RunResult]] = []
    for path, result in read_inbox(state_dir):
        if result is None:
            with contextlib.suppress(OSError):
                os.replace(path, path.with_suffix(".corrupt"))
            continue
        record(result)
        folded.append((path, result))
    if folded:
        flush()
    for path, _ in folded:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return [r for _, r in folded]


def fold_into_runtime(runtime: Runtime) -> list[RunResult]:
    """Fold waiting `crondeck exec` results into a running runtime: each is booked by the
    scheduler like its own runs (history, tokens against the budget, counters) and reaches
    the store."""

    def record(result: RunResult) -> None:
        runtime.scheduler.fold_result(result)
        runtime.store.record(result)  # idempotent; keeps results of jobs no longer in the file

    return fold_inbox(Path(runtime.config.state_dir), record, runtime.store.flush)
