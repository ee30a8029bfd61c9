"""What the cron builder shows, computed without Textual: the per-field breakdown, the
description, the engine's warnings sorted by kind, and the next fires with their gaps and
DST marks. Everything comes from the core engine (`crondeck.core.cronexpr`); nothing here
decides when a job fires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from crondeck.core import (
    MONTH_NAMES,
    WEEKDAY_NAMES,
    CronError,
    CronExpr,
    CronFields,
    DstShift,
    Every,
    common_step,
    describe_values,
    parse,
)

__all__ = [
    "FIELD_NAMES",
    "FieldRow",
    "Fire",
    "Preview",
    "Warning",
    "gap",
    "preview",
]

FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
ALLOWED = (
    "0–59  * , - /",
    "0–23  * , - /",
    "1–31  * , - / ? L LW 15W",
    "1–12 or JAN–DEC  * , - /",
    "0–7 (0, 7 = Sun) or SUN–SAT  * , - / ? 5L 1#2",
)
MAX_FIRES = 100


@dataclass(frozen=True)
class FieldRow:
    """One of the five fields: its text, what it means, which values it allows."""

    name: str
    text: str
    meaning: str
    allowed: str


@dataclass(frozen=True)
class Warning:
    """An engine warning; `kind` is 'or' (day fields ORed), 'dst' or 'step'."""

    kind: str
    text: str


@dataclass(frozen=True)
class Fire:
    """One upcoming fire: `at` in the chosen zone, `local` in the operator's zone (None when
    the zones are the same), time from now and from the previous fire, and a DST note."""

    at: datetime
    local: datetime | None
    from_now: str
    gap: str
    dst: str = ""


@dataclass(frozen=True)
class Preview:
    """Everything the builder shows for one input. `error` is set when it does not parse."""

    text: str
    zone: str
    error: CronError | None = None
    description: str = ""
    expanded: str = ""  # the five fields a macro stands for ("" if as written)
    interval: bool = False
    fields: list[FieldRow] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    fires: list[Fire] = field(default_factory=list)
    parsed: CronFields | None = None  # the five fields' value sets (None for @every)

    @property
    def ok(self) -> bool:
        return self.error is None


def gap(seconds: float) -> str:
    """A gap between fires, two most significant units: `+15m`, `+2d 16h`, `+1m 30s`."""
    s = max(0, round(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    units = [(d, "d"), (h, "h"), (m, "m"), (sec, "s")]
    while units and units[0][0] == 0:
        units.pop(0)
    if not units:
        return "+0s"
    parts = [f"{n}{u}" for n, u in units[:2] if n]
    return "+" + " ".join(parts)


def preview(text: str, zone: str | ZoneInfo, now: datetime, n: int = 10,
            local: tzinfo | None = None) -> Preview:
    """Parse `text` in `zone` and compute the breakdown, warnings and next `n` fires after
    `now`. `local` is the operator's zone, shown beside each fire when it differs."""
    zone_name = zone.key if isinstance(zone, ZoneInfo) else zone
    try:
        expr = parse(text, zone)
    except CronError as exc:
        return Preview(text, zone_name, error=exc)
    n = max(1, min(n, MAX_FIRES))
    if isinstance(expr, Every):
        return Preview(
            text, zone_name, description=expr.describe(), interval=True,
            fields=[FieldRow("interval", expr.text, f"every {_every_words(expr)}, on a fixed "
                             "grid from 1970-01-01 00:00 UTC (not from the end of the last run)",
                             "@every 30s, 5m, 1h30m, 2d")],
            fires=_fires(expr.upcoming(now, n), now, expr.tz, local, []),
        )
    assert isinstance(expr, CronExpr)
    shifts = expr.dst_shifts(now)
    fires = expr.upcoming(now, n)
    return Preview(
        text, zone_name,
        description=expr.describe(),
        expanded=expr.expression if expr.expression != " ".join(text.split()) else "",
        fields=field_rows(expr.f),
        warnings=_warnings(expr, now, shifts),
        fires=_fires(fires, now, expr.tz, local, shifts),
        parsed=expr.f,
    )


def _every_words(expr: Every) -> str:
    return expr.describe().removeprefix("Every ")


def _warnings(expr: CronExpr, now: datetime, shifts: list[DstShift]) -> list[Warning]:
    """The engine's own warnings, tagged by kind so the screen can colour them."""
    steps = set(expr.f.step_notes)
    dst = {str(s) for s in shifts}
    out = []
    for text in expr.warnings(now):
        kind = "step" if text in steps else "dst" if text in dst else "or"
        out.append(Warning(kind, text))
    return out


