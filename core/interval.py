"""Interval schedules (`@every 90s`): fixed cadence anchored to a start instant, in UTC.

The n-th fire is `anchor + n * period`, never "end of last run + period", so a slow agent
cannot drift the cadence.
"""

from __future__ import annotations

from dataclasses import field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .durations import MAX_DURATION, format_duration
from .lazyclass import dataclass

__all__ = ["EPOCH", "Every", "Upcoming"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Upcoming:
    """`upcoming(dt, n)` for any schedule with `next_after`: shared by cron and intervals."""

    __slots__ = ()  # a CronExpr has slots, no __dict__

    def next_after(self, dt: datetime) -> datetime:
        """The first fire strictly after `dt`; OverflowError when it would be after the last
        day datetime knows (9999-12-31)."""
        raise NotImplementedError

    def upcoming(self, dt: datetime, n: int) -> list[datetime]:
        """The next `n` fires after `dt`, fewer if the calendar ends (year 9999) first."""
        out = []
        for _ in range(n):
            try:
                dt = self.next_after(dt)
            except OverflowError:
                break
            out.append(dt)
        return out


@dataclass(frozen=True)
class Every(Upcoming):
    """Fires every `period`, on the grid `anchor + n * period` (default anchor: the Unix epoch,
    so `@every 10s` fires at :00, :10, :20 of each minute and `every(hours=1)` on the hour,
    UTC). `from_now`: a scheduler re-anchors it to its clock's now when the job is added or
    rescheduled, so the first fire is one period later (`every(hours=1, start="now")`)."""

    period: timedelta
    anchor: datetime = EPOCH
    tz: ZoneInfo | None = None
    text: str = field(default="", compare=False)
    from_now: bool = False

    def __post_init__(self) -> None:
        if self.period.total_seconds() < 1:
            raise ValueError("an interval must be at least 1s")
        if self.period > MAX_DURATION:
            raise ValueError(f"an interval is at most {format_duration(MAX_DURATION)} (10 years)")
        if self.anchor.tzinfo is None:
            raise ValueError("the anchor of an interval must be timezone-aware")
        if not self.text:
            object.__setattr__(self, "text", f"@every {format_duration(self.period)}")

    @property
    def is_interval(self) -> bool:
        return True

    def next_after(self, dt: datetime) -> datetime:
        """The first grid instant strictly after `dt` (aware), as an aware datetime."""
        if dt.tzinfo is None:
            raise ValueError("next_after needs a timezone-aware datetime")
        period_us = _micros(self.period)
        elapsed = _micros(dt - self.anchor)
        n = elapsed // period_us + 1
        try:
            out = self.anchor + timedelta(microseconds=n * period_us)
            return out.astimezone(self.tz) if self.tz is not None else out.astimezone(UTC)
        except OverflowError:
            raise OverflowError(f"{self.text}: no fire before the end of year 9999") from None

    def describe(self) -> str:
        return f"Every {_words(self.period)}"

    def warnings(self, now: datetime | None = None) -> list[str]:
        return []


def _micros(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _words(period: timedelta) -> str:
    secs = int(period.total_seconds())
    parts = []
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        n, secs = divmod(secs, size)
        if n:
            parts.append(f"{n} {name}{'s' if n != 1 else ''}")
    return " ".join(parts)
