"""The cron engine: `parse()` turns a 5-field expression, a macro (`@daily`) or `@every 1h30m`
into a schedule in a time zone. The modules, each read on its own:

- `fields`: the five fields (ranges, names) and `CronFields`, a parsed expression's values
- `messages`: `CronError` and the wording of what the parser reports
- `parser`: field texts to `CronFields`, or a `CronError` pointing at the column
- `engine`: `CronExpr`, the next-fire engine (the day plan)
- `days`: day matching, a rule and its caches shared by expressions with the same day fields
- `share`: what parsed expressions share (value sets, day rules, a day's fire times)
- `dst`: what a DST change does to the fires of a day (cronie's rules), and `DstShift`
- `describe`: plain English for an expression, and the value-list helpers it uses

Here, only the entry point: macros and `@every` are read here, five fields go to
`CronExpr`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ..durations import DurationError, parse_duration
from ..interval import Every
from ..zones import ZoneError, get_zone, local_zone
from .describe import common_step, consecutive_runs, describe_values
from .dst import DstShift
from .engine import CronExpr
from .fields import MONTH_NAMES, WEEKDAY_NAMES, CronFields
from .messages import CronError

__all__ = [
    "MACROS",
    "MONTH_NAMES",
    "WEEKDAY_NAMES",
    "CronError",
    "CronExpr",
    "CronFields",
    "DstShift",
    "common_step",
    "consecutive_runs",
    "describe_values",
    "parse",
]

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def parse(text: str, tz: str | ZoneInfo | None = None) -> CronExpr | Every:
    """Parse a 5-field expression, a macro (`@daily`) or `@every 1h30m`. The zone is an
    IANA name or ZoneInfo; None means the machine's local zone. Raises only CronError."""
    if not isinstance(text, str):
        raise CronError(f"a cron expression must be a string, got {type(text).__name__}")
    try:
        zone = tz if isinstance(tz, ZoneInfo) else (get_zone(tz) if tz else local_zone())
    except ZoneError as e:
        raise CronError(str(e), expression=text) from None
    stripped = text.strip()
    if stripped.startswith("@"):
        return _parse_macro(text, stripped, zone)
    return CronExpr(text, zone)


def _parse_macro(text: str, stripped: str, zone: ZoneInfo) -> CronExpr | Every:
    col = text.index("@")
    word, _, rest = stripped.partition(" ")
    low = word.lower()
    if low == "@every":
        rest = rest.strip()
        if not rest:
            raise CronError(
                "@every needs a duration, like '@every 90s' or '@every 1h30m'",
                expression=text,
                column=col,
                length=len(word),
            )
        try:
            period = parse_duration(rest)
            if period.total_seconds() < 1:
                raise DurationError("the interval must be at least 1s")
        except DurationError as e:
            raise CronError(
                f"@every: {e}", expression=text, column=text.index(rest), length=len(rest)
            ) from None
        return Every(period, tz=zone, text=stripped)
    if low in MACROS:
        if rest.strip():
            raise CronError(
                f"{word} takes no fields after it (it means '{MACROS[low]}')",
                expression=text,
                column=text.index(rest.strip()),
                length=len(rest.strip()),
            )
        return CronExpr(MACROS[low], zone, text=stripped)
    if low == "@reboot":
        hint = "crondeck schedules by time; use start_immediately to run at start-up"
    else:
        known = ", ".join([*MACROS, "@every <duration>"])
        hint = f"valid macros: {known}"
    raise CronError(
        f"unknown macro {word!r}: {hint}", expression=text, column=col, length=len(word)
    )
