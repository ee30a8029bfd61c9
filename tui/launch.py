"""Getting from command-line arguments to a Scheduler the app can show: resolve and load the
jobs file, open it with the core's `open_runtime` (state restored and persisted, runs logged,
the single-instance lock taken, or read-only when another crondeck holds it), and set up
the bundled demo in a temporary directory.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from crondeck.core import (
    Clock,
    LockHeld,
    Runtime,
    Scheduler,
    UnsafeDir,
    load_config,
    open_runtime,
)

__all__ = ["DEMO_PAUSED", "Launch", "launch", "prepare_demo"]

# The demo shows a job paused with a note; pause state lives in runtime state, not in the
# jobs file, so the demo applies it through the public API at start.
DEMO_PAUSED = {"nightly-digest": "waiting for the API key rotation (ops-1234)"}


@dataclass
class Launch:
    """What the app is opened on. Close it when the app exits: state is saved, lock freed."""

    runtime: Runtime
    config_path: Path
    read_only_reason: str = ""

    @property
    def scheduler(self) -> Scheduler:
        return self.runtime.scheduler

    @property
    def read_only(self) -> bool:
        return self.runtime.read_only

    def close(self) -> None:
        self.runtime.close()


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


def launch(config_path: Path, *, clock: Clock | None = None, demo: bool = False,
           read_only: bool = False) -> Launch:
    """Load the config and open it; raises ConfigError if invalid. If another crondeck holds
    the lock, open read-only and say who holds it."""
    config = load_config(config_path)
    why = "--read-only" if read_only else ""
    try:
        runtime = open_runtime(config, read_only=read_only, clock=clock)
    except (LockHeld, UnsafeDir) as held:
        runtime = open_runtime(config, read_only=True, clock=clock)
        why = str(held)
    if demo and not runtime.read_only:
        for name, note in DEMO_PAUSED.items():
            job = runtime.scheduler.jobs.get(name)
            if job is not None and not job.paused:
                runtime.scheduler.pause_job(name, note=note)
    return Launch(runtime=runtime, config_path=config_path, read_only_reason=why)
