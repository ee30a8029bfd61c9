"""Two questions about the jobs file on disk:

- `FileChangedDialog`: the file was changed by someone else since the app read it, and a
  save would overwrite their edit. It shows their change and asks: keep both (my change
  made to their version, when that is valid), keep mine (theirs is kept as `.bak`), take
  theirs (mine is dropped) or open it in $EDITOR to settle it by hand.
- `EditorProblemsDialog`: what came back from $EDITOR does not pass `crondeck check`; its
  problems with their lines, and: edit again, or discard.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, Static

from crondeck.core import FileChanged, Problem

from .choice_dialog import ChoiceDialog

__all__ = ["EditorProblemsDialog", "FileChangedDialog", "Resolution", "diff_text"]

Resolution = Literal["both", "mine", "theirs", "editor"]
_DIFF_LINES = 200  # a whole rewrite is not worth showing line by line


def diff_text(diff: str) -> Text:
    """A unified diff coloured as `git diff` does."""
    text = Text(no_wrap=True, overflow="ellipsis")
    lines = diff.splitlines()
    for line in lines[:_DIFF_LINES]:
        style = ("bold" if line.startswith(("---", "+++")) else "green" if line[:1] == "+"
                 else "red" if line[:1] == "-" else "cyan" if line.startswith("@@") else "")
        text.append(line + "\n", style=style)
    if len(lines) > _DIFF_LINES:
        text.append(f"… {len(lines) - _DIFF_LINES} more lines\n", style="dim")
    return text


class FileChangedDialog(ChoiceDialog[Resolution]):
    """Someone else's edit is on disk: what to do with it and with mine. Escape goes back
    (nothing written)."""

    CHOICES = ("both", "mine", "theirs", "editor")
    FOCUS = "back"

    CSS_PATH: ClassVar = ["dialogs.tcss", "file_changed.tcss"]
    BINDINGS: ClassVar = [
        Binding("b", "choose('both')", "Keep both", id="changed.both"),
        Binding("m", "choose('mine')", "Keep mine", id="changed.mine"),
        Binding("t", "choose('theirs')", "Take theirs", id="changed.theirs"),
        Binding("e", "choose('editor')", "$EDITOR", id="changed.editor"),
        Binding("escape", "choose('')", "Back", id="changed.back"),
    ]

    def __init__(self, changed: FileChanged, *, both: bool, why_not_both: str = "",
                 mine_is_edit: bool = False) -> None:
        super().__init__()
        self.changed = changed
        self.both = both
        self.why_not_both = why_not_both
        self.mine_is_edit = mine_is_edit  # mine is a whole edited file, not one change

    def compose(self) -> ComposeResult:
        name = self.changed.path.name
        gone = self.changed.disk is None
        with Vertical(id="dialog"):
            yield Label(f"{name} was {'removed' if gone else 'changed'} on disk since "
                        "crondeck read it", id="title")
            yield Label("Saving now would overwrite their edit. Their change:", id="hint")
            with VerticalScroll(id="diff"):
                yield Static(diff_text(self.changed.diff()))
            lines = []
            if self.both:
                lines.append("b  keep both: your change made to their version")
            elif self.why_not_both:
                lines.append(f"b  keep both: not possible, {self.why_not_both}")
            lines += [f"m  keep mine: write your version; theirs is kept as {name}.bak",
                      "t  take theirs: drop your change; the file stays as they left it",
                      "e  $EDITOR: " + ("your version again, to merge by hand"
                                        if self.mine_is_edit else
                                        "their version with your change, to settle by hand")]
            yield Static("\n".join(lines), id="choices")
            with Horizontal(id="buttons"):
                if self.both:
                    yield Button("Keep both (b)", variant="primary", id="both", compact=True)
                yield Button("Keep mine (m)", variant="warning", id="mine", compact=True)
                yield Button("Take theirs (t)", id="theirs", compact=True)
                yield Button("$EDITOR (e)", id="editor", compact=True)
                yield Button("Back (esc)", id="back", compact=True)

    def action_choose(self, choice: str) -> None:
        if choice == "both" and not self.both:
            self.app.bell()
            return
        super().action_choose(choice)


EditorChoice = Literal["again", "discard"]


class EditorProblemsDialog(ChoiceDialog[EditorChoice]):
    """The edited file would be refused: its problems, with lines. `e` (or Enter) opens it
    again at the first problem's line, `d` or Escape discards the edit."""

    CHOICES = ("again", "discard")
    FOCUS = "again"

    CSS_PATH: ClassVar = ["dialogs.tcss", "file_changed.tcss"]
    BINDINGS: ClassVar = [
        Binding("e", "choose('again')", "Edit again", id="problems.again"),
        Binding("d,escape", "choose('discard')", "Discard", id="problems.discard"),
    ]

    def __init__(self, problems: list[Problem], path: Path) -> None:
        super().__init__()
        self.problems = problems
        self.path = path

    def compose(self) -> ComposeResult:
        n = len(self.problems)
        with Vertical(id="dialog"):
            yield Label(f"Your edit of {self.path.name} has {n} problem{'s' if n != 1 else ''}"
                        "; nothing was applied or saved", id="title")
            with VerticalScroll(id="problems"):
                yield Static(Text("\n".join(_located(p) for p in self.problems)))
            with Horizontal(id="buttons"):
                yield Button("Edit again (e)", variant="primary", id="again", compact=True)
                yield Button("Discard (d)", variant="error", id="discard", compact=True)


def _located(p: Problem) -> str:
    """A problem as `line 12, job 'x', schedule: message` (the file is the one edited)."""
    head = ", ".join(x for x in (f"line {p.line}" if p.line else "",
                                 f"job {p.job!r}" if p.job else "", p.key or "") if x)
    text = f"{head}: {p.message}" if head else p.message
    if p.detail:
        text += "\n" + "\n".join("    " + d for d in p.detail.splitlines())
    return text
