"""Schedules the scheduler fires by: cron expressions and fixed intervals, one interface.

Both kinds answer `next_after(dt)` (strictly after an aware datetime), `upcoming(dt, n)`,
`describe()` and `warnings()`, and carry `text` (as written) and `tz`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .cron import CronExpr, parse
from .interval import EPOCH, Every

__all__ = ["Schedule", "cron", "every"]

Schedule = CronExpr | Every


def cron(expr: str, tz: str | ZoneInfo | None = None) -> Schedule:
    """Parse a cron expression, macro (`@daily`) or `@every 90s`, evaluated in `tz`
    (IANA name or ZoneInfo; default: the machine's local zone). Raises CronError."""
    return parse(expr, tz)


def every(
    *,
    seconds: float = 0,
    minutes: float = 0,
    hours: float = 0,
    days: float = 0,
    start: datetime | None = None,
) -> Every:
    """An interval schedule anchored at `start` (aware; default the Unix epoch), in UTC."""
    period = timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)
    if period.total_seconds() < 1:
        raise ValueError("every(...) needs a period of at least 1 second")
    return Every(period, start if start is not None else EPOCH)
