"""A process that never edits the jobs file lets go of its text after each load."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from crondeck.core.clock import FakeClock
from crondeck.core.config import load_config
from crondeck.core.runtime import open_runtime

JOBS = '[[jobs]]\nname = "a"\nschedule = "@daily"\ncommand = "true"\n'


def test_keep_source_false_drops_the_text_at_open_and_at_each_reload(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS)
    clock = FakeClock(datetime(2025, 3, 1, 9, 0, tzinfo=UTC))
    with open_runtime(load_config(path), clock=clock, keep_source=False) as runtime:
        assert runtime.config.source is None and list(runtime.scheduler.jobs) == ["a"]
        path.write_text(JOBS + JOBS.replace('"a"', '"b"'))
        os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000_000))
        done = runtime.reload_if_changed()
        assert done is not None and done.added == ["b"] and runtime.config.source is None
    with open_runtime(load_config(path), clock=clock) as runtime:
        assert runtime.config.source == path.read_text()  # kept by default (the console)
