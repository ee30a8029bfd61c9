"""`crondeck export systemd` against the real `systemd-analyze calendar` over generated
schedules: every exported OnCalendar= line is accepted, and the lines of a job together fire
at crondeck's instants, except exactly the DST differences the export states."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from export_gen import schedules
from systemd_analyze import calendar_fires, expected_fires, union_fires

from crondeck.core import parse
from crondeck.core.cronexpr.dst import transition_days
from crondeck.core.export import ScheduleRefused, on_calendar
from crondeck.core.export.systemd import _check_gaps

START = datetime(2026, 1, 1, tzinfo=UTC)
FIRES = 25


@pytest.mark.parametrize("expr", ["0 9 * * 1#5", "0 9 * * 5#5", "0 9 */2 * 5#5",
                                  "30 8 * * MON#5,FRI#4"])
def test_fifth_weekday_calendars_stay_within_the_month(expr: str) -> None:
    """A fifth weekday falls on days 29-31: systemd rejects day 35."""
    schedule = parse(expr, "Europe/Berlin")
    lines = on_calendar(schedule)
    assert not any(".35" in line or "..35" in line for line in lines)
    systemd = union_fires(lines, calendar_fires(lines, START, FIRES), FIRES)
    assert len(systemd) == FIRES
    theirs, ours, _ = expected_fires(schedule, START, systemd)
    assert theirs == ours


def _base(zone: str, rng: random.Random) -> datetime:
    """A few days before one of the zone's DST changes in 2026 (or New Year without any)."""
    days = transition_days(parse("@daily", zone).tz, START.date(), 365)
    if not days or rng.random() < 0.2:
        return START
    day = rng.choice(days)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=3)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_generated_calendars_are_accepted_and_fire_like_crondeck(seed: int) -> None:
    """A few hundred schedules, one systemd-analyze call per base time."""
    rng = random.Random(seed)
    by_base: dict[datetime, list[tuple[str, object, list[str]]]] = defaultdict(list)
    refused = 0
    for text, zone in schedules(seed, 200):
        schedule = parse(text, zone)
        try:
            lines = on_calendar(schedule)
            _check_gaps(schedule, START)
        except ScheduleRefused as exc:
            refused += 1
            assert exc.why and exc.fix
            assert "W" in text or "does not divide" in exc.why or "'L'" in exc.why or (
                "systemd gets this job wrong" in exc.why), text
            continue
        by_base[_base(zone, rng)].append((text, schedule, lines))
    checked = 0
    for base, jobs in sorted(by_base.items()):
        fires = calendar_fires([line for _, _, lines in jobs for line in lines], base, FIRES)
        for text, schedule, lines in jobs:
            systemd = union_fires(lines, fires, FIRES)
            assert len(systemd) == FIRES, (text, lines)
            theirs, ours, differences = expected_fires(schedule, base, systemd)
            assert not [t for d in differences for t in d.systemd_only], (text, lines)
            assert theirs == ours, (text, str(schedule), lines, base)
            checked += 1
    assert checked > 150 and refused < 50


@pytest.mark.parametrize(("expr", "refused"), [
    ("50 2 * * *", "fails the timer"), ("45,50 */2 * * *", "fails the timer"),
    ("59 * * * *", "fails the timer"), ("*/5 * * * *", "skips the job's times from 03:45"),
    ("50 3 * * *", "skips"), ("0,50 2-3 * * *", "skips"),
    ("0,50 2 * * *", None), ("10 3 * * *", None), ("*/15 2 * * *", None), ("30 2-4 * * *", None),
])
def test_times_systemd_gets_wrong_across_chathams_jump_are_refused(expr: str,
                                                                  refused: str | None) -> None:
    """Chatham jumps from 02:45 to 03:45 on 2026-09-27: systemd fails the timer of a job with
    no time in hour 02 before the jump, and skips times from 03:45 to 03:59."""
    schedule = parse(expr, "Pacific/Chatham")
    base = datetime(2026, 9, 26, 12, tzinfo=UTC)
    lines = on_calendar(schedule)
    if refused:
        with pytest.raises(ScheduleRefused, match=re.escape(refused)) as info:
            _check_gaps(schedule, base)
        assert "2026-09-27 (Pacific/Chatham) the clock jumps from 02:45 to 03:45" in \
            info.value.why
        try:
            systemd = union_fires(lines, calendar_fires(lines, base, 40), 40)
        except AssertionError as exc:  # what systemd-analyze says for the timer
            assert "Resource deadlock avoided" in str(exc) and "fails" in refused
        else:
            theirs, ours, _ = expected_fires(schedule, base, systemd)
            assert theirs != ours and "skips" in refused
    else:
        _check_gaps(schedule, base)
        systemd = union_fires(lines, calendar_fires(lines, base, 40), 40)
        theirs, ours, _ = expected_fires(schedule, base, systemd)
        assert theirs == ours
