"""The history pane: skips, misses, failures and runs, newest first, with why.

Rows are core `RunResult`s; the pane can be narrowed to one job. Enter posts `RunChosen`
so the screen can open that run's output. A run whose output contract captured JSON shows
it in the reason column (`contract: {"count": 3}`), compact and cut to the row: for a
digest job that value is the point of the run."""

from __future__ import annotations

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

__all__ = ["HistoryList", "describe", "with_contract"]

CONTRACT_SHOWN = 200  # characters of contract JSON built per row (the row cuts it further)

# Narrower than this, the status word leads the reason instead of having a column (at 80x24
# the pane is ~38 wide, and a fixed 19-wide STATUS column left no room for any reason).
COMPACT_BELOW = 56

_STATUS_STYLE = {  # component classes coloured by the theme's $status-* variables
    "ok": "status--ok",
    "failed": "status--failed",
    "timed_out": "status--failed",
    "skipped": "status--skipped",
    "missed": "status--skipped",
    "cancelled": "status--skipped",
    "abandoned": "status--failed",
}


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
    """Newest first; `job_filter` narrows it to one job."""

    COMPONENT_CLASSES: ClassVar = LineList.COMPONENT_CLASSES | STATUS_CLASSES
    job_filter = reactive("")
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

    def set_results(self, results: Sequence[RunResult]) -> None:
        """All results, oldest first (the pane shows them reversed)."""
        self._source = results
        self._rebuild()

    def watch_job_filter(self) -> None:
        self._rebuild()
        self.cursor = 0

    def _rebuild(self) -> None:
        job = self.job_filter
        self.items = [r for r in reversed(self._source) if not job or r.job == job]
        self.rows_changed()

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
        when = r.finished_at or r.started_at or r.scheduled_for
        word, reason = describe(r)
        reason = with_contract(r, reason)
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
