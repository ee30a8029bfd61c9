"""Deleting a job: confirm; when it is running, ask whether to wait for the run or to
terminate it (`RunningJobDialog`, shared with the editor). The job is removed from the jobs
file (saved atomically, `.bak` kept) and from the running scheduler through the Runtime's
`apply`, once no run of it is left."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label

from crondeck.core import save_config

from ..job_form import without_job
from .choice_dialog import ChoiceDialog
from .running_job_dialog import RunningChoice, RunningJobDialog, finish_then, running_since

__all__ = ["DeleteChoice", "DeleteJobDialog", "confirm_delete", "delete_job"]

DeleteChoice = Literal["delete"]


class DeleteJobDialog(ChoiceDialog[DeleteChoice]):
    """`y` deletes the (idle) job; Escape or `n` keeps it."""

    CHOICES = ("delete",)
    FOCUS = "keep"

    CSS_PATH = "job_editor.tcss"
    BINDINGS: ClassVar = [
        Binding("y", "choose('delete')", "Delete", id="delete.yes",
                tooltip="remove the job from the jobs file and the schedule"),
        Binding("escape,n", "choose('')", "Keep", id="delete.keep", tooltip="change nothing"),
    ]

    def __init__(self, job: str, path: str = "") -> None:
        super().__init__()
        self.job = job
        self.path = path

    def compose(self) -> ComposeResult:
        name = Path(self.path).name or "the jobs file"
        with Vertical(id="delete-dialog"):
            yield Label(f"Delete job “{self.job}”?", id="delete-title")
            yield Label(f"It is removed from {name} (the previous version is kept as "
                        f"{name}.bak) and stops being scheduled now.", classes="hint")
            with Horizontal(id="delete-buttons"):
                yield Button("Delete (y)", variant="error", id="delete")
                yield Button("Keep (esc)", id="keep")


def delete_job(target: Any, name: str) -> Path | None:
    """Remove `name` from the scheduler (cancelling a run in flight) and the jobs file, as
    the file is now. Returns the backup path. Raises ConfigError if the result would not be
    valid, RuntimeError if the scheduler refused it."""
    new = without_job(target.config, name)
    outcome = target.apply(new)
    problems = getattr(outcome, "problems", [])
    if problems:
        raise RuntimeError("; ".join(str(p) for p in problems))
    return save_config(new)


def confirm_delete(app: App[Any], target: Any, name: str) -> None:
    """Ask, then delete: at once for an idle job; for a running one after its run has
    finished or been terminated (no new run starts meanwhile)."""
    job = target.scheduler.jobs.get(name)

    def commit() -> str:
        backup = delete_job(target, name)
        kept = f" (previous file kept as {backup.name})" if backup else ""
        return f"deleted job {name}{kept}"

    if job is not None and job.running:
        def chosen_running(choice: RunningChoice | None) -> None:
            if choice is None:
                return
            pending = (f"{name}: deleted when its current run ends; no new run starts "
                       "meanwhile") if choice == "wait" else ""
            finish_then(app, target.scheduler, name, choice, commit, what="delete the job",
                        pending=pending)

        clock = getattr(app, "now", None)
        now = clock() if callable(clock) else datetime.now(UTC)
        zone = getattr(app, "zone", UTC)
        app.push_screen(RunningJobDialog(name, "delete", started=running_since(job), now=now,
                                         zone=zone), chosen_running)
        return

    def chosen(choice: DeleteChoice | None) -> None:
        if choice is not None:
            finish_then(app, target.scheduler, name, "wait", commit, what="delete the job")

    app.push_screen(DeleteJobDialog(name, str(target.config.path)), chosen)
