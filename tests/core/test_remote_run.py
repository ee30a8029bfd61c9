"""RemoteScheduler following a `crondeck run` process, as the console attaches to one: a pause
sent from the mirror holds in that process, a run's output reaches the mirror, and stopping
and restarting the process is a disconnect, then a re-attach with a fresh snapshot."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import next_event, until

from crondeck.core import (
    ControlAttached,
    ControlDisconnected,
    ControlError,
    OutputChunk,
    RemoteScheduler,
    RunStatus,
    control_call,
    control_path,
)

CRONDECK = [sys.executable, "-m", "crondeck.cli"]
WAIT = 30.0  # a cold `crondeck run` on a loaded machine
JOBS = """\
[[jobs]]
name = "echo"
schedule = "@daily"
command = "printf 'hello-from-remote\\\\n'"
"""


class Run:
    """`crondeck run` on the jobs file in `home`, its output in files (never a full pipe)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with (open(self.home / f"out{self.starts}.log", "wb") as out,
              open(self.home / f"err{self.starts}.log", "wb") as err):
            self.proc = subprocess.Popen(
                [*CRONDECK, "--config", str(self.home / "crondeck.toml"), "run"],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=WAIT)

    def stderr(self) -> str:
        return (self.home / f"err{self.starts}.log").read_text(errors="replace")


async def attach(path: Path, run: Run) -> RemoteScheduler:
    """Attach as soon as the process serves its socket (bounded)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + WAIT
    while True:
        try:
            return await RemoteScheduler.attach(path, backoff=(0.05, 0.2))
        except ControlError:
            assert run.proc is not None and run.proc.poll() is None, run.stderr()
            assert loop.time() < end, f"no control socket after {WAIT}s: {run.stderr()}"
            await asyncio.sleep(0.05)


@pytest.mark.slow
def test_the_console_mirror_follows_crondeck_run_across_a_restart(short_dir: Path) -> None:
    (short_dir / "crondeck.toml").write_text(JOBS)
    path = control_path(short_dir / ".crondeck")
    run = Run(short_dir)

    async def main() -> None:
        run.start()
        mirror = await attach(path, run)
        try:
            assert run.proc is not None
            assert mirror.hello is not None and mirror.hello["pid"] == run.proc.pid
            assert mirror.hello["kind"] == "crondeck run" and set(mirror.jobs) == {"echo"}
            sub = mirror.subscribe()

            # a pause sent from the mirror holds in the other process
            await mirror.pause_job("echo", note="from the console")
            status = await asyncio.to_thread(control_call, path, "status")
            (echo,) = status["jobs"]
            assert echo["paused"] and echo["pause_note"] == "from the console"
            assert mirror.jobs["echo"].paused  # the stream brought it back

            # what a run prints there shows here, and its result settles the handle
            handle = mirror.run_now("echo")
            chunk = await next_event(sub, OutputChunk, WAIT)
            assert chunk.text == "hello-from-remote\n" and chunk.job == "echo"
            result = await asyncio.wait_for(handle.wait(), WAIT)
            assert result.status is RunStatus.OK and result.run_id == chunk.run_id

            # the process goes away: the mirror says so and keeps its picture
            await asyncio.to_thread(run.stop)
            lost = await next_event(sub, ControlDisconnected, WAIT)
            assert lost.reason and not mirror.connected and "echo" in mirror.jobs

            # and comes back: re-attached, from a fresh snapshot of the new process
            run.start()
            attached = await next_event(sub, ControlAttached, WAIT)
            assert attached.resync and mirror.connected
            assert mirror.hello["pid"] == run.proc.pid == attached.pid
            job = mirror.jobs["echo"]
            assert job.paused and job.pause_note == "from the console"  # its saved state
            assert any(r.run_id == result.run_id for r in job.results)
            await mirror.resume_job("echo")
            await until(lambda: not mirror.jobs["echo"].paused, WAIT)
        finally:
            await mirror.aclose()
            await asyncio.to_thread(run.stop)

    try:
        asyncio.run(asyncio.wait_for(main(), 4 * WAIT))
    finally:
        run.stop()
