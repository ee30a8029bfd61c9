"""Getting from command-line arguments to a Scheduler the app can show: resolve and load the
jobs file, build the scheduler from it, take the single-instance lock (or open read-only),
and set up the bundled demo in a temporary directory.

Building prefers the core's own builder (`crondeck.core.config.build_scheduler`) and the
core's lock (`crondeck.core.lock`) when they exist; until then a small adapter here maps a
validated `Config` onto the public `Scheduler.add_job` API.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module
from importlib.resources import files
from pathlib import Path
from typing import Any

from crondeck.core.agents import CommandAgent, PythonAgent
from crondeck.core.clock import Clock
from crondeck.core.config import Config, load_config
from crondeck.core.scheduler import Scheduler

__all__ = ["DEMO_PAUSED", "Launch", "build_scheduler", "prepare_demo", "take_lock"]

# The demo shows a job paused with a note; pause state lives in runtime state, not in the
# jobs file, so the demo applies it through the public API at start.
DEMO_PAUSED = {"nightly-digest": "waiting for the API key rotation (ops-1234)"}


@dataclass
class Launch:
    """What the app is opened on."""

    scheduler: Scheduler
    config_path: Path | None
    read_only: bool = False
    read_only_reason: str = ""
    lock: Any = None
    warnings: tuple[str, ...] = ()


def prepare_demo(target: Path | None = None) -> Path:
    """Copy the bundled demo (config + scripts) into a fresh temp dir; return the config."""
    root = Path(target) if target else Path(tempfile.mkdtemp(prefix="crondeck-demo-"))
    src = files("crondeck.tui").joinpath("demo")
    _copy_tree(src, root)
    for script in (root / "scripts").glob("*.sh"):
        script.chmod(0o755)
    return root / "crondeck.toml"


def _copy_tree(src: Any, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name in ("__pycache__",):
            continue
        if item.is_dir():
            _copy_tree(item, dst / item.name)
        else:
            with item.open("rb") as fin, (dst / item.name).open("wb") as fout:
                shutil.copyfileobj(fin, fout)


def _secs(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _inline_name(command: str | list[str]) -> str:
    """What the AGENT column shows for an inline command: the program's base name."""
    first = shlex.split(command)[0] if isinstance(command, str) else command[0]
    return os.path.basename(first) or first


def build_scheduler(config: Config, clock: Clock | None = None) -> Scheduler:
    """A Scheduler with every job of `config` (the core's builder when it has one)."""
    cfg_mod = import_module("crondeck.core.config")
    core_builder = getattr(cfg_mod, "build_scheduler", None)
    if core_builder is not None:
        return core_builder(config, clock=clock)
    settings = config.scheduler
    sched = Scheduler(clock=clock, max_concurrent_runs=settings.max_concurrent_runs or 4)
    base = config.base_dir
    for spec in config.jobs:
        policy = config.policy(spec)
        agent_spec = config.agents.get(spec.agent) if spec.agent else None
        command = spec.command if agent_spec is None else agent_spec.command
        python = spec.python if agent_spec is None else agent_spec.python
        cwd = (agent_spec.cwd if agent_spec else None) or spec.cwd
        env = {**(agent_spec.env if agent_spec else {}), **spec.env}
        workdir = base / cwd if cwd else base
        if python:
            agent: Any = PythonAgent(python, name=spec.agent or python)
        else:
            assert command is not None
            via = spec.prompt_via or (agent_spec.prompt_via if agent_spec else None) or "stdin"
            agent = CommandAgent(command, prompt_via=via, cwd=workdir, env=env,  # type: ignore[arg-type]
                                 name=spec.agent or _inline_name(command))
        options: dict[str, Any] = {
            "timeout": _secs(policy.timeout),
            "overlap": policy.overlap,
            "catchup": policy.catchup,
            "misfire_grace": _secs(policy.misfire_grace),
            "gate_timeout": _secs(policy.gate_timeout),
            "on_gate_error": policy.on_gate_error,
            "retries": policy.retries,
            "retry_backoff": _secs(policy.retry_backoff),
            "auto_pause_after": policy.pause_after_failures or None,
            "output_tail_bytes": policy.output_tail,
            "kill_grace": _secs(policy.kill_grace),
            "max_runs": spec.max_runs,
            "pre_run": spec.pre_run,
        }
        given = {k: v for k, v in options.items() if v is not None}
        if spec.start_immediately:
            given["start_immediately"] = True
        sched.add_job(agent, spec.prompt, spec.schedule, name=spec.name,
                      tz=policy.timezone, **given)
    return sched


def take_lock(config_path: Path) -> tuple[Any, str]:
    """(lock, "") when this process may schedule, else (None, why it is read-only)."""
    try:
        lock_mod = import_module("crondeck.core.lock")
    except ImportError:
        return None, ""
    acquire = getattr(lock_mod, "acquire", None) or getattr(lock_mod, "try_lock", None)
    if acquire is None:
        return None, ""
    try:
        return acquire(config_path), ""
    except Exception as exc:  # held by another instance: the message names the holder
        return None, str(exc) or "another crondeck holds the lock"


def launch(config_path: Path, *, clock: Clock | None = None, demo: bool = False,
           read_only: bool = False) -> Launch:
    """Load the config, build the scheduler, take the lock; raises ConfigError if invalid."""
    config = load_config(config_path)
    sched = build_scheduler(config, clock)
    lock, why = (None, "--read-only") if read_only else take_lock(config_path)
    if demo:
        for name, note in DEMO_PAUSED.items():
            if name in sched.jobs:
                sched.pause_job(name, note=note)
    return Launch(scheduler=sched, config_path=config_path, read_only=bool(why),
                  read_only_reason=why, lock=lock,
                  warnings=tuple(str(w) for w in config.warnings))
