"""`c` with a job selected opens the cron builder on that job's schedule and zone; "Edit job"
(ctrl+s) takes the expression tried to the job editor, which saves it as any edit. Without a
job to edit (none selected) the builder opens empty, as a place to try expressions."""

import asyncio
from datetime import UTC

import pytest
from conftest import settle
from hosts import JOBS_FILE, NOW
from textual.widgets import Input

from crondeck.core.clock import FakeClock
from crondeck.core.config import load_config
from crondeck.core.runtime import build_scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.screens.cron_builder import CronBuilderScreen
from crondeck.tui.screens.discard_dialog import DiscardDialog
from crondeck.tui.screens.job_editor import JobEditorScreen

BERLIN = JOBS_FILE.replace('schedule = "*/15 * * * *"\ntimezone = "UTC"',
                           'schedule = "*/15 * * * *"\ntimezone = "Europe/Berlin"')


def make(tmp_path, text: str = BERLIN):
    path = tmp_path / "crondeck.toml"
    path.write_text(text)
    clock = FakeClock(NOW)
    sched = build_scheduler(load_config(path), clock=clock)
    app = CrondeckApp(sched, config_path=path, clock=clock, zone=UTC, start=False, live=False)
    return app, sched, path


@pytest.mark.slow
def test_c_opens_the_builder_on_the_selected_job_and_ctrl_s_edits_it(tmp_path):
    app, sched, path = make(tmp_path)

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            app.dashboard.table.select("disk")
            await pilot.pause()
            await pilot.press("c")
            await pilot.pause()
            builder = app.screen
            assert isinstance(builder, CronBuilderScreen)
            assert builder.query_one("#expr", Input).value == "*/15 * * * *"
            assert builder.query_one("#zone", Input).value == "Europe/Berlin"
            assert "Every 15 minutes" in str(builder.query_one("#description").render())
            assert builder.check_action("edit_job", ()) is True
            # still a place to try anything: typing replaces the job's expression
            await pilot.press(*"0 */2 * * *")
            await pilot.pause()
            assert builder.expression == "0 */2 * * *" and builder.valid
            await pilot.press("ctrl+s")
            await pilot.pause()
            editor = app.screen
            assert isinstance(editor, JobEditorScreen) and editor.original == "disk"
            assert editor.query_one("#schedule", Input).value == "0 */2 * * *"
            assert editor.query_one("#timezone", Input).value == "Europe/Berlin"
            assert "*/15" in path.read_text()  # nothing saved until the editor saves it
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is app.dashboard
            assert 'schedule = "0 */2 * * *"' in path.read_text()
            assert sched.jobs["disk"].schedule.text == "0 */2 * * *"

    asyncio.run(go())


@pytest.mark.slow
def test_escape_in_the_editor_asks_before_dropping_the_schedule_tried(tmp_path):
    app, _sched, path = make(tmp_path)

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            app.dashboard.table.select("disk")
            await pilot.press("c")
            await pilot.pause()
            await pilot.press(*"@hourly")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, JobEditorScreen)
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, DiscardDialog)  # the schedule tried is a change
            before = path.read_text()
            await pilot.press("escape")
            await pilot.pause()
            assert path.read_text() == before

    asyncio.run(go())


@pytest.mark.slow
def test_a_changed_zone_goes_to_the_editor_and_an_invalid_expression_does_not(tmp_path):
    app, _sched, _path = make(tmp_path)

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            app.dashboard.table.select("digest")
            await pilot.press("c")
            await pilot.pause()
            builder = app.screen
            assert builder.query_one("#expr", Input).value == "0 9 * * 1-5"
            assert builder.query_one("#zone", Input).value == "UTC"
            builder.query_one("#expr", Input).value = "0 9 * * 8"
            await pilot.pause()
            assert builder.check_action("edit_job", ()) is None  # shown, disabled
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is builder
            builder.query_one("#expr", Input).value = "30 7 * * 1-5"
            builder.query_one("#zone", Input).value = "Asia/Tokyo"
            await pilot.pause()
            await pilot.press("ctrl+s")
            await pilot.pause()
            editor = app.screen
            assert isinstance(editor, JobEditorScreen) and editor.original == "digest"
            assert editor.query_one("#schedule", Input).value == "30 7 * * 1-5"
            assert editor.query_one("#timezone", Input).value == "Asia/Tokyo"

    asyncio.run(go())
