"""The shape of the jobs file: dataclasses for the policy defaults, agents, jobs and the
whole file, and their TOML form for saving. Loading and validation live in `config`.

`Config.options(job)` is where a job's keys, as written, become the `JobOptions` the
scheduler runs it with.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import field, fields
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, overload
from zoneinfo import ZoneInfo

from .atomic import to_toml_value
from .durations import format_duration, parse_duration
from .lazyclass import dataclass
from .notify import NotifySpec
from .options import OPTION_NAMES, SHUTDOWN_GRACE, JobOptions
from .paths import state_dir
from .zones import get_zone, local_zone

__all__ = ["AgentSpec", "Config", "JobSpec", "Policy", "Problem", "SchedulerSettings",
           "Warnings"]


def _job(name: str) -> str:
    """`job 'name'`, cut when the name is a pasted page (names are 100 characters at most)."""
    return f"job {name!r}" if len(name) <= 100 else f"job {name[:40]!r}… ({len(name)} characters)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the jobs file, located as precisely as the file allows."""

    file: Path
    message: str
    line: int | None = None
    job: str | None = None
    key: str | None = None
    detail: str = ""  # extra lines, e.g. a cron expression with a caret under the column

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        about = ", ".join(
            part
            for part in (_job(self.job) if self.job else "", f"{self.key}" if self.key else "")
            if part
        )
        text = f"{where}: {about}: {self.message}" if about else f"{where}: {self.message}"
        if self.detail:
            import textwrap  # only a problem with details needs it

            text += "\n" + textwrap.indent(self.detail, "    ")
        return text



class Warnings(Sequence[Problem]):
    """A jobs file's warnings, each given its line when first read: a file with tens of
    thousands of them opens with only the few it shows looked up. `locate` gives the lines
    of many key paths at once (one scan of the text); once all are located it is let go."""

    def __init__(self, file: Path,
                 pending: list[tuple[str, tuple[str | int, ...], str | None, str | None]],
                 locate: Callable[[list[tuple[str | int, ...]]], list[int | None]]) -> None:
        self._file = file
        self._pending = pending  # (message, key path, job, key)
        self._made: list[Problem | None] = [None] * len(pending)
        self._locate: Callable[[list[tuple[str | int, ...]]], list[int | None]] | None = locate
        self._missing = len(pending)

    def _make(self, indexes: range) -> None:
        wanted = [i for i in indexes if self._made[i] is None]
        if not wanted or self._locate is None:
            return
        lines = self._locate([self._pending[i][1] for i in wanted])
        for i, line in zip(wanted, lines, strict=True):
            message, _, job, key = self._pending[i]
            self._made[i] = Problem(self._file, message, line, job, key)
        self._missing -= len(wanted)
        if not self._missing:
            self._locate = None  # nothing left to look up: the file's text can go

    def __len__(self) -> int:
        return len(self._made)

    @overload
    def __getitem__(self, index: int) -> Problem: ...
    @overload
    def __getitem__(self, index: slice) -> list[Problem]: ...

    def __getitem__(self, index: int | slice) -> Problem | list[Problem]:
        if isinstance(index, slice):
            span = range(*index.indices(len(self)))
            self._make(span)
            return [p for i in span if (p := self._made[i]) is not None]
        i = range(len(self))[index]  # IndexError as a list's
        self._make(range(i, i + 1))
        made = self._made[i]
        assert made is not None
        return made

    def __iter__(self) -> Iterator[Problem]:
        return iter(self[:])

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, as a list

    def __repr__(self) -> str:
        return repr(list(self))


@dataclass
class Policy:
    """Per-job policies as written in the file ([defaults] for every job, or per job); None
    means inherit. Besides `timezone` and `enabled` each is the `JobOptions` field of the
    same name, in the file's form (durations as timedelta, `notify` as its table)."""

    timezone: str | None = None
    timeout: timedelta | None = None
    overlap: str | None = None
    catchup: str | None = None
    misfire_grace: timedelta | None = None
    gate_timeout: timedelta | None = None
    on_gate_error: str | None = None
    retries: int | None = None
    retry_backoff: timedelta | None = None
    pause_after_failures: int | None = None
    output_tail: int | None = None
    kill_grace: timedelta | None = None
    expect: str | None = None
    fail_if_empty: bool | None = None  # None: true (an empty answer is a failure)
    daily_token_budget: int | None = None
    notify: dict[str, Any] | None = None
    enabled: bool | None = None  # None: true; false switches a job off (never fires)

    def over(self, base: Policy) -> Policy:
        """This policy with unset keys taken from `base`."""
        mine, theirs = vars(self), vars(base)
        return Policy(**{k: v if v is not None else theirs[k] for k, v in mine.items()})


