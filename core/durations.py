"""Human durations ("90s", "5m", "1h30m", "2d") used by `@every` and the jobs file."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["MAX_DURATION", "DurationError", "format_duration", "parse_duration"]

MAX_DURATION = timedelta(days=3650)

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([dhms])")


class DurationError(ValueError):
    """A duration string that is not `<number><unit>` pieces; the message says what is valid."""


def parse_duration(text: str) -> timedelta:
    """Parse "90s", "5m", "1h30m", "1d12h" into a timedelta; units d, h, m, s, largest first,
    at most MAX_DURATION in all."""
    if not isinstance(text, str):
        raise DurationError(f"duration must be a string like '5m', got {type(text).__name__}")
    s = text.strip().lower().replace(" ", "")
    if not s:
        raise DurationError("empty duration: write something like '90s', '5m' or '1h30m'")
    if not s.isascii():
        raise DurationError(f"{text!r}: durations use ASCII digits and the units d, h, m, s")
    pos = 0
    total = 0
    seen: list[str] = []
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        unit = m.group(2)
        if seen and "dhms".index(unit) <= "dhms".index(seen[-1]):
            raise DurationError(
                f"{text!r}: units must go from largest to smallest, each once (like '1h30m')"
            )
        seen.append(unit)
        # int() refuses over 4,300 digits, timedelta over a billion days: a number this
        # long is over the limit whatever it is, so it is never converted.
        digits = m.group(1).lstrip("0") or "0"
        total += int(digits) * _UNITS[unit] if len(digits) <= _DIGITS else _TOO_LONG
        pos = m.end()
    if pos != len(s):
        if s.isdigit():
            shown = s if len(s) <= 20 else f"{s[:20]}…"
            raise DurationError(f"{_shown(text)} needs a unit: write '{shown}s', '{shown}m' "
                                f"or '{shown}h'")
        raise DurationError(
            f"{_shown(text)} is not a duration: use numbers with units d, h, m, s, like '90s' "
            "or '1h30m'"
        )
    if total > _MAX_SECONDS:
        raise DurationError(f"{_shown(text)} is too long: a duration is at most "
                            f"{format_duration(MAX_DURATION)} (10 years)")
    return timedelta(seconds=total)


_MAX_SECONDS = int(MAX_DURATION.total_seconds())
_DIGITS = len(str(_MAX_SECONDS))
_TOO_LONG = _MAX_SECONDS + 1


def _shown(text: str) -> str:
    """The text as typed, cut when someone pasted thousands of characters into it."""
    return repr(text) if len(text) <= 40 else f"{text[:40]!r}… ({len(text)} characters)"


def format_duration(delta: timedelta | float) -> str:
    """Inverse of parse_duration for whole seconds: 5400 s -> "1h30m", 0 -> "0s"."""
    secs = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    if secs == 0:
        return "0s"
    sign = "-" if secs < 0 else ""
    secs = abs(secs)
    out = []
    for unit, size in _UNITS.items():
        n, secs = divmod(secs, size)
        if n:
            out.append(f"{n}{unit}")
    return sign + "".join(out)
