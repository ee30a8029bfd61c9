"""The dashboard's editing actions: open the cron builder, create / edit / delete jobs,
switch theme.

`CrondeckApp` calls these; they only push screens and go through the core's public API.
The editor needs something with the Runtime's shape (`config`, `scheduler`, `apply`): the
app's `runtime` when it has one; `RemoteJobs` when attached to a scheduler in another process
(the file is written here, then that scheduler is asked to reload it); else `LiveJobs`, which
runs the core's own `Runtime.apply` against the app's scheduler (carrying each job's runtime
state over from the scheduler, since a bare scheduler has no state store).
"""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.app import SystemCommand

from crondeck.core import (
    Config,
    ConfigError,
    Problem,
    Reload,
    Runtime,
    build_scheduler,
    load_config,
    read_jobs_text,
)

from .external_editor import edit_jobs_file, job_line
from .screens.cron_builder import CronBuilderScreen, JobSchedule, NewJobSchedule
from .screens.delete_job import confirm_delete
from .screens.job_editor import JobEditorScreen, Saved

__all__ = [
    "JOB_COMMANDS",
    "LiveJobs",
    "RemoteJobs",
    "delete_selected",
    "jobs_target",
    "open_builder",
    "open_editor",
    "open_in_editor",
]


class _Snapshot:
    """The store interface `Runtime.apply` reads (`get(name)`), from a scheduler snapshot."""

    def __init__(self, states: dict[str, Any]) -> None:
        self.states = states

    def get(self, name: str) -> Any:
        return self.states.get(name)


class LiveJobs:
    """The jobs file and a running Scheduler without a Runtime: applies through `Runtime.apply`."""

    def __init__(self, config: Config, scheduler: Any) -> None:
        self.config = config
        self.scheduler = scheduler

    def _deck(self) -> Runtime:
        return Runtime(self.config, self.scheduler, _Snapshot(self.scheduler.snapshot()),  # type: ignore[arg-type]
                    None, None, False)  # type: ignore[arg-type]

    def apply(self, new: Config) -> Reload:
        runtime = self._deck()
        outcome = runtime.apply(new)
        self.config = runtime.config
        return outcome

    def replaced_by(self, new: Config) -> list[str]:
        """The jobs `apply(new)` would remove (see `Runtime.replaced_by`)."""
        return self._deck().replaced_by(new)


class RemoteJobs:
    """The jobs file of a scheduler in another process (the app is attached to it). `apply`
    checks here what can be checked (the new and changed jobs' agents are built, as the
    scheduler will), then, once the editor has written the file, asks the scheduler to
    `reload` it; its answer — applied, or why not — is shown (`report`)."""

    def __init__(self, config: Config, scheduler: Any, report: Any) -> None:
        self.config = config
        self.scheduler = scheduler
        self.report = report  # report(reply: dict | None, error: str)

    def _deck(self) -> Runtime:
        return Runtime(self.config, None, None, None, None, True)  # type: ignore[arg-type]

    def replaced_by(self, new: Config) -> list[str]:
        """The jobs `apply(new)` would remove (see `Runtime.replaced_by`)."""
        return self._deck().replaced_by(new)

    def apply(self, new: Config) -> Reload:
        plan = self._deck().changes(new)
        touched = {*plan.changed, *plan.added}
        try:  # an agent that cannot be made (a Python one that does not import) fails here
            build_scheduler(replace(new, jobs=[j for j in new.jobs if j.name in touched]))
        except ConfigError as exc:
            return Reload(problems=exc.problems)
        self.config = new
        # The editor writes the file right after this returns, in the same step: the
        # reload goes out once that step is over.
        asyncio.get_running_loop().call_soon(self._reload)
        return Reload()

    def _reload(self) -> None:
        call = self.scheduler.reload()

        def answered(done: Any) -> None:
            self.report(done.reply if done.ok else None, done.error)

        call.add_done_callback(answered)


def reload_report(app: Any) -> Any:
    """What the app says about the scheduler's answer to `reload`: applied (what changed),
    or refused (the problems, also on the header's lasting line until the file is fixed)."""
    def report(reply: dict[str, Any] | None, error: str) -> None:
        if reply is None:
            app.notify(f"the file is saved, but the scheduler was not asked to reload it: "
                       f"{error}; it reads the file again within seconds",
                       title="Reload not sent", severity="warning", timeout=10)
            return
        problems = [str(p) for p in reply.get("problems") or []]
        if problems or reply.get("applied") is False:
            app.notify("\n".join(problems[:5]) or "refused", severity="error", timeout=15,
                       title="The scheduler refused the jobs file (it runs the previous one)")
            file_state = getattr(app, "file_state", None)
            if file_state is not None:
                file_state([Problem(Path(app.config_path), p) for p in problems])
            return
        parts = [f"{label} {', '.join(reply[label])}" for label in ("added", "removed",
                                                                     "changed")
                 if reply.get(label)]
        app.notify("; ".join(parts) or "nothing changed", title="Applied by the scheduler",
                   timeout=5)
        file_state = getattr(app, "file_state", None)
        if file_state is not None:
            file_state(None)

    return report


