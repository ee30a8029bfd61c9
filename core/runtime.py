"""A jobs file brought to life: the Scheduler built from a Config, its state persisted, its
runs logged, and the lock that makes it the only scheduler on that state directory.

`open_runtime(config)` is what `crondeck run` and the TUI use; `build_scheduler(config)` is the
plain translation for library users who persist state themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import field, fields, replace
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from .agents import CommandAgent, PythonAgent, program_name
from .clock import Clock
from .collector import collector_paused
from .config import (
    Config,
    ConfigError,
    JobSpec,
    Policy,
    Problem,
    load_config,
)
from .events import LockLost, SchedulerError
from .jobs import Job, JobOptions, JobState
from .lazyclass import dataclass
from .lock import StateLock
from .options import OPTION_NAMES
from .paths import file_stamp
from .persist import StateDir, StoreSink
from .results import RunResult, RunStatus
from .runlogs import RunLogRecorder, RunLogs
from .schedule import Schedule, cron
from .scheduler import Scheduler
from .store import StateStore
from .zones import get_zone, local_zone

if TYPE_CHECKING:
    from .llm import ModelAgent

__all__ = [
    "Reload",
    "Runtime",
    "StoreSink",
    "build_scheduler",
    "make_agent",
    "open_runtime",
]

LOCK_CHECK = 2.0  # seconds between looks at the lock file (each claim looks too)
# Agent kinds served by a model client (crondeck.core.llm, imported only when one is used).
MODEL_AGENTS = ("openai", "anthropic")


def _model_agent(kind: str) -> type[ModelAgent]:
    from .llm import AnthropicAgent, OpenAIAgent

    return OpenAIAgent if kind == "openai" else AnthropicAgent


def make_agent(config: Config, job: JobSpec) -> CommandAgent | PythonAgent | ModelAgent:
    """The agent a job runs: its named agent or its inline command / python target. Relative
    `cwd` is relative to the jobs file, which is also the default working directory (so
    `pre_run = "scripts/x.sh"` means the script beside the file)."""
    spec = config.agents.get(job.agent) if job.agent else None
    if spec is not None and spec.kind in MODEL_AGENTS:
        return _model_agent(spec.kind)(
            spec.model or "", base_url=spec.base_url, api_key_env=spec.api_key_env,
            system=spec.system or "", temperature=spec.temperature,
            max_tokens=job.max_tokens or spec.max_tokens,
            timeout=spec.timeout.total_seconds() if spec.timeout else 120.0, name=spec.name)
    command = spec.command if spec else job.command
    target = spec.python if spec else job.python
    cwd = job.cwd or (spec.cwd if spec else None)
    workdir = config.base_dir / cwd if cwd else config.base_dir
    env = {**(spec.env if spec else {}), **job.env}
    if target is not None:
        name = job.agent or target
        if str(config.base_dir) not in sys.path:
            sys.path.append(str(config.base_dir))
        return PythonAgent(target, name=name)
    assert command is not None  # validated: a job has exactly one agent source
    name = job.agent or program_name(command)
    prompt_via = (spec.prompt_via if spec else job.prompt_via) or "stdin"
    return CommandAgent(command, prompt_via, cwd=workdir, env=env, name=name)  # type: ignore[arg-type]


# The JobSpec fields config.options() reads besides the policy and the agent.
_JOB_OPTION_NAMES = tuple(
    f.name for f in fields(JobSpec) if f.name in OPTION_NAMES and f.name != "policy")
_JOB_OPTIONS = attrgetter(*_JOB_OPTION_NAMES)


def _shared_command(commands: dict[tuple[object, ...], CommandAgent], config: Config,
                    job: JobSpec) -> CommandAgent | PythonAgent | ModelAgent:
    """The job's agent; jobs running the same command the same way share one CommandAgent
    (it holds only how to start the command). Python and model agents are made per job."""
    spec = config.agents.get(job.agent) if job.agent else None
    if job.python is not None or (spec is not None and spec.kind != "command"):
        return make_agent(config, job)
    command = job.command if isinstance(job.command, str | None) else tuple(job.command)
    key = (job.agent, command, job.prompt_via, job.cwd, *job.env.items())
    agent = commands.get(key)
    if agent is None:
        made = make_agent(config, job)
        if not isinstance(made, CommandAgent):
            return made
        agent = commands[key] = made
    return agent


def build_scheduler(
    config: Config, *, clock: Clock | None = None, state_sink: Any = None
) -> Scheduler:
    """A Scheduler with every job of `config`. Raises ConfigError if an agent cannot be made
    (a Python target that does not import, say), naming the job."""
    return _build(config, ((job.name, job) for job in config.jobs), clock=clock,
                  state_sink=state_sink)


def _build(config: Config, named: Iterable[tuple[str, JobSpec]], *, clock: Clock | None,
           state_sink: Any, alike: bool = False) -> Scheduler:
    """`build_scheduler` of the jobs `named` (name, spec: its own, or with `alike` one spec
    object shared by jobs alike, as `_alike` gives them: then what is made from a spec for
    a command job, its agent, schedule and options, is made once for all of them)."""
    scheduler = Scheduler(
        clock=clock,
        max_concurrent_runs=config.scheduler.max_concurrent_runs or 4,
        defaults=config.base_options(),
        shutdown_grace=config.shutdown_grace(),
        state_sink=state_sink,
    )
    problems: list[Problem] = []
    # Jobs on the same expression in the same zone share one parsed schedule (its day
    # caches too): a 10,000-job file usually has a few dozen distinct schedules.
    schedules: dict[tuple[str, str], Schedule] = {}
    # Jobs of a big file share a few Policy objects (see config.py), commands and options:
    # merge, make and look up each once. The key objects are held, so their ids stay theirs.
    merged: dict[int, tuple[Policy, Policy, str]] = {}
    commands: dict[tuple[object, ...], CommandAgent] = {}
    options: dict[tuple[object, ...], tuple[Policy, JobOptions]] = {}
    made: dict[int, tuple[JobSpec, CommandAgent, Schedule, JobOptions, bool]] = {}
    with collector_paused(), scheduler._adding():
        for name, job in named:
            try:
                # Jobs alike: the same spec object (`alike`), or specs sharing a Policy object
                # (as the jobs file's check makes jobs alike but for their name) and equal.
                twin = id(job) if alike else id(job.policy)
                ready = made.get(twin)
                if ready is not None and (alike or ready[0] is job
                                          or _SPEC_VALUES(ready[0]) == _SPEC_VALUES(job)):
                    scheduler.add_job(ready[1], job.prompt, ready[2], name=name,
                                      options=ready[3]).enabled = ready[4]
                    continue
                seen = merged.get(id(job.policy))
                if seen is None:
                    policy = config.policy(job)
                    zone = str(get_zone(policy.timezone) if policy.timezone else local_zone())
                    seen = merged[id(job.policy)] = (job.policy, policy, zone)
                _, policy, zone = seen
                agent = _shared_command(commands, config, job)
                schedule = schedules.get((job.schedule, zone))
                if schedule is None:
                    schedule = schedules[job.schedule, zone] = cron(job.schedule, zone)
                key = (id(policy), job.agent, *_JOB_OPTIONS(job))
                try:
                    job_options = options[key][1]
                except KeyError:
                    job_options = config.options(job, policy)
                    options[key] = (policy, job_options)
                except TypeError:  # an unhashable value: no sharing for this job
                    job_options = config.options(job, policy)
                added = scheduler.add_job(agent, job.prompt, schedule, name=name,
                                          options=job_options)
                added.enabled = enabled = policy.enabled is not False
                if isinstance(agent, CommandAgent):
                    made[twin] = (job, agent, schedule, job_options, enabled)
            except Exception as exc:  # user code: an import error, a bad callable
                key_name = "python" if job.python else "agent" if job.agent else "command"
                problems.append(Problem(config.path, f"cannot set up this job: {exc}", None,
                                        name, key_name))
    if problems:
        raise ConfigError(problems)
    return scheduler


@dataclass
class Reload:
    """What a reload of the jobs file did, or why it was refused."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _fingerprint(config: Config, job: JobSpec, name: str) -> tuple[Any, ...]:
    """Everything that defines how job `name` runs (`job`: its spec, or that of a job alike),
    to tell a changed job from an unchanged one. `enabled` is left out: a job only switched
    on or off is told apart (`_Diff.toggled`)."""
    agent = config.agents.get(job.agent) if job.agent else None
    spec = replace(job, name=name, policy=replace(job.policy, enabled=None))
    return (spec, replace(config.policy(job), enabled=None), agent, config.scheduler.history)


