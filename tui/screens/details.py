"""Enter on a job: its definition, policies, state and next fires, read from the core."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from crondeck.core.jobs import Job

from ..format import clock_time, countdown, duration

__all__ = ["JobDetailsScreen"]


def _secs(value: float | None) -> str:
    return "none" if value is None else duration(value)


class JobDetailsScreen(ModalScreen[None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar = [Binding("escape,enter,q", "close", "Close", id="details.close")]

    def __init__(self, job: Job, *, now: datetime, zone: tzinfo) -> None:
        super().__init__()
        self.job = job
        self.now = now
        self.zone = zone

    def _table(self) -> Table:
        job, now = self.job, self.now
        opts = job.options
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold", no_wrap=True)
        t.add_column()
        sched = job.schedule
        t.add_row("schedule", f"{getattr(sched, 'text', sched)}  ({sched.describe()})")
        tz = getattr(sched, "tz", None)
        if tz is not None:
            t.add_row("time zone", str(tz))
        for w in sched.warnings():
            t.add_row("warning", Text(w, style="yellow"))
        agent = job.agent
        command = getattr(agent, "command", None)
        t.add_row("agent", f"{getattr(agent, 'name', agent)}"
                  + (f"  ({command if isinstance(command, str) else ' '.join(command)})"
                     if command else ""))
        if job.prompt:
            t.add_row("prompt", job.prompt)
        if opts.pre_run is not None:
            t.add_row("pre_run", str(opts.pre_run))
        t.add_row("policies", f"timeout {_secs(opts.timeout)} · overlap {opts.overlap} · "
                  f"catchup {opts.catchup} · retries {opts.retries}")
        if opts.max_runs is not None or opts.until is not None:
            t.add_row("limits", f"max_runs {opts.max_runs or '∞'} · until "
                      f"{clock_time(opts.until, self.zone, now) if opts.until else 'never'}")
        if job.paused:
            until = (f" until {clock_time(job.pause_until, self.zone, now)}"
                     if job.pause_until else "")
            paused = self.app.get_css_variables().get("status-paused", "yellow")  # the theme's
            t.add_row("paused", Text(f"{job.pause_note or '(no note)'}{until}", style=paused))
        if not job.enabled:
            t.add_row("disabled", "enabled = false: never fires (run now still works)")
        elif job.exhausted:
            t.add_row("finished", job.exhausted)
        if job.skip_next_pending:
            t.add_row("skip next", "yes: the next slot will be skipped")
        fires: list[str] = []
        when = job.next_fire
        while when is not None and len(fires) < 5:
            fires.append(f"{clock_time(when, self.zone, now)}  "
                         f"{countdown((when - now).total_seconds())}")
            try:
                when = sched.next_after(when)
            except Exception:
                break
        t.add_row("next fires", "\n".join(fires) or "none")
        ran = [r for r in job.results if r.status.value not in ("skipped", "missed")]
        ok = sum(r.ok for r in ran)
        t.add_row("runs", f"{job.run_count} started · {ok}/{len(ran)} recent ok · "
                  f"{job.consecutive_failures} consecutive failures")
        last = job.last_result
        if last is not None:
            t.add_row("last result", f"{last.status.value} "
                      f"{clock_time(last.finished_at, self.zone, now)}  {last.reason}")
        return t

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Job {self.job.name}", id="title")
            with VerticalScroll():
                yield Static(self._table())
            yield Label("esc closes · history (tab to it) opens earlier runs", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
