"""The jobs file (`crondeck.toml`): load it into dataclasses, validate it, save it back.

Validation never stops at the first problem: every one is collected with the file, the line
where known, the job and the key, and what would be right (the nearest valid key for a typo),
so one `crondeck check` shows everything to fix. Saving validates first, edits the file in
place (comments and layout kept, see `jobs_file`) and keeps the previous version as
`crondeck.toml.bak`.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import save_with_backup
from .collector import collector_paused
from .config_keys import (
    AGENT_KEYS,
    JOB_KEYS,
    MODEL_KEYS,
    MODEL_KINDS,
    NAME_OK,
    POLICY_KEYS,
    SCHEDULER_KEYS,
    TOP_KEYS,
    Invalid,
    bad_name,
    type_name,
)
from .config_model import (
    AgentSpec,
    Config,
    JobSpec,
    Policy,
    Problem,
    SchedulerSettings,
    Warnings,
)
from .cronexpr import CronError, parse
from .lazyclass import dataclass
from .programs import program_of
from .templates import unknown_placeholders
from .toml_fast import loads as plain_toml
from .tomllines import KeyLines, syntax_error_line
from .zones import ZoneError, get_zone, local_zone

if TYPE_CHECKING:
    from .jobs_file import FileChanged
else:
    def __getattr__(name: str) -> Any:
        # FileChanged lives beside the tomlkit editor, slow to import: loaded when asked for.
        if name == "FileChanged":
            from .jobs_file import FileChanged

            return FileChanged
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "AgentSpec",
    "Config",
    "ConfigError",
    "FileChanged",
    "JobSpec",
    "PlannedSave",
    "Policy",
    "Problem",
    "SchedulerSettings",
    "load_config",
    "parse_config",
    "plan_save",
    "read_jobs_text",
    "save_config",
]

class ConfigError(Exception):
    """The jobs file cannot be used; `problems` lists everything that is wrong."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# --- loading -----------------------------------------------------------------------------


def load_config(path: str | Path) -> Config:
    """Read and validate the jobs file; raises ConfigError listing every problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(path, "no such file: create it, or point --config or "
                                   "$CRONDECK_CONFIG at your jobs file")]) from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError([Problem(
            path, f"cannot read the jobs file: it is not UTF-8 (byte 0x{data[exc.start]:02x} at "
            f"column {column}); save it as UTF-8", line=line)]) from None
    except OSError as exc:
        raise ConfigError([Problem(path, f"cannot read the jobs file: {exc}")]) from None
    del data  # the text is what is read: not a second copy of a big file while it is
    return parse_config(text, path)


def duplicate_name(name: str, first: int) -> str:
    """The problem of a second job called `name` (the job at index `first` has it)."""
    return f"duplicate job name {name!r} (job #{first + 1} has it too); job names must be unique"


_NO_NUL = frozenset(("command", "cwd", "env", "pre_run", "python"))


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


_DEEP = re.compile(r"[\[{](?:\s*[\[{]){49}")
_LONG_NUMBER = re.compile(r"[0-9a-fA-F_]{4000,}")


def _tomllib() -> Any:
    """tomllib, imported when a file is not in the fast reader's plain subset (or is not
    TOML at all): a small plain file is read without it."""
    import tomllib

    return tomllib


def parse_config(text: str, path: str | Path = "crondeck.toml") -> Config:
    """Validate TOML text as a jobs file (see load_config)."""
    path = Path(path)
    if text.startswith("\ufeff"):  # tomllib's own word for it: "Invalid statement"
        raise ConfigError([Problem(
            path, "the file starts with a byte order mark (BOM, bytes EF BB BF), which TOML "
            "does not allow; save it as UTF-8 without BOM", line=1)])
    try:
        doc = plain_toml(text)
        if doc is None:  # not in the plain subset the fast reader takes
            doc = _tomllib().loads(text)
    except _tomllib().TOMLDecodeError as exc:  # evaluated only once something was raised
        raise ConfigError(
            [Problem(path, f"not valid TOML: {exc}", line=syntax_error_line(str(exc), text))]
        ) from None
    except RecursionError:  # tomllib recurses once per level of [ or {
        deep = _DEEP.search(text)
        raise ConfigError([Problem(
            path, "not valid TOML here: arrays or tables nested too deeply for crondeck to read "
            "(a few hundred levels); flatten the value",
            line=text.count("\n", 0, deep.start()) + 1 if deep else None)]) from None
    except ValueError:  # int() refuses numbers of over 4,300 digits
        long = _LONG_NUMBER.search(text)
        raise ConfigError([Problem(
            path, f"not valid TOML here: a number of over {sys.get_int_max_str_digits()} digits "
            "is too large to read", line=text.count("\n", 0, long.start()) + 1 if long else None)]
        ) from None
    with collector_paused():
        config = _Validator(path, KeyLines.deferred(text)).run(doc)
    config.source = text
    return config


def read_jobs_text(path: str | Path) -> str | None:
    """The jobs file's text as it is on disk now (None when there is no such file)."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(Path(path), f"cannot read the jobs file: {exc}")]) from None


