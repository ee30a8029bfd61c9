"""Keeping the app's runtime in step with the world outside it: the jobs file edited by someone
else (validated first; an invalid edit is reported and the running schedule is kept), and
results that `crondeck exec` dropped into the state directory's inbox.

The app calls `RuntimeWatcher.check` on a timer; all the work is the core's `FileWatcher`
(the same one `crondeck run` drives), this only turns what it did into notices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from crondeck.core import (
    WATCH_INTERVAL,
    FileWatcher,
    JobChanged,
    OutputChunk,
    Problem,
    Reload,
    RunFinished,
    RunHandle,
    RunStarted,
    RunStatus,
    Runtime,
    StateStore,
    file_stamp,
)

__all__ = ["WATCH_INTERVAL", "RuntimeWatcher", "StateFollower", "file_problem_line",
           "startup_notices"]

Notify = Callable[..., Any]


class RuntimeWatcher:
    """Reloads the jobs file when it changes on disk and folds `exec` results in.
    `on_file(problems)` hears of every reload: the refused edit's problems, or None once
    the file on disk is running again (the header's lasting line follows it)."""

    def __init__(self, runtime: Runtime, notify: Notify,
                 on_file: Callable[[list[Problem] | None], Any] | None = None) -> None:
        self.runtime = runtime
        self.notify = notify
        self.on_file = on_file
        self.watcher = FileWatcher(runtime)

    def check(self) -> Reload | None:
        """One look; returns what a reload did (None when the file had not changed)."""
        done = self.watcher.check()
        if done.inbox_error is not None:
            self.notify(f"could not read exec results: {done.inbox_error}", severity="warning")
        if done.reload is not None:
            self._report(done.reload)
            if self.on_file is not None:
                self.on_file(None if done.reload.ok else done.reload.problems)
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


class StateFollower:
    """Observing a jobs file another process schedules and cannot be asked (an older
    crondeck, or files on a share): follow what it writes — its state (pauses, next fires,
    results, `crondeck exec` results it folded in) and the logs of its runs in flight — into
    the runtime's own scheduler, as the events an in-process scheduler would emit, so every
    pane moves. Call `check` on a timer; it never writes anything."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        state = Path(runtime.config.state_dir)
        self.paths = (state / "state.toml", state / "claims.toml")
        self._stamps: tuple[Any, ...] = ()
        self._tails: dict[str, tuple[str, Path, int]] = {}  # run id -> job, log, offset
        self._first = True  # the first look only loads (the screen reads it whole)

    def check(self) -> bool:
        """One look; True if the state changed."""
        changed = False
        stamps = tuple(file_stamp(p) for p in self.paths)
        if stamps != self._stamps:
            self._stamps = stamps
            changed = self._follow_state()
        self._follow_logs()
        return changed

    def _follow_state(self) -> bool:
        runtime = self.runtime
        store = StateStore(self.paths[0], history=runtime.config.base_options().history,
                           read_only=True).load()
        scheduler = runtime.scheduler
        bus = scheduler.bus
        saved = [st for st in store.jobs.values() if st.name in scheduler.jobs]
        first, self._first = self._first, False
        if not saved:
            return False
        # only the jobs with saved states, and only those holding results: reading `results`
        # or `running` of a job without any would make it empty containers (100,000 jobs)
        jobs = scheduler.jobs
        before = {st.name: {r.run_id for r in jobs[st.name].results} for st in saved
                  if jobs[st.name].last_result is not None}
        # its runs in flight are its own, not abandoned ones: restore without them
        scheduler.restore([replace(st, running=()) for st in saved])
        now = scheduler.clock.now()
        for st in saved:
            seen = before.get(st.name, set())
            job = scheduler.jobs[st.name]
            # its runs in flight, as handles the rows read ("running 12s"): from first seen
            if job.is_running:
                for run_id in [r for r in job.running if r not in st.running]:
                    del job.running[run_id]
            for run_id in st.running:
                if run_id not in job.running:
                    handle = job.running[run_id] = RunHandle(st.name, run_id, now, False)
                    handle.started_at = now
            for result in st.results:
                if (result.run_id not in seen and result.status is not RunStatus.RUNNING
                        and not first):
                    if result.run_id in self._tails:  # its last lines, then its end
                        self._drain(result.run_id)
                        del self._tails[result.run_id]
                    bus.emit(RunFinished, job=st.name, run_id=result.run_id, result=result)
            for run_id in st.running:
                if run_id not in self._tails:
                    self._tails[run_id] = (st.name, runtime.logs.path(st.name, run_id), 0)
                    bus.emit(RunStarted, job=st.name, run_id=run_id, scheduled_for=now,
                             attempt=1)
            bus.emit(JobChanged, job=st.name, what="state")
        return True

    def _follow_logs(self) -> None:
        for run_id in list(self._tails):
            self._drain(run_id)

    def _drain(self, run_id: str) -> None:
        """What the run's log gained since the last look, as output events."""
        bus = self.runtime.scheduler.bus
        job, path, offset = self._tails[run_id]
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read(1 << 20)
        except OSError:
            return
        end = data.rfind(b"\n") + 1  # whole lines only; the rest comes next look
        if not end:
            return
        self._tails[run_id] = (job, path, offset + end)
        lines = [ln for ln in data[:end].decode("utf-8", "replace").splitlines()
                 if not ln.startswith("# crondeck: ")]
        out = [ln for ln in lines if not ln.startswith("[stderr] ")]
        err = [ln[len("[stderr] "):] for ln in lines if ln.startswith("[stderr] ")]
        for stream, chunk in (("stdout", out), ("stderr", err)):
            if chunk:
                bus.emit(OutputChunk, job=job, run_id=run_id, stream=stream,
                         text="\n".join(chunk) + "\n")


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


def file_problem_line(name: str, problems: Sequence[Problem | str], since: str) -> str:
    """The header's lasting line while the file on disk is refused: what, since when, that
    the previous version runs, how to fix it, and the first problem."""
    n = len(problems)
    first = f" · {_short(problems[0])}" if problems else ""
    return (f"⚠ {name}: {n} problem{'s' if n != 1 else ''} since {since} — previous "
            f"version runs · E fixes it{first}")


def _short(p: Problem | str) -> str:
    """A problem without its file's path (the toast's title names the file); a problem
    another process reported comes as that text already."""
    if isinstance(p, str):
        return p
    head = ", ".join(x for x in (f"line {p.line}" if p.line else "",
                                 f"job {p.job!r}" if p.job else "", p.key or "") if x)
    return f"{head}: {p.message}" if head else p.message


def _listed(shown: list[str], total: int) -> str:
    more = total - len(shown)
    tail = [f"… and {more} more (crondeck check lists them all)"] if more > 0 else []
    return "\n".join(shown + tail)
