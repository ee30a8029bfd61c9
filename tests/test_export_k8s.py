"""`crondeck export k8s` against a model of what Kubernetes does with the schedule: robfig/cron
v3 (the CronJob controller's parser and `SpecSchedule.Next`) on Go's clock, transcribed here
line by line from its spec.go and parser.go and from Go's time.Date, independently of the
exporter's own copy. Thousands of generated schedules must be accepted by that parser and
fire at crondeck's instants, except on days the export warns about (DST changes, exported
only with DST differences allowed), or be refused with why and what to change."""

from __future__ import annotations

import random
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
import yaml
from export_gen import jobs_toml, schedules

from crondeck.core import parse
from crondeck.core.config import parse_config
from crondeck.core.export import export_k8s

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HORIZON = NOW + timedelta(days=365)

# --- Go's time package, as robfig/cron uses it ------------------------------------------------

_EPOCH = date(1970, 1, 1).toordinal()
_ZERO_TIME = -62135596800  # Go's zero time (January 1, year 1, UTC) in Unix seconds


class Location:
    """A Go *time.Location: zone periods [start, end) with their offset, found by scanning
    the IANA zone a day at a time and bisecting each change to the second (no zone changes
    twice within a day in the years used here). Go also starts a period where only the
    abbreviation changes; such a period has the same offset, so time.Date's result is the
    same."""

    def __init__(self, name: str, first_year: int = 2024, last_year: int = 2034) -> None:
        tz = ZoneInfo(name)

        def off(t: int) -> int:
            return int(datetime.fromtimestamp(t, tz).utcoffset().total_seconds())

        t = int(datetime(first_year, 1, 1, tzinfo=UTC).timestamp())
        end = int(datetime(last_year, 1, 1, tzinfo=UTC).timestamp())
        self.starts = [-(2**62)]
        self.offsets = [off(t)]
        while t < end:
            if off(t + 86400) != off(t):
                lo, hi = t, t + 86400
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    lo, hi = (mid, hi) if off(mid) == off(t) else (lo, mid)
                self.starts.append(hi)
                self.offsets.append(off(hi))
            t += 86400
        self.starts.append(2**62)
        assert all(o % 60 == 0 for o in self.offsets)  # what the seconds loop relies on

    def lookup(self, unix: int) -> tuple[int, int, int]:
        """(offset, start, end) of the zone period holding `unix`."""
        i = bisect_right(self.starts, unix) - 1
        return self.offsets[i], self.starts[i], self.starts[i + 1]

    def offset(self, unix: int) -> int:
        """lookup()'s offset, remembering the last period (the walks stay in one)."""
        start, end, off = self._last
        if start <= unix < end:
            return off
        off, start, end = self.lookup(unix)
        self._last = (start, end, off)
        return off

    _last = (0, 0, 0)


def _norm(hi: int, lo: int, base: int) -> tuple[int, int]:
    if lo < 0:
        n = (-lo - 1) // base + 1
        hi, lo = hi - n, lo + n * base
    if lo >= base:
        n = lo // base
        hi, lo = hi + n, lo - n * base
    return hi, lo