@dataclass
class PlannedSave:
    """A checked save, not yet written: the file's new text and the config it reads as
    (with `source` set to that text)."""

    path: Path
    text: str
    config: Config
    disk: str | None  # the text it replaces

    def write(self) -> Path | None:
        """Write atomically, the previous file kept as `.bak`; returns the backup."""
        return save_with_backup(self.path, self.text.encode("utf-8"))


def plan_save(config: Config, path: str | Path | None = None, *, base: Config | None = None,
              onto: str | None = None) -> PlannedSave:
    """Work out how saving `config` changes the jobs file, without writing.

    `base` is the config the change was made from (the one the app read): the file is
    edited in place from its `source` text, and if the file on disk no longer reads that
    way (someone else edited it) FileChanged is raised, so their edit is never overwritten
    unasked. `onto` is the text to make the same change to instead: the file on disk now,
    to keep their edit and mine, or `base.source`, to keep mine over theirs. Without a
    `base` read from a file, the file on disk is the base when it is valid, else the file
    is written anew. Raises ConfigError if the result would not load."""
    # tomlkit, behind jobs_file, is slow to import and only saving needs it.
    from .jobs_file import FileChanged, JobsFileError, edit_jobs_text

    target = Path(path) if path is not None else Path(config.path)
    disk = read_jobs_text(target)
    if base is not None and base.source is None:
        base = None  # built in code: there is no text it was read from
    if base is None:
        try:
            base = parse_config(disk, target) if disk is not None else None
        except ConfigError:
            base = None
    elif onto is None and disk != base.source:
        raise FileChanged(target, base.source or "", disk)
    text = onto if onto is not None else (base.source if base is not None else None)
    try:
        if base is None or text is None:
            new_text = edit_jobs_text(_EMPTY, parse_config(_EMPTY, target), config)
        else:
            new_text = edit_jobs_text(text, base, config)
    except JobsFileError as exc:
        raise ConfigError([Problem(target, f"cannot make the change to this file: {exc}")]
                          ) from None
    saved = parse_config(new_text, target)  # never write what crondeck would refuse to load
    if onto is None and saved != replace(config, path=target):
        # the edit did not land where it should: write nothing rather than something else
        raise ConfigError([Problem(target, "cannot make the change to this file in place "
                                   "(it would read differently); edit it by hand")])
    return PlannedSave(target, new_text, saved, disk)


def save_config(config: Config, path: str | Path | None = None, *,
                base: Config | None = None) -> Path | None:
    """Validate `config` and write it over the jobs file, editing the file in place (its
    comments, order and layout kept) and keeping the previous version as `.bak`. Raises
    ConfigError (and writes nothing) if the config is not valid, FileChanged if `base` was
    given and the file changed on disk since it was read. Returns the backup."""
    return plan_save(config, path, base=base).write()


