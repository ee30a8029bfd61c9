"""crondeck.core: an in-process, standard-library-only scheduler for agents on cron or
interval schedules. Never imports textual or rich."""

from .agents import AgentFailed, CommandAgent, PythonAgent, RunContext
from .clock import Clock, FakeClock, SystemClock
from .config import Config, ConfigError, JobSpec, Problem, load_config, save_config
from .cron import CronError, CronExpr, parse
from .durations import DurationError, format_duration, parse_duration
from .events import Event, Subscription
from .gates import GateSkip
from .interval import Every
from .jobs import Job, JobOptions, JobState, NullStateSink, RunHandle, StateSink
from .llm import AnthropicAgent, ModelAgent, OpenAIAgent
from .lock import LockHeld, StateLock
from .notify import NotifySpec
from .redact import redact
from .results import GateResult, RunResult, RunStatus, SkipReason, Usage, last_run
from .runtime import Runtime, build_scheduler, open_runtime
from .schedule import Schedule, cron, every
from .scheduler import Scheduler
from .store import StateStore
from .zones import ZoneError, get_zone, local_zone

__all__ = [
    "AgentFailed",
    "AnthropicAgent",
    "Clock",
    "CommandAgent",
    "Config",
    "ConfigError",
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
    "JobSpec",
    "JobState",
    "LockHeld",
    "ModelAgent",
    "NotifySpec",
    "NullStateSink",
    "OpenAIAgent",
    "Problem",
    "PythonAgent",
    "RunContext",
    "RunHandle",
    "RunResult",
    "RunStatus",
    "Runtime",
    "Schedule",
    "Scheduler",
    "SkipReason",
    "StateLock",
    "StateSink",
    "StateStore",
    "Subscription",
    "SystemClock",
    "Usage",
    "ZoneError",
    "build_scheduler",
    "cron",
    "every",
    "format_duration",
    "get_zone",
    "last_run",
    "load_config",
    "local_zone",
    "open_runtime",
    "parse",
    "parse_duration",
    "redact",
    "save_config",
]
