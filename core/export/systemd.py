"""`crondeck export systemd`: a `.service` (Type=oneshot, `crondeck exec JOB`) and a `.timer`
per job, with `OnCalendar=` lines that fire exactly when crondeck would, except on the DST
days where systemd's rule differs from cron's: such a job is refused with those days and a
nearby time that fires alike, or, when DST differences are allowed, each day is stated.

systemd ANDs a weekday with a date inside one `OnCalendar=` and ORs separate lines, so cron's
day-of-month/day-of-week OR becomes two (or more) lines. It knows the last day of a month
(`~01`), the last weekday of a month (`Fri *-*~07/1`) and "second Monday" as a day range
(`Mon *-*-08..14`); it has no nearest-weekday (`W`), which is refused.

DST: systemd fires only at wall times that exist, the first time they occur. Cron (and
crondeck) instead fires a fixed-time job whose time falls in the spring gap at the first
instant after the jump, and runs a job whose minute or hour field starts with `*` in both
passes of a repeated hour.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import product
from zoneinfo import ZoneInfo

from ..config import Config
from ..cronexpr import CronExpr
from ..cronexpr.dst import jump_instant, transition_days
from ..interval import EPOCH, Every
from .dst import DayDiff, dst_refusal
from .model import (
    DEFAULT_COMMAND,
    ExportResult,
    JobPlan,
    Refusal,
    ScheduleRefused,
    exec_argv,
    human_seconds,
    join_runs,
    plan_jobs,
    run_budget,
    unique_names,
)

__all__ = ["DstDifference", "dst_differences", "export_systemd", "on_calendar"]

TARGET = "systemd"
_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_UNIT_UNSAFE = re.compile(r"[^A-Za-z0-9:_.-]")
_PLAIN_ARG = re.compile(r"^[A-Za-z0-9_@+=:,./-]+$")


def _values(vals: Sequence[int], lo: int, hi: int, steps: bool = True) -> str:
    """A systemd calendar component: `*`, `a/step`, or values and `a..b` ranges. `steps`
    False writes a repetition out as values: in a zone other than UTC, systemd 252 skips
    some of them (`00/11` in America/Santiago never fires at 00:00)."""
    v = sorted(set(vals))
    if v == list(range(lo, hi + 1)):
        return "*"
    if len(v) >= 3 and steps:
        step = v[1] - v[0]
        if step > 1 and v == list(range(v[0], hi + 1, step)):
            return f"{v[0]:02d}/{step}"
    return join_runs(v, lambda x: f"{x:02d}", lambda a, b: f"{a:02d}..{b:02d}")


def _weekdays(days: set[int] | frozenset[int]) -> str:
    """`Mon..Fri`, `Mon,Wed`: systemd's week runs Monday to Sunday."""
    order = [i for i, d in enumerate((1, 2, 3, 4, 5, 6, 0)) if d in days]

    def name(k: int) -> str:
        return _DAYS[(k + 1) % 7]

    return join_runs(order, name, lambda a, b: f"{name(a)}..{name(b)}")