@dataclass
class SchedulerSettings:
    """Scheduler-wide settings ([scheduler]); None means the built-in default."""

    max_concurrent_runs: int | None = None
    history: int | None = None  # results kept per job in state.toml (default 50)
    logs_keep: int | None = None  # run logs kept per job (default 50)
    log_max_size: int | None = None  # bytes of output one run log may hold (default 10 MiB)
    logs_max_total: int | None = None  # bytes of logs per job before the oldest go (100 MiB)
    shutdown_grace: timedelta | None = None  # runs in flight get this long on SIGTERM (30s)


@dataclass
class AgentSpec:
    """A named agent ([agents.NAME]): a command (argv list or shell string), a Python target,
    or a model behind an HTTP API (kind "openai" or "anthropic")."""

    name: str
    kind: str = "command"
    command: str | list[str] | None = None
    python: str | None = None
    prompt_via: str | None = None
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None  # the variable's name: a key is never stored here
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: timedelta | None = None  # per request (no data for this long fails the run)
    price_in: float | None = None  # per million prompt tokens
    price_out: float | None = None  # per million completion tokens


@dataclass
class JobSpec:
    """One [[jobs]] entry. The agent is `agent` (a name) or inline `command` / `python`."""

    name: str
    schedule: str
    agent: str | None = None
    command: str | list[str] | None = None
    python: str | None = None
    prompt: str = ""
    prompt_via: str | None = None
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    pre_run: str | None = None
    max_runs: int | None = None
    until: datetime | date | None = None
    start_immediately: bool = False
    max_tokens: int | None = None
    price_in: float | None = None
    price_out: float | None = None
    policy: Policy = field(default_factory=Policy)


