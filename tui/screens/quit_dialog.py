"""Quitting with runs in progress: wait for them, or terminate them."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label

from .choice_dialog import ChoiceDialog

__all__ = ["QuitChoice", "QuitDialog"]

QuitChoice = Literal["wait", "terminate"]


class QuitDialog(ChoiceDialog[QuitChoice]):
    """`w` wait for the runs to finish, `t` terminate them, Escape stays."""

    CHOICES = ("wait", "terminate")
    FOCUS = "wait"

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar = [
        Binding("w", "choose('wait')", "Wait", id="quit.wait"),
        Binding("t", "choose('terminate')", "Terminate", id="quit.terminate"),
        Binding("escape", "choose('')", "Stay", id="quit.stay"),
    ]

    def __init__(self, running: list[str]) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        n = len(self.running)
        names = ", ".join(self.running[:5]) + (" …" if n > 5 else "")
        with Vertical(id="dialog"):
            yield Label("Quit crondeck?", id="title")
            yield Label(f"{n} run{'s' if n != 1 else ''} in progress: {names}")
            yield Label("Wait lets them finish (no new runs start); terminate stops them now "
                        "and records them as cancelled.", classes="hint")
            with Horizontal(id="buttons"):
                yield Button("Wait for them (w)", variant="primary", id="wait")
                yield Button("Terminate (t)", variant="error", id="terminate")
                yield Button("Stay (esc)", id="stay")
