"""The job editor and deleting jobs: create a job and see it saved and scheduled, edit its
schedule through the builder, delete it (waiting for or terminating a running run);
invalid input keeps Save disabled and the file untouched."""

import asyncio
import tomllib
from datetime import UTC, datetime

import pytest
from conftest import type_text
from helpers import until
from hosts import JOBS_FILE, NOW, SIZE, EditorApp, open_test_deck
from textual.app import App
from textual.widgets import Button, Checkbox, Input, Select, Static

from crondeck.tui.model import row_from_job
from crondeck.tui.screens.cron_builder import CronBuilderScreen
from crondeck.tui.screens.delete_job import DeleteJobDialog, confirm_delete
from crondeck.tui.screens.discard_dialog import DiscardDialog
from crondeck.tui.screens.job_editor import JobEditorScreen
from crondeck.tui.screens.running_job_dialog import RunningJobDialog


def jobs_in(path):
    return {j["name"]: j for j in tomllib.loads(path.read_text())["jobs"]}


def run(app, steps):
    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await steps(pilot)

    try:
        asyncio.run(go())
    finally:
        app.runtime.close()


async def type_into(pilot, selector, text):
    box = pilot.app.screen.query_one(selector, Input)
    box.focus()
    box.value = ""
    await type_text(pilot, text)
    await pilot.pause()


@pytest.mark.slow
def test_create_a_job_saves_the_file_and_schedules_it(tmp_path):
    runtime = open_test_deck(tmp_path)
    app = EditorApp(runtime)
    path = runtime.config.path

    async def steps(pilot):
        screen = app.screen
        assert isinstance(screen, JobEditorScreen)
        await type_into(pilot, "#name", "nightly report")
        screen.query_one("#source", Select).value = "command"
        await pilot.pause()
        await type_into(pilot, "#command", "echo hi")
        await type_into(pilot, "#schedule", "30 2 * * *")
        assert "At 02:30" in str(screen.query_one("#schedule-info", Static).render())
        await type_into(pilot, "#timeout", "5m")
        assert not screen.query_one("#save", Button).disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results[0].job == "nightly report" and app.results[0].action == "created"

    run(app, steps)
    saved = jobs_in(path)["nightly report"]
    assert saved == {"name": "nightly report", "command": "echo hi", "schedule": "30 2 * * *",
                     "timeout": "5m"}
    assert path.with_name("crondeck.toml.bak").exists()
    job = runtime.scheduler.jobs["nightly report"]
    assert job.next_fire is not None and job.next_fire.astimezone().strftime("%M") == "30"
    assert app.results[0].backup == path.with_name("crondeck.toml.bak")


@pytest.mark.slow
def test_invalid_input_keeps_save_disabled_and_the_file_untouched(tmp_path):
    runtime = open_test_deck(tmp_path)
    path = runtime.config.path
    before = path.read_bytes()
    app = EditorApp(runtime, "digest")

    async def steps(pilot):
        screen = app.screen
        await type_into(pilot, "#timeout", "5x")
        await type_into(pilot, "#schedule", "0 24 * * *")
        errors = {key: str(screen.query_one(f"#{key}-error", Static).render())
                  for key in ("timeout", "schedule")}
        assert "'5x' is not a duration" in errors["timeout"]
        assert "hour: 24 is out of range 0–23" in errors["schedule"]
        assert screen.query_one("#save", Button).disabled
        assert screen.check_action("save", ()) is None  # shown, but disabled, in the footer
        await pilot.press("ctrl+s")
        await pilot.click("#save")
        await pilot.pause()
        assert app.results == [] and app.screen is screen
        await type_into(pilot, "#name", "disk")  # duplicate name
        assert "duplicate job name 'disk'" in str(screen.query_one("#name-error").render())
        await pilot.press("escape")  # the form was changed: asks before throwing it away
        await pilot.pause()
        assert isinstance(app.screen, DiscardDialog)
        await pilot.press("d")
        await pilot.pause()
        assert app.results == [None]

    run(app, steps)
    assert path.read_bytes() == before
    assert not path.with_name("crondeck.toml.bak").exists()


