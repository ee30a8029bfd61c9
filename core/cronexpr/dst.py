"""DST, as cronie does it: the fires of a day on which the UTC offset changes, and the
`DstShift`s that say which fires such a day moves or skips.

A job whose minute or hour field starts with `*` ("wildcard") runs only at wall times that
exist: it skips the spring gap, and runs in both passes of a repeated hour. Every other job
runs once per matching wall time: a time in the gap fires at the first instant after the
jump, a time in the repeated hour only in its first pass.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache

from ..lazyclass import dataclass

__all__ = ["DstShift", "jump_instant", "shifts_on", "transition_days", "transition_fires"]

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


def transition_fires(
    tz: tzinfo, day: date, hm: list[tuple[int, int]], wild: bool
) -> list[tuple[int, datetime]]:
    """The fires of a day with a DST change, as sorted (UTC timestamp, local datetime)
    pairs: `hm` are the expression's (hour, minute) pairs, `wild` whether it is a wildcard
    job."""
    seen: dict[int, datetime] = {}
    for h, mi in hm:
        a = datetime(day.year, day.month, day.day, h, mi, 0, 0, tz)
        b = a.replace(fold=1)
        t0, t1 = int(a.timestamp()), int(b.timestamp())
        if t0 == t1:
            seen.setdefault(t0, a)
        elif t0 < t1:  # repeated hour: first pass always, second pass for wildcard jobs
            seen.setdefault(t0, a)
            if wild:
                seen.setdefault(t1, b)
        elif not wild:  # in the gap: fire at the first instant after the jump
            jump = jump_instant(tz, t1, t0)
            seen.setdefault(jump, datetime.fromtimestamp(jump, tz))
    return sorted(seen.items())


def shifts_on(tz: tzinfo, day: date, hm: list[tuple[int, int]], wild: bool) -> list[DstShift]:
    """The fires a DST change on `day` moves or skips, by the same rules as
    `transition_fires`."""
    out = []
    for h, mi in hm:
        a = datetime(day.year, day.month, day.day, h, mi, 0, 0, tz)
        t0, t1 = int(a.timestamp()), int(a.replace(fold=1).timestamp())
        wall = f"{h:02d}:{mi:02d}"
        if t0 > t1:
            if wild:
                out.append(DstShift(day, wall, "skipped", None))
            else:
                jump = datetime.fromtimestamp(jump_instant(tz, t1, t0), tz)
                out.append(DstShift(day, wall, "moved", jump))
        elif t0 < t1:
            out.append(DstShift(day, wall, "twice" if wild else "once", None))
    if len(out) > 3:  # a wildcard job touches every minute of the hour: summarise
        first, last = out[0], out[-1]
        out = [DstShift(day, f"{first.wall}–{last.wall}", first.kind, first.fires_at)]
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
        if midnight.year == 9999 and midnight.month == 12 and midnight.day == 31:
            break  # the calendar's last day: nothing follows it
        following = midnight + _ONE_DAY
        after = utcoffset(following)
        if after != before:
            out.append(midnight.date())
        midnight, before = following, after
    return tuple(out)


def jump_instant(tz: tzinfo, lo: int, hi: int) -> int:
    """The first instant in (lo, hi] whose offset is the post-jump one: where the gap ends."""
    after = datetime.fromtimestamp(hi, tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi
