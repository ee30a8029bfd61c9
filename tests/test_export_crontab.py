"""`crondeck export crontab` against cronie's own parsing rules (entry.c's get_list,
get_range and get_number, transcribed below): every exported line parses without error or
warning, and means what crondeck fires — the same minutes, hours, days and months, the same
AND/OR of the day fields, and the same DST rule (a minute or hour field that starts with `*`
runs only at wall times that exist, in both passes of a repeated hour)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from export_gen import schedules

from crondeck.core import parse
from crondeck.core.cronexpr import CronExpr
from crondeck.core.export import ScheduleRefused, cron_fields

# (low, high, names) as cronie's FIRST_/LAST_ constants and MonthNames/DowNames
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec")
_DOW_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FIELDS = ((0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTH_NAMES),
           (0, 7, _DOW_NAMES))


class CronieError(ValueError):
    pass


def _number(text: str, i: int, low: int, names) -> tuple[int, int]:
    """get_number: the alnum run at i as a number, else a name (its index + low)."""
    j = i
    while j < len(text) and text[j].isalnum():
        j += 1
    word = text[i:j]
    if not word:
        raise CronieError(f"expected a number at {text[i:]!r}")
    if word.isdigit():
        return int(word), j
    if names is not None:
        for k, name in enumerate(names):
            if name.lower() == word.lower():
                return k + low, j
    raise CronieError(f"bad number or name {word!r}")


def get_list(text: str, k: int) -> tuple[set[int], list[str]]:
    """One field's values, and the warnings crontab(1) would print for it."""
    low, high, names = _FIELDS[k]
    values: set[int] = set()
    warnings: list[str] = []
    for item in text.split(","):
        if not item:
            raise CronieError("empty range")
        step = 1
        if item[0] == "*":
            lo, hi, i = low, high, 1
            if i < len(item) and item[i] != "/":
                raise CronieError(f"unexpected {item[i:]!r} after *")
        else:
            lo, i = _number(item, 0, low, names)
            hi = lo
            if i < len(item) and item[i] == "-":
                hi, i = _number(item, i + 1, low, names)
                if (i >= len(item) or item[i] != "/") and lo > hi and hi == 0:
                    hi = 7  # R_RANGE_NUM2: FRI-SUN, only without a step
            elif i < len(item) and item[i] != "/":
                raise CronieError(f"unexpected {item[i:]!r}")
            elif i < len(item) and hi == lo and item[i] == "/":
                raise CronieError("a step needs a range or *")  # R_NUM1 then '/'
        if i < len(item):
            step, i = _number(item, i + 1, 0, None)
            if step == 0:
                raise CronieError("zero step")
            if i != len(item):
                raise CronieError(f"trailing {item[i:]!r}")
        if step > 1 and step > hi - lo:
            warnings.append(f"Step size {step} higher than possible maximum of "
                            f"{max(hi - lo, 1)}")
        for v in range(lo, hi + 1, step):
            if not low <= v <= high:
                raise CronieError(f"{v} out of range")
            values.add(v)
    return values, warnings


def load_entry(fields: str) -> tuple[list[set[int]], dict[str, bool], list[str]]:
    """The five fields of a crontab line: value sets (Sunday as 0 and 7), star flags."""
    texts = fields.split()
    assert len(texts) == 5
    sets, warnings = [], []
    for k, text in enumerate(texts):
        values, warned = get_list(text, k)
        sets.append(values)
        warnings += warned
    if 0 in sets[4] or 7 in sets[4]:  # "make sundays equivalent"
        sets[4] |= {0, 7}
    flags = {"min": texts[0][0] == "*", "hour": texts[1][0] == "*",
             "dom": texts[2][0] == "*", "dow": texts[4][0] == "*"}
    return sets, flags, warnings


def _month_days(sets: list[set[int]], flags: dict[str, bool], length: int, first: int
                ) -> tuple[int, ...]:
    """cronie's day test for a month of `length` days whose 1st is weekday `first`."""
    out = []
    for d in range(1, length + 1):
        dom, dow = d in sets[2], (first + d - 1) % 7 in sets[4]
        if (dom and dow) if flags["dom"] or flags["dow"] else (dom or dow):
            out.append(d)
    return tuple(out)


def _same_meaning(expr: CronExpr, fields: str) -> None:
    sets, flags, warnings = load_entry(fields)
    f = expr.f
    assert not warnings or f.step_notes, (expr.text, fields, warnings)
    assert sets[0] == set(f.minutes) and sets[1] == set(f.hours), (expr.text, fields)
    assert sets[3] == set(f.months), (expr.text, fields)
    assert (flags["min"] or flags["hour"]) == expr._wild, (expr.text, fields)  # DST rule
    for length in (28, 29, 30, 31):
        for first in range(7):
            assert _month_days(sets, flags, length, first) == expr._days(length, first), (
                expr.text, fields, length, first)


@pytest.mark.parametrize(("expr", "fields"), [
    ("0 0 * * */4,7", "0 0 * * */4"),
    ("0 0 1-15 * */5,FRI-SUN", "0 0 1-15 * */5,6"),
    ("*/15,7 2 * * *", "*/15,7 2 * * *"),  # '*'-led: skips the spring gap, like crondeck
    ("0-59 2 * * *", "0-59 2 * * *"),  # not '*'-led: runs once after the jump
    ("30 0-23 * * *", "30 0-23 * * *"),
    ("0 0 */10,5 * MON", "0 0 */10,5 * 1"),
])
def test_crontab_fields_keep_what_cronie_reads_from_them(expr: str, fields: str) -> None:
    schedule = parse(expr, "Europe/Berlin")
    assert cron_fields(schedule, "crontab")[0] == fields
    _same_meaning(schedule, fields)


@pytest.mark.slow
def test_generated_schedules_mean_the_same_to_cronie() -> None:
    """Thousands of schedules: cronie reads each exported line without complaint and with
    crondeck's meaning; a sample is also compared fire by fire, DST days included."""
    rng = random.Random(5)
    checked = 0
    for text, zone in schedules(5, 3000):
        schedule = parse(text, zone)
        try:
            fields, tz = cron_fields(schedule, "crontab")
        except ScheduleRefused as exc:
            assert exc.why and exc.fix
            continue
        if not isinstance(schedule, CronExpr):  # @every: the UTC grid as cron fields
            exported = parse(fields, tz)
            at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**7))
            a = b = at
            for _ in range(20):
                a, b = schedule.next_after(a), exported.next_after(b)
                assert a.timestamp() == b.timestamp(), (text, fields)
            continue
        _same_meaning(schedule, fields)
        if checked % 10 == 0:  # the exported text in crondeck's engine: the same fires
            exported = parse(fields, zone)
            a = b = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(365))
            for _ in range(30):
                a, b = schedule.next_after(a), exported.next_after(b)
                assert a.timestamp() == b.timestamp(), (text, fields)
        checked += 1
    assert checked > 2000
