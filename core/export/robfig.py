"""When a Kubernetes CronJob fires: robfig/cron v3 (which the CronJob controller uses) parsed
and stepped as its `SpecSchedule.Next` does, on Go's wall-clock arithmetic, so the export
can name the DST days on which a CronJob fires other than crondeck.

robfig walks wall time field by field (month, day, hour, minute, second), adding whole hours
and minutes as absolute durations and building dates with Go's `time.Date`, which maps a wall
time that does not exist, or exists twice, by the zone's offset around it. So across a DST
change a fixed-time job can run twice (a repeated 01:30), be skipped, or gain a run in an
hour it does not list (a 30-minute shift); crondeck follows cronie's rules instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..cronexpr import CronExpr
from ..cronexpr.dst import transition_days

__all__ = ["RobfigDifference", "RobfigSpec", "differences", "next_fire", "parse_standard"]

_EPOCH_ORD = date(1970, 1, 1).toordinal()
# (lo, hi, names) of minute, hour, day-of-month, month, day-of-week, as robfig's bounds
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_BOUNDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, {n: i + 1 for i, n in enumerate(_MONTHS)}),
    (0, 6, {n: i for i, n in enumerate(_DAYS)}),
)


@dataclass(frozen=True)
class RobfigSpec:
    """Bit sets of one parsed schedule, and whether each day field carries robfig's star
    bit (a `*` or `?` item without a step above 1): with either, the day fields are ANDed."""

    minute: int
    hour: int
    dom: int
    month: int
    dow: int
    dom_star: bool
    dow_star: bool


def _number(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.lstrip("+-").isdigit():  # Go's strconv.Atoi: optional sign, digits
        raise ValueError(f"failed to parse int from {text}")
    value = int(text)
    if value < 0:
        raise ValueError(f"negative number ({value}) not allowed: {text}")
    return value


def _range(expr: str, lo: int, hi: int, names: dict[str, int]) -> tuple[int, bool]:
    """robfig's getRange: (bits, star) for `*`, `?`, `a`, `a-b`, each with `/step`."""
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    star = low_high[0] in ("*", "?")
    if star:
        start, end = lo, hi
    else:
        start = _number(low_high[0], names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _number(low_high[1], names)
        else:
            raise ValueError(f"too many hyphens: {expr}")
    step = 1
    if len(range_and_step) == 2:
        step = _number(range_and_step[1], {})
        if len(low_high) == 1:  # "N/step" means "N-max/step"
            end = hi
        if step > 1:
            star = False
    elif len(range_and_step) > 2:
        raise ValueError(f"too many slashes: {expr}")
    if start < lo:
        raise ValueError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise ValueError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ValueError(f"step of range should be a positive number: {expr}")
    bits = 0
    for v in range(start, end + 1, step):
        bits |= 1 << v
    return bits, star


def parse_standard(text: str) -> RobfigSpec:
    """robfig's ParseStandard for 5 fields; ValueError with its message when it refuses."""
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(fields)}: {fields}")
    parsed = []
    for field_text, (lo, hi, names) in zip(fields, _BOUNDS, strict=True):
        bits, star = 0, False
        for item in (i for i in field_text.split(",") if i):
            b, s = _range(item, lo, hi, names)
            bits, star = bits | b, star or s
        parsed.append((bits, star))
    (minute, _), (hour, _), (dom, dom_star), (month, _), (dow, dow_star) = parsed
    return RobfigSpec(minute, hour, dom, month, dow, dom_star, dow_star)


# --- Go's clock, in whole seconds since the epoch ------------------------------------------


