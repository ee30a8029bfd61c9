"""The dashboard when the scheduler runs in another process (`crondeck run`, or another
console) and this console is attached to it over the control socket, or can only watch it.

`AttachedDashboard` shows a `RemoteScheduler` (the core's mirror of the scheduler over the
socket): the panes read the mirror exactly as they read an in-process scheduler, and every key
is a command sent to the scheduler, whose refusal or error is shown as a notification. While
the scheduler is gone the screen says so, keeps its last picture greyed out (the
`-disconnected` class) and picks up again when the mirror has re-attached.

`ObserveDashboard` is for a scheduler that cannot be spoken to (an older crondeck holds the
lock, or the files are on a share): it follows the state files and hides the keys that
could not work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from textual.binding import Binding

from crondeck.core import clock_time

from .model import Changes
from .observer import ModelChanged
from .runtime_watch import StateFollower
from .screens.dashboard import DashboardScreen
from .screens.dashboard_keys import MUTATING
from .screens.pause_dialog import PauseRequest, open_pause_dialog
from .widgets.header import DeckHeader

# Seconds the details screen waits for a job's history before opening without it.
HISTORY_WAIT = 1.0

__all__ = ["AttachedDashboard", "ObserveDashboard", "scheduler_name"]


def scheduler_name(hello: dict[str, Any] | None) -> str:
    """`crondeck run, pid 4121` from the scheduler's hello."""
    if not hello:
        return "a scheduler"
    kind = hello.get("kind") or "a scheduler"
    pid = hello.get("pid")
    return f"{kind}, pid {pid}" if pid else str(kind)


def _started(hello: dict[str, Any] | None) -> datetime | None:
    text = (hello or {}).get("started_at")
    if isinstance(text, datetime):
        return text
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _resync(screen: DashboardScreen) -> None:
    """Rebuild every pane from the scheduler as it is now."""
    model = screen.model
    model.reload()
    screen._model_changed(ModelChanged(Changes(jobs=set(model.rows), added=True,
                                               history=list(model.history), scheduler=True)))
    screen.history.set_results(model.history)
    screen._show_selected()
    screen.call_after_refresh(screen._gc.settle)  # the new model lives on: full passes skip it


