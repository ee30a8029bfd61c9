from datetime import UTC, datetime, timedelta

from crondeck.core.display import ago, clock_time, countdown, duration


def test_countdown_two_units():
    assert countdown(252) == "in 4m 12s"
    assert countdown(2 * 86400 + 3 * 3600 + 59) == "in 2d 3h"
    assert countdown(3 * 3600 + 5 * 60) == "in 3h 05m"
    assert countdown(9) == "in 9s"
    assert countdown(0.2) == "due"
    assert countdown(None) == "—"


def test_ago_one_unit():
    assert ago(180) == "3m ago"
    assert ago(0.3) == "just now"
    assert ago(45) == "45s ago"
    assert ago(7200) == "2h ago"
    assert ago(3 * 86400) == "3d ago"


def test_duration():
    assert duration(0.42) == "0.4s"
    assert duration(252) == "4m 12s"


def test_clock_time_today_week_and_later():
    now = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    assert clock_time(now + timedelta(minutes=5), UTC, now) == "12:05:00"
    assert clock_time(now + timedelta(days=1), UTC, now) == "Tue 12:00"
    assert clock_time(now + timedelta(days=30), UTC, now) == "2025-04-02 12:00"
