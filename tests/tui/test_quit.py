"""q: quits at once when idle; with runs in progress asks whether to wait or terminate."""

import asyncio

import pytest
from conftest import SIZE, settle, text_of

from crondeck.core.results import RunStatus
from crondeck.tui.screens.quit_dialog import QuitDialog
from crondeck.tui.textual_compat import shown_notifications
from crondeck.tui.widgets.header import DeckHeader


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



async def run_then_quit(pilot) -> None:
    """Start a run of the selected job, then press q (the quit dialog comes up)."""
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)
    await pilot.press("q")
    await pilot.pause()


async def until_exited(app, pilot) -> None:
    """Until the app has exited, for at most a second."""
    for _ in range(50):
        await pilot.pause(0.02)
        if not app.is_running:
            return


@pytest.mark.slow
def test_quit_with_a_run_in_progress_can_terminate_it(make_app):
    app, sched, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await run_then_quit(pilot)
            assert isinstance(app.screen, QuitDialog)
            assert app.screen.running == ["alpha"]
            await pilot.press("t")
            await until_exited(app, pilot)
        assert sched.jobs["alpha"].last_result.status is RunStatus.CANCELLED
        assert not sched.running_loop

    asyncio.run(go())


@pytest.mark.slow
def test_quit_can_wait_for_runs_to_finish(make_app):
    app, sched, _clock, streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await run_then_quit(pilot)
            await pilot.press("w")
            await pilot.pause()
            assert app.is_running  # still waiting
            assert any("waiting for 1 run" in n.message for n in shown_notifications(app))
            streamer.release.set()
            await until_exited(app, pilot)
        assert sched.jobs["alpha"].last_result.status is RunStatus.OK

    asyncio.run(go())


@pytest.mark.slow
def test_escape_in_the_quit_dialog_stays(make_app):
    app, sched, _clock, streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await run_then_quit(pilot)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, QuitDialog)
            assert app.is_running and sched.jobs["alpha"].is_running
            streamer.release.set()
            await settle(pilot)

    asyncio.run(go())


@pytest.mark.slow
def test_terminate_names_the_runs_it_stopped_once_the_app_has_exited(make_app):
    app, sched, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            run_id = next(iter(sched.jobs["alpha"].running))
            await pilot.press("q")
            await pilot.pause()
            await pilot.press("t")
            await until_exited(app, pilot)
        return run_id

    run_id = asyncio.run(go())
    assert sched.jobs["alpha"].last_result.status is RunStatus.CANCELLED
    assert app.exit_note.startswith(
        f"crondeck: terminated 1 run, recorded as cancelled: {run_id} (")
    assert "\n" not in app.exit_note


@pytest.mark.slow
def test_waiting_then_q_again_terminates_and_names_the_runs(make_app):
    app, sched, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await run_then_quit(pilot)
            await pilot.press("w")
            await pilot.pause()
            assert app.is_running
            await pilot.press("q")
            await pilot.pause()
            assert isinstance(app.screen, QuitDialog)
            await pilot.press("t")
            await until_exited(app, pilot)

    asyncio.run(go())
    assert sched.jobs["alpha"].last_result.status is RunStatus.CANCELLED
    assert "terminated 1 run, recorded as cancelled: alpha@" in app.exit_note


@pytest.mark.slow
def test_waiting_for_runs_names_none_terminated(make_app):
    app, _sched, _clock, streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await run_then_quit(pilot)
            await pilot.press("w")
            streamer.release.set()
            await until_exited(app, pilot)

    asyncio.run(go())
    assert app.exit_note == ""


@pytest.mark.slow
def test_while_waiting_to_quit_the_header_says_so_and_counts_the_runs(make_app):
    app, _sched, _clock, streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            header = app.dashboard.query_one(DeckHeader)
            assert "● scheduling" in text_of(header)
            await pilot.press("q")
            await pilot.pause()
            await pilot.press("w")
            await settle(pilot)
            shown = text_of(header)
            assert "scheduling" not in shown
            assert "◐ stopping (waiting for 1 run to finish; no new runs start" in shown
            streamer.release.set()
            await until_exited(app, pilot)

    asyncio.run(go())