class AttachedDashboard(DashboardScreen):
    """The dashboard on a scheduler in another process (see the module docstring)."""

    CSS_PATH = "screens/dashboard.tcss"  # relative to this module
    DEFAULT_CSS = """
    AttachedDashboard.-disconnected JobTable, AttachedDashboard.-disconnected UpcomingList,
    AttachedDashboard.-disconnected OutputPane, AttachedDashboard.-disconnected HistoryList {
        tint: $background 55%;
    }
    """

    @property
    def remote(self) -> Any:
        """The mirror (`RemoteScheduler`): its commands answer with a call to await."""
        return self.scheduler

    def on_mount(self) -> None:
        self._connected = self._is_connected()
        self._generation = self._mirror_generation()
        self._dropped = self.observer.subscription.total_dropped  # as of the last resync
        self.set_class(not self._connected, "-disconnected")
        if self.live:
            self.set_interval(0.25, self._watch_connection, name="attach-watch")

    # -- the connection -------------------------------------------------------------------

    def _is_connected(self) -> bool:
        return bool(getattr(self.scheduler, "connected", True))

    def _mirror_generation(self) -> object:
        """Changes each time the mirror attaches anew (and takes a new snapshot)."""
        return getattr(self.scheduler, "attached_at", None)

    def _watch_connection(self) -> None:
        """Follow the mirror: gone (say so, grey out) and back (a fresh picture)."""
        connected = self._is_connected()
        generation = self._mirror_generation()
        if connected != self._connected:
            self._connected = connected
            self.set_class(not connected, "-disconnected")
            who = scheduler_name(getattr(self.scheduler, "hello", None))
            if connected:
                self.app.notify(f"attached again to {who}", title="Scheduler back", timeout=5)
            else:
                self._lost_at = self.now()
                self.app.notify(f"{who} went away; showing the last picture until a scheduler "
                                "answers again (re-attaching by itself)",
                                title="Scheduler disconnected", severity="error", timeout=10)
            self.refresh_bindings()
        if connected and generation != self._generation:
            self._generation = generation
            self.resync()
        self._refresh_state()  # four times a second: not the counts over every row

    def resync(self) -> None:
        """After the mirror took a new snapshot: the rows of the jobs it announced removed,
        added or changed are re-read (the others are as they were), and the rest of every
        pane is shown anew, as a rebuild from scratch would show it. Every row is re-read
        when the snapshot changed the pause of all jobs (no event says so) or when this
        console's events overflowed since the last resync (an announcement may be lost)."""
        model, sub = self.model, self.observer.subscription
        changes = self.observer.pump(post=False)  # the announcements not folded in yet
        dropped, self._dropped = self._dropped, sub.total_dropped
        if sub.total_dropped != dropped or model.made_with != model.pause_of_all():
            if changes:  # their output, runs ended and failures, as the observer would post
                self.post_message(ModelChanged(changes))
            _resync(self)
            return
        model.reseed_history()
        changes.scheduler = True  # the header's state, Upcoming, the keys offered
        changes.history = list(model.history)
        self._model_changed(ModelChanged(changes))
        if not changes.history:  # `_model_changed` leaves an emptied history as it was
            self.history.set_results(model.history)
            self._refresh_alerts(())
        self._show_selected()
        self.call_after_refresh(self._gc.settle)  # what the snapshot made lives on

    def _refresh_state(self) -> None:
        super()._refresh_state()
        header = self.query_one(DeckHeader)
        hello = getattr(self.scheduler, "hello", None)
        header.attached = scheduler_name(hello)
        header.attached_since = _started(hello)
        if not getattr(self, "_connected", True):
            lost = getattr(self, "_lost_at", None)
            since = f" at {clock_time(lost, self.zone, self.now())}" if lost else ""
            pid = (hello or {}).get("pid")
            header.state = "disconnected"
            header.state_detail = (f"{f'pid {pid}' if pid else 'the scheduler'} went away"
                                   f"{since} · re-attaching…")

    # -- keys: commands to the scheduler --------------------------------------------------

    @property
    def can_change(self) -> bool:
        return super().can_change and getattr(self, "_connected", True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if allowed and action in MUTATING and not self.can_change:
            return False  # nothing to send them to: offered again once re-attached
        return allowed

    def _answer(self, call: Any, what: str,
                done: Callable[[dict[str, Any]], Any] | None = None,
                undo: Callable[[], None] | None = None) -> None:
        """When the scheduler answers a command sent (a `RemoteCall`): `done(result)` on
        success, else `undo()` (the row shown ahead of the answer goes back) and a
        notification with its refusal (or the connection gone). A callback on the call, not
        a worker: a worker's state messages were handled before the key's frame."""
        def settled(answered: Any) -> None:
            if answered.code:  # refused by the scheduler, or never delivered
                if undo is not None:
                    undo()
                self.app.notify(f"{what}: {answered.error}", title="Not done",
                                severity="error", timeout=8)
                return
            if done is not None:
                reply = answered.reply
                done(reply if isinstance(reply, dict) else {})
            self.refresh_bindings()

        call.add_done_callback(settled)

    def _ahead(self, job: str, **values: Any) -> Callable[[], None]:
        """Show a command's effect on its job's row in the key's own frame, before the
        scheduler answers: the mirror's job takes the values the scheduler is asked to set
        (its next record of the job confirms or corrects them). Returns the undo for a
        refusal, which leaves alone a job whose record has said otherwise since."""
        mirrored = self.scheduler.jobs.get(job)
        if mirrored is None:
            return lambda: None
        before = {name: getattr(mirrored, name) for name in values}
        for name, value in values.items():
            setattr(mirrored, name, value)
        self._row_moved(job)

        def undo() -> None:
            if self.scheduler.jobs.get(job) is not mirrored or any(
                    getattr(mirrored, name) != value for name, value in values.items()):
                return
            for name, value in before.items():
                setattr(mirrored, name, value)
            self._row_moved(job)

        return undo

    def _row_moved(self, job: str) -> None:
        """Re-read one job's row and show it now (not at the observer's next batch)."""
        if self.model.refresh_row(job):
            self._model_changed(ModelChanged(Changes(jobs={job})))

    def action_details(self) -> None:
        """A snapshot carries only a job's newest results: its details open once its full
        history is asked for and answered (at once when it cannot be asked)."""
        job = self._job()
        ask = getattr(self.remote, "history", None)
        if job is None or ask is None or not getattr(self, "_connected", True):
            super().action_details()
            return
        opened = False

        def show(_call: Any = None) -> None:
            nonlocal opened
            if not opened and self.is_attached:
                opened = True
                super(AttachedDashboard, self).action_details()

        ask(job).add_done_callback(show)
        self.set_timer(HISTORY_WAIT, show)  # an answer that is slow does not hold the key

    def action_pause(self) -> None:
        job = self._job()
        if job is None:
            return

        def chosen(request: PauseRequest | None) -> None:
            if request is None:
                return
            until = self.now() + request.duration if request.duration else None
            when = f" until {clock_time(until, self.zone, self.now())}" if until else ""
            call = self.remote.pause_job(job, note=request.note, until=until)
            undo = self._ahead(job, paused=True, pause_note=request.note, pause_until=until)
            self._answer(call, f"pause {job}",
                         lambda _: self._said(f"{job} paused{when}", timeout=3), undo)

        open_pause_dialog(self.app, job, chosen, blink=self.live)

    def action_resume(self) -> None:
        job = self._job()
        if job is not None:
            call = self.remote.resume_job(job)
            undo = self._ahead(job, paused=False, pause_note="", pause_until=None)
            self._answer(call, f"resume {job}",
                         lambda _: self._said(f"{job} resumed", timeout=3), undo)

    def action_run_now(self) -> None:
        job = self._job()
        if job is None:
            return

        def done(result: dict[str, Any]) -> None:
            if result.get("skipped"):
                reason = result.get("reason") or "its overlap policy refused"
                self._said(f"{job} not started: {reason}", severity="warning", timeout=5)

        handle = self.remote.run_now(job)
        self._answer(handle.call, f"run {job} now", done)

    def action_skip_next(self) -> None:
        job = self._job()
        mirrored = self.scheduler.jobs.get(job) if job is not None else None
        if job is None or mirrored is None:
            return
        skip = not mirrored.skip_next_pending

        def done(result: dict[str, Any]) -> None:
            nf = _started({"started_at": result.get("next_fire")})
            when = clock_time(nf, self.zone, self.now()) if nf else "the next slot"
            self._said(f"{job}: the run at {when} will be skipped" if skip
                       else f"{job}: skip cancelled, the run at {when} will happen", timeout=4)

        call = self.remote.skip_next(job, skip)
        undo = self._ahead(job, skip_next_pending=skip)
        self._answer(call, f"skip {job}'s next run", done, undo)

    def action_cancel_run(self) -> None:
        job = self._job()
        if job is None:
            return

        def done(result: dict[str, Any]) -> None:
            n = int(result.get("cancelled") or 0)
            self._said(f"{job}: cancelling {n} run{'s' if n != 1 else ''}" if n
                       else f"{job}: nothing to cancel", timeout=3)

        self.remote.cancel(job)
        self._answer(self.remote.last_call, f"cancel {job}'s run", done)

    def action_pause_all(self) -> None:
        def chosen(request: PauseRequest | None) -> None:
            if request is None:
                return
            until = self.now() + request.duration if request.duration else None
            self._answer(self.remote.pause_all(note=request.note, until=until),
                         "pause all", lambda _: self._said("all jobs paused", timeout=3))

        open_pause_dialog(self.app, "all jobs", chosen, blink=self.live)

    def action_resume_all(self) -> None:
        self._answer(self.remote.resume_all(), "resume all",
                     lambda _: self._said("all jobs resumed", timeout=3))


class ObserveDashboard(DashboardScreen):
    """Watching a scheduler that cannot be spoken to: the keys that would act on it are
    hidden (not offered dimmed: nothing here could make them work)."""

    CSS_PATH = "screens/dashboard.tcss"  # relative to this module
    BINDINGS: ClassVar = [b for b in DashboardScreen.BINDINGS
                          if not (isinstance(b, Binding) and b.action in MUTATING)]
    READ_ONLY_KEYS: ClassVar[bool | None] = False

    def on_mount(self) -> None:
        runtime = getattr(self.app, "runtime", None)
        if runtime is None:
            return
        self.follower = StateFollower(runtime)
        if self.follower.check():  # saved states restored: read the rows again
            self.model.reload()  # the base class's on_mount (after this) fills the panes
        if self.live:
            self.set_interval(1.0, self.follow, name="state-follow")

    def follow(self) -> None:
        """One look at the files the scheduling process writes; the observer folds the
        events it makes like any other."""
        self.follower.check()

    def _refresh_state(self) -> None:
        header = self.query_one(DeckHeader)
        header.state, header.state_detail = "observing", self.read_only_reason
