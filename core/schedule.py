"""Schedules the scheduler fires by: cron expressions and fixed intervals, one interface.

Both kinds answer `next_after(dt)` (strictly after an aware datetime), `upcoming(dt, n)`,
`describe()` and `warnings()`, and carry `text` (as written) and `tz`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from .cronexpr import CronExpr, parse
from .interval import EPOCH, Every

if TYPE_CHECKING:
    from .options import JobOptions

__all__ = ["Schedule", "cron", "every", "first_fire", "next_slot", "resolve"]

Schedule = CronExpr | Every


def cron(expr: str, tz: str | ZoneInfo | None = None) -> Schedule:
    """Parse a cron expression, macro (`@daily`) or `@every 90s`, evaluated in `tz`
    (IANA name or ZoneInfo; default: the machine's local zone). Raises CronError."""
    return parse(expr, tz)


def every(
    *,
    seconds: float = 0,
    minutes: float = 0,
    hours: float = 0,
    days: float = 0,
    start: datetime | Literal["now"] | None = None,
) -> Every:
    """An interval schedule: fires every period on the grid `start + n * period`, in UTC.

    Without `start` the grid is anchored at the Unix epoch: `every(hours=1)` fires on the hour
    and `every(minutes=15)` at :00, :15, :30, :45, whenever the job was added. `start="now"`
    anchors it at the moment the job is added to (or rescheduled in) a scheduler, by that
    scheduler's clock: "every hour" added at 10:17 fires at 11:17, 12:17, … An aware datetime
    anchors it there."""
    for name, value in (("seconds", seconds), ("minutes", minutes), ("hours", hours),
                        ("days", days)):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError(f"every({name}=...) takes a number, not {type(value).__name__} "
                            f"{value!r}")
    period = timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)
    if period.total_seconds() < 1:
        raise ValueError("every(...) needs a period of at least 1 second")
    if start == "now":
        return Every(period, datetime.now(UTC), from_now=True)
    if isinstance(start, str):
        raise ValueError(f"every(start=...) takes an aware datetime or 'now', not {start!r}")
    return Every(period, start if start is not None else EPOCH)


def resolve(schedule: Schedule | str, tz: str | ZoneInfo | None, now: datetime) -> Schedule:
    """The schedule a job runs by: a string parsed (cron or `@every`, in `tz`), an interval
    made with `start="now"` anchored at `now`."""
    sched = cron(schedule, tz) if isinstance(schedule, str) else schedule
    if not isinstance(sched, CronExpr | Every):
        raise TypeError(f"a schedule is a cron string like '0 9 * * *' or '@every 5m', "
                        f"cron(...) or every(...), not {type(sched).__name__} {sched!r}")
    if isinstance(sched, Every) and sched.from_now:
        return replace(sched, anchor=now)
    return sched


def next_slot(schedule: Schedule, after: datetime, until: datetime | None) -> datetime | None:
    """The schedule's next slot after `after`, None past `until` or when there is none
    (raises what the schedule raises)."""
    return _before(schedule.next_after(after), until)


def _before(nxt: datetime | None, until: datetime | None) -> datetime | None:
    """`nxt`, unless it comes after `until`."""
    return None if nxt is None or (until is not None and nxt > until) else nxt


def first_fire(schedule: Schedule, options: JobOptions, now: datetime, *, enabled: bool = True,
               next_after: Callable[[datetime], datetime | None] | None = None) -> datetime | None:
    """When a job added at `now` first fires, as `Scheduler.add_job` decides it: None when it
    is switched off (`enabled` false), its `max_runs` is 0 or no slot comes before its
    `until`; `now` with `start_immediately`; else the schedule's first slot after `now` (an
    interval made with `start="now"` anchored at `now`). `next_after`: the schedule's own,
    or a cache of it. Raises what the schedule raises."""
    if not enabled or (options.max_runs is not None and options.max_runs <= 0):
        return None
    if options.start_immediately:
        return now
    return _before((next_after or resolve(schedule, None, now).next_after)(now), options.until)
