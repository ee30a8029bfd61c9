"""Cron engine speed, side by side with croniter and cronsim in one process.

For each expression of a fixed suite, in UTC and America/New_York: the time to parse, and
the time per `next_after` over 1,000 consecutive fires (parse included once, as the peers'
iterators include theirs). Prints per-case microseconds and our speed-up as a ratio.
Run with `make bench` (croniter and cronsim are installed for this only).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from crondeck.core import parse

SUITE = [
    "* * * * *",
    "*/5 * * * *",
    "0 * * * *",
    "0 9 * * 1-5",
    "*/15 9-17 * * 1-5",
    "30 2 * * *",
    "0 0 1 * *",
    "0 0 1 1 *",
    "0 0 L * *",
    "0 12 * * 5L",
    "0 9 * * 1#2",
    "0 0 29 2 *",
    "0 0 1,15 * 0",
    "5,35 */3 1-20 */2 MON-FRI",
]
ZONES = ["UTC", "America/New_York"]
FIRES = 1000


def best_of(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """Best wall time of `repeat` runs of `number` calls, in seconds per call."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def peers() -> dict[str, tuple[Callable, Callable]]:
    """name -> (parse(expr, start), iterate(expr, start, n)) for each installed peer."""
    out: dict[str, tuple[Callable, Callable]] = {}
    try:
        from cronsim import CronSim

        def cs_iter(expr: str, start: datetime, n: int) -> datetime:
            it = CronSim(expr, start)
            for _ in range(n):
                dt = next(it)
            return dt

        out["cronsim"] = (lambda e, s: CronSim(e, s), cs_iter)
    except ImportError:
        pass
    try:
        from croniter import croniter

        def ci_iter(expr: str, start: datetime, n: int) -> datetime:
            it = croniter(expr, start)
            for _ in range(n):
                dt = it.get_next(datetime)
            return dt

        out["croniter"] = (lambda e, s: croniter(e, s), ci_iter)
    except ImportError:
        pass
    return out


def ours_iter(expr: str, tz: ZoneInfo, start: datetime, n: int) -> datetime:
    sched = parse(expr, tz)
    dt = start
    for _ in range(n):
        dt = sched.next_after(dt)
    return dt


def supported(peer_parse: Callable, expr: str, start: datetime) -> bool:
    try:
        peer_parse(expr, start)
    except Exception:
        return False
    return True


def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def measure(
    expr: str, tz: ZoneInfo, others: dict[str, tuple[Callable, Callable]]
) -> dict[str, dict[str, float | None]]:
    """op -> implementation -> seconds per call (None where a peer rejects the expression)."""
    start = datetime(2026, 1, 1, 0, 0, 30, tzinfo=tz)
    out: dict[str, dict[str, float | None]] = {
        "parse": {"crondeck": best_of(lambda: parse(expr, tz), repeat=5, number=200)},
        "next": {"crondeck": best_of(lambda: ours_iter(expr, tz, start, FIRES), repeat=3) / FIRES},
    }
    for name, (p_parse, p_iter) in others.items():
        ok = supported(p_parse, expr, start)
        out["parse"][name] = (
            best_of(lambda pp=p_parse: pp(expr, start), repeat=5, number=200) if ok else None
        )
        out["next"][name] = (
            best_of(lambda pi=p_iter: pi(expr, start, FIRES), repeat=3) / FIRES if ok else None
        )
    return out


def main() -> int:
    others = peers()
    names = list(others)
    print(f"cron engine: parse, and next_after over {FIRES} consecutive fires (µs per call)")
    head = f"{'zone':17} {'expression':27} {'op':5} {'crondeck':>9}"
    for n in names:
        head += f" {n:>9} {'×':>6}"
    print(head)
    ratios: dict[tuple[str, str], list[float]] = {}
    for zone_name in ZONES:
        tz = ZoneInfo(zone_name)
        for expr in SUITE:
            times = measure(expr, tz, others)
            for op, row in times.items():
                ours = row["crondeck"]
                assert ours is not None
                line = f"{zone_name:17} {expr:27} {op:5} {ours * 1e6:9.2f}"
                for n in names:
                    t = row[n]
                    if t is None:
                        line += f" {'n/a':>9} {'':>6}"
                        continue
                    ratios.setdefault((n, op), []).append(t / ours)
                    line += f" {t * 1e6:9.2f} {t / ours:5.1f}×"
                print(line)
    print()
    for (n, op), rs in ratios.items():
        print(
            f"{op:5} vs {n:9}: geometric mean {geomean(rs):6.1f}× faster, "
            f"worst case {min(rs):5.1f}×"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
