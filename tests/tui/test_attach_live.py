"""A console attached to a real `crondeck run` over its control socket: what the operator does
in the console reaches the scheduler, what the scheduler does reaches the console, and the
console survives the scheduler going away and coming back. Also how `crondeck` decides:
attach, run in-process (and serve the socket), or only watch."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import text_of
from helpers import until
from textual.widgets import Input

from crondeck.core import (
    ConfigError,
    ControlError,
    RemoteScheduler,
    control_call,
    control_path,
    load_config,
    open_runtime,
)
from crondeck.tui import launch as launch_module
from crondeck.tui.app import CrondeckApp
from crondeck.tui.attached import AttachedDashboard, ObserveDashboard
from crondeck.tui.launch import launch
from crondeck.tui.screens.job_editor import JobEditorScreen
from crondeck.tui.screens.pause_dialog import PauseDialog
from crondeck.tui.textual_compat import shown_notifications
from crondeck.tui.widgets.header import DeckHeader

JOBS = """
[[jobs]]
name = "digest"
schedule = "0 3 * * *"
command = "echo digest"

[[jobs]]
name = "talker"
schedule = "0 4 * * *"
command = "echo hello from the run; sleep 30"
"""
SIZE = (120, 36)
WAIT = 15.0  # seconds any one thing may take on a loaded machine


def start_scheduler(config: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "crondeck.cli", "--config", str(config),
                             "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = control_path(config.parent / ".crondeck")
    deadline = time.monotonic() + WAIT
    while True:
        try:
            control_call(path, "status", timeout=2)
            return proc
        except ControlError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError("crondeck run did not answer on its socket") from None
            time.sleep(0.1)


def stop_scheduler(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def status(config: Path) -> dict:
    return control_call(control_path(config.parent / ".crondeck"), "status")


def job_state(config: Path, name: str) -> dict:
    return next(j for j in status(config)["jobs"] if j["name"] == name)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS)
    return path


def open_app(config: Path):
    opened = launch(config)
    app = CrondeckApp(opened.scheduler, config_path=config, read_only=opened.read_only,
                      read_only_reason=opened.read_only_reason, start=opened.in_process)
    opened.prepare(app)
    return opened, app


@pytest.mark.slow
def test_attached_console_acts_on_the_scheduler_and_shows_its_runs(config):
    proc = start_scheduler(config)
    try:
        opened, app = open_app(config)
        assert opened.mode == "attached"

        async def go():
            async with app.run_test(size=SIZE) as pilot:
                screen = app.dashboard
                assert isinstance(screen, AttachedDashboard)
                await until(lambda: "digest" in screen.model.rows, WAIT, "the jobs", pilot=pilot)
                header = text_of(screen.query_one(DeckHeader))
                assert f"attached to crondeck run, pid {proc.pid}, up " in header
                screen.table.select("digest")
                await pilot.press("p")
                await until(lambda: isinstance(app.screen, PauseDialog),
                            WAIT, "the dialog", pilot=pilot)
                await pilot.press(*"vacation", "enter")
                await until(lambda: job_state(config, "digest")["paused"],
                            WAIT, "the scheduler to pause digest", pilot=pilot)
                assert job_state(config, "digest")["pause_note"] == "vacation"
                await until(lambda: screen.model.rows["digest"].status == "paused",
                            WAIT, "the row to say paused", pilot=pilot)
                # a run started from the console prints into the attached Output pane
                screen.table.select("talker")
                await pilot.press("r")
                await until(lambda: "hello from the run" in "\n".join(
                    screen.output.lines), WAIT, "the run's output", pilot=pilot)
                await until(lambda: screen.model.rows["talker"].status == "running",
                            WAIT, "the row to say running", pilot=pilot)
                await pilot.press("x")
                await until(lambda: not job_state(config, "talker")["running"],
                            WAIT, "the scheduler to cancel the run", pilot=pilot)
                await until(lambda: any(r.job == "talker" and r.status.value ==
                                               "cancelled" for r in screen.model.history),
                            WAIT, "the cancelled run in History", pilot=pilot)

        asyncio.run(go())
    finally:
        stop_scheduler(proc)


@pytest.mark.slow
def test_scheduler_gone_then_back_reattaches_by_itself(config):
    proc = start_scheduler(config)
    again = None
    try:
        _opened, app = open_app(config)

        async def go():
            nonlocal again
            async with app.run_test(size=SIZE) as pilot:
                screen = app.dashboard
                await until(lambda: "digest" in screen.model.rows, WAIT, "the jobs", pilot=pilot)
                stop_scheduler(proc)
                await until(lambda: screen.has_class("-disconnected"),
                            WAIT, "disconnected", pilot=pilot)
                header = text_of(screen.query_one(DeckHeader))
                assert "DISCONNECTED" in header and f"pid {proc.pid} went away" in header
                await until(lambda: "Scheduler disconnected" in {
                    n.title for n in shown_notifications(app)}, WAIT, "the notification",
                    pilot=pilot)
                assert "digest" in screen.model.rows  # the last picture stays
                again = start_scheduler(config)
                await until(lambda: not screen.has_class("-disconnected"),
                            WAIT, "re-attached", pilot=pilot)
                await until(lambda: f"pid {again.pid}" in text_of(
                    screen.query_one(DeckHeader)), WAIT, "the header to name the new scheduler",
                    pilot=pilot)
                screen.table.select("digest")
                await pilot.press("s")
                await until(lambda: job_state(config, "digest")["skip_next"],
                            WAIT, "a key to work on the new scheduler", pilot=pilot)

        asyncio.run(go())
    finally:
        stop_scheduler(proc)
        if again is not None:
            stop_scheduler(again)


@pytest.mark.slow
def test_in_process_console_serves_the_socket(config):
    opened, app = open_app(config)
    assert opened.mode == "in-process"
    path = control_path(config.parent / ".crondeck")

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            answer = await asyncio.to_thread(control_call, path, "pause", job="digest",
                                             note="from the CLI")
            assert answer["paused"]
            assert app.scheduler.jobs["digest"].paused
            hello = (await asyncio.to_thread(control_call, path, "status"))["hello"]
            assert hello["kind"] == "crondeck console" and hello["pid"] == os.getpid()

    try:
        asyncio.run(go())
    finally:
        opened.close()
    assert not path.exists()  # served only while the console runs the schedule


@pytest.mark.slow
def test_lock_held_without_a_socket_only_watches_and_hides_keys(config):
    holder = open_runtime(load_config(config))  # an older crondeck: holds the lock, no socket
    try:
        opened, app = open_app(config)
        assert opened.mode == "observe" and "does not answer" in opened.read_only_reason

        async def go():
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause()
                screen = app.dashboard
                assert isinstance(screen, ObserveDashboard)
                shown = {b.binding.action for b in screen.active_bindings.values()}
                assert not shown & {"pause", "run_now", "skip_next", "cancel_run",
                                    "pause_all", "new_job", "edit_job"}
                holder.scheduler.pause_job("digest", note="elsewhere")
                holder.store.flush()
                await until(lambda: screen.model.rows["digest"].status == "paused",
                            WAIT, "the holder's pause to show", pilot=pilot)

        try:
            asyncio.run(go())
        finally:
            opened.close()
    finally:
        holder.close()


@pytest.mark.slow
def test_attached_editor_writes_the_file_and_the_scheduler_applies_it(config):
    proc = start_scheduler(config)
    try:
        _opened, app = open_app(config)

        async def go():
            async with app.run_test(size=SIZE) as pilot:
                screen = app.dashboard
                await until(lambda: "digest" in screen.model.rows, WAIT, "the jobs", pilot=pilot)
                screen.table.select("digest")
                await pilot.press("e")
                await until(lambda: isinstance(app.screen, JobEditorScreen),
                            WAIT, "the editor", pilot=pilot)
                app.screen.query_one("#schedule", Input).value = "30 2 * * *"
                await pilot.pause()
                await pilot.press("ctrl+s")
                await until(lambda: not isinstance(app.screen, JobEditorScreen),
                            WAIT, "the editor to close", pilot=pilot)
                assert '"30 2 * * *"' in config.read_text()
                # the answer's toast first: it is up for 5 s, and each look at the
                # scheduler's state below holds the console's loop for a round trip
                await until(lambda: "changed digest" in "\n".join(
                    n.message for n in shown_notifications(app)), WAIT, "the scheduler's answer",
                    pilot=pilot)
                await until(lambda: job_state(config, "digest")["schedule"][
                    "expression"] == "30 2 * * *", WAIT, "the scheduler to apply the edit",
                    pilot=pilot)
                await until(lambda: screen.model.rows["digest"].schedule == "30 2 * * *",
                            WAIT, "the row to show the new schedule", pilot=pilot)

        asyncio.run(go())
    finally:
        stop_scheduler(proc)


@pytest.mark.slow
def test_attached_editor_changes_a_running_job_and_its_run_goes_on(config):
    """The edit reaches `crondeck run` as a reload, which changes the job in place: the run
    in flight is not cancelled, and the console shows the change beside the running run."""
    proc = start_scheduler(config)
    sock = control_path(config.parent / ".crondeck")
    try:
        _opened, app = open_app(config)

        async def go():
            async with app.run_test(size=SIZE) as pilot:
                screen = app.dashboard
                await until(lambda: "talker" in screen.model.rows, WAIT, "the jobs", pilot=pilot)
                run_id = control_call(sock, "run_now", job="talker")["run_id"]
                await until(lambda: screen.model.rows["talker"].status == "running",
                            WAIT, "the run to show", pilot=pilot)
                screen.table.select("talker")
                await pilot.press("e")
                await until(lambda: isinstance(app.screen, JobEditorScreen),
                            WAIT, "the editor", pilot=pilot)
                app.screen.query_one("#schedule", Input).value = "30 4 * * *"
                await pilot.pause()
                await pilot.press("ctrl+s")
                await until(lambda: not isinstance(app.screen, JobEditorScreen),
                            WAIT, "the editor to close (nothing asked)", pilot=pilot)
                await until(lambda: "changed talker" in "\n".join(
                    n.message for n in shown_notifications(app)), WAIT, "the scheduler's answer",
                    pilot=pilot)
                await until(lambda: screen.model.rows["talker"].schedule == "30 4 * * *",
                            WAIT, "the row to show the new schedule", pilot=pilot)
                state = job_state(config, "talker")
                assert [r["run_id"] for r in state["running"]] == [run_id]
                assert screen.model.rows["talker"].status == "running"
                control_call(sock, "cancel", job="talker")  # not to wait for its sleep

        asyncio.run(go())
    finally:
        stop_scheduler(proc)


@pytest.mark.slow
def test_a_scheduler_gone_before_attaching_ends_the_console_with_a_message(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setattr(launch_module, "ATTACH_WAIT", 0.3)
    socket = tmp_path / ".crondeck" / "control.sock"
    opened = launch_module.Launch(runtime=None, config_path=tmp_path / "crondeck.toml",
                                  remote=RemoteScheduler(socket))
    app = CrondeckApp(opened.scheduler, config_path=opened.config_path, start=opened.in_process)
    opened.prepare(app)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()

    asyncio.run(go())
    assert app.return_code == 1


@pytest.mark.slow
def test_a_refused_jobs_file_still_attaches_to_the_scheduler_running_it_and_says_why(config):
    """`crondeck run` keeps running the last valid version of a file broken since: the
    console attaches to it and says what is wrong, instead of printing it and exiting."""
    proc = start_scheduler(config)
    try:
        config.write_text(JOBS.replace('"0 3 * * *"', '"0 25 * * *"'))
        opened, app = open_app(config)
        assert opened.mode == "attached"

        async def go():
            async with app.run_test(size=SIZE) as pilot:
                screen = app.dashboard
                await until(lambda: "digest" in screen.model.rows, WAIT, "the jobs", pilot=pilot)
                header = text_of(screen.query_one(DeckHeader))
                assert "crondeck.toml: 1 problem since" in header
                assert "line 4, job 'digest', schedule: bad sche" in header
                assert any(n.title == "Jobs file refused" for n in shown_notifications(app))

        asyncio.run(go())
    finally:
        stop_scheduler(proc)
    with pytest.raises(ConfigError):  # nothing runs it: refused as before
        launch(config)
