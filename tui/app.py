"""The crondeck Textual app: a thin shell that owns the scheduler's lifetime and the screens.

The dashboard is the home screen; from it the cron builder (`c`), the job editor
(`n`/`e`/`d`) and the theme list (`t`) open on top.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App
from textual.binding import Binding
from textual.command import CommandPalette
from textual.driver import Driver
from textual.screen import Screen

from crondeck.core import (
    Clock,
    Problem,
    RunStatus,
    Runtime,
    Scheduler,
    SystemClock,
    local_zone,
)

from . import job_actions
from .background import Background, BackgroundFailed, start_background
from .runtime_watch import WATCH_INTERVAL, RuntimeWatcher, file_problem_line, startup_notices
from .screens import dashboard_commands
from .screens.dashboard import DashboardScreen
from .screens.quit_dialog import QuitChoice, QuitDialog
from .textual_compat import app_driver
from .themes import ThemeChoices, install_themes, status_variable_defaults
from .widgets.header import DeckHeader

__all__ = ["CrondeckApp", "run_app"]

HANGUP_GRACE = 10.0  # seconds a signalled app may take to stop runs and exit cleanly


class CrondeckApp(App[None]):
    """Runs `scheduler` in-process (unless read-only) and shows it live.

    `clock` is the scheduler's clock (a FakeClock in tests fixes every countdown); `zone` is
    where times are shown; `live=False` freezes timers, background batching and cursor blink
    (tests call `screen.observer.pump()` instead). `themes` (default: `live`) installs the
    crondeck themes and the remembered choice; a frozen test app can ask for them."""

    TITLE = "crondeck"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar = [
        Binding("q", "quit", "Quit", priority=True, id="app.quit",
                tooltip="quit (asks whether to keep the jobs running in the background, "
                        "and whether to wait for or terminate runs in progress)"),
        Binding("c", "builder", "Cron builder", id="app.builder",
                tooltip="try cron expressions: meaning, warnings and next fires (on the "
                        "selected job's schedule and zone)"),
        Binding("n", "new_job", "New job", id="jobs.new",
                tooltip="create a job (saved to the jobs file, scheduled at once)"),
        Binding("e", "edit_job", "Edit", id="job.edit",
                tooltip="edit the selected job (saved to the jobs file, applied at once)"),
        Binding("d", "delete_job", "Delete", show=False, id="job.delete",
                tooltip="delete the selected job (asks first; wait or terminate if running)"),
        Binding("E", "edit_in_editor", "$EDITOR", show=False, id="jobs.editor",
                tooltip="edit the jobs file in $EDITOR at the selected job"),
        Binding("t", "change_theme", "Theme", show=False, id="app.theme",
                tooltip="switch theme (remembered between runs)"),
    ]

    def __init__(self, scheduler: Scheduler, *, config_path: str | Path | None = None,
                 clock: Clock | None = None, zone: tzinfo | None = None,
                 read_only: bool = False, read_only_reason: str = "",
                 start: bool = True, live: bool = True, themes: bool | None = None) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.clock = clock or scheduler.clock or SystemClock()
        self.zone = zone or local_zone()
        self.config_path = str(config_path or "")
        self.read_only = read_only
        self.read_only_reason = read_only_reason or ("read-only" if read_only else "")
        self.start_scheduler = start and not read_only
        self.live = live
        self.use_themes = live if themes is None else themes
        self._loop_task: asyncio.Task[None] | None = None
        self._quitting = False
        self._handing_over = False  # quitting with the jobs left to a background crondeck run
        self.background: Background | None = None  # the crondeck run that took over
        self.exit_note = ""  # printed once the terminal is restored (the runs terminated)
        # "wait" or "background" while quitting waits for runs in flight to finish
        self.quitting: str = ""
        self._terminated: list[str] = []  # run ids in flight when a quit terminated them
        self._say_terminated = False
        self._signal_seen = False  # SIGHUP/SIGTERM: shut down once
        # The opened jobs file (state, logs, lock) when launched on one; tests may omit it.
        self.runtime: Runtime | None = None
        self.config_created = False  # the jobs file was just created (first run)
        self._file_refused_at: datetime | None = None  # the file on disk is refused since
        # How the scheduler is reached (launch.Session: attached over the control socket,
        # observed, or in-process and serving the socket), and the dashboard that shows it.
        self.session: Any = None
        self.dashboard_class: type[DashboardScreen] = DashboardScreen

    def now(self) -> datetime:
        return self.clock.now()

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        if sys.platform != "win32":
            from textual.drivers.linux_driver import LinuxDriver

            from .driver import HangupSafeDriver

            if driver is LinuxDriver:
                return HangupSafeDriver
        return driver

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **status_variable_defaults()}

    @property
    def dashboard(self) -> DashboardScreen:
        return self.get_screen("dashboard")  # type: ignore[return-value]

    async def on_mount(self) -> None:
        if self.use_themes:  # frozen (test) apps keep Textual's default theme unless asked
            for problem in install_themes(self):
                self.notify(problem, title="Theme skipped", severity="warning", timeout=10)
        if self.session is not None and not await self.session.mount(self):
            return  # it could not reach the scheduler and is exiting, saying why
        dashboard = self.dashboard_class(
            self.scheduler, now=self.now, zone=self.zone, config_path=self.config_path,
            read_only=self.read_only, read_only_reason=self.read_only_reason, live=self.live)
        self.install_screen(dashboard, "dashboard")
        await self.push_screen("dashboard")
        if self.config_created:
            self.notify(f"created {self.config_path}: a commented example jobs file; n adds a "
                        "job to it", title="First run", timeout=20)
        if self.runtime is not None:
            for notice in startup_notices(self.runtime):
                self.notify(**notice)
        refused = getattr(self.session, "file_problems", None)
        if refused:  # attached while the file on disk is refused: what runs is older
            self.notify("the jobs file is invalid; the scheduler runs its previous version:\n"
                        + "\n".join(str(p) for p in refused[:5]),
                        title="Jobs file refused", severity="error", timeout=15)
            self.file_state(refused)
        elif (word := getattr(self.scheduler, "file_refused", None)) is not None:
            # the scheduler refused the file before this console attached (its snapshot says)
            path, problems, _since = word
            self.scheduler_file_state(tuple(p.removeprefix(f"{path}:") for p in problems))
        if self.runtime is not None and self.live:
            self.set_interval(WATCH_INTERVAL, RuntimeWatcher(self.runtime, self.notify,
                                                             self.file_state).check,
                              name="runtime-watch")
        if self.live:
            # The terminal went away (SIGHUP) or we were told to stop (SIGTERM): terminate
            # runs in flight, record them, and exit instead of running on without a screen.
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGHUP, signal.SIGTERM):
                loop.add_signal_handler(signum, self._signalled, signum)
        if self.start_scheduler:
            # After the first frame: runs due at start (many, after downtime) come after it.
            self.call_after_refresh(self._start_scheduler, dashboard)

    async def _start_scheduler(self, dashboard: DashboardScreen) -> None:
        if self._loop_task is not None or self._quitting or self._signal_seen:
            return
        self._loop_task = asyncio.get_running_loop().create_task(
            self.scheduler.astart(stop_when_done=False), name="scheduler")
        self._loop_task.add_done_callback(self._loop_ended)
        if self.runtime is not None:  # a deleted or replaced lock stops it within 2 s
            self.runtime.start_lock_watch()
        await asyncio.sleep(0)
        dashboard.observer.pump()

    def file_state(self, problems: Sequence[Problem | str] | None) -> None:
        """The header's lasting line while the jobs file on disk is refused (the running
        schedule is the previous version); gone once the file is valid again."""
        if problems is None:
            self._file_refused_at = None
        elif self._file_refused_at is None:
            self._file_refused_at = self.now()
        line = ""
        if problems is not None and self._file_refused_at is not None:
            since = self._file_refused_at.astimezone(self.zone).strftime("%H:%M")
            line = file_problem_line(Path(self.config_path).name or "the jobs file", problems,
                                     since)
        with contextlib.suppress(Exception):  # no dashboard yet, or already gone
            self.dashboard.query_one(DeckHeader).file_problem = line

    def scheduler_file_state(self, problems: tuple[str, ...]) -> None:
        """The scheduler's word on the jobs file changed on disk, as events: refused (its
        problems) or running. An attached console hears of it only so; one with a runtime
        of its own reloads the file itself and has said it already."""
        if self.runtime is not None:
            return
        # "62: job 'x', …" and its caret lines: "line 62, job 'x', …"
        shown = [re.sub(r"^(\d+): ", r"line \1, ", p.split("\n")[0]) for p in problems]
        word = getattr(self.scheduler, "file_refused", None)  # an attached console's mirror
        if problems and self._file_refused_at is None and word is not None and word[2]:
            self._file_refused_at = word[2]  # the header's "since": the scheduler's refusal
        if problems:
            self.notify("the jobs file was changed but is invalid; the scheduler keeps "
                        "running the previous version:\n" + "\n".join(shown[:5]),
                        title="Jobs file not reloaded", severity="error", timeout=15)
        self.file_state(shown or None)

    def _loop_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._quitting:
            return
        exc = task.exception()
        if exc is not None:
            self.notify(f"scheduler stopped: {type(exc).__name__}: {exc}", severity="error",
                        timeout=30)

    # -- builder, editor, themes ----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("builder", "new_job", "edit_job", "delete_job", "edit_in_editor"):
            if not isinstance(self.screen, DashboardScreen):
                return False
            if action != "builder" and self.read_only:
                return self.dashboard_class.READ_ONLY_KEYS
            if action != "builder" and not self.dashboard.can_change:
                return False  # an attached console whose scheduler went away: back with it
            if action in ("edit_job", "delete_job") and self.dashboard.table.selected is None:
                return None
        return True

    def search_themes(self) -> None:
        """`t`: the theme list, opened on the theme in use (see `ThemeChoices`)."""
        self.push_screen(CommandPalette(providers=[ThemeChoices],
                                        placeholder="Search for themes…"))

    def action_builder(self) -> None:
        job_actions.open_builder(self, self.dashboard.table.selected)

    def action_new_job(self) -> None:
        job_actions.open_editor(self, None)

    def action_edit_job(self) -> None:
        job_actions.open_editor(self, self.dashboard.table.selected)

    def action_delete_job(self) -> None:
        job_actions.delete_selected(self, self.dashboard.table.selected)

    def action_edit_in_editor(self) -> None:
        job_actions.open_in_editor(self, self.dashboard.table.selected)

    def get_system_commands(self, screen: Screen[Any]) -> Any:
        # Textual's "Theme" is crondeck's "Change theme" (one entry, not two alike)
        yield from (c for c in super().get_system_commands(screen) if c.title != "Theme")
        yield from job_actions.system_commands(self, dashboard=isinstance(screen, DashboardScreen))
        if isinstance(screen, DashboardScreen):  # every dashboard key, labelled by state
            yield from dashboard_commands.system_commands(screen)

    # -- quitting -------------------------------------------------------------------------

    async def action_quit(self) -> None:
        if self._quitting:
            # q again while waiting: offer to terminate instead
            if self.scheduler.in_flight:
                self.push_screen(QuitDialog(self._running_jobs()), self._quit_chosen)
            return
        if self._can_hand_over():
            self.push_screen(QuitDialog(self._running_jobs(), background=True),
                             self._quit_chosen)
            return
        if self.scheduler.in_flight and self._loop_task is not None:
            self.push_screen(QuitDialog(self._running_jobs()), self._quit_chosen)
            return
        await self.shutdown(terminate=False)

    def _signalled(self, signum: int) -> None:
        if self._signal_seen:
            return  # one shutdown (a lost terminal can bring its own SIGHUP and ours)
        self._signal_seen = True
        driver = app_driver(self)
        if signum == signal.SIGHUP and driver is not None and hasattr(driver, "terminal_lost"):
            driver.terminal_lost = True  # nothing can be drawn any more
        self.run_worker(self.shutdown(terminate=True), group="shutdown", exclusive=True)
        # With the terminal gone, tearing the screen down can block the event loop itself,
        # so the deadline is a thread of its own: never outlive a lost terminal for long.
        watchdog = threading.Timer(HANGUP_GRACE, self._hard_exit, (signum,))
        watchdog.daemon = True
        watchdog.start()

    def _hard_exit(self, signum: int) -> None:
        """Last resort after a signal: save state, free the lock, and leave."""
        if self.runtime is not None:
            with contextlib.suppress(Exception):
                self.runtime.close()
        os._exit(128 + signum)

    def _running_jobs(self) -> list[str]:
        return [j.name for j in self.scheduler.jobs.values() if j.running]

    def _can_hand_over(self) -> bool:
        """This console runs the schedule of a jobs file (holding its lock): quitting can
        leave the jobs to a background `crondeck run`."""
        runtime, task = self.runtime, self._loop_task
        return (runtime is not None and runtime.lock is not None and runtime.lock.held
                and not runtime.read_only and task is not None and not task.done())

    def _quit_chosen(self, choice: QuitChoice | None) -> None:
        if choice is None:
            return
        if self._handing_over:  # q again while the runs finish before the hand-over
            if choice == "terminate":
                self.scheduler.stop(terminate=True)
            return
        if choice in ("wait", "background") and self.scheduler.in_flight:
            self.quitting = choice  # the header says so until the app exits
            with contextlib.suppress(Exception):
                self.dashboard._refresh_state()
        if choice == "background":
            n = self.scheduler.in_flight
            if n:
                self.notify(f"waiting for {n} run{'s' if n != 1 else ''} to finish, then a "
                            "background crondeck run takes over (q again to terminate them)",
                            timeout=60)
            self.run_worker(self.hand_over(), group="shutdown", exclusive=True)
            return
        if choice == "wait":
            n = self.scheduler.in_flight
            self.notify(f"waiting for {n} run{'s' if n != 1 else ''} to finish; no new runs "
                        "start (q again to terminate)", timeout=60)
        self.run_worker(self.shutdown(terminate=choice == "terminate", say=True),
                        group="shutdown", exclusive=True)

    async def shutdown(self, terminate: bool, *, say: bool = False) -> None:
        """Stop the scheduler (waiting for or terminating runs in flight), then exit; with
        `say`, the runs it terminated are named once the terminal is restored."""
        self._quitting = True
        task = self._loop_task
        if terminate:  # a shutdown that was waiting may be the one to exit: it says it too
            self._terminated += [run_id for job in self.scheduler.jobs.values()
                                 for run_id in job.running]
            self._say_terminated = self._say_terminated or say
        if task is not None and not task.done():
            self.scheduler.stop(terminate=terminate)
            # not `await task`: a loop task cancelled by the stop would cancel this too, and
            # the app would never exit
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # retrieved: it stops with the app, nothing to report
        if self._say_terminated:
            self.exit_note = terminated_line(self.scheduler, self._terminated)
        self.exit(message=Text(self.exit_note) if self.exit_note else None)

    async def hand_over(self) -> None:
        """Leave the schedule to a detached `crondeck run` on the same jobs file: start it
        (it waits for the lock), stop this scheduler (runs in flight finish, or are
        terminated if asked meanwhile), save and let go of the lock, and exit once it holds
        the lock. If it cannot start, this console keeps the schedule and says why."""
        runtime = self.runtime
        task = self._loop_task
        if runtime is None or runtime.lock is None or task is None:
            return
        self._quitting = self._handing_over = True
        lock_path = runtime.lock.path
        background = None
        try:
            background = start_background(runtime)
            await asyncio.to_thread(background.wait_ready)
        except (OSError, BackgroundFailed) as exc:
            if background is not None:
                await asyncio.to_thread(background.abandon)
            self._quitting = self._handing_over = False
            self.quitting = ""
            with contextlib.suppress(Exception):
                self.dashboard._refresh_state()
            self.notify(f"cannot keep the jobs running in the background: {exc}",
                        title="Still running here", severity="error", timeout=30)
            return
        self.scheduler.stop()  # nothing new starts; the state records the last slot started
        with contextlib.suppress(Exception):
            await task
        runtime.read_only = True  # this console neither saves nor folds anything any more
        if self.session is not None:  # the control socket is the background scheduler's now
            await self.session.unmount()
        runtime.close()  # state saved, lock released: the background scheduler takes it
        runtime.store.read_only = True
        try:
            await asyncio.to_thread(background.wait_taken_over, lock_path)
        except BackgroundFailed as exc:
            self.exit(return_code=1, message=f"crondeck: {exc}; nothing runs the jobs now: "
                                             "start `crondeck run` or `crondeck` again")
            return
        self.background = background
        self.exit(message=f"The jobs keep running in the background: crondeck run, pid "
                          f"{background.pid} (its log: {background.log}). `crondeck` "
                          f"attaches to it; `kill {background.pid}` stops it.")

    async def on_unmount(self) -> None:
        if self.session is not None:
            await self.session.unmount()
        task = self._loop_task
        if task is not None and not task.done():
            self.scheduler.stop(terminate=True)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=15)


def terminated_line(scheduler: Any, run_ids: Sequence[str]) -> str:
    """One line naming the runs among `run_ids` that a terminating stop cancelled: all but
    those recorded with another status (they ended on their own before it reached them)."""
    ended = {r.run_id for job in scheduler.jobs.values() for r in job.results
             if r.status is not RunStatus.CANCELLED}
    cancelled = list(dict.fromkeys(r for r in run_ids if r not in ended))
    if not cancelled:
        return ""
    runs = f"{len(cancelled)} run{'s' if len(cancelled) != 1 else ''}"
    return (f"crondeck: terminated {runs}, recorded as cancelled: {', '.join(cancelled)} "
            "(`crondeck logs JOB --run ID` shows what they printed)")


def run_app(args: argparse.Namespace) -> int:
    """The `crondeck` command with no subcommand: open the TUI on the resolved config."""
    from crondeck.core import ConfigError, resolve_config

    from .launch import launch, prepare_demo

    created = False
    if getattr(args, "demo", False):
        path = prepare_demo()
    else:
        location = resolve_config(getattr(args, "config", None))
        path, created = location.path, location.created
    try:
        opened = launch(path, demo=bool(getattr(args, "demo", False)),
                        read_only=bool(getattr(args, "read_only", False)))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    app = CrondeckApp(opened.scheduler, config_path=path, read_only=opened.read_only,
                      read_only_reason=opened.read_only_reason, start=opened.in_process)
    opened.prepare(app)  # its runtime, and how it reaches the scheduler
    app.config_created = created
    try:
        app.run()
    finally:
        opened.close()  # state saved, lock released
    if getattr(args, "demo", False):
        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            print(f"demo files kept in {path.parent}; reopen them with:\n"
                  f"  crondeck --config {shlex.quote(str(path))}")
    return 0
