"""Getting from command-line arguments to a scheduler the app can show.

First ask the config's control socket whether a scheduler runs it (`crondeck run`, or another
console): if one answers, the app attaches to it (a `RemoteScheduler` mirror; every key is a
command over the socket). Else open the jobs file with the core's `open_runtime` (state
restored and persisted, runs logged, the single-instance lock taken) and run it in-process,
serving the control socket so `crondeck status`, `pause` and other consoles reach it. If the
lock is held but nothing answers (an older crondeck, or files on a share), observe: follow
the state files, keys that could not work hidden. Also sets up the bundled demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from crondeck.core import (
    Clock,
    ConfigError,
    ControlError,
    ControlServer,
    LockHeld,
    NoScheduler,
    Problem,
    RemoteScheduler,
    Runtime,
    Scheduler,
    UnsafeDir,
    control_call,
    control_path,
    load_config,
    open_runtime,
    resolve_config,
)

from .attached import AttachedDashboard, ObserveDashboard

__all__ = ["DEMO_PAUSED", "Launch", "launch", "prepare_demo", "probe"]

PROBE_TIMEOUT = 3.0  # seconds a scheduler may take to answer `status` before we give up
ATTACH_WAIT = 5.0  # seconds to attach after a scheduler answered the probe
LOCK_SETTLE = 1.0  # a scheduler that has the lock but no socket yet may be starting up

# The demo shows a job paused with a note; pause state lives in runtime state, not in the
# jobs file, so the demo applies it through the public API at start.
DEMO_PAUSED = {"nightly-digest": "waiting for the API key rotation (ops-1234)"}


@dataclass
class Launch:
    """What the app is opened on: a Runtime (in-process, or observed read-only), or a
    RemoteScheduler when attached. Close it when the app exits: state saved, lock freed."""

    runtime: Runtime | None
    config_path: Path
    read_only_reason: str = ""
    remote: Any = None  # the RemoteScheduler, attached
    serve: bool = True  # in-process: serve the control socket
    # attached although the jobs file on disk is refused: its problems (shown on opening)
    file_problems: list[Problem] = field(default_factory=list)
    _server: Any = None

    @property
    def scheduler(self) -> Scheduler:
        if self.remote is not None:
            return self.remote  # type: ignore[no-any-return]
        assert self.runtime is not None
        return self.runtime.scheduler

    @property
    def read_only(self) -> bool:
        return self.runtime is not None and self.runtime.read_only

    @property
    def in_process(self) -> bool:
        return self.remote is None and not self.read_only

    @property
    def mode(self) -> str:
        return "attached" if self.remote is not None else (
            "observe" if self.read_only else "in-process")

    def prepare(self, app: Any) -> None:
        """Give the app its runtime, this session and the dashboard for the mode."""
        app.runtime = self.runtime
        app.session = self
        if self.remote is not None:
            app.dashboard_class = AttachedDashboard
        elif self.read_only:
            app.dashboard_class = ObserveDashboard

    async def mount(self, app: Any) -> bool:
        """On the app's loop, before the dashboard: attach (the first snapshot read), or
        serve the control socket for the scheduler run here. False: the app is exiting."""
        if self.remote is not None:
            # the mirror made at launch stood in for the app's construction; this one is
            # attached (snapshot read) and follows, re-attaching by itself
            try:
                app.scheduler = self.remote = await _attached(self.remote.path,
                                                              self.remote.clock)
            except (OSError, ControlError) as exc:  # it went away between the probe and now
                app.exit(return_code=1, message=f"crondeck: the scheduler on {self.remote.path} "
                         f"stopped answering before the console could attach: {exc}; "
                         "run crondeck again")
                return False
        elif self.in_process and self.serve and self.runtime is not None:
            runtime = self.runtime
            server = ControlServer(runtime.scheduler, control_path(runtime.config.state_dir),
                                   kind="crondeck console", config_path=self.config_path,
                                   reload=runtime.reload)
            try:
                await server.start()
            except OSError as exc:  # the console still schedules; only the socket is missing
                app.notify(f"cannot serve the control socket: {exc}", severity="warning",
                           timeout=10)
                return True
            self._server = server
        return True

    async def unmount(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.close()
        if self.remote is not None:
            with contextlib.suppress(Exception):
                await self.remote.aclose()

    def close(self) -> None:
        if self.runtime is not None:
            self.runtime.close()


async def _attached(path: Path, clock: Clock | None) -> RemoteScheduler:
    """Attach, trying again for a few seconds (the scheduler that answered the probe may be
    restarting); the last error is raised."""
    deadline = time.monotonic() + ATTACH_WAIT
    while True:
        try:
            return await RemoteScheduler.attach(path, clock=clock)
        except (OSError, ControlError):
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.2)


def probe(path: Path, timeout: float = PROBE_TIMEOUT) -> dict[str, Any] | None:
    """The `status` of the scheduler serving the control socket at `path`, or None if none
    answers (no socket, nothing listening). Raises ControlError if one answers but refuses
    (another protocol version, another user)."""
    try:
        return control_call(path, "status", timeout=timeout)
    except NoScheduler:
        return None


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
    """Load the config and open it; raises ConfigError if invalid, unless a scheduler
    answers on its control socket (attached to, the problems kept). A scheduler answering
    on its control socket is attached to; else the file is opened in-process; if another
    crondeck holds the lock and does not answer, it is observed read-only (saying who)."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        # Refused on disk, but a scheduler may run its previous version: attach to it and
        # say what is wrong with the file, rather than leave the operator without a console.
        attached = None if read_only else _attach(
            control_path(resolve_config(config_path, create=False).state_dir), config_path,
            clock)
        if attached is None:
            raise
        attached.file_problems = list(exc.problems)
        return attached
    socket = control_path(config.state_dir)
    why = "--read-only" if read_only else ""
    if not read_only:
        attached = _attach(socket, config_path, clock)
        if attached is not None:
            return attached
    try:
        runtime = open_runtime(config, read_only=read_only, clock=clock)
    except (LockHeld, UnsafeDir) as held:
        # The holder may be starting up (the lock is taken before the socket is served).
        deadline = time.monotonic() + (LOCK_SETTLE if isinstance(held, LockHeld) else 0)
        while time.monotonic() < deadline:
            time.sleep(0.2)
            attached = _attach(socket, config_path, clock)
            if attached is not None:
                return attached
        runtime = open_runtime(config, read_only=True, clock=clock)
        who = f"pid {held.pid}" if isinstance(held, LockHeld) and held.pid else "another crondeck"
        why = (f"{who} is already running these jobs and does not answer on {socket.name}: "
               "watching only" if isinstance(held, LockHeld) else str(held))
    if demo and not runtime.read_only:
        for name, note in DEMO_PAUSED.items():
            job = runtime.scheduler.jobs.get(name)
            if job is not None and not job.paused:
                runtime.scheduler.pause_job(name, note=note)
    return Launch(runtime=runtime, config_path=config_path, read_only_reason=why)


def _attach(socket: Path, config_path: Path, clock: Clock | None) -> Launch | None:
    try:
        status = probe(socket)
    except ControlError:
        return None  # it answers but will not serve us: observed like an older crondeck
    if status is None:
        return None
    remote = RemoteScheduler(socket, clock=clock)  # attached on the app's loop (`mount`)
    return Launch(runtime=None, config_path=config_path, remote=remote)