_EMPTY = ""


# Words /bin/sh runs itself (builtins, keywords): `pre_run = "test -f x"`, `command = "cd
# sub && make"` start with no program file to look for.
_SHELL_WORDS = frozenset((
    "!", ".", ":", "[", "[[", "{", "(", "alias", "bg", "break", "builtin", "case", "cd",
    "command", "continue", "echo", "eval", "exec", "exit", "export", "false", "fg", "for",
    "function", "getopts", "hash", "if", "jobs", "kill", "local", "printf", "pwd", "read",
    "readonly", "return", "set", "shift", "source", "test", "time", "times", "trap", "true",
    "type", "ulimit", "umask", "unalias", "unset", "until", "wait", "while"))


def _runs_a_file(program: str) -> bool:
    """Is a shell line's first word a program file to look for (not a shell word, not
    something the shell expands first)?"""
    return program not in _SHELL_WORDS and not any(ch in program for ch in "$`*?;|&<>(){}~")


def on_path(program: str, path_env: str | None = None) -> bool:
    """`shutil.which(program, path=path_env) is not None` for a bare name, found the same way
    (each PATH entry once, an executable file, not a directory) without importing shutil,
    which loads zlib, bz2 and lzma for its archives."""
    if os.name != "posix":
        import shutil

        return shutil.which(program, path=path_env) is not None
    path = path_env
    if path is None:
        path = os.environ.get("PATH")
        if path is None:
            try:
                path = os.confstr("CS_PATH")
            except (AttributeError, ValueError):
                path = os.defpath
    if not path:
        return False
    seen: set[str] = set()
    for directory in path.split(os.pathsep):
        if directory in seen:
            continue
        seen.add(directory)
        name = os.path.join(directory, program)
        if (os.path.exists(name) and os.access(name, os.F_OK | os.X_OK)
                and not os.path.isdir(name)):
            return True
    return False


def program_found(program: str, dirs: tuple[Path, ...], path_env: str | None = None) -> bool:
    """Can `program` be started? A bare name is looked up on PATH only (`path_env`, default
    this process's), as the shell and exec do; a relative path in any of `dirs` (the jobs
    file's directory, the job's cwd)."""
    if "/" not in program:
        return on_path(program, path_env)
    path = Path(program)
    if path.is_absolute():
        return path.exists()
    return any((d / path).exists() for d in dirs)


# A warning found while checking: its message, key path (for its line), job and key.
_Warning = tuple[str, tuple[str | int, ...], str | None, str | None]
_SPEC_FIELDS = tuple(f.name for f in dataclass_fields(JobSpec) if f.name not in ("name", "policy"))
_PLAIN = (str, int, float, bool)


def _shape(data: dict[str, Any]) -> tuple[object, ...] | None:
    """A job's keys and values except its name, hashable and typed (`1` is not `true`);
    None if a value is not plain (a nested table, a date)."""
    out: list[object] = []
    for key, value in data.items():
        if key == "name":
            continue
        kind = type(value)
        if kind in _PLAIN:
            out.append((key, kind, value))
        elif kind is list and all(type(v) is str for v in value):
            out.append((key, kind, tuple(value)))
        elif kind is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
            out.append((key, kind, tuple(value.items())))
        else:
            return None
    return tuple(out)


