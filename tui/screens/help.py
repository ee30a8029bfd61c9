"""`?`: every key of the dashboard, grouped, built from the live bindings so it never drifts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

__all__ = ["PANE_KEYS", "HelpScreen", "key_label"]

# Keys handled by the panes themselves (not screen bindings), shown for completeness.
PANE_KEYS: list[tuple[str, str, str]] = [
    ("Moving", "↑ ↓  j k", "move the cursor in the focused pane"),
    ("Moving", "PgUp PgDn  Home End", "page / jump in the focused pane"),
    ("Moving", "enter", "jobs: details · upcoming: select job · history: open that run"),
    ("Output", "End", "jump to the end and follow again"),
    ("Output", "scroll up", "stops following the output (f to follow again)"),
    ("Output", "← →", "scroll long lines sideways (w wraps them instead)"),
    ("Output", "/  n N", "in the output: search the run, next / previous match"),
]

_KEY_NAMES = {"space": "space", "question_mark": "?", "slash": "/", "escape": "esc",
              "tab": "tab", "enter": "enter", "exclamation_mark": "!"}


def key_label(keys: str) -> str:
    return " / ".join(_KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


class HelpScreen(ModalScreen[None]):
    """A table of keys; Escape, q or ? closes it."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, bindings: Iterable[tuple[str, Binding]]) -> None:
        super().__init__()
        entries: list[tuple[str, str, str]] = []
        for group, b in bindings:
            keys, what = key_label(b.key), b.tooltip or b.description
            if entries and entries[-1][:2] == (group, keys):  # e.g. pause / resume
                entries[-1] = (group, keys, f"{entries[-1][2]}; again: {what.split(' the ')[0]}")
            else:
                entries.append((group, keys, what))
        self.entries = entries

    def compose(self) -> ComposeResult:
        rows = [*self.entries, *PANE_KEYS]
        table = Table.grid(padding=(0, 2), expand=True)
        # the keys column fits its longest entry; the descriptions wrap in what is left
        table.add_column(no_wrap=True, width=2 + max(len(keys) for _g, keys, _w in rows))
        table.add_column(ratio=1)
        last_group = None
        for group, keys, what in rows:
            if group != last_group:
                if last_group is not None:
                    table.add_row("", "")
                table.add_row(Text(group, style="bold underline"), "")
                last_group = group
            table.add_row(Text(f"  {keys}", style="bold"), what)
        with Vertical(id="dialog"):
            yield Label("crondeck keys", id="title")
            with VerticalScroll():
                yield Static(table)
            yield Label("Every action is also in the command palette (ctrl+p). "
                        "esc closes.", classes="hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()  # so PgDn / ↓ scroll the list at once

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
