"""`CronExpr`, the next-fire engine: Vixie cron semantics as cronie implements them, in any
IANA time zone.

How it stays fast in pure Python: each field is a precomputed set; the matching days of a
month depend only on (month length, weekday of the 1st), so a day rule has at most 28 day
lists, cached (`days.py`); and the fire instants of the current day are kept as seconds
after its midnight ("the day plan"), so consecutive `next_after` calls are an index step and
arbitrary ones a bisect. Days with a DST change are planned by the rules in `dst.py`.

How it stays small: what does not depend on the expression's own text is shared between
expressions (`share.py`): the value sets, the day rule with its caches, and a day's fire
times; an expression keeps its fields, its zone and the day plan it is on.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import accumulate, repeat
from zoneinfo import ZoneInfo

from ..interval import Upcoming
from ..zones import local_zone
from .days import DayRule, day_rule
from .describe import describe, or_warning
from .dst import DstShift, shifts_on, transition_days, transition_fires
from .messages import count_error, never_fires_error
from .parser import parse_fields
from .share import Shared

__all__ = ["CronExpr"]

_TOKEN = re.compile(r"\S+")
_MDAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_LENGTHS = {m: ((28, 29) if m == 2 else (_MDAYS[m],)) for m in range(1, 13)}
_ONE_DAY = timedelta(days=1)
_NEVER = float("inf")
# What `_last_out` holds before the first fire: an object no caller can pass.
_NO_FIRE = datetime(1, 1, 1, tzinfo=UTC)


class CronExpr(Upcoming):
    """A parsed 5-field cron expression evaluated in one time zone.

    `next_after(dt)` is strictly after `dt`; results are aware datetimes in `tz` with the
    right `fold`, so equal wall times in the two passes of a repeated hour stay distinct."""

    is_interval = False
    # The day plan: the fires of one local day, `_p_secs` seconds after `_p_base` (the UTC
    # timestamp of its midnight, computed when a query first needs it). On a day with no DST
    # change the fires are `_p_mid + _times.deltas[i]`; on a change day they are listed in
    # `_p_dts`, and `_p_secs` holds their UTC timestamps (`_p_base` 0).
    __slots__ = (
        "_last_i",
        "_last_out",
        "_p_base",
        "_p_dts",
        "_p_lo",
        "_p_mid",
        "_p_n",
        "_p_secs",
        "_rule",
        "_times",
        "_wild",
        "expression",
        "f",
        "text",
        "tz",
    )
    _p_n: int
    _p_mid: datetime
    _p_base: int | None
    _p_secs: Sequence[int]
    _p_dts: list[datetime] | None
    _p_lo: float
    _last_out: datetime
    _last_i: int

    def __init__(self, expression: str, tz: ZoneInfo | None = None, *, text: str = "") -> None:
        stripped = expression.strip()
        self.text = text or stripped
        self.tz = tz or local_zone()
        texts = expression.split()
        if len(texts) != 5:
            tokens = [(m.group(), m.start()) for m in _TOKEN.finditer(expression)]
            raise count_error(expression, tokens)
        f = self.f = parse_fields(expression, texts)
        joined = " ".join(texts)
        # Usually written as normalised: then text, expression and f.expr are one string.
        self.expression = stripped if joined == stripped else joined
        self._wild = texts[0][0] == "*" or texts[1][0] == "*"
        self._rule: DayRule | None = None  # both looked up on first need: parsing stays cheap
        self._times: _Times | None = None
        self._p_n = 0
        self._last_out = _NO_FIRE
        if not self._can_fire(texts):
            raise never_fires_error(f, self.expression)

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
                dts = self._p_dts
                out = self._p_mid + self._times.deltas[i] if dts is None else dts[i]  # type: ignore[union-attr]
                self._last_out = out
                return out
            mid = self._p_mid
            y, m, d = mid.year, mid.month, mid.day
            if self._p_dts is None:  # later days' fires are all later than this day's
                next_date = self._rule.next_date  # type: ignore[union-attr]  # set by the search
                try:
                    while True:
                        self._plan(*next_date(y, m, d + 1))
                        if self._p_n:
                            break
                        mid = self._p_mid  # a DST gap swallowed that day's fires
                        y, m, d = mid.year, mid.month, mid.day
                except (ValueError, OverflowError) as exc:
                    raise self._past_the_calendar(exc) from None
                return self._emit(0)
            return self._search(self._p_secs[-1], (y, m, d + 1))
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError("next_after needs a timezone-aware datetime (compare in UTC)")
        ts = dt.timestamp()
        if self._p_n and self._p_lo <= ts:
            secs = self._p_secs
            rel = ts - self._base()
            if rel < secs[-1]:
                return self._emit(bisect_right(secs, rel))
        return self._search(ts, None)

    def copy(self) -> CronExpr:
        """An independent CronExpr for the same expression (its own day plan)."""
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
        if not self.f.dom_star and not self.f.dow_star:
            out.append(or_warning(self.f))
        out.extend(str(s) for s in self.dst_shifts(now))
        return out

    def dst_shifts(self, now: datetime | None = None, days: int = 366) -> list[DstShift]:
        """Fires moved or skipped by DST changes in the `days` after `now`."""
        tz = self.tz
        start = (now or datetime.now(UTC)).astimezone(tz).date()
        out: list[DstShift] = []
        for day in transition_days(tz, start, days):
            if self._day_rule().matches(day):
                out.extend(shifts_on(tz, day, self._day_times().hm(), self._wild))
        return out

    def _days(self, length: int, first: int) -> tuple[int, ...]:
        """Matching days of a month with `length` days whose 1st is weekday `first` (0=Sun)."""
        return self._day_rule().days(length, first)

    # -- the day plan -----------------------------------------------------------------

    def _can_fire(self, texts: list[str]) -> bool:
        """Is there any date at all? Decided from the 28 month shapes, never by searching
        years ahead: every month starts on every weekday somewhere in the 400-year cycle."""
        f = self.f
        if (not f.dom_star and not f.dow_star) or (f.dom_star and texts[2] in ("*", "?")):
            return True  # both ORed: a weekday spec alone has days; '*' days every month
        if texts[4] in ("*", "?"):  # only day-of-month and month decide
            if f.dom_last or f.dom_last_weekday:
                return True
            longest = max(_LENGTHS[m][-1] for m in f.months)
            return min((*f.dom, *f.dom_nearest), default=99) <= longest
        rule = self._day_rule()
        return any(
            rule.days(length, first)
            for m in f.months
            for length in _LENGTHS[m]
            for first in range(7)
        )

    def _emit(self, i: int) -> datetime:
        self._last_i = i
        dts = self._p_dts
        out = self._p_mid + self._times.deltas[i] if dts is None else dts[i]  # type: ignore[union-attr]
        self._last_out = out
        return out

    def _base(self) -> int:
        """UTC timestamp the plan's `_p_secs` count from (computed on first need)."""
        base = self._p_base
        if base is None:
            base = self._p_base = int(self._p_mid.timestamp())
        return base

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
        rule = self._day_rule()
        if start is None:
            local = datetime.fromtimestamp(ts, self.tz)
            y, m, d = local.year, local.month, local.day
            # A DST gap at the end of yesterday can push yesterday's fires into today.
            prev = date(y, m, d) - _ONE_DAY
            if rule.matches(prev) and self._is_transition(prev.year, prev.month, prev.day):
                self._plan(prev.year, prev.month, prev.day)
                if self._p_n and self._p_secs[-1] + self._base() > ts:
                    return self._hit(ts)
        else:
            y, m, d = start
        while True:
            y, m, d = rule.next_date(y, m, d)
            self._plan(y, m, d)
            if self._p_n and self._p_secs[-1] + self._base() > ts:
                return self._hit(ts)
            d += 1

    def _hit(self, ts: float) -> datetime:
        self._p_lo = ts
        return self._emit(bisect_right(self._p_secs, ts - self._base()))

    def _day_rule(self) -> DayRule:
        rule = self._rule
        if rule is None:
            f = self.f
            # Both day fields restricted: Vixie cron ORs them; otherwise they are ANDed.
            rule = self._rule = day_rule(f, not f.dom_star and not f.dow_star)
        return rule

    def _day_times(self) -> _Times:
        times = self._times
        if times is None:
            times = self._times = _day_times(self.f.hours, self.f.minutes)
        return times

    def _is_transition(self, y: int, m: int, d: int) -> bool:
        """Does the UTC offset change during this local day (midnight to midnight)?"""
        n = datetime(y, m, d)
        utcoffset = self.tz.utcoffset
        return utcoffset(n) != utcoffset(n + _ONE_DAY)

    def _plan(self, y: int, m: int, d: int) -> None:
        times = self._times
        if times is None:
            times = self._times = _day_times(self.f.hours, self.f.minutes)
        self._p_lo = _NEVER  # no query is answered from this plan until one searched it
        tz = self.tz
        self._p_mid = datetime(y, m, d, 0, 0, 0, 0, tz)
        n = datetime(y, m, d)
        utcoffset = tz.utcoffset
        try:
            end = n + _ONE_DAY
        except OverflowError:  # 9999-12-31: the calendar's last day ends at its last instant
            end = n.replace(hour=23, minute=59, second=59, microsecond=999999)
        if utcoffset(n) == utcoffset(end):
            self._p_base = None
            self._p_secs = times.secs
            self._p_dts = None
            self._p_n = times.n
            return
        fires = transition_fires(tz, date(y, m, d), times.hm(), self._wild)
        self._p_base = 0
        self._p_secs = [t for t, _ in fires]
        self._p_dts = [dt for _, dt in fires]
        self._p_n = len(fires)


