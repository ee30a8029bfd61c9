"""Which fires a DST change moves or skips, for the warnings the builder shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING

from .cron import jump_instant

if TYPE_CHECKING:
    from .cron import CronExpr

__all__ = ["DstShift", "dst_shifts", "transition_days"]

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class DstShift:
    """A fire that a DST change moves or skips: `wall` is the scheduled local time; `kind` is
    'moved' (runs at `fires_at`), 'skipped', 'once' (repeated hour, first pass only) or
    'twice' (runs in both passes)."""

    day: date
    wall: str
    kind: str
    fires_at: datetime | None

    def __str__(self) -> str:
        d = self.day.isoformat()
        if self.kind == "moved" and self.fires_at is not None:
            return (
                f"{d}: {self.wall} does not exist (DST change); "
                f"runs at {self.fires_at:%H:%M} instead"
            )
        if self.kind == "skipped":
            return f"{d}: {self.wall} does not exist (DST change); skipped"
        if self.kind == "once":
            return f"{d}: {self.wall} happens twice (DST ends); runs once, the first time"
        return f"{d}: {self.wall} happens twice (DST ends); runs both times"


def dst_shifts(expr: CronExpr, now: datetime | None = None, days: int = 366) -> list[DstShift]:
    """Fires of `expr` moved or skipped by DST changes in the `days` after `now`."""
    start = (now or datetime.now(UTC)).astimezone(expr.tz).date()
    out: list[DstShift] = []
    for day in transition_days(expr.tz, start, days):
        if expr._date_matches(day):
            out.extend(shifts_on(expr, day))
    return out


@lru_cache(maxsize=256)
def transition_days(tz: tzinfo, start: date, days: int) -> tuple[date, ...]:
    """Local days from `start` to `start + days` on which `tz`'s UTC offset changes. Cached:
    the builder asks on every keystroke, and a zone has at most a few such days a year."""
    out = []
    utcoffset = tz.utcoffset
    midnight = datetime(start.year, start.month, start.day)
    before = utcoffset(midnight)
    for _ in range(days + 1):
        following = midnight + _ONE_DAY
        after = utcoffset(following)
        if after != before:
            out.append(midnight.date())
        midnight, before = following, after
    return tuple(out)


def shifts_on(expr: CronExpr, day: date) -> list[DstShift]:
    tz = expr.tz
    out = []
    expr._secs_of_day()
    for h, mi in expr._hm:
        a = datetime(day.year, day.month, day.day, h, mi, 0, 0, tz)
        t0, t1 = int(a.timestamp()), int(a.replace(fold=1).timestamp())
        wall = f"{h:02d}:{mi:02d}"
        if t0 > t1:
            if expr._wild:
                out.append(DstShift(day, wall, "skipped", None))
            else:
                jump = datetime.fromtimestamp(jump_instant(tz, t1, t0), tz)
                out.append(DstShift(day, wall, "moved", jump))
        elif t0 < t1:
            out.append(DstShift(day, wall, "twice" if expr._wild else "once", None))
    if len(out) > 3:  # a wildcard job touches every minute of the hour: summarise
        first, last = out[0], out[-1]
        out = [DstShift(day, f"{first.wall}–{last.wall}", first.kind, first.fires_at)]
    return out