def jobs_target(app: Any) -> Any | None:
    """The app's Runtime, a RemoteJobs when attached, or a LiveJobs on its config file; None
    (and a notice) if unusable."""
    runtime = getattr(app, "runtime", None)
    if runtime is not None:
        return runtime
    if getattr(app, "read_only", False):
        app.notify("read-only: another crondeck schedules this file; edit it there",
                   severity="warning", timeout=5)
        return None
    path = getattr(app, "config_path", "")
    if not path:
        app.notify("no jobs file: start crondeck with --config to edit jobs", severity="warning")
        return None
    live = getattr(app, "_live_jobs", None)
    try:
        config = load_config(path)
    except ConfigError as exc:
        app.notify(f"the jobs file has problems; fix them first:\n{exc}", severity="error",
                   timeout=10)
        return None
    if getattr(app.scheduler, "reload", None) is not None and hasattr(app.scheduler,
                                                                        "connected"):
        if not app.scheduler.connected:
            app.notify("the scheduler is gone: edit jobs once it is back", severity="warning",
                       timeout=6)
            return None
        if live is None or live.scheduler is not app.scheduler:
            live = RemoteJobs(config, app.scheduler, reload_report(app))
            app._live_jobs = live
        live.config = config
        return live
    if live is None or live.scheduler is not app.scheduler:
        live = LiveJobs(config, app.scheduler)
        app._live_jobs = live
    else:
        live.config = config
    return live


def open_builder(app: Any, job: str | None = None) -> None:
    """The cron builder: empty, or on `job`'s schedule and zone (then "Edit job" opens the
    job editor on it with the schedule tried, saved from there as any edit)."""
    expression, zone = "", app.zone
    schedule = getattr(app.scheduler.jobs.get(job), "schedule", None) if job else None
    if schedule is not None:
        expression = str(getattr(schedule, "text", "") or "")
        zone = getattr(schedule, "tz", None) or zone
    can_edit = schedule is not None and not app.read_only and app.dashboard.can_change

    def done(result: str | NewJobSchedule | None) -> None:
        if isinstance(result, JobSchedule):
            open_editor(app, result.job, schedule=result)
        elif isinstance(result, NewJobSchedule):
            open_editor(app, None, schedule=result)

    app.push_screen(CronBuilderScreen(expression, zone=zone, now=app.now, local=app.zone,
                                      live=app.live, new_job=not app.read_only,
                                      job=job if can_edit else None), done)


def open_editor(app: Any, job: str | None, *, schedule: NewJobSchedule | None = None) -> None:
    """The job editor on `job`, or on a new job; with `schedule` (from the cron builder)
    in place of the one it has."""
    target = jobs_target(app)
    if target is None:
        return
    if job is not None and job not in {j.name for j in target.config.jobs}:
        app.notify(f"{job} is not in the jobs file", severity="warning")
        return

    def saved(result: Saved | None) -> None:
        if result is None:
            return
        if not result.announced:
            kept = f"; previous file kept as {result.backup.name}" if result.backup else ""
            app.notify(f"{result.job} {result.action}{kept}", timeout=5)
        dashboard = getattr(app, "dashboard", None)
        if dashboard is not None:
            dashboard.observer.pump()  # the table learns of the job via a message: select after
            dashboard.call_after_refresh(dashboard.table.select, result.job)

    editor = JobEditorScreen(target, job, now=app.now, zone=app.zone, live=app.live)
    if schedule is not None and job is not None:
        editor.tried = schedule
    elif schedule is not None:
        editor.form.schedule = schedule.expression
        editor.form.timezone = schedule.timezone or editor.form.timezone
    app.push_screen(editor, saved)


def open_in_editor(app: Any, job: str | None) -> None:
    """`E`: the jobs file in $VISUAL/$EDITOR, at the selected job's table (the file as it
    is on disk, so a refused outside edit can be fixed here too)."""
    target = app.runtime if getattr(app, "runtime", None) is not None else jobs_target(app)
    if target is None:
        return
    path = target.config.path
    line = None
    if job is not None:
        try:
            text = read_jobs_text(path) or ""
            names = [j.get("name") for j in tomllib.loads(text).get("jobs", [])
                     if isinstance(j, dict)]
            line = job_line(text, names.index(job)) if job in names else None
        except (ConfigError, tomllib.TOMLDecodeError, AttributeError):
            line = None

    def saved() -> None:
        dashboard = getattr(app, "dashboard", None)
        if dashboard is not None:
            dashboard.observer.pump()

    app.run_worker(edit_jobs_file(app, target, line=line, on_saved=saved),
                   group="external-editor", exclusive=True, exit_on_error=False)


def delete_selected(app: Any, job: str | None) -> None:
    if job is None:
        return
    target = jobs_target(app)
    if target is not None:
        confirm_delete(app, target, job)


JOB_COMMANDS = (
    ("Cron builder", "try cron expressions: meaning, warnings, next fires (c)", "builder"),
    ("New job", "create a job in the jobs file (n)", "new_job"),
    ("Edit job", "edit the selected job (e)", "edit_job"),
    ("Delete job", "delete the selected job, after confirmation (d)", "delete_job"),
    ("Edit in $EDITOR", "open the jobs file in $VISUAL/$EDITOR at the selected job (E)",
     "edit_in_editor"),
    ("Change theme", "pick a theme; the choice is remembered (t)", "change_theme"),
)


def system_commands(app: Any, *, dashboard: bool = True) -> list[SystemCommand]:
    """The palette's editing commands: all of them on the dashboard; elsewhere only "Change
    theme" (the job commands act on the dashboard's selection)."""
    return [SystemCommand(title, help_text, getattr(app, f"action_{action}"))
            for title, help_text, action in JOB_COMMANDS
            if dashboard or action == "change_theme"]
