"""The output pane: one run's output, streaming live, on Textual's `Log` (line API).

Lines arrive in batches (about ten a second) and go in with one `write_lines`; the number of
lines kept is capped. stderr lines carry a `▌` marker and are coloured; timestamps can be
toggled. Follow mode (stick to the end) is on by default and turns itself off as soon as the
operator scrolls up; `f` (or End) turns it back on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import ClassVar

from rich.highlighter import Highlighter
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.scrollbar import ScrollTo, ScrollUp
from textual.widgets import Log

from ..format import duration
from ..model import OutputLine, RunOutput

__all__ = ["MAX_LINES", "OutputPane"]

MAX_LINES = 10_000
ERR_MARK = "▌"
_STAMP = 9  # "HH:MM:SS "


class _StreamHighlighter(Highlighter):
    """Colours stderr lines (marked) and dims timestamps; styles come from the pane."""

    def __init__(self, pane: OutputPane) -> None:
        self.pane = pane

    def highlight(self, text: Text) -> None:
        plain = text.plain
        offset = _STAMP if self.pane.timestamps and len(plain) >= _STAMP else 0
        if offset:
            text.stylize(self.pane.get_component_rich_style("output-pane--stamp"), 0, offset)
        if plain[offset:offset + 1] == ERR_MARK:
            text.stylize(self.pane.get_component_rich_style("output-pane--stderr"), offset)
        elif plain[offset:offset + 2] == "──":
            text.stylize(self.pane.get_component_rich_style("output-pane--note"), offset)


class OutputPane(Log):
    """Shows the run set by `show_run`; `append` feeds it new lines of that run."""

    BINDINGS: ClassVar = [
        Binding("end", "follow_end", "Follow", show=False, id="output.end"),
    ]
    COMPONENT_CLASSES: ClassVar = {"output-pane--stderr", "output-pane--stamp", "output-pane--note"}

    follow = reactive(True)
    timestamps = reactive(False)

    @dataclass
    class FollowChanged(Message):
        follow: bool

    def __init__(self, *, zone: tzinfo, id: str | None = None) -> None:
        super().__init__(max_lines=MAX_LINES, highlight=True, auto_scroll=True, id=id)
        self.highlighter = _StreamHighlighter(self)
        self.zone = zone
        self.run: RunOutput | None = None
        self._resetting = False

    # -- content --------------------------------------------------------------------------

    def format_line(self, line: OutputLine) -> str:
        text = line.text.replace("\t", "    ")
        body = f"{ERR_MARK} {text}" if line.stream == "stderr" else f"  {text}"
        if self.timestamps:
            return f"{line.at.astimezone(self.zone):%H:%M:%S} {body}"
        return body

    def show_run(self, run: RunOutput | None, *, placeholder: str = "") -> None:
        """Replace the content with `run`'s kept output (and its outcome when finished)."""
        self.run = run
        self._resetting = True
        try:
            self.clear()
            if run is None:
                if placeholder:
                    self.write_lines([placeholder])
            else:
                self.write_lines([self.format_line(x) for x in run.lines], scroll_end=False)
                if run.dropped:
                    self.write_lines([f"── {run.dropped} lines dropped (too fast to show)"])
                if run.result is not None:
                    self.write_lines([self.outcome(run)], scroll_end=False)
            if self.follow:
                self.scroll_end(animate=False, immediate=True)
        finally:
            self._resetting = False

    def append(self, lines: Iterable[OutputLine]) -> None:
        """New lines of the shown run: one `write_lines` per batch."""
        self.write_lines([self.format_line(x) for x in lines], scroll_end=self.follow)

    def finished(self) -> None:
        """The shown run ended: add its outcome line."""
        if self.run is not None and self.run.result is not None:
            self.write_lines([self.outcome(self.run)], scroll_end=self.follow)

    @staticmethod
    def outcome(run: RunOutput) -> str:
        r = run.result
        assert r is not None
        took = f" after {duration(r.duration)}" if r.duration is not None else ""
        what = r.status.value.replace("_", " ")
        if r.exit_code not in (None, 0):
            what += f" (exit code {r.exit_code})"
        elif r.error and not r.ok:
            what += f": {r.reason}"
        return f"── {what}{took}"

    # -- follow mode ----------------------------------------------------------------------

    # Follow turns off only on the operator's own scrolling up, never on layout changes.

    def _stop_following(self) -> None:
        if self.follow and not self._resetting:
            self.follow = False

    def action_scroll_up(self) -> None:
        self._stop_following()
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self._stop_following()
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self._stop_following()
        super().action_scroll_home()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._stop_following()
        super()._on_mouse_scroll_up(event)

    def _on_scroll_to(self, message: ScrollTo) -> None:  # dragging the scrollbar
        if message.y is not None and message.y < self.max_scroll_y:
            self._stop_following()
        super()._on_scroll_to(message)

    def _on_scroll_up(self, event: ScrollUp) -> None:  # clicking the scrollbar track
        self._stop_following()
        super()._on_scroll_up(event)

    def watch_follow(self, follow: bool) -> None:
        self.auto_scroll = follow
        if follow:
            self.scroll_end(animate=False, immediate=True)
        self.post_message(self.FollowChanged(follow))

    def watch_timestamps(self) -> None:
        if self.is_mounted:
            run = self.run
            self.show_run(run)

    def action_follow_end(self) -> None:
        self.follow = True
