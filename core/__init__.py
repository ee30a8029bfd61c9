"""crondeck.core: an in-process, standard-library-only scheduler for agents on cron or
interval schedules. Never imports textual or rich."""

from .cron import CronError, CronExpr, parse
from .durations import DurationError, format_duration, parse_duration
from .interval import Every
from .schedule import Schedule, cron, every
from .zones import ZoneError, get_zone, local_zone

__all__ = [
    "CronError",
    "CronExpr",
    "DurationError",
    "Every",
    "Schedule",
    "ZoneError",
    "cron",
    "every",
    "format_duration",
    "get_zone",
    "local_zone",
    "parse",
    "parse_duration",
]
