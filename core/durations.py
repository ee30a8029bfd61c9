"""Human durations ("90s", "5m", "1h30m", "2d") used by `@every` and the jobs file."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["DurationError", "format_duration", "parse_duration"]

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([dhms])")


class DurationError(ValueError):
    """A duration string that is not `<number><unit>` pieces; the message says what is valid."""


def parse_duration(text: str) -> timedelta:
    """Parse "90s", "5m", "1h30m", "1d12h" into a timedelta; units d, h, m, s, largest first."""
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
        total += int(m.group(1)) * _UNITS[unit]
        pos = m.end()
    if pos != len(s):
        if s.isdigit():
            raise DurationError(f"{text!r} needs a unit: write '{s}s', '{s}m' or '{s}h'")
        raise DurationError(
            f"{text!r} is not a duration: use numbers with units d, h, m, s, like '90s' or '1h30m'"
        )
    return timedelta(seconds=total)


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
