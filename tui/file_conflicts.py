"""What the console does when the jobs file changed on disk since it was read and a save
from the app would overwrite that edit: ask (`FileChangedDialog`), then save as chosen.

`resolve` is shared by the job editor and deleting a job: both hand it the change they want
to make (a new Config made from the one read) and a `save(onto)` that makes it, where
`onto` is the text to make the change to (theirs to keep both, the text read to keep mine).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import zip_longest
from typing import Any

from crondeck.core import (
    Config,
    ConfigError,
    FileChanged,
    JobsFileError,
    edit_jobs_text,
    plan_save,
)

from .external_editor import edit_jobs_file
from .screens.file_changed import FileChangedDialog, Resolution

__all__ = ["both_possible", "first_difference", "merged_text", "resolve"]


def both_possible(changed: FileChanged, base: Config, new: Config) -> tuple[bool, str]:
    """Can my change be made to their version, and the result load? If not, why not."""
    if changed.disk is None:
        return False, "the file was removed"
    try:
        plan_save(new, base=base, onto=changed.disk)
    except ConfigError as exc:
        lines = [p.line for p in exc.problems if p.line]
        where = f" (line {lines[0]})" if lines else ""
        return False, f"their version does not load{where}"
    return True, ""


def merged_text(changed: FileChanged, base: Config, new: Config) -> str:
    """Their version with my change made to it, where it can be (else theirs as it is; mine
    when the file was removed): what $EDITOR opens to settle it by hand."""
    if changed.disk is None:
        return edit_jobs_text(changed.read, base, new)
    try:
        return edit_jobs_text(changed.disk, base, new)
    except JobsFileError:
        return changed.disk


def first_difference(a: str, b: str) -> int | None:
    """The first line where `b` differs from `a` (where to open the editor)."""
    for number, (x, y) in enumerate(zip_longest(a.splitlines(), b.splitlines()), start=1):
        if x != y:
            return number
    return None


def resolve(app: Any, target: Any, changed: FileChanged, new: Config,
            save: Callable[[str], None], *, back: Callable[[], None] | None = None,
            dropped: Callable[[], None] | None = None, base: Config | None = None) -> None:
    """Ask what to do about `changed` (a save of `new` over someone else's edit), then:
    `save(onto)` for keep both / keep mine; `dropped()` for take theirs and for $EDITOR
    (which then opens their version with my change); `back()` on Escape. `base`: the
    config `new` was made from (default: the target's)."""
    base = base if base is not None else target.config
    both, why = both_possible(changed, base, new)
    name = changed.path.name

    def chosen(choice: Resolution | None) -> None:
        if choice is None:
            if back is not None:
                back()
        elif choice == "both":
            save(changed.disk or "")
        elif choice == "mine":
            save(changed.read)
        else:
            if dropped is not None:
                dropped()
            if choice == "theirs":
                app.notify(f"your change was dropped; {name} stays as they left it", timeout=6)
            else:
                text = merged_text(changed, base, new)
                app.run_worker(edit_jobs_file(app, target, text=text, start=changed.disk or "",
                                              line=first_difference(changed.read, text)),
                               group="external-editor", exclusive=True, exit_on_error=False)

    app.push_screen(FileChangedDialog(changed, both=both, why_not_both=why), chosen)
