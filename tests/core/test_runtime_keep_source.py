"""What `crondeck run`'s runtime keeps: not the file's text (keep_source=False), and the slot a
job that never ran was waiting for, across a restart."""

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


def test_a_job_that_never_ran_keeps_the_slot_it_waited_for_across_a_restart(
        tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS.replace("@daily", "0 10 * * *"))
    ten = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    with open_runtime(load_config(path), clock=FakeClock(datetime(2025, 3, 1, 9, 0,
                                                                  tzinfo=UTC))) as runtime:
        assert runtime.scheduler.jobs["a"].next_fire == ten
    text = (tmp_path / ".crondeck" / "state.toml").read_text()
    assert "[jobs" not in text and "next_fires" in text  # saved as waiting only
    for now in (datetime(2025, 3, 1, 9, 30, tzinfo=UTC), datetime(2025, 3, 1, 11, 0, tzinfo=UTC)):
        # down across the slot or not, the job still owes 10:00 (the catch-up policy decides)
        with open_runtime(load_config(path), clock=FakeClock(now)) as runtime:
            assert runtime.scheduler.jobs["a"].next_fire == ten, now
