"""Failures are said once per job until it recovers, and an alert line above the footer says
how many jobs are failing, which failed last, and that `!` jumps to it."""

from __future__ import annotations

import asyncio

import pytest
from conftest import SIZE, START, settle, text_of
from textual.widgets._toast import Toast

from crondeck.core import FakeClock, RunContext, Scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.screens.help import HelpScreen
from crondeck.tui.widgets.alerts import AlertLine


class Flaky:
    """Fails (exit 2, with why on stderr) while `failing`, else succeeds."""

    name = "flaky"

    def __init__(self) -> None:
        self.failing = True

    async def execute(self, ctx: RunContext) -> int | None:
        if self.failing:
            ctx.emit("health check failed: staging is down\n", "stderr")
            return 2
        ctx.emit("healthy\n", "stdout")
        return 0


async def done(prompt: str) -> str:
    return "done\n"


def toasts(app) -> list[str]:
    return [f"{t._notification.title}: {t._notification.message}"
            for t in app.screen.query(Toast)]


def _make(flaky: Flaky) -> tuple[CrondeckApp, Scheduler, FakeClock]:
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    sched.add_job(flaky, "check", "@every 15s", name="deploy-check", tz="UTC")
    sched.add_job(done, "go", "@every 10s", name="inbox", tz="UTC")
    app = CrondeckApp(sched, config_path="/srv/ops/crondeck.toml", clock=clock,
                      zone=START.tzinfo, start=True, live=False)
    return app, sched, clock


@pytest.mark.slow
def test_a_job_failing_again_and_again_toasts_once_until_it_recovers():
    flaky = Flaky()
    app, _sched, clock = _make(flaky)

    async def go():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(pilot)
            said = []
            for _ in range(4):  # fails every 15 s for a minute
                await clock.run_for(15)
                await settle(pilot)
                said += [t for t in toasts(app) if t not in said]
            failures = [t for t in said if t.startswith("Run failed: deploy-check")]
            assert len(failures) == 1, said
            line = app.dashboard.query_one(AlertLine)
            assert line.display
            shown = text_of(line)
            assert "1 job failing: deploy-check" in shown
            assert "deploy-check failed: exit 2: health check failed" in shown
            assert "! jump to it" in shown
            flaky.failing = False  # recovers: the line goes
            await clock.run_for(15)
            await settle(pilot)
            assert not line.display
            for toast in app.screen.query(Toast):
                toast.remove()
            await pilot.pause()
            flaky.failing = True  # fails anew: said again
            await clock.run_for(15)
            await settle(pilot)
            assert any(t.startswith("Run failed: deploy-check") for t in toasts(app))
            assert line.display

    asyncio.run(go())


@pytest.mark.slow
def test_bang_jumps_to_the_last_failure():
    flaky = Flaky()
    app, sched, clock = _make(flaky)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await clock.run_for(30)  # two failures, inbox runs around them
            await settle(pilot)
            last = sched.jobs["deploy-check"].last_result
            assert last is not None and not last.ok
            dash = app.dashboard
            dash.table.select("inbox")
            await pilot.press("v", "v")  # skips hidden: the failure is still listed
            await pilot.press("exclamation_mark")
            await pilot.pause()
            assert dash.table.selected == "deploy-check"
            assert dash.history.has_focus
            assert dash.history.items[dash.history.cursor] is last
            output = dash.output
            assert output.run is not None and output.run.run_id == last.run_id
            assert any("health check failed" in line for line in output.lines)
            assert str(output.border_title).startswith("History run (esc) · deploy-check · ")

    asyncio.run(go())


def test_no_alert_line_while_nothing_fails_and_help_lists_the_new_keys():
    app, _sched, clock = _make(Flaky())
    app.scheduler.pause_job("deploy-check")

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await clock.run_for(20)
            await settle(pilot)
            assert not app.dashboard.query_one(AlertLine).display
            await pilot.press("exclamation_mark")  # nothing to jump to: nothing happens
            await pilot.pause()
            assert app.dashboard.table.has_focus
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            listed = {(keys, what) for _group, keys, what in app.screen.entries}
            keys = {k for k, _ in listed}
            assert {"v", "!", "esc"} <= keys, keys

    asyncio.run(go())


@pytest.mark.slow
def test_pausing_the_failing_job_takes_it_off_the_alert_line():
    app, sched, clock = _make(Flaky())

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await clock.run_for(15)
            await settle(pilot)
            line = app.dashboard.query_one(AlertLine)
            assert line.display and line.failing == ["deploy-check"]
            sched.pause_job("deploy-check", note="staging is being rebuilt")
            await settle(pilot)
            assert not line.display
            sched.resume_job("deploy-check")  # still failing: it is back
            await settle(pilot)
            assert line.display

    asyncio.run(go())
