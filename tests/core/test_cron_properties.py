"""Property tests: the engine against an independent brute-force oracle that walks minute by
minute in UTC, over random expressions, zones with unusual DST, and start instants near
transitions; and a parser that never raises anything but CronError, and never hangs."""

from __future__ import annotations

import calendar
import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crondeck.core import CronError, parse

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Apia",
    "Asia/Kolkata",
    "Pacific/Chatham",
]
MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
WINDOW = timedelta(days=2)


@dataclass
class Spec:
    """An expression built from parts, with the meaning the oracle evaluates independently."""

    texts: list[str]
    minutes: set[int]
    hours: set[int]
    dom: set[int]
    months: set[int]
    dow: set[int]
    dom_flags: dict = field(default_factory=dict)
    dow_nth: set[tuple[int, int]] = field(default_factory=set)
    dow_last: set[int] = field(default_factory=set)

    @property
    def expr(self) -> str:
        return " ".join(self.texts)


@st.composite
def numeric_item(draw, lo: int, hi: int, names: list[str] | None = None, name_base: int = 0):
    """One list item of a numeric field: (text, values)."""

    def show(v: int) -> str:
        if names and v - name_base < len(names) and draw(st.booleans()):
            return names[v - name_base].lower() if draw(st.booleans()) else names[v - name_base]
        return str(v)

    kind = draw(st.sampled_from(["*", "*/n", "a", "a-b", "a-b/n"]))
    if kind == "*":
        return "*", set(range(lo, hi + 1))
    if kind == "*/n":
        n = draw(st.integers(1, hi - lo + 3))
        return f"*/{n}", set(range(lo, hi + 1, n))
    a = draw(st.integers(lo, hi))
    if kind == "a":
        return show(a), {a}
    b = draw(st.integers(a, hi))
    if kind == "a-b":
        return f"{show(a)}-{show(b)}", set(range(a, b + 1))
    n = draw(st.integers(1, hi - lo + 2))
    return f"{show(a)}-{show(b)}/{n}", set(range(a, b + 1, n))


@st.composite
def numeric_field(draw, lo, hi, names=None, name_base=0, small=None):
    if small is not None and draw(st.booleans()):
        v = draw(st.sets(st.sampled_from(small), min_size=1, max_size=3))
        return ",".join(str(x) for x in sorted(v)), set(v)
    items = draw(st.lists(numeric_item(lo, hi, names, name_base), min_size=1, max_size=3))
    return ",".join(t for t, _ in items), set().union(*(v for _, v in items))


@st.composite
def specs(draw) -> Spec:
    # Hours and minutes near the usual transition times, so DST rules are exercised.
    mt, mv = draw(numeric_field(0, 59, small=[0, 15, 30, 45, 59]))
    ht, hv = draw(numeric_field(0, 23, small=[0, 1, 2, 3, 23]))
    mot, mov = draw(numeric_field(1, 12, MONTH_NAMES, 1))
    flags: dict = {"L": False, "LW": False, "W": set()}
    dom_items, dom_vals = [], set()
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["num", "num", "L", "LW", "W", "?"]))
        if kind == "num":
            t, v = draw(numeric_item(1, 31))
            dom_items.append(t)
            dom_vals |= v
        elif kind == "W":
            n = draw(st.integers(1, 31))
            dom_items.append(f"{n}W")
            flags["W"].add(n)
        elif kind == "?":
            dom_items = ["?"]
            dom_vals = set(range(1, 32))
            flags = {"L": False, "LW": False, "W": set()}
            break
        else:
            dom_items.append(kind)
            flags[kind] = True
    dow_items, dow_vals, nth, last = [], set(), set(), set()
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["num", "num", "nL", "#", "?"]))
        if kind == "num":
            t, v = draw(numeric_item(0, 7, DAY_NAMES, 0))
            if t.startswith("*"):
                v = {x for x in v if x <= 6} if t == "*" else v
            dow_items.append(t)
            dow_vals |= {x % 7 for x in v}
        elif kind == "nL":
            w = draw(st.integers(0, 7))
            dow_items.append(f"{w}L")
            last.add(w % 7)
        elif kind == "#":
            w, k = draw(st.integers(0, 7)), draw(st.integers(1, 5))
            dow_items.append(f"{w}#{k}")
            nth.add((w % 7, k))
        else:
            dow_items, dow_vals, nth, last = ["?"], set(range(7)), set(), set()
            break
    return Spec(
        texts=[mt, ht, ",".join(dom_items), mot, ",".join(dow_items)],
        minutes=mv,
        hours=hv,
        dom=dom_vals,
        months=mov,
        dow=dow_vals,
        dom_flags=flags,
        dow_nth=nth,
        dow_last=last,
    )