@dataclass
class Config:
    """A validated jobs file. `warnings` are worth showing but do not stop anything."""

    path: Path
    defaults: Policy = field(default_factory=Policy)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    agents: dict[str, AgentSpec] = field(default_factory=dict)
    jobs: list[JobSpec] = field(default_factory=list)
    warnings: Sequence[Problem] = field(default_factory=list, compare=False)
    # The file's text this config was read from (None: built in code). A save edits that
    # text in place, and refuses to write over a file that no longer reads this way.
    source: str | None = field(default=None, compare=False, repr=False)
    # JobOptions by the values they were made from: jobs with equal options share one
    _shared: dict[tuple[object, ...], JobOptions] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @property
    def state_dir(self) -> Path:
        return state_dir(self.path)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the file (pre_run scripts, cwd) are relative to the file."""
        return _base_dir(str(self.path), os.getcwd())

    def job(self, name: str) -> JobSpec:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)

    def policy(self, job: JobSpec) -> Policy:
        return job.policy.over(self.defaults)

    def enabled(self, job: JobSpec | None = None) -> bool:
        """Is the job switched on (its own `enabled`, else [defaults]', else true)? Without a
        job: is a job without its own `enabled` key?"""
        policy = self.policy(job) if job is not None else self.defaults
        return policy.enabled is not False

    def zone(self, job: JobSpec) -> ZoneInfo:
        name = self.policy(job).timezone
        return get_zone(name) if name else local_zone()

    def shutdown_grace(self) -> float:
        """Seconds runs in flight may finish in once the service is told to stop."""
        grace = self.scheduler.shutdown_grace
        return grace.total_seconds() if grace is not None else SHUTDOWN_GRACE

    def base_options(self) -> JobOptions:
        """The scheduler's defaults for this file: the built-in options with [scheduler]
        history."""
        history = self.scheduler.history
        return JobOptions(history=history) if history else JobOptions()

    def options(self, job: JobSpec | None = None, policy: Policy | None = None) -> JobOptions:
        """The options the scheduler runs `job` with: its keys over [defaults] over
        `base_options()`, and the prices of its model agent unless it sets its own. Without a
        job: what a job with no keys of its own gets. `policy` is the job's merged policy,
        if at hand (merging costs time in a 10,000-job file)."""
        if policy is None:
            policy = self.policy(job) if job is not None else self.defaults
        # An empty answer is a failure unless the file says otherwise (the library's
        # default is the opposite: a Python callable returning None has meant success).
        given: dict[str, object] = {"fail_if_empty": True}
        sources: list[tuple[object, tuple[str, ...]]] = []
        if job is not None:
            agent = self.agents.get(job.agent) if job.agent else None
            if agent is not None:
                sources.append((agent, _AGENT_OPTIONS))
            sources.append((job, _JOB_OPTIONS))
        sources.append((policy, _POLICY_OPTIONS))
        for source, names in sources:
            for name in names:
                value = getattr(source, name)
                if value is not None:
                    given[name] = value
        # What the file writes differently: 0 failures for "never pause", a date for the end
        # of that day, the notify table.
        if given.get("pause_after_failures") == 0:
            given["pause_after_failures"] = None
        if isinstance(until := given.get("until"), date):
            zone = get_zone(policy.timezone) if policy.timezone else local_zone()
            given["until"] = _through(until, zone)
        if isinstance(table := given.get("notify"), dict):
            given["notify"] = self._notify(table)
        try:
            key = (self.scheduler.history, *given.items())
            shared = self._shared.get(key)
        except TypeError:  # an unhashable value: no sharing for this job
            return self.base_options().merged(**given)
        if shared is None:
            shared = self._shared[key] = self.base_options().merged(**given)
        return shared

    def _notify(self, table: dict[str, Any]) -> NotifySpec:
        """The validated `notify = {...}` table (commands run beside the file)."""
        spec = dict(table)
        if "on" in spec:
            spec["on"] = tuple(spec["on"])
        if "timeout" in spec:
            spec["timeout"] = parse_duration(spec["timeout"]).total_seconds()
        return NotifySpec(**spec, cwd=str(self.base_dir))

    def to_dict(self) -> dict[str, Any]:
        """The TOML document for this config (unset keys omitted)."""
        out: dict[str, Any] = {}
        if defaults := _policy_dict(self.defaults):
            out["defaults"] = defaults
        if settings := {f.name: getattr(self.scheduler, f.name) for f in fields(self.scheduler)}:
            settings = {k: format_duration(v) if isinstance(v, timedelta) else v
                        for k, v in settings.items() if v is not None}
            if settings:
                out["scheduler"] = settings
        if self.agents:
            out["agents"] = {name: _agent_dict(a) for name, a in self.agents.items()}
        if self.jobs:
            out["jobs"] = [_job_dict(j) for j in self.jobs]
        return out

    def dumps(self) -> str:
        import tomli_w  # here: only writing a jobs file needs it

        return tomli_w.dumps(to_toml_value(self.to_dict()))


# The keys of [defaults] and of [[jobs]] that are job options, and an agent's that its jobs
# inherit: copied into JobOptions under the same name.
_POLICY_OPTIONS = tuple(f.name for f in fields(Policy) if f.name in OPTION_NAMES)
_JOB_OPTIONS = tuple(f.name for f in fields(JobSpec) if f.name in OPTION_NAMES)
_AGENT_OPTIONS = ("price_in", "price_out")


def _through(until: date, zone: ZoneInfo) -> datetime:
    """A date means "through that day" in the job's zone; a local date-time is in that zone."""
    if not isinstance(until, datetime):
        return datetime.combine(until + timedelta(days=1), time(0), tzinfo=zone)
    return until if until.tzinfo else until.replace(tzinfo=zone)


def _policy_dict(p: Policy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(p):
        value = getattr(p, f.name)
        if value is not None:
            out[f.name] = format_duration(value) if isinstance(value, timedelta) else value
    return out


def _agent_dict(a: AgentSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": a.kind, "command": a.command, "python": a.python}
    out |= {"prompt_via": a.prompt_via, "cwd": a.cwd, "env": a.env or None}
    out |= {k: getattr(a, k) for k in ("base_url", "model", "api_key_env", "system",
                                       "temperature", "max_tokens", "price_in", "price_out")}
    out["timeout"] = format_duration(a.timeout) if a.timeout is not None else None
    return {k: v for k, v in out.items() if v is not None}


def _job_dict(j: JobSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": j.name,
        "agent": j.agent,
        "command": j.command,
        "python": j.python,
        "prompt": j.prompt or None,
        "schedule": j.schedule,
        "prompt_via": j.prompt_via,
        "cwd": j.cwd,
        "env": j.env or None,
        "pre_run": j.pre_run,
        "max_runs": j.max_runs,
        "until": j.until,
        "start_immediately": j.start_immediately or None,
        "max_tokens": j.max_tokens,
        "price_in": j.price_in,
        "price_out": j.price_out,
    }
    out |= _policy_dict(j.policy)
    return {k: v for k, v in out.items() if v is not None}


@lru_cache(maxsize=64)
def _base_dir(path: str, cwd: str) -> Path:
    # resolve() walks the filesystem: once per file, not once per job of a 10,000-job file
    return (Path(cwd) / path).resolve().parent
