"""A day's busiest minutes (`make bench`): 10,000 cron jobs, a `* * * * *`-heavy mix, crondeck
side by side with APScheduler 3.11 on the real clock, each in fresh processes, interleaved.

The jobs (shared expression strings, as users write them; m2/h2 are B2's minute and hour):
  60 %  `* * * * *`                   every minute
  15 %  `*/5 * * * *` when m2 is a multiple of 5, else `{m2 % 5}-59/5 * * * *`, so
        they fall on B2 either way (and never on B1, the minute before it)
  15 %  `{m2} * * * *`                hourly
  10 %  `{m2} {h2} * * *`             daily
A day's minutes differ only by which kinds of job coincide, so each child measures two
consecutive minute boundaries: B1, an ordinary minute (the every-minute jobs only: 6,000 due)
and B2, the busiest minute of the day (every kind at once: all 10,000 due). Each agent is a
distinct job running the same coroutine, which records `time.time()` as its first
instruction; lateness = that stamp - the boundary it ran for. Reported per boundary and
overall: p50/p99/max, crondeck / APScheduler as a ratio, target <= 0.5 (p50 and p99).

crondeck: `Scheduler(max_concurrent_runs=10000)`, `add_job(agent, None, expr, name=...)`.
APScheduler: AsyncIOScheduler(timezone=UTC), one `CronTrigger.from_crontab(expr, UTC)` per
distinct expression shared by its jobs, misfire_grace_time an hour, coalesce=False.

Each child starts at least 10 s before its B1 (the jobs are added meanwhile) and returns once
B2's runs are in (at most 30 s after B2). Two boundaries a minute apart per child, four
children, each next one's B1 the minute after the last one's B2: about 7-8.5 minutes of wall
time (with the wait for the first B1), mostly idle. Every run is counted against the runs due,
and the count is printed.

`python benchmarks/bench_day.py` runs it; `BENCH_DAY_N=500` makes it smaller (for
development); `--one LIB B1_TIMESTAMP N` is one child.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_scheduler import _pcts  # benchmarks/ is on the path: run as a script or suite

RUNS = 2
N = int(os.environ.get("BENCH_DAY_N", "10000"))
LEAD_S = 10.0  # a child starts at least this long before its B1
STOP_AFTER_S = 30.0  # the bounded wait for B2's runs


def mix(n: int, b2: datetime) -> list[str]:
    """The n jobs' expressions, with B2 (a whole minute) as the busiest minute."""
    m2, h2 = b2.minute, b2.hour
    five = "*/5 * * * *" if m2 % 5 == 0 else f"{m2 % 5}-59/5 * * * *"
    n_every, n_five, n_hourly = n * 60 // 100, n * 15 // 100, n * 15 // 100
    n_daily = n - n_every - n_five - n_hourly
    return (["* * * * *"] * n_every + [five] * n_five + [f"{m2} * * * *"] * n_hourly
            + [f"{m2} {h2} * * *"] * n_daily)


def _summary(runs: list[tuple[float, float]], b1: float, b2: float, n: int,
             n_b1: int, setup_s: float) -> dict[str, Any]:
    late = {"b1": [(s - b1) * 1000 for slot, s in runs if slot == b1],
            "b2": [(s - b2) * 1000 for slot, s in runs if slot == b2]}
    out: dict[str, Any] = {k: _pcts(v) for k, v in late.items()}
    out["all"] = _pcts(late["b1"] + late["b2"])
    out["expected"] = {"b1": n_b1, "b2": n}
    out["setup_s"] = setup_s
    return out


def _slot(stamp: float, b1: float, b2: float) -> float:
    # the boundary a run was for: B2's runs cannot start much before B2
    return b2 if stamp >= b2 - 1.0 else b1


class _Recorder:
    """What each run's agent records: its first instruction's time and the boundary it was
    for; `all_in` is set once every job has run for B2."""

    def __init__(self, b1: float, b2: float, n: int) -> None:
        self.b1, self.b2, self.n = b1, b2, n
        self.runs: list[tuple[float, float]] = []
        self.all_in = asyncio.Event()
        self.b2_seen = 0

    async def agent(self) -> None:
        stamp = time.time()
        slot = _slot(stamp, self.b1, self.b2)
        self.runs.append((slot, stamp))
        if slot == self.b2:
            self.b2_seen += 1
            if self.b2_seen == self.n:
                self.all_in.set()


# ------------------------------------------------------------------------ the children


def cd_day(b1: float, n: int) -> dict[str, Any]:
    from crondeck.core import Scheduler

    b2 = b1 + 60
    exprs = mix(n, datetime.fromtimestamp(b2, UTC))
    rec = _Recorder(b1, b2, n)
    agent, all_in = rec.agent, rec.all_in

    t0 = time.perf_counter()
    s = Scheduler(max_concurrent_runs=10000)
    for i, expr in enumerate(exprs):
        s.add_job(agent, None, expr, name=f"day-{i}", tz="UTC")
    setup_s = time.perf_counter() - t0
    gc.collect()
    if time.time() > b1 - 1:
        raise RuntimeError(f"setup took {setup_s:.1f} s, past B1")

    async def main() -> None:
        task = asyncio.create_task(s.astart())
        try:
            await asyncio.wait_for(all_in.wait(), b2 + STOP_AFTER_S - time.time())
        except TimeoutError:
            pass
        s.stop()
        await task

    asyncio.run(main())
    return _summary(rec.runs, b1, b2, n, exprs.count("* * * * *"), setup_s)


