"""Snapshots of the cron builder (valid, invalid, DST warning), the job editor (and its
question when the job is running) and the dashboard in each shipped theme: fixed clock,
fixed size, cursor blink and timers frozen.

Regenerate on purpose only:
`pytest tests/tui/test_builder_snapshots.py --snapshot-update`."""

from datetime import UTC, timedelta

import pytest
from conftest import SIZE as DASH_SIZE
from conftest import settle
from hosts import DST_NOW, NOW, SIZE, BuilderApp, EditorApp, open_test_deck

from crondeck.tui.screens.running_job_dialog import RunningJobDialog
from crondeck.tui.themes import install_themes


@pytest.mark.slow
def test_builder_valid(snap_compare):
    assert snap_compare(BuilderApp("*/15 9-17 * * 1-5"), terminal_size=SIZE)


@pytest.mark.slow
def test_builder_invalid(snap_compare):
    assert snap_compare(BuilderApp("0 24 * * *"), terminal_size=SIZE)


@pytest.mark.slow
def test_builder_dst_warning(snap_compare):
    assert snap_compare(BuilderApp("30 2 * * *", now=DST_NOW), terminal_size=SIZE)


@pytest.mark.slow
def test_builder_from_editor(snap_compare):
    assert snap_compare(BuilderApp("0 9 * * 1-5", use=True, zone="America/New_York"),
                        terminal_size=SIZE)


@pytest.mark.slow
def test_editor(snap_compare, tmp_path):
    runtime = open_test_deck(tmp_path)
    try:
        assert snap_compare(EditorApp(runtime, "digest"), terminal_size=SIZE)
    finally:
        runtime.close()


@pytest.mark.slow
def test_editor_invalid(snap_compare, tmp_path):
    runtime = open_test_deck(tmp_path)

    async def before(pilot):
        box = pilot.app.screen.query_one("#timeout")
        box.value = "5x"
        pilot.app.screen.query_one("#schedule").value = "0 9 * * 8"
        await pilot.pause()

    try:
        assert snap_compare(EditorApp(runtime, "digest"), terminal_size=SIZE, run_before=before)
    finally:
        runtime.close()


@pytest.mark.slow
def test_running_job_dialog(snap_compare, tmp_path):
    """Saving a change to a running job: wait, terminate, or back to the editor."""
    runtime = open_test_deck(tmp_path)

    async def before(pilot):
        started = NOW - timedelta(minutes=2, seconds=10)
        pilot.app.push_screen(RunningJobDialog("digest", "save", started=started, now=NOW,
                                               zone=UTC))
        await pilot.pause()

    try:
        assert snap_compare(EditorApp(runtime, "digest"), terminal_size=SIZE, run_before=before)
    finally:
        runtime.close()


def _themed(theme, make_app, tmp_path):
    app, *_ = make_app()

    async def before(pilot):
        install_themes(pilot.app, user_dir=tmp_path / "none", remember=False)
        pilot.app.theme = theme
        await settle(pilot)

    return app, before


@pytest.mark.slow
def test_dashboard_dark(snap_compare, make_app, tmp_path):
    app, before = _themed("crondeck-dark", make_app, tmp_path)
    assert snap_compare(app, terminal_size=DASH_SIZE, run_before=before)


@pytest.mark.slow
def test_dashboard_light(snap_compare, make_app, tmp_path):
    app, before = _themed("crondeck-light", make_app, tmp_path)
    assert snap_compare(app, terminal_size=DASH_SIZE, run_before=before)


@pytest.mark.slow
def test_dashboard_high_contrast(snap_compare, make_app, tmp_path):
    app, before = _themed("crondeck-high-contrast", make_app, tmp_path)
    assert snap_compare(app, terminal_size=DASH_SIZE, run_before=before)