class _Times:
    """The fires of a day without a DST change, as seconds after midnight and as timedeltas:
    shared by every expression with the same hours and minutes (10,000 jobs on `*/5 * * * *`
    build these lists once, not 10,000 times). Callers only read them."""

    __slots__ = ("__weakref__", "deltas", "n", "secs")

    def __init__(self, hours: tuple[int, ...], minutes: tuple[int, ...]) -> None:
        self.secs = tuple([h * 3600 + m * 60 for h in hours for m in minutes])
        table = _minute_deltas()
        self.deltas = tuple([table[s // 60] for s in self.secs])
        self.n = len(self.secs)

    def hm(self) -> list[tuple[int, int]]:
        """(hour, minute) pairs, for the rare days with a DST change."""
        return [(s // 3600, s // 60 % 60) for s in self.secs]


_TIMES: Shared[_Times] = Shared()


def _day_times(hours: tuple[int, ...], minutes: tuple[int, ...]) -> _Times:
    return _TIMES.get((hours, minutes), lambda: _Times(hours, minutes))


@cache
def _minute_deltas() -> list[timedelta]:
    """timedelta for each minute of a day, built once: constructing timedeltas is slow."""
    return list(accumulate(repeat(timedelta(minutes=1), 1439), initial=timedelta(0)))
