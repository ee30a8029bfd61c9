"""Refusing a job whose exported schedule would fire at other instants than crondeck on DST
days: the message names the days with each side's fires (local and UTC) and what would be
right, including a nearby time that the target fires like crondeck, when one exists within
the hour (found with the target's own difference finder).

An opt-in (`allow_dst_differences`) exports such a job anyway, with each day stated as a
warning and a note in the output.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import product

from ..cronexpr import CronError, CronExpr, parse
from .model import Refusal, compress

__all__ = ["OPT_IN", "DayDiff", "dst_refusal", "nearby_schedule"]

OPT_IN = "--allow-dst-differences"
SHOWN_DAYS = 3  # the first few days in the message; the opt-in states every one


@dataclass(frozen=True)
class DayDiff:
    """One local day on which the target fires other instants than crondeck: fires only
    crondeck makes, fires only the target makes, and fires of which the target makes one
    (systemd in an hour repeated from midnight)."""

    day: date
    crondeck_only: Sequence[datetime]
    target_only: Sequence[datetime]
    either: Sequence[datetime] = ()


def _day_fires(expr: CronExpr, day: date) -> list[float]:
    tz = expr.tz
    lo = datetime.combine(day, time(0), tzinfo=tz).timestamp()
    hi = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).timestamp()
    probe = expr.copy()
    out = []
    at = probe.next_after(datetime.fromtimestamp(lo - 1, UTC))
    while at.timestamp() < hi:
        out.append(at.timestamp())
        at = probe.next_after(at)
    return out


def _instants(expr: CronExpr, stamps: Sequence[float]) -> str:
    """'03:00 local (07:00 UTC), ...'; a long run of fires as its first, last and count."""
    def one(t: float) -> str:
        return (f"{datetime.fromtimestamp(t, expr.tz):%H:%M} local "
                f"({datetime.fromtimestamp(t, UTC):%H:%M} UTC)")

    if len(stamps) > 4:
        return f"{one(stamps[0])} to {one(stamps[-1])}, {len(stamps)} runs"
    return ", ".join(one(t) for t in stamps)


def _day_line(expr: CronExpr, diff: DayDiff, target: str) -> str:
    """Each side's fires on the wall times where they differ (a fire both make at the same
    wall time stays in, so a run made twice by one side reads as such)."""
    tz = expr.tz
    differing = [t.timestamp() for t in (*diff.crondeck_only, *diff.target_only, *diff.either)]
    walls = {datetime.fromtimestamp(t, tz).strftime("%H:%M") for t in differing}

    def shown(stamps: Collection[float]) -> list[float]:
        return sorted(t for t in stamps
                      if datetime.fromtimestamp(t, tz).strftime("%H:%M") in walls)

    ours = set(_day_fires(expr, diff.day))
    only = {t.timestamp() for t in diff.crondeck_only}
    either = {t.timestamp() for t in diff.either}
    theirs = (ours - only - either) | {t.timestamp() for t in diff.target_only}
    target_fires = shown(theirs)
    parts = [_instants(expr, target_fires)] if target_fires else []
    if either:
        parts.append(" or ".join(_instants(expr, [t]) for t in sorted(either))
                     + " (one of them, depending on when it last ran)")
    side = f"at {', and '.join(parts)}" if parts else "does not run it"
    mine = shown(ours)
    ours_text = f"at {_instants(expr, mine)}" if mine else "does not"
    return f"{diff.day.isoformat()}: crondeck runs it {ours_text}; {target} {side}"


def nearby_schedule(expr: CronExpr, fires_like_crondeck: Callable[[CronExpr], bool]
                    ) -> tuple[str, int] | None:
    """The nearest shift of all the job's times of day, within an hour either way (later
    first on a tie), that the target fires like crondeck: (the schedule, minutes moved).
    A shift must keep every time on the same day and stay a minute × hour product; the
    day and month fields are kept as written."""
    f = expr.f
    times = sorted(h * 60 + m for h, m in product(f.hours, f.minutes))
    rest = " ".join(f.texts[2:5])
    for delta in sorted((d for d in range(-60, 61) if d), key=lambda d: (abs(d), d < 0)):
        moved = {t + delta for t in times}
        if min(moved) < 0 or max(moved) >= 1440:
            continue
        hours = sorted({t // 60 for t in moved})
        minutes = sorted({t % 60 for t in moved})
        if len(hours) * len(minutes) != len(moved):
            continue
        text = f"{compress(minutes, 0, 59)} {compress(hours, 0, 23)} {rest}"
        try:
            candidate = parse(text, expr.tz)
        except CronError:
            continue
        if isinstance(candidate, CronExpr) and fires_like_crondeck(candidate):
            return text, delta
    return None


def dst_refusal(job: str, target: str, expr: CronExpr, diffs: Sequence[DayDiff],
                fires_like_crondeck: Callable[[CronExpr], bool], side: str) -> Refusal:
    """The refusal of a job with DST differences: which days, each side's fires on them,
    and what would be right. `side` names the target's fires ('the systemd timer')."""
    details = [_day_line(expr, d, side) for d in diffs[:SHOWN_DAYS]]
    if len(diffs) > SHOWN_DAYS:
        details.append(f"and {len(diffs) - SHOWN_DAYS} more day"
                       f"{'s' if len(diffs) - SHOWN_DAYS > 1 else ''} in the coming year")
    near = nearby_schedule(expr, fires_like_crondeck)
    if near is not None:
        text, delta = near
        moved = (f"schedule = {text!r} ({abs(delta)} minute{'s' if abs(delta) > 1 else ''} "
                 f"{'later' if delta > 0 else 'earlier'}) fires like crondeck on every DST "
                 "day of the coming year")
    else:
        moved = ("move its times out of the hours the DST changes pass through (no time "
                 "within an hour of them fires like crondeck)")
    fixes = [moved, "timezone = 'UTC' with its times converted (UTC has no DST)",
             "export it as crontab (cron follows crondeck's DST rules), or keep crondeck as "
             "the scheduler (`crondeck export service`)",
             f"or pass {OPT_IN} to export it anyway, each such day stated as a warning and "
             "a note"]
    day_word = "day" if len(diffs) == 1 else "days"
    return Refusal(
        job, target,
        f"{side} would fire at other instants than crondeck on {len(diffs)} DST {day_word} "
        f"of the coming year ({expr.text!r} in {expr.tz.key})",
        "\n".join(["what would be right (any one of):", *(f"- {f}" for f in fixes)]),
        details=tuple(details), dst=True)
