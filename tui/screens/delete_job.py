"""Deleting a job: confirm, and when it is running ask whether to wait for the run or to
terminate it. The job is removed from the jobs file (saved atomically, `.bak` kept) and
from the running scheduler through the Deck's `apply`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from crondeck.core.config import save_config

from ..job_form import without_job

__all__ = ["DeleteChoice", "DeleteJobDialog", "confirm_delete", "delete_job"]

DeleteChoice = Literal["delete", "wait", "terminate"]
WAIT_NOTE = "being deleted after its current run"


class DeleteJobDialog(ModalScreen["DeleteChoice | None"]):
    """`y` delete (idle job); `w` wait / `t` terminate (running job); Escape keeps it."""

    CSS_PATH = "job_editor.tcss"
    BINDINGS: ClassVar = [
        Binding("y", "choose('delete')", "Delete", id="delete.yes"),
        Binding("w", "choose('wait')", "Wait, then delete", id="delete.wait"),
        Binding("t", "choose('terminate')", "Terminate and delete", id="delete.terminate"),
        Binding("escape,n", "choose('')", "Keep", id="delete.keep"),
    ]

    def __init__(self, job: str, running: bool, path: str = "") -> None:
        super().__init__()
        self.job = job
        self.running = running
        self.path = path

    def compose(self) -> ComposeResult:
        name = Path(self.path).name or "the jobs file"
        with Vertical(id="delete-dialog"):
            yield Label(f"Delete job “{self.job}”?", id="delete-title")
            yield Label(f"It is removed from {name} (the previous version is kept as "
                        f"{name}.bak) and stops being scheduled now.", classes="hint")
            if self.running:
                yield Label("It is running now. Wait lets this run finish first (no new runs "
                            "start); terminate stops it now.", classes="hint")
            with Horizontal(id="delete-buttons"):
                if self.running:
                    yield Button("Wait, then delete (w)", variant="warning", id="wait")
                    yield Button("Terminate and delete (t)", variant="error", id="terminate")
                else:
                    yield Button("Delete (y)", variant="error", id="delete")
                yield Button("Keep (esc)", id="keep")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters:
            choice = parameters[0]
            if choice == "delete":
                return not self.running
            if choice in ("wait", "terminate"):
                return self.running
        return True

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id or "")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice if choice in ("delete", "wait", "terminate") else None)  # type: ignore[arg-type]


def delete_job(target: Any, name: str) -> Path | None:
    """Remove `name` from the scheduler (cancelling a run in flight) and the jobs file.
    Returns the backup path. Raises ConfigError if the result would not be valid."""
    new = without_job(target.config, name)
    outcome = target.apply(new)
    problems = getattr(outcome, "problems", [])
    if problems:
        raise RuntimeError("; ".join(str(p) for p in problems))
    return save_config(new)


def confirm_delete(app: App[Any], target: Any, name: str, *, poll: float = 0.5) -> None:
    """Ask, then delete. Waiting pauses the job (so nothing new starts) and deletes it once
    its run has finished."""
    job = target.scheduler.jobs.get(name)
    running = bool(job is not None and job.running)

    def done(backup: Path | None) -> None:
        kept = f" (previous file kept as {backup.name})" if backup else ""
        app.notify(f"deleted job {name}{kept}", timeout=5)

    def chosen(choice: DeleteChoice | None) -> None:
        if choice is None:
            return
        if choice == "wait":
            target.scheduler.pause_job(name, note=WAIT_NOTE)
            app.notify(f"{name}: waiting for its run to finish, then deleting it", timeout=5)

            def check() -> None:
                current = target.scheduler.jobs.get(name)
                if current is None or not current.running:
                    timer.stop()
                    _run(lambda: done(delete_job(target, name)))

            timer = app.set_interval(poll, check, name=f"delete-{name}")
            return
        _run(lambda: done(delete_job(target, name)))

    def _run(step: Any) -> None:
        try:
            step()
        except Exception as exc:
            app.notify(f"could not delete {name}: {exc}", severity="error", timeout=10)

    app.push_screen(DeleteJobDialog(name, running, str(target.config.path)), chosen)
