"""crondeck.core: an in-process, standard-library-only scheduler for agents on cron or
interval schedules. Never imports textual or rich.

Each public name is loaded from its module on first use (PEP 562), so a command that needs the
cron engine does not pay for agents, model clients, exporters or config validation.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agents import (
        Agent,
        AgentFailed,
        AgentLike,
        CommandAgent,
        PythonAgent,
        RunContext,
    )
    from .atomic import (
        UnsafeDir,
        atomic_write_bytes,
        atomic_write_toml,
        ensure_dir,
        read_toml,
        save_with_backup,
        to_toml_value,
    )
    from .budget import (
        budget_reason,
        local_day,
        release_budget,
        reserve_budget,
        run_spend,
        tokens_today,
    )
    from .clock import (
        Clock,
        FakeClock,
        SystemClock,
    )
    from .config import (
        Config,
        ConfigError,
        FileChanged,
        JobSpec,
        PlannedSave,
        Problem,
        duplicate_name,
        load_config,
        parse_config,
        plan_save,
        read_jobs_text,
        save_config,
    )
    from .control import (
        ControlError,
        ControlServer,
        control_path,
    )
    from .control_client import (
        ControlClient,
        NoScheduler,
        control_call,
    )
    from .cronexpr import (
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
    from .display import (
        LARGE_SCHEDULE,
        ago,
        attached_line,
        clip,
        clock_time,
        compact_json,
        countdown,
        duration,
        escape_controls,
        money,
        short_span,
        token_count,
        uses_model,
    )
    from .durations import (
        DurationError,
        format_duration,
        parse_duration,
    )
    from .events import (
        ClockJumped,
        ConfigRejected,
        ConfigReloaded,
        ControlAttached,
        ControlDisconnected,
        ControlRefused,
        Event,
        ExecResultRecorded,
        GateDecided,
        GateStarted,
        JobAdded,
        JobChanged,
        JobExhausted,
        JobPaused,
        JobRemoved,
        JobResumed,
        LockLost,
        NextFireComputed,
        NotificationFailed,
        NotificationSent,
        ObserverDropped,
        OutputChunk,
        RunFinished,
        RunMissed,
        RunQueued,
        RunSkipped,
        RunStarted,
        SchedulerError,
        SchedulerPaused,
        SchedulerResumed,
        SchedulerStarted,
        SchedulerStopped,
        Subscription,
    )
    from .export import (
        ExportResult,
        K8sOptions,
        export_crontab,
        export_k8s,
        export_service,
        export_systemd,
        service_unit_name,
    )
    from .gates import (
        GateSkip,
    )
    from .inbox import (
        drop_result,
        fold_inbox,
        read_inbox,
    )
    from .interval import (
        Every,
    )
    from .jobs import (
        PAUSE_NOTE_MAX,
        Job,
        JobOptions,
        JobState,
        NullStateSink,
        RunHandle,
        StateSink,
        check_pause_note,
    )
    from .jobs_file import (
        JobsFileError,
        edit_jobs_text,
    )
    from .ledger import (
        count_result,
    )
    from .llm import (
        AnthropicAgent,
        ModelAgent,
        OpenAIAgent,
    )
    from .lock import (
        LockHeld,
        LockLostError,
        StateLock,
    )
    from .metrics import (
        Metrics,
        MetricsServer,
        parse_listen,
    )
    from .notify import (
        NotifySpec,
    )
    from .options import (
        CATCHUPS,
        OVERLAPS,
        Duration,
        JobOverrides,
    )
    from .paths import (
        ConfigLocation,
        file_stamp,
        resolve_config,
    )
    from .redaction import (
        redact,
    )
    from .remote import (
        RemoteCall,
        RemoteJob,
        RemoteRun,
        RemoteScheduler,
    )
    from .results import (
        GateResult,
        RunResult,
        RunStatus,
        SkipReason,
        Usage,
        last_run,
    )
    from .runlogs import (
        RunLogRecorder,
        RunLogs,
        safe_name,
    )
    from .runtime import (
        Reload,
        Runtime,
        build_scheduler,
        open_runtime,
    )
    from .schedule import (
        Schedule,
        cron,
        every,
        first_fire,
    )
    from .scheduler import (
        Scheduler,
    )
    from .store import (
        StateStore,
    )
    from .tomllines import (
        scan_key_lines,
    )
    from .watch import (
        WATCH_INTERVAL,
        FileWatcher,
    )
    from .wire import (
        UnknownEvent,
        event_from_json,
        event_json,
        job_json,
        plain,
        resolve_shared,
        scheduler_json,
    )
    from .zones import (
        ZoneError,
        get_zone,
        local_zone,
    )

# Each public name and the module it lives in.
_SOURCES: dict[str, str] = {
    # .agents
    "Agent": "agents",
    "AgentFailed": "agents",
    "AgentLike": "agents",
    "CommandAgent": "agents",
    "PythonAgent": "agents",
    "RunContext": "agents",
    # .atomic
    "UnsafeDir": "atomic",
    "atomic_write_bytes": "atomic",
    "atomic_write_toml": "atomic",
    "ensure_dir": "atomic",
    "read_toml": "atomic",
    "save_with_backup": "atomic",
    "to_toml_value": "atomic",
    # .budget
    "budget_reason": "budget",
    "local_day": "budget",
    "release_budget": "budget",
    "reserve_budget": "budget",
    "run_spend": "budget",
    "tokens_today": "budget",
    # .clock
    "Clock": "clock",
    "FakeClock": "clock",
    "SystemClock": "clock",
    # .config
    "Config": "config",
    "ConfigError": "config",
    "FileChanged": "config",
    "JobSpec": "config",
    "PlannedSave": "config",
    "Problem": "config",
    "duplicate_name": "config",
    "load_config": "config",
    "parse_config": "config",
    "plan_save": "config",
    "read_jobs_text": "config",
    "save_config": "config",
    # .control
    "ControlError": "control",
    "ControlServer": "control",
    "control_path": "control",
    # .control_client
    "ControlClient": "control_client",
    "NoScheduler": "control_client",
    "control_call": "control_client",
    # .cronexpr
    "CronError": "cronexpr",
    "CronExpr": "cronexpr",
    "CronFields": "cronexpr",
    "DstShift": "cronexpr",
    "MONTH_NAMES": "cronexpr",
    "WEEKDAY_NAMES": "cronexpr",
    "common_step": "cronexpr",
    "consecutive_runs": "cronexpr",
    "describe_values": "cronexpr",
    "parse": "cronexpr",
    # .display
    "LARGE_SCHEDULE": "display",
    "ago": "display",
    "attached_line": "display",
    "clip": "display",
    "clock_time": "display",
    "compact_json": "display",
    "countdown": "display",
    "duration": "display",
    "escape_controls": "display",
    "money": "display",
    "short_span": "display",
    "token_count": "display",
    "uses_model": "display",
    # .durations
    "DurationError": "durations",
    "format_duration": "durations",
    "parse_duration": "durations",
    # .events
    "ClockJumped": "events",
    "ConfigRejected": "events",
    "ConfigReloaded": "events",
    "ControlAttached": "events",
    "ControlDisconnected": "events",
    "ControlRefused": "events",
    "Event": "events",
    "ExecResultRecorded": "events",
    "GateDecided": "events",
    "GateStarted": "events",
    "JobAdded": "events",
    "JobChanged": "events",
    "JobExhausted": "events",
    "JobPaused": "events",
    "JobRemoved": "events",
    "JobResumed": "events",
    "LockLost": "events",
    "NextFireComputed": "events",
    "NotificationFailed": "events",
    "NotificationSent": "events",
    "ObserverDropped": "events",
    "OutputChunk": "events",
    "RunFinished": "events",
    "RunMissed": "events",
    "RunQueued": "events",
    "RunSkipped": "events",
    "RunStarted": "events",
    "SchedulerError": "events",
    "SchedulerPaused": "events",
    "SchedulerResumed": "events",
    "SchedulerStarted": "events",
    "SchedulerStopped": "events",
    "Subscription": "events",
    # .export
    "ExportResult": "export",
    "K8sOptions": "export",
    "export_crontab": "export",
    "export_k8s": "export",
    "export_service": "export",
    "export_systemd": "export",
    "service_unit_name": "export",
    # .gates
    "GateSkip": "gates",
    # .inbox
    "drop_result": "inbox",
    "fold_inbox": "inbox",
    "read_inbox": "inbox",
    # .interval
    "Every": "interval",
    # .jobs
    "Job": "jobs",
    "JobOptions": "jobs",
    "JobState": "jobs",
    "NullStateSink": "jobs",
    "PAUSE_NOTE_MAX": "jobs",
    "check_pause_note": "jobs",
    "RunHandle": "jobs",
    "StateSink": "jobs",
    # .jobs_file
    "JobsFileError": "jobs_file",
    "edit_jobs_text": "jobs_file",
    # .ledger
    "count_result": "ledger",
    # .llm
    "AnthropicAgent": "llm",
    "ModelAgent": "llm",
    "OpenAIAgent": "llm",
    # .lock
    "LockHeld": "lock",
    "LockLostError": "lock",
    "StateLock": "lock",
    # .metrics
    "Metrics": "metrics",
    "MetricsServer": "metrics",
    "parse_listen": "metrics",
    # .notify
    "NotifySpec": "notify",
    # .options
    "CATCHUPS": "options",
    "Duration": "options",
    "JobOverrides": "options",
    "OVERLAPS": "options",
    # .paths
    "ConfigLocation": "paths",
    "file_stamp": "paths",
    "resolve_config": "paths",
    # .redaction
    "redact": "redaction",
    # .remote
    "RemoteCall": "remote",
    "RemoteJob": "remote",
    "RemoteRun": "remote",
    "RemoteScheduler": "remote",
    # .results
    "GateResult": "results",
    "RunResult": "results",
    "RunStatus": "results",
    "SkipReason": "results",
    "Usage": "results",
    "last_run": "results",
    # .runlogs
    "RunLogRecorder": "runlogs",
    "RunLogs": "runlogs",
    "safe_name": "runlogs",
    # .runtime
    "Reload": "runtime",
    "Runtime": "runtime",
    "build_scheduler": "runtime",
    "open_runtime": "runtime",
    # .schedule
    "Schedule": "schedule",
    "cron": "schedule",
    "every": "schedule",
    "first_fire": "schedule",
    # .scheduler
    "Scheduler": "scheduler",
    # .store
    "StateStore": "store",
    # .tomllines
    "scan_key_lines": "tomllines",
    # .watch
    "FileWatcher": "watch",
    "WATCH_INTERVAL": "watch",
    # .wire
    "UnknownEvent": "wire",
    "event_from_json": "wire",
    "event_json": "wire",
    "job_json": "wire",
    "plain": "wire",
    "resolve_shared": "wire",
    "scheduler_json": "wire",
    # .zones
    "ZoneError": "zones",
    "get_zone": "zones",
    "local_zone": "zones",
}


if not TYPE_CHECKING:
    # Hidden from mypy, which would otherwise type every unknown name as Any.
    def __getattr__(name: str) -> Any:
        source = _SOURCES.get(name)
        if source is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(f".{source}", __name__), name)
        # Cached as a plain attribute: later lookups skip this function.
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "CATCHUPS",
    "LARGE_SCHEDULE",
    "MONTH_NAMES",
    "OVERLAPS",
    "PAUSE_NOTE_MAX",
    "WATCH_INTERVAL",
    "WEEKDAY_NAMES",
    "Agent",
    "AgentFailed",
    "AgentLike",
    "AnthropicAgent",
    "Clock",
    "ClockJumped",
    "CommandAgent",
    "Config",
    "ConfigError",
    "ConfigLocation",
    "ConfigRejected",
    "ConfigReloaded",
    "ControlAttached",
    "ControlClient",
    "ControlDisconnected",
    "ControlError",
    "ControlRefused",
    "ControlServer",
    "CronError",
    "CronExpr",
    "CronFields",
    "DstShift",
    "Duration",
    "DurationError",
    "Event",
    "Every",
    "ExecResultRecorded",
    "ExportResult",
    "FakeClock",
    "FileChanged",
    "FileWatcher",
    "GateDecided",
    "GateResult",
    "GateSkip",
    "GateStarted",
    "Job",
    "JobAdded",
    "JobChanged",
    "JobExhausted",
    "JobOptions",
    "JobOverrides",
    "JobPaused",
    "JobRemoved",
    "JobResumed",
    "JobSpec",
    "JobState",
    "JobsFileError",
    "K8sOptions",
    "LockHeld",
    "LockLost",
    "LockLostError",
    "Metrics",
    "MetricsServer",
    "ModelAgent",
    "NextFireComputed",
    "NoScheduler",
    "NotificationFailed",
    "NotificationSent",
    "NotifySpec",
    "NullStateSink",
    "ObserverDropped",
    "OpenAIAgent",
    "OutputChunk",
    "PlannedSave",
    "Problem",
    "PythonAgent",
    "Reload",
    "RemoteCall",
    "RemoteJob",
    "RemoteRun",
    "RemoteScheduler",
    "RunContext",
    "RunFinished",
    "RunHandle",
    "RunLogRecorder",
    "RunLogs",
    "RunMissed",
    "RunQueued",
    "RunResult",
    "RunSkipped",
    "RunStarted",
    "RunStatus",
    "Runtime",
    "Schedule",
    "Scheduler",
    "SchedulerError",
    "SchedulerPaused",
    "SchedulerResumed",
    "SchedulerStarted",
    "SchedulerStopped",
    "SkipReason",
    "StateLock",
    "StateSink",
    "StateStore",
    "Subscription",
    "SystemClock",
    "UnknownEvent",
    "UnsafeDir",
    "Usage",
    "ZoneError",
    "ago",
    "atomic_write_bytes",
    "atomic_write_toml",
    "attached_line",
    "budget_reason",
    "build_scheduler",
    "check_pause_note",
    "clip",
    "clock_time",
    "common_step",
    "compact_json",
    "consecutive_runs",
    "control_call",
    "control_path",
    "count_result",
    "countdown",
    "cron",
    "describe_values",
    "drop_result",
    "duplicate_name",
    "duration",
    "edit_jobs_text",
    "ensure_dir",
    "escape_controls",
    "event_from_json",
    "event_json",
    "every",
    "export_crontab",
    "export_k8s",
    "export_service",
    "export_systemd",
    "file_stamp",
    "first_fire",
    "fold_inbox",
    "format_duration",
    "get_zone",
    "job_json",
    "last_run",
    "load_config",
    "local_day",
    "local_zone",
    "money",
    "open_runtime",
    "parse",
    "parse_config",
    "parse_duration",
    "parse_listen",
    "plain",
    "plan_save",
    "read_inbox",
    "read_jobs_text",
    "read_toml",
    "redact",
    "release_budget",
    "reserve_budget",
    "resolve_config",
    "resolve_shared",
    "run_spend",
    "safe_name",
    "save_config",
    "save_with_backup",
    "scan_key_lines",
    "scheduler_json",
    "service_unit_name",
    "short_span",
    "to_toml_value",
    "token_count",
    "tokens_today",
    "uses_model",
]
