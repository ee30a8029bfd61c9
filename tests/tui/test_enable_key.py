"""`a` switches the selected job off (and on again) from the dashboard: in-process on the
scheduler the console runs, attached by the scheduler's `enable`/`disable` commands, their
refusals said as every other command's; hidden while read-only, listed in `?`."""

from __future__ import annotations

import asyncio

import pytest
from conftest import settle
from test_attach_screen import Call, answered, attached_app, notes

from crondeck.tui.screens.dashboard_commands import palette_entries
from crondeck.tui.screens.help import HelpScreen


def actions(app) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}


def titles(app) -> list[str]:
    return [e.command.title for e in palette_entries(app.dashboard)]


@pytest.mark.slow
def test_a_disables_and_enables_the_selected_job_in_process(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            app.dashboard.table.select("gamma")
            assert "Disable gamma" in titles(app)
            await pilot.press("a")
            await settle(pilot)
            assert not sched.jobs["gamma"].enabled and sched.jobs["gamma"].next_fire is None
            assert app.dashboard.model.rows["gamma"].status == "disabled"
            assert "gamma disabled: nothing starts until it is enabled (a)" in notes(app)
            assert "Enable gamma" in titles(app)
            await pilot.press("a")
            await settle(pilot)
            assert sched.jobs["gamma"].enabled and sched.jobs["gamma"].next_fire is not None
            assert app.dashboard.model.rows["gamma"].status != "disabled"
            assert "gamma enabled: next run at" in notes(app)
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            listed = {keys: what for _group, keys, what in app.screen.entries}
            assert listed["a"].startswith("disable the selected job (no run starts")
            assert listed["a"].endswith("or enable it again from its next slot")

    asyncio.run(go())


@pytest.mark.slow
def test_a_is_refused_read_only(make_app):
    app, sched, _clock, _ = make_app(read_only=True)

    async def go():
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            app.dashboard.table.select("gamma")
            await settle(pilot)
            await pilot.press("a")
            await settle(pilot)
            assert sched.jobs["gamma"].enabled
            assert "toggle_enabled" not in actions(app)

    asyncio.run(go())


def with_enable(sched):
    """The stand-in mirror answers `enable`/`disable` as the scheduler does."""
    def command(on: bool):
        def send(job):
            sched.sent.append("enable" if on else "disable")
            if sched.refuse:
                return Call(error=sched.refuse)
            sched.jobs[job].enabled = on
            return Call({"job": job, "enabled": on})
        return send

    sched.enable, sched.disable = command(True), command(False)


@pytest.mark.slow
def test_attached_a_sends_disable_and_enable_and_shows_a_refusal():
    app, sched, _clock, _ = attached_app()
    with_enable(sched)

    async def go():
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await settle(pilot)
            app.dashboard.table.select("beta")
            await settle(pilot)
            await pilot.press("a")
            await answered(pilot)
            assert sched.sent[-1:] == ["disable"] and not sched.jobs["beta"].enabled
            assert app.dashboard.model.rows["beta"].status == "disabled"
            assert "beta disabled" in notes(app)
            sched.refuse = "no job named 'beta'; did you mean 'beta2'?"
            await pilot.press("a")
            await answered(pilot)
            assert sched.sent[-1:] == ["enable"] and not sched.jobs["beta"].enabled
            assert "enable beta: no job named 'beta'; did you mean 'beta2'?" in notes(app)

    asyncio.run(go())
