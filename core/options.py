"""A job's options: every per-job policy (timeout, overlap, catch-up, retries, gate, guard
rails, notifications) in the one form the scheduler runs with.

`JobOptions` field names are the jobs file's keys and `Scheduler.add_job`'s keyword
overrides. The jobs file becomes a JobOptions in `Config.options()`; a library user passes
one to `add_job(options=...)` or overrides single fields there. Durations are seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field, fields, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal, TypedDict, get_args

from .clock import utc
from .contracts import compile_expect
from .durations import parse_duration
from .lazyclass import dataclass

if TYPE_CHECKING:
    from .gates import Gate
    from .notify import NotifySpec

__all__ = [
    "CATCHUPS",
    "DURATIONS",
    "ON_GATE_ERRORS",
    "OPTION_NAMES",
    "OVERLAPS",
    "Catchup",
    "Duration",
    "JobOptions",
    "JobOverrides",
    "OnGateError",
    "Overlap",
    "checked",
    "seconds",
]

Overlap = Literal["skip", "queue_one", "replace", "allow"]
Catchup = Literal["latest", "none", "all"]
OnGateError = Literal["run", "skip"]
OVERLAPS: Final[tuple[str, ...]] = get_args(Overlap)
CATCHUPS: Final[tuple[str, ...]] = get_args(Catchup)
ON_GATE_ERRORS: Final[tuple[str, ...]] = get_args(OnGateError)
SHUTDOWN_GRACE: Final = 30.0  # seconds a service gives runs in flight once told to stop

# What a duration option accepts: seconds, a timedelta, or a string like "10m" or "1h30m".
Duration = float | timedelta | str

# Marks the fields that hold a duration: they take seconds, a timedelta or "5m" and keep
# seconds (a float).
_SECONDS: Final = {"seconds": True}


def seconds(value: object, what: str) -> float | None:
    """Seconds from a number, timedelta or human duration string ("90s", "1h30m"); None
    stays None, anything else is a TypeError naming `what`."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        out = value.total_seconds()
    elif isinstance(value, str):
        out = parse_duration(value).total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out = float(value)
    else:
        raise TypeError(f"{what}: expected seconds, a timedelta or a duration like '5m'")
    if out < 0:
        raise ValueError(f"{what} must not be negative")
    return out


