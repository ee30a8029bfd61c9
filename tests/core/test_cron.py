"""The cron engine's semantics: fields, day matching, macros, extensions, time zones, DST."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crondeck.core import CronExpr, Every, cron, parse


def fires(expr: str, start: str, n: int = 5, tz: str = "UTC") -> list[str]:
    """The next n fires after `start` (ISO; naive means in `tz`) as ISO strings with offset."""
    zone = ZoneInfo(tz)
    after = datetime.fromisoformat(start)
    if after.tzinfo is None:
        after = after.replace(tzinfo=zone)
    return [d.isoformat() for d in parse(expr, tz).upcoming(after, n)]


# -- fields ------------------------------------------------------------------------------


def test_every_minute_and_steps():
    assert fires("* * * * *", "2026-01-01T00:00", 3) == [
        "2026-01-01T00:01:00+00:00",
        "2026-01-01T00:02:00+00:00",
        "2026-01-01T00:03:00+00:00",
    ]
    assert fires("*/20 * * * *", "2026-01-01T00:00", 3)[-1] == "2026-01-01T01:00:00+00:00"
    assert fires("10-30/10 * * * *", "2026-01-01T00:00", 4) == [
        "2026-01-01T00:10:00+00:00",
        "2026-01-01T00:20:00+00:00",
        "2026-01-01T00:30:00+00:00",
        "2026-01-01T01:10:00+00:00",
    ]


def test_lists_ranges_and_names_any_case():
    assert fires("0 9 * JAN,jul mon-Fri", "2026-06-30T12:00", 2) == [
        "2026-07-01T09:00:00+00:00",
        "2026-07-02T09:00:00+00:00",
    ]
    assert fires("0 0 * * 1,3-4", "2026-01-04T00:00", 3) == [  # Sun -> Mon, Wed, Thu
        "2026-01-05T00:00:00+00:00",
        "2026-01-07T00:00:00+00:00",
        "2026-01-08T00:00:00+00:00",
    ]


def test_weekday_zero_and_seven_are_sunday_and_fri_sun_wraps_to_seven():
    sundays = fires("0 12 * * 0", "2026-01-01T00:00", 2)
    assert fires("0 12 * * 7", "2026-01-01T00:00", 2) == sundays
    assert fires("0 12 * * SUN", "2026-01-01T00:00", 2) == sundays
    assert sundays[0].startswith("2026-01-04")
    # FRI-SUN is 5-7: Friday, Saturday, Sunday
    got = fires("0 0 * * FRI-SUN", "2026-01-01T12:00", 3)
    days = [datetime.fromisoformat(d).strftime("%a") for d in got]
    assert days == ["Fri", "Sat", "Sun"]


def test_dom_and_dow_are_ored_when_both_restricted():
    # 1st of the month OR any Sunday (Vixie cron), not "Sundays that are the 1st"
    got = fires("0 0 1 * 0", "2026-02-27T00:00", 4)
    assert got == [
        "2026-03-01T00:00:00+00:00",  # a Sunday and the 1st: once
        "2026-03-08T00:00:00+00:00",
        "2026-03-15T00:00:00+00:00",
        "2026-03-22T00:00:00+00:00",
    ]


def test_star_step_in_a_day_field_counts_as_unrestricted_so_fields_are_anded():
    # */2 in day-of-month starts with *, so it is ANDed with Monday: odd days that are Mondays
    got = [datetime.fromisoformat(d) for d in fires("0 0 */2 * 1", "2026-01-01T00:00", 4)]
    assert all(d.weekday() == 0 and d.day % 2 == 1 for d in got)
    assert got[0].date().isoformat() == "2026-01-05"
    # ? is * in the day fields
    assert fires("0 0 ? * 1", "2026-01-01T00:00", 3) == fires("0 0 * * 1", "2026-01-01T00:00", 3)


def test_macros():
    assert parse("@hourly", "UTC").expression == "0 * * * *"
    assert parse("@DAILY", "UTC").expression == "0 0 * * *"
    assert parse("@midnight", "UTC").expression == "0 0 * * *"
    assert parse("@weekly", "UTC").expression == "0 0 * * 0"
    assert parse("@monthly", "UTC").expression == "0 0 1 * *"
    assert parse("@yearly", "UTC") == parse("@annually", "UTC") == parse("0 0 1 1 *", "UTC")
    assert parse("@daily", "UTC").text == "@daily"


def test_last_day_and_last_weekday_of_month():
    assert fires("0 0 L * *", "2028-01-15T00:00", 3) == [
        "2028-01-31T00:00:00+00:00",
        "2028-02-29T00:00:00+00:00",  # leap year
        "2028-03-31T00:00:00+00:00",
    ]
    # LW: last weekday. 2026-05-31 is a Sunday -> Friday 29th; 2026-01-31 is Saturday -> 30th
    assert fires("0 0 LW * *", "2026-01-01T00:00", 5)[0].startswith("2026-01-30")
    assert any(f.startswith("2026-05-29") for f in fires("0 0 LW * *", "2026-01-01T00:00", 5))


def test_nearest_weekday_never_leaves_the_month():
    # 2026-02-01 is a Sunday: 1W -> Monday 2nd. 2026-08-01 is a Saturday: 1W -> Monday 3rd
    assert fires("0 0 1W * *", "2026-01-31T00:00", 1) == ["2026-02-02T00:00:00+00:00"]
    assert fires("0 0 1W 8 *", "2026-01-31T00:00", 1) == ["2026-08-03T00:00:00+00:00"]
    # 15W on a Saturday -> Friday 14th (2026-03-15 is a Sunday -> Monday 16th)
    assert fires("0 0 15W 3 *", "2026-01-01T00:00", 1) == ["2026-03-16T00:00:00+00:00"]
    # 31W in a month whose 31st is a Sunday -> Friday 29th (2026-05-31 is Sunday)
    assert fires("0 0 31W 5 *", "2026-01-01T00:00", 1) == ["2026-05-29T00:00:00+00:00"]


def test_last_friday_and_nth_weekday():
    assert fires("0 12 * * 5L", "2026-01-01T00:00", 2) == [
        "2026-01-30T12:00:00+00:00",
        "2026-02-27T12:00:00+00:00",
    ]
    assert fires("0 9 * * 1#2", "2026-01-01T00:00", 2) == [
        "2026-01-12T09:00:00+00:00",
        "2026-02-09T09:00:00+00:00",
    ]
    # 5th Friday exists only in some months
    fifth = fires("0 9 * * FRI#5", "2026-01-01T00:00", 3)
    assert [f[:10] for f in fifth] == ["2026-01-30", "2026-05-29", "2026-07-31"]


def test_nth_weekday_is_ored_with_a_restricted_day_of_month():
    got = fires("0 0 15 * 1#1", "2026-01-01T00:00", 4)
    assert [g[:10] for g in got] == ["2026-01-05", "2026-01-15", "2026-02-02", "2026-02-15"]


def test_leap_years_including_2100_and_2400():
    got = fires("0 0 29 2 *", "2096-03-01T00:00", 3)
    assert [g[:10] for g in got] == ["2104-02-29", "2108-02-29", "2112-02-29"]  # no 2100
    assert fires("0 0 29 2 *", "2399-01-01T00:00", 1)[0].startswith("2400-02-29")
    # Feb 29th that is also a Monday, across the skipped 2100 leap day
    monday_29 = fires("0 0 29 2 MON", "2026-01-01T00:00", 5)  # ORed: Feb Mondays or the 29th
    assert all(d[5:7] == "02" for d in monday_29)


def test_step_larger_than_field_fires_at_the_start_only_with_a_warning():
    expr = parse("*/100 * * * *", "UTC")
    assert expr.f.minutes == (0,)
    assert any("larger than the range" in w for w in expr.warnings())


def test_uneven_step_warns_with_the_short_gap():
    warnings = parse("*/7 * * * *", "UTC").warnings()
    assert any(":56" in w and "4 minutes" in w for w in warnings)
    assert not any("divide" in w for w in parse("*/15 * * * *", "UTC").warnings())


def test_or_trap_is_warned_about():
    warnings = parse("0 0 1 * MON", "UTC").warnings()
    assert any("EITHER" in w for w in warnings)
    assert not any("EITHER" in w for w in parse("0 0 * * MON", "UTC").warnings())


# -- interval schedules -------------------------------------------------------------------


def test_every_is_an_anchored_utc_grid():
    sched = parse("@every 90s", "Europe/Berlin")
    assert isinstance(sched, Every)
    start = datetime(2026, 3, 29, 0, 59, 10, tzinfo=UTC)  # crosses Berlin's DST jump
    got = sched.upcoming(start, 3)
    utc_times = [g.astimezone(UTC).strftime("%H:%M:%S") for g in got]
    assert utc_times == ["01:00:00", "01:01:30", "01:03:00"]
    assert all((b - a) == timedelta(seconds=90) for a, b in itertools.pairwise(got))
    assert parse("@every 1h30m", "UTC").period == timedelta(hours=1, minutes=30)
    assert parse("@every 1h30m", "UTC").describe() == "Every 1 hour 30 minutes"


def test_cron_helper_and_default_zone_is_named():
    sched = cron("0 9 * * 1-5")
    assert isinstance(sched, CronExpr)
    assert sched.tz.key  # the machine's zone, named explicitly


# -- next_after contract ------------------------------------------------------------------


def test_next_after_is_strictly_after_and_needs_an_aware_datetime():
    sched = parse("0 * * * *", "UTC")
    on_the_hour = datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert sched.next_after(on_the_hour) == datetime(2026, 1, 1, 6, tzinfo=UTC)
    assert sched.next_after(on_the_hour - timedelta(microseconds=1)) == on_the_hour
    with pytest.raises(ValueError, match="aware"):
        sched.next_after(datetime(2026, 1, 1))


def test_arbitrary_queries_after_iteration_are_still_exact():
    sched = parse("*/10 * * * 1-5", "America/New_York")
    start = datetime(2026, 1, 2, 23, 0, tzinfo=UTC)
    seq = sched.upcoming(start, 200)
    for k in (0, 7, 50, 198):
        # an equal-valued (not identical) datetime, in another zone
        probe = seq[k].astimezone(UTC)
        assert sched.next_after(probe) == seq[k + 1]
        assert sched.next_after(probe - timedelta(seconds=1)) == seq[k]
    # going backwards in time works too
    assert sched.next_after(start) == seq[0]


def test_results_are_in_the_expression_zone():
    got = parse("0 9 * * *", "Asia/Kolkata").next_after(datetime(2026, 1, 1, tzinfo=UTC))
    assert got.isoformat() == "2026-01-01T09:00:00+05:30"
    assert got.tzinfo == ZoneInfo("Asia/Kolkata")
