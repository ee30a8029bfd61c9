"""What a key changes shows in the frame the key causes: the footer is rebuilt only when the
keys it offers change (once for a burst of changes), and attached, pause / resume / skip show
on the job's row before the scheduler answers, and go back when it refuses."""

from __future__ import annotations

import asyncio

import pytest
from conftest import SIZE, settle
from test_attach_screen import attached_app, notes
from textual.widgets import Input, Label
from textual.widgets._footer import FooterKey

from crondeck.tui.screens.pause_dialog import PauseDialog
from crondeck.tui.textual_compat import footer_keys, shown_notifications
from crondeck.tui.widgets.footer import DeckFooter


def _keys(app) -> list[str]:
    """The keys the footer shows (a key taken away may stay, hidden, to be shown again)."""
    return [k.description for k in app.screen.query(FooterKey) if k.display]


async def _select(pilot, app, job: str):
    """The app settled with `job` selected; returns its dashboard."""
    await settle(pilot)
    screen = app.dashboard
    screen.table.select(job)
    await settle(pilot)
    return screen


async def _landed(pilot) -> None:
    """Until an answer given now has been taken (its callbacks, their messages, the frame)."""
    for _ in range(5):
        await pilot.pause()
        await asyncio.sleep(0)
    await settle(pilot)


