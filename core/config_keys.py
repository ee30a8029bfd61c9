"""The keys of the jobs file and how each value is checked: one table per section, so
validation, suggestions for typos and the README stay in step."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from .durations import DurationError, parse_duration
from .options import CATCHUPS, ON_GATE_ERRORS, OVERLAPS
from .zones import ZoneError, get_zone

PROMPT_VIA = ("stdin", "arg", "env")
AGENT_KINDS = ("command", "python", "openai", "anthropic")
MODEL_KINDS = ("openai", "anthropic")
NOTIFY_EVENTS = ("failure", "timed_out", "recovered", "success", "skipped")
NOTIFY_FORMATS = ("json", "slack", "discord", "ntfy")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ :+-]*$")
_NAME_CHAR = re.compile(r"[A-Za-z0-9._ :+-]")
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1024, "kib": 1024, "mb": 1024**2, "mib": 1024**2}
_SIZE_UNITS |= {"gb": 1024**3, "gib": 1024**3}


def bad_name(name: str) -> str:
    """Why `name` (failing NAME_OK or too long) cannot be a job name, pointing at the first
    thing wrong: the whole rule alone left 'my job!' to find its '!'."""
    if len(name) > 100:
        return f"job name is {len(name)} characters long: 100 at most"
    bad = next((c for c in name if not _NAME_CHAR.fullmatch(c)), None)
    if bad is not None and not bad.isascii() and bad.isalnum():  # 'é' is a letter, but not here
        return (f"job name {name!r}: {bad!r} is not allowed: names are ASCII (letters A-Z, "
                "digits, spaces and . _ - : +)")
    if not name[0].isascii() or not name[0].isalnum():
        return f"job name {name!r} must start with a letter or digit"
    where = f": {bad!r} is not allowed;" if bad else ":"
    return f"job name {name!r}{where} use letters, digits, spaces and . _ - : + (no / or @)"


class Invalid(ValueError):
    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected a string, got {type_name(value)} {value!r}")
    return value


def _nonempty(value: Any) -> str:
    text = _str(value)
    if not text.strip():
        raise Invalid("must not be empty")
    return text


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {type_name(value)} {value!r}")
    return value


def _int(minimum: int) -> Any:
    def check(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid(f"expected a whole number, got {type_name(value)} {value!r}")
        if value < minimum:
            raise Invalid(f"{value} is too small: use {minimum} or more")
        return value

    return check


def _choice(*choices: str) -> Any:
    def check(value: Any) -> str:
        if value not in choices:
            options = " | ".join(repr(c) for c in choices)
            raise Invalid(f"{value!r} is not one of {options}")
        return str(value)

    return check


def _duration(value: Any) -> timedelta:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:  # suggested only when it is a duration: not for -1, nan, inf or 1e308
            parse_duration(f"{value}s")
        except DurationError:
            raise Invalid("durations are strings with a unit, like \"90s\", \"5m\" or "
                          "\"1h30m\"") from None
        raise Invalid(f"durations are strings with a unit: write \"{value}s\" or \"{value}m\"")
    try:
        return parse_duration(_str(value))
    except DurationError as exc:
        raise Invalid(str(exc)) from None


def _positive_duration(value: Any) -> timedelta:
    duration = _duration(value)
    if not duration:
        raise Invalid(f"{value!r} is no time at all: give a duration longer than 0s")
    return duration


def _size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    m = _SIZE.match(value) if isinstance(value, str) else None
    if not m:
        raise Invalid(f"{value!r} is not a size: write bytes (10000) or \"512KB\", \"10MB\"")
    return int(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()]


def _zone_name(value: Any) -> str:
    text = _str(value)
    try:
        get_zone(text)
    except ZoneError as exc:
        raise Invalid(str(exc)) from None
    return text


def _command(value: Any) -> str | list[str]:
    if isinstance(value, str):
        if not value.strip():
            raise Invalid('empty command: give a shell string or an argv list like ["sh", "-c"]'
                           )
        return value
    if isinstance(value, list) and value and all(isinstance(a, str) for a in value):
        return list(value)
    raise Invalid(f"expected a shell string or a non-empty list of strings, got {value!r}")


def _target(value: Any) -> str:
    text = _str(value)
    module, _, attr = text.partition(":")
    if not module or not attr or not all(p.isidentifier() for p in module.split(".")):
        raise Invalid(f"{text!r} is not a Python target: write \"package.module:function\"")
    return text


def _env(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise Invalid("expected a table of strings, like env = { LANG = \"C\" }")
    bad = next((name for name in value if not name or "=" in name), None)
    if bad is not None:  # the OS refuses it at every start: said once, here
        raise Invalid(f"{bad!r} cannot be an environment variable's name (no '=', not empty); "
                      "write names like LANG or API_KEY")
    return dict(value)


def _until(value: Any) -> datetime | date:
    if isinstance(value, datetime | date) and not isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise Invalid(f"expected a TOML date or date-time like 2025-12-31T18:00:00, got {value!r}")


def _number(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise Invalid(f"expected a number, got {type_name(value)} {value!r}")
    if value < 0:
        raise Invalid(f"{value} is negative: use 0 or more")
    return float(value)


def _url(value: Any) -> str:
    text = _str(value)
    if not re.match(r"^https?://[^\s/]+", text):
        raise Invalid(f"{text!r} is not a URL: write \"https://host/path\" or "
                      "\"http://localhost:11434/v1\"")
    return text


def _env_name(value: Any) -> str:
    text = _str(value)
    if not ENV_NAME.match(text):
        raise Invalid(f"api_key_env names an environment variable (like OPENAI_API_KEY), "
                      f"and {text[:6] + '…' if len(text) > 6 else text!r} is not a variable "
                      "name; never put a key itself in the jobs file")
    return text


def _regex(value: Any) -> str:
    text = _str(value)
    try:
        re.compile(text, re.DOTALL)
    except re.error as exc:
        raise Invalid(f"not a valid regular expression: {exc}") from None
    except (OverflowError, RecursionError) as exc:  # x{99999999999}, thousands of ((
        raise Invalid(f"not a regular expression Python can compile: {exc}") from None
    return text


NOTIFY_KEYS: dict[str, Any] = {}


def _notify(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid('expected a table, like notify = { on = ["failure"], webhook = "https://…" }')
    out: dict[str, Any] = {}
    for key, item in value.items():
        check = NOTIFY_KEYS.get(key)
        if check is None:
            import difflib  # here: only a misspelt name needs it

            close = difflib.get_close_matches(key, list(NOTIFY_KEYS), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else (
                f"notify keys: {', '.join(NOTIFY_KEYS)}")
            raise Invalid(f"unknown key {key!r} in notify; {hint}")
        try:
            check(item)
        except Invalid as exc:
            raise Invalid(f"notify.{key}: {exc}") from None
        out[key] = item
    if "command" not in out and "webhook" not in out:
        raise Invalid("notify needs a target: command = \"notify-send crondeck\" or "
                      "webhook = \"https://…\"")
    return out


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(f"expected a list of events like [\"failure\", \"recovered\"], got {value!r}")
    for v in value:
        if v not in NOTIFY_EVENTS:
            import difflib  # here: only a misspelt name needs it

            close = difflib.get_close_matches(v, NOTIFY_EVENTS, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}?" if close else (
                f"events: {', '.join(NOTIFY_EVENTS)}")
            raise Invalid(f"{v!r} is not an event; {hint}")
    return value


def type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)


POLICY_KEYS: dict[str, Any] = {
    "timezone": _zone_name,
    "timeout": _positive_duration,
    "overlap": _choice(*OVERLAPS),
    "catchup": _choice(*CATCHUPS),
    "misfire_grace": _duration,
    "gate_timeout": _positive_duration,
    "on_gate_error": _choice(*ON_GATE_ERRORS),
    "retries": _int(0),
    "retry_backoff": _duration,
    "pause_after_failures": _int(0),
    "output_tail": _size,
    "kill_grace": _duration,
    "expect": _regex,
    "fail_if_empty": _bool,
    "daily_token_budget": _int(1),
    "notify": _notify,
    "enabled": _bool,
}
NOTIFY_KEYS.update({
    "on": _events,
    "command": _command,
    "webhook": _url,
    "format": _choice(*NOTIFY_FORMATS),
    "timeout": _positive_duration,
})
MODEL_KEYS: dict[str, Any] = {
    "base_url": _url,
    "model": _nonempty,
    "api_key_env": _env_name,
    "system": _str,
    "temperature": _number,
    "max_tokens": _int(1),
    "timeout": _positive_duration,  # the request's read timeout (the run's is the job's timeout)
    "price_in": _number,
    "price_out": _number,
}
SCHEDULER_KEYS: dict[str, Any] = {
    "max_concurrent_runs": _int(1),
    "history": _int(1),
    "logs_keep": _int(1),
    "log_max_size": _size,
    "logs_max_total": _size,
    "shutdown_grace": _duration,
}
AGENT_KEYS: dict[str, Any] = {
    "kind": _choice(*AGENT_KINDS),
    "command": _command,
    "python": _target,
    "prompt_via": _choice(*PROMPT_VIA),
    "cwd": _nonempty,
    "env": _env,
    **MODEL_KEYS,
}
JOB_KEYS: dict[str, Any] = {
    "name": _nonempty,
    "schedule": _nonempty,
    "agent": _nonempty,
    "command": _command,
    "python": _target,
    "prompt": _str,
    "prompt_via": _choice(*PROMPT_VIA),
    "cwd": _nonempty,
    "env": _env,
    "pre_run": _nonempty,
    "max_runs": _int(1),
    "until": _until,
    "start_immediately": _bool,
    "max_tokens": _int(1),
    "price_in": _number,
    "price_out": _number,
    **POLICY_KEYS,
}
TOP_KEYS = ("defaults", "scheduler", "agents", "jobs")
