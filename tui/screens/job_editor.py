"""The job editor: a form for a job's common keys, checked on every change by the same
validator as `crondeck check`, saved atomically (the previous file kept as `.bak`) and
applied to the running scheduler at once through the Runtime.

`target` is anything with the Runtime's shape: `.config`, `.scheduler`,
`.apply(new_config) -> Reload` and `.replaced_by(new_config)` (a `crondeck.core.runtime.Runtime`
is one). The screen dismisses with a `Saved` describing what happened, or None when
cancelled. A change is applied to the job in place (a run in progress goes on); a save
that would remove a job whose run is in progress (a new name) first asks whether to wait
for the run or terminate it (`RunningJobDialog`); either way it is applied and written once
the job is idle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar, Protocol

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.markup import escape
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static, TextArea

from crondeck.core import (
    CATCHUPS,
    OVERLAPS,
    Config,
    ConfigError,
    CronError,
    FileChanged,
    JobOptions,
    ZoneError,
    get_zone,
    local_zone,
    parse,
    plan_save,
)

from ..cron_view import gap
from ..file_conflicts import resolve
from ..job_form import INLINE_COMMAND, INLINE_PYTHON, Checked, JobForm, check_form
from .cron_builder import CronBuilderScreen, NewJobSchedule, zone_names
from .discard_dialog import DiscardChoice, DiscardDialog
from .quit_guard import KeepsQuitKey
from .running_job_dialog import RunningChoice, RunningJobDialog, finish_then, running_since

__all__ = ["JobEditorScreen", "JobsTarget", "Saved"]

_INPUTS = ("name", "command", "schedule", "timezone", "pre_run", "timeout", "max_runs")
# the fields with a line for their problems, top to bottom
_SHOWN_ORDER = ("name", "command", "agent", "prompt", "schedule", "timezone", "pre_run",
                "timeout", "overlap", "catchup", "max_runs")
# The Command box, by kind: what to type when it is empty (the validator's 'empty command:
# give a shell string or an argv list' speaks of the file, where the form has one text box),
# and its placeholder.
_EMPTY_COMMAND = {
    INLINE_COMMAND: "empty command: type what to run, as in a shell, e.g. ./scripts/report.sh",
    INLINE_PYTHON: "empty target: type the function to call, as package.module:function",
}
# What each overlap / catch-up choice does, in the line under them (bare policy names
# meant nothing to a new user). Worded from crondeck.core.slots.
_OVERLAP_MEANS = {
    "skip": "a slot due while the job is still running is skipped",
    "queue_one": "waits for the running one to end, then runs (one waits at most)",
    "replace": "the running one is terminated and the new one starts",
    "allow": "runs alongside the one still running",
}
_CATCHUP_MEANS = {
    "latest": "after crondeck was down, only the latest missed slot runs",
    "none": "after crondeck was down, missed slots are not run",
    "all": "after crondeck was down, every missed slot runs",
}
_COMMAND_HINT = {
    INLINE_COMMAND: "shell command line, e.g. ./scripts/report.sh --quiet",
    INLINE_PYTHON: "package.module:function, e.g. mytools.jobs:nightly",
}


class JobsTarget(Protocol):
    config: Config
    scheduler: Any

    def apply(self, new: Config) -> Any: ...

    def replaced_by(self, new: Config) -> list[str]: ...


@dataclass(frozen=True)
class Saved:
    """What a save did: the job's name, "created", "updated" or (waiting for a run) what
    will happen, and the backup file (None until written). `announced`: the operator has
    been told already (a change waiting for a run announces itself)."""

    job: str
    action: str
    backup: Path | None
    announced: bool = False


def save_job(target: JobsTarget, form: JobForm, original: str | None, *,
             onto: str | None = None, base: Config | None = None) -> Path | None:
    """Check `form` against `base` (the jobs file as it is now, by default), apply it to the
    scheduler, then edit the file in place (`.bak` kept); returns the backup. Raises
    ValueError (invalid now), ConfigError (the file would not load), FileChanged (someone
    else edited the file since `base` was read: `onto` says what to make the change to
    instead, see `plan_save`) or RuntimeError (the scheduler refused: an agent that cannot
    be built); nothing is written then. OSError if the file cannot be written."""
    base = base if base is not None else target.config
    checked = check_form(base, form, original)
    if checked.config is None:
        problems = [m for ms in checked.problems.values() for m in ms] + checked.other
        raise ValueError("; ".join(problems) or "the job is not valid")
    planned = plan_save(checked.config, base=base, onto=onto)
    outcome = target.apply(planned.config)
    problems = getattr(outcome, "problems", [])
    if problems:
        raise RuntimeError("; ".join(str(getattr(p, "message", p)) for p in problems))
    return planned.write()


def _entry(config: Config, name: str) -> dict[str, Any] | None:
    """The job's `[[jobs]]` table as `config` would write it (None: no such job)."""
    return next((j for j in config.to_dict().get("jobs", []) if j.get("name") == name), None)


