"""Quitting a console that runs the schedule can keep the jobs running in the background: a
detached `crondeck run` takes the lock over and the schedule goes on, no slot missed or run
twice across the hand-over."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SIZE
from helpers import until

from crondeck.core import (
    ControlError,
    SystemClock,
    control_call,
    control_path,
    load_config,
    open_runtime,
)
from crondeck.core.store import StateStore
from crondeck.tui.app import CrondeckApp
from crondeck.tui.launch import launch
from crondeck.tui.screens.quit_dialog import QuitDialog

JOBS = """\
[[jobs]]
name = "tick"
command = "echo $PPID"
schedule = "@every 1s"
"""


@pytest.mark.slow
def test_the_jobs_keep_running_in_the_background_without_a_slot_missed_or_repeated(
        tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS)
    opened = launch(path)  # as `crondeck` opens it: this console also serves the socket
    runtime = opened.runtime
    assert runtime is not None and opened.in_process
    app = CrondeckApp(opened.scheduler, config_path=path, clock=SystemClock(), live=False)
    opened.prepare(app)
    tick = runtime.scheduler.jobs["tick"]
    sock = control_path(tmp_path / ".crondeck")

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: tick.run_count >= 3, 30, "the console's own runs", pilot=pilot)
            status = await asyncio.to_thread(control_call, sock, "status")  # served here
            assert status["hello"]["pid"] == os.getpid()
            await pilot.press("q")
            await pilot.pause()
            assert isinstance(app.screen, QuitDialog) and app.screen.background
            # a run may be in flight: then it finishes first, as with "wait"
            assert app.screen.offered in (("background", "stop"),
                                          ("background", "wait", "terminate"))
            await pilot.press("b")
            await until(lambda: not app.is_running, 60, "the hand-over", pilot=pilot)

    try:
        asyncio.run(go())
    finally:
        runtime.close()
    background = app.background
    assert background is not None and app.return_code == 0
    try:
        lock = tmp_path / ".crondeck" / "lock"
        assert lock.read_text().strip() == str(background.pid)  # it holds the jobs now
        deadline = time.monotonic() + 15  # and answers the next console on the socket
        while True:
            try:
                if control_call(sock, "status")["hello"]["pid"] == background.pid:
                    break
            except ControlError:
                pass
            assert time.monotonic() < deadline, "the background scheduler serves no socket"
            time.sleep(0.1)
        deadline = time.monotonic() + 30
        while _results(tmp_path, background.pid) < 3:  # it fires on its own
            assert time.monotonic() < deadline, "the background scheduler fired nothing"
            assert background.proc.poll() is None
            time.sleep(0.2)
    finally:
        os.kill(background.pid, signal.SIGTERM)
        assert background.proc.wait(timeout=30) == 0
    results = StateStore(tmp_path / ".crondeck" / "state.toml").load().jobs["tick"].results
    slots = [r.scheduled_for for r in results]
    by = {r.scheduled_for: r.output_tail.strip() for r in results}
    assert all(r.status.value == "ok" for r in results), [r.error for r in results]
    assert len(set(slots)) == len(slots), "a slot ran twice"
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(slots)), (
        "a slot was missed: " + ", ".join(f"{s:%H:%M:%S}" for s in slots))
    # the console ran the first slots, the background scheduler the rest, back to back
    owners = [by[s] for s in slots]
    first_bg = owners.index(str(background.pid))
    assert set(owners[:first_bg]) == {str(os.getpid())} and first_bg >= 3
    assert set(owners[first_bg:]) == {str(background.pid)}
    events = [json.loads(line) for line in background.log.read_text().splitlines()]
    assert events[0]["event"] == "waiting_for_lock" and events[0]["holder"] == os.getpid()


def _results(tmp_path: Path, pid: int) -> int:
    """Runs recorded so far whose output is `pid` (which process ran them)."""
    try:
        state = StateStore(tmp_path / ".crondeck" / "state.toml", read_only=True).load()
    except Exception:  # mid-write: look again
        return 0
    job = state.jobs.get("tick")
    return sum(r.output_tail.strip() == str(pid) for r in job.results) if job else 0


@pytest.mark.slow
def test_stop_the_jobs_quits_and_leaves_nothing_running(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS.replace("@every 1s", "@daily"))
    runtime = open_runtime(load_config(path))
    app = CrondeckApp(runtime.scheduler, config_path=path, clock=SystemClock(), live=False)
    app.runtime = runtime

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("q")
            await pilot.pause()
            assert isinstance(app.screen, QuitDialog) and app.screen.offered == (
                "background", "stop")
            await pilot.press("w")  # not offered: nothing is running
            await pilot.pause()
            assert app.is_running
            await pilot.press("q", "s")
            await until(lambda: not app.is_running, 30, "quitting", pilot=pilot)

    try:
        asyncio.run(go())
    finally:
        runtime.close()
    assert app.background is None and not runtime.scheduler.running_loop
    assert not (tmp_path / ".crondeck" / "run.log").exists()


@pytest.mark.slow
def test_with_a_run_in_progress_the_hand_over_waits_and_q_can_terminate_it(
        tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text('[[jobs]]\nname = "long"\ncommand = "echo started; sleep 60"\n'
                    'schedule = "@daily"\nstart_immediately = true\nkill_grace = "1s"\n')
    runtime = open_runtime(load_config(path))
    app = CrondeckApp(runtime.scheduler, config_path=path, clock=SystemClock(), live=False)
    app.runtime = runtime
    long = runtime.scheduler.jobs["long"]

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: bool(long.running), 30, "the run starting", pilot=pilot)
            await pilot.press("q")
            await pilot.pause()
            assert isinstance(app.screen, QuitDialog)
            assert app.screen.offered == ("background", "wait", "terminate")
            await pilot.press("b")
            await until(lambda: app.background is None and app._handing_over, 10,
                        "the hand-over starting", pilot=pilot)
            await pilot.pause(1.0)
            assert app.is_running and long.running  # the run in progress finishes first
            await pilot.press("q")
            await pilot.pause()
            assert isinstance(app.screen, QuitDialog) and not app.screen.background
            await pilot.press("t")
            await until(lambda: not app.is_running, 60, "the hand-over", pilot=pilot)

    try:
        asyncio.run(go())
    finally:
        runtime.close()
    background = app.background
    assert background is not None
    try:
        assert (tmp_path / ".crondeck" / "lock").read_text().strip() == str(background.pid)
    finally:
        os.kill(background.pid, signal.SIGTERM)
        assert background.proc.wait(timeout=30) == 0
    results = StateStore(tmp_path / ".crondeck" / "state.toml").load().jobs["long"].results
    assert [r.status.value for r in results] == ["cancelled"]
    assert "started" in results[0].output_tail
