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

from crondeck.core import (
    Job,
    budget_reason,
    clock_time,
    countdown,
    duration,
    local_day,
    money,
    tokens_today,
)

__all__ = ["JobDetailsScreen"]


def _secs(value: float | None) -> str:
    return "none" if value is None else duration(value)


def _run_cost(amount: float) -> str:
    """One run of a cheap model costs a fraction of a cent: show it rather than `$0.00`."""
    return f"${amount:.4f}" if 0 < amount < 0.01 else money(amount)


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
        self._spend_rows(t)
        return t

    def _spend_rows(self, t: Table) -> None:
        """Tokens against the daily budget, and cost per run, today and in total, for a job
        that runs a model (has a price or a budget, or has spent tokens)."""
        job, now = self.job, self.now
        opts = job.options
        budget = opts.daily_token_budget
        priced = opts.price_in is not None or opts.price_out is not None
        if not (priced or budget or job.tokens_total or job.cost_total):
            return
        used = tokens_today(job, now)
        tokens = f"{used:,} today"
        if budget:
            tokens += f" of {budget:,} ({max(budget - used, 0):,} left)"
        t.add_row("tokens", f"{tokens} · {job.tokens_total:,} in total")
        spent = budget_reason(job, now)
        if spent is not None:
            warning = self.app.get_css_variables().get("warning", "yellow")  # the theme's
            t.add_row("budget", Text(f"spent: further slots are skipped ({spent})",
                                     style=warning))
        ran = next((r for r in reversed(job.results)
                    if r.usage is not None or r.cost is not None), None)
        if ran is not None and ran.usage is not None:
            t.add_row("last run", f"{ran.usage.total:,} tokens ({ran.usage.prompt_tokens:,} in, "
                      f"{ran.usage.completion_tokens:,} out)"
                      + (f" · {_run_cost(ran.cost)}" if ran.cost is not None else ""))
        if priced or job.cost_total:
            today = job.cost_today if job.tokens_day == local_day(job, now) else 0.0
            t.add_row("cost", f"{money(today)} today · {money(job.cost_total)} in total")

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Job {self.job.name}", id="title")
            with VerticalScroll():
                yield Static(self._table())
            yield Label("esc closes · history (tab to it) opens earlier runs", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
