"""The history pane: skips, misses, failures and runs, newest first, with why.

Rows are core `RunResult`s; the pane can be narrowed to one job and to a view (all, failures
only, no skips nor misses). A job's identical skips in a row (a paused job, a gate that keeps
saying no), and its misses in a row (the slots of a downtime), are one row with a count.
Enter posts `RunChosen` so the screen can open that run's output. The cursor stays on its
run while rows arrive (they come in above it), except at the top of an unfocused pane,
which keeps showing the newest. A run whose output contract captured JSON shows it in the
reason column (`contract: {"count": 3}`), compact and cut to the row: for a digest job that
value is the point of the run."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive

from crondeck.core import RunResult, RunStatus, clip, clock_time, compact_json

from ..model import LAST_GLYPH, STATUS_CLASSES
from .lines import LineList

__all__ = ["FAILED_STATUSES", "VIEWS", "HistoryList", "describe", "shown_at", "with_contract"]

CONTRACT_SHOWN = 200  # characters of contract JSON built per row (the row cuts it further)

# Narrower than this, the status word leads the reason instead of having a column (at 80x24
# the pane is ~38 wide, and a fixed 19-wide STATUS column left no room for any reason).
COMPACT_BELOW = 56

# What `v` cycles through, with the words the pane's title uses.
VIEWS = {"all": "", "failures": "failures only", "no-skips": "skips hidden (misses too)"}
FAILED_STATUSES = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.ABANDONED})
_NEVER_RAN = (RunStatus.SKIPPED, RunStatus.MISSED)

_STATUS_STYLE = {  # component classes coloured by the theme's $status-* variables
    "ok": "status--ok",
    "failed": "status--failed",
    "timed_out": "status--failed",
    "skipped": "status--skipped",
    "missed": "status--skipped",
    "cancelled": "status--skipped",
    "abandoned": "status--failed",
}


def shown_at(result: RunResult) -> datetime:
    """The time a row shows and is ordered by: the slot's own time for a slot that never ran
    (slots missed while the scheduler was down are all recorded when it comes back), else
    when the run ended."""
    if result.status in _NEVER_RAN:
        return result.scheduled_for
    return result.finished_at or result.started_at or result.scheduled_for


def _same_skip(result: RunResult) -> tuple[object, ...] | None:
    """What makes skips (or misses) of one job identical (None: a slot that ran, never
    folded)."""
    if result.status not in _NEVER_RAN:
        return None
    return (result.status, result.skip_reason, _folded_reason(result), result.manual)


# a miss says how late its slot was, different for each slot of one downtime
_LATE = re.compile(r"\b\d+s late\b")


def _folded_reason(result: RunResult) -> str:
    """The reason a row of several identical misses shows (each one's lateness left out)."""
    if result.status is RunStatus.MISSED:
        return _LATE.sub("late", result.reason)
    return result.reason


def describe(result: RunResult) -> tuple[str, str]:
    """(status word, reason) for one result, as the history pane shows it."""
    status = result.status
    if status is RunStatus.SKIPPED:
        word = f"skipped ({result.skip_reason.value})" if result.skip_reason else "skipped"
    else:
        word = status.value.replace("_", " ")
    reason = result.reason
    if status is RunStatus.FAILED and result.exit_code not in (None, 0):
        rest = result.reason.removeprefix(f"exit code {result.exit_code}").lstrip(": ")
        reason = f"exit {result.exit_code}" + (f": {rest}" if rest else "")
    elif status is RunStatus.OK and result.duration is not None:
        reason = f"took {result.duration:.1f}s"
    if result.manual:
        reason = f"{reason} (run now)" if reason else "(run now)"
    return word, reason


def with_contract(result: RunResult, reason: str) -> str:
    """The reason column with the JSON the output contract captured, if any. On an ok run
    the value takes the place of the duration (the pane is narrow and the value is what the
    run was for; the duration stays in details and `crondeck history`); on a failure the
    reason stays first."""
    if result.contract is None:
        return reason
    shown = f"contract: {compact_json(result.contract, CONTRACT_SHOWN)}"
    if result.status is RunStatus.OK:
        return f"{shown} (run now)" if result.manual else shown
    return f"{reason}; {shown}" if reason else shown


class HistoryList(LineList):
    """Newest first; `job_filter` narrows it to one job, `view` to failures or no skips.

    `items` holds each row's newest result; `counts[i]` how many identical skips (or misses)
    row `i` stands for, `since[i]` the oldest one's time."""

    COMPONENT_CLASSES: ClassVar = LineList.COMPONENT_CLASSES | STATUS_CLASSES
    job_filter = reactive("")
    view = reactive("all")
    cursor_when_blurred = False
    empty_text = "nothing yet: runs, skips, misses and failures appear here"

    @dataclass
    class RunChosen(Message):
        result: RunResult

    def __init__(self, *, now: Callable[[], datetime], zone: tzinfo,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self._now = now
        self.zone = zone
        self._source: Sequence[RunResult] = ()
        self.items: list[RunResult] = []
        self.counts: list[int] = []
        self.since: list[datetime] = []
        self._oldest: list[RunResult] = []  # each row's oldest result (what anchors it)

    def set_results(self, results: Sequence[RunResult]) -> None:
        """All results, oldest first (the pane shows them reversed)."""
        self._source = results
        self._rebuild()

    def watch_job_filter(self) -> None:
        self._rebuild(hold=False)
        self.cursor = 0

    def watch_view(self) -> None:
        self._rebuild(hold=False)
        self.cursor = 0

    def cycle_view(self) -> str:
        """The next view (all -> failures only -> skips and misses hidden -> all)."""
        names = list(VIEWS)
        self.view = names[(names.index(self.view) + 1) % len(names)] if self.view in names \
            else "all"
        return self.view

    def show_result(self, result: RunResult) -> bool:
        """Put the cursor on `result`'s row (widening the view if it hides it); False if it
        is not in the pane."""
        if self.view != "all" and not self._in_view(result):
            self.view = "all"
        if self.job_filter and result.job != self.job_filter:
            self.job_filter = ""
        for index, (newest, oldest) in enumerate(zip(self.items, self._oldest, strict=True)):
            if newest is result or oldest is result or (
                    newest.run_id == result.run_id and newest.status is result.status):
                self.cursor = index
                return True
        return False

    def _in_view(self, result: RunResult) -> bool:
        if self.view == "failures":
            return result.status in FAILED_STATUSES
        if self.view == "no-skips":
            return result.status not in _NEVER_RAN
        return True

    def _holds(self) -> bool:
        """Whether the cursor keeps its run as rows arrive: always, but at the top of a pane
        the operator is not in (there it keeps showing the newest)."""
        return bool(self.items) and (self.has_focus or self.cursor > 0)

    def _rebuild(self, hold: bool = True) -> None:
        anchor = None
        if hold and self._holds() and 0 <= self.cursor < len(self.items):
            anchor = (self.items[self.cursor], self._oldest[self.cursor])
        old_cursor = self.cursor
        job = self.job_filter
        view = self.view
        # newest first; among equal times, the later recorded first (sorted() is stable)
        results = sorted((r for r in reversed(self._source) if not job or r.job == job),
                         key=shown_at, reverse=True)
        items: list[RunResult] = []
        oldest: list[RunResult] = []
        counts: list[int] = []
        since: list[datetime] = []
        streak: dict[str, tuple[int, tuple[object, ...]]] = {}  # job -> (its open skip row, kind)
        found = -1
        for r in results:
            kind = _same_skip(r)
            if kind is None:
                streak.pop(r.job, None)
                if view == "all" or (view == "failures" and r.status in FAILED_STATUSES) \
                        or (view == "no-skips"):
                    items.append(r)
                    oldest.append(r)
                    counts.append(1)
                    since.append(shown_at(r))
                else:
                    continue
            elif view != "all":
                continue
            else:
                open_row = streak.get(r.job)
                if open_row is not None and open_row[1] == kind:
                    row = open_row[0]
                    counts[row] += 1
                    since[row] = shown_at(r)
                    oldest[row] = r
                    if anchor is not None and found < 0 and r is anchor[1]:
                        found = row
                    continue
                streak[r.job] = (len(items), kind)
                items.append(r)
                oldest.append(r)
                counts.append(1)
                since.append(shown_at(r))
            if anchor is not None and found < 0 and (r is anchor[0] or r is anchor[1]):
                found = len(items) - 1
        self.items, self._oldest, self.counts, self.since = items, oldest, counts, since
        self.rows_changed()
        if found >= 0 and found != old_cursor:
            self._move_with_rows(old_cursor, found)

    def _move_with_rows(self, old: int, new: int) -> None:
        """Rows arrived above the cursor's run: follow it, and keep the view on the same rows
        unless it was at the top (where the new rows are meant to be seen)."""
        top = int(self.scroll_y)
        if top > 0:
            self.scroll_to(y=max(0, top + new - old), animate=False, immediate=True)
        # Not through the reactive's watcher: that reports a cursor move, and this one is
        # the rows', not the operator's (the screen treats cursor moves as key activity).
        self.set_reactive(HistoryList.cursor, new)
        self._scroll_to_cursor()
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self.items)

    def _job_width(self) -> int:
        if self.job_filter:
            return 0
        longest = max((len(r.job) for r in self.items[:200]), default=4)
        return max(4, min(16, longest))

    def render_header(self, width: int) -> Text:
        jw = self._job_width()
        job = f"{'JOB':<{jw}} " if jw else ""
        if width < COMPACT_BELOW:
            return Text(f"{'TIME':>8} {job}  STATUS: REASON")
        return Text(f"{'TIME':>8} {job}{'STATUS':<19} REASON")

    def render_row(self, index: int, width: int) -> Text:
        r = self.items[index]
        when = shown_at(r)
        word, reason = describe(r)
        reason = with_contract(r, reason)
        count = self.counts[index] if index < len(self.counts) else 1
        if count > 1:  # identical skips (or misses) folded into this row
            if r.status is RunStatus.MISSED:
                reason = _folded_reason(r)
            first = clock_time(self.since[index], self.zone, self._now())
            reason = f"×{count} since {first}" + (f" · {reason}" if reason else "")
        style: Style = self.style_of(_STATUS_STYLE.get(r.status.value, "line-list--dim"))
        text = Text()
        text.append(clock_time(when, self.zone, self._now()).rjust(8))
        text.append(" ")
        jw = self._job_width()
        if jw:
            name = clip(r.job, jw)
            text.append(f"{name:<{jw}} ", style="bold")
        glyph = LAST_GLYPH.get(r.status.value, "?")
        dim = self.style_of("line-list--dim") if r.status is RunStatus.OK else Style()
        if width < COMPACT_BELOW:  # no room for a status column: the word leads the reason
            text.append(f"{glyph} {word}", style=style)
            text.append(f": {reason}" if reason else "", style=dim)
            return text
        text.append(f"{glyph} {word:<17} ", style=style)
        text.append(reason, style=dim)
        return text

    def action_activate(self) -> None:
        if self.items:
            self.post_message(self.RunChosen(self.items[self.cursor]))