@dataclass
class _Diff:
    """How a new config differs from the running one, job by job."""

    removed: list[str]
    added: list[str]
    changed: list[str]  # changed in place (`update_job`): their runs in flight go on
    toggled: list[str]  # only switched on or off


# A job's spec but its name: two specs with equal values are jobs alike.
_SPEC_VALUES = attrgetter(*(f.name for f in fields(JobSpec) if f.name != "name"))


def _alike(specs: list[JobSpec]) -> dict[str, JobSpec]:
    """Each job's spec by name, jobs alike (equal but for their names) sharing one: what a
    reload compares the new file with, kept instead of the specs themselves (a big file's
    jobs are a few dozen kinds)."""
    kinds: dict[tuple[object, ...], JobSpec] = {}
    out: dict[str, JobSpec] = {}
    for spec in specs:
        command = spec.command
        key = (id(spec.policy), spec.schedule, spec.agent,
               command if not isinstance(command, list) else tuple(command))
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = spec
        elif kind is not spec and _SPEC_VALUES(kind) != _SPEC_VALUES(spec):
            kind = spec  # alike in the key only: kept as it is
        out[spec.name] = kind
    return out


def _diff(old: Config, new: Config, kept: Mapping[str, JobSpec] | None = None) -> _Diff:
    """Compare job by job (the old jobs' specs are `kept`, by name, when `old` no longer
    lists them; see `_alike`). A job whose own table and agent are unchanged is unchanged
    unless the file-wide settings changed: only then is every job's merged policy compared
    (an edit of one job in a 10,000-job file compares 10,000 tables, not 10,000 merged
    policies)."""
    mine = {j.name: j for j in old.jobs} if kept is None else kept
    theirs = {j.name: j for j in new.jobs}
    wide = ((replace(old.defaults, enabled=None), old.scheduler.history)
            != (replace(new.defaults, enabled=None), new.scheduler.history))
    changed: list[str] = []
    toggled: list[str] = []
    for name, b in theirs.items():
        a = mine.get(name)
        if a is None:
            continue
        own = _SPEC_VALUES(a) == _SPEC_VALUES(b) and (
            not a.agent or old.agents.get(a.agent) == new.agents.get(a.agent))
        if (wide or not own) and _fingerprint(old, a, name) != _fingerprint(new, b, name):
            changed.append(name)
        elif old.enabled(a) != new.enabled(b):
            toggled.append(name)
    return _Diff(removed=[n for n in mine if n not in theirs],
                 added=[n for n in theirs if n not in mine], changed=changed, toggled=toggled)


