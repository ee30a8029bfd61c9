"""Run-failure toasts do not cover the cron builder or the job editor: they are held while
one is open, and shown when the operator is back on the dashboard (once per failing job,
however often it failed meanwhile). Other notices still show at once."""

import asyncio
from datetime import UTC

import pytest
from conftest import settle
from hosts import NOW
from textual.widgets._toast import Toast

from crondeck.core.clock import FakeClock
from crondeck.core.config import parse_config
from crondeck.core.runtime import build_scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.screens.cron_builder import CronBuilderScreen
from crondeck.tui.screens.job_editor import JobEditorScreen


def toasts(app) -> list[str]:
    """The toasts on the current screen, as title + message."""
    return [f"{t._notification.title}: {t._notification.message}"
            for t in app.screen.query(Toast)]


@pytest.mark.slow
def test_a_failure_while_the_builder_is_open_is_shown_back_on_the_dashboard(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(app.screen, CronBuilderScreen)
            sched.run_now("beta")  # the Failer: exit 2
            await settle(pilot)
            assert any(r.job == "beta" for r in app.dashboard.model.history)  # it failed
            assert toasts(app) == []  # ... but nothing lies over the presets
            app.notify("the jobs file was reloaded")  # other notices are not held
            await pilot.pause()
            assert toasts(app) == [": the jobs file was reloaded"]
            await pilot.press("escape")
            await pilot.pause()
            await pilot.pause()
            assert app.screen is app.dashboard
            shown = toasts(app)
            assert any(t.startswith("Run failed: beta: exit 2") for t in shown), shown

    asyncio.run(go())


@pytest.mark.slow
def test_several_failures_of_a_job_while_editing_come_back_as_one_toast(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await pilot.pause()
            for _ in range(3):
                sched.run_now("beta")
                await settle(pilot)
            assert toasts(app) == []
            await pilot.press("escape")
            await pilot.pause()
            await pilot.pause()
            shown = [t for t in toasts(app) if "beta" in t]
            assert len(shown) == 1, shown
            assert shown[0].startswith("Run failed: beta: exit 2")  # said once, not three times
            assert "while you were away" not in shown[0]

    asyncio.run(go())


JOBS = """\
[[jobs]]
name = "broken"
command = "exit 3"
schedule = "0 0 1 1 *"
timezone = "UTC"
"""


@pytest.mark.slow
def test_the_job_editor_is_not_covered_either(tmp_path):
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS)
    clock = FakeClock(NOW)
    sched = build_scheduler(parse_config(JOBS, path), clock=clock)
    app = CrondeckApp(sched, config_path=path, clock=clock, zone=UTC, live=False)

    async def go():
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("e")
            await pilot.pause()
            assert isinstance(app.screen, JobEditorScreen)
            sched.run_now("broken")
            for _ in range(100):  # a real process: wait for it to end
                await settle(pilot, 1)
                if app.dashboard.model.history:
                    break
                await asyncio.sleep(0.05)
            assert app.dashboard.model.history
            await pilot.pause()
            assert toasts(app) == []
            await pilot.press("escape")
            await pilot.pause()
            await pilot.pause()
            assert any(t.startswith("Run failed: broken: exit 3") for t in toasts(app))

    asyncio.run(go())


@pytest.mark.slow
def test_a_failure_toast_up_on_the_dashboard_does_not_follow_onto_the_builder(make_app):
    """Shown on the dashboard, then the operator opens the builder within its 8 seconds:
    the toast must not follow and cover the presets. It is taken down with the dashboard and
    comes back with it; other notices are left alone."""
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)
            sched.run_now("beta")
            await settle(pilot)
            app.notify("the jobs file was reloaded")
            await pilot.pause()
            assert any(t.startswith("Run failed: beta: exit 2") for t in toasts(app))
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(app.screen, CronBuilderScreen)
            assert toasts(app) == [": the jobs file was reloaded"]
            await pilot.press("escape")
            await pilot.pause()
            await pilot.pause()
            shown = toasts(app)
            assert any(t.startswith("Run failed: beta: exit 2") for t in shown), shown
            assert ": the jobs file was reloaded" in shown

    asyncio.run(go())
