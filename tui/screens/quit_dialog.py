"""Quitting: with runs in progress, wait for them or terminate them; a console that runs the
schedule of a jobs file also offers to keep the jobs running in the background."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Mount
from textual.widgets import Button, Label

from .choice_dialog import ChoiceDialog

__all__ = ["QuitChoice", "QuitDialog"]

# "background": a detached `crondeck run` takes over; "stop": quit, the jobs stop with us
QuitChoice = Literal["wait", "terminate", "background", "stop"]


class QuitDialog(ChoiceDialog[QuitChoice]):
    """`w` wait for the runs to finish, `t` terminate them, Escape stays; with `background`,
    `b` keeps the jobs running in the background (after the runs in flight finish) and, when
    nothing runs, `s` stops them."""

    CHOICES = ("wait", "terminate", "background", "stop")
    FOCUS = ""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar = [
        Binding("w", "choose('wait')", "Wait", id="quit.wait"),
        Binding("t", "choose('terminate')", "Terminate", id="quit.terminate"),
        Binding("b", "choose('background')", "Background", id="quit.background"),
        Binding("s", "choose('stop')", "Stop the jobs", id="quit.stop"),
        Binding("escape", "choose('')", "Stay", id="quit.stay"),
    ]

    def __init__(self, running: list[str], background: bool = False) -> None:
        super().__init__()
        self.running = running
        self.background = background
        offered = ["wait", "terminate"] if running else []
        if background:
            offered = ["background", *offered] if running else ["background", "stop"]
        self.offered = tuple(offered)

    @on(Mount)
    def _focus_first(self) -> None:  # FOCUS names no button: which ones there are varies
        self.query_one("#background" if self.background else "#wait", Button).focus()

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice if choice in self.offered else None)  # type: ignore[arg-type]

    def compose(self) -> ComposeResult:
        n = len(self.running)
        names = ", ".join(self.running[:5]) + (" …" if n > 5 else "")
        with Vertical(id="dialog"):
            yield Label("Quit crondeck?", id="title")
            if n:
                yield Label(f"{n} run{'s' if n != 1 else ''} in progress: {names}")
            if self.background:
                yield Label("Background: a detached `crondeck run` takes over the schedule "
                            "(its log in .crondeck/run.log) and the next `crondeck` attaches "
                            "to it" + (", once the runs in progress have finished." if n
                                       else "; stop: the jobs stop with this console."),
                            classes="hint")
            if n:
                yield Label("Wait lets them finish (no new runs start); terminate stops them "
                            "now and records them as cancelled.", classes="hint")
            with Horizontal(id="buttons"):
                if self.background:
                    yield Button("Background (b)", variant="primary", id="background")
                if n and self.background:  # four buttons: short labels
                    yield Button("Wait (w)", id="wait")
                    yield Button("Terminate (t)", variant="error", id="terminate")
                elif n:
                    yield Button("Wait for them (w)", variant="primary", id="wait")
                    yield Button("Terminate (t)", variant="error", id="terminate")
                elif self.background:
                    yield Button("Stop jobs (s)", variant="error", id="stop")
                yield Button("Stay (esc)", id="stay")
