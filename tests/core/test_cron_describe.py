"""Plain English a newcomer can read, and accurate."""

from __future__ import annotations

import pytest

from crondeck.core import parse


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("0 9 * * 1-5", "At 09:00, Monday through Friday"),
        ("*/15 9-17 * * 1-5", "Every 15 minutes, 09:00–17:59, Monday through Friday"),
        ("0 0 1 * 0", "At 00:00 on day 1 of the month, or on Sunday"),
        ("* * * * *", "Every minute"),
        ("0 * * * *", "Every hour, on the hour"),
        ("5 * * * *", "Every hour at minute 5"),
        ("*/5 * * * *", "Every 5 minutes"),
        ("0 9,17 * * *", "At 09:00 and 17:00"),
        ("30 9 * * 1,3,5", "At 09:30 on Monday, Wednesday and Friday"),
        ("0 9 * * 1#2", "At 09:00 on the second Monday of the month"),
        ("0 12 * * 5L", "At 12:00 on the last Friday of the month"),
        ("0 0 L * *", "At 00:00 on the last day of the month"),
        ("0 0 LW * *", "At 00:00 on the last weekday (Mon–Fri) of the month"),
        ("0 8 15W * *", "At 08:00 on the weekday (Mon–Fri) nearest day 15 of the month"),
        ("0 0 1 1 *", "At 00:00 on day 1 of the month, in January"),
        ("0 0 * 6-8 *", "At 00:00, June through August"),
        ("0 0 * * FRI-SUN", "At 00:00, Friday through Sunday"),
        ("* 9 * * *", "Every minute, 09:00–09:59"),
        ("0,30 * * * *", "At minutes :00 and :30 of every hour"),
        ("*/7 * * * *", "Every 7 minutes from :00 to :56 of every hour"),
        ("15 */6 * * *", "At 00:15, 06:15, 12:15 and 18:15"),
        ("15 */4 * * *", "At minute 15 past every 4 hours from 00:00 to 20:00"),
        ("0 0 */2 * 1", "At 00:00 on days 1, 3, …, 31 of the month, if that day is Monday"),
        (
            "0 0 1 * */2",
            "At 00:00 on day 1 of the month, if that day is Tuesday, Thursday, Saturday or Sunday",
        ),
        ("@every 90s", "Every 1 minute 30 seconds"),
        ("@daily", "At 00:00"),
    ],
)
def test_describe(expr, text):
    assert parse(expr, "UTC").describe() == text