def _interval_calendar(every: Every) -> list[str]:
    """`@every` on its UTC grid: the period must divide a day (systemd has seconds)."""
    period = every.period.total_seconds()
    text = every.text
    if every.anchor != EPOCH:
        raise ScheduleRefused(f"{text} is anchored at {every.anchor.isoformat()}, not on the "
                              "UTC clock grid", "use a cron expression instead")
    if period != int(period) or 86400 % int(period):
        raise ScheduleRefused(
            f"{text} does not divide a day, so no calendar fires on its grid",
            "use a period that divides 24 hours (like 90s, 5m, 90m, 2h) or a cron expression")
    p = int(period)
    if 60 % p == 0:
        return [f"*-*-* *:*:{_values(range(0, 60, p), 0, 59)} UTC"]
    if 3600 % p == 0:  # a whole-minute or seconds pattern that repeats every hour
        by_second: dict[int, list[int]] = {}
        for t in range(0, 3600, p):
            by_second.setdefault(t % 60, []).append(t // 60)
        return [f"*-*-* *:{_values(mins, 0, 59)}:{sec:02d} UTC"
                for sec, mins in sorted(by_second.items())]
    by_time: dict[tuple[int, int], list[int]] = {}
    for t in range(0, 86400, p):
        by_time.setdefault((t % 3600 // 60, t % 60), []).append(t // 3600)
    return [f"*-*-* {_values(hours, 0, 23)}:{m:02d}:{s:02d} UTC"
            for (m, s), hours in sorted(by_time.items())]


def on_calendar(schedule: CronExpr | Every) -> list[str]:
    """The `OnCalendar=` values (ORed by systemd) that fire when `schedule` does (DST days
    aside, see `dst_differences`); ScheduleRefused when systemd cannot say it."""
    if isinstance(schedule, Every):
        return _interval_calendar(schedule)
    f = schedule.f
    if f.dom_nearest or f.dom_last_weekday:
        raise ScheduleRefused(
            f"{schedule.text!r}: systemd calendars have no 'W' (nearest weekday)",
            "list the days explicitly, or keep W and run this job with `crondeck run`")
    tz = schedule.tz.key
    steps = tz == "UTC"

    def values(vals: Sequence[int], lo: int, hi: int) -> str:
        return _values(vals, lo, hi, steps)

    clock = f"{values(f.hours, 0, 23)}:{values(f.minutes, 0, 59)}:00"
    months = values(f.months, 1, 12)
    all_days = set(range(1, 32))
    dom_values = set(f.dom)
    dow_full = set(f.dow) == set(range(7))

    def line(weekdays: str, day: str) -> str:
        sep = "" if day.startswith("~") else "-"
        return f"{weekdays + ' ' if weekdays else ''}*-{months}{sep}{day} {clock} {tz}"

    # (weekdays or None, day spec) per weekday part of the day-of-week field
    dow_parts: list[tuple[frozenset[int], str | None]] = []
    if f.dow:
        dow_parts.append((frozenset(f.dow), None))
    # the n-th weekday falls on days 7n-6..7n; systemd's days end at 31 (a 5th one is 29-31)
    dow_parts += [(frozenset({w}), f"{7 * n - 6:02d}..{min(7 * n, 31):02d}")
                  for w, n in f.dow_nth]
    dow_parts += [(frozenset({w}), "~07/1") for w in sorted(f.dow_last)]
    lines: list[str] = []
    if not f.dom_star and not f.dow_star:  # cron's OR: each day field on its own line(s)
        if dom_values:
            lines.append(line("", values(sorted(dom_values), 1, 31)))
        if f.dom_last:
            lines.append(line("", "~01"))
        for wds, day in dow_parts:
            lines.append(line(_weekdays(wds), day or "*"))
        return lines
    if f.dow_star:  # AND with a wildcard-ish weekday field
        weekdays = "" if dow_full else _weekdays(frozenset(f.dow))
        if dom_values or not f.dom_last:
            lines.append(line(weekdays, values(sorted(dom_values), 1, 31)))
        if f.dom_last:
            lines.append(line(weekdays, "~01"))
        return lines
    # day-of-month starts with '*' (ANDed) and day-of-week is restricted
    for wds, day in dow_parts:
        if day is None:
            lines.append(line(_weekdays(wds), values(sorted(dom_values), 1, 31)))
        elif dom_values == all_days:
            lines.append(line(_weekdays(wds), day))
        elif day.startswith("~"):
            raise ScheduleRefused(
                f"{schedule.text!r}: a last weekday ('L') ANDed with day-of-month "
                f"{f.texts[2]!r} has no systemd calendar",
                "use '*' for the day-of-month, or move that condition into a pre_run gate")
        else:
            lo, hi = (int(x) for x in day.split(".."))
            days = sorted(d for d in dom_values if lo <= d <= hi)
            if days:
                lines.append(line(_weekdays(wds), values(days, 1, 31)))
    if not lines:
        raise ScheduleRefused(f"{schedule.text!r} leaves no day to fire on in systemd",
                              "simplify the day fields")
    return lines


# --- DST ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DstDifference:
    """A DST day on which the systemd timer and crondeck fire at different instants:
    `crondeck_only` are fires the timer will not make, `systemd_only` ones crondeck would not;
    `either` holds both passes of wall times repeated from midnight, of which the timer runs
    one (which one depends on when it last ran)."""

    day: date
    message: str
    crondeck_only: tuple[datetime, ...]
    systemd_only: tuple[datetime, ...]
    either: tuple[datetime, ...] = ()


def _fires_between(expr: CronExpr, lo: float, hi: float) -> set[float]:
    probe = expr.copy()
    out: set[float] = set()
    at = probe.next_after(datetime.fromtimestamp(lo - 1, UTC))
    while at.timestamp() < hi:
        out.add(at.timestamp())
        at = probe.next_after(at)
    return out


def _repeats_midnight(tz: ZoneInfo, day: date) -> bool:
    """Whether the day starts inside a repeated hour (Havana: 01:00 falls back to 00:00).
    systemd resolves such a wall time by the offset of the time it last computed from, not
    by the day's own midnight, so it may take either pass."""
    midnight = datetime.combine(day, time(0), tzinfo=tz)
    return midnight.timestamp() != midnight.replace(fold=1).timestamp()


def dst_differences(schedule: CronExpr | Every, start: datetime, days: int = 366
                    ) -> list[DstDifference]:
    """Every day in the `days` after `start` on which systemd would fire `schedule`
    differently from crondeck, with the exact instants (the comparison test checks them
    against `systemd-analyze`)."""
    if isinstance(schedule, Every):
        return []
    tz = schedule.tz
    shifts = [s for s in schedule.dst_shifts(start, days) if s.kind in ("moved", "twice")
              or (s.kind == "once" and _repeats_midnight(tz, s.day))]
    out: list[DstDifference] = []
    for day in sorted({s.day for s in shifts}):
        lo = datetime.combine(day, time(0), tzinfo=tz).timestamp()
        hi = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).timestamp()
        crondeck = _fires_between(schedule, lo, hi)
        midnight = _repeats_midnight(tz, day)
        systemd: set[float] = set()
        either: set[float] = set()
        for h, m in product(schedule.f.hours, schedule.f.minutes):
            wall = datetime(day.year, day.month, day.day, h, m, tzinfo=tz)
            first, second = wall.timestamp(), wall.replace(fold=1).timestamp()
            if first == second:
                systemd.add(first)
            elif first < second:  # repeated: the first pass, or either from midnight
                if midnight:
                    either.update((first, second))
                else:
                    systemd.add(first)
        parts = []
        moved = [s for s in shifts if s.day == day and s.kind == "moved"]
        twice = [s.wall for s in shifts if s.day == day and s.kind == "twice"]
        once = [s.wall for s in shifts if s.day == day and s.kind == "once"]
        if moved:
            at = moved[0].fires_at
            walls = ", ".join(s.wall for s in moved)
            one = len(moved) == 1
            it = "it" if one else "them"
            parts.append(f"{walls} {'does' if one else 'do'} not exist (DST change): crondeck "
                         f"runs {it} at {at:%H:%M}, the systemd timer skips {it}"
                         if at is not None else f"{walls}: skipped by both")
        if midnight and (twice or once):
            repeated = twice + once
            runs = "both times" if twice else "the first time"
            parts.append(f"{', '.join(repeated)} happen{'s' if len(repeated) == 1 else ''} twice "
                         f"from midnight (DST ends): crondeck runs {runs}, the systemd timer "
                         "once, the first or the second time depending on when it last ran")
        elif twice:
            parts.append(f"{', '.join(twice)} happen{'s' if len(twice) == 1 else ''} twice (DST "
                         "ends): crondeck runs both times, the systemd timer only the first time")
        out.append(DstDifference(
            day, f"{day.isoformat()} ({tz.key}): " + "; ".join(parts),
            tuple(datetime.fromtimestamp(t, UTC) for t in sorted(crondeck - systemd - either)),
            tuple(datetime.fromtimestamp(t, UTC) for t in sorted(systemd - crondeck)),
            tuple(datetime.fromtimestamp(t, UTC) for t in sorted(either))))
    return out


def _check_gaps(schedule: CronExpr | Every, start: datetime, days: int = 366) -> None:
    """ScheduleRefused for a job that systemd 252 gets wrong around a DST gap starting inside
    an hour (Chatham jumps from 02:45 to 03:45): when every time of the job in that hour
    falls in the gap, it finds no next run and fails the timer ('Resource deadlock
    avoided'); times after the jump in the jump's last hour (03:45-03:59) it skips. The
    rule errs on the side of refusing."""
    if isinstance(schedule, Every):
        return
    tz = schedule.tz
    f = schedule.f
    probe = schedule.copy()
    for day in transition_days(tz, start.astimezone(tz).date(), days):
        lo = int(datetime.combine(day, time(0), tzinfo=tz).timestamp())
        hi = int(datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).timestamp())
        before = datetime.fromtimestamp(lo, tz).utcoffset()
        after = datetime.fromtimestamp(hi, tz).utcoffset()
        if before is None or after is None or after <= before:
            continue  # the clock goes back: no gap
        if probe.next_after(datetime.fromtimestamp(lo - 1, UTC)).timestamp() >= hi:
            continue  # the job does not run that day
        jump = jump_instant(tz, lo, hi)
        gap = (datetime.fromtimestamp(jump, UTC) + before).replace(tzinfo=None)
        end = datetime.fromtimestamp(jump, tz).replace(tzinfo=None)
        if not gap.minute:
            continue
        fails = gap.hour in f.hours and min(f.minutes) >= gap.minute
        skipped = end.hour in f.hours and max(f.minutes) >= end.minute
        if fails or skipped:
            raise ScheduleRefused(
                f"{schedule.text!r}: on {day.isoformat()} ({tz.key}) the clock jumps from "
                f"{gap:%H:%M} to {end:%H:%M}, and systemd gets this job wrong around it ("
                + ("it cannot work out the next run and fails the timer" if fails else
                   f"it skips the job's times from {end:%H:%M} to {end.hour:02d}:59") + ")",
                f"keep the job out of {gap.hour:02d}:{gap.minute:02d}-{end.hour:02d}:59 (hours "
                f"{gap.hour:02d} and {end.hour:02d}), or run it with `crondeck run`")


def _fires_like_crondeck(schedule: CronExpr, now: datetime) -> bool:
    """Whether the timer for `schedule` is exported and fires at crondeck's instants on
    every DST day of the coming year."""
    try:
        on_calendar(schedule)
        _check_gaps(schedule, now)
    except ScheduleRefused:
        return False
    return not dst_differences(schedule, now)


# --- units ---------------------------------------------------------------------------------


def _exec_quote(arg: str) -> str:
    """One ExecStart= argument: quoted when needed; `%` and `$` escaped for systemd."""
    text = arg if _PLAIN_ARG.match(arg) else '"' + arg.replace("\\", "\\\\").replace(
        '"', '\\"') + '"'
    return text.replace("%", "%%").replace("$", "$$")


def _service(plan: JobPlan, argv: list[str], source: str) -> str:
    opts = plan.options
    budget = run_budget(opts)
    lines = [
        f"# Generated by `crondeck export systemd` from {source}",
        "# Runs one slot with `crondeck exec`: gate, timeout, retries and redaction as in",
        "# `crondeck run`. Exit 3 means the gate skipped the slot (not a failure).",
        "[Unit]",
        f"Description=crondeck job {plan.name}",
        "",
        "[Service]",
        "Type=oneshot",
        "ExecStart=" + " ".join(_exec_quote(a) for a in argv),
        "SuccessExitStatus=3",
    ]
    if budget is None:
        lines.append("TimeoutStartSec=infinity")
    else:
        lines.append(f"# timeout {human_seconds(opts.timeout or 0)} per attempt, "
                     f"{opts.retries} retr{'y' if opts.retries == 1 else 'ies'}, gate and "
                     "kill grace included")
        lines.append(f"TimeoutStartSec={int(budget)}")
    return "\n".join(lines) + "\n"


def _timer(plan: JobPlan, calendars: list[str], unit: str, notes: list[str]) -> str:
    opts = plan.options
    describe = plan.schedule.describe()
    lines = [
        f"# Generated by `crondeck export systemd`: {plan.spec.schedule!r} "
        f"({plan.zone.key}) - {describe}",
        *(f"# NOTE: {n}" for n in notes),
        "[Unit]",
        f"Description=crondeck job {plan.name}: {describe}",
        "",
        "[Timer]",
        *(f"OnCalendar={c}" for c in calendars),
        f"Persistent={'false' if opts.catchup == 'none' else 'true'}",
        "AccuracySec=1s",
        f"Unit={unit}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return "\n".join(lines) + "\n"


def export_systemd(config: Config, *, command: Sequence[str] = DEFAULT_COMMAND,
                   config_path: str | None = None, now: datetime | None = None,
                   prefix: str = "crondeck-", paused: Collection[str] = (),
                   allow_dst_differences: bool = False) -> ExportResult:
    """A `.service` and `.timer` per job. `command` runs crondeck (systemd wants an absolute
    path); `config_path` is the jobs file as the units should name it; `now` anchors the
    year checked for DST differences (default: now); `paused` names jobs paused in
    crondeck's state. Jobs refused (a schedule systemd cannot say, or one it would fire at
    other instants on a DST day of the coming year) are listed in `refused`, not exported;
    disabled jobs (`enabled = false`) in `disabled`, not exported either.
    `allow_dst_differences` exports a job with DST differences anyway, each day stated as a
    warning and a `# NOTE:` in its timer."""
    result = ExportResult(TARGET)
    now = now or datetime.now(UTC)
    path = config_path or str(config.path)
    names = unique_names([j.name for j in config.jobs], _UNIT_UNSAFE)
    for plan in plan_jobs(config):
        if not plan.enabled:  # crondeck never fires it: no units (listed in the summary)
            result.disabled.append(plan.name)
            continue
        try:
            calendars = on_calendar(plan.schedule)
        except ScheduleRefused as exc:
            result.refused.append(Refusal(plan.name, TARGET, exc.why, exc.fix))
            continue
        try:
            _check_gaps(plan.schedule, now)
        except ScheduleRefused as exc:
            result.refused.append(Refusal(plan.name, TARGET, exc.why, exc.fix))
            continue
        diffs = dst_differences(plan.schedule, now)
        if diffs and not allow_dst_differences:
            assert isinstance(plan.schedule, CronExpr)  # an @every has no DST differences
            result.refused.append(dst_refusal(
                plan.name, TARGET, plan.schedule,
                [DayDiff(d.day, d.crondeck_only, d.systemd_only, d.either) for d in diffs],
                lambda expr: _fires_like_crondeck(expr, now), "the systemd timer"))
            continue
        notes = [d.message for d in diffs]
        for note in notes:
            result.warn(plan.name, note)
        opts = plan.options
        if opts.catchup == "all":
            notes.append(result.warn(plan.name, "catchup = 'all' becomes Persistent=true, "
                                     "which runs missed slots once, not each of them"))
        if opts.overlap in ("replace", "allow"):
            notes.append(result.warn(plan.name, f"overlap = {opts.overlap!r} is not "
                                     "expressible: systemd never starts a running service "
                                     "again (it behaves like 'skip')"))
        if opts.misfire_grace is not None:
            notes.append(result.warn(plan.name, "misfire_grace is not expressible; "
                                     "Persistent= decides whether a missed slot runs"))
        if opts.max_runs is not None or opts.until is not None:
            notes.append(result.warn(plan.name, "max_runs/until are not enforced by the timer; "
                                     "disable it when the job is done"))
        if plan.spec.start_immediately:
            notes.append(result.warn(plan.name, "start_immediately is not exported; start the "
                                     "service once by hand"))
        unit = f"{prefix}{names[plan.name]}"
        if plan.name in paused:
            notes.append(result.warn(plan.name, f"paused in crondeck: do not enable "
                                     f"{unit}.timer until you resume it"))
        argv = exec_argv(command, path, plan.name)
        result.files[f"{unit}.service"] = _service(plan, argv, path)
        result.files[f"{unit}.timer"] = _timer(plan, calendars, unit, notes)
    return result
