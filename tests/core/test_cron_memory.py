"""What many parsed expressions hold, and that the pieces they share never mix their fires."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crondeck.core import CronExpr, parse


def _own(i: int) -> str:
    """10,000 different expressions, as jobs each on a time of their own write them."""
    return f"{i % 60} {(i // 60) % 24} {(i // 1440) % 28 + 1} * *"


@pytest.mark.slow
def test_ten_thousand_expressions_of_their_own_hold_little_memory() -> None:
    # Each asked for its first fire, as a scheduler adding the job does. Before the engine
    # shared its day rules and day times between expressions this was 3.6 KiB each.
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    texts = [_own(i) for i in range(10_000)]
    held: list[CronExpr] = []
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for text in texts:
            expr = parse(text, "UTC")
            assert isinstance(expr, CronExpr)
            expr.next_after(now)
            held.append(expr)
        gc.collect()
        per_expr = (tracemalloc.get_traced_memory()[0] - base) / len(held)
    finally:
        tracemalloc.stop()
    assert per_expr < 768, f"{per_expr:.0f} bytes per parsed expression"


def test_expressions_sharing_day_rules_and_times_answer_as_if_alone() -> None:
    # Same day fields, same hours and minutes, in two zones: everything they may share is
    # shared; each is then walked interleaved with the others and must give the fires a
    # fresh copy walked alone gives.
    texts = [f"{m} {h} {d} * {w}" for m in (0, 30) for h in (1, 2, 3) for d in ("*", "1-7")
             for w in ("*", "1-5", "SUN")]
    zones = [ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")]
    exprs = [parse(t, z) for t in texts for z in zones]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    walked: list[list[datetime]] = [[] for _ in exprs]
    at = [start] * len(exprs)
    for _ in range(40):  # through both zones' spring-forward days
        for i, e in enumerate(exprs):
            at[i] = e.next_after(at[i])
            walked[i].append(at[i])
    for e, got in zip(exprs, walked, strict=True):
        assert isinstance(e, CronExpr)
        assert got == e.copy().upcoming(start, 40), e
        # and arbitrary queries between them, answered from the plan or by a new search
        for fire in got[::3]:
            assert e.next_after(fire.astimezone(UTC) - timedelta(seconds=1)) == fire
