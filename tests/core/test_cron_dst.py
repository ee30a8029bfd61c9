"""DST as cronie does it, in zones with 1-hour, 30-minute and midnight shifts and a skipped day.

Wildcard jobs (minute or hour field starts with *) run only at wall times that exist: they
skip the gap and run in both passes of a repeated hour. Every other job runs once per
matching wall time: in the gap it fires at the first instant after the jump, in a repeated
hour only in the first pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crondeck.core import parse


def fires(expr: str, tz: str, start_utc: datetime, n: int) -> list[str]:
    return [d.isoformat() for d in parse(expr, tz).upcoming(start_utc, n)]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "day", "gap_wall", "after_jump"),
    [
        ("America/New_York", (2026, 3, 8), "02:30", "2026-03-08T03:00:00-04:00"),
        ("Europe/Berlin", (2026, 3, 29), "02:30", "2026-03-29T03:00:00+02:00"),
        ("Australia/Sydney", (2026, 10, 4), "02:30", "2026-10-04T03:00:00+11:00"),
        ("Australia/Lord_Howe", (2026, 10, 4), "02:15", "2026-10-04T02:30:00+11:00"),
    ],
)
def test_fixed_time_in_the_spring_gap_fires_at_the_first_instant_after_the_jump(
    tz, day, gap_wall, after_jump
):
    h, m = map(int, gap_wall.split(":"))
    expr = f"{m} {h} * * *"
    start = datetime(*day, tzinfo=ZoneInfo(tz)) - timedelta(days=1)
    got = fires(expr, tz, start.astimezone(UTC), 3)
    assert got[1] == after_jump
    # the days around it are untouched
    assert got[0].startswith(f"{(start).date().isoformat()}T{gap_wall}")
    assert got[2][11:16] == gap_wall


def test_several_times_in_the_gap_collapse_into_one_fire():
    got = fires("0,30 2,3 * * *", "America/New_York", utc(2026, 3, 8, 5), 3)
    assert got == [
        "2026-03-08T03:00:00-04:00",  # 02:00, 02:30 and 03:00 all fire once here
        "2026-03-08T03:30:00-04:00",
        "2026-03-09T02:00:00-04:00",
    ]


def test_wildcard_jobs_skip_the_gap():
    got = fires("*/30 * * * *", "America/New_York", utc(2026, 3, 8, 6, 0), 3)
    assert got == [
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:00:00-04:00",  # 02:00 and 02:30 do not exist
        "2026-03-08T03:30:00-04:00",
    ]
    hourly = fires("0 * * * *", "Europe/Berlin", utc(2026, 3, 28, 23, 30), 2)
    assert hourly == ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"]
    # a job that runs only inside the gap hour does not run that day at all
    got = fires("* 2 * * *", "America/New_York", utc(2026, 3, 7, 8, 0), 2)
    assert got[0] == "2026-03-09T02:00:00-04:00"


def test_fixed_time_in_the_repeated_hour_runs_once_in_the_first_pass():
    got = fires("30 1 * * *", "America/New_York", utc(2026, 10, 31, 12), 3)
    assert got == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
        "2026-11-03T01:30:00-05:00",
    ]


def test_wildcard_jobs_run_in_both_passes_of_the_repeated_hour():
    got = fires("*/30 1 * * *", "America/New_York", utc(2026, 11, 1, 4), 5)
    assert got == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-02T01:00:00-05:00",
    ]
    hourly = parse("0 * * * *", "Europe/Berlin").upcoming(utc(2026, 10, 24, 23, 30), 4)
    assert [d.astimezone(UTC).hour for d in hourly] == [0, 1, 2, 3]  # every real hour


def test_equal_wall_times_in_the_two_passes_are_never_confused():
    sched = parse("*/30 1 * * *", "America/New_York")
    first, _, second = sched.upcoming(utc(2026, 11, 1, 4), 3)
    assert first.replace(tzinfo=None) == second.replace(tzinfo=None)
    assert second.fold == 1 and first.fold == 0
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    # querying from inside the second pass continues in the second pass
    inside_second = utc(2026, 11, 1, 6, 10)  # 01:10 EST, the second 01:10
    assert sched.next_after(inside_second).isoformat() == "2026-11-01T01:30:00-05:00"
    # and a fixed job queried from the second pass waits for the next day
    once = parse("30 1 * * *", "America/New_York")
    assert once.next_after(inside_second).isoformat() == "2026-11-02T01:30:00-05:00"


def test_lord_howe_half_hour_fall_back():
    # 02:00 -> 01:30: 01:30-01:59 happens twice; 01:20 exists once
    got = fires("*/20 1 * * *", "Australia/Lord_Howe", utc(2026, 4, 4, 13), 5)
    assert got == [
        "2026-04-05T01:00:00+11:00",
        "2026-04-05T01:20:00+11:00",
        "2026-04-05T01:40:00+11:00",
        "2026-04-05T01:40:00+10:30",
        "2026-04-06T01:00:00+10:30",
    ]
    assert fires("45 1 * * *", "Australia/Lord_Howe", utc(2026, 4, 4, 13), 2) == [
        "2026-04-05T01:45:00+11:00",
        "2026-04-06T01:45:00+10:30",
    ]


def test_santiago_midnight_shifts():
    # September: 24:00 -> 01:00, so midnight does not exist; a daily job runs at 01:00
    got = fires("0 0 * * *", "America/Santiago", utc(2026, 9, 5, 12), 2)
    assert got == ["2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00"]
    assert fires("0 * * * *", "America/Santiago", utc(2026, 9, 6, 3, 30), 2) == [
        "2026-09-06T01:00:00-03:00",  # wildcard: 00:00 simply does not happen
        "2026-09-06T02:00:00-03:00",
    ]
    # April: 24:00 -> 23:00, so 23:xx happens twice on the 4th
    assert fires("30 23 * * *", "America/Santiago", utc(2026, 4, 4, 12), 2) == [
        "2026-04-04T23:30:00-03:00",
        "2026-04-05T23:30:00-04:00",
    ]
    assert fires("30 23 * * *", "America/Santiago", utc(2026, 4, 5, 2, 45), 1) == [
        "2026-04-05T23:30:00-04:00",  # from inside the first pass: the repeat does not fire
    ]
    assert fires("*/30 23 * * *", "America/Santiago", utc(2026, 4, 5, 2, 0), 4) == [
        "2026-04-04T23:30:00-03:00",
        "2026-04-04T23:00:00-04:00",
        "2026-04-04T23:30:00-04:00",
        "2026-04-05T23:00:00-04:00",
    ]


def test_apia_skipped_day_december_2011():
    # Samoa skipped 30 December 2011 entirely (UTC-10 -> UTC+14 at midnight)
    assert fires("0 0 * * *", "Pacific/Apia", utc(2011, 12, 28, 12), 4) == [
        "2011-12-29T00:00:00-10:00",
        "2011-12-31T00:00:00+14:00",  # the 30th's midnight fires at the jump; once
        "2012-01-01T00:00:00+14:00",
        "2012-01-02T00:00:00+14:00",
    ]
    # a fixed time on the missing day fires at the first instant after the jump
    assert fires("0 9 30 12 *", "Pacific/Apia", utc(2011, 1, 1), 2) == [
        "2011-12-31T00:00:00+14:00",
        "2012-12-30T09:00:00+14:00",
    ]
    # a wildcard job just continues on the other side
    assert fires("0 * * * *", "Pacific/Apia", utc(2011, 12, 30, 8, 30), 2) == [
        "2011-12-29T23:00:00-10:00",
        "2011-12-31T00:00:00+14:00",
    ]


def test_dst_shifts_are_reported_as_warnings_for_the_next_year():
    now = utc(2026, 1, 1)
    moved = parse("30 2 * * *", "America/New_York").warnings(now)
    assert any("2026-03-08" in w and "runs at 03:00" in w for w in moved)
    twice = parse("30 1 * * *", "America/New_York").warnings(now)
    assert any("2026-11-01" in w and "once" in w for w in twice)
    assert parse("30 2 * * *", "UTC").warnings(now) == []
    assert parse("0 12 * * *", "America/New_York").warnings(now) == []  # noon: untouched
