"""Ask for an optional note and duration before pausing a job (or everything)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, ScreenResultCallbackType
from textual.widgets import Button, Input, Label

from crondeck.core import PAUSE_NOTE_MAX, DurationError, parse_duration

__all__ = ["PauseDialog", "PauseRequest", "open_pause_dialog"]

# The app's one pause dialog, kept (installed) between uses: see `open_pause_dialog`.
INSTALLED_AS = "pause-dialog"


@dataclass(frozen=True)
class PauseRequest:
    note: str
    duration: timedelta | None  # None: until resumed


class PauseDialog(ModalScreen[PauseRequest | None]):
    """`Pause <what>`: note, duration, Pause / Cancel. Enter pauses, Escape cancels."""

    CSS_PATH = "dialogs.tcss"
    # Tab moves focus as the key is read (priority), not once the field it was typed in has
    # handled it: keys typed in a burst after it (a paste) land in the next field.
    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="pause.cancel"),
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True,
                id="pause.next"),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False,
                priority=True, id="pause.previous"),
    ]

    def __init__(self, what: str, *, blink: bool = True) -> None:
        super().__init__()
        self.what = what
        self.blink = blink
        self._error_text = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Pause {self.what}", id="title")
            yield Label("Slots that fall due while paused are recorded as skipped.",
                        classes="hint")
            # the scheduler refuses a longer note: the field stops there instead
            yield Input(placeholder="note (optional): why is it paused?", id="note",
                        max_length=PAUSE_NOTE_MAX)
            yield Input(placeholder="for how long (optional): 30m, 2h, 1d; empty = until resumed",
                        id="duration")
            yield Label("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Pause", variant="warning", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = self.blink
        self.query_one("#note", Input).focus()

    def on_screen_suspend(self) -> None:
        # kept for the next pause: no cursor blinking (the app woken twice a second) meanwhile
        for inp in self.query(Input):
            inp.cursor_blink = False

    def on_screen_resume(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = self.blink

    def reuse(self, what: str) -> None:
        """Ready the dialog, dismissed before, to be shown again for `what` as a new one
        opens: its title, the fields empty, no error, the note focused (at once: keys typed
        in a burst after the one that opened it land in the note)."""
        if what != self.what:
            self.what = what
            self.query_one("#title", Label).update(f"Pause {what}")
        for inp in self.query(Input):
            if inp.value:
                inp.value = ""
        self._error("")
        note = self.query_one("#note", Input)
        if self.focused is not note:
            self.set_focus(note, scroll_visible=False)

    def _request(self) -> PauseRequest | None:
        text = self.query_one("#duration", Input).value.strip()
        duration: timedelta | None = None
        if text:
            try:
                duration = parse_duration(text)
            except (DurationError, ValueError) as exc:
                self._error(f"duration: {exc}")
                return None
        self._error("")
        return PauseRequest(self.query_one("#note", Input).value.strip(), duration)

    def _error(self, text: str) -> None:
        """Show (or clear) the error line, touching it only when it changes: an update
        lays the dialog out again, with the whole dashboard under it."""
        if text != self._error_text:
            self._error_text = text
            self.query_one("#error", Label).update(text)

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _confirm(self) -> None:
        request = self._request()
        if request is not None:
            self.dismiss(request)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def open_pause_dialog(app: App[Any], what: str,
                      callback: ScreenResultCallbackType[PauseRequest | None], *,
                      blink: bool = True) -> None:
    """Show the pause dialog for `what`; `callback` gets the request (None: cancelled).

    The app keeps one dialog and shows it again each time: a new one was mounted (its
    widgets composed, styled, laid out) on every open and removed on every close, and the
    removal ran between the key that closes it and the frame that shows the job paused."""
    dialog: PauseDialog | None = None
    if app.is_screen_installed(INSTALLED_AS):
        kept = app.get_screen(INSTALLED_AS)
        if isinstance(kept, PauseDialog) and kept not in app.screen_stack:
            dialog = kept
            if dialog.is_mounted:
                dialog.reuse(what)
            else:  # installed but never shown: it composes with these
                dialog.what, dialog.blink = what, blink
    else:
        dialog = PauseDialog(what, blink=blink)
        app.install_screen(dialog, INSTALLED_AS)
    if dialog is None:  # the kept one is showing (a second pause over it): a new one
        dialog = PauseDialog(what, blink=blink)
    app.push_screen(dialog, callback)
