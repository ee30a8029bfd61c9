"""The cron engine: Vixie cron semantics as cronie implements them, in any IANA time zone.

How it stays fast in pure Python: each field is a precomputed set; the matching days of a
month depend only on (month length, weekday of the 1st), so there are at most 28 day lists
per expression, cached; and the fire instants of the current day are kept as a sorted list
of UTC timestamps ("the day plan"), so consecutive `next_after` calls are an index step and
arbitrary ones a bisect.

DST, as cronie does it: a job whose minute or hour field starts with `*` runs only at wall
times that exist (it skips the spring gap, and runs in both passes of a repeated hour);
every other job runs once per matching wall time: a time in the gap fires at the first
instant after the jump, a time in the repeated hour only in its first pass.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from itertools import accumulate, repeat
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .cron_fields import CronError, ParsedFields, count_error, parse_fields
from .durations import DurationError, parse_duration
from .interval import Every, Upcoming
from .zones import ZoneError, get_zone, local_zone

if TYPE_CHECKING:
    from .cron_dst import DstShift

__all__ = ["MACROS", "CronError", "CronExpr", "parse"]

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_TOKEN = re.compile(r"\S+")
_EPOCH_ORD = date(1970, 1, 1).toordinal()
_MDAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_LENGTHS = {m: ((28, 29) if m == 2 else (_MDAYS[m],)) for m in range(1, 13)}
_ONE_DAY = timedelta(days=1)
_NEVER = float("inf")


def parse(text: str, tz: str | ZoneInfo | None = None) -> CronExpr | Every:
    """Parse a 5-field expression, a macro (`@daily`) or `@every 1h30m`. The zone is an
    IANA name or ZoneInfo; None means the machine's local zone. Raises only CronError."""
    if not isinstance(text, str):
        raise CronError(f"a cron expression must be a string, got {type(text).__name__}")
    try:
        zone = tz if isinstance(tz, ZoneInfo) else (get_zone(tz) if tz else local_zone())
    except ZoneError as e:
        raise CronError(str(e), expression=text) from None
    stripped = text.strip()
    if stripped.startswith("@"):
        return _parse_macro(text, stripped, zone)
    return CronExpr(text, zone)


def _parse_macro(text: str, stripped: str, zone: ZoneInfo) -> CronExpr | Every:
    col = text.index("@")
    word, _, rest = stripped.partition(" ")
    low = word.lower()
    if low == "@every":
        rest = rest.strip()
        if not rest:
            raise CronError(
                "@every needs a duration, like '@every 90s' or '@every 1h30m'",
                expression=text,
                column=col,
                length=len(word),
            )
        try:
            period = parse_duration(rest)
            if period.total_seconds() < 1:
                raise DurationError("the interval must be at least 1s")
        except DurationError as e:
            raise CronError(
                f"@every: {e}", expression=text, column=text.index(rest), length=len(rest)
            ) from None
        return Every(period, tz=zone, text=stripped)
    if low in MACROS:
        if rest.strip():
            raise CronError(
                f"{word} takes no fields after it (it means '{MACROS[low]}')",
                expression=text,
                column=text.index(rest.strip()),
                length=len(rest.strip()),
            )
        return CronExpr(MACROS[low], zone, text=stripped)
    if low == "@reboot":
        hint = "crondeck schedules by time; use start_immediately to run at start-up"
    else:
        known = ", ".join([*MACROS, "@every <duration>"])
        hint = f"valid macros: {known}"
    raise CronError(
        f"unknown macro {word!r}: {hint}", expression=text, column=col, length=len(word)
    )


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
        self.f: ParsedFields = parse_fields(expression, texts)
        self.expression = " ".join(texts)
        f = self.f
        # Both day fields restricted: Vixie cron ORs them; otherwise they are ANDed.
        self._or = not f.dom_star and not f.dow_star
        self._wild = texts[0][0] == "*" or texts[1][0] == "*"
        self._months_set = frozenset(f.months)
        self._day_cache: dict[tuple[int, int], tuple[int, ...]] = {}
        self._months_cache: dict[int, tuple[tuple[int, ...], int]] = {}
        if not self._can_fire():
            raise self._never_error()

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
                while True:
                    self._plan(*self._next_date(y, m, d + 1))
                    if self._p_n:
                        break
                    y, m, d = self._p_ymd  # a DST gap swallowed that day's fires
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
        from .cron_describe import describe

        return describe(self.f)

    def warnings(self, now: datetime | None = None) -> list[str]:
        """Things worth knowing that are not errors: the day-of-month/day-of-week OR, steps
        that do not divide their field, and DST changes within a year of `now`."""
        from .cron_describe import or_warning

        out = list(self.f.step_notes)
        if self._or:
            out.append(or_warning(self.f))
        out.extend(str(s) for s in self.dst_shifts(now))
        return out

    def dst_shifts(self, now: datetime | None = None, days: int = 366) -> list[DstShift]:
        """Fires moved or skipped by DST changes in the `days` after `now`."""
        from .cron_dst import dst_shifts

        return dst_shifts(self, now, days)

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

    def _never_error(self) -> CronError:
        f = self.f
        names = [
            date(2000, m, 1).strftime("%B") for m in f.months
        ]
        if len(names) == 12:
            month_text = "any month"
        else:
            month_text = names[0] if len(names) == 1 else "any of " + ", ".join(names)
        if f.dow_star and f.texts[4] in ("*", "?"):
            why = f"day {f.texts[2]} never occurs in {month_text}"
        else:
            why = (
                f"no day in {month_text} is both day-of-month {f.texts[2]} and "
                f"day-of-week {f.texts[4]}"
            )
        return CronError(
            f"this expression can never fire: {why}",
            expression=self.expression,
            field="day-of-month",
            column=f.columns[2],
            length=len(f.texts[2]),
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
        fires = self._transition_fires(y, m, d)
        self._p_mid = None
        self._p_ts = [t for t, _ in fires]
        self._p_dts = [dt for _, dt in fires]
        self._p_n = len(fires)

    def _transition_fires(self, y: int, m: int, d: int) -> list[tuple[int, datetime]]:
        """The fires of a day with a DST change, by the cronie rules in the module doc."""
        tz = self.tz
        seen: dict[int, datetime] = {}
        for h, mi in self._hm:
            a = datetime(y, m, d, h, mi, 0, 0, tz)
            b = datetime(y, m, d, h, mi, 0, 0, tz, fold=1)
            t0, t1 = int(a.timestamp()), int(b.timestamp())
            if t0 == t1:
                seen.setdefault(t0, a)
            elif t0 < t1:  # repeated hour: first pass always, second pass for wildcard jobs
                seen.setdefault(t0, a)
                if self._wild:
                    seen.setdefault(t1, b)
            elif not self._wild:  # in the gap: fire at the first instant after the jump
                jump = jump_instant(tz, t1, t0)
                seen.setdefault(jump, datetime.fromtimestamp(jump, tz))
        return sorted(seen.items())


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


def jump_instant(tz: ZoneInfo, lo: int, hi: int) -> int:
    """The first instant in (lo, hi] whose offset is the post-jump one: where the gap ends."""
    after = datetime.fromtimestamp(hi, tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi
