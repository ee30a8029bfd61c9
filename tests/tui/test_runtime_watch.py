"""The app follows the jobs file when someone else edits it, and never runs a broken edit."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC
from pathlib import Path

import pytest
from textual.widgets._toast import Toast

from crondeck.core.clock import FakeClock
from crondeck.core.config import load_config
from crondeck.core.runtime import open_runtime
from crondeck.tui.app import CrondeckApp
from crondeck.tui.runtime_watch import RuntimeWatcher

JOBS = """
[[jobs]]
name = "a"
schedule = "*/5 * * * *"
command = "echo a"
"""


def write(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    st = path.stat()  # make sure the change is visible even within one mtime tick
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def test_reload_adds_jobs_and_reports_bad_edits_keeping_the_schedule(tmp_path):
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS)
    notices: list[tuple[str, dict]] = []
    runtime = open_runtime(load_config(path))
    try:
        watcher = RuntimeWatcher(runtime, lambda msg, **kw: notices.append((msg, kw)))
        assert watcher.check() is None  # unchanged: nothing to do, nothing said
        job_b = '\n[[jobs]]\nname = "b"\nschedule = "@every 1m"\ncommand = "echo b"\n'
        write(path, JOBS + job_b, 1)
        done = watcher.check()
        assert done is not None and done.added == ["b"]
        assert set(runtime.scheduler.jobs) == {"a", "b"}
        assert "added b" in notices[-1][0]
        write(path, JOBS.replace("*/5", "*/0"), 2)  # a broken edit
        refused = watcher.check()
        assert refused is not None and not refused.ok
        assert set(runtime.scheduler.jobs) == {"a", "b"}  # the running schedule is kept
        assert notices[-1][1]["severity"] == "error"
        assert "step" in notices[-1][0] and "kept" in notices[-1][0]
    finally:
        runtime.close()


WARNED = "".join(f"""
[[jobs]]
name = "step-{i}"
schedule = "*/7 * * * *"
command = "echo {i}"
""" for i in range(5))


@pytest.mark.slow
def test_opening_says_what_is_wrong_with_the_state_and_the_jobs_file(tmp_path):
    """A state file moved aside and the jobs file's warnings were only in `crondeck check`:
    the app opened on them silently. A few warnings are listed, the rest counted."""
    path = tmp_path / "crondeck.toml"
    path.write_text(WARNED)
    state = tmp_path / ".crondeck"
    state.mkdir()
    (state / "state.toml").write_text("jobs = {{{")
    runtime = open_runtime(load_config(path), clock=FakeClock())
    app = CrondeckApp(runtime.scheduler, config_path=path, clock=runtime.scheduler.clock, zone=UTC,
                      start=False, live=False)
    app.runtime = runtime

    async def go():
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await pilot.pause()
            shown = {t._notification.title: t._notification.message
                     for t in app.screen.query(Toast)}
            assert "moved it aside" in shown["State file"]
            listed = shown["5 warnings in crondeck.toml"]
            assert listed.startswith("line 4, job 'step-0', schedule: minute: */7 does not "
                                     "divide 60 evenly")
            assert listed.count("*/7") == 3
            assert listed.endswith("… and 2 more (crondeck check lists them all)")

    try:
        asyncio.run(go())
    finally:
        runtime.close()
