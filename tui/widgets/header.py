"""The top line: app name, config path, scheduler state, counts and the clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from crondeck.core import short_span

from ..model import STATUS_CLASSES
from ..textual_compat import QuickRepaint

__all__ = ["DeckHeader"]

_CLOCK = re.compile(r"\d\d:\d\d:\d\d")


class DeckHeader(QuickRepaint, Widget):
    """`crondeck  ● scheduling  9 jobs · 2 running · 1 paused · 1 failing · 1 budget-held
    ~/crondeck.toml  14:05:12` (a count shows only when nonzero).

    The screen sets the reactives; the clock repaints on `refresh_clock()` (the 1 s tick)."""

    COMPONENT_CLASSES: ClassVar = {"deck-header--title", "deck-header--ok", "deck-header--warn",
                         "deck-header--error", "deck-header--dim", *STATUS_CLASSES}

    config_path = reactive("")
    # scheduling | paused | stopped | stopping (quitting once runs finish) | read-only |
    # observing | disconnected | starting
    state = reactive("starting")
    state_detail = reactive("")
    running = reactive(0)
    paused = reactive(0)
    failing = reactive(0)
    budget = reactive(0)  # held until midnight: the day's token budget is spent
    jobs = reactive(0)
    # a second, lasting line while the jobs file on disk is refused ("" hides it)
    file_problem = reactive("", layout=True)
    # attached to a scheduler in another process: "crondeck run, pid 4121" ("" in-process),
    # and since when it runs (its uptime is shown, counted on the header's clock)
    attached = reactive("")
    attached_since: reactive[datetime | None] = reactive(None)

    def __init__(self, *, now: Callable[[], datetime], zone: tzinfo,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self._now = now
        self.zone = zone
        self._styles: dict[str, Style] = {}
        self._styled = 0  # counts style changes: a line drawn before one is not reused
        # the first line as last drawn, and what it shows besides the clock
        self._first: tuple[tuple[object, ...], Strip] | None = None

    def _style(self, component: str) -> Style:
        """A component class's rich style, resolved once per style change: the clock repaints
        the header every second, and resolving each style anew cost most of that."""
        style = self._styles.get(component)
        if style is None:
            style = self._styles[component] = self.get_component_rich_style(component)
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._styled += 1
        self._first = None

    def _shown(self) -> tuple[object, ...]:
        """Everything the first line shows but the clock."""
        return (self.size.width, self._styled, self.config_path, self.state, self.state_detail,
                self.running, self.paused, self.failing, self.budget, self.jobs, self.attached,
                self._uptime(), self.file_problem)

    def _uptime(self) -> str:
        """An attached scheduler's uptime as shown ("" when none is)."""
        if not self.attached or self.attached_since is None:
            return ""
        return short_span((self._now() - self.attached_since).total_seconds())

    def render_line(self, y: int) -> Strip:
        """The first line, from the last one drawn with only its clock's cells replaced while
        nothing else it shows changed (the whole header is not laid out again each second)."""
        if y:
            return super().render_line(y)
        shown = self._shown()
        first = self._first
        if first is not None and first[0] == shown:
            strip = _with_clock(first[1], self._clock())
            if strip is not None:
                self._first = (shown, strip)
                return strip
        strip = super().render_line(y)
        self._first = (shown, strip)
        return strip

    def _clock(self) -> str:
        return self._now().astimezone(self.zone).strftime("%H:%M:%S")

    def render(self) -> Text:
        st = self._style
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" crondeck ", style=st("deck-header--title"))
        if self.attached and self.state != "disconnected":
            up = f", up {self._uptime()}" if self.attached_since is not None else ""
            text.append(f" ⇄ attached to {self.attached}{up} ", style=st("deck-header--ok"))
        state_style = {
            "scheduling": "deck-header--ok",
            "paused": "status--paused",
            "read-only": "deck-header--warn",
            "observing": "deck-header--warn",
            "stopped": "deck-header--error",
            "stopping": "deck-header--warn",
            "disconnected": "deck-header--error",
        }.get(self.state, "deck-header--dim")
        glyph = {"scheduling": "●", "paused": "‖", "read-only": "◌", "observing": "◌",
                 "stopped": "■", "stopping": "◐", "disconnected": "✕"}.get(self.state, "○")
        label = self.state.upper() if self.state in ("read-only", "disconnected") else self.state
        text.append(f" {glyph} {label}", style=st(state_style))
        if self.state_detail:
            text.append(f" ({self.state_detail})", style=st(state_style))
        text.append("  ")
        parts: list[tuple[str, str]] = [(f"{self.jobs} job{'' if self.jobs == 1 else 's'}",
                                         "deck-header--dim")]
        if self.running:
            parts.append((f"{self.running} running", "status--running"))
        if self.paused:
            parts.append((f"{self.paused} paused", "status--paused"))
        if self.failing:
            parts.append((f"{self.failing} failing", "status--failed"))
        if self.budget:  # in the paused colour, as the rows' "∅ budget" is
            parts.append((f"{self.budget} budget-held", "status--paused"))
        for i, (part, style) in enumerate(parts):
            if i:
                text.append(" · ", style=st("deck-header--dim"))
            text.append(part, style=st(style))
        clock = self._clock()
        width = self.size.width
        room = width - text.cell_len - len(clock) - 5
        path = _home(self.config_path)
        if path and room >= 12:
            shown = path if len(path) <= room else "…" + path[-(room - 1):]
            text.append(" " * (room - len(shown) + 2))
            text.append(shown, style=st("deck-header--dim"))
            text.append("  ")
        else:  # the clock always shows: what precedes it is cut short if need be
            text.truncate(max(0, width - len(clock) - 2), overflow="ellipsis")
            text.append(" " * max(1, width - text.cell_len - len(clock) - 1))
        text.append(clock, style=st("deck-header--title"))
        text.append(" ")
        text.truncate(width)
        if self.file_problem:
            line = Text(f" {self.file_problem}", style=st("deck-header--error"), no_wrap=True,
                        overflow="ellipsis", end="")
            line.truncate(width, overflow="ellipsis")
            text.append("\n")
            text.append_text(line)
        return text

    def refresh_clock(self) -> None:
        """The 1 s tick: repaint the clock's cells, or all of it when more than the clock
        moved (an attached scheduler's uptime: each second in its first hour, then each
        minute); the rest changes only with the reactives, which repaint it all."""
        first = self._first
        if first is None or first[0] != self._shown():
            self.refresh()
        else:
            self.refresh(Region(max(0, self.size.width - 10), 0, 10, 1))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 2 if self.file_problem else 1


def _with_clock(strip: Strip, clock: str) -> Strip | None:
    """The line with its clock (the last segment that is one) showing `clock` instead; None
    if it has none."""
    segments = list(strip)
    for i in range(len(segments) - 1, -1, -1):
        text, style, control = segments[i]
        if _CLOCK.fullmatch(text):
            if text == clock:
                return strip
            segments[i] = Segment(clock, style, control)
            return Strip(segments, strip.cell_length)
    return None


def _home(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home):] if home != "/" and path.startswith(home + "/") else path