def _fires(times: list[datetime], now: datetime, zone: tzinfo | None, local: tzinfo | None,
           shifts: list[DstShift]) -> list[Fire]:
    moved: dict[float, list[str]] = {}
    for s in shifts:
        if s.kind == "moved" and s.fires_at is not None:
            moved.setdefault(s.fires_at.timestamp(), []).append(s.wall)
    show_local = local is not None and _key(local) != _key(zone)
    out = []
    prev = now
    for at in times:
        at = at.astimezone(zone) if zone is not None else at
        note = ""
        walls = moved.get(at.timestamp())
        if walls:
            note = f"DST: {', '.join(walls)} does not exist, runs at {at:%H:%M}"
        elif at.replace(fold=0).utcoffset() != at.replace(fold=1).utcoffset():
            note = ("DST: repeated hour, first pass" if at.fold == 0
                    else "DST: repeated hour, second pass")
        out.append(Fire(
            at=at,
            local=at.astimezone(local) if show_local else None,
            from_now="in " + gap((at - now).total_seconds())[1:],
            gap=gap((at - prev).total_seconds()),
            dst=note,
        ))
        prev = at
    return out


def _key(zone: tzinfo | None) -> str:
    return getattr(zone, "key", None) or str(zone)


# -- the per-field breakdown -------------------------------------------------------------


def field_rows(f: CronFields) -> list[FieldRow]:
    ored = not f.dom_star and not f.dow_star
    rows = [
        FieldRow(FIELD_NAMES[0], f.texts[0], _minutes(f), ALLOWED[0]),
        FieldRow(FIELD_NAMES[1], f.texts[1], _hours(f), ALLOWED[1]),
        FieldRow(FIELD_NAMES[2], f.texts[2], _dom(f, ored), ALLOWED[2]),
        FieldRow(FIELD_NAMES[3], f.texts[3], _months(f), ALLOWED[3]),
        FieldRow(FIELD_NAMES[4], f.texts[4], _dow(f, ored), ALLOWED[4]),
    ]
    return rows


def _stepped(values: tuple[int, ...] | list[int], unit: str, show) -> str | None:
    step = common_step(values)
    if step and len(values) > 4:
        return f"every {step} {unit}s from {show(values[0])} to {show(values[-1])}"
    return None


def _minutes(f: CronFields) -> str:
    m = f.minutes
    if len(m) == 60:
        return "every minute"
    show = lambda v: f":{v:02d}"  # noqa: E731
    return _stepped(m, "minute", show) or "at " + describe_values(m, show)


def _hours(f: CronFields) -> str:
    h = f.hours
    if len(h) == 24:
        return "every hour"
    show = lambda v: f"{v:02d}"  # noqa: E731
    word = "hour " if len(h) == 1 else "hours "
    return _stepped(h, "hour", show) or word + describe_values(h, show)


def _dom(f: CronFields, ored: bool) -> str:
    if f.dom_star:
        if len(f.dom) == 31:
            return "any day" + (" (day of week decides)" if len(f.dow) < 7 else "")
        days = sorted(f.dom)
        text = _stepped(days, "day", str) or "days " + describe_values(days)
        return text + (", if the day of week matches too" if len(f.dow) < 7 else "")
    items = []
    if f.dom:
        days = sorted(f.dom)
        items.append(("day " if len(days) == 1 else "days ") + describe_values(days))
    if f.dom_last:
        items.append("the last day")
    if f.dom_last_weekday:
        items.append("the last weekday (Mon–Fri)")
    items.extend(f"the weekday nearest day {n}" for n in f.dom_nearest)
    text = ", ".join(items)
    if ored:
        return text + " — OR any day matching day of week"
    return text + (", if the day of week matches too" if len(f.dow) < 7 else "")


def _months(f: CronFields) -> str:
    if len(f.months) == 12:
        return "every month"
    return describe_values(f.months, lambda v: MONTH_NAMES[v][:3])


def _dow(f: CronFields, ored: bool) -> str:
    if f.dow_star and len(f.dow) == 7:
        return "any day of the week"
    items = []
    if f.dow:
        order = sorted(f.dow, key=lambda d: (d == 0, d))
        runs_text = describe_values([(d - 1) % 7 for d in order],
                                    lambda v: WEEKDAY_NAMES[(v + 1) % 7][:3])
        items.append(runs_text)
    ords = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th"}
    items.extend(f"the {ords[n]} {WEEKDAY_NAMES[wd][:3]}" for wd, n in f.dow_nth)
    items.extend(f"the last {WEEKDAY_NAMES[wd][:3]}" for wd in sorted(f.dow_last))
    text = ", ".join(items)
    if ored:
        return text + " — OR any day matching day of month"
    return text
