"""Editing from the dashboard: c opens the builder, n creates a job that shows up in the table
with a countdown, e edits it, d deletes it; the palette lists the commands; help lists keys."""

import asyncio
import tomllib
from datetime import UTC

import pytest
from conftest import settle
from hosts import JOBS_FILE, NOW

from crondeck.core.clock import FakeClock
from crondeck.core.config import load_config
from crondeck.core.runtime import build_scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.screens.cron_builder import CronBuilderScreen
from crondeck.tui.screens.delete_job import DeleteJobDialog
from crondeck.tui.screens.job_editor import JobEditorScreen


def make(tmp_path):
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS_FILE)
    clock = FakeClock(NOW)
    sched = build_scheduler(load_config(path), clock=clock)
    app = CrondeckApp(sched, config_path=path, clock=clock, zone=UTC, start=False, live=False)
    return app, sched, path


def row_text(table, job: str) -> str:
    """The job table's row for `job` as drawn on screen (one line; fails if not shown)."""
    rows = [table.render_line(y).text for y in range(table.size.height)]
    mine = [r for r in rows if f" {job} " in f" {r} "]
    assert len(mine) == 1, rows
    return mine[0]


@pytest.mark.slow
def test_new_edit_delete_from_the_dashboard(tmp_path):
    app, sched, path = make(tmp_path)

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(app.screen, CronBuilderScreen) and not app.screen.use_mode
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("n")
            await pilot.pause()
            editor = app.screen
            assert isinstance(editor, JobEditorScreen)
            editor.query_one("#name").value = "hourly-check"
            editor.query_one("#schedule").value = "5 * * * *"
            await pilot.pause()
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "hourly-check" in sched.jobs
            table = app.dashboard.table
            assert "hourly-check" in table.order
            assert table.selected == "hourly-check"
            before = row_text(table, "hourly-check")
            assert "in 6m 30s" in before  # 09:05, from 08:58:30
            await pilot.press("e")
            await pilot.pause()
            editor = app.screen
            assert isinstance(editor, JobEditorScreen) and editor.original == "hourly-check"
            editor.query_one("#schedule").value = "0 * * * *"
            await pilot.pause()
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert sched.jobs["hourly-check"].next_fire.isoformat() == "2025-03-03T09:00:00+00:00"
            after = row_text(app.dashboard.table, "hourly-check")
            assert "in 1m 30s" in after and "6m 30s" not in after  # what the operator sees
            await pilot.press("d")
            await pilot.pause()
            assert isinstance(app.screen, DeleteJobDialog)
            await pilot.press("y")
            await settle(pilot)
            assert "hourly-check" not in sched.jobs
            assert "hourly-check" not in app.dashboard.table.order

    asyncio.run(go())
    assert [j["name"] for j in tomllib.loads(path.read_text())["jobs"]] == ["digest", "disk"]


@pytest.mark.slow
def test_palette_and_help_list_the_new_commands(tmp_path):
    app, _sched, _path = make(tmp_path)

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for title in ("Cron builder", "New job", "Edit job", "Delete job", "Change theme"):
                assert title in titles
            ids = {b.id for b in app.BINDINGS}
            assert {"app.builder", "jobs.new", "job.edit", "job.delete", "app.theme"} <= ids

    asyncio.run(go())