class _Validator:
    """Walks the parsed document once, collecting problems instead of stopping."""

    def __init__(self, path: Path, lines: KeyLines) -> None:
        self.path = path
        self.lines = lines
        self.schedules: dict[tuple[str, str], tuple[CronError | None, list[str]]] = {}
        self.problems: list[Problem] = []
        # (message, key path, job, key): made Problems at the end, when their lines are
        # looked up at once for the tables they name (see `KeyLines.lines_for`)
        self.warnings: list[_Warning] = []
        self.base: Path | None = None  # the jobs file's directory, resolved once
        self.found: dict[tuple[str, tuple[Path, ...], str | None], bool] = {}
        # Jobs that differ from an earlier one without problems only by name: its checked
        # values, Policy (shared) and warnings (message, key path within the job's table,
        # key), by the job's keys and values (see _shape).
        self.clean: dict[tuple[object, ...], tuple[
            dict[str, Any], dict[str, Any], Policy,
            list[tuple[str, tuple[str | int, ...], str | None]]]] = {}

    def problem(self, message: str, *where: str | int, job: str | None = None,
                key: str | None = None, detail: str = "") -> None:
        self.problems.append(
            Problem(self.path, message, self.lines.get(*where), job, key, detail)
        )

    def warn(self, message: str, where: tuple[str | int, ...], job: str | None,
             key: str | None) -> None:
        self.warnings.append((message, where, job, key))

    def table(self, value: Any, *where: str | int, what: str) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.problem(f"{what} must be a table, got {type_name(value)}", *where, key=str(where[-1]))
        return {}

    def fields(self, data: dict[str, Any], checkers: dict[str, Any], where: tuple[str | int, ...],
               *, section: str, job: str | None = None) -> dict[str, Any]:
        """Check every key of `data`; returns the valid ones converted."""
        out: dict[str, Any] = {}
        for key, value in data.items():
            checker = checkers.get(key)
            if checker is None:
                import difflib  # here: only a misspelt name needs it

                close = difflib.get_close_matches(key, list(checkers), n=1, cutoff=0.6)
                hint = (f"did you mean {close[0]!r}?" if close
                        else f"valid keys: {', '.join(sorted(checkers))}")
                self.problem(f"unknown key {key!r} in {section}; {hint}", *where, key,
                             job=job, key=key)
                continue
            if key in _NO_NUL and _has_nul(value):
                self.problem(f"{key} contains a NUL character (\\u0000): no program, path or "
                             "environment variable can hold one", *where, key, job=job, key=key)
                continue
            try:
                out[key] = checker(value)
            except Invalid as exc:
                self.problem(str(exc), *where, key, job=job, key=key, detail=exc.detail)
        return out

    def check_cwd(self, cwd: Any, where: tuple[str | int, ...], *, job: str | None,
                  label: str = "cwd") -> None:
        """A warning, like a program not found: the directory may be made later or exist
        only on the machine that runs the jobs; but every run fails to start until it does."""
        if not isinstance(cwd, str):
            return
        if self.base is None:
            self.base = self.path.resolve().parent
        path = self.base / cwd
        if path.is_dir():
            return
        what = "is not a directory" if path.exists() else "does not exist"
        self.warn(f"working directory {cwd!r} {what} (looked for {path}): every run will "
                  "fail to start until it does", (*where, "cwd"), job, label)

    def run(self, doc: dict[str, Any]) -> Config:
        for key in doc:
            if key not in TOP_KEYS:
                import difflib  # here: only a misspelt name needs it

                close = difflib.get_close_matches(key, TOP_KEYS, n=1, cutoff=0.6)
                hint = (f"did you mean [{close[0]}]?" if close
                        else "the file has [defaults], [scheduler], [agents.NAME] and [[jobs]]")
                self.problem(f"unknown top-level key {key!r}; {hint}", key, key=key)
        cfg = Config(self.path)
        defaults = self.table(doc.get("defaults", {}), "defaults", what="[defaults]")
        cfg.defaults = Policy(**self.fields(defaults, POLICY_KEYS, ("defaults",),
                                            section="[defaults]"))
        settings = self.table(doc.get("scheduler", {}), "scheduler", what="[scheduler]")
        cfg.scheduler = SchedulerSettings(
            **self.fields(settings, SCHEDULER_KEYS, ("scheduler",), section="[scheduler]")
        )
        agents = self.table(doc.get("agents", {}), "agents", what="[agents]")
        for name, data in agents.items():
            agent = self.agent(name, data)
            if agent is not None:
                cfg.agents[name] = agent
        jobs = doc.get("jobs", [])
        if not isinstance(jobs, list):
            self.problem("jobs must be written as [[jobs]] entries, each with name = \"...\"",
                         "jobs", key="jobs")
            jobs = []
        seen: dict[str, int] = {}
        for index, data in enumerate(jobs):
            # Each job's table let go of once checked: with 100,000 jobs the tables and the
            # specs made from them are not all held at once.
            jobs[index] = None
            job = self.job(index, data, cfg, agents)
            job_name = data.get("name") if isinstance(data, dict) else None
            if isinstance(job_name, str) and job_name in seen:
                self.problem(duplicate_name(job_name, seen[job_name]), "jobs", index, "name",
                             job=job_name, key="name")
                continue
            if isinstance(job_name, str):
                seen[job_name] = index
            if job is not None:
                cfg.jobs.append(job)
        if self.problems:
            raise ConfigError(sorted(self.problems, key=lambda p: p.line or 0))
        if self.warnings:  # their lines are looked up when they are read
            cfg.warnings = Warnings(self.path, self.warnings, self.lines.lines_for)
        return cfg

    def agent(self, name: str, data: Any) -> AgentSpec | None:
        where = ("agents", name)
        if not isinstance(data, dict):
            self.problem(f"agent {name!r} must be a table: [agents.{name}] with command = ...",
                         *where, key=f"agents.{name}")
            return None
        data = self.no_keys_in_toml(data, where)
        values = self.fields(data, AGENT_KEYS, where, section=f"[agents.{name}]")
        model_keys = [k for k in data if k in MODEL_KEYS]
        if data.get("kind") in MODEL_KINDS:
            kind = data["kind"]
            for key in ("command", "python", "prompt_via", "cwd", "env"):
                if key in data:
                    self.problem(f"{key} does not apply to a {kind} model agent (it talks "
                                 "HTTP, it runs no command)", *where, key, key=key)
            if "model" not in data:
                self.problem(f"agent {name!r} needs model = \"...\" (kind = {kind!r})",
                             *where, key=f"agents.{name}")
                return None
            values["kind"] = kind
            return AgentSpec(name=name, **values)
        if model_keys and "command" not in data and "python" not in data:
            self.problem(f"agent {name!r} has {model_keys[0]} but no kind: write "
                         "kind = \"openai\" (any OpenAI-compatible API) or kind = \"anthropic\"",
                         *where, key=f"agents.{name}")
            return None
        if ("command" in data) == ("python" in data):
            self.problem(f"agent {name!r} needs exactly one of command = [...], "
                         "python = \"module:function\" or kind = \"openai\"/\"anthropic\" with "
                         "model = ...", *where, key=f"agents.{name}")
            return None
        kind = "python" if "python" in data else "command"
        if "kind" in values and values["kind"] != kind:
            self.problem(f"kind = {values['kind']!r} but the agent has "
                         f"{'python' if kind == 'python' else 'command'} = ...; "
                         f"write kind = {kind!r}", *where, "kind", key="kind")
        if kind == "python" and "prompt_via" in values:
            self.problem("prompt_via only applies to command agents", *where, "prompt_via",
                         key="prompt_via")
        for key in model_keys:
            if key not in ("price_in", "price_out"):
                self.problem(f"{key} only applies to model agents (kind = \"openai\" or "
                             "\"anthropic\")", *where, key, key=key)
        values["kind"] = kind
        self.check_cwd(values.get("cwd"), where, job=None, label=f"agents.{name}.cwd")
        if kind == "command" and "command" in values:
            self.check_program("command", values["command"], where, job=None,
                               cwd=values.get("cwd"), env=values.get("env", {}),
                               label=f"agents.{name}.command")
        return AgentSpec(name=name, **values)

    def no_keys_in_toml(self, data: dict[str, Any], where: tuple[str | int, ...],
                        job: str | None = None) -> dict[str, Any]:
        """An API key written into the file is refused with the way to do it instead."""
        if "api_key" not in data:
            return data
        self.problem("keys are never stored in the jobs file: export the key and name its "
                     "variable, api_key_env = \"OPENAI_API_KEY\"", *where, "api_key", job=job,
                     key="api_key")
        return {k: v for k, v in data.items() if k != "api_key"}

    def job(self, index: int, data: Any, cfg: Config, agents: dict[str, Any]) -> JobSpec | None:
        """The checked job, its problems and warnings recorded."""
        shape = _shape(data) if isinstance(data, dict) else None
        if shape is not None and (seen := self.clean.get(shape)) is not None:
            name = data.get("name")
            if isinstance(name, str) and name.strip() and NAME_OK.match(name) \
                    and len(name) <= 100:
                plain, mutable, policy, warned = seen
                # the same warnings as the job it repeats, at this job's keys
                for message, at, key in warned:
                    self.warnings.append((message, ("jobs", index, *at), name, key))
                return JobSpec(name=name, policy=policy, **plain,
                               **{k: v.copy() for k, v in mutable.items()})
        problems, warnings = len(self.problems), len(self.warnings)
        job = self.check_job(index, data, cfg, agents)
        if job is not None and shape is not None and len(self.problems) == problems:
            values = {f: getattr(job, f) for f in _SPEC_FIELDS}
            mutable = {k: v for k, v in values.items() if isinstance(v, list | dict)}
            plain = {k: v for k, v in values.items() if k not in mutable}
            # its warnings, each at a key of its own table (jobs, index, ...)
            warned = [(message, where[2:], key)
                      for message, where, _, key in self.warnings[warnings:]]
            self.clean[shape] = (plain, mutable, job.policy, warned)
        return job

    def check_job(self, index: int, data: Any, cfg: Config, agents: dict[str, Any]
                  ) -> JobSpec | None:
        where: tuple[str | int, ...] = ("jobs", index)
        label = f"#{index + 1}"
        if not isinstance(data, dict):
            self.problem(f"job {label} must be a table ([[jobs]])", *where, key="jobs")
            return None
        name = data.get("name")
        if isinstance(name, str) and name.strip():
            label = name
            if not NAME_OK.match(name) or len(name) > 100:
                self.problem(bad_name(name), *where, "name", job=name, key="name")
        elif "name" not in data:
            self.problem("job has no name: add name = \"...\" (names key its state and logs)",
                         *where, job=label, key="name")
        n_problems = len(self.problems)
        data = self.no_keys_in_toml(data, where, job=label)
        values = self.fields(data, JOB_KEYS, where, section=f"job {label!r}", job=label)
        policy = Policy(**{k: values.pop(k) for k in list(values) if k in POLICY_KEYS})
        if "schedule" not in data:
            self.problem("job has no schedule: add schedule = \"*/5 * * * *\" or "
                         "\"@every 5m\"", *where, job=label, key="schedule")
        sources = [k for k in ("agent", "command", "python") if k in data]
        if not sources:
            choices = f" (defined: {', '.join(sorted(agents))})" if agents else ""
            self.problem(f"job has no agent: add agent = \"NAME\"{choices}, or run a command "
                         "directly with command = \"...\"", *where, job=label, key="agent")
        elif len(sources) > 1:
            self.problem(f"job has both {' and '.join(sources)}: give only one",
                         *where, sources[1], job=label, key=sources[1])
        elif "agent" in values and values["agent"] not in agents:
            ref = values["agent"]
            import difflib  # here: only a misspelt name needs it

            close = difflib.get_close_matches(ref, list(agents), n=1, cutoff=0.6)
            hint = (f"did you mean {close[0]!r}?" if close
                    else f"define it as [agents.{ref}] or use command = \"...\" in the job")
            self.problem(f"agent {ref!r} is not defined; {hint}", *where, "agent",
                         job=label, key="agent")
        if "prompt_via" in values and "command" not in values:
            self.problem("prompt_via goes with an inline command (or on the agent's table)",
                         *where, "prompt_via", job=label, key="prompt_via")
        for message in unknown_placeholders(values.get("prompt", "")):
            self.problem(message, *where, "prompt", job=label, key="prompt")
        agent_data = agents.get(values.get("agent", ""))
        is_model = isinstance(agent_data, dict) and agent_data.get("kind") in MODEL_KINDS
        if "max_tokens" in values and not is_model:
            self.problem("max_tokens applies to model agents (kind = \"openai\" or "
                         "\"anthropic\")", *where, "max_tokens", job=label, key="max_tokens")
        if len(self.problems) > n_problems or not isinstance(name, str):
            self.check_schedule(values, policy, cfg, where, label)
            return None
        job = JobSpec(policy=policy, **values)
        self.check_schedule(values, policy, cfg, where, label)
        self.check_cwd(values.get("cwd"), where, job=label)
        for key in ("command", "pre_run"):
            if values.get(key) is not None:
                self.check_program(key, values[key], where, job=label, cwd=job.cwd,
                                   env=job.env)
        return job

    def check_program(self, key: str, command: str | list[str], where: tuple[str | int, ...],
                      *, job: str | None, cwd: str | None, env: dict[str, str],
                      label: str | None = None) -> None:
        """A warning, not a problem, when the program cannot be found: it may be installed
        later, or on the machine that runs the jobs; but a `pre_run = "2m"` (a duration
        typed into the gate) fails every run, and `crondeck check` is where to hear it."""
        program = program_of(command)
        if program is None or (isinstance(command, str) and not _runs_a_file(program)):
            return  # an argv is exec'd as it is: no shell words there
        if self.base is None:
            self.base = self.path.resolve().parent
        dirs = (self.base, *((self.base / cwd,) if cwd else ()))
        probe = (program, dirs, env.get("PATH"))
        found = self.found.get(probe)
        if found is None:  # many jobs run the same program: look it up once
            found = self.found[probe] = program_found(*probe)
        if found:
            return
        what = ("the gate cannot start and every run is skipped or fails (pre_run is a "
                "command, like \"scripts/new_mail.sh\")" if key == "pre_run"
                else "runs will fail to start")
        beside = next((d for d in dirs if "/" not in program and (d / program).exists()), None)
        if beside is not None:  # the shell looks a bare name up on PATH only
            what = f"it is in {beside}, so write ./{program}"
        where_not = ("on PATH" if "/" not in program
                     else f"(no such file in {dirs[-1]})" if not Path(program).is_absolute()
                     else "(no such file)")
        self.warn(f"program {program!r} not found {where_not}: {what}", (*where, key), job,
                  label or key)

    def check_schedule(self, values: dict[str, Any], policy: Policy, cfg: Config,
                       where: tuple[str | int, ...], label: str) -> None:
        text = values.get("schedule")
        if text is None:
            return
        zone_name = policy.timezone or cfg.defaults.timezone
        try:
            zone = get_zone(zone_name) if zone_name else local_zone()
        except ZoneError:
            return  # already reported on the timezone key
        parsed = self.schedules.get((text, zone.key))
        if parsed is None:  # many jobs share an expression: parse and warn once for them
            try:
                expr = parse(text, zone)
                parsed = self.schedules[text, zone.key] = (None, expr.warnings())
            except CronError as exc:
                parsed = self.schedules[text, zone.key] = (exc, [])
        error, warnings = parsed
        if error is not None:
            shown = repr(text) if len(text) <= 80 else f"{text[:40]!r}… ({len(text)} characters)"
            self.problem(f"bad schedule {shown}: {error}", *where, "schedule", job=label,
                         key="schedule", detail=error.caret().split("\n", 1)[1]
                         if "\n" in error.caret() else "")
            return
        for warning in warnings:
            self.warn(warning, (*where, "schedule"), label, "schedule")
