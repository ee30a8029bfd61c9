"""The dashboard: jobs, upcoming fires, live output and history on one screen.

It observes the scheduler through `Observer` (events folded into a view-model) and acts only
through the scheduler's public API. Widgets post messages up; this screen handles them and
sets data on its children.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection
from datetime import datetime, tzinfo
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input

from crondeck.core import LARGE_SCHEDULE, RunResult, clock_time

from ..failure_toasts import FailureToasts
from ..fire_order import FireOrder
from ..model import Changes, RunOutput
from ..observer import ModelChanged, Observer
from ..quiet_gc import QuietCollector
from ..textual_compat import QuickRepaint, dismiss_notification, shown_notifications
from ..widgets.alerts import AlertLine
from ..widgets.footer import DeckFooter
from ..widgets.header import DeckHeader
from ..widgets.history import FAILED_STATUSES, VIEWS, HistoryList
from ..widgets.job_table import SORTS, JobTable
from ..widgets.lines import LineList
from ..widgets.output_pane import OutputPane
from ..widgets.upcoming import MAX_ITEMS, UpcomingList
from .dashboard_keys import (
    DASHBOARD_BINDINGS,
    MUTATING,
    NEEDS_JOB,
    NEEDS_JOB_KEYS,
    help_entries,
)
from .details import JobDetailsScreen
from .help import HelpScreen
from .pause_dialog import PauseRequest, open_pause_dialog

if TYPE_CHECKING:
    from crondeck.core import Scheduler

__all__ = ["DashboardScreen"]

# While the cursor moves faster than this, the output pane waits for it to rest this long
# before showing the selected job (holding `down` over 10,000 jobs must not switch 30 times
# a second); a single key press still shows its job at once.
SWITCH_REST = 0.05
# From this width Upcoming grows to show whole job names (36 columns cut them), up to a
# quarter of the screen; the job table keeps the rest (its widest columns need ~150).
WIDE_UPCOMING = 160
UPCOMING_ROOM = 24  # borders, scrollbar, time and countdown around a name
# From LARGE_SCHEDULE jobs the first screen is drawn before every row is made: it shows the
# rows of the FIRST_ROWS jobs that fire soonest (its top rows and Upcoming's come from them),
# and the others are made FILL_STEP at a time after it, keys and events handled in between; the
# jobs table is re-sorted over all of them once they are all made.
FIRST_ROWS = 500
FILL_STEP = 5_000
FILL_PAUSE = 0.002  # seconds between steps: the loop takes keys, events and frames then


class OutputBox(Vertical):
    """The output pane and its search box: what `z` shows full screen."""

    ALLOW_MAXIMIZE = True


class DashboardScreen(QuickRepaint, Screen[None]):
    CSS_PATH = "dashboard.tcss"
    # Not a ClassVar: Textual declares it an instance attribute.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [*DASHBOARD_BINDINGS]
    # Read-only, the keys that would change the schedule are shown dimmed (None) or, where
    # nothing could ever make them work, hidden (False).
    READ_ONLY_KEYS: ClassVar[bool | None] = None

    def __init__(self, scheduler: Scheduler, *, now: Callable[[], datetime], zone: tzinfo,
                 config_path: str = "", read_only: bool = False, read_only_reason: str = "",
                 live: bool = True) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.now = now
        self.zone = zone
        self.config_path = config_path
        self.read_only = read_only
        self.read_only_reason = read_only_reason
        self.live = live
        large = len(scheduler.jobs) >= LARGE_SCHEDULE
        self.observer = Observer(scheduler, self, first=FIRST_ROWS if large else None)
        self.model = self.observer.model
        self._pinned = False  # output shows a run opened from history
        self._jumping_to = ""  # a job `!` is selecting: its Selected must not unpin
        self._upcoming_dirty = True
        self._switch_timer: Timer | None = None
        self._last_switch = 0.0
        self._shown_titles: dict[tuple[int, str], str] = {}
        self._fires = FireOrder()  # jobs by next fire, for the upcoming pane
        self._gc = QuietCollector()  # full collections between key presses, not during
        self._toasts = FailureToasts(self.notify)
        self._upcoming_width: int | None = None  # set by `_size_upcoming`; None: the CSS's
        self._footer_key: tuple[bool, bool, bool] | None = None  # see `_footer_follows`
        # rows by status and the failing jobs, kept up to date by `_recount`
        self._counts: Counter[str] = Counter()
        self._counted: dict[str, str] = {}
        self._failing: set[str] = set()

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield DeckHeader(now=self.now, zone=self.zone, id="header")
        with Horizontal(id="top"):
            with Vertical(id="jobs-pane"):
                yield Input(placeholder="filter: name, agent or status (esc clears)",
                            id="filter")
                yield JobTable(now=self.now, zone=self.zone, id="jobs")
            yield UpcomingList(now=self.now, zone=self.zone, id="upcoming")
        with Horizontal(id="bottom"):
            with OutputBox(id="output-box"):
                yield OutputPane(zone=self.zone, id="output")
                yield Input(placeholder="search this run's output (enter: keep, esc: clear)",
                            id="output-search")
            yield HistoryList(now=self.now, zone=self.zone, id="history")
        yield AlertLine(now=self.now, zone=self.zone, id="alerts")
        yield DeckFooter(compact=False, show_command_palette=False)

    @property
    def table(self) -> JobTable:
        return self.query_one(JobTable)

    @property
    def output(self) -> OutputPane:
        return self.query_one(OutputPane)

    @property
    def history(self) -> HistoryList:
        return self.query_one(HistoryList)

    @property
    def upcoming(self) -> UpcomingList:
        return self.query_one(UpcomingList)

    def on_screen_resume(self) -> None:
        self._toasts.release()

    def on_screen_suspend(self) -> None:
        self._toasts.take_down(shown_notifications(self.app),
                               partial(dismiss_notification, self.app))

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#output-search", Input).display = False
        header = self.query_one(DeckHeader)
        header.config_path = self.config_path
        self.table.set_rows(self.model.rows)
        self._fires.rebuild(self.model.rows)
        self.history.set_results(self.model.history)
        self._refresh_header()
        self._refresh_alerts(())  # the header has just counted every row
        self._size_upcoming()
        self._recompute_upcoming()
        self._show_selected()
        self._titles()
        self.table.focus()
        self._gc.start()
        self.call_after_refresh(self._gc.settle)  # the first screen's objects live on
        if self.model.pending:
            self.call_after_refresh(self._fill_rows)
        if self.live:
            self.go_live()

    def go_live(self) -> None:
        """Follow the scheduler live: its events folded in ten times a second, the
        countdowns ticking each second (at mount for a live screen; a frozen one, in a test,
        may go live later)."""
        self.live = True
        self.observer.start()
        self.set_interval(1.0, self.tick, name="countdown")

    def _fill_rows(self) -> None:
        """Make the next step of the rows the first screen was drawn without (see
        LARGE_SCHEDULE); once all are made, show them all (sorted, counted, in Upcoming)."""
        if not self.model.fill(FILL_STEP):
            self.set_timer(FILL_PAUSE, self._fill_rows, name="fill-rows")
            return
        rows = self.model.rows
        self.table.set_rows(rows)
        self._fires.rebuild(rows)
        self._refresh_header()
        self._refresh_alerts(())
        self._size_upcoming()
        self._recompute_upcoming()
        self._titles()
        self.call_after_refresh(self._gc.settle)  # the rows live as long as the screen

    async def on_unmount(self) -> None:
        self._gc.stop()
        await self.observer.stop()

    def tick(self) -> None:
        """Once a second: repaint countdowns (visible lines only) and the clock; re-read rows
        whose spent token budget reset at midnight (no event says so)."""
        if expired := self.model.expire_budgets(self.now()):
            self._model_changed(ModelChanged(Changes(jobs=expired)))
        if self._upcoming_dirty:
            self._recompute_upcoming()
        self._gc.hold()  # the frame's young collections run once it is drawn
        self.table.refresh_countdowns()
        self.upcoming.refresh_countdowns()
        self.query_one(DeckHeader).refresh_clock()
        self.call_after_refresh(self._gc.release_and_collect_if_quiet)

    # -- events from the core -------------------------------------------------------------

    @on(ModelChanged)
    def _model_changed(self, message: ModelChanged) -> None:
        ch = message.changes
        model = self.model
        if ch.jobs or ch.removed or ch.added or ch.scheduler:
            self.table.set_rows(model.rows, ch.jobs | ch.removed)
            if ch.removed or ch.added:
                self._titles()  # the job count in the pane title
                self._size_upcoming()
            self._fires.update(model.rows, ch.jobs | ch.removed)
            if ch.scheduler or ch.added or self._upcoming_may_change(ch.jobs | ch.removed):
                self._recompute_upcoming()
            self._refresh_header(ch.jobs | ch.removed)
        if ch.history:
            self.history.set_results(model.history)
        self._update_output(ch.started, ch.output, [r.run_id for r in ch.finished])
        if ch.scheduler or self.table.selected in ch.jobs:
            self.refresh_bindings()  # Pause <-> Resume, Cancel run only while running
        for result in ch.failures:  # once per job; held while another screen is on top
            self._toasts.failed(result, hold=self.app.screen is not self)
        if ch.jobs or ch.removed or ch.history:
            rows = model.rows
            self._toasts.recovered([job for job in self._toasts.announced
                                    if job not in rows or not rows[job].failures])
            self._refresh_alerts(ch.jobs | ch.removed)
        if ch.dropped:
            self.app.notify(f"{ch.dropped} output lines dropped: output is arriving faster "
                            "than the screen can show it", severity="warning", timeout=4)
        if ch.file_problems is not None:
            told = getattr(self.app, "scheduler_file_state", None)
            if told is not None:
                told(ch.file_problems)

    def _update_output(self, started: list[str], output: dict, finished: list[str]) -> None:
        if output:  # streaming output is busy time: no full collection in the middle of it
            self._gc.touched()
        job = self.table.selected
        pane = self.output
        shown = pane.run
        if job is not None and not self._pinned:
            for run_id in started:
                run = self.model.run(run_id)
                if run is not None and run.job == job and (shown is None or not shown.live):
                    self._show_run(run)
                    return
        if shown is not None:
            if shown.run_id in output:
                pane.catch_up()
            if shown.run_id in finished:
                pane.finished()
                self._titles()
        elif job is not None and (started or finished):
            self._show_selected()

    # -- selection ------------------------------------------------------------------------

    def _unpin(self) -> None:
        """Back from a run opened in History to following the selected job."""
        if self._pinned:
            self._pinned = False
            self._show_selected()
            self.refresh_bindings()

    def on_descendant_focus(self, event) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event.widget, JobTable):  # back on the jobs: the pane follows them
            self._unpin()

    @on(JobTable.Selected)
    def _job_selected(self, message: JobTable.Selected) -> None:
        self._gc.touched()
        if self._jumping_to and self.table.selected == self._jumping_to:
            # `!` selected it and opened its failure: keep that shown
            if message.job == self._jumping_to:
                self._jumping_to = ""
            self._titles()
            return
        self._pinned = False
        if self.history.job_filter:
            self.history.job_filter = message.job or ""
        resting = time.monotonic() - self._last_switch >= SWITCH_REST
        if self._switch_timer is None and resting:
            self._switch_output()
        else:
            if self._switch_timer is not None:
                self._switch_timer.stop()
            self._switch_timer = self.set_timer(SWITCH_REST, self._switch_output,
                                                name="output-switch")
        self._titles()
        self._footer_follows()

    def _footer_follows(self) -> None:
        """Pause or Resume, Cancel run or not: the footer follows the selected job's state,
        rebuilt only when that differs from the previous job's (not on every cursor move)."""
        row = self.model.rows.get(self.table.selected or "")
        job = self.scheduler.jobs.get(row.name) if row is not None else None
        key = (job is not None and job.paused, row is not None and row.status == "running",
               row is None)
        if key != self._footer_key:
            self._footer_key = key
            self.refresh_bindings()

    def _switch_output(self) -> None:
        """Show the selected job's output (at once, or once the cursor has rested)."""
        self._switch_timer = None
        self._last_switch = time.monotonic()
        if not self._pinned:
            self._show_selected()

    def _show_selected(self) -> None:
        job = self.table.selected
        if job is None:
            self._show_run(None, placeholder="  no job selected" if self.model.rows
                           else "  no jobs yet")
            return
        run = self.model.current_output(job)
        self._show_run(run, placeholder=f"  {job} has not run yet (r runs it now)")

    def _show_run(self, run: RunOutput | None, placeholder: str = "") -> None:
        self.output.show_run(run, placeholder=placeholder)
        self._titles()

    @on(UpcomingList.JobChosen)
    def _upcoming_chosen(self, message: UpcomingList.JobChosen) -> None:
        self.table.select(message.job)
        self.table.focus()
        self._unpin()

    @on(HistoryList.RunChosen)
    def _history_chosen(self, message: HistoryList.RunChosen) -> None:
        self._open_result(message.result)

    def _open_result(self, result: RunResult) -> None:
        """Show a past run in the output pane until the selection changes or esc."""
        self._pinned = True
        self._show_run(self.model.output_for_result(result))
        self.refresh_bindings()

    @on(JobTable.DetailsRequested)
    def _details_requested(self, message: JobTable.DetailsRequested) -> None:
        self.action_details()

    @on(LineList.CursorMoved)
    def _cursor_moved(self, message: LineList.CursorMoved) -> None:
        self._gc.touched()
        message.stop()

    @on(OutputPane.FollowChanged)
    def _follow_changed(self) -> None:
        self._titles()
        self.refresh_bindings()

    # -- header and titles ----------------------------------------------------------------

    def _recount(self, changed: Collection[str] | None) -> Counter[str]:
        """Rows by status, and the failing jobs: re-read only for the rows `changed` names
        (a batch touches a few of 10,000), all of them when None or most changed."""
        rows = self.model.rows
        counts, known, failing = self._counts, self._counted, self._failing
        if changed is None or len(changed) * 8 > len(known) + 8:
            counts.clear()
            known.clear()
            failing.clear()
            changed = rows
        for name in changed:
            old = known.pop(name, None)
            if old is not None:
                counts[old] -= 1
            failing.discard(name)
            row = rows.get(name)
            if row is not None:
                known[name] = row.status
                counts[row.status] += 1
                if row.failures and row.status not in ("paused", "disabled"):
                    failing.add(name)
        return counts

    def _refresh_header(self, changed: Collection[str] | None = None) -> None:
        header = self.query_one(DeckHeader)
        counts = self._recount(changed)
        header.jobs = self.model.total
        header.running = counts["running"]
        header.paused = counts["paused"]
        header.failing = counts["failing"]
        header.budget = counts["budget"]
        self._refresh_state()

    def _refresh_state(self) -> None:
        """The header's state words (what the scheduler is doing), without the counts."""
        header = self.query_one(DeckHeader)
        quitting = getattr(self.app, "quitting", "")
        if self.read_only:
            header.state, header.state_detail = "read-only", self.read_only_reason
        elif quitting and (self.scheduler.running_loop or self.model.loop_running):
            n = self.scheduler.in_flight
            then = ("; then a background crondeck run takes over" if quitting == "background"
                    else "; no new runs start")
            header.state = "stopping"
            header.state_detail = (f"waiting for {n} run{'s' if n != 1 else ''} to finish"
                                   f"{then} · q terminates them")
        elif self.scheduler.paused:
            header.state = "paused"
            header.state_detail = self.scheduler.pause_note or "all jobs"
        elif self.scheduler.running_loop or self.model.loop_running:
            header.state, header.state_detail = "scheduling", ""
        else:
            header.state, header.state_detail = "stopped", ""

    def _refresh_alerts(self, changed: Collection[str] | None = None) -> None:
        """The alert line: jobs failing now (consecutive failures), newest failure first. A
        job paused or switched off is left out: the operator has already dealt with it."""
        self._recount(changed)
        failing = self._failing
        order: list[str] = []
        last = None
        if failing:
            for result in reversed(self.model.history):
                if result.job in failing and result.status in FAILED_STATUSES \
                        and result.job not in order:
                    last = last or result
                    order.append(result.job)
                    if len(order) == len(failing):
                        break
            order += sorted(failing - set(order))  # failures older than the history kept
        self.query_one(AlertLine).show(order, last)

    def _titles(self) -> None:
        table = self.table
        shown = len(table.order)
        total = self.model.total
        count = f"{shown}/{total}" if table.filter_text else str(total)
        extra = f" · filter “{table.filter_text}”" if table.filter_text else ""
        self._title(table, "border_title", f"Jobs ({count}) · sort: {table.sort_key}{extra}")
        empty = self._empty_text()
        if table.empty_text != empty:
            table.empty_text = empty
            table.invalidate()
        self._title(self.upcoming, "border_title", "Upcoming")
        pane = self.output
        run = pane.run
        if run is None:
            title = "Output"
        else:
            state = "live" if run.live else (run.result.status.value if run.result else "")
            when = clock_time(run.started_at or (run.result.scheduled_for if run.result else None),
                              self.zone, self.now())
            title = f"Output · {run.job} · {when} · {state}"
            if self._pinned:  # esc (or going back to the jobs) follows the selection again
                title = f"History run (esc) · {run.job} · {when} · {state}"
        self._title(pane, "border_title", title)
        subtitle = ["follow" if pane.follow else "follow off (f)"]
        if pane.wrap:
            subtitle.insert(0, "wrap")
        if pane.search:
            at, total = pane.match_count()
            found = f"{at}/{total}" if at else f"{total} lines" if total else "not found"
            subtitle.insert(0, f"/{pane.search}: {found} (n/N)")
        self._title(pane, "border_subtitle", " · ".join(subtitle))
        scope = self.history.job_filter
        view = VIEWS.get(self.history.view, "")
        self._title(self.history, "border_title",
                    (f"History · {scope}" if scope else "History · all jobs")
                    + (f" · {view}" if view else ""))

    def _empty_text(self) -> str:
        """What the Jobs pane says with no row to show: why, and what to do."""
        if self.table.filter_text and self.model.rows:
            return "no jobs match the filter (esc clears it)"
        where = f" in {self.config_path}" if self.config_path else ""
        if self.read_only or not self.config_path:
            return f"no jobs{where}"
        return f"no jobs yet: n makes one (saved{where})"

    def _no_job_reason(self) -> str:
        if self.table.filter_text and self.model.rows:
            return (f"no job selected: the filter “{self.table.filter_text}” matches none "
                    "(esc clears it)")
        if self.read_only or not self.config_path:
            return "no job to act on: there are no jobs"
        return "no job to act on: there are no jobs yet (n makes one)"

    def _title(self, widget: Widget, attribute: str, value: str) -> None:
        """Set a border title only when it changed: each assignment repaints the whole pane,
        and the titles are re-set on every cursor move."""
        key = (id(widget), attribute)
        if self._shown_titles.get(key) != value:
            self._shown_titles[key] = value
            setattr(widget, attribute, value)

    def on_resize(self) -> None:
        self._size_upcoming()

    def _size_upcoming(self) -> None:
        """Upcoming as wide as its longest job name needs on a wide screen (only when that
        changes: it lays the screen out again)."""
        width = self.size.width
        want: int | None = None
        if width >= WIDE_UPCOMING:
            longest = max((len(name) for name in self.model.rows), default=0)
            want = min(max(36, longest + UPCOMING_ROOM), width // 4)
            want = None if want == 36 else want
        if want != self._upcoming_width:
            self._upcoming_width = want
            self.upcoming.styles.width = want

    def _upcoming_may_change(self, names: Collection[str]) -> bool:
        """Whether these jobs changing can change what Upcoming lists: only when one of
        them is listed, or would now fire no later than the last fire listed (a pause or an
        edit of any of the other 10,000 leaves it as it is, and merging 200 fires is the
        costliest part of showing an action's effect). A list cut short by its horizon
        could take any job: always."""
        items = self.upcoming.items
        if len(items) < MAX_ITEMS:
            return True
        last = items[-1][0]
        listed = {name for _when, name in items}
        rows = self.model.rows
        for name in names:
            if name in listed:
                return True
            row = rows.get(name)
            first = row.first_run if row is not None else None
            if first is not None and first <= last:
                return True
        return False

    def _recompute_upcoming(self) -> None:
        """Only the jobs whose first slot that will run is among the earliest `MAX_ITEMS`
        can be listed (`FireOrder` leaves out paused jobs and sorts a budget-held one by
        its first slot after the reset)."""
        self._upcoming_dirty = False
        rows = self.model.rows
        jobs = self.scheduler.jobs
        starts = []
        for name in self._fires.first(MAX_ITEMS):
            row, job = rows.get(name), jobs.get(name)
            if row is not None and job is not None and row.first_run is not None:
                starts.append((name, row.first_run, job.schedule))
        self.upcoming.recompute(starts)

    @on(UpcomingList.MoreRoom)
    def _upcoming_grew(self) -> None:
        self._recompute_upcoming()

    # -- actions --------------------------------------------------------------------------

    @property
    def can_change(self) -> bool:
        """Whether the keys that change the schedule (and its jobs file) can act now."""
        return not self.read_only

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MUTATING and self.read_only:
            return self.READ_ONLY_KEYS
        row = self.model.rows.get(self.table.selected or "") if self.is_mounted else None
        if action in NEEDS_JOB and row is None:
            return None
        job = self.scheduler.jobs.get(row.name) if row is not None else None
        if action == "pause":
            return job is not None and not job.paused
        if action == "resume":
            return job is not None and job.paused
        if action == "cancel_run":
            return row is not None and row.status == "running"
        if action == "filter":  # typed into a box, or the output pane's own `/`: not ours
            return self.is_mounted and isinstance(self.focused, LineList)
        if action == "pause_all":
            return not self.scheduler.paused
        if action == "resume_all":
            return self.scheduler.paused
        return True

    def _job(self) -> str | None:
        return self.table.selected

    def _acted(self) -> None:
        """Show an operator action's effect at once, in the frame the key causes (the
        observer would within 0.1 s; a message posted now could miss that frame)."""
        changes = self.observer.pump(post=False)
        if changes:
            self._model_changed(ModelChanged(changes))
        self.refresh_bindings()

    def _said(self, message: str, **kwargs: Any) -> None:
        """Confirm an action with a notification once the frame showing its effect is drawn:
        a toast going up lays the screen out again, which would hold that frame back."""
        self.call_after_refresh(partial(self.app.notify, message, **kwargs))

    def action_pause(self) -> None:
        job = self._job()
        if job is None:
            return

        def done(request: PauseRequest | None) -> None:
            if request is None:
                return
            until = self.now() + request.duration if request.duration else None
            self.scheduler.pause_job(job, note=request.note, until=until)
            self._acted()
            self._said(f"{job} paused" + (f" until {clock_time(until, self.zone, self.now())}"
                                           if until else ""), timeout=3)

        open_pause_dialog(self.app, job, done, blink=self.live)

    def action_resume(self) -> None:
        job = self._job()
        if job is not None:
            self.scheduler.resume_job(job)
            self._acted()
            self._said(f"{job} resumed", timeout=3)

    def action_run_now(self) -> None:
        job = self._job()
        if job is None:
            return
        handle = self.scheduler.run_now(job)
        self._acted()
        if handle.skipped:
            reason = handle.result().reason or "its overlap policy refused"
            policy = self.scheduler.jobs[job].options.overlap
            self._said(f"{job} not started: {reason} (overlap = {policy})",
                       severity="warning", timeout=5)

    def action_skip_next(self) -> None:
        job = self._job()
        if job is None:
            return
        skip = not self.scheduler.jobs[job].skip_next_pending
        self.scheduler.skip_next(job, skip)
        self._acted()
        nf = self.scheduler.jobs[job].next_fire
        when = clock_time(nf, self.zone, self.now()) if nf else "the next slot"
        self._said(f"{job}: the run at {when} will be skipped" if skip
                   else f"{job}: skip cancelled, the run at {when} will happen", timeout=4)

    def action_cancel_run(self) -> None:
        job = self._job()
        if job is None:
            return
        count = self.scheduler.cancel(job)
        self._acted()
        self._said(f"{job}: cancelling {count} run{'s' if count != 1 else ''}"
                   if count else f"{job}: nothing to cancel", timeout=3)

    def action_toggle_enabled(self) -> None:
        """Switch the selected job off or on where it is scheduled: here, or (attached) by
        the scheduler's `enable`/`disable`, its refusal said as any other command's."""
        name = self._job()
        job = self.scheduler.jobs.get(name) if name is not None else None
        if name is None or job is None:
            return
        on = not job.enabled

        def said() -> None:
            now = self.scheduler.jobs.get(name)
            if on:
                nf = getattr(now, "next_fire", None)
                when = f": next run at {clock_time(nf, self.zone, self.now())}" if nf else ""
                self._said(f"{name} enabled{when}", timeout=4)
            else:
                going = " (its run in progress finishes)" if getattr(now, "running", None) else ""
                self._said(f"{name} disabled: nothing starts until it is enabled (a){going}",
                           timeout=4)

        answer = getattr(self, "_answer", None)  # an attached console's command and answer
        send = getattr(self.scheduler, "enable" if on else "disable", None)
        if send is not None and answer is not None:
            answer(send(name), f"{'enable' if on else 'disable'} {name}", lambda _: said())
            return
        job.enabled = on
        self._acted()
        said()

    def action_pause_all(self) -> None:
        def done(request: PauseRequest | None) -> None:
            if request is None:
                return
            until = self.now() + request.duration if request.duration else None
            self.scheduler.pause_all(note=request.note, until=until)
            self._acted()
            self._refresh_header()

        open_pause_dialog(self.app, "all jobs", done, blink=self.live)

    def action_resume_all(self) -> None:
        self.scheduler.resume_all()
        self._acted()
        self._refresh_header()
        self._said("all jobs resumed", timeout=3)

    def action_details(self) -> None:
        job = self._job()
        if job is not None and job in self.scheduler.jobs:
            self.app.push_screen(JobDetailsScreen(self.scheduler.jobs[job], now=self.now(),
                                                  zone=self.zone))

    def action_cycle_history_view(self) -> None:
        self.history.cycle_view()
        self._titles()  # the pane's title names the view (a toast would cover the pane)

    def action_unpin_output(self) -> None:
        if not self._pinned:
            raise SkipAction  # esc goes on to whatever else wants it
        self._unpin()

    def action_jump_to_failure(self) -> None:
        """The newest failure of a job still failing: its job selected, its run open in the
        output pane, the history cursor on it."""
        last = self.query_one(AlertLine).last
        if last is None:
            self.app.notify("no job is failing", timeout=3)
            return
        box = self.query_one("#filter", Input)
        if box.value and last.job not in self.table.order:  # the filter hides its job
            box.value = ""
            box.display = False
            self.table.filter_text = ""
        before = self.table.selected
        self.table.select(last.job)
        if self.table.selected != before:  # its Selected comes later: it must not unpin
            self._jumping_to = last.job
        self.history.show_result(last)
        self.history.focus()
        self._open_result(last)
        self._titles()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.cursor_blink = self.live
        # At once (`focus()` waits for the keys already queued): with the binding's priority,
        # `/standup` typed in a burst lands in the box, not `s` (skip next) and the rest.
        self.set_focus(box)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.filter_text = event.value
        self._titles()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = bool(box.value)
        self.table.focus()

    @on(OutputPane.SearchRequested)
    def _search_requested(self) -> None:
        box = self.query_one("#output-search", Input)
        box.value = self.output.search
        box.display = True
        box.cursor_blink = self.live
        box.focus()

    @on(OutputPane.SearchMoved)
    def _search_moved(self) -> None:
        self._titles()

    @on(Input.Changed, "#output-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.output.search = event.value
        self.output.find(1, here=True)

    @on(Input.Submitted, "#output-search")
    def _search_submitted(self) -> None:
        box = self.query_one("#output-search", Input)
        box.display = False
        self.output.focus()
        pane = self.output
        if pane.search and not pane.match_count()[1]:
            self.app.notify(f"“{pane.search}” is not in this run's output", timeout=3)

    def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
        self._gc.touched()
        search = self.query_one("#output-search", Input)
        if event.key == "escape" and search.has_focus:
            search.value = ""
            search.display = False
            self.output.focus()
            event.stop()
            return
        if (event.key in NEEDS_JOB_KEYS and self.table.selected is None
                and (self.focused is None or self.focused is self.table)):
            # the keys' bindings are disabled without a job: say why rather than nothing
            self.app.notify(self._no_job_reason(), timeout=4)
        box = self.query_one("#filter", Input)
        if event.key == "escape" and (box.has_focus or box.value):
            box.value = ""
            box.display = False
            self.table.focus()
            event.stop()

    def action_cycle_sort(self) -> None:
        keys = list(SORTS)
        self.table.sort_key = keys[(keys.index(self.table.sort_key) + 1) % len(keys)]
        self._titles()

    def action_toggle_follow(self) -> None:
        self.output.follow = not self.output.follow

    def action_toggle_timestamps(self) -> None:
        self.output.timestamps = not self.output.timestamps

    def action_toggle_wrap(self) -> None:
        self.output.wrap = not self.output.wrap
        self._titles()

    def action_zoom_output(self) -> None:
        if self.maximized is not None:
            self.minimize()
        else:
            self.maximize(self.output)
            self.output.focus()
            self.app.notify("output full screen: z or esc returns", timeout=3)

    def action_toggle_history_scope(self) -> None:
        self.history.job_filter = "" if self.history.job_filter else (self._job() or "")
        self._titles()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(help_entries([*self.BINDINGS, *self.app.BINDINGS])))