@pytest.mark.slow
def test_edit_schedule_through_the_builder_takes_effect_at_once(tmp_path):
    runtime = open_test_deck(tmp_path)
    path = runtime.config.path
    app = EditorApp(runtime, "disk")
    before = runtime.scheduler.jobs["disk"].next_fire

    async def steps(pilot):
        editor = app.screen
        await pilot.press("ctrl+b")
        await pilot.pause()
        builder = app.screen
        assert isinstance(builder, CronBuilderScreen) and builder.use_mode
        assert builder.expression == "*/15 * * * *"
        assert builder.query_one("#zone", Input).value == "UTC"
        box = builder.query_one("#expr", Input)
        box.focus()
        box.value = ""
        await type_text(pilot, "0 10 * * 1-5")
        await pilot.pause()
        await pilot.press("enter")  # Use
        await pilot.pause()
        assert app.screen is editor
        assert editor.query_one("#schedule", Input).value == "0 10 * * 1-5"
        await pilot.press("ctrl+s")
        await pilot.pause()

    run(app, steps)
    assert jobs_in(path)["disk"]["schedule"] == "0 10 * * 1-5"
    job = runtime.scheduler.jobs["disk"]
    assert before is not None and job.next_fire != before
    assert job.next_fire.isoformat() == "2025-03-03T10:00:00+00:00"  # Monday 10:00 UTC
    assert runtime.config.job("disk").schedule == "0 10 * * 1-5"


@pytest.mark.slow
def test_cancelling_the_builder_keeps_the_schedule(tmp_path):
    runtime = open_test_deck(tmp_path)
    app = EditorApp(runtime, "disk")

    async def steps(pilot):
        await pilot.press("ctrl+b")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query_one("#schedule", Input).value == "*/15 * * * *"

    run(app, steps)


@pytest.mark.slow
def test_agent_choice_and_inline_command(tmp_path):
    runtime = open_test_deck(tmp_path)
    app = EditorApp(runtime, "digest")

    async def steps(pilot):
        screen = app.screen
        assert screen.query_one("#source", Select).value == "claude"
        assert not screen.query_one("#command").parent.display  # a defined agent: no command
        screen.query_one("#source", Select).value = "command"
        await pilot.pause()
        assert screen.query_one("#command").parent.display
        assert "empty command" in str(screen.query_one("#command-error").render())
        assert screen.query_one("#save", Button).disabled
        await type_into(pilot, "#command", "llm -m mini")
        assert not screen.query_one("#save", Button).disabled

    run(app, steps)


@pytest.mark.slow
def test_unchecking_enabled_writes_enabled_false_and_the_job_never_fires(tmp_path):
    runtime = open_test_deck(tmp_path)
    app = EditorApp(runtime, "digest")

    async def steps(pilot):
        assert pilot.app.screen.query_one("#enabled", Checkbox).value
        await pilot.click("#enabled")
        await pilot.press("ctrl+s")
        await pilot.pause()

    run(app, steps)
    saved = jobs_in(runtime.config.path)["digest"]
    assert saved["enabled"] is False and saved["agent"] == "claude"  # argv agent kept
    job = runtime.scheduler.jobs["digest"]
    assert not job.enabled and not job.paused and job.next_fire is None
    assert row_from_job(job, False).status == "disabled"


@pytest.mark.slow
def test_a_disabled_job_opens_unchecked_and_enabling_it_schedules_it_again(tmp_path):
    runtime = open_test_deck(tmp_path, JOBS_FILE.replace('timezone = "UTC"\n',
                                                      'timezone = "UTC"\nenabled = false\n', 1))
    assert not runtime.scheduler.jobs["digest"].enabled
    app = EditorApp(runtime, "digest")

    async def steps(pilot):
        box = pilot.app.screen.query_one("#enabled", Checkbox)
        assert not box.value
        await pilot.click("#enabled")
        assert box.value
        await pilot.press("ctrl+s")
        await pilot.pause()

    run(app, steps)
    assert jobs_in(runtime.config.path)["digest"]["enabled"] is True  # it had the key: kept
    job = runtime.scheduler.jobs["digest"]
    assert job.enabled and job.next_fire == datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class DeleteApp(App[None]):
    def __init__(self, runtime):
        super().__init__()
        self.runtime = runtime


