"""Every dashboard key is also in the command palette, labelled by state."""

from __future__ import annotations

import asyncio

import pytest
from conftest import SIZE, search_palette, settle, type_text
from textual.command import CommandPalette

from crondeck.tui.screens.dashboard import DashboardScreen
from crondeck.tui.screens.dashboard_commands import palette_entries
from crondeck.tui.screens.pause_dialog import PauseDialog
from crondeck.tui.textual_compat import shown_notifications


def _titles(app) -> list[str]:
    return [c.title for c in app.get_system_commands(app.screen)]


async def _palette(pilot, query: str) -> None:
    """Open the palette, type `query`, take the top hit (the palette searches in a worker)."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    assert isinstance(pilot.app.screen, CommandPalette)
    await search_palette(pilot, query)
    await pilot.press("enter")
    await pilot.pause()


@pytest.mark.slow
def test_every_dashboard_binding_has_a_palette_command(make_app):
    """Across the states that show each binding (idle, running, paused), the palette offers
    a command for every binding id of the dashboard, and only the ones usable now."""
    app, sched, _clock, streamer = make_app()
    all_ids = {b.id for b in DashboardScreen.BINDINGS}

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            dash = app.dashboard
            assert dash.table.selected == "alpha"
            offered: set[str] = set()

            def collect() -> set[str]:
                entries = palette_entries(dash)
                titles = _titles(app)
                for entry in entries:
                    assert entry.available
                    assert entry.command.title in titles  # wired into the app's palette
                offered.update(e.binding_id for e in entries)
                return {e.binding_id for e in entries}

            idle = collect()
            assert {"job.pause", "job.run_now", "all.pause", "app.help"} <= idle
            assert "job.resume" not in idle and "job.cancel" not in idle
            assert "Pause alpha" in _titles(app) and "Run alpha now" in _titles(app)

            await pilot.press("r")
            await settle(pilot)
            assert "job.cancel" in collect()
            assert "Cancel alpha's run" in _titles(app)
            streamer.release.set()
            await settle(pilot)
            assert "job.cancel" not in collect()

            sched.pause_job("alpha", note="later")
            sched.pause_all(note="maintenance")
            await settle(pilot)
            paused = collect()
            assert {"job.resume", "all.resume"} <= paused
            assert "job.pause" not in paused and "all.pause" not in paused
            assert {"Resume alpha", "Resume all jobs"} <= set(_titles(app))
            assert offered == all_ids

    asyncio.run(go())


@pytest.mark.slow
def test_pause_from_the_palette_pauses_the_job_and_the_label_turns_to_resume(make_app):
    app, sched, _clock, _streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            job = sched.jobs["alpha"]
            await _palette(pilot, "Pause alpha")
            assert isinstance(app.screen, PauseDialog)  # the same dialog as the key
            await type_text(pilot, "palette pause")
            await pilot.press("enter")
            await settle(pilot)
            assert job.paused and job.pause_note == "palette pause"
            titles = _titles(app)
            assert "Resume alpha" in titles and "Pause alpha" not in titles
            await _palette(pilot, "Resume alpha")
            await settle(pilot)
            assert not job.paused
            assert "Pause alpha" in _titles(app)

    asyncio.run(go())


@pytest.mark.slow
def test_state_labels_follow_the_dashboard(make_app):
    """Toggles read as what choosing them will do, and change once done."""
    app, sched, _clock, _streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            titles = _titles(app)
            assert "Stop following the output" in titles
            assert "Show output timestamps" in titles
            assert "Skip alpha's next run" in titles
            assert "History: show only alpha" in titles
            await _palette(pilot, "Skip alpha's next run")
            await settle(pilot)
            assert sched.jobs["alpha"].skip_next_pending
            assert "Undo skip of alpha's next run" in _titles(app)
            await _palette(pilot, "Show output timestamps")
            assert app.dashboard.output.timestamps
            assert "Hide output timestamps" in _titles(app)
            await _palette(pilot, "History: show only alpha")
            assert app.dashboard.history.job_filter == "alpha"
            assert "History: show all jobs" in _titles(app)

    asyncio.run(go())


@pytest.mark.slow
def test_read_only_lists_job_actions_as_unavailable_and_says_why(make_app):
    app, sched, _clock, _streamer = make_app(read_only=True)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            titles = _titles(app)
            assert "Pause alpha (unavailable)" in titles
            assert "Details of alpha" in titles  # reading is fine
            await _palette(pilot, "Pause alpha (unavailable)")
            await pilot.pause()
            assert not sched.jobs["alpha"].paused
            assert not isinstance(app.screen, PauseDialog)
            notes = "\n".join(n.message for n in shown_notifications(app))
            assert "Pause alpha: read-only: locked by pid 4242" in notes

    asyncio.run(go())
