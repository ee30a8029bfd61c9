"""The dashboard's keys: its bindings, which of them need a job or change state, and the
grouping the `?` screen lists them under.

Kept apart from the screen so the key map reads in one place; the command palette
(`dashboard_commands`) and the help screen both derive from these bindings.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding

__all__ = ["DASHBOARD_BINDINGS", "HELP_GROUPS", "MUTATING", "NEEDS_JOB", "NEEDS_JOB_KEYS",
           "help_entries"]

# Refused while read-only.
MUTATING = {"pause", "resume", "run_now", "skip_next", "cancel_run", "pause_all", "resume_all",
            "toggle_enabled"}
# Disabled while no job is selected.
NEEDS_JOB = {"pause", "resume", "run_now", "skip_next", "cancel_run", "details",
             "toggle_enabled"}

DASHBOARD_BINDINGS: list[Binding] = [
    Binding("space,p", "pause", "Pause", id="job.pause",
            tooltip="pause the selected job (asks for a note and a duration)"),
    Binding("space,p", "resume", "Resume", id="job.resume",
            tooltip="resume the selected job"),
    Binding("r", "run_now", "Run now", id="job.run_now",
            tooltip="run the selected job now (obeys its overlap policy)"),
    Binding("s", "skip_next", "Skip next", id="job.skip_next",
            tooltip="skip the selected job's next run (press again to undo)"),
    Binding("x", "cancel_run", "Cancel run", id="job.cancel",
            tooltip="cancel the selected job's running run"),
    Binding("a", "toggle_enabled", "Disable/Enable", show=False, id="job.enabled",
            tooltip="disable the selected job (no run starts and no slot is recorded until it "
                    "is enabled; a run in progress finishes; the jobs file is not changed), or "
                    "enable it again from its next slot"),
    Binding("enter", "details", "Details", show=False, id="job.details",
            tooltip="details of the selected job"),
    # priority: taken as it arrives, so keys typed right after it (`/standup` in a burst)
    # go to the box instead of running as keys of the pane that had focus
    Binding("slash", "filter", "Filter", id="jobs.filter", priority=True,
            tooltip="filter jobs by name, agent or status (esc clears)"),
    Binding("o", "cycle_sort", "Sort", show=False, id="jobs.sort",
            tooltip="sort jobs by next fire / name / status / last run"),
    Binding("tab", "app.focus_next", "Next pane", show=False, id="panes.next",
            tooltip="cycle panes: jobs, upcoming, output, history"),
    Binding("shift+tab", "app.focus_previous", "Previous pane", show=False, id="panes.prev",
            tooltip="cycle panes backwards"),
    Binding("f", "toggle_follow", "Follow", show=False, id="output.follow",
            tooltip="follow the output (stick to the end) on/off"),
    Binding("T", "toggle_timestamps", "Timestamps", show=False, id="output.timestamps",
            tooltip="show/hide timestamps in the output"),
    Binding("w", "toggle_wrap", "Wrap", show=False, id="output.wrap",
            tooltip="wrap long output lines on/off (off: ← → scroll sideways)"),
    Binding("z", "zoom_output", "Full screen", show=False, id="output.zoom",
            tooltip="output full screen on/off (esc returns)"),
    Binding("h", "toggle_history_scope", "History scope", show=False, id="history.scope",
            tooltip="history: all jobs / only the selected job"),
    Binding("v", "cycle_history_view", "History view", show=False, id="history.view",
            tooltip="history: everything / failures only / skips (and misses) hidden"),
    Binding("escape", "unpin_output", "Back to the job", show=False, id="output.unpin",
            tooltip="output: leave the run opened from history, follow the selected job"),
    Binding("exclamation_mark", "jump_to_failure", "Last failure", show=False, id="alerts.jump",
            tooltip="jump to the last failure of a failing job (its run, in history)"),
    Binding("P", "pause_all", "Pause all", show=False, id="all.pause",
            tooltip="pause every job (asks for a note and a duration)"),
    Binding("P", "resume_all", "Resume all", id="all.resume", tooltip="resume every job"),
    Binding("question_mark", "help", "Help", id="app.help", tooltip="this list of keys"),
]

# The keys that act on the selected job, here and in the app (edit, delete): pressed with no
# job selected, the dashboard says why nothing happens.
NEEDS_JOB_KEYS = {key for b in DASHBOARD_BINDINGS if b.action in NEEDS_JOB
                  for key in b.key.split(",")} | {"e", "d"}

HELP_GROUPS = {"job": "Selected job", "jobs": "Jobs", "panes": "Panes", "output": "Output",
               "history": "History", "alerts": "Failures", "all": "Everything", "app": "App"}


def help_entries(bindings: Iterable[Binding | tuple]) -> list[tuple[str, Binding]]:
    """(group, binding) for the help screen: each key/action once, in `HELP_GROUPS` order
    (a binding whose id names no group is listed under App)."""
    entries: list[tuple[str, Binding]] = []
    seen: set[str] = set()
    for binding in bindings:
        assert isinstance(binding, Binding)
        group = HELP_GROUPS.get((binding.id or "app").split(".")[0], "App")
        key = f"{binding.key}:{binding.action}"
        if key not in seen:
            seen.add(key)
            entries.append((group, binding))
    order = list(HELP_GROUPS.values())
    entries.sort(key=lambda e: order.index(e[0]) if e[0] in order else len(order))
    return entries
