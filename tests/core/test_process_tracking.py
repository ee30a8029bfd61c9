"""Every process a run starts ends with it: children that left its process group (`setsid`)
are found by the tag crondeck puts in their environment, a crash of the scheduler takes its
agents down (a watchdog process ends them), and a restart ends whatever a dead scheduler left
running before it records those runs abandoned."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crondeck.core import process
from crondeck.core.agents import CommandAgent
from crondeck.core.config import load_config
from crondeck.core.results import RunStatus, make_run_id
from crondeck.core.runtime import open_runtime
from crondeck.core.scheduler import Scheduler
from crondeck.core.store import StateStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

MARK = "CRONDECK_TEST_MARK"


def _alive_with(mark: str, program: str = "") -> list[int]:
    """Live (not zombie) processes whose environment carries MARK=mark (running `program`,
    if given)."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0]
        except OSError:
            continue
        alive = needle in env and state not in (b"Z", b"X")
        if alive and (not program or argv0 == program.encode()):
            found.append(int(entry))
    return found


def _gone(mark: str, within: float) -> list[int]:
    deadline = time.monotonic() + within
    while (left := _alive_with(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.mark.parametrize(("command", "timeout", "status"), [
    ("setsid sleep 100 & sleep 30", 1.5, RunStatus.TIMED_OUT),
    ("setsid -f sleep 100; setsid -f sh -c 'sleep 100 & sleep 100'; exit 0", 10, RunStatus.OK),
])
def test_processes_that_left_the_group_end_with_the_run(
        command: str, timeout: float, status: RunStatus) -> None:
    mark = uuid.uuid4().hex

    async def main() -> RunStatus:
        s = Scheduler()
        job = s.add_job(CommandAgent(command, env={MARK: mark}), "", "@every 1h",
                        name="escaper", timeout=timeout, kill_grace=0.5)
        result = await asyncio.wait_for(s.run_now(job).wait(), 20)
        return result.status

    try:
        assert asyncio.run(main()) is status
        assert _gone(mark, 3.0) == []
    finally:
        _kill(_alive_with(mark))


def test_cancel_reaches_processes_that_left_the_group() -> None:
    mark = uuid.uuid4().hex

    async def main() -> RunStatus:
        s = Scheduler()
        job = s.add_job(CommandAgent("setsid -f sleep 100; sleep 100", env={MARK: mark}), "",
                        "@every 1h", name="escaper", kill_grace=0.5)
        handle = s.run_now(job)
        deadline = time.monotonic() + 10
        while len(_alive_with(mark)) < 2 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        handle.cancel()
        return (await asyncio.wait_for(handle.wait(), 20)).status

    try:
        assert asyncio.run(main()) is RunStatus.CANCELLED
        assert _gone(mark, 3.0) == []
    finally:
        _kill(_alive_with(mark))


def test_a_restart_ends_what_the_dead_scheduler_left_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text('[defaults]\ntimezone = "UTC"\n\n[[jobs]]\nname = "sleeper"\n'
                    'command = "sleep 40"\nschedule = "0 0 1 1 *"\n')
    cfg = load_config(path)
    mark = uuid.uuid4().hex
    slot = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    run_id = make_run_id("sleeper", slot)
    StateStore(cfg.state_dir / "state.toml").claim("sleeper", run_id, slot)
    # what the dead scheduler's agent looks like: tagged by its instance, its watchdog gone
    orphan = subprocess.Popen(
        ["sleep", "300"], start_new_session=True,
        env={**os.environ, MARK: mark, process.TAG_VAR: f"{process.instance_id()}.7",
             "CRONDECK_RUN_ID": run_id})
    try:
        monkeypatch.setattr(process, "_instance", ("another", 0))  # a new process restarts
        with open_runtime(cfg) as runtime:
            [abandoned] = runtime.abandoned
        assert abandoned.run_id == run_id
        assert "1 process it left running was terminated" in abandoned.error
        # Signalled (then killed after a 3 s grace) before open_runtime returned: it exits at
        # once unless this niced test is starved of CPU; 30 s is far below its own 300 s.
        assert orphan.wait(30) is not None
    finally:
        orphan.kill()
        orphan.wait()


JOBS = """
[defaults]
timezone = "UTC"

[[jobs]]
name = "sleeper"
command = "sleep 40"
timeout = "5s"
overlap = "skip"
schedule = "@every 10s"
start_immediately = true
env = { CRONDECK_TEST_MARK = "MARKVALUE" }
"""


@pytest.mark.slow
def test_killing_crondeck_run_leaves_no_agent_behind(tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS.replace("MARKVALUE", mark))
    lines: list[str] = []
    try:
        for _ in range(3):
            proc = subprocess.Popen(
                [sys.executable, "-m", "crondeck.cli", "run", "--config", str(path)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            reader = threading.Thread(target=lambda p=proc: lines.extend(p.stdout), daemon=True)
            reader.start()
            deadline = time.monotonic() + 20
            while not _alive_with(mark, "sleep") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(_alive_with(mark, "sleep")) == 1  # the restart started no second copy
            proc.kill()
            proc.wait(5)
            assert _gone(mark, 5.0) == []  # the crash took the agent down
            reader.join(5)
        events = [json.loads(line) for line in lines if line.startswith("{")]
        abandoned = [e for e in events if e["event"] == "run_abandoned"]
        assert len(abandoned) == 2  # each restart found the previous run, ended
        assert all("previous crondeck process ended" in e["result"]["error"] for e in abandoned)
    finally:
        _kill(_alive_with(mark))


def test_a_process_caught_mid_exec_is_still_found_by_its_tag(monkeypatch) -> None:
    """A process in the middle of an exec reads as having no environment for a moment (the
    kernel has not set the new program's up yet): the scan reads it again instead of
    taking it for untagged, so an escaped agent exec'ing just then is not left behind."""
    tag = f"{uuid.uuid4().hex}.1"
    proc = subprocess.Popen(["sleep", "30"], env={**os.environ, process.TAG_VAR: tag})
    try:
        assert process._tagged(lambda t: t == tag)[0][0] == proc.pid  # found when settled
        reads: dict[str, int] = {}
        real = process._environ

        def mid_exec(entry: str) -> bytes | None:
            if entry == str(proc.pid):
                reads[entry] = reads.get(entry, 0) + 1
                if reads[entry] <= 2:  # the first two looks land inside the exec
                    return b""
            return real(entry)

        monkeypatch.setattr(process, "_environ", mid_exec)
        assert [pid for pid, _, _ in process._tagged(lambda t: t == tag)] == [proc.pid]
        assert reads[str(proc.pid)] == 3
    finally:
        proc.kill()
        proc.wait(timeout=10)