class Time:
    """A Go time.Time in whole seconds (robfig drops the nanoseconds first thing), with its
    zone offset looked up once."""

    __slots__ = ("loc", "off", "unix")

    def __init__(self, unix: int, loc: Location) -> None:
        self.unix, self.loc, self.off = unix, loc, loc.offset(unix)

    def _date(self) -> date:
        return date.fromordinal(_EPOCH + (self.unix + self.off) // 86400)

    def _clock(self) -> int:
        return (self.unix + self.off) % 86400

    def Year(self) -> int:  # Go's method names, to read against its source
        return self._date().year

    def Month(self) -> int:
        return self._date().month

    def Day(self) -> int:
        return self._date().day

    def Weekday(self) -> int:
        return (self._date().weekday() + 1) % 7

    def Hour(self) -> int:
        return self._clock() // 3600

    def Minute(self) -> int:
        return self._clock() // 60 % 60

    def Second(self) -> int:
        return self._clock() % 60

    def Add(self, seconds: int) -> Time:
        return Time(self.unix + seconds, self.loc)

    def AddDate(self, years: int, months: int, days: int) -> Time:
        return Date(self.Year() + years, self.Month() + months, self.Day() + days, self.Hour(),
                    self.Minute(), self.Second(), self.loc)

    def Truncate(self, d: int) -> Time:
        return Time(self.unix - (self.unix - _ZERO_TIME) % d, self.loc)


def Date(year: int, month: int, day: int, hour: int, minute: int, sec: int,
         loc: Location) -> Time:
    """Go's time.Date."""
    year, m = _norm(year, month - 1, 12)
    minute, sec = _norm(minute, sec, 60)
    hour, minute = _norm(hour, minute, 60)
    day, hour = _norm(day, hour, 24)
    days = date(year, m + 1, 1).toordinal() - _EPOCH + day - 1
    unix = days * 86400 + hour * 3600 + minute * 60 + sec
    offset, start, end = loc.lookup(unix)
    if offset != 0:
        utc = unix - offset
        if utc < start or utc >= end:
            offset = loc.lookup(utc)[0]
        unix -= offset
    return Time(unix, loc)


# --- robfig/cron v3: parser.go ---------------------------------------------------------------

STAR_BIT = 1 << 63
_BOUNDS = {
    "minute": (0, 59, None), "hour": (0, 23, None), "dom": (1, 31, None),
    "month": (1, 12, dict(zip(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                "oct", "nov", "dec"), range(1, 13), strict=True))),
    "dow": (0, 6, dict(zip(("sun", "mon", "tue", "wed", "thu", "fri", "sat"), range(7),
                           strict=True))),
}


class ParseError(ValueError):
    pass


def must_parse_int(expr: str) -> int:
    try:
        num = int(expr, 10) if expr.lstrip("+-").isdigit() else None
    except ValueError:
        num = None
    if num is None:
        raise ParseError(f"failed to parse int from {expr}")
    if num < 0:
        raise ParseError(f"negative number ({num}) not allowed: {expr}")
    return num


def parse_int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return must_parse_int(expr)


def get_range(expr: str, r: tuple[int, int, dict[str, int] | None]) -> int:
    lo, hi, names = r
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single_digit = len(low_and_high) == 1
    extra = 0
    if low_and_high[0] in ("*", "?"):
        start, end, extra = lo, hi, STAR_BIT
    else:
        start = parse_int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = parse_int_or_name(low_and_high[1], names)
        else:
            raise ParseError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = must_parse_int(range_and_step[1])
        if single_digit:
            end = hi
        if step > 1:
            extra = 0
    else:
        raise ParseError(f"too many slashes: {expr}")
    if start < lo:
        raise ParseError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise ParseError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise ParseError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ParseError(f"step of range should be a positive number: {expr}")
    bits = 0
    for i in range(start, end + 1, step):
        bits |= 1 << i
    return bits | extra


def get_field(field: str, r: tuple[int, int, dict[str, int] | None]) -> int:
    bits = 0
    for expr in (e for e in field.split(",") if e):  # strings.FieldsFunc drops empties
        bits |= get_range(expr, r)
    return bits


def parse_standard(spec: str) -> dict[str, int]:
    fields = spec.split()
    if len(fields) != 5:
        raise ParseError(f"expected exactly 5 fields, found {len(fields)}: {fields}")
    out = {"second": 1 << 0}
    for name, text in zip(("minute", "hour", "dom", "month", "dow"), fields, strict=True):
        out[name] = get_field(text, _BOUNDS[name])
    return out


# --- robfig/cron v3: spec.go ------------------------------------------------------------------