def day_matches(spec: Spec, d: date) -> bool:
    """Vixie/cronie day matching, written plainly per date with the calendar module."""
    if d.month not in spec.months:
        return False
    length = calendar.monthrange(d.year, d.month)[1]
    wd = (d.weekday() + 1) % 7  # cron: Sunday 0

    def nearest(n: int) -> int | None:
        if n > length:
            return None
        w = date(d.year, d.month, n).weekday()  # Monday 0
        if w == 5:
            return n - 1 if n > 1 else n + 2
        if w == 6:
            return n + 1 if n < length else n - 2
        return n

    f = spec.dom_flags
    dom_ok = (
        d.day in spec.dom
        or (f["L"] and d.day == length)
        or (f["LW"] and nearest(length) == d.day)
        or any(nearest(n) == d.day for n in f["W"])
    )
    dow_ok = (
        wd in spec.dow
        or (wd, (d.day - 1) // 7 + 1) in spec.dow_nth
        or (wd in spec.dow_last and d.day + 7 > length)
    )
    dom_star = spec.texts[2][0] in "*?"
    dow_star = spec.texts[4][0] in "*?"
    return (dom_ok and dow_ok) if (dom_star or dow_star) else (dom_ok or dow_ok)


def wall_matches(spec: Spec, wall: datetime) -> bool:
    in_time = wall.minute in spec.minutes and wall.hour in spec.hours
    return in_time and day_matches(spec, wall.date())


def oracle(spec: Spec, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Fires in (start, end], walking every UTC minute and applying cronie's DST rules."""
    wild = spec.texts[0][0] == "*" or spec.texts[1][0] == "*"
    t = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    out = []
    prev = (t - timedelta(minutes=1)).astimezone(tz)
    while t <= end:
        local = t.astimezone(tz)
        wall = local.replace(tzinfo=None, fold=0)
        fire = wall_matches(spec, wall) and (wild or local.fold == 0)
        jump = local.utcoffset() - prev.utcoffset()
        if not fire and not wild and jump > timedelta(0):
            # wall times skipped by the jump fire now, at the first instant after it
            skipped = prev.replace(tzinfo=None) + timedelta(minutes=1)
            while skipped < wall:
                if wall_matches(spec, skipped):
                    fire = True
                    break
                skipped += timedelta(minutes=1)
        if fire:
            out.append(t)
        prev = local
        t += timedelta(minutes=1)
    return out


@cache
def transitions(tz_name: str) -> list[datetime]:
    """UTC instants (to the hour) near which the zone's offset changes, 2010–2031."""
    tz = ZoneInfo(tz_name)
    out = []
    t = datetime(2010, 1, 1, tzinfo=UTC)
    prev = t.astimezone(tz).utcoffset()
    while t.year < 2031:
        t += timedelta(hours=6)
        off = t.astimezone(tz).utcoffset()
        if off != prev:
            out.append(t)
        prev = off
    return out


@st.composite
def starts(draw, tz_name: str) -> datetime:
    near = transitions(tz_name)
    if near and draw(st.booleans()):
        base = draw(st.sampled_from(near))
        return base + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 2 * 24 * 60)))
    secs = draw(st.integers(0, 20 * 365 * 86400))
    return datetime(2011, 1, 1, tzinfo=UTC) + timedelta(seconds=secs)


@pytest.mark.slow
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_engine_agrees_with_minute_walking_oracle(data):
    spec = data.draw(specs())
    tz_name = data.draw(st.sampled_from(ZONES))
    start = data.draw(starts(tz_name))
    start += timedelta(seconds=data.draw(st.integers(0, 59)))
    try:
        sched = parse(spec.expr, tz_name)
    except CronError as e:
        assert "never fire" in str(e), f"{spec.expr!r} rejected: {e}"
        return
    tz = ZoneInfo(tz_name)
    end = start + WINDOW
    expected = oracle(spec, tz, start, end)
    got = []
    t = start
    while True:
        t = sched.next_after(t)
        assert t.tzinfo is not None
        if t.astimezone(UTC) > end:
            break
        got.append(t.astimezone(UTC))
        assume(len(got) < 5000)
    assert got == expected, f"{spec.expr!r} in {tz_name} after {start.isoformat()}"


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_arbitrary_queries_match_iteration(data):
    """A query from any instant equals the fire found by iterating from before it."""
    spec = data.draw(specs())
    tz_name = data.draw(st.sampled_from(ZONES))
    try:
        sched = parse(spec.expr, tz_name)
    except CronError:
        return
    start = data.draw(starts(tz_name))
    seq = sched.upcoming(start, 30)
    assert all(a.timestamp() < b.timestamp() for a, b in itertools.pairwise(seq))
    k = data.draw(st.integers(0, 28))
    probe = seq[k].astimezone(UTC) + timedelta(seconds=data.draw(st.integers(0, 1)))
    fresh = parse(spec.expr, tz_name)
    assert fresh.next_after(probe) == seq[k + 1]
    assert fresh.next_after(probe).utcoffset() == seq[k + 1].utcoffset()


TOKENS = st.sampled_from(
    [
        *"0123456789*/-,?#LWH ",
        *["MON", "jan", "FRIDAY", "@daily", "@every", "5m", "٣", "\t", "L-3", "60", "99"],
    ]
)


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(TOKENS, max_size=16).map("".join)))
def test_parser_raises_only_cron_error_and_terminates(text):
    try:
        sched = parse(text, "UTC")
    except CronError as e:
        assert str(e)
        e.caret()
        return
    first = sched.next_after(datetime(2026, 1, 1, tzinfo=UTC))
    assert first > datetime(2026, 1, 1, tzinfo=UTC)
    assert sched.describe()


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(spec=specs())
def test_description_is_a_sentence_for_every_accepted_expression(spec):
    try:
        sched = parse(spec.expr, "UTC")
    except CronError:
        return
    text = sched.describe()
    assert text and text[0].isupper() and "None" not in text and "  " not in text
