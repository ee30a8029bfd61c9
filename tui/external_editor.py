"""Editing the jobs file in `$VISUAL` / `$EDITOR`, for people who prefer their editor to the
form: the app hands the terminal over (`App.suspend()`), the editor works on a copy, and on
return the copy is validated like `crondeck check` does. Problems are shown with their line
(edit again, or discard); a valid copy is applied to the scheduler and written over the
jobs file (the previous version kept as `.bak`), unless someone else changed the file
meanwhile, which is asked about first.

The scheduler keeps running while the editor is open: the editor runs in a thread and the
app draws nothing until it is back.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from textual.app import SuspendNotSupported

from crondeck.core import (
    ConfigError,
    FileChanged,
    Problem,
    parse_config,
    read_jobs_text,
    save_with_backup,
    scan_key_lines,
)

from .screens.file_changed import EditorProblemsDialog, FileChangedDialog

__all__ = ["edit_jobs_file", "editor_argv", "job_line"]

# Editors that take `+LINE` before the file to open it there.
_PLUS_LINE = {"vi", "vim", "nvim", "view", "nano", "emacs", "emacsclient", "micro", "kak",
              "joe", "ne", "mg", "jed", "vis"}


def editor_argv(path: Path, line: int | None = None,
                env: dict[str, str] | None = None) -> list[str] | None:
    """The command that opens `path` in the operator's editor ($VISUAL, else $EDITOR, else
    vi when installed), at `line` when the editor takes `+LINE`; None when there is none."""
    env = dict(os.environ) if env is None else env
    words = shlex.split(env.get("VISUAL") or env.get("EDITOR") or "")
    if not words:
        if shutil.which("vi") is None:
            return None
        words = ["vi"]
    at = [f"+{line}"] if line and Path(words[0]).name in _PLUS_LINE else []
    return [*words, *at, str(path)]


def job_line(text: str, index: int) -> int | None:
    """The line of the `index`-th job's `[[jobs]]` header in `text`."""
    return scan_key_lines(text).get("jobs", index)


async def run_editor(app: Any, text: str, name: str, line: int | None) -> str | None:
    """Let the operator edit `text` (saved as `name` in a private temporary folder) and
    return what they saved; None (and a notice) when no editor could be run."""
    folder = Path(tempfile.mkdtemp(prefix="crondeck-edit-"))
    copy = folder / name
    try:
        copy.write_text(text, encoding="utf-8")
        argv = editor_argv(copy, line)
        if argv is None:
            app.notify("no editor: set $VISUAL or $EDITOR (e.g. export EDITOR=nano)",
                       severity="error", timeout=10)
            return None
        try:
            code = await _run_suspended(app, argv)
        except SuspendNotSupported:
            app.notify("this terminal cannot be handed to an editor; edit the file outside "
                       "crondeck (it is reloaded when it changes)", severity="error",
                       timeout=10)
            return None
        except OSError as exc:
            app.notify(f"cannot start the editor {argv[0]!r}: {exc}", severity="error",
                       timeout=10)
            return None
        if code != 0:
            app.notify(f"{argv[0]} exited with status {code}; nothing was changed",
                       severity="warning", timeout=8)
            return None
        return copy.read_bytes().decode("utf-8", errors="replace")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _run_suspended(app: Any, argv: list[str]) -> int:
    """Run the editor with the terminal handed over to it. The event loop (and so the
    scheduler) keeps running; nothing is drawn meanwhile. A headless app (tests) has no
    terminal to hand over: the editor just runs."""
    def run() -> int:
        return subprocess.run(argv, check=False).returncode

    if app.is_headless:
        return await asyncio.to_thread(run)
    with app.suspend(), app.batch_update():
        return await asyncio.to_thread(run)


async def edit_jobs_file(app: Any, target: Any, *, line: int | None = None,
                         text: str | None = None, start: str | None = None,
                         on_saved: Any = None) -> bool:
    """Open the jobs file of `target` (the app's Runtime or `LiveJobs`) in the editor, at
    `line`; validate, apply and save what comes back. `text` is what to open (default: the
    file as it is now) and `start` the file's text it is an edit of (default: `text`): if
    the file on disk is no longer `start` when saving, the operator is asked. Runs in a
    worker (it waits for dialogs). Returns whether the file was saved."""
    path = Path(target.config.path)
    try:
        disk = read_jobs_text(path)
    except ConfigError as exc:
        app.notify(str(exc), severity="error", timeout=10)
        return False
    start = start if start is not None else (text if text is not None else disk or "")
    text = text if text is not None else start
    while True:
        edited = await run_editor(app, text, path.name, line)
        if edited is None:
            return False
        if edited == start:
            app.notify(f"{path.name}: no changes", timeout=4)
            return False
        text = edited
        try:
            new = parse_config(edited, path)
            outcome_problems: list[Problem] = []
        except ConfigError as exc:
            new, outcome_problems = None, exc.problems
        if new is not None:
            disk = read_jobs_text(path)
            if disk != start:  # someone else saved the file while it was open here
                changed = FileChanged(path, start, disk)
                choice = await app.push_screen_wait(FileChangedDialog(changed, both=False,
                                                                      mine_is_edit=True))
                if choice == "theirs" or choice is None:
                    app.notify(f"your edit was discarded; {path.name} is as they left it",
                               timeout=6)
                    return False
                if choice == "editor":
                    start = disk or ""
                    continue
            outcome = target.apply(new)
            outcome_problems = list(getattr(outcome, "problems", []))
        if outcome_problems:
            choice = await app.push_screen_wait(EditorProblemsDialog(outcome_problems, path))
            if choice == "again":
                line = next((p.line for p in outcome_problems if p.line), line)
                continue
            app.notify(f"your edit was discarded; {path.name} is as it was", timeout=6)
            return False
        assert new is not None
        try:
            backup = save_with_backup(path, edited.encode("utf-8"))
        except OSError as exc:
            app.notify(f"applied, but cannot write {path.name}: {exc}", severity="error",
                       timeout=15)
            return False
        parts = [f"{label} {', '.join(names)}" for label, names in (
            ("added", outcome.added), ("removed", outcome.removed),
            ("changed", outcome.changed)) if names]
        kept = f"; previous version kept as {backup.name}" if backup else ""
        app.notify(f"saved {path.name}: {'; '.join(parts) or 'no job changed'}{kept}",
                   timeout=6)
        if on_saved is not None:
            on_saved()
        return True