def _restore(scheduler: Scheduler, saved: list[JobState],
             survivors: dict[str, int] | None = None) -> None:
    """`Scheduler.restore`, except that a job saved disabled and enabled now continues from
    now: the slots that fell while it was off are not owed (restore alone would catch them
    up from its last slot)."""
    scheduler.restore(saved, survivors=survivors)
    for st in saved:
        job = scheduler.jobs.get(st.name)
        if job is not None and st.disabled and job.enabled:
            job.reschedule()


def _when_changed(old: Config, a: JobSpec, new: Config, b: JobSpec) -> bool:
    """Did the job's schedule or time zone change (`a` its old spec, `b` its new one)?"""
    return (a.schedule, old.zone(a).key) != (b.schedule, new.zone(b).key)


def _agent_of(config: Config, job: JobSpec) -> tuple[object, ...]:
    """What `make_agent` makes the job's agent from: equal, the agent needs no remaking."""
    command = job.command if not isinstance(job.command, list) else tuple(job.command)
    return (config.agents.get(job.agent) if job.agent else None, job.agent, command,
            job.python, job.prompt_via, job.cwd, tuple(job.env.items()), job.max_tokens,
            config.base_dir)


@dataclass
class Runtime:
    """A running (or observed, with `read_only`) jobs file. Close it to save and unlock.

    `state` is the state directory it holds (lock, store, logs, recorder: `store`, `logs`,
    `lock` and `recorder` are its parts); lock checks, the cleanup of what a dead scheduler
    left running and `close()` are the StateDir's."""

    config: Config
    scheduler: Scheduler
    store: StateStore
    logs: RunLogs
    lock: StateLock | None
    read_only: bool
    recorder: RunLogRecorder | None = None
    abandoned: list[RunResult] = field(default_factory=list)

    config_stamp: tuple[int, int, int] | None = None
    lock_lost: str = ""  # set once the lock file was deleted or replaced under us
    state: StateDir | None = None
    # False: the jobs file's text (`Config.source`, what an edit is made onto) is let go
    # after each load, as a process that never edits the file (`crondeck run`) has no use
    # for it.
    keep_source: bool = True
    # False: `config.jobs` is emptied after each load, the runtime keeping only what a
    # reload compares (each job's spec, jobs alike sharing one: see `_alike`); for a process
    # that has no other use for the specs (`crondeck run`: 100,000 of them are ~30 MiB).
    keep_jobs: bool = True
    _kept: dict[str, JobSpec] | None = field(default=None, repr=False)
    _lock_watch: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def problems(self) -> list[str]:
        """State-file trouble found on opening (moved aside and so on), for the operator."""
        return self.store.problems

    def reload_if_changed(self) -> Reload | None:
        """If the jobs file changed on disk, validate it and apply it; an invalid edit is
        reported (Reload.problems) and the running schedule is kept. None if unchanged."""
        stamp = file_stamp(self.config.path)
        if stamp == self.config_stamp:
            return None
        self.config_stamp = stamp
        try:
            new = load_config(self.config.path)
        except ConfigError as exc:
            return Reload(problems=exc.problems)
        return self.apply(new)

    def reload(self) -> Reload:
        """Re-read the jobs file now, changed on disk or not, and apply it as
        `reload_if_changed` does (an invalid file is reported; the running schedule kept)."""
        self.config_stamp = file_stamp(self.config.path)
        try:
            new = load_config(self.config.path)
        except ConfigError as exc:
            return Reload(problems=exc.problems)
        return self.apply(new)

    def replaced_by(self, new: Config) -> list[str]:
        """The jobs `apply(new)` would remove, cancelling their runs in flight (a job
        changed, or only switched on or off, is changed in place: its run goes on)."""
        return _diff(self.config, new, self._kept).removed

    def changes(self, new: Config) -> Reload:
        """What `apply(new)` would do (added, removed, changed), without doing it or
        checking that the new and changed jobs can be set up."""
        diff = _diff(self.config, new, self._kept)
        return Reload(added=diff.added, removed=diff.removed,
                      changed=diff.changed + diff.toggled)

    def apply(self, new: Config) -> Reload:
        """Make the scheduler match `new`: add jobs, remove jobs (their runs in flight are
        cancelled), and change changed jobs in place as `Scheduler.update_job` does (their
        state, history and runs in flight kept: a run goes on as it started, the next one
        uses the new definition). Nothing changes if a new or changed job cannot be set up."""
        diff = _diff(self.config, new, self._kept)
        removed, added, changed = diff.removed, diff.added, diff.changed
        new_jobs = {j.name: j for j in new.jobs}
        try:  # the new and changed jobs' agents are made (Python ones imported) first
            trial = build_scheduler(replace(new, jobs=[new_jobs[n] for n in changed + added]),
                                    clock=self.scheduler.clock)
        except ConfigError as exc:
            return Reload(problems=exc.problems)
        for name in removed:
            self.scheduler.remove_job(name)
        for name in changed:
            self._change(name, trial.jobs[name], new, new_jobs[name])
        for name in added:
            saved = self.store.get(name)
            job = trial.jobs[name]
            added_job = self.scheduler.add_job(job.agent, job.prompt, job.schedule, name=name,
                                               options=self._history_kept(job.options))
            added_job.enabled = job.enabled
            if saved is not None:
                _restore(self.scheduler, [saved])
        for name in diff.toggled:
            self.scheduler.jobs[name].enabled = new.enabled(new_jobs[name])
        self.scheduler.shutdown_grace = new.shutdown_grace()
        if not self.keep_source:
            new.source = None
        self.config = new
        self._let_go_of_jobs()
        return Reload(added=added, removed=removed, changed=changed + diff.toggled)

    def _change(self, name: str, made: Job, new: Config, spec: JobSpec) -> None:
        """Change the running job `name` in place to `made` (the job `spec` of `new` makes,
        in a trial scheduler), through `Scheduler.update_job`. Its schedule is replaced only
        when its expression or zone changed, its agent only when what makes it changed. A
        new schedule's next fire is counted from the job's last slot (slots since then are
        owed, as after a restart); a job that never fired takes the new schedule's first
        slot after now."""
        old = self._spec(name)
        job = self.scheduler.jobs[name]
        retimed = _when_changed(self.config, old, new, spec)
        self.scheduler.update_job(
            job, schedule=made.schedule if retimed else None,
            agent=made.agent if _agent_of(self.config, old) != _agent_of(new, spec) else None,
            prompt=made.prompt, options=self._history_kept(made.options),
            after=job.last_slot, enabled=made.enabled)

    def _history_kept(self, options: JobOptions) -> JobOptions:
        """A new [scheduler] history applies from the next start, as in the state file."""
        history = self.scheduler.defaults.history
        return options if options.history == history else replace(options, history=history)

    def _spec(self, name: str) -> JobSpec:
        """The running job's spec (or that of a job alike, when `keep_jobs` is false)."""
        return self._kept[name] if self._kept is not None else self.config.job(name)

    def _let_go_of_jobs(self) -> None:
        """Unless `keep_jobs`: keep what a reload compares, and empty `config.jobs`."""
        if not self.keep_jobs:
            self._kept = _alike(self.config.jobs)
            self.config.jobs = []

    def check_lock(self) -> str:
        """Why this runtime lost its state lock ("" while it holds it). On the first look
        that finds the lock file deleted or replaced, stop firing (runs in flight finish),
        stop saving state (it belongs to whoever locked the new file) and say so with a
        `lock_lost` event. Called before every claim and by `watch_lock`."""
        if self.lock_lost or self.state is None or self.read_only:
            return self.lock_lost  # once lost, read_only is set too
        self.lock_lost = self.state.check_lock()
        if self.lock_lost:
            self.read_only = True  # nor fold the inbox: its results are the new holder's
            self.scheduler.bus.emit(LockLost, path=str(self.state.lock.path),
                                    reason=self.lock_lost)
            self.scheduler.stop()
        return self.lock_lost

    async def watch_lock(self, every: float = LOCK_CHECK) -> None:
        """Look at the lock every `every` seconds until it is lost (or cancelled)."""
        while True:
            if self.check_lock():
                return
            await asyncio.sleep(every)

    def start_lock_watch(self, every: float | None = None) -> asyncio.Task[None] | None:
        """Start `watch_lock` on the running loop (once; None when read-only: no lock to
        watch), every `every` seconds (default `LOCK_CHECK`). `close()` stops it. The
        console starts it as `crondeck run` watches its lock."""
        if self.read_only or self.state is None:
            return None
        if self._lock_watch is None or self._lock_watch.done():
            self._lock_watch = asyncio.get_running_loop().create_task(
                self.watch_lock(LOCK_CHECK if every is None else every), name="lock-watch")
        return self._lock_watch

    def close(self) -> None:
        watch, self._lock_watch = self._lock_watch, None
        if watch is not None and not watch.done():
            with contextlib.suppress(RuntimeError):  # its loop already closed
                watch.get_loop().call_soon_threadsafe(watch.cancel)
        if self.state is not None:
            self.state.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_runtime(config: Config, *, read_only: bool = False, clock: Clock | None = None,
                 keep_source: bool = True, keep_jobs: bool = True) -> Runtime:
    """Lock the state directory (unless read-only; raises LockHeld), load the state (a
    corrupt file is moved aside and reported), build the scheduler and restore each job's
    state into it: runs left in flight by a dead process become `abandoned`, and slots already
    claimed are never fired again. With `keep_source` false the config's text is dropped
    (here and at each reload): for a process that never edits the jobs file. With `keep_jobs`
    false `config.jobs` is emptied at once (and at each reload), the runtime keeping only
    what a reload compares: for a process that never reads the specs."""
    if not keep_source:
        config.source = None
    settings = config.scheduler
    state = StateDir(config.state_dir, history=config.base_options().history,
                     read_only=read_only, start=False)
    kept: dict[str, JobSpec] | None = None
    named: Iterable[tuple[str, JobSpec]] = ((job.name, job) for job in config.jobs)
    if not keep_jobs:  # let go of the specs before the scheduler's jobs are made
        kept = _alike(config.jobs)
        config.jobs = []
        named = kept.items()  # one spec object for jobs alike
    try:
        logs = state.logs
        if settings.logs_keep:
            logs.keep = settings.logs_keep
        if settings.log_max_size:
            logs.max_bytes = settings.log_max_size
        if settings.logs_max_total:
            logs.max_total = settings.logs_max_total
        store = state.store
        if read_only:
            scheduler = _build(config, named, clock=clock, state_sink=None, alike=kept is not None)
            return Runtime(config, scheduler, store, logs, None, True, None, [],
                           file_stamp(config.path), state=state, keep_source=keep_source,
                           keep_jobs=keep_jobs, _kept=kept)
        # Adding jobs reports their blank state to the store, which starts empty for them (the
        # loaded states are restored below; those of jobs gone from the file put back).
        saved = store.take_states()
        scheduler = _build(config, named, clock=clock, state_sink=state.sink,
                           alike=kept is not None)
        # Only a state holding more than a next fire can be running, disabled or have results.
        in_flight = {(name, run_id) for name, st in saved.full.items() for run_id in st.running}
        _restore(scheduler, list(saved.full.values()), state.survivors)
        # The rest, one at a time: a JobState each for 100,000 jobs at once is not needed. A
        # job already waiting for the same next fire (no slot passed while down) is as
        # restoring would leave it.
        jobs = scheduler.jobs
        scheduler.restore(JobState(name=name, next_fire=when)
                          for name, when in saved.waiting.items()
                          if (job := jobs.get(name)) is not None and not (
                              job.next_fire == when and not job.exhausted and not job.paused
                              and job.last_slot is None and not job.run_count))
        store.put_back(saved, jobs)
        del saved
        abandoned = [
            r for st in store.jobs.full.values() for r in st.results
            if (r.job, r.run_id) in in_flight and r.status is RunStatus.ABANDONED
        ]
        bus = scheduler.bus
        state.recorder.on_error = lambda message: bus.emit(
            SchedulerError, job=None, where="run_log", message=message)
        scheduler.add_listener(state.recorder)
        state.start_saving()
        runtime = Runtime(config, scheduler, store, logs, state.lock, False, state.recorder,
                          abandoned, file_stamp(config.path), state=state,
                          keep_source=keep_source, keep_jobs=keep_jobs, _kept=kept)
        state.sink.lock_lost = runtime.check_lock
        return runtime
    except BaseException:
        # Unlock only: the store may hold jobs half restored, which must not be saved.
        state.lock.release()
        if kept is not None:  # the config as it came, for another try
            config.jobs = [replace(spec, name=name) for name, spec in kept.items()]
        raise
