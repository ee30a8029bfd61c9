"""A claimed run's result is on disk moments after it is recorded, whether or not a later run
starts (whose claim would carry it) or the writer's next batch comes: a crash right after a
run finished does not record it abandoned."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers import wait_until

from crondeck.core.jobs import JobState
from crondeck.core.results import RunResult, RunStatus, make_run_id
from crondeck.core.store import StateStore

T0 = datetime(2025, 3, 1, 9, 1, tzinfo=UTC)


def _on_disk(path: Path, deadline: float) -> JobState:
    """What a restart would read, waiting (bounded) for the run to be ended there."""
    while True:
        st = StateStore(path, read_only=True).load().jobs["ticker"]
        if not st.running or time.monotonic() > deadline:
            return st
        time.sleep(0.01)


def test_a_finished_run_is_durable_without_a_later_claim_or_batch(tmp_path: Path) -> None:
    path = tmp_path / "state.toml"
    # The writer saves the first change at once, then nothing for an hour: only an
    # immediate write of the result can put it on disk in time.
    store = StateStore(path, min_interval=3600)
    store.start()
    try:
        run_id = make_run_id("ticker", T0)
        store.claim("ticker", run_id, T0)
        # the batch that follows the claim has gone out
        wait_until(lambda: store.write_count >= 1, 5, "the claim's batch to be written")
        assert store.write_count == 1
        result = RunResult(run_id=run_id, job="ticker", scheduled_for=T0,
                           status=RunStatus.OK, started_at=T0,
                           finished_at=T0 + timedelta(seconds=2))
        store.record(result)
        crashed = _on_disk(path, time.monotonic() + 2)  # SIGKILL now: what survives
        assert crashed.running == ()
        assert [(r.run_id, r.status) for r in crashed.results] == [(run_id, RunStatus.OK)]
        assert store.write_count == 1  # no save of the whole state for it
    finally:
        store.close()
    assert not (tmp_path / "claims.toml").exists()  # folded into state.toml on close
    assert StateStore(path).load().jobs["ticker"].running == ()