class _GoClock:
    """Wall fields of an instant and Go's `time.Date` in one zone, with the instants at
    which its UTC offset changes (looked up once per stretch of time asked about)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._hours: dict[int, tuple[int, int]] = {}  # UTC hour -> (offset, change or -1)

    def _hour(self, hour: int) -> tuple[int, int]:
        """The offset at the start of a UTC hour and the instant in (start, start + 1 h]
        at which it changes (-1 if it does not): zones change at most once an hour."""
        got = self._hours.get(hour)
        if got is None:
            lo, hi = hour * 3600, hour * 3600 + 3600
            first = self._lookup(lo)
            change = -1
            if self._lookup(hi) != first:
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    lo, hi = (mid, hi) if self._lookup(mid) == first else (lo, mid)
                change = hi
            got = self._hours[hour] = (first, change)
        return got

    def _lookup(self, t: int) -> int:
        return int(datetime.fromtimestamp(t, self.tz).utcoffset().total_seconds())  # type: ignore[union-attr]

    def offset(self, t: int) -> int:
        off, change = self._hour(t // 3600)
        return off if change < 0 or t < change else self._lookup(t)

    def steady(self, a: int, b: int) -> bool:
        """Whether the offset stays the same from `a` through `b` (a < b)."""
        for hour in range(a // 3600, (b - 1) // 3600 + 1):
            change = self._hour(hour)[1]
            if a < change <= b:
                return False
        return True

    def clock(self, t: int) -> int:
        """Seconds since local midnight."""
        return (t + self.offset(t)) % 86400

    def wall(self, t: int) -> tuple[int, int, int, int, int, int, int]:
        """(year, month, day, hour, minute, second, weekday with Sunday 0)."""
        days, secs = divmod(t + self.offset(t), 86400)
        d = date.fromordinal(_EPOCH_ORD + days)
        return (d.year, d.month, d.day, secs // 3600, secs // 60 % 60, secs % 60,
                (d.weekday() + 1) % 7)

    def date(self, y: int, mo: int, d: int, h: int, mi: int, s: int) -> int:
        """Go's time.Date: normalise the wall fields, read them as UTC, then subtract the
        offset in force at (that instant minus the offset found there) — which is how it
        places a wall time that a DST change skipped or repeated."""
        y, mo = y + (mo - 1) // 12, (mo - 1) % 12 + 1
        days = date(y, mo, 1).toordinal() - _EPOCH_ORD + d - 1
        unix = days * 86400 + h * 3600 + mi * 60 + s
        off = self.offset(unix)
        if off:
            off = self.offset(unix - off)
        return unix - off


def _ahead(bits: int, value: int, limit: int) -> int:
    """Steps from `value` to the next value above it in `bits`, or to `limit` (wrap)."""
    for v in range(value + 1, limit):
        if bits >> v & 1:
            return v - value
    return limit - value


def next_fire(spec: RobfigSpec, t: int, clock: _GoClock) -> int | None:
    """robfig's SpecSchedule.Next for an instant in whole seconds: the next fire strictly
    after `t`, or None when none is found within five years (robfig's zero time). Its hour
    and minute loops step one hour or minute at a time; where the offset holds steady over
    the steps they are taken at once."""
    t += 1
    added = False
    year_limit = clock.wall(t)[0] + 5
    while True:  # robfig's WRAP label
        y, mo, d, h, mi, s, wd = clock.wall(t)
        if y > year_limit:
            return None
        wrapped = False
        while not spec.month >> mo & 1:
            if not added:
                added = True
                t = clock.date(y, mo, 1, 0, 0, 0)
            y, mo, d, h, mi, s, wd = clock.wall(t)
            t = clock.date(y, mo + 1, d, h, mi, s)
            y, mo, d, h, mi, s, wd = clock.wall(t)
            if mo == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not _day_matches(spec, d, wd):
            if not added:
                added = True
                t = clock.date(y, mo, d, 0, 0, 0)
            y, mo, d, h, mi, s, wd = clock.wall(t)
            t = clock.date(y, mo, d + 1, h, mi, s)
            h = clock.clock(t) // 3600
            if h != 0:  # a DST change moved midnight: back to it
                t += (24 - h) * 3600 if h > 12 else -h * 3600
            y, mo, d, h, mi, s, wd = clock.wall(t)
            if d == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not spec.hour >> h & 1:
            if not added:
                added = True
                t = clock.date(y, mo, d, h, 0, 0)
                h = clock.clock(t) // 3600
            k = _ahead(spec.hour, h, 24)
            t += 3600 * (k if k > 1 and clock.steady(t, t + 3600 * k) else 1)
            h = clock.clock(t) // 3600
            if h == 0:
                wrapped = True
                break
        if wrapped:
            continue
        y, mo, d, h, mi, s, wd = clock.wall(t)
        while not spec.minute >> mi & 1:
            if not added:
                added = True
                t -= t % 60
            k = _ahead(spec.minute, mi, 60)
            t += 60 * (k if k > 1 and clock.steady(t, t + 60 * k) else 1)
            mi = clock.clock(t) // 60 % 60
            if mi == 0:
                wrapped = True
                break
        if wrapped:
            continue
        s = clock.clock(t) % 60
        if s != 0:  # the seconds field is 0: step to the next minute, then start over
            added = True
            t += 60 - s
            continue
        return t


def _day_matches(spec: RobfigSpec, d: int, wd: int) -> bool:
    dom = bool(spec.dom >> d & 1)
    dow = bool(spec.dow >> wd & 1)
    if spec.dom_star or spec.dow_star:
        return dom and dow
    return dom or dow


# --- against crondeck ------------------------------------------------------------------------


@dataclass(frozen=True)
class RobfigDifference:
    """A local day on which the CronJob fires at other instants than crondeck:
    `kubernetes_only` are fires crondeck would not make, `crondeck_only` the reverse.
    `stuck` is set when robfig gives a run's own instant as the next one after it: the
    CronJob controller then has no later run to schedule."""

    day: date
    message: str
    kubernetes_only: tuple[datetime, ...]
    crondeck_only: tuple[datetime, ...]
    stuck: datetime | None = None


def _clock_text(times: list[datetime]) -> str:
    def one(t: datetime) -> str:
        off = int(t.utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
        sign, off = ("+" if off >= 0 else "-"), abs(off)
        return f"{t:%H:%M} (UTC{sign}{off // 60:02d}:{off % 60:02d})"

    if len(times) > 4:
        return f"{one(times[0])} to {one(times[-1])}, {len(times)} times"
    return ", ".join(one(t) for t in times)


def differences(fields: str, expr: CronExpr, start: datetime, days: int = 366
                ) -> list[RobfigDifference]:
    """Every local day in the `days` after `start` on which robfig/cron, given `fields` in
    `expr`'s zone, fires at other instants than crondeck fires `expr`. Only days around a
    change of UTC offset can differ: the fields mean the same days, hours and minutes."""
    tz = expr.tz
    spec = parse_standard(fields)
    clock = _GoClock(tz)
    probe = expr.copy()
    change_days = transition_days(tz, start.astimezone(tz).date(), days)
    windows: list[list[date]] = []  # [first, last] local day of each stretch to compare
    for day in change_days:
        if windows and day - timedelta(days=1) <= windows[-1][1] + timedelta(days=1):
            windows[-1][1] = day + timedelta(days=1)
        else:
            windows.append([day - timedelta(days=1), day + timedelta(days=1)])
    out: list[RobfigDifference] = []
    for first, last in windows:
        lo = int(datetime(first.year, first.month, first.day, tzinfo=tz).timestamp())
        end = last + timedelta(days=1)
        hi = int(datetime(end.year, end.month, end.day, tzinfo=tz).timestamp())
        ours: set[int] = set()
        at = probe.next_after(datetime.fromtimestamp(lo, UTC))
        while at.timestamp() < hi:
            ours.add(int(at.timestamp()))
            at = probe.next_after(at)
        theirs: set[int] = set()
        t: int | None = lo
        while t is not None:
            after = next_fire(spec, t, clock)
            if after is not None and after <= t:
                stuck = datetime.fromtimestamp(t, tz)
                out.append(RobfigDifference(
                    stuck.date(), f"{stuck.date().isoformat()} ({tz.key}), a DST change: "
                    f"Kubernetes fires it at {_clock_text([stuck])} and then gets stuck: "
                    "robfig/cron gives that same instant as the next run, so the CronJob "
                    "controller has no later run to schedule", (), (), stuck.astimezone(UTC)))
                break
            t = after
            if t is None or t >= hi:
                break
            theirs.add(t)
        by_day: dict[date, tuple[list[datetime], list[datetime]]] = {}
        for ts, side in [*((x, 0) for x in theirs - ours), *((x, 1) for x in ours - theirs)]:
            local = datetime.fromtimestamp(ts, tz)
            by_day.setdefault(local.date(), ([], []))[side].append(local)
        for day in sorted(by_day):
            extra, missing = (sorted(x, key=lambda t: t.timestamp()) for x in by_day[day])
            parts = []
            if extra:
                parts.append(f"Kubernetes also runs it at {_clock_text(extra)}, crondeck "
                             "does not")
            if missing:
                parts.append(f"Kubernetes does not run it at {_clock_text(missing)}, "
                             "crondeck does")
            out.append(RobfigDifference(
                day, f"{day.isoformat()} ({tz.key}), a DST change: " + "; ".join(parts),
                tuple(t.astimezone(UTC) for t in extra),
                tuple(t.astimezone(UTC) for t in missing)))
    return out
