"""How times read on screen: countdowns (`in 4m 12s`, `in 2d 3h`), ages (`3m ago`),
durations (`1m 05s`) and wall-clock times in the operator's zone. Pure functions."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

__all__ = ["LARGE_SCHEDULE", "ago", "attached_line", "clock_time", "compact_json", "countdown",
           "duration", "escape_controls", "money", "short_span", "token_count"]

# From this many jobs a front end makes what it shows of each job lazily: a console draws its
# first screen from a few hundred rows and makes the rest after it, and a mirror reads each
# job of a first snapshot in full only when first needed.
LARGE_SCHEDULE = 20_000

# C0 controls but tab and newline, DEL, and C1 controls (a terminal may take U+009B as CSI).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def short_span(seconds: float) -> str:
    """Two most significant units, e.g. `12s`, `4m 12s`, `3h 05m`, `2d 3h`."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h {m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h}h"


def countdown(seconds: float | None) -> str:
    """Time left until a fire: `in 4m 12s`; `due` when it is now or past; `—` when never."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return "due"
    return f"in {short_span(seconds)}"


def ago(seconds: float | None) -> str:
    """Time since something happened, one unit: `just now`, `12s ago`, `3m ago`, `2d ago`."""
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 1:
        return "just now"
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m ago"
    if s < 86400:
        return f"{s // 3600}h ago"
    return f"{s // 86400}d ago"


def duration(seconds: float | None) -> str:
    """How long a run took or has been going: `0.4s`, `12s`, `4m 12s`, `1h 05m`."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{max(seconds, 0):.1f}s"
    return short_span(seconds)


def clock_time(when: datetime | None, zone: tzinfo, now: datetime) -> str:
    """A wall-clock time in `zone`: `14:05:00` today, `Tue 14:05` within a week, else the date."""
    if when is None:
        return "—"
    local = when.astimezone(zone)
    today = now.astimezone(zone).date()
    if local.date() == today:
        return local.strftime("%H:%M:%S")
    if abs((local.date() - today).days) < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def money(amount: float) -> str:
    """A cost in dollars, short enough for a narrow column: `$0.42`, `$12.30`, `$431`, `$1.2k`."""
    if amount < 100:
        return f"${amount:.2f}"
    if amount < 10_000:
        return f"${amount:.0f}"
    return f"${amount / 1000:.1f}k"


def token_count(tokens: int) -> str:
    """A token count in at most six characters: `950`, `12.3k`, `4.1M`."""
    if tokens < 1000:
        return str(tokens)
    if tokens < 1_000_000:
        return f"{tokens / 1000:.1f}k"
    return f"{tokens / 1_000_000:.1f}M"


def clip(text: str, width: int) -> str:
    """`text` in at most `width` characters, an ellipsis marking a cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def uses_model(*, priced: bool, budget: int | None, tokens: int, cost: float) -> bool:
    """Does a job run a model (a price, a token budget, or tokens or cost spent)? Such jobs
    get the TOKENS/COST columns in `crondeck list` and the app's COST column."""
    return bool(priced or budget or tokens or cost)


def compact_json(value: Any, limit: int = 60) -> str:
    """A parsed output contract on one line (`{"count": 3}`), cut to `limit` characters with
    `…`: history rows show it beside the run, the full value is in `history --json`."""
    text = json.dumps(value, ensure_ascii=False, default=str)  # strings' newlines stay escaped
    return clip(text, limit)


def escape_controls(text: str) -> str:
    """`text` with terminal control characters shown as `\\x1b`-style escapes, so agent output
    cannot retitle, clear or write the clipboard of the terminal it is shown in. Tabs,
    newlines and every printable character (UTF-8 included) are kept as they are."""
    if _CONTROLS.search(text) is None:
        return text
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def attached_line(hello: Mapping[str, Any] | None, now: datetime) -> str:
    """Which scheduler a console follows, from the control protocol's hello: `attached to
    crondeck run, pid 4121, up 3d 2h` (the parts the hello lacks are left out)."""
    hello = hello or {}
    parts = [f"attached to {hello.get('kind') or 'a scheduler'}"]
    if hello.get("pid"):
        parts.append(f"pid {hello['pid']}")
    started = hello.get("started_at")
    try:
        since = (started if isinstance(started, datetime)
                 else datetime.fromisoformat(str(started))) if started else None
    except ValueError:
        since = None
    if since is not None and since.tzinfo is not None:
        parts.append(f"up {short_span((now - since).total_seconds())}")
    return ", ".join(parts)
