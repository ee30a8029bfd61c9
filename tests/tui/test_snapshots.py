"""Snapshots of the dashboard in its main states (fixed size, FakeClock, timers frozen).

Regenerate on purpose only: `pytest tests/tui/test_snapshots.py --snapshot-update`."""

import pytest
from conftest import SIZE, settle

from crondeck.tui.widgets.job_table import JobTable


def _app(make_app, **kw):
    app, *_ = make_app(**kw)
    return app


@pytest.mark.slow
def test_idle(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=before)


@pytest.mark.slow
def test_running_with_output(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=before)


@pytest.mark.slow
def test_paused(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("p", *"deploy freeze", "tab", *"2h", "enter")
        await settle(pilot)

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=before)


@pytest.mark.slow
def test_pause_dialog(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("p", *"deploy freeze")
        await pilot.pause()

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=before)


@pytest.mark.slow
def test_failing(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)
        pilot.app.dashboard.query_one(JobTable).select("beta")
        await pilot.press("r")
        await settle(pilot, rounds=5)
        pilot.app.dashboard.query_one(JobTable).select("epsilon")
        await pilot.press("r")
        await settle(pilot, rounds=5)
        pilot.app.dashboard.query_one(JobTable).select("beta")
        await settle(pilot)

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=before)


@pytest.mark.slow
def test_read_only(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)

    assert snap_compare(_app(make_app, read_only=True), terminal_size=SIZE, run_before=before)


@pytest.mark.slow
def test_help(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=before)


@pytest.mark.slow
def test_quit_dialog(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=before)


@pytest.mark.slow
def test_small_terminal_80x24(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)

    assert snap_compare(_app(make_app), terminal_size=(80, 24), run_before=before)


@pytest.mark.slow
def test_wide_terminal_160x40(snap_compare, make_app):
    async def before(pilot):
        await settle(pilot)

    assert snap_compare(_app(make_app), terminal_size=(160, 40), run_before=before)


