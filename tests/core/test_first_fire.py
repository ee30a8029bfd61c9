"""`first_fire`: the one rule for a job's first fire, as `Scheduler.add_job` applies it and
`crondeck check` states it without a scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crondeck.core import FakeClock, JobOptions, Scheduler, cron, every, first_fire

NOW = datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC)


@pytest.mark.parametrize(("schedule", "options", "expected"), [
    (cron("*/2 * * * *", "Europe/Berlin"), JobOptions(),
     datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),  # Berlin springs forward at 01:00 UTC
    (cron("@every 7s", "UTC"), JobOptions(), datetime(2026, 3, 29, 0, 59, 33, tzinfo=UTC)),
    (every(hours=1, start="now"), JobOptions(), NOW + timedelta(hours=1)),
    (cron("@daily", "UTC"), JobOptions(start_immediately=True), NOW),
    (cron("@daily", "UTC"), JobOptions(until=NOW + timedelta(hours=1)), None),
])
def test_first_fire_is_the_next_fire_add_job_gives(schedule, options, expected) -> None:
    scheduler = Scheduler(clock=FakeClock(NOW))
    job = scheduler.add_job(lambda: None, None, schedule, options=options)
    assert first_fire(schedule, options, NOW) == expected == job.next_fire


def test_a_job_switched_off_has_no_first_fire() -> None:
    assert first_fire(cron("* * * * *", "UTC"), JobOptions(), NOW, enabled=False) is None
