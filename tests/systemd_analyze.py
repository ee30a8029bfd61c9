"""The real `systemd-analyze calendar` as the export tests' judge of OnCalendar= lines: many
calendars per call (it takes several), their next fires parsed from its output."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from crondeck.core.cronexpr import CronExpr
from crondeck.core.export import dst_differences
from crondeck.core.interval import Every

_ELAPSE = re.compile(r"(?:Next elapse|Iter\. #\d+):\s+\w{3} (\S+ \S+) UTC")
_REJECTED = re.compile(r"Failed to parse calendar specification '(.*)': (.*)")


def calendar_fires(calendars: Sequence[str], base: datetime, n: int
                   ) -> dict[str, list[datetime]]:
    """The next `n` fires after `base` of each calendar, from one systemd-analyze call;
    AssertionError naming every calendar it rejects."""
    unique = list(dict.fromkeys(calendars))
    proc = subprocess.run(
        ["systemd-analyze", "calendar", f"--base-time={base.astimezone(UTC):%Y-%m-%d %H:%M:%S} "
         "UTC", f"--iterations={n}", *unique],
        capture_output=True, text=True, env={**os.environ, "TZ": "UTC"}, check=False)
    rejected = _REJECTED.findall(proc.stdout + proc.stderr)
    assert not rejected and proc.returncode == 0, rejected or proc.stderr
    out: dict[str, list[datetime]] = {}
    for block in proc.stdout.split("\n\n"):
        original = re.search(r"Original form: (.*)", block)
        normalized = re.search(r"Normalized form: (.*)", block)
        if normalized is None:
            continue
        key = (original or normalized).group(1).strip()
        out[key] = [datetime.fromisoformat(m).replace(tzinfo=UTC)
                    for m in _ELAPSE.findall(block)]
    missing = [c for c in unique if c not in out]
    assert not missing, f"no output for {missing}"
    return out


def union_fires(lines: Sequence[str], fires: dict[str, list[datetime]], n: int
                ) -> list[datetime]:
    """The first `n` fires of OnCalendar= lines together (systemd ORs them)."""
    return sorted({t for line in lines for t in fires[line]})[:n]


def expected_fires(schedule: CronExpr | Every, start: datetime, systemd: list[datetime]
                   ) -> tuple[list[datetime], list[datetime], list]:
    """(systemd's fires, crondeck's fires, the stated DST differences): crondeck's fires after
    `start` less the ones the export says the timer skips on DST days, as many as systemd
    has; wall times repeated from midnight, which the timer runs in one pass or the other,
    are left out of both lists once it is checked that the timer ran at most one pass."""
    horizon = ((systemd[-1] - start).days if systemd else 0) + 2
    differences = dst_differences(schedule, start - timedelta(days=1), horizon)
    dropped = {t for d in differences for t in d.crondeck_only}
    either = {t for d in differences for t in d.either}
    for d in differences:
        assert len(set(systemd) & set(d.either)) <= len(d.either) // 2, d.message
    theirs = [t for t in systemd if t not in either]
    ours: list[datetime] = []
    at = start
    while len(ours) < len(theirs):
        at = schedule.next_after(at)
        t = at.astimezone(UTC)
        if t not in dropped and t not in either:
            ours.append(t)
    return theirs, ours, differences
