"""Every operator key: what the scheduler did and what the screen shows."""

import asyncio
from datetime import timedelta

import pytest
from conftest import SIZE, settle, text_of, type_text

from crondeck.core.results import RunStatus, SkipReason
from crondeck.tui.screens.pause_dialog import PauseDialog
from crondeck.tui.textual_compat import shown_notifications
from crondeck.tui.widgets.history import HistoryList
from crondeck.tui.widgets.job_table import JobTable
from crondeck.tui.widgets.output_pane import ERR_MARK, OutputPane


def _footer_actions(app) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values()
            if b.enabled and b.binding.show}


def _notes(app) -> str:
    return "\n".join(n.message for n in shown_notifications(app))


@pytest.mark.slow
def test_run_now_streams_stdout_and_stderr_then_finishes(make_app):
    app, sched, _clock, streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            job = sched.jobs["alpha"]
            assert job.is_running
            table = app.dashboard.query_one(JobTable)
            assert "running 0s" in text_of(table)
            output = app.dashboard.query_one(OutputPane)
            lines = list(output.lines)
            assert "  line 1" in lines and "  line 3" in lines
            assert f"{ERR_MARK} warning: disk 91% full" in lines
            assert "live" in str(output.border_title)
            assert "cancel_run" in _footer_actions(app)  # shown only while running
            streamer.release.set()
            await settle(pilot)
            assert not job.is_running
            lines = list(output.lines)
            assert "  all done" in lines
            assert lines[-1].startswith("── ok")
            history = app.dashboard.query_one(HistoryList)
            assert history.items[0].status is RunStatus.OK
            assert "✓" in text_of(table)

    asyncio.run(go())


@pytest.mark.slow
def test_run_now_while_running_says_the_overlap_policy_skipped_it(make_app):
    app, _sched, _clock, streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            assert "not started: still running (overlap = skip)" in _notes(app)
            history = app.dashboard.query_one(HistoryList)
            assert history.items[0].skip_reason is SkipReason.OVERLAP
            assert "skipped (overlap)" in text_of(history)
            streamer.release.set()
            await settle(pilot)

    asyncio.run(go())


@pytest.mark.slow
def test_pause_asks_note_and_duration_then_resume(make_app):
    app, sched, clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert "pause" in _footer_actions(app)
            assert "resume" not in _footer_actions(app)
            await pilot.press("space")
            await pilot.pause()
            assert isinstance(app.screen, PauseDialog)
            await type_text(pilot, "deploy freeze")
            await pilot.press("tab")
            await type_text(pilot, "30m")
            await pilot.press("enter")
            await settle(pilot)
            job = sched.jobs["alpha"]
            assert job.paused and job.pause_note == "deploy freeze"
            assert job.pause_until == clock.now() + timedelta(minutes=30)
            table = app.dashboard.query_one(JobTable)
            assert "‖ deploy freeze (until 09:28)" in text_of(table)
            assert "resume" in _footer_actions(app)
            assert "pause" not in _footer_actions(app)
            await pilot.press("p")
            await settle(pilot)
            assert not job.paused
            assert "pause" in _footer_actions(app)

    asyncio.run(go())


@pytest.mark.slow
def test_pause_dialog_rejects_a_bad_duration_and_escape_cancels(make_app):
    app, sched, *_ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("p", "tab", *"soon", "enter")
            await pilot.pause()
            assert isinstance(app.screen, PauseDialog)
            assert "duration" in str(app.screen.query_one("#error").render())
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, PauseDialog)
            assert not sched.jobs["alpha"].paused

    asyncio.run(go())


