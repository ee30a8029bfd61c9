"""`CronExpr`, the next-fire engine: Vixie cron semantics as cronie implements them, in any
IANA time zone.

How it stays fast in pure Python: each field is a precomputed set; the matching days of a
month depend only on (month length, weekday of the 1st), so there are at most 28 day lists
per expression, cached; and the fire instants of the current day are kept as a sorted list
of UTC timestamps ("the day plan"), so consecutive `next_after` calls are an index step and
arbitrary ones a bisect. Days with a DST change are planned by the rules in `dst.py`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from itertools import accumulate, repeat
from zoneinfo import ZoneInfo

from ..interval import Upcoming
from ..zones import local_zone
from .describe import describe, or_warning
from .dst import DstShift, shifts_on, transition_days, transition_fires
from .fields import CronFields
from .messages import count_error, never_fires_error
from .parser import parse_fields

__all__ = ["CronExpr"]

_TOKEN = re.compile(r"\S+")
_EPOCH_ORD = date(1970, 1, 1).toordinal()
_MDAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_LENGTHS = {m: ((28, 29) if m == 2 else (_MDAYS[m],)) for m in range(1, 13)}
_ONE_DAY = timedelta(days=1)
_NEVER = float("inf")


class CronExpr(Upcoming):
    """A parsed 5-field cron expression evaluated in one time zone.

    `next_after(dt)` is strictly after `dt`; results are aware datetimes in `tz` with the
    right `fold`, so equal wall times in the two passes of a repeated hour stay distinct."""

    is_interval = False
    # The day plan: the fires of one local day. On a day with no DST change they are
    # `_p_mid + _deltas[i]`; on a change day they are listed in `_p_dts`. `_p_ts` (UTC
    # timestamps, for bisecting arbitrary queries) is filled only when needed. Class-level
    # defaults keep construction cheap; each is reassigned, never mutated in place.
    _p_n = 0
    _p_ymd = (0, 0, 0)
    _p_ord = 0
    _p_mid: datetime | None = None
    _p_off: timedelta | None = None
    _p_dts: list[datetime] = []  # noqa: RUF012
    _p_ts: list[int] = []  # noqa: RUF012
    _p_lo = 0.0
    _last_out: datetime | None = None
    _last_i = 0
    _hm: list[tuple[int, int]] = []  # noqa: RUF012
    _secs: list[int] = []  # noqa: RUF012
    _deltas: list[timedelta] = []  # noqa: RUF012

    def __init__(self, expression: str, tz: ZoneInfo | None = None, *, text: str = "") -> None:
        self.text = text or expression.strip()
        self.tz = tz or local_zone()
        texts = expression.split()
        if len(texts) != 5:
            tokens = [(m.group(), m.start()) for m in _TOKEN.finditer(expression)]
            raise count_error(expression, tokens)
        self.f: CronFields = parse_fields(expression, texts)
        self.expression = " ".join(texts)
        f = self.f
        # Both day fields restricted: Vixie cron ORs them; otherwise they are ANDed.
        self._or = not f.dom_star and not f.dow_star
        self._wild = texts[0][0] == "*" or texts[1][0] == "*"
        self._months_set = frozenset(f.months)
        self._day_cache: dict[tuple[int, int], tuple[int, ...]] = {}
        self._months_cache: dict[int, tuple[tuple[int, ...], int]] = {}
        if not self._can_fire():
            raise never_fires_error(self.f, self.expression)

    def __repr__(self) -> str:
        return f"CronExpr({self.text!r}, tz={self.tz.key!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CronExpr)
            and self.expression == other.expression
            and self.tz.key == other.tz.key
        )

    def __hash__(self) -> int:
        return hash((self.expression, self.tz.key))

    # -- public API -------------------------------------------------------------------

    def next_after(self, dt: datetime) -> datetime:
        """The first fire strictly after the aware datetime `dt`.

        Keeps a cache of the current day, so one CronExpr should not be shared between
        threads that query it at the same time (use `copy()`)."""
        if dt is self._last_out:  # iterating consecutive fires: one index step
            i = self._last_i + 1
            if i < self._p_n:
                self._last_i = i
                mid = self._p_mid
                out = mid + self._deltas[i] if mid is not None else self._p_dts[i]
                self._last_out = out
                return out
            y, m, d = self._p_ymd
            if self._p_mid is not None:  # later days' fires are all later than this day's
                try:
                    while True:
                        self._plan(*self._next_date(y, m, d + 1))
                        if self._p_n:
                            break
                        y, m, d = self._p_ymd  # a DST gap swallowed that day's fires
                except (ValueError, OverflowError) as exc:
                    raise self._past_the_calendar(exc) from None
                self._p_lo = _NEVER  # earlier queries must search again
                return self._emit(0)
            return self._search(self._timestamps()[-1], (y, m, d + 1))
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError("next_after needs a timezone-aware datetime (compare in UTC)")
        ts = dt.timestamp()
        if self._p_n and self._p_lo <= ts:
            p = self._timestamps()
            if ts < p[-1]:
                return self._emit(bisect_right(p, ts))
        return self._search(ts, None)

    def copy(self) -> CronExpr:
        """An independent CronExpr for the same expression (its own day cache)."""
        return CronExpr(self.expression, self.tz, text=self.text)

    def matches(self, dt: datetime) -> bool:
        """Whether `dt` (aware, truncated to the minute) is a fire instant."""
        base = dt.replace(second=0, microsecond=0) - timedelta(microseconds=1)
        return self.next_after(base).timestamp() == dt.replace(second=0, microsecond=0).timestamp()

    def describe(self) -> str:
        """Plain English for a newcomer: "At 09:00, Monday through Friday"."""
        return describe(self.f)

    def warnings(self, now: datetime | None = None) -> list[str]:
        """Things worth knowing that are not errors: the day-of-month/day-of-week OR, steps
        that do not divide their field, and DST changes within a year of `now`."""
        out = list(self.f.step_notes)
        if self._or:
            out.append(or_warning(self.f))
        out.extend(str(s) for s in self.dst_shifts(now))
        return out

    def dst_shifts(self, now: datetime | None = None, days: int = 366) -> list[DstShift]:
        """Fires moved or skipped by DST changes in the `days` after `now`."""
        tz = self.tz
        start = (now or datetime.now(UTC)).astimezone(tz).date()
        self._secs_of_day()
        out: list[DstShift] = []
        for day in transition_days(tz, start, days):
            if self._date_matches(day):
                out.extend(shifts_on(tz, day, self._hm, self._wild))
        return out

    # -- day matching -----------------------------------------------------------------

    def _days(self, length: int, first: int) -> tuple[int, ...]:
        """Matching days of a month with `length` days whose 1st is weekday `first` (0=Sun)."""
        key = (length, first)
        cached = self._day_cache.get(key)
        if cached is not None:
            return cached
        f = self.f
        dom = set(d for d in f.dom if d <= length)
        if f.dom_last:
            dom.add(length)
        for n in ((length, *f.dom_nearest) if f.dom_last_weekday else f.dom_nearest):
            if n > length:
                continue
            wd = (first + n - 1) % 7
            if wd == 6:  # Saturday -> Friday, unless that leaves the month
                n = n - 1 if n > 1 else n + 2
            elif wd == 0:  # Sunday -> Monday, unless that leaves the month
                n = n + 1 if n < length else n - 2
            dom.add(n)
        days = []
        for d in range(1, length + 1):
            wd = (first + d - 1) % 7
            in_dom = d in dom
            in_dow = (
                wd in f.dow
                or (wd, (d - 1) // 7 + 1) in f.dow_nth
                or (wd in f.dow_last and d + 7 > length)
            )
            if (in_dom or in_dow) if self._or else (in_dom and in_dow):
                days.append(d)
        out = self._day_cache[key] = tuple(days)
        return out

    def _month(self, y: int, m: int) -> tuple[tuple[int, ...], int]:
        """(matching days, ordinal of the 1st) for one month, cached."""
        key = y * 12 + m
        hit = self._months_cache.get(key)
        if hit is None:
            if len(self._months_cache) > 4096:
                self._months_cache.clear()
            first = date(y, m, 1)
            leap = m == 2 and (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0))
            length = 29 if leap else _MDAYS[m]
            hit = (self._days(length, (first.weekday() + 1) % 7), first.toordinal())
            self._months_cache[key] = hit
        return hit

    def _date_matches(self, day: date) -> bool:
        return day.month in self._months_set and day.day in self._month(day.year, day.month)[0]

    def _next_date(self, y: int, m: int, d: int) -> tuple[int, int, int, int]:
        """The first matching date on or after (y, m, d) (d may run past the month's end),
        as (year, month, day, ordinal)."""
        months = self.f.months
        for _ in range(12 * 401):  # the calendar repeats every 400 years
            if m not in self._months_set:
                i = bisect_left(months, m)
                if i == len(months):
                    y, m = y + 1, months[0]
                else:
                    m = months[i]
                d = 1
            days, first_ord = self._month(y, m)
            i = bisect_left(days, d)
            if i < len(days):
                return y, m, days[i], first_ord + days[i] - 1
            m, d = m + 1, 1
            if m > 12:
                y, m = y + 1, 1
        raise AssertionError(f"{self.text!r} found no day in 400 years")  # unreachable

    def _can_fire(self) -> bool:
        """Is there any date at all? Decided from the 28 month shapes, never by searching
        years ahead: every month starts on every weekday somewhere in the 400-year cycle."""
        f = self.f
        if self._or or (f.dom_star and f.texts[2] in ("*", "?")):
            return True  # a weekday spec alone always has days; '*' days every month
        if f.texts[4] in ("*", "?"):  # only day-of-month and month decide
            if f.dom_last or f.dom_last_weekday:
                return True
            longest = max(_LENGTHS[m][-1] for m in f.months)
            return min((*f.dom, *f.dom_nearest), default=99) <= longest
        return any(
            self._days(length, first)
            for m in f.months
            for length in _LENGTHS[m]
            for first in range(7)
        )

    # -- the day plan -----------------------------------------------------------------

    def _emit(self, i: int) -> datetime:
        self._last_i = i
        mid = self._p_mid
        out = mid + self._deltas[i] if mid is not None else self._p_dts[i]
        self._last_out = out
        return out

    def _timestamps(self) -> list[int]:
        """UTC timestamps of the current plan's fires (computed on first need)."""
        if len(self._p_ts) != self._p_n:
            base = (self._p_ord - _EPOCH_ORD) * 86400 - int(self._p_off.total_seconds())  # type: ignore[union-attr]
            self._p_ts = [base + s for s in self._secs]
        return self._p_ts

    def _search(self, ts: float, start: tuple[int, int, int] | None) -> datetime:
        """Find the day plan holding the first fire after `ts` and return that fire."""
        try:
            return self._find(ts, start)
        except (ValueError, OverflowError) as exc:
            raise self._past_the_calendar(exc) from None

    def _past_the_calendar(self, exc: Exception) -> Exception:
        """The OverflowError of a search that ran past 9999-12-31 (date() says "year 10000
        is out of range", datetime arithmetic "date value out of range"); others as they are."""
        if "out of range" not in str(exc):
            return exc
        return OverflowError(f"{self.text!r}: no fire before the end of year 9999")

    def _find(self, ts: float, start: tuple[int, int, int] | None) -> datetime:
        if start is None:
            local = datetime.fromtimestamp(ts, self.tz)
            y, m, d = local.year, local.month, local.day
            # A DST gap at the end of yesterday can push yesterday's fires into today.
            prev = date(y, m, d) - _ONE_DAY
            if self._date_matches(prev) and self._is_transition(prev.year, prev.month, prev.day):
                self._plan(prev.year, prev.month, prev.day, prev.toordinal())
                if self._p_n and self._timestamps()[-1] > ts:
                    return self._hit(ts)
        else:
            y, m, d = start
        while True:
            y, m, d, o = self._next_date(y, m, d)
            self._plan(y, m, d, o)
            if self._p_n and self._timestamps()[-1] > ts:
                return self._hit(ts)
            d += 1

    def _hit(self, ts: float) -> datetime:
        self._p_lo = ts
        return self._emit(bisect_right(self._timestamps(), ts))

    def _secs_of_day(self) -> list[int]:
        if not self._secs:
            self._hm, self._secs, self._deltas = _day_times(self.f.hours, self.f.minutes)
        return self._secs

    def _is_transition(self, y: int, m: int, d: int) -> bool:
        """Does the UTC offset change during this local day (midnight to midnight)?"""
        n = datetime(y, m, d)
        utcoffset = self.tz.utcoffset
        return utcoffset(n) != utcoffset(n + _ONE_DAY)

    def _plan(self, y: int, m: int, d: int, o: int) -> None:
        self._secs_of_day()
        self._p_ymd = (y, m, d)
        self._p_ord = o
        self._p_ts = []
        n = datetime(y, m, d)
        utcoffset = self.tz.utcoffset
        off = utcoffset(n)
        if off == utcoffset(n + _ONE_DAY):
            self._p_off = off
            self._p_mid = datetime(y, m, d, 0, 0, 0, 0, self.tz)
            self._p_n = len(self._secs)
            return
        fires = transition_fires(self.tz, date(y, m, d), self._hm, self._wild)
        self._p_mid = None
        self._p_ts = [t for t, _ in fires]
        self._p_dts = [dt for _, dt in fires]
        self._p_n = len(fires)


@lru_cache(maxsize=256)
def _day_times(
    hours: tuple[int, ...], minutes: tuple[int, ...]
) -> tuple[list[tuple[int, int]], list[int], list[timedelta]]:
    """(hour, minute) pairs of a day, their seconds since midnight and timedeltas: shared by
    every expression with the same hours and minutes (10,000 jobs on `*/5 * * * *` build
    these lists once, not 10,000 times). Callers only read them."""
    hm = [(h, m) for h in hours for m in minutes]
    secs = [h * 3600 + m * 60 for h, m in hm]
    table = _minute_deltas()
    return hm, secs, [table[s // 60] for s in secs]


@cache
def _minute_deltas() -> list[timedelta]:
    """timedelta for each minute of a day, built once: constructing timedeltas is slow."""
    return list(accumulate(repeat(timedelta(minutes=1), 1439), initial=timedelta(0)))