def aps_day(b1: float, n: int) -> dict[str, Any]:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.cron import CronTrigger

    b2 = b1 + 60
    exprs = mix(n, datetime.fromtimestamp(b2, UTC))
    rec = _Recorder(b1, b2, n)
    agent, all_in = rec.agent, rec.all_in

    setup: list[float] = []

    async def main() -> None:
        t0 = time.perf_counter()
        s = AsyncIOScheduler(timezone=UTC)
        s.start()
        triggers = {e: CronTrigger.from_crontab(e, timezone=UTC) for e in set(exprs)}
        for i, expr in enumerate(exprs):
            s.add_job(agent, triggers[expr], id=f"day-{i}", misfire_grace_time=3600,
                      coalesce=False)
        setup.append(time.perf_counter() - t0)
        gc.collect()
        if time.time() > b1 - 1:
            raise RuntimeError(f"setup took {setup[0]:.1f} s, past B1")
        try:
            await asyncio.wait_for(all_in.wait(), b2 + STOP_AFTER_S - time.time())
        except TimeoutError:
            pass
        s.shutdown(wait=False)

    asyncio.run(main())
    return _summary(rec.runs, b1, b2, n, exprs.count("* * * * *"), setup[0])


CHILDREN = {"crondeck": cd_day, "apscheduler": aps_day}

# (which boundary, key, label); target: the largest crondeck/APScheduler ratio
ROWS = [
    ("b1", "p50", "B1, an ordinary minute (every-minute jobs): p50", 0.5),
    ("b1", "p99", "                                            p99", 0.5),
    ("b1", "max", "                                            max", None),
    ("b2", "p50", "B2, the busiest minute (every job due):     p50", 0.5),
    ("b2", "p99", "                                            p99", 0.5),
    ("b2", "max", "                                            max", None),
    ("all", "p50", "both boundaries, every run:                 p50", 0.5),
    ("all", "p99", "                                            p99", 0.5),
    ("all", "max", "                                            max", None),
]


def _next_b1() -> float:
    """The next whole minute at least LEAD_S from now."""
    return (int(time.time() + LEAD_S) // 60 + 1) * 60.0


def _child(lib: str, n: int) -> dict[str, Any]:
    b1 = _next_b1()
    load0 = os.getloadavg()[0]
    out = subprocess.run([sys.executable, __file__, "--one", lib, str(b1), str(n)],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{lib} day failed:\n{out.stderr}")
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    got["load"] = [load0, os.getloadavg()[0]]
    got["b1_utc"] = datetime.fromtimestamp(b1, UTC).strftime("%H:%M")
    return got


def _fmt(values: list[float]) -> str:
    mid = statistics.median(values)
    prec = 2 if mid < 10 else (1 if mid < 100 else 0)
    return f"{mid:.{prec}f} ({min(values):.{prec}f}-{max(values):.{prec}f})"


def main() -> dict[str, Any]:
    got: dict[str, list[dict[str, Any]]] = {lib: [] for lib in CHILDREN}
    for _ in range(RUNS):  # interleaved, so both see the same load
        for lib in CHILDREN:
            got[lib].append(_child(lib, N))
    loads = [x for rs in got.values() for r in rs for x in r["load"]]
    b1_at = sorted({r["b1_utc"] for rs in got.values() for r in rs})
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {N:,} cron jobs "
          f"(60% `* * * * *`, 15% every 5 min, 15% hourly, 10% daily), {RUNS} fresh processes "
          f"each, interleaved; median (min-max over runs); load average "
          f"{min(loads):.1f}-{max(loads):.1f}; B1 at {', '.join(b1_at)} UTC")
    width = 48
    print(f"{'first line late':<{width}}  {'crondeck':>22}  {'APScheduler 3.11':>22}  "
          f"{'ratio':>6}  target")
    summary: dict[str, Any] = {}
    for which, key, label, target in ROWS:
        cd = [r[which][key] for r in got["crondeck"]]
        ap = [r[which][key] for r in got["apscheduler"]]
        ratio = statistics.median(cd) / statistics.median(ap) if statistics.median(ap) else 0
        tgt = "" if target is None else f"ratio <= {target:g}" + (
            "" if ratio <= target else " MISSED")
        print(f"{label:<{width}}  {_fmt(cd) + ' ms':>22}  {_fmt(ap) + ' ms':>22}  "
              f"{ratio:>6.2f}  {tgt}")
        summary[f"{which}.{key}"] = {"crondeck": cd, "apscheduler": ap, "ratio": ratio}
    for lib, rs in got.items():
        counts = ", ".join(f"B1 {r['b1']['n']}/{r['expected']['b1']} "
                           f"B2 {r['b2']['n']}/{r['expected']['b2']}" for r in rs)
        setups = ", ".join(f"{r['setup_s']:.2f}" for r in rs)
        print(f"{lib}: runs in / due per child: {counts}; adding the jobs: {setups} s")
    return summary


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        sys.path.insert(0, str(Path(__file__).parent))
        print(json.dumps(CHILDREN[sys.argv[2]](float(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