def test_delete_an_idle_job_after_confirmation(tmp_path):
    runtime = open_test_deck(tmp_path)
    path = runtime.config.path
    app = DeleteApp(runtime)

    async def steps(pilot):
        confirm_delete(app, runtime, "disk")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, DeleteJobDialog)
        assert "Delete job “disk”?" in str(dialog.query_one("#delete-title").render())
        await pilot.press("escape")  # keep
        await pilot.pause()
        assert "disk" in runtime.scheduler.jobs
        confirm_delete(app, runtime, "disk")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()

    run(app, steps)
    assert "disk" not in jobs_in(path)
    assert "disk" not in runtime.scheduler.jobs
    assert path.with_name("crondeck.toml.bak").exists()


SLOW = """\
[[jobs]]
name = "slow"
command = "sleep 30"
schedule = "0 0 1 1 *"
timezone = "UTC"

[[jobs]]
name = "other"
command = "true"
schedule = "0 0 1 1 *"
timezone = "UTC"
"""


@pytest.mark.slow
def test_delete_a_running_job_asks_and_terminates(tmp_path):
    runtime = open_test_deck(tmp_path, SLOW)
    path = runtime.config.path
    app = DeleteApp(runtime)

    async def steps(pilot):
        handle = runtime.scheduler.run_now("slow")
        for _ in range(50):
            await asyncio.sleep(0.02)
            if runtime.scheduler.jobs["slow"].running:
                break
        assert runtime.scheduler.jobs["slow"].running
        confirm_delete(app, runtime, "slow")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, RunningJobDialog) and dialog.action == "delete"
        await pilot.press("y")  # no plain "delete" for a running job
        await pilot.pause()
        assert app.screen is dialog and "slow" in jobs_in(path)
        await pilot.press("t")
        await pilot.pause()
        result = await asyncio.wait_for(handle.wait(), 10)
        assert result.status.value == "cancelled"
        assert result.reason == "terminated by the operator to delete the job"
        await until(lambda: "slow" not in runtime.scheduler.jobs, 10)

    run(app, steps)
    assert "slow" not in jobs_in(path) and "other" in jobs_in(path)
    assert "slow" not in runtime.scheduler.jobs


def test_delete_a_running_job_after_waiting(tmp_path):
    # the run ends when the test says so (a fixed sleep could end before "w" under load)
    runtime = open_test_deck(tmp_path, SLOW.replace('"sleep 30"', repr(HELD)))
    path = runtime.config.path
    app = DeleteApp(runtime)

    async def steps(pilot):
        handle = await _start(runtime)
        confirm_delete(app, runtime, "slow")
        await pilot.pause()
        assert isinstance(app.screen, RunningJobDialog)
        await pilot.press("w")
        await pilot.pause()
        job = runtime.scheduler.jobs["slow"]
        assert not job.enabled and job.next_fire is None  # nothing new starts meanwhile
        assert "slow" in jobs_in(path)  # the file changes when the job goes
        (tmp_path / "release").touch()
        result = await asyncio.wait_for(handle.wait(), 10)
        assert result.status.value == "ok"
        await until(lambda: "slow" not in runtime.scheduler.jobs, 10)

    run(app, steps)
    assert "slow" not in jobs_in(path)
    assert NOW  # the fixed clock never moved


@pytest.mark.slow
def test_a_new_form_does_not_complain_before_typing_but_cannot_be_saved(tmp_path):
    runtime = open_test_deck(tmp_path)
    app = EditorApp(runtime)

    async def steps(pilot):
        screen = app.screen
        assert not screen.query_one("#name-error").display
        assert screen.query_one("#save", Button).disabled
        await pilot.press("tab")  # leaving the name empty
        await pilot.pause()
        assert "a job needs a name" in str(screen.query_one("#name-error").render())

    run(app, steps)


HELD = 'while [ ! -e release ]; do sleep 0.05; done; echo done'  # runs until released


async def _start(runtime, name="slow"):
    handle = runtime.scheduler.run_now(name)
    await until(lambda: bool(runtime.scheduler.jobs[name].running), 10)
    return handle


