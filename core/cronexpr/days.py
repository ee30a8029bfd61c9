"""Day matching: which dates an expression's day fields (day-of-month, month, day-of-week)
select. The matching days of a month depend only on (month length, weekday of the 1st), so
a rule has at most 28 day lists, cached; one rule, caches included, serves every expression
with the same day fields (`day_rule`).
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date

from .fields import CronFields
from .share import Shared

__all__ = ["DayRule", "day_rule"]

_MDAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTHS_KEPT = 4096  # months a rule keeps (341 years of them)


class DayRule:
    """The day fields of one or more expressions, with the caches of their matching days.

    `ored`: both day fields restricted, so Vixie cron ORs them (otherwise they are ANDed).
    The caches only grow, with values that depend on the fields alone, so expressions used on
    different threads can share a rule."""

    __slots__ = (
        "__weakref__",
        "_day_cache",
        "_months_cache",
        "dom",
        "dom_last",
        "dom_last_weekday",
        "dom_nearest",
        "dow",
        "dow_last",
        "dow_nth",
        "months",
        "months_set",
        "ored",
    )

    def __init__(self, f: CronFields, ored: bool) -> None:
        self.dom = f.dom
        self.dom_last = f.dom_last
        self.dom_last_weekday = f.dom_last_weekday
        self.dom_nearest = f.dom_nearest
        self.dow = f.dow
        self.dow_last = f.dow_last
        self.dow_nth = f.dow_nth
        self.months = f.months
        self.months_set = frozenset(f.months)
        self.ored = ored
        self._day_cache: dict[tuple[int, int], tuple[int, ...]] = {}
        self._months_cache: dict[int, tuple[int, ...]] = {}

    def days(self, length: int, first: int) -> tuple[int, ...]:
        """Matching days of a month with `length` days whose 1st is weekday `first` (0=Sun)."""
        key = (length, first)
        cached = self._day_cache.get(key)
        if cached is not None:
            return cached
        dom = set(d for d in self.dom if d <= length)
        if self.dom_last:
            dom.add(length)
        for n in ((length, *self.dom_nearest) if self.dom_last_weekday else self.dom_nearest):
            if n > length:
                continue
            wd = (first + n - 1) % 7
            if wd == 6:  # Saturday -> Friday, unless that leaves the month
                n = n - 1 if n > 1 else n + 2
            elif wd == 0:  # Sunday -> Monday, unless that leaves the month
                n = n + 1 if n < length else n - 2
            dom.add(n)
        dow, dow_nth, dow_last, ored = self.dow, self.dow_nth, self.dow_last, self.ored
        days = []
        for d in range(1, length + 1):
            wd = (first + d - 1) % 7
            in_dom = d in dom
            in_dow = (
                wd in dow
                or (wd, (d - 1) // 7 + 1) in dow_nth
                or (wd in dow_last and d + 7 > length)
            )
            if (in_dom or in_dow) if ored else (in_dom and in_dow):
                days.append(d)
        out = self._day_cache[key] = tuple(days)
        return out

    def month(self, y: int, m: int) -> tuple[int, ...]:
        """The matching days of one month, cached."""
        key = y * 12 + m
        hit = self._months_cache.get(key)
        if hit is None:
            if len(self._months_cache) > _MONTHS_KEPT:
                self._months_cache.clear()
            leap = m == 2 and (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0))
            length = 29 if leap else _MDAYS[m]
            hit = self._months_cache[key] = self.days(length, (date(y, m, 1).weekday() + 1) % 7)
        return hit

    def matches(self, day: date) -> bool:
        return day.month in self.months_set and day.day in self.month(day.year, day.month)

    def next_date(self, y: int, m: int, d: int) -> tuple[int, int, int]:
        """The first matching date on or after (y, m, d) (d may run past the month's end)."""
        months = self.months
        months_set = self.months_set
        for _ in range(12 * 401):  # the calendar repeats every 400 years
            if m not in months_set:
                i = bisect_left(months, m)
                if i == len(months):
                    y, m = y + 1, months[0]
                else:
                    m = months[i]
                d = 1
            days = self.month(y, m)
            i = bisect_left(days, d)
            if i < len(days):
                return y, m, days[i]
            m, d = m + 1, 1
            if m > 12:
                y, m = y + 1, 1
        # unreachable: CronExpr refuses day fields that match no date at all
        raise AssertionError("no matching day in 400 years")


_RULES: Shared[DayRule] = Shared()


def day_rule(f: CronFields, ored: bool) -> DayRule:
    """The live rule for these day fields, or a new one."""
    key = (f.dom, f.dom_last, f.dom_last_weekday, f.dom_nearest, f.months, f.dow, f.dow_nth,
           f.dow_last, ored)
    return _RULES.get(key, lambda: DayRule(f, ored))
