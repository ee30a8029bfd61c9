"""Saving (under a new name) or deleting a job whose run is in progress: wait for the run,
terminate it, or go back; then apply the change once the job is idle.

Removing a job through the Runtime, which a new name does to the old one, cancels its runs
in flight (a change that keeps the name is applied in place and asks nothing), so the change
is applied only when no run is left: *wait* lets the run finish, *terminate* cancels it
(recorded as cancelled, with why) and waits for it to end. Meanwhile the job is disabled in
the scheduler, in memory only, so no new run starts; the jobs file is untouched until the
change is applied, and the change is then recomputed against the file as it is at that
moment (`commit`), so an edit made to another job in between is not overwritten. If crondeck
exits first, nothing was changed. Everything goes through the scheduler's public API
(`Job.enabled`, `cancel`, run handles).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar, Literal

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label

from crondeck.core import ago, clock_time

from .choice_dialog import ChoiceDialog

__all__ = ["RunningChoice", "RunningJobDialog", "finish_then", "running_since"]

RunningChoice = Literal["wait", "terminate"]
Action = Literal["save", "delete"]
_VERB = {"save": ("save", "apply the change", "Back"),
         "delete": ("delete", "delete it", "Keep it")}


def running_since(job: Any) -> datetime | None:
    """When the job's earliest run in progress started (None: not started or not running)."""
    started = [h.started_at for h in getattr(job, "running", {}).values()
               if h.started_at is not None]
    return min(started) if started else None


class RunningJobDialog(ChoiceDialog[RunningChoice]):
    """`w` wait for the run, then save/delete; `t` terminate it now, then save/delete;
    Escape goes back (to the editor, or keeps the job)."""

    CHOICES = ("wait", "terminate")
    FOCUS = "wait"

    CSS_PATH = "running_job_dialog.tcss"
    BINDINGS: ClassVar = [
        Binding("w", "choose('wait')", "Wait for the run", id="running.wait",
                tooltip="let the run finish, then apply; no new run starts meanwhile"),
        Binding("t", "choose('terminate')", "Terminate the run", id="running.terminate",
                tooltip="stop the run now (recorded as cancelled), then apply"),
        Binding("escape", "choose('')", "Back", id="running.back",
                tooltip="change nothing"),
    ]

    def __init__(self, job: str, action: Action, *, started: datetime | None = None,
                 now: datetime | None = None, zone: tzinfo = UTC) -> None:
        super().__init__()
        self.job = job
        self.action = action
        self.started = started
        self.now = now or datetime.now(UTC)
        self.zone = zone

    def compose(self) -> ComposeResult:
        verb, applying, back = _VERB[self.action]
        since = ""
        if self.started is not None:
            since = (f" (started {clock_time(self.started, self.zone, self.now)}, "
                     f"{ago((self.now - self.started).total_seconds())})")
        lead = ("Saving this change replaces the job, which would stop that run."
                if self.action == "save" else "Deleting the job now would stop that run.")
        with Vertical(id="running-dialog"):
            yield Label(f"“{self.job}” is running now{since}", id="running-title")
            yield Label(lead, classes="hint")
            yield Label(f"Wait: the run finishes, then crondeck will {applying}; no new run "
                        "starts meanwhile.", classes="hint")
            yield Label(f"Terminate: the run is stopped now (recorded as cancelled), then "
                        f"crondeck will {applying}.", classes="hint")
            with Horizontal(id="running-buttons"):
                yield Button(f"Wait, then {verb} (w)", variant="primary", id="wait")
                yield Button(f"Terminate and {verb} (t)", variant="error", id="terminate")
                yield Button(f"{back} (esc)", id="back")


def finish_then(app: App[Any], scheduler: Any, name: str, choice: RunningChoice,
                commit: Callable[[], str], *, what: str, pending: str = "") -> None:
    """Stop `name` starting new runs, terminate its runs if `choice` says so, and once none
    is left call `commit` (which applies and saves, and returns the notice to show). A failed
    commit is reported and the job switched back on as it was. `pending` is announced first
    (here, so it never arrives after the outcome when a terminated run ends at once)."""
    job = scheduler.jobs.get(name)
    if job is None or not job.running:
        _commit(app, commit, what, None, True)
        return
    if pending:
        app.notify(pending, timeout=6)
    was_enabled = job.enabled
    job.enabled = False  # in memory only: nothing new starts while we wait
    if choice == "terminate":
        scheduler.cancel(name, reason=f"terminated by the operator to {what}")

    async def when_idle() -> None:
        while job.running and scheduler.jobs.get(name) is job:
            await asyncio.gather(*(h.wait() for h in list(job.running.values())))
        if scheduler.jobs.get(name) is not job:
            app.notify(f"{name} was changed outside the editor while its run finished; "
                       f"nothing more was done (could not {what})", severity="warning",
                       timeout=10)
            return
        _commit(app, commit, what, job, was_enabled)

    app.run_worker(when_idle(), name=f"after-run:{name}", group="after-run", exit_on_error=False)


def _commit(app: App[Any], commit: Callable[[], str], what: str, job: Any,
            was_enabled: bool) -> None:
    try:
        message = commit()
    except Exception as exc:  # invalid against the file as it is now, or unwritable
        if job is not None:
            job.enabled = was_enabled
        app.notify(f"could not {what}: {exc}", severity="error", timeout=10)
        return
    app.notify(message, timeout=6)
