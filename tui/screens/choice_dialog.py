"""A modal question answered by a button or its key: the dialogs that ask before quitting,
deleting a job, or changing a running one all behave the same way."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from textual import on
from textual.screen import ModalScreen
from textual.widgets import Button

__all__ = ["ChoiceDialog"]

T = TypeVar("T", bound=str)


class ChoiceDialog(ModalScreen[T | None], Generic[T]):
    """Dismissed with the chosen answer: a button's id, or `choose('<answer>')` from a key
    binding, when it is one of `CHOICES`; anything else (Escape, a "back" button) with None.
    `FOCUS` names the button focused on opening: the safe answer, or the usual one."""

    CHOICES: ClassVar[tuple[str, ...]] = ()
    FOCUS: ClassVar[str] = ""

    def on_mount(self) -> None:
        if self.FOCUS:
            self.query_one(f"#{self.FOCUS}", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id or "")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice if choice in self.CHOICES else None)  # type: ignore[arg-type]
