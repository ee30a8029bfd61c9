"""Escape from a job editor with changes in it: discard them, or keep editing."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label

from .choice_dialog import ChoiceDialog

__all__ = ["DiscardChoice", "DiscardDialog"]

DiscardChoice = Literal["discard"]


class DiscardDialog(ChoiceDialog[DiscardChoice]):
    """`d` discards the changes, Escape goes back to the form (the safe answer, focused)."""

    CHOICES = ("discard",)
    FOCUS = "keep"

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar = [
        Binding("d", "choose('discard')", "Discard", id="discard.discard"),
        Binding("escape", "choose('')", "Keep editing", id="discard.keep"),
    ]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Discard your changes to {self.what}?", id="title")
            yield Label("Nothing has been saved: the jobs file is as it was.", classes="hint")
            with Horizontal(id="buttons"):
                yield Button("Discard (d)", variant="error", id="discard")
                yield Button("Keep editing (esc)", id="keep")
