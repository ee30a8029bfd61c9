"""The job editor's model, without Textual: form values <-> a `[[jobs]]` entry, validated by
the same code as `crondeck check` (`crondeck.core.config.parse_config`) on the whole file
as it would be written, so the editor can never save what crondeck would refuse to load.

Keys the form does not show (env, cwd, retries, until, ...) are carried over unchanged.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from crondeck.core import Config, ConfigError, Problem, duplicate_name, parse_config, to_toml_value

__all__ = ["FORM_KEYS", "INLINE_COMMAND", "INLINE_PYTHON", "Checked", "JobForm", "check_form",
           "without_job"]

INLINE_COMMAND = "command"
INLINE_PYTHON = "python"
# form field -> TOML key(s) it writes; problems on these keys are shown under the field
# keys whose validator warnings (a program not found) the form shows under the field
WARNED_KEYS = ("command", "pre_run")
FORM_KEYS = ("name", "agent", "command", "python", "prompt", "schedule", "timezone",
             "pre_run", "timeout", "overlap", "catchup", "max_runs")
# the keys the form holds as the text written in the file (blank: not in the file)
_TEXT_KEYS = ("timezone", "pre_run", "timeout", "overlap", "catchup")


@dataclass
class JobForm:
    """What the form holds, as text. `source` is an agent name, INLINE_COMMAND or
    INLINE_PYTHON; `command` holds the command or python target for the inline kinds. Empty
    optional fields are left out of the file (the job inherits [defaults])."""

    name: str = ""
    source: str = INLINE_COMMAND
    command: str = ""
    prompt: str = ""
    schedule: str = "*/5 * * * *"
    timezone: str = ""
    pre_run: str = ""
    timeout: str = ""
    overlap: str = ""
    catchup: str = ""
    max_runs: str = ""
    enabled: bool = True
    # what the job gets without its own `enabled` key ([defaults]); the key is written only
    # when the form differs from it, or when the job already had the key
    default_enabled: bool = True
    # the job's other keys, carried over as they are; and the argv list it had, if any
    extra: dict[str, Any] = field(default_factory=dict)
    original_argv: list[str] | None = None

    @classmethod
    def new(cls, config: Config) -> JobForm:
        """A blank form for a new job in `config` (first defined agent, [defaults]' enabled)."""
        on = config.enabled()
        return cls(source=next(iter(config.agents), INLINE_COMMAND), enabled=on,
                   default_enabled=on)

    @classmethod
    def from_config(cls, config: Config, name: str) -> JobForm:
        """The form for an existing job, from the file as crondeck would write it."""
        doc = config.to_dict()
        raw = next(j for j in doc.get("jobs", []) if j.get("name") == name)
        raw = dict(raw)
        form = cls(name=raw.pop("name"), schedule=raw.pop("schedule", ""))
        argv = None
        if "agent" in raw:
            form.source = raw.pop("agent")
        elif "python" in raw:
            form.source, form.command = INLINE_PYTHON, raw.pop("python")
        elif "command" in raw:
            command = raw.pop("command")
            form.source = INLINE_COMMAND
            if isinstance(command, list):
                argv = list(command)
                form.command = shlex.join(command)
            else:
                form.command = command
        form.original_argv = argv
        form.prompt = raw.pop("prompt", "")
        for key in _TEXT_KEYS:
            form_value = raw.pop(key, "")
            setattr(form, key, str(form_value))
        max_runs = raw.pop("max_runs", None)
        form.max_runs = "" if max_runs is None else str(max_runs)
        form.default_enabled = config.enabled()
        own = raw.pop("enabled", None)
        form.enabled = form.default_enabled if own is None else bool(own)
        if own is not None:
            form.extra["enabled"] = own  # had the key: keep writing it (see to_entry)
        form.extra |= raw
        return form

    def to_entry(self) -> dict[str, Any]:
        """The `[[jobs]]` table this form writes."""
        entry: dict[str, Any] = {"name": self.name}
        if self.source == INLINE_COMMAND:
            command: str | list[str] = self.command
            if self.original_argv is not None and self.command == shlex.join(self.original_argv):
                command = self.original_argv  # unchanged: keep the argv list as written
            entry["command"] = command
        elif self.source == INLINE_PYTHON:
            entry["python"] = self.command
        else:
            entry["agent"] = self.source
        if self.prompt:
            entry["prompt"] = self.prompt
        entry["schedule"] = self.schedule
        for key in _TEXT_KEYS:
            value = getattr(self, key).strip()
            if value:
                entry[key] = value
        if self.max_runs.strip():
            text = self.max_runs.strip()
            entry["max_runs"] = int(text) if text.isdigit() else text
        if self.enabled != self.default_enabled or "enabled" in self.extra:
            entry["enabled"] = self.enabled
        for key, value in self.extra.items():
            if key == "prompt_via" and self.source not in (INLINE_COMMAND,):
                continue  # prompt_via belongs with an inline command only
            entry.setdefault(key, value)
        return entry


@dataclass
class Checked:
    """The outcome of checking a form: the config to save, or the problems by field."""

    config: Config | None
    problems: dict[str, list[str]] = field(default_factory=dict)  # form field -> messages
    other: list[str] = field(default_factory=list)  # problems the form cannot point at
    # the validator's warnings on this job's command and pre_run (a program not found):
    # shown under the field, and they do not stop the save
    warnings: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.config is not None


def check_form(config: Config, form: JobForm, original: str | None = None) -> Checked:
    """Validate the file as it would be written, with the validator `crondeck check` uses.

    Only the edited job is parsed (with the file's defaults and agents, and its name checked
    against the other jobs): the rest of the file was validated when it was loaded, and a
    10,000-job file re-read on every keystroke would take half a second each."""
    if not form.name.strip():
        return Checked(None, {"name": ["a job needs a name"]})
    entry = form.to_entry()
    name = entry.get("name", form.name)
    others = {j.name: i for i, j in enumerate(config.jobs) if j.name != original}
    if name in others:
        return Checked(None, {"name": [duplicate_name(name, others[name])]})
    doc = replace(config, jobs=[]).to_dict()
    doc["jobs"] = [entry]
    try:
        text = tomli_w.dumps(to_toml_value(doc))
    except (TypeError, ValueError) as exc:
        return Checked(None, other=[f"cannot write this job: {exc}"])
    try:
        alone = parse_config(text, Path(config.path))
    except ConfigError as exc:
        return _sorted(exc.problems, form)
    job = alone.jobs[0]
    if original is None:
        jobs = [*config.jobs, job]
    else:
        jobs = [job if j.name == original else j for j in config.jobs]
    mine = [w for w in alone.warnings if w.job == name]
    gone = {name} if original is None else {name, original}
    order = {j.name: i for i, j in enumerate(jobs)}  # as the file lists them, file-wide first
    warnings = sorted([w for w in config.warnings if w.job not in gone] + mine,
                      key=lambda w: -1 if w.job is None else order.get(w.job, -1))
    new = replace(config, jobs=jobs, warnings=warnings)
    checked = Checked(new)
    for w in mine:
        if w.key in WARNED_KEYS:
            checked.warnings.setdefault(str(w.key), []).append(w.message)
    return checked


def _sorted(problems: list[Problem], form: JobForm) -> Checked:
    out = Checked(None)
    for p in problems:
        key = p.key if p.key in FORM_KEYS else None
        if key in ("command", "python"):
            key = "agent" if form.source not in (INLINE_COMMAND, INLINE_PYTHON) else "command"
        elif key == "agent" and form.source in (INLINE_COMMAND, INLINE_PYTHON):
            key = "command"
        if p.job not in (form.name, None) and not (p.job or "").startswith("#"):
            out.other.append(str(p))  # another job's problem (should not happen)
        elif key is None:
            out.other.append(p.message)
        else:
            out.problems.setdefault(key, []).append(p.message)
    return out


def without_job(config: Config, name: str) -> Config:
    """The config with one job removed (nothing else can turn invalid for that)."""
    return replace(config, jobs=[j for j in config.jobs if j.name != name],
                   warnings=[w for w in config.warnings if w.job != name])