@pytest.mark.slow
def test_saving_a_change_to_a_running_job_applies_it_and_lets_the_run_finish(tmp_path):
    """A change is applied to the job in place: nothing to ask, the run goes on as it
    started and is recorded, the new schedule takes over at once."""
    runtime = open_test_deck(tmp_path, SLOW.replace('"sleep 30"', repr(HELD)))
    path = runtime.config.path
    app = EditorApp(runtime, "slow")

    async def steps(pilot):
        handle = await _start(runtime)
        job = runtime.scheduler.jobs["slow"]
        app.screen.query_one("#schedule", Input).value = "*/10 * * * *"
        app.screen.query_one("#timeout", Input).value = "5m"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results and app.results[-1].action == "updated"  # no question
        assert jobs_in(path)["slow"]["schedule"] == "*/10 * * * *"
        assert runtime.scheduler.jobs["slow"] is job and job.running and job.enabled
        assert job.schedule.text == "*/10 * * * *" and job.options.timeout == 300
        assert job.next_fire == datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
        (tmp_path / "release").touch()
        assert (await asyncio.wait_for(handle.wait(), 10)).status.value == "ok"

    run(app, steps)
    statuses = [r.status.value for r in runtime.scheduler.jobs["slow"].results]
    assert statuses == ["ok"]  # the run kept, nothing abandoned or cancelled


@pytest.mark.slow
def test_renaming_a_running_job_asks_and_can_go_back_or_terminate_it(tmp_path):
    """A new name is another job (the old one removed): its run in flight would be
    cancelled, so saving asks first."""
    runtime = open_test_deck(tmp_path, SLOW)
    path = runtime.config.path
    before = path.read_bytes()
    app = EditorApp(runtime, "slow")

    async def steps(pilot):
        handle = await _start(runtime)
        editor = app.screen
        editor.query_one("#name", Input).value = "slower"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, RunningJobDialog) and dialog.action == "save"
        title = str(dialog.query_one("#running-title").render())
        assert "“slow” is running now" in title
        await pilot.press("escape")  # back to the editor: nothing changed
        await pilot.pause()
        assert app.screen is editor and path.read_bytes() == before
        assert runtime.scheduler.jobs["slow"].running
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, RunningJobDialog)
        await pilot.press("t")
        await pilot.pause()
        result = await asyncio.wait_for(handle.wait(), 10)
        assert result.status.value == "cancelled"
        assert result.reason == "terminated by the operator to apply an edit"
        await until(lambda: "slower" in jobs_in(path), 10)
        assert "slow" not in jobs_in(path) and "slower" in runtime.scheduler.jobs

    run(app, steps)
    assert "slow" not in runtime.scheduler.jobs


@pytest.mark.slow
def test_switching_a_running_job_off_asks_nothing_and_lets_the_run_finish(tmp_path):
    runtime = open_test_deck(tmp_path, SLOW.replace('"sleep 30"', repr(HELD)))
    app = EditorApp(runtime, "slow")

    async def steps(pilot):
        handle = await _start(runtime)
        await pilot.click("#enabled")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results and app.results[-1].action == "updated"  # no question
        job = runtime.scheduler.jobs["slow"]
        assert job.running and not job.enabled
        (tmp_path / "release").touch()
        assert (await asyncio.wait_for(handle.wait(), 10)).status.value == "ok"

    run(app, steps)
    assert jobs_in(runtime.config.path)["slow"]["enabled"] is False


@pytest.mark.slow
def test_escape_asks_before_throwing_away_changes_and_can_go_back(tmp_path):
    """A stray Escape closed the editor and lost what was typed. Unchanged, it still closes
    at once; changed, it asks, and Escape again goes back to the form as it was."""
    runtime = open_test_deck(tmp_path)
    path = runtime.config.path
    before = path.read_bytes()
    app = EditorApp(runtime, "disk")

    async def steps(pilot):
        editor = app.screen
        await type_into(pilot, "#schedule", "0 * * * *")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DiscardDialog)
        assert "Discard your changes to “disk”?" in str(app.screen.query_one("#title").render())
        await pilot.press("escape")  # keep editing
        await pilot.pause()
        assert app.screen is editor and app.results == []
        assert editor.query_one("#schedule", Input).value == "0 * * * *"
        await type_into(pilot, "#schedule", "*/15 * * * *")  # back as it was: nothing to lose
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None]

    run(app, steps)
    assert path.read_bytes() == before
