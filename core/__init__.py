"""crondeck.core: an in-process, standard-library-only scheduler for agents on cron or
interval schedules. Never imports textual or rich."""

from .agents import CommandAgent, PythonAgent, RunContext
from .clock import Clock, FakeClock, SystemClock
from .cron import CronError, CronExpr, parse
from .durations import DurationError, format_duration, parse_duration
from .events import Event, Subscription
from .gates import GateSkip
from .interval import Every
from .jobs import Job, JobOptions, JobState, NullStateSink, RunHandle, StateSink
from .redact import redact
from .results import GateResult, RunResult, RunStatus, SkipReason
from .schedule import Schedule, cron, every
from .scheduler import Scheduler
from .zones import ZoneError, get_zone, local_zone

__all__ = [
    "Clock",
    "CommandAgent",
    "CronError",
    "CronExpr",
    "DurationError",
    "Event",
    "Every",
    "FakeClock",
    "GateResult",
    "GateSkip",
    "Job",
    "JobOptions",
    "JobState",
    "NullStateSink",
    "PythonAgent",
    "RunContext",
    "RunHandle",
    "RunResult",
    "RunStatus",
    "Schedule",
    "Scheduler",
    "SkipReason",
    "StateSink",
    "Subscription",
    "SystemClock",
    "ZoneError",
    "cron",
    "every",
    "format_duration",
    "get_zone",
    "local_zone",
    "parse",
    "parse_duration",
    "redact",
]