def day_matches(s: dict[str, int], t: Time) -> bool:
    dom_match = (1 << t.Day()) & s["dom"] > 0
    dow_match = (1 << t.Weekday()) & s["dow"] > 0
    if s["dom"] & STAR_BIT > 0 or s["dow"] & STAR_BIT > 0:
        return dom_match and dow_match
    return dom_match or dow_match


def spec_next(s: dict[str, int], t: Time) -> Time | None:
    """SpecSchedule.Next with `goto WRAP` as `continue`; None is Go's zero time."""
    t = t.Add(1)
    added = False
    year_limit = t.Year() + 5
    while True:  # WRAP:
        if t.Year() > year_limit:
            return None
        wrap = False
        while (1 << t.Month()) & s["month"] == 0:
            if not added:
                added = True
                t = Date(t.Year(), t.Month(), 1, 0, 0, 0, t.loc)
            t = t.AddDate(0, 1, 0)
            if t.Month() == 1:
                wrap = True
                break
        if wrap:
            continue
        while not day_matches(s, t):
            if not added:
                added = True
                t = Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, t.loc)
            t = t.AddDate(0, 0, 1)
            if t.Hour() != 0:
                if t.Hour() > 12:  # noqa: SIM108 - as spec.go writes it
                    t = t.Add((24 - t.Hour()) * 3600)
                else:
                    t = t.Add(-t.Hour() * 3600)
            if t.Day() == 1:
                wrap = True
                break
        if wrap:
            continue
        while (1 << t.Hour()) & s["hour"] == 0:
            if not added:
                added = True
                t = Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, t.loc)
            t = t.Add(3600)
            if t.Hour() == 0:
                wrap = True
                break
        if wrap:
            continue
        while (1 << t.Minute()) & s["minute"] == 0:
            if not added:
                added = True
                t = t.Truncate(60)
            t = t.Add(60)
            if t.Minute() == 0:
                wrap = True
                break
        if wrap:
            continue
        while (1 << t.Second()) & s["second"] == 0:
            if not added:
                added = True
                t = t.Truncate(1)
            # Go adds 1s until Second() is 0; with whole-minute offsets (see Location) that
            # is the next whole minute, reached here in one step.
            t = t.Add(60 - t.Second())
            if t.Second() == 0:
                wrap = True
                break
        if wrap:
            continue
        return t


# --- the model on the issue's cases -------------------------------------------------------------


@cache
def _loc(name: str) -> Location:
    return Location(name)


def _robfig_fires(spec: str, zone: str, lo: datetime, hi: datetime) -> list[datetime]:
    s = parse_standard(spec)
    t: Time | None = Time(int(lo.timestamp()), _loc(zone))
    out = []
    while t is not None:
        t = spec_next(s, t)
        if t is None or t.unix >= hi.timestamp():
            break
        out.append(datetime.fromtimestamp(t.unix, ZoneInfo(zone)))
    return out