def test_footer_is_rebuilt_only_when_its_keys_change(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            screen = await _select(pilot, app, "beta")
            footer = screen.query_one(DeckFooter)
            assert "Pause" in _keys(app) and "Resume" not in _keys(app)
            built = footer.rebuilds
            for _ in range(5):  # nothing it shows changed: nothing to rebuild
                screen.refresh_bindings()
            await settle(pilot)
            assert footer.rebuilds == built
            sched.pause_job("beta")
            for _ in range(5):  # Pause becomes Resume, told five times: relabelled
                screen.refresh_bindings()
            await settle(pilot)
            assert footer.rebuilds == built
            assert "Resume" in _keys(app) and "Pause" not in _keys(app)
            resume = next(k for k in footer_keys(footer) if k.description == "Resume")
            assert resume.action == "resume" and resume.tooltip == "resume the selected job"
            assert "Resume" in str(resume.render())
            screen.table.select("delta")
            await settle(pilot)
            await pilot.press("space")  # a dialog on top: the app's own keys go, hidden
            await settle(pilot)
            assert isinstance(app.screen, PauseDialog)
            under = [k.description for k in footer_keys(footer) if k.display]
            assert "Cron builder" not in under and "Pause" in under
            await pilot.press("escape")  # and come back
            await settle(pilot)
            assert "Cron builder" in _keys(app) and "Pause" in _keys(app)
            assert footer.rebuilds == built
            screen.table.select("beta")  # paused meanwhile: Resume, as a rebuild shows it
            await settle(pilot)
            shown = _keys(app)
            footer.refresh(recompose=True)
            await settle(pilot)
            assert _keys(app) == shown
            assert footer.rebuilds == built + 1

    asyncio.run(go())


@pytest.mark.slow
def test_pause_dialog_still_pauses_and_the_footer_follows(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await _select(pilot, app, "beta")
            await pilot.press("space")
            await pilot.pause()
            assert isinstance(app.screen, PauseDialog)
            dialog = app.screen
            dialog.query_one("#duration", Input).value = "soon"
            await pilot.press("enter")  # a bad duration: said in the dialog, which stays
            await pilot.pause()
            assert app.screen is dialog
            assert "duration:" in str(dialog.query_one("#error", Label).render())
            dialog.query_one("#duration", Input).value = "2h"
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen is screen
            assert sched.jobs["beta"].paused
            assert screen.model.rows["beta"].status == "paused"
            assert "Resume" in _keys(app) and "Pause" not in _keys(app)
            assert any(n.message.startswith("beta paused until")
                       for n in shown_notifications(app))

    asyncio.run(go())


class HeldCall:
    """A command's answer (as a `RemoteCall` gives it) that comes only when the test says:
    refused or not."""

    def __init__(self) -> None:
        self.code = self.error = ""
        self.reply: dict | None = None
        self.answered = False
        self._callbacks: list = []

    def add_done_callback(self, fn) -> None:
        self._callbacks.append(fn)

    def answer(self, error: str = "") -> None:
        self.answered = True
        self.code, self.error = ("refused" if error else ""), error
        self.reply = None if error else {}
        for fn in self._callbacks:
            fn(self)


def _hold(sched, name: str) -> list[HeldCall]:
    """`sched.<name>` answers with a HeldCall and does nothing itself (as a scheduler that
    has not yet acted); returns the calls made."""
    calls: list[HeldCall] = []

    def send(*args, **kwargs):
        calls.append(HeldCall())
        return calls[-1]

    setattr(sched, name, send)
    return calls


@pytest.mark.slow
def test_attached_resume_shows_on_the_row_before_the_answer_and_a_refusal_undoes_it():
    app, sched, _clock, _ = attached_app()

    async def go():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await _select(pilot, app, "gamma")  # paused
            calls = _hold(sched, "resume_job")
            await pilot.press("space")
            await pilot.pause()
            assert len(calls) == 1 and not calls[0].answered
            assert screen.model.rows["gamma"].status != "paused"  # before any answer
            assert "Pause" in _keys(app)
            calls[0].answer(error="the scheduler is shutting down")
            await _landed(pilot)
            assert screen.model.rows["gamma"].status == "paused"
            assert sched.jobs["gamma"].pause_note == "waiting for keys"
            assert "resume gamma: the scheduler is shutting down" in notes(app)
            assert "Resume" in _keys(app)

    asyncio.run(go())


@pytest.mark.slow
def test_attached_pause_and_skip_show_ahead_and_the_answer_confirms_them():
    app, sched, _clock, _ = attached_app()

    async def go():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await _select(pilot, app, "beta")
            paused = _hold(sched, "pause_job")
            await pilot.press("space")
            await pilot.pause()
            assert isinstance(app.screen, PauseDialog)
            await pilot.press(*"deploy", "enter")
            await pilot.pause()
            row = screen.model.rows["beta"]
            assert row.status == "paused" and row.note == "deploy"
            skips = _hold(sched, "skip_next")
            await pilot.press("s")
            await pilot.pause()
            assert screen.model.rows["beta"].skip_next
            for call in (*paused, *skips):
                call.answer()
            await _landed(pilot)
            row = screen.model.rows["beta"]
            assert row.status == "paused" and row.note == "deploy" and row.skip_next
            assert "beta paused" in notes(app)
            assert "Not done" not in {n.title for n in shown_notifications(app)}

    asyncio.run(go())


@pytest.mark.slow
def test_the_pause_dialog_opens_again_as_new_for_the_next_job(make_app):
    """The app keeps one pause dialog and shows it again (it is not mounted and removed
    each time): the next opening names its job, with empty fields, no error and the note
    focused, and its answer goes to the job it was opened for."""
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            screen.table.select("beta")
            await settle(pilot)
            await pilot.press("space")
            await pilot.pause()
            first = app.screen
            assert isinstance(first, PauseDialog)
            first.query_one("#duration", Input).value = "soon"
            await pilot.press("enter")  # an error line, then typed-in fields, then cancel
            await pilot.pause()
            assert "duration:" in str(first.query_one("#error", Label).render())
            first.query_one("#note", Input).value = "left over"
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen and not sched.jobs["beta"].paused

            screen.table.select("delta")
            await settle(pilot)
            await pilot.press("space")
            await pilot.pause()
            dialog = app.screen
            assert dialog is first  # the same dialog, shown again
            assert str(dialog.query_one("#title", Label).render()) == "Pause delta"
            assert [i.value for i in dialog.query(Input)] == ["", ""]
            assert str(dialog.query_one("#error", Label).render()) == ""
            assert dialog.focused is dialog.query_one("#note", Input)
            await pilot.press(*"why", "enter")
            await settle(pilot)
            assert app.screen is screen
            assert sched.jobs["delta"].paused and sched.jobs["delta"].pause_note == "why"
            assert not sched.jobs["beta"].paused

    asyncio.run(go())


def test_the_kept_pause_dialog_blinks_only_while_shown():
    """Kept between pauses, the dialog's fields stop their cursor blinking while it is not
    shown (nothing wakes the app for it) and blink again when it opens."""
    from textual.app import App

    from crondeck.tui.screens.pause_dialog import open_pause_dialog

    answers: list = []

    async def go():
        app: App[None] = App()
        async with app.run_test() as pilot:
            open_pause_dialog(app, "beta", answers.append, blink=True)
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, PauseDialog)
            assert all(i.cursor_blink for i in dialog.query(Input))
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is not dialog and answers == [None]
            assert not any(i.cursor_blink for i in dialog.query(Input))
            open_pause_dialog(app, "gamma", answers.append, blink=True)
            await pilot.pause()
            assert app.screen is dialog
            assert all(i.cursor_blink for i in dialog.query(Input))

    asyncio.run(go())
