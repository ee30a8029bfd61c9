"""The alert line above the footer: how many jobs are failing, the last failure, and the key
that jumps to it. It stays while any job is failing (a toast says it once per job), and goes
when every job has recovered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.text import Text
from textual.widget import Widget

from crondeck.core import RunResult, clock_time

from ..model import STATUS_CLASSES
from .history import describe

__all__ = ["JUMP_KEY", "AlertLine"]

JUMP_KEY = "!"  # shown as typed; the binding is `exclamation_mark`
NAMED = 3  # failing jobs named before the rest are counted


class AlertLine(Widget):
    """`✗ 2 jobs failing: deploy-check, backup · last 14:05:12 deploy-check: exit 2: …  ! jump
    to it`; hidden while no job is failing. The screen calls `show()`."""

    COMPONENT_CLASSES: ClassVar = {"alert-line--dim", "alert-line--key", *STATUS_CLASSES}
    DEFAULT_CSS = """
    AlertLine {
        height: 1;
        display: none;
    }
    """

    def __init__(self, *, now: Callable[[], datetime], zone: tzinfo,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self._now = now
        self.zone = zone
        self.failing: list[str] = []
        self.last: RunResult | None = None

    def show(self, failing: list[str], last: RunResult | None) -> None:
        """The failing jobs (most recent failure first) and the newest failure among them."""
        if failing == self.failing and last is self.last:
            return
        self.failing, self.last = failing, last
        self.display = bool(failing)
        self.refresh()

    def render(self) -> Text:
        st = self.get_component_rich_style
        width = self.size.width
        n = len(self.failing)
        hint = Text()
        hint.append(f" {JUMP_KEY} ", style=st("alert-line--key"))
        hint.append("jump to it ", style=st("alert-line--dim"))
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" ✗ {n} job{'s' if n != 1 else ''} failing", style=st("status--failed"))
        names = ", ".join(self.failing[:NAMED])
        if n > NAMED:
            names += f" +{n - NAMED}"
        text.append(f": {names}")
        if self.last is not None:
            word, reason = describe(self.last)
            when = clock_time(self.last.finished_at or self.last.scheduled_for, self.zone,
                              self._now())
            text.append(" · last ", style=st("alert-line--dim"))
            text.append(f"{when} {self.last.job} {word}")
            if reason:
                text.append(f": {reason}", style=st("alert-line--dim"))
        if width < hint.cell_len + 20:  # too narrow for the hint: the count matters more
            text.truncate(width, overflow="ellipsis", pad=True)
            return text
        text.truncate(width - hint.cell_len, overflow="ellipsis", pad=True)
        return text + hint