def _local(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def test_the_model_reproduces_what_robfig_does_across_dst() -> None:
    """The misfires the model must show, each checked against the real robfig/cron v3."""
    ny = _robfig_fires("30 1 * * *", "America/New_York", _local("2027-11-06T12:00", "America/"
                       "New_York"), _local("2027-11-08T00:00", "America/New_York"))
    assert [f"{t:%d %H:%M%z}" for t in ny] == ["07 01:30-0400", "07 01:30-0500"]
    lh = "Australia/Lord_Howe"
    daily = _robfig_fires("0 0 * * *", lh, _local("2027-04-03T12:00", lh),
                          _local("2027-04-07T12:00", lh))
    assert [t.day for t in daily] == [4, 6, 7]  # the 5th is skipped
    half = _robfig_fires("*/30 1 * * *", lh, _local("2025-10-05T00:00", lh),
                         _local("2025-10-05T12:00", lh))
    assert [f"{t:%H:%M}" for t in half] == ["01:00", "01:30", "02:30"]
    with pytest.raises(ParseError, match="above maximum"):
        parse_standard("0 0 * * */4,7")
    with pytest.raises(ParseError, match="beyond end of range"):
        parse_standard("0 0 * * */5,FRI-SUN")


# --- the export against the model -----------------------------------------------------------------


def _export(pairs: list[tuple[str, str]]):
    config = parse_config(jobs_toml(pairs), "/srv/crondeck.toml")
    result = export_k8s(config, config_text="", now=NOW, allow_dst_differences=True)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where built with it
    docs = list(yaml.load_all(result.files["crondeck.yaml"], Loader=loader))
    cronjobs = {d["metadata"]["annotations"]["crondeck/job"]: d for d in docs[1:]}
    warned: dict[str, set[str]] = {}
    for w in result.warnings:
        job, _, text = w.removeprefix("job '").partition("': ")
        warned.setdefault(job, set()).add(text[:10])
    return cronjobs, {r.job: r for r in result.refused}, warned


def test_issue_schedules_are_normalised_and_dst_days_warned() -> None:
    """With DST differences allowed, each such day is a warning and a note."""
    pairs = [("0 0 * * */4,7", "UTC"), ("0 0 * * */5,FRI-SUN", "UTC"),
             ("30 1 * * *", "America/New_York"), ("0 1-3 * * *", "Europe/Berlin"),
             ("0 1-3 * * *", "Europe/London"), ("0 1-3 * * *", "Australia/Sydney"),
             ("0 0 * * *", "Australia/Lord_Howe"), ("*/30 1 * * *", "Australia/Lord_Howe")]
    config = parse_config(jobs_toml(pairs), "/srv/crondeck.toml")
    result = export_k8s(config, config_text="", now=datetime(2027, 1, 1, tzinfo=UTC),
                        allow_dst_differences=True)
    docs = {d["metadata"]["annotations"]["crondeck/job"]: d
            for d in list(yaml.safe_load_all(result.files["crondeck.yaml"]))[1:]}
    assert docs["j0"]["spec"]["schedule"] == "0 0 * * 0,4"
    assert docs["j1"]["spec"]["schedule"] == "0 0 * * 0,5,6"
    for job in docs.values():
        parse_standard(job["spec"]["schedule"])
    text = "\n".join(result.warnings)
    assert ("job 'j2': 2027-11-07 (America/New_York), a DST change: Kubernetes also runs it "
            "at 01:30 (UTC-05:00), crondeck does not") in text
    assert "job 'j3': 2027-10-31 (Europe/Berlin)" in text
    assert "job 'j4': 2027-10-31 (Europe/London)" in text
    assert "job 'j5': 2027-04-04 (Australia/Sydney)" in text
    assert ("job 'j6': 2027-04-05 (Australia/Lord_Howe), a DST change: Kubernetes does not run "
            "it at 00:00 (UTC+10:30), crondeck does") in text
    assert "Kubernetes also runs it at 01:30 (UTC-05:00)" in \
        docs["j2"]["metadata"]["annotations"]["crondeck/notes"]
    late = export_k8s(parse_config(jobs_toml([("*/30 1 * * *", "Australia/Lord_Howe")]),
                                   "/srv/crondeck.toml"), config_text="",
                      now=datetime(2025, 6, 1, tzinfo=UTC), allow_dst_differences=True)
    assert ("job 'j0': 2025-10-05 (Australia/Lord_Howe), a DST change: Kubernetes also runs it "
            "at 02:30 (UTC+11:00), crondeck does not") in late.warnings


def _check(pairs, seed: int) -> tuple[int, int]:
    """Every exported schedule parses and fires like crondeck, but on the warned days."""
    rng = random.Random(seed)
    cronjobs, refused, warned = _export(pairs)
    compared = 0
    for i, (text, zone) in enumerate(pairs):
        job = f"j{i}"
        if job in refused:
            r = refused[job]
            assert r.why and r.fix
            expr = parse(text, zone)
            f = getattr(expr, "f", None)
            known = f is not None and (
                f.dom_last or f.dom_last_weekday or f.dom_nearest or f.dow_nth or f.dow_last
                or ((f.dom_star or f.dow_star) and set(f.dom) != set(range(1, 32))
                    and set(f.dow) != set(range(7))))
            assert known or "does not divide" in r.why or "has seconds" in r.why or (
                "gets stuck" in r.why), (text, r)
            continue
        spec = cronjobs[job]["spec"]
        s = parse_standard(spec["schedule"])  # raises what Kubernetes' validation would
        tz = spec["timeZone"]
        expr = parse(text, zone)
        seen: set[str] = set()
        loc = _loc(tz)
        start = NOW + timedelta(seconds=rng.randrange(300 * 86400))
        while any(abs(c - start.timestamp()) < 3 * 86400 for c in loc.starts):
            start += timedelta(days=3)  # a walk started inside a DST change is no slot
        windows: list[tuple[datetime, int | None]] = [(start, 24)]
        for k in range(1, len(loc.starts) - 1):  # around each change of offset in the year
            change = datetime.fromtimestamp(loc.starts[k], UTC)
            if NOW + timedelta(days=3) < change < NOW + timedelta(days=360):
                windows.append((change - timedelta(days=2), None))
        for start, count in windows:
            end = start + timedelta(days=4)
            t: Time | None = Time(int(start.timestamp()), loc)
            theirs: list[int] = []
            while t is not None and (len(theirs) < count if count else t.unix < end.timestamp()):
                after = spec_next(s, t)
                assert after is None or after.unix > t.unix, (
                    f"{text} ({zone}) exported as {spec['schedule']!r} gets stuck at "
                    f"{datetime.fromtimestamp(t.unix, ZoneInfo(tz))} and was not refused")
                t = after
                if t is not None:
                    theirs.append(t.unix)
            if count:
                end = datetime.fromtimestamp(theirs[-1], UTC) if theirs else end
            ours: list[int] = []
            at = expr.next_after(start)
            while at.timestamp() <= end.timestamp():
                ours.append(int(at.timestamp()))
                at = expr.next_after(at)
            limit = end.timestamp() if count else end.timestamp() - 1
            limit = min(limit, HORIZON.timestamp())  # the export warns a year ahead
            differ = {x for x in set(theirs) ^ set(ours) if x <= limit}
            days = {datetime.fromtimestamp(x, ZoneInfo(tz)).date().isoformat() for x in differ}
            assert days <= warned.get(job, set()), (text, zone, spec["schedule"], sorted(
                datetime.fromtimestamp(x, ZoneInfo(tz)).isoformat() for x in differ))
            seen |= days
            compared += 1
        # and no day is warned about on which the CronJob fires like crondeck
        assert {w for w in warned.get(job, set()) if w[:2] == "20"} <= seen, (text, zone)
    return compared, len(refused)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_schedules_fire_like_crondeck_under_robfig(seed: int) -> None:
    pairs = list(schedules(seed, 700))
    compared, refused = _check(pairs, seed)
    assert compared > 1000 and refused < len(pairs) / 3


def test_a_schedule_robfig_gets_stuck_on_is_refused() -> None:
    """Chatham's 45-minute offset: on 2026-04-05 robfig fires `59 3 * * *` at 02:59 and then
    gives that same instant as the next run (as the real robfig/cron v3 does)."""
    zone = "Pacific/Chatham"
    second_pass = _local("2026-04-05T02:59", zone).replace(fold=1)  # 02:45-03:45 repeats
    t = Time(int(second_pass.timestamp()), _loc(zone))
    after = spec_next(parse_standard("59 3 * * *"), t)
    assert after is not None and after.unix == t.unix
    _, refused, _ = _export([("59 3 * * *", zone)])
    assert "gets stuck" in refused["j0"].why and "2026-04-05 (Pacific/Chatham)" in \
        refused["j0"].why
    assert "timezone = 'UTC'" in refused["j0"].fix
