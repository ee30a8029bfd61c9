"""Keeping a running Runtime in step with the world outside it: the jobs file edited by
someone else (validated first; an invalid edit is refused and the running schedule kept), and
results that `crondeck exec` dropped into the state directory's inbox.

`FileWatcher.check` takes one look and says what it did twice: as its return value and as
core events on the scheduler's bus (`ConfigReloaded`, `ConfigRejected`, `ExecResultRecorded`),
so `crondeck run` logs them like any other event and the console turns them into notices.
"""

from __future__ import annotations

import asyncio
from dataclasses import field

from .events import ConfigRejected, ConfigReloaded, ExecResultRecorded, SchedulerError
from .inbox import fold_into_runtime
from .lazyclass import dataclass
from .results import RunResult
from .runtime import Reload, Runtime

__all__ = ["WATCH_INTERVAL", "FileWatcher", "WatchResult"]

WATCH_INTERVAL = 2.0  # seconds between looks at the jobs file and the inbox


@dataclass
class WatchResult:
    """What one look did."""

    reload: Reload | None = None  # None: the jobs file had not changed
    folded: list[RunResult] = field(default_factory=list)
    inbox_error: OSError | None = None  # the inbox could not be folded; tried again next look


class FileWatcher:
    """Reloads the runtime's jobs file when it changes on disk and folds `exec` results in.
    Call `check` (or run `watch`) on the scheduler's event loop: events go out from there."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def check(self) -> WatchResult:
        """One look: fold the inbox, then reload the jobs file if it changed."""
        runtime = self.runtime
        if runtime.read_only:  # another process schedules this file and owns its state
            return WatchResult()
        bus = runtime.scheduler.bus
        out = WatchResult()
        try:
            out.folded = fold_into_runtime(runtime)
        except OSError as exc:  # the inbox is a convenience; never stop the scheduler for it
            out.inbox_error = exc
            bus.emit(SchedulerError, job=None, where="inbox",
                     message=f"could not read exec results: {exc}")
        for result in out.folded:
            bus.emit(ExecResultRecorded, job=result.job, run_id=result.run_id,
                     status=result.status, result=result)
        out.reload = runtime.reload_if_changed()
        path = str(runtime.config.path)
        if out.reload is not None and out.reload.ok:
            bus.emit(ConfigReloaded, path=path, added=tuple(out.reload.added),
                     removed=tuple(out.reload.removed), changed=tuple(out.reload.changed))
        elif out.reload is not None:
            bus.emit(ConfigRejected, path=path,
                     problems=tuple(str(p) for p in out.reload.problems))
        return out

    async def watch(self, every: float = WATCH_INTERVAL) -> None:
        """Look every `every` seconds until cancelled."""
        while True:
            await asyncio.sleep(every)
            self.check()
