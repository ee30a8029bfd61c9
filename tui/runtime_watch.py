"""Keeping the app's runtime in step with the world outside it: the jobs file edited by someone
else (validated first; an invalid edit is reported and the running schedule is kept), and
results that `crondeck exec` dropped into the state directory's inbox.

The app calls `RuntimeWatcher.check` on a timer; all the work is the core's `FileWatcher`
(the same one `crondeck run` drives), this only turns what it did into notices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crondeck.core import WATCH_INTERVAL, FileWatcher, Problem, Reload, Runtime

__all__ = ["WATCH_INTERVAL", "RuntimeWatcher", "startup_notices"]

Notify = Callable[..., Any]


class RuntimeWatcher:
    """Reloads the jobs file when it changes on disk and folds `exec` results in."""

    def __init__(self, runtime: Runtime, notify: Notify) -> None:
        self.runtime = runtime
        self.notify = notify
        self.watcher = FileWatcher(runtime)

    def check(self) -> Reload | None:
        """One look; returns what a reload did (None when the file had not changed)."""
        done = self.watcher.check()
        if done.inbox_error is not None:
            self.notify(f"could not read exec results: {done.inbox_error}", severity="warning")
        if done.reload is not None:
            self._report(done.reload)
        return done.reload

    def _report(self, reload: Reload) -> None:
        if not reload.ok:
            self.notify(
                f"the jobs file was changed but is invalid; the running schedule is kept:\n"
                f"{_listed([str(p) for p in reload.problems[:5]], len(reload.problems))}",
                title="Jobs file not reloaded",
                severity="error",
                timeout=15,
            )
            return
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("added", reload.added),
                ("removed", reload.removed),
                ("changed", reload.changed),
            )
            if names
        ]
        if parts:
            self.notify("; ".join(parts), title="Jobs file reloaded", timeout=6)


def startup_notices(runtime: Runtime) -> list[dict[str, Any]]:
    """`notify` arguments for what the operator must hear on opening: trouble with the state
    file (moved aside, unreadable) and the jobs file's warnings (`crondeck check` has them
    all; a 10,000-job file can have thousands, so a few are shown and the rest counted)."""
    notices: list[dict[str, Any]] = []
    if runtime.problems:
        notices.append({"message": "\n".join(runtime.problems), "title": "State file",
                        "severity": "error", "timeout": 30})
    warnings = runtime.config.warnings
    if warnings:
        n = len(warnings)
        notices.append({
            "message": _listed([_short(w) for w in warnings[:3]], n),
            "title": f"{n} warning{'s' if n != 1 else ''} in {runtime.config.path.name}",
            "severity": "warning", "timeout": 15,
        })
    return notices


def _short(p: Problem) -> str:
    """A problem without its file's path (the toast's title names the file)."""
    head = ", ".join(x for x in (f"line {p.line}" if p.line else "",
                                 f"job {p.job!r}" if p.job else "", p.key or "") if x)
    return f"{head}: {p.message}" if head else p.message


def _listed(shown: list[str], total: int) -> str:
    more = total - len(shown)
    tail = [f"… and {more} more (crondeck check lists them all)"] if more > 0 else []
    return "\n".join(shown + tail)
