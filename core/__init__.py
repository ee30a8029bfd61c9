"""crondeck.core: an in-process, standard-library-only scheduler for agents on cron or
interval schedules. Never imports textual or rich."""

from .agents import AgentFailed, CommandAgent, PythonAgent, RunContext
from .atomic import atomic_write_bytes, ensure_dir
from .clock import Clock, FakeClock, SystemClock
from .config import Config, ConfigError, JobSpec, Problem, load_config, save_config
from .cron import (
    MONTH_NAMES,
    WEEKDAY_NAMES,
    CronError,
    CronExpr,
    CronFields,
    DstShift,
    common_step,
    consecutive_runs,
    describe_values,
    parse,
)
from .display import compact_json, money, token_count, uses_model
from .durations import DurationError, format_duration, parse_duration
from .events import ConfigRejected, Event, OutputChunk, Subscription
from .export import ExportResult, K8sOptions, export_crontab, export_k8s, export_systemd
from .gates import GateSkip
from .inbox import drop_result, fold_inbox
from .interval import Every
from .jobs import Job, JobOptions, JobState, NullStateSink, RunHandle, StateSink
from .llm import AnthropicAgent, ModelAgent, OpenAIAgent
from .lock import LockHeld, StateLock
from .metrics import Metrics, MetricsServer, parse_listen
from .notify import NotifySpec
from .paths import ConfigLocation, resolve_config
from .redact import redact
from .results import GateResult, RunResult, RunStatus, SkipReason, Usage, last_run
from .runlogs import RunLogRecorder, RunLogs, safe_name
from .runtime import Runtime, build_scheduler, open_runtime
from .schedule import Schedule, cron, every
from .scheduler import Scheduler
from .store import StateStore
from .watch import FileWatcher
from .zones import ZoneError, get_zone, local_zone

__all__ = [
    "MONTH_NAMES",
    "WEEKDAY_NAMES",
    "AgentFailed",
    "AnthropicAgent",
    "Clock",
    "CommandAgent",
    "Config",
    "ConfigError",
    "ConfigLocation",
    "ConfigRejected",
    "CronError",
    "CronExpr",
    "CronFields",
    "DstShift",
    "DurationError",
    "Event",
    "Every",
    "ExportResult",
    "FakeClock",
    "FileWatcher",
    "GateResult",
    "GateSkip",
    "Job",
    "JobOptions",
    "JobSpec",
    "JobState",
    "K8sOptions",
    "LockHeld",
    "Metrics",
    "MetricsServer",
    "ModelAgent",
    "NotifySpec",
    "NullStateSink",
    "OpenAIAgent",
    "OutputChunk",
    "Problem",
    "PythonAgent",
    "RunContext",
    "RunHandle",
    "RunLogRecorder",
    "RunLogs",
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
    "atomic_write_bytes",
    "build_scheduler",
    "common_step",
    "compact_json",
    "consecutive_runs",
    "cron",
    "describe_values",
    "drop_result",
    "ensure_dir",
    "every",
    "export_crontab",
    "export_k8s",
    "export_systemd",
    "fold_inbox",
    "format_duration",
    "get_zone",
    "last_run",
    "load_config",
    "local_zone",
    "money",
    "open_runtime",
    "parse",
    "parse_duration",
    "parse_listen",
    "redact",
    "resolve_config",
    "safe_name",
    "save_config",
    "token_count",
    "uses_model",
]
