"""The dashboard's keys as command-palette entries: every key is also in the palette.

Entries are derived from `DashboardScreen.BINDINGS`, not listed by hand, so a key added to
the dashboard reaches the palette without anyone remembering to: an action this module has
no wording for still gets an entry (the binding's description and tooltip). Titles follow
state the way the footer does ("Pause alpha" becomes "Resume alpha" once it is paused), and
availability follows the screen's `check_action`: an action it hides (False: e.g. "Cancel
run" while nothing runs, "Pause" of a paused job) is left out, one it disables (None: no job
selected, read-only) is listed as unavailable and says why when chosen, instead of silently
doing nothing.

Choosing an entry runs the binding's action through `run_action`, so the palette goes through
the same `check_action` gate as the key itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import Binding

from .help import key_label

if TYPE_CHECKING:
    from .dashboard import DashboardScreen

__all__ = ["PaletteEntry", "palette_entries", "system_commands"]


@dataclass(frozen=True, slots=True)
class PaletteEntry:
    """One dashboard binding as the palette offers it now."""

    binding_id: str
    action: str
    available: bool
    command: SystemCommand


def _job(screen: DashboardScreen) -> str:
    return screen.table.selected or "the selected job"


def _skip_title(screen: DashboardScreen) -> str:
    job = screen.scheduler.jobs.get(screen.table.selected or "")
    if job is not None and job.skip_next_pending:
        return f"Undo skip of {job.name}'s next run"
    return f"Skip {_job(screen)}'s next run"


def _enabled_title(screen: DashboardScreen) -> str:
    job = screen.scheduler.jobs.get(screen.table.selected or "")
    return f"{'Enable' if job is not None and not job.enabled else 'Disable'} {_job(screen)}"


def _sort_title(screen: DashboardScreen) -> str:
    from ..widgets.job_table import SORTS

    keys = list(SORTS)
    current = screen.table.sort_key
    following = keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]
    return f"Sort jobs by {following} (now by {current})"


def _filter_title(screen: DashboardScreen) -> str:
    text = screen.table.filter_text
    return f"Filter jobs (now “{text}”)" if text else "Filter jobs"


def _view_title(screen: DashboardScreen) -> str:
    from ..widgets.history import VIEWS

    views = list(VIEWS)
    current = screen.history.view
    following = views[(views.index(current) + 1) % len(views)] if current in views else views[0]
    return f"History: show {VIEWS[following] or 'everything'}"


def _scope_title(screen: DashboardScreen) -> str:
    if screen.history.job_filter:
        return "History: show all jobs"
    return f"History: show only {_job(screen)}"


# Titles by action, read from the screen's state when the palette asks. Actions missing here
# still get an entry titled by the binding's description.
_TITLES: dict[str, Callable[[DashboardScreen], str]] = {
    "pause": lambda s: f"Pause {_job(s)}",
    "resume": lambda s: f"Resume {_job(s)}",
    "run_now": lambda s: f"Run {_job(s)} now",
    "skip_next": _skip_title,
    "cancel_run": lambda s: f"Cancel {_job(s)}'s run",
    "toggle_enabled": _enabled_title,
    "details": lambda s: f"Details of {_job(s)}",
    "filter": _filter_title,
    "cycle_sort": _sort_title,
    "app.focus_next": lambda s: "Next pane",
    "app.focus_previous": lambda s: "Previous pane",
    "toggle_follow": lambda s: "Stop following the output" if s.output.follow
    else "Follow the output",
    "toggle_timestamps": lambda s: "Hide output timestamps" if s.output.timestamps
    else "Show output timestamps",
    "toggle_history_scope": _scope_title,
    "cycle_history_view": _view_title,
    "unpin_output": lambda s: "Output: back to the selected job",
    "jump_to_failure": lambda s: "Jump to the last failure",
    "pause_all": lambda s: "Pause all jobs",
    "resume_all": lambda s: "Resume all jobs",
    "help": lambda s: "Help: every key",
}


def _allowed(screen: DashboardScreen, action: str) -> bool | None:
    """The binding's state as the footer sees it: True, hidden (False) or disabled (None)."""
    target, _, name = action.rpartition(".")
    if target == "app":
        return screen.app.check_action(name, ())
    return screen.check_action(name, ())


def _why_not(screen: DashboardScreen) -> str:
    if screen.read_only:
        return f"read-only: {screen.read_only_reason or 'another crondeck schedules this file'}"
    if screen.table.selected is None:
        return "no job selected"
    return "not available now"


def _run(screen: DashboardScreen, action: str) -> Callable[[], object]:
    async def run() -> None:
        await screen.run_action(action)

    return run


def _refuse(screen: DashboardScreen, title: str, reason: str) -> Callable[[], None]:
    def refuse() -> None:
        screen.app.notify(f"{title}: {reason}", severity="warning", timeout=4)

    return refuse


def palette_entries(screen: DashboardScreen) -> list[PaletteEntry]:
    """Every dashboard binding the palette offers now, in binding order."""
    entries: list[PaletteEntry] = []
    seen: set[str] = set()
    for binding in screen.BINDINGS:
        if not isinstance(binding, Binding):
            continue
        binding_id = binding.id or binding.action
        if binding_id in seen:
            continue
        seen.add(binding_id)
        allowed = _allowed(screen, binding.action)
        if allowed is False:
            continue  # hidden, as in the footer: its counterpart (Resume, ...) is offered
        titled = _TITLES.get(binding.action)
        title = titled(screen) if titled is not None else binding.description
        keys = key_label(binding.key)
        what = binding.tooltip or binding.description
        if allowed:
            command = SystemCommand(title, f"{what} ({keys})", _run(screen, binding.action))
        else:
            reason = _why_not(screen)
            command = SystemCommand(f"{title} (unavailable)", f"unavailable: {reason} ({keys})",
                                    _refuse(screen, title, reason))
        entries.append(PaletteEntry(binding_id, binding.action, bool(allowed), command))
    return entries


def system_commands(screen: DashboardScreen) -> list[SystemCommand]:
    """The palette's commands for the dashboard's own keys (see the module docstring)."""
    return [entry.command for entry in palette_entries(screen)]