@pytest.mark.slow
def test_skip_next_toggles_and_shows_in_the_countdown(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            assert sched.jobs["alpha"].skip_next_pending
            assert "in 10s ↷" in text_of(app.dashboard.query_one(JobTable))
            assert "run at 08:58:40 will be skipped" in _notes(app)
            await pilot.press("s")
            await settle(pilot)
            assert not sched.jobs["alpha"].skip_next_pending

    asyncio.run(go())


@pytest.mark.slow
def test_cancel_the_running_run(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("x")  # nothing running: not available
            assert sched.jobs["alpha"].results.maxlen and not sched.jobs["alpha"].results
            await pilot.press("r")
            await settle(pilot)
            await pilot.press("x")
            await settle(pilot, rounds=5)
            result = sched.jobs["alpha"].last_result
            assert result is not None and result.status is RunStatus.CANCELLED
            history = app.dashboard.query_one(HistoryList)
            assert history.items[0].status is RunStatus.CANCELLED
            assert "cancelled" in app.dashboard.query_one(OutputPane).lines[-1]

    asyncio.run(go())


@pytest.mark.slow
def test_a_failure_toasts_and_marks_the_job_failing(make_app):
    app, _sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.dashboard.query_one(JobTable).select("beta")
            await pilot.press("r")
            await settle(pilot, rounds=5)
            assert "beta: exit 2: boom: staging is down" in _notes(app)
            table = app.dashboard.query_one(JobTable)
            assert "✗ failing" in text_of(table)
            history = app.dashboard.query_one(HistoryList)
            assert "exit 2: boom: staging" in text_of(history)
            assert "1 failing" in text_of(app.dashboard.query_one("#header"))

    asyncio.run(go())


@pytest.mark.slow
def test_gate_skip_shows_the_gate_reason_in_history(make_app):
    app, _sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.dashboard.query_one(JobTable).select("epsilon")
            await pilot.press("r")
            await settle(pilot, rounds=5)
            history = app.dashboard.query_one(HistoryList)
            assert history.items[0].skip_reason is SkipReason.GATE
            assert "skipped (gate)" in text_of(history)
            assert "no new mail" in text_of(history)

    asyncio.run(go())


@pytest.mark.slow
def test_scheduled_fires_reach_the_screen_as_the_clock_moves(make_app):
    app, sched, clock, streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await clock.run_for(10)
            await settle(pilot)
            assert sched.jobs["alpha"].is_running
            output = app.dashboard.query_one(OutputPane)
            assert "  line 1" in output.lines
            await clock.run_for(10)  # next slot while still running: skipped
            await settle(pilot)
            history = app.dashboard.query_one(HistoryList)
            assert history.items[0].skip_reason is SkipReason.OVERLAP
            streamer.release.set()
            await settle(pilot)

    asyncio.run(go())


@pytest.mark.slow
def test_pause_all_and_resume_all(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.dashboard.check_action("pause_all", ()) is True
            await pilot.press("P")
            await pilot.pause()
            assert isinstance(app.screen, PauseDialog)
            await type_text(pilot, "maintenance")
            await pilot.press("enter")
            await settle(pilot)
            assert sched.paused and sched.pause_note == "maintenance"
            header = text_of(app.dashboard.query_one("#header"))
            assert "paused (maintenance)" in header
            assert "resume_all" in _footer_actions(app)
            await pilot.press("P")
            await settle(pilot)
            assert not sched.paused
            assert "scheduling" in text_of(app.dashboard.query_one("#header"))

    asyncio.run(go())


@pytest.mark.slow
def test_follow_turns_off_on_scroll_up_and_f_turns_it_back_on(make_app):
    app, _sched, _clock, streamer = make_app()
    streamer.lines = [f"line {i}" for i in range(200)]

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            output = app.dashboard.query_one(OutputPane)
            assert output.follow and output.is_vertical_scroll_end
            output.focus()
            await pilot.press("pageup")
            assert not output.follow
            assert "follow off" in str(output.border_subtitle)
            await pilot.press("f")
            await pilot.pause()
            assert output.follow and output.is_vertical_scroll_end
            streamer.release.set()
            await settle(pilot)

    asyncio.run(go())


@pytest.mark.slow
def test_timestamps_toggle(make_app):
    app, _sched, _clock, streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            await pilot.press("T")
            output = app.dashboard.query_one(OutputPane)
            assert "08:58:30   line 1" in output.lines
            streamer.release.set()
            await settle(pilot)

    asyncio.run(go())


@pytest.mark.slow
def test_history_enter_opens_an_earlier_run(make_app):
    app, sched, clock, streamer = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            streamer.release.set()
            await settle(pilot)
            first = sched.jobs["alpha"].last_result
            clock.advance(5)
            streamer.lines = ["second run"]
            await pilot.press("r")
            await settle(pilot)
            streamer.release.set()
            await settle(pilot)
            history = app.dashboard.query_one(HistoryList)
            history.focus()
            await pilot.press("down", "enter")
            await pilot.pause()
            output = app.dashboard.query_one(OutputPane)
            assert output.run is not None and output.run.run_id == first.run_id
            assert "  line 1" in output.lines

    asyncio.run(go())


@pytest.mark.slow
def test_read_only_shows_why_and_disables_actions(make_app):
    app, sched, _clock, _ = make_app(read_only=True)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            header = text_of(app.dashboard.query_one("#header"))
            assert "READ-ONLY (locked by pid 4242)" in header
            await pilot.press("r", "s", "space")
            await settle(pilot)
            assert not isinstance(app.screen, PauseDialog)
            assert not sched.jobs["alpha"].results and not sched.jobs["alpha"].skip_next_pending
            assert not sched.running_loop
            assert "run_now" not in _footer_actions(app)

    asyncio.run(go())
