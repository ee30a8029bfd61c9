"""q: quits at once when idle; with runs in progress asks whether to wait or terminate."""

import asyncio

import pytest
from conftest import SIZE, settle

from crondeck.core.results import RunStatus
from crondeck.tui.screens.quit_dialog import QuitDialog
from crondeck.tui.textual_compat import shown_notifications


@pytest.mark.slow
def test_quit_when_idle_exits_and_stops_the_scheduler(make_app):
    app, sched, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert sched.running_loop
            await pilot.press("q")
            await pilot.pause()
        assert not sched.running_loop

    asyncio.run(go())


@pytest.mark.slow
def test_quit_with_a_run_in_progress_can_terminate_it(make_app):
    app, sched, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            await pilot.press("q")
            await pilot.pause()
            assert isinstance(app.screen, QuitDialog)
            assert app.screen.running == ["alpha"]
            await pilot.press("t")
            for _ in range(50):
                await pilot.pause(0.02)
                if not app.is_running:
                    break
        assert sched.jobs["alpha"].last_result.status is RunStatus.CANCELLED
        assert not sched.running_loop

    asyncio.run(go())


@pytest.mark.slow
def test_quit_can_wait_for_runs_to_finish(make_app):
    app, sched, _clock, streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            await pilot.press("q")
            await pilot.pause()
            await pilot.press("w")
            await pilot.pause()
            assert app.is_running  # still waiting
            assert any("waiting for 1 run" in n.message for n in shown_notifications(app))
            streamer.release.set()
            for _ in range(50):
                await pilot.pause(0.02)
                if not app.is_running:
                    break
        assert sched.jobs["alpha"].last_result.status is RunStatus.OK

    asyncio.run(go())


@pytest.mark.slow
def test_escape_in_the_quit_dialog_stays(make_app):
    app, sched, _clock, streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            await pilot.press("q")
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, QuitDialog)
            assert app.is_running and sched.jobs["alpha"].is_running
            streamer.release.set()
            await settle(pilot)

    asyncio.run(go())
