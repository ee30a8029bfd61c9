"""Time zones by IANA name, with the machine's local zone named explicitly."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = ["ZoneError", "get_zone", "local_zone"]


class ZoneError(ValueError):
    """An unknown time zone name; the message suggests the nearest IANA names, also kept in
    `suggestions` (for a short message where room is scarce)."""

    def __init__(self, message: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.suggestions = suggestions


@cache
def _zone_names() -> tuple[str, ...]:
    """Every IANA name, sorted: read once (the editor checks a zone on each keystroke)."""
    return tuple(sorted(available_timezones()))


def _nearest(name: str, n: int = 3) -> list[str]:
    """The zones `name` most likely meant: the same name in another case ('utc'), names it
    begins ('europe/ber'), then the closest spellings; case ignored throughout (difflib
    alone offered nothing for 'utc' and 'Europe/Jersey' first for 'europe/ber')."""
    zones = _zone_names()
    by_lower = {z.lower(): z for z in zones}
    key = name.strip().lower()
    found = [by_lower[key]] if key in by_lower else []
    found += [z for z in zones if z.lower().startswith(key) and z not in found]
    import difflib  # here: only a misspelt name needs it

    close = difflib.get_close_matches(key, list(by_lower), n=n, cutoff=0.6)
    found += [by_lower[c] for c in close if by_lower[c] not in found]
    return found[:n]


@cache
def get_zone(name: str) -> ZoneInfo:
    """ZoneInfo for an IANA name ("Europe/Berlin", "UTC"), or a ZoneError with suggestions."""
    if not isinstance(name, str):
        raise ZoneError(f"a time zone is an IANA name like 'Europe/Berlin' or 'UTC' (or a "
                        f"ZoneInfo), not {type(name).__name__} {name!r}")
    if not name.strip():
        raise ZoneError("empty time zone: use an IANA name like 'Europe/Berlin' or 'UTC'")
    try:
        if name.startswith("/") or ".." in name:
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError, OSError):
        close = _nearest(name)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ZoneError(
            f"unknown time zone {name!r}: use an IANA name like 'Europe/Berlin'{hint}",
            tuple(close),
        ) from None


@cache
def local_zone() -> ZoneInfo:
    """The machine's zone as a named IANA zone ($TZ, /etc/timezone, /etc/localtime), else UTC."""
    for candidate in _local_names():
        try:
            return get_zone(candidate)
        except ZoneError:
            continue
    return ZoneInfo("UTC")


def _local_names() -> list[str]:
    names = []
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        names.append(env)
    try:
        names.append(Path("/etc/timezone").read_text().strip())
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            names.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    return [n for n in names if n]