class JobEditorScreen(KeepsQuitKey, Screen[Saved | None]):
    CSS_PATH = "job_editor.tcss"
    BINDINGS: ClassVar = [
        Binding("ctrl+s", "save", "Save", id="editor.save",
                tooltip="save the job to the jobs file and apply it now"),
        Binding("ctrl+b", "builder", "Cron builder", id="editor.builder",
                tooltip="open the cron builder for the schedule"),
        Binding("escape", "cancel", "Cancel", id="editor.cancel",
                tooltip="close without saving"),
    ]

    def __init__(self, target: JobsTarget, job: str | None = None, *,
                 now: Callable[[], datetime] | None = None, zone: tzinfo | None = None,
                 live: bool = True) -> None:
        super().__init__()
        self.target = target
        self.original = job
        self.form = (JobForm.from_config(target.config, job) if job is not None
                     else JobForm.new(target.config))
        self.now = now or (lambda: datetime.now(UTC))
        self.zone = zone or local_zone()
        self.live = live
        self.checked: Checked = Checked(None)
        self._read = target.config  # the jobs file as the form was filled from it
        self._name_touched = job is not None
        self._pristine: dict[str, Any] = {}  # the form as opened (set once mounted)
        # what a save makes the change to, once the operator chose about someone else's
        # edit on disk (their text to keep both, the text read to keep mine); None: ask
        self._onto: str | None = None
        # a schedule (and zone) tried in the cron builder, put in once the form shows the
        # job as saved: Escape then asks before dropping it
        self.tried: NewJobSchedule | None = None

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        f = self.form
        title = f"Edit job “{self.original}”" if self.original else "New job"
        agents = [(f"agent: {name}", name) for name in self.target.config.agents]
        sources = [*agents, ("inline command", INLINE_COMMAND), ("inline python", INLINE_PYTHON)]
        with VerticalScroll(id="form"):
            yield Label(title, id="title")
            yield Static("", id="running-note")
            yield from self._row("name", "Name", Input(f.name, id="name", compact=True,
                                 placeholder="letters, digits, spaces and . _ - : +"))
            with Horizontal(classes="row"):
                yield Label("Enabled", classes="label")
                yield Checkbox("runs on schedule (off: disabled, never fires)", f.enabled,
                               id="enabled", compact=True)
            with Horizontal(classes="row"):
                yield Label("Agent", classes="label")
                yield Select(sources, value=f.source, allow_blank=False, id="source",
                             compact=True)
            yield from self._row("command", "Command", Input(
                f.command, id="command", compact=True,
                placeholder=_COMMAND_HINT.get(f.source, _COMMAND_HINT[INLINE_COMMAND])))
            with Horizontal(classes="row prompt-row"):
                yield Label("Prompt", classes="label")
                yield TextArea(f.prompt, id="prompt", compact=True, soft_wrap=True,
                               show_line_numbers=False,
                               placeholder="optional: the text the agent or command is given "
                                           "on each run (blank: none)")
            yield Static("", id="prompt-error", classes="error")
            with Horizontal(classes="row"):
                yield Label("Schedule", classes="label")
                yield Input(f.schedule, id="schedule", compact=True,
                            placeholder="*/5 * * * *, @daily or @every 90s")
                yield Button("Builder… (ctrl+b)", id="open-builder", compact=True)
            yield Static("", id="schedule-info", classes="info")
            yield Static("", id="schedule-error", classes="error")
            yield from self._row("timezone", "Time zone", Input(
                f.timezone, id="timezone", compact=True,
                suggester=SuggestFromList(zone_names(), case_sensitive=False),
                placeholder=f"blank: [defaults] or this machine's ({self._default_zone()})"))
            yield from self._row("pre_run", "Pre-run", Input(
                f.pre_run, id="pre_run", compact=True,
                placeholder="gate script; non-zero exit skips the run (blank: none)"))
            yield from self._row("timeout", "Timeout", Input(
                f.timeout, id="timeout", compact=True, placeholder="e.g. 10m (blank: default)"))
            blank = [("default", "")]
            with Horizontal(classes="row"):
                yield Label("Overlap", classes="label")
                yield Select([*blank, *((o, o) for o in OVERLAPS)], value=f.overlap,
                             allow_blank=False, id="overlap", compact=True)
                yield Label("Catch-up", classes="label inline-label")
                yield Select([*blank, *((c, c) for c in CATCHUPS)], value=f.catchup,
                             allow_blank=False, id="catchup", compact=True)
            yield Static("", id="policy-info", classes="info")
            yield Static("", id="overlap-error", classes="error")
            yield Static("", id="catchup-error", classes="error")
            yield from self._row("max_runs", "Max runs", Input(
                f.max_runs, id="max_runs", compact=True, restrict=r"\d*",
                placeholder="stop after this many runs (blank: no limit)"))
            yield Static("", id="other-errors", classes="error")
            with Horizontal(id="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary")
                yield Button("Cancel (esc)", id="cancel")
        yield Footer()

    def _row(self, key: str, label: str, widget: Any) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(label, classes="label")
            yield widget
        yield Static("", id=f"{key}-error", classes="error")

    def _default_zone(self) -> str:
        name = self.target.config.defaults.timezone
        return name or str(getattr(local_zone(), "key", "UTC"))

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = self.live
        self.query_one(TextArea).cursor_blink = self.live
        job = self.target.scheduler.jobs.get(self.original) if self.original else None
        note = self.query_one("#running-note", Static)
        note.display = job is not None and bool(job.running)
        note.update("▶ Running now: if your change replaces the job, saving asks whether to "
                    "wait for the run or terminate it.")
        self.query_one("#name", Input).focus()
        self.validate()
        self._pristine = self.read_form().to_entry()  # what Escape compares against
        if self.tried is not None:
            self.query_one("#schedule", Input).value = self.tried.expression
            if self.tried.timezone:
                self.query_one("#timezone", Input).value = self.tried.timezone
        if self.live:  # "next … in 9s" counts down while the form is open
            self.set_interval(1.0, lambda: self._schedule_info(self.form),
                              name="editor-countdown")

    # -- validation -------------------------------------------------------------------------

    def read_form(self) -> JobForm:
        f = self.form
        for key in _INPUTS:
            setattr(f, key, self.query_one(f"#{key}", Input).value)
        f.source = str(self.query_one("#source", Select).value)
        f.prompt = self.query_one("#prompt", TextArea).text
        f.overlap = str(self.query_one("#overlap", Select).value)
        f.catchup = str(self.query_one("#catchup", Select).value)
        f.enabled = self.query_one("#enabled", Checkbox).value
        return f

    def validate(self) -> Checked:
        """Check the form with the config validator; show each problem under its field."""
        form = self.read_form()
        was_ok = self.checked.ok
        self.checked = checked = check_form(self.target.config, form, self.original)
        for key in ("name", "command", "prompt", "schedule", "timezone", "pre_run", "timeout",
                    "overlap", "catchup", "max_runs"):
            messages = checked.problems.get(key, [])
            if key == "name" and not form.name and not self._name_touched:
                messages = []  # a fresh form: no shouting before the operator has typed
            if key == "command":
                messages = messages + checked.problems.get("agent", [])
                if messages and form.source in _EMPTY_COMMAND and not form.command.strip():
                    messages = [_EMPTY_COMMAND[form.source]]
            warnings = checked.warnings.get(key, [])  # in the warning colour: Save stays on
            widget = self.query_one(f"#{key}-error", Static)
            widget.update(Content.from_markup("\n".join(
                [*(f"✗ {escape(m)}" for m in messages),
                 *(f"[$warning]⚠ {escape(m)}[/]" for m in warnings)])))
            widget.display = bool(messages or warnings)
            if key in _INPUTS:  # the field itself tinted too, not only the line below it
                box = self.query_one(f"#{key}", Input)
                box.set_class(bool(messages), "-invalid")
                box.set_class(not messages, "-valid")
        other = self.query_one("#other-errors", Static)
        other.update("\n".join(f"✗ {m}" for m in checked.other))
        other.display = bool(checked.other)
        inline = form.source in (INLINE_COMMAND, INLINE_PYTHON)
        command = self.query_one("#command", Input)
        command.parent.display = inline  # type: ignore[union-attr]
        if inline:
            command.placeholder = _COMMAND_HINT[form.source]
        self._schedule_info(form)
        self._policy_info(form)
        self.query_one("#save", Button).disabled = not checked.ok
        if checked.ok != was_ok:  # Save is the only binding that depends on the form; a
            self.refresh_bindings()  # refresh rebuilds the whole footer, on every keystroke
        return checked

    def _policy_info(self, form: JobForm) -> None:
        try:  # what the job gets without keys of its own
            inherited = self.target.config.options()
        except ValueError:  # [defaults] the scheduler refuses (saving reports why)
            inherited = JobOptions()
        lines = []
        for label, chosen, default, means in (
                ("overlap", form.overlap, inherited.overlap, _OVERLAP_MEANS),
                ("catch-up", form.catchup, inherited.catchup, _CATCHUP_MEANS)):
            name = chosen or f"(default: {default})"
            lines.append(f"{label} {name} — {means.get(chosen or default, '')}")
        self.query_one("#policy-info", Static).update("\n".join(lines))

    def _schedule_info(self, form: JobForm) -> None:
        info = self.query_one("#schedule-info", Static)
        try:
            zone = get_zone(form.timezone.strip()) if form.timezone.strip() else (
                get_zone(self._default_zone()))
            expr = parse(form.schedule, zone)
        except (CronError, ZoneError):
            info.update("")
            info.display = False  # no empty line between the field and its error
            return
        now = self.now()
        nxt = expr.next_after(now)
        local = nxt.astimezone(self.zone)
        # The description is in the job's zone ("At 09:00"), the next fire in this machine's
        # (as on the dashboard): name both, or "09:00 … next 08:00" reads as a mistake.
        when = f"{local:%a %d %b %H:%M} {local.tzname() or ''}".rstrip()
        if nxt.utcoffset() != local.utcoffset():
            when += f" ({nxt:%H:%M} in {getattr(zone, 'key', None) or nxt.tzname()})"
        info.update(f"{expr.describe()} · next {when} · in "
                    f"{gap((nxt - now).total_seconds())[1:]}")
        info.display = True

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(TextArea.Changed)
    def _changed(self, event: Input.Changed | Select.Changed | Checkbox.Changed
                 | TextArea.Changed) -> None:
        if isinstance(event, Input.Changed) and event.input.id == "name" and event.value:
            self._name_touched = True
        if self.is_mounted:
            self.validate()

    @on(Input.Blurred, "#name")
    def _name_left(self) -> None:
        if not self._name_touched:
            self._name_touched = True  # leaving it empty is worth saying now
            self.validate()

    # -- actions ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "save":
            return True if self.checked.ok else None
        return True

    def on_key(self, event: events.Key) -> None:
        if event.key == "ctrl+s" and not self.checked.ok:
            # Save is off, and the field in error may be out of view: show it, not nothing
            event.stop()
            self.app.bell()
            self._name_touched = True  # a fresh form's empty name is worth saying now
            self.validate()
            self._show_first_problem()

    def _show_first_problem(self) -> None:
        problems = self.checked.problems
        key = next((k for k in _SHOWN_ORDER if problems.get(k)), None)
        if key is None:  # a problem the form cannot point at
            self.query_one("#other-errors").scroll_visible(animate=False)
            return
        field, line = key, key
        if key in ("command", "agent"):  # said under the command, about the agent chosen
            inline = self.form.source in (INLINE_COMMAND, INLINE_PYTHON)
            field, line = ("command" if inline else "source"), "command"
        self.query_one(f"#{field}").focus(scroll_visible=False)
        self.query_one(f"#{line}-error").scroll_visible(animate=False)

    @on(Button.Pressed, "#open-builder")
    def action_builder(self) -> None:
        form = self.read_form()
        zone = form.timezone.strip() or self._default_zone()
        try:
            get_zone(zone)
        except ZoneError:
            zone = self._default_zone()

        def use(chosen: str | NewJobSchedule | None) -> None:
            expression = chosen.expression if isinstance(chosen, NewJobSchedule) else chosen
            if expression:
                self.query_one("#schedule", Input).value = expression

        self.app.push_screen(CronBuilderScreen(form.schedule, zone=zone, now=self.now,
                                               local=self.zone, use=True, live=self.live), use)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close; with changes in the form, ask first (a stray Escape lost them)."""
        if self.read_form().to_entry() == self._pristine:
            self.dismiss(None)
            return
        what = f"“{self.original}”" if self.original else "the new job"

        def chosen(choice: DiscardChoice | None) -> None:
            if choice == "discard":
                self.dismiss(None)

        self.app.push_screen(DiscardDialog(what), chosen)

    def _base(self) -> Config:
        """The config a save makes the change from: the one applied now, unless a reload
        since the form was filled changed this very job. The form then still holds their
        old values, so the change is made from the file as read, and the save asks about
        their edit as about one on disk not yet reloaded."""
        now = self.target.config
        if now is self._read or self.original is None:
            return now
        if _entry(now, self.original) == _entry(self._read, self.original):
            return now
        return self._read

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        self._name_touched = True
        checked = self.validate()
        if checked.config is None:
            self.app.bell()
            return
        new = checked.config
        base = self._base()
        if base is not self.target.config:
            checked = check_form(base, self.form, self.original)
            if checked.config is None:
                self._show_other("✗ " + "; ".join(
                    [m for ms in checked.problems.values() for m in ms] + checked.other))
                return
            new = checked.config
        try:  # before anything else: someone else's edit on disk is asked about first
            plan_save(new, base=base, onto=self._onto)
        except FileChanged as changed:
            self._file_changed(changed, new)
            return
        except ConfigError as exc:
            self._show_other(f"✗ {exc}")
            return
        if self._replaces_running(new):
            job = self.target.scheduler.jobs[self.original]
            self.app.push_screen(
                RunningJobDialog(str(self.original), "save", started=running_since(job),
                                 now=self.now(), zone=self.zone), self._running_choice)
            return
        try:
            backup = save_job(self.target, self.form, self.original, onto=self._onto,
                              base=base)
        except FileChanged as changed:  # changed again since the check above
            self._file_changed(changed, new)
            return
        except (ValueError, RuntimeError, ConfigError) as exc:  # nothing saved
            self._show_other(f"✗ {exc}")
            return
        except OSError as exc:
            self._show_other(f"✗ cannot write the file: {exc}")
            return
        self.dismiss(Saved(self.form.name, "updated" if self.original else "created", backup))

    def _file_changed(self, changed: FileChanged, new: Config) -> None:
        """Someone else edited the file since it was read: ask, then save as chosen."""
        def save(onto: str) -> None:
            self._onto = onto
            self.action_save()

        def dropped() -> None:
            self.dismiss(None)

        resolve(self.app, self.target, changed, new, save, dropped=dropped, base=self._base())

    def _show_other(self, text: str) -> None:
        other = self.query_one("#other-errors", Static)
        other.update(text)
        other.display = True

    def _replaces_running(self, new: Config) -> bool:
        """Would applying `new` remove (and so stop) the edited job's run in progress?"""
        job = self.target.scheduler.jobs.get(self.original) if self.original else None
        if job is None or not job.running:
            return False
        replaced_by = getattr(self.target, "replaced_by", None)
        return replaced_by is None or self.original in replaced_by(new)

    def _running_choice(self, choice: RunningChoice | None) -> None:
        if choice is None:
            return  # back to the editor, nothing changed
        target, form, original = self.target, self.form, self.original
        name = form.name

        ended = "finished" if choice == "wait" else "was terminated"
        renamed = f" (was {original})" if original != name else ""

        onto, base = self._onto, self._base()

        def commit() -> str:
            backup = save_job(target, form, original, onto=onto, base=base)
            kept = f"; previous file kept as {backup.name}" if backup else ""
            return f"{name}{renamed} updated: its run {ended}{kept}"

        when = ("when its current run ends" if choice == "wait"
                else "as soon as its run has stopped")
        pending = f"{original}: the change is applied {when}; no new run starts meanwhile"
        finish_then(self.app, target.scheduler, str(original), choice, commit,
                    what="apply an edit", pending=pending)
        self.dismiss(Saved(name, pending, None, announced=True))