@dataclass(frozen=True, slots=True)
class JobOptions:
    """Per-job policies; the defaults are the library's (the jobs file differs in one:
    `fail_if_empty` is on there). Frozen, so jobs with equal options can share one."""

    timeout: float | None = field(default=30 * 60, metadata=_SECONDS)  # per attempt
    overlap: Overlap = "skip"
    catchup: Catchup = "latest"
    misfire_grace: float | None = field(default=None, metadata=_SECONDS)
    max_runs: int | None = None
    until: datetime | None = None
    start_immediately: bool = False
    pre_run: Gate | None = None
    gate_timeout: float = field(default=30.0, metadata=_SECONDS)
    on_gate_error: OnGateError = "run"
    retries: int = 0
    retry_backoff: float = field(default=10.0, metadata=_SECONDS)
    pause_after_failures: int | None = None
    output_tail: int = 10_000
    history: int = 50
    kill_grace: float = field(default=5.0, metadata=_SECONDS)
    # Guard rails. `fail_if_empty` is off for library users (a Python callable returning
    # None has always meant success); the jobs file turns it on by default.
    expect: str | None = None
    fail_if_empty: bool = False
    daily_token_budget: int | None = None
    price_in: float | None = None
    price_out: float | None = None
    notify: NotifySpec | None = None

    def __post_init__(self) -> None:
        _check_types(self)
        if self.overlap not in OVERLAPS:
            raise ValueError(f"overlap must be one of {', '.join(OVERLAPS)}, not {self.overlap!r}")
        if self.catchup not in CATCHUPS:
            raise ValueError(f"catchup must be one of {', '.join(CATCHUPS)}, not {self.catchup!r}")
        if self.on_gate_error not in ON_GATE_ERRORS:
            raise ValueError(f"on_gate_error must be 'run' or 'skip', not {self.on_gate_error!r}")
        if self.max_runs is not None and self.max_runs < 1:
            raise ValueError("max_runs must be at least 1")
        if self.retries < 0:
            raise ValueError("retries must not be negative")
        if self.pause_after_failures is not None and self.pause_after_failures < 1:
            raise ValueError("pause_after_failures must be at least 1")
        if self.until is not None:
            object.__setattr__(self, "until", utc(self.until))
        for name in DURATIONS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, float):
                object.__setattr__(self, name, seconds(value, name))
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive (or None for no timeout)")
        if self.gate_timeout <= 0:
            raise ValueError("gate_timeout must be positive")
        if self.expect is not None:
            try:
                compile_expect(self.expect)
            except re.error as exc:
                raise ValueError(f"expect {self.expect!r} is not a valid regex: {exc}") from None
        if self.daily_token_budget is not None and self.daily_token_budget < 1:
            raise ValueError("daily_token_budget must be at least 1 (or None for no budget)")
        for name in ("price_in", "price_out"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")

    def merged(self, **overrides: object) -> JobOptions:
        """These options with `overrides` (see `checked`) applied."""
        # the values are object-typed here: replace() re-runs __post_init__, which checks them
        return replace(self, **checked(overrides))  # type: ignore[arg-type]


_WHOLE: Final = ("max_runs", "retries", "pause_after_failures", "output_tail", "history",
                  "daily_token_budget")
_FLAGS: Final = ("start_immediately", "fail_if_empty")


def _check_types(options: JobOptions) -> None:
    """A TypeError naming the option for a value of the wrong kind (`retries="2"`), before
    the range checks compare it, or it is taken and misleads later (`max_runs=1.5`)."""
    for name in _WHOLE:
        value = getattr(options, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError(f"{name} must be a whole number, not {type(value).__name__} "
                            f"{value!r}")
    for name in _FLAGS:
        value = getattr(options, name)
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, not {value!r}")
    for name in ("price_in", "price_out"):
        value = getattr(options, name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise TypeError(f"{name} must be a number (per million tokens), not {value!r}")
    if options.expect is not None and not isinstance(options.expect, str):
        raise TypeError(f"expect must be a regular expression (a string), not {options.expect!r}")
    notify = options.notify
    if notify is not None:
        from .notify import NotifySpec  # here: only a job that notifies needs it

        if not isinstance(notify, NotifySpec):
            raise TypeError(f"notify must be a NotifySpec(...), not {type(notify).__name__}")


class JobOverrides(TypedDict, total=False):
    """The keyword overrides `Scheduler.add_job` and `update_job` take: `JobOptions`'
    fields, durations in any `Duration` form (a test keeps the two in step)."""

    timeout: Duration | None
    overlap: Overlap
    catchup: Catchup
    misfire_grace: Duration | None
    max_runs: int | None
    until: datetime | None
    start_immediately: bool
    pre_run: Gate | None
    gate_timeout: Duration
    on_gate_error: OnGateError
    retries: int
    retry_backoff: Duration
    pause_after_failures: int | None
    output_tail: int
    history: int
    kill_grace: Duration
    expect: str | None
    fail_if_empty: bool
    daily_token_budget: int | None
    price_in: float | None
    price_out: float | None
    notify: NotifySpec | None


OPTION_NAMES: Final[frozenset[str]] = frozenset(f.name for f in fields(JobOptions))
DURATIONS: Final[tuple[str, ...]] = tuple(
    f.name for f in fields(JobOptions) if f.metadata.get("seconds"))


def checked(overrides: Mapping[str, object]) -> dict[str, object]:
    """`overrides` as JobOptions values: every name must be a field (TypeError naming an
    unknown one and the closest field), durations become seconds."""
    unknown = [name for name in overrides if name not in OPTION_NAMES]
    if unknown:
        raise TypeError("; ".join(_unknown(name) for name in unknown))
    out = dict(overrides)
    for name in DURATIONS:
        if name in out:
            out[name] = seconds(out[name], name)
    return out


def _unknown(name: str) -> str:
    import difflib  # here: only a misspelt name needs it

    close = difflib.get_close_matches(name, sorted(OPTION_NAMES), n=1, cutoff=0.6)
    hint = (f"did you mean {close[0]!r}?" if close
            else f"job options are {', '.join(sorted(OPTION_NAMES))}")
    return f"unknown job option {name!r}: {hint}"
