"""`last_run`: the newest result of a slot that actually ran, for a job or its saved state."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from crondeck.core import last_run
from crondeck.core.jobs import JobState
from crondeck.core.results import RunResult, RunStatus, make_run_id

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _result(minute: int, status: RunStatus) -> RunResult:
    at = T0 + timedelta(minutes=minute)
    return RunResult(make_run_id("job", at), "job", at, status)


def test_skips_and_misses_after_the_last_run_are_passed_over():
    results = (_result(0, RunStatus.OK), _result(1, RunStatus.FAILED),
               _result(2, RunStatus.SKIPPED), _result(3, RunStatus.MISSED))
    assert last_run(JobState("job", results=results)) == results[1]


def test_a_run_still_going_or_cancelled_counts_as_run():
    for status in (RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.TIMED_OUT):
        results = (_result(0, RunStatus.OK), _result(1, status), _result(2, RunStatus.SKIPPED))
        assert last_run(JobState("job", results=results)) == results[1]


def test_nothing_ran():
    assert last_run(JobState("job")) is None
    assert last_run(JobState("job", results=(_result(0, RunStatus.SKIPPED),))) is None


@dataclass
class _Live:  # a running job keeps its results in a deque
    results: deque[RunResult] = field(default_factory=deque)


def test_a_live_jobs_results_too():
    live = _Live(deque([_result(0, RunStatus.OK), _result(1, RunStatus.MISSED)]))
    assert last_run(live) == live.results[0]
