"""Scheduler benchmark (`make bench`): crondeck side by side with APScheduler 3.11, measured
where the user's code runs, each measure in fresh processes, three runs, with the spread.

Measures (crondeck / APScheduler as a ratio; below 1 is crondeck ahead):
- first-line lateness: 1,000 coroutine agents due at one instant (max_concurrent_runs 1000);
  each records `time.time()` as its first instruction; lateness = that - the instant.
  APScheduler: AsyncIOScheduler, one DateTrigger job per agent, the same coroutine.
- process lateness: 100 command agents due at one instant; the command is `date +%s.%N`,
  which prints its own clock reading as its first act after exec: the moment the child
  process exists (plus its exec). APScheduler: a coroutine job that starts the same command
  with asyncio.create_subprocess_exec and reads its stdout. Beside them, interleaved, the
  measure's floor on this machine (`floor_process`): the children's own exec and start.
- memory: 10,000 cron jobs, with 6 shared expressions and with 10,000 distinct ones
  ("m h d * *"): tracemalloc after gc (Python heap) and the RSS delta (separate processes).
- 100,000 jobs: time to add them and the whole process's RSS afterwards.
- idle CPU: 10,000 jobs none due within the hour; process CPU time / wall over 5 s.

Secondary, internal: `RunResult.started_at - scheduled_for` (a timestamp crondeck writes about
itself before the agent is entered), kept only to watch the dispatch path on its own.

`python benchmarks/bench_scheduler.py` runs it all; `--one LIB MEASURE` is one child.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

RUNS = 3
SHARED = ["*/5 * * * *", "0 * * * *", "15 9 * * 1-5", "0 0 1 * *", "30 2 * * 0",
          "*/15 8-18 * * *"]
DATE_CMD = ["date", "+%s.%N"]


def _distinct(i: int) -> str:
    return f"{i % 60} {(i // 60) % 24} {(i // 1440) % 28 + 1} * *"


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _due(lead_s: float) -> datetime:
    """An instant on a whole second at least `lead_s` from now."""
    now = datetime.now(UTC)
    return (now + timedelta(seconds=lead_s + 1)).replace(microsecond=0)


def _pcts(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    if not v:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan"), "n": 0}

    def pct(p: float) -> float:
        return v[min(len(v) - 1, max(0, round(p / 100 * (len(v) - 1))))]

    return {"p50": pct(50), "p99": pct(99), "max": v[-1], "n": len(v)}


# ----------------------------------------------------------------- crondeck children


def cd_first_line(n: int = 1000) -> dict[str, float]:
    from crondeck.core import Scheduler, every

    stamps: list[float] = []

    async def agent() -> None:
        stamps.append(time.time())

    s = Scheduler(max_concurrent_runs=1000)
    due = _due(1.5)
    for i in range(n):
        s.add_job(agent, None, every(hours=1, start=due), name=f"d-{i}", max_runs=1)
    gc.collect()
    asyncio.run(s.astart(until=due + timedelta(seconds=30), stop_when_done=True))
    t = due.timestamp()
    return _pcts([(x - t) * 1000 for x in stamps])


def cd_process(n: int = 100) -> dict[str, float]:
    from crondeck.core import CommandAgent, RunResult, Scheduler, every

    results: list[RunResult] = []
    s = Scheduler(max_concurrent_runs=1000)
    due = _due(1.5)
    agent = CommandAgent(DATE_CMD)
    for i in range(n):
        s.add_job(agent, None, every(hours=1, start=due), name=f"c-{i}", max_runs=1,
                  on_result=results.append)
    gc.collect()
    asyncio.run(s.astart(until=due + timedelta(seconds=30), stop_when_done=True))
    t = due.timestamp()
    return _pcts([(float(r.output_tail) - t) * 1000 for r in results if r.ok])


def floor_process(n: int = 100) -> dict[str, float]:
    """The floor of the process measure on this machine: `n` shells held as crondeck holds
    them (waiting for a line, then exec'ing the command), released at the instant in a tight
    loop by a process doing nothing else. What is left is the children's own exec and start,
    the least any scheduler starting `n` processes at one instant could be late by here."""
    due = _due(1.5)
    held = []
    for _ in range(n):
        r, w = os.pipe()
        child = subprocess.Popen(["/bin/sh", "-c", 'IFS= read -r line; exec "$@"', "held",
                                  *DATE_CMD], stdin=r, stdout=subprocess.PIPE,
                                 start_new_session=True)
        os.close(r)
        held.append((child, w))
    t = due.timestamp()
    time.sleep(max(0.0, t - time.time() - 0.005))
    while time.time() < t:  # the last few milliseconds spun, not slept
        pass
    for _, w in held:
        os.write(w, b"\n")
        os.close(w)
    stamps = []
    for child, _ in held:
        assert child.stdout is not None
        stamps.append(float(child.stdout.read()))
        child.wait()
    return _pcts([(x - t) * 1000 for x in stamps])


def cd_internal(n: int = 1000) -> dict[str, float]:
    """Secondary: started_at - scheduled_for, as crondeck records it."""
    from crondeck.core import RunResult, Scheduler, every

    async def agent() -> None:
        pass

    results: list[RunResult] = []
    s = Scheduler(max_concurrent_runs=1000)
    due = _due(1.5)
    for i in range(n):
        s.add_job(agent, None, every(hours=1, start=due), name=f"d-{i}", max_runs=1,
                  on_result=results.append)
    asyncio.run(s.astart(until=due + timedelta(seconds=30), stop_when_done=True))
    return _pcts([(r.started_at - r.scheduled_for).total_seconds() * 1000
                  for r in results if r.started_at is not None])


async def _noop() -> None:
    pass


def cd_add(n: int, shared: bool) -> Any:
    from crondeck.core import Scheduler

    s = Scheduler()
    t0 = time.perf_counter()
    for i in range(n):
        s.add_job(_noop, None, SHARED[i % 6] if shared else _distinct(i), name=f"j-{i}",
                  tz="UTC")
    return s, time.perf_counter() - t0


def cd_idle(n: int = 10_000, seconds: float = 5.0) -> dict[str, float]:
    from crondeck.core import Scheduler, every

    far = datetime.now(UTC) + timedelta(hours=1)
    s = Scheduler()
    for i in range(n):
        s.add_job(_noop, None, every(hours=24, start=far), name=f"idle-{i}")

    async def main() -> float:
        task = asyncio.create_task(s.astart())
        await asyncio.sleep(0.5)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        s.stop()
        await task
        return cpu / wall

    return {"cpu": asyncio.run(main()) * 100}


def cd_redact(n: int = 100_000) -> dict[str, float]:
    """µs per output line through a run's stream redactor: a plain log line, and one that
    carries a secret value and a token."""
    from crondeck.core.redaction import Redactor

    redactor = Redactor({"hunter2-swordfish": "DB_PASSWORD", "tok:9f8e7d6c": "API_TOKEN"})
    plain = "2026-11-22 07:00:01 INFO processed 42 messages from inbox, 3 flagged\n"
    secret = "login with hunter2-swordfish and sk-abcdefghijklmnopqrstuvwx for the API\n"
    out = []
    for line in (plain, secret):
        stream = redactor.stream()
        t0 = time.perf_counter()
        for _ in range(n):
            stream.feed(line)
        out.append((time.perf_counter() - t0) / n * 1e6)
    return {"plain_us": out[0], "secret_us": out[1]}


# ----------------------------------------------------------------- APScheduler children


def aps_first_line(n: int = 1000) -> dict[str, float]:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.date import DateTrigger

    stamps: list[float] = []
    all_in = asyncio.Event()

    async def agent() -> None:
        stamps.append(time.time())
        if len(stamps) == n:
            all_in.set()

    due = _due(1.5)

    async def main() -> None:
        s = AsyncIOScheduler(timezone=UTC)
        s.start()
        for i in range(n):
            s.add_job(agent, DateTrigger(run_date=due), id=f"d-{i}")
        gc.collect()
        await asyncio.wait_for(all_in.wait(), due.timestamp() + 30 - time.time())
        s.shutdown(wait=False)

    asyncio.run(main())
    t = due.timestamp()
    return _pcts([(x - t) * 1000 for x in stamps])


def aps_process(n: int = 100) -> dict[str, float]:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.date import DateTrigger

    stamps: list[float] = []
    all_in = asyncio.Event()

    async def job() -> None:
        proc = await asyncio.create_subprocess_exec(*DATE_CMD, stdout=subprocess.PIPE)
        out, _ = await proc.communicate()
        stamps.append(float(out))
        if len(stamps) == n:
            all_in.set()

    due = _due(1.5)

    async def main() -> None:
        s = AsyncIOScheduler(timezone=UTC)
        s.start()
        for i in range(n):
            s.add_job(job, DateTrigger(run_date=due), id=f"c-{i}")
        gc.collect()
        await asyncio.wait_for(all_in.wait(), due.timestamp() + 30 - time.time())
        s.shutdown(wait=False)

    asyncio.run(main())
    t = due.timestamp()
    return _pcts([(x - t) * 1000 for x in stamps])


def aps_add(n: int, shared: bool) -> Any:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.cron import CronTrigger

    out: list[Any] = []

    async def main() -> None:
        s = AsyncIOScheduler(timezone=UTC)
        s.start()
        # shared: one trigger object per expression, reused by every job that has it
        triggers = [CronTrigger.from_crontab(e, timezone=UTC) for e in SHARED]
        t0 = time.perf_counter()
        for i in range(n):
            trigger = (triggers[i % 6] if shared
                       else CronTrigger.from_crontab(_distinct(i), timezone=UTC))
            s.add_job(_noop, trigger, id=f"j-{i}")
        out.extend([s, time.perf_counter() - t0])  # not shut down: that empties its store

    asyncio.run(main())
    return out[0], out[1]


def aps_idle(n: int = 10_000, seconds: float = 5.0) -> dict[str, float]:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    far = datetime.now(UTC) + timedelta(hours=1)

    async def main() -> float:
        s = AsyncIOScheduler(timezone=UTC)
        s.start()
        for i in range(n):
            s.add_job(_noop, IntervalTrigger(hours=24, start_date=far), id=f"idle-{i}")
        await asyncio.sleep(0.5)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        s.shutdown(wait=False)
        return cpu / wall

    return {"cpu": asyncio.run(main()) * 100}


# ------------------------------------------------------------- shared child measures


def mem_heap(lib: str, shared: bool, n: int = 10_000) -> dict[str, float]:
    import tracemalloc

    add = cd_add if lib == "crondeck" else aps_add
    add(10, shared)  # imports and first-use caches are not the jobs' memory
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    held, _ = add(n, shared)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    del held
    return {"kib_per_job": used / n / 1024, "mib": used / 2**20}


def mem_rss(lib: str, shared: bool, n: int = 10_000) -> dict[str, float]:
    add = cd_add if lib == "crondeck" else aps_add
    add(10, shared)
    gc.collect()
    base = _rss()
    held, _ = add(n, shared)
    gc.collect()
    used = _rss() - base
    del held
    return {"kib_per_job": used / n / 1024, "mib": used / 2**20}


def big(lib: str, n: int = 100_000) -> dict[str, float]:
    add = cd_add if lib == "crondeck" else aps_add
    _held, secs = add(n, True)
    gc.collect()
    return {"add_s": secs, "rss_mib": _rss() / 2**20,
            "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _both(fn: Any, *args: Any) -> dict[str, Any]:
    return {lib: (lambda lib=lib: fn(lib, *args)) for lib in ("crondeck", "apscheduler")}


MEASURES: dict[str, dict[str, Any]] = {
    "first_line": {"crondeck": cd_first_line, "apscheduler": aps_first_line},
    "process": {"crondeck": cd_process, "apscheduler": aps_process, "floor": floor_process},
    "heap_shared": _both(mem_heap, True),
    "heap_distinct": _both(mem_heap, False),
    "rss_shared": _both(mem_rss, True),
    "rss_distinct": _both(mem_rss, False),
    "jobs_100k": _both(big),
    "idle": {"crondeck": cd_idle, "apscheduler": aps_idle},
    "internal": {"crondeck": cd_internal},
    "redact": {"crondeck": cd_redact},
}

# (measure, key, label, unit, target: the largest crondeck/APScheduler ratio, or an absolute)
ROWS = [
    ("first_line", "p50", "1,000 coroutine agents, first line late: p50", "ms", 0.5),
    ("first_line", "p99", "                                        p99", "ms", 0.5),
    ("first_line", "max", "                                        max", "ms", None),
    ("process", "p50", "100 command agents, process exists late: p50", "ms", 0.5),
    ("process", "p99", "                                         p99", "ms", 0.5),
    ("process", "max", "                                         max", "ms", None),
    ("heap_shared", "kib_per_job", "10,000 cron jobs, 6 shared exprs: heap/job", "KiB", 0.8),
    ("rss_shared", "kib_per_job", "                                  RSS/job", "KiB", None),
    ("heap_distinct", "kib_per_job", "10,000 cron jobs, distinct exprs: heap/job", "KiB", 1.0),
    ("rss_distinct", "kib_per_job", "                                  RSS/job", "KiB", 1.0),
    ("jobs_100k", "add_s", "100,000 jobs: add", "s", 1.5),
    ("jobs_100k", "rss_mib", "100,000 jobs: process RSS", "MiB", 100.0),
    ("idle", "cpu", "idle CPU, 10,000 jobs (% of a core)", "%", 1.0),
]


def _child(lib: str, measure: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--one", lib, measure],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{lib} {measure} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _fmt(values: list[float]) -> str:
    mid = statistics.median(values)
    prec = 2 if mid < 10 else (1 if mid < 100 else 0)
    return f"{mid:.{prec}f} ({min(values):.{prec}f}-{max(values):.{prec}f})"


def main(measures: list[str] | None = None) -> dict[str, Any]:
    names = measures or list(MEASURES)
    got: dict[str, dict[str, list[dict[str, float]]]] = {}
    for name in names:
        for _ in range(RUNS):  # interleaved, so both see the same load
            for lib, _fn in MEASURES[name].items():
                got.setdefault(name, {}).setdefault(lib, []).append(_child(lib, name))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"{RUNS} fresh processes each; median (min-max over runs)")
    width = 46
    print(f"{'scheduler':<{width}}  {'crondeck':>22}  {'APScheduler 3.11':>22}  "
          f"{'ratio':>6}  target")
    summary: dict[str, Any] = {}
    for measure, key, label, unit, target in ROWS:
        if measure not in got:
            continue
        cd = [r[key] for r in got[measure]["crondeck"]]
        ap = [r[key] for r in got[measure]["apscheduler"]]
        ratio = statistics.median(cd) / statistics.median(ap) if statistics.median(ap) else 0
        if target is None:
            tgt = ""
        elif measure in ("first_line", "process", "heap_distinct", "rss_distinct"):
            tgt = f"ratio <= {target:g}"
        elif measure == "heap_shared":
            tgt = f"<= APScheduler, < {target:g} KiB"
        else:
            tgt = f"< {target:g} {unit}"
        print(f"{label:<{width}}  {_fmt(cd) + ' ' + unit:>22}  {_fmt(ap) + ' ' + unit:>22}  "
              f"{ratio:>6.2f}  {tgt}")
        summary[f"{measure}.{key}"] = {"crondeck": cd, "apscheduler": ap, "ratio": ratio}
    if "floor" in got.get("process", {}):
        fl, ap = got["process"]["floor"], got["process"]["apscheduler"]
        best = [statistics.median([r[k] for r in fl]) / statistics.median([r[k] for r in ap])
                for k in ("p50", "p99")]
        print(f"the process measure's floor here (100 held shells released in a tight loop by a "
              f"process doing nothing else): p50 {_fmt([r['p50'] for r in fl])} ms, "
              f"p99 {_fmt([r['p99'] for r in fl])} ms; the best ratio any scheduler could "
              f"reach on this machine: {best[0]:.2f} / {best[1]:.2f}")
    if "internal" in got:
        rs = got["internal"]["crondeck"]
        print(f"secondary, internal (started_at - scheduled_for, written by crondeck itself), "
              f"1,000 agents: p50 {_fmt([r['p50'] for r in rs])} ms, "
              f"p99 {_fmt([r['p99'] for r in rs])} ms")
    if "redact" in got:
        rs = got["redact"]["crondeck"]
        print(f"redact output, µs per line: plain {_fmt([r['plain_us'] for r in rs])}, "
              f"with secrets {_fmt([r['secret_us'] for r in rs])}")
    return summary


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        sys.path.insert(0, str(Path(__file__).parent))
        print(json.dumps(MEASURES[sys.argv[3]][sys.argv[2]]()))
    else:
        main(sys.argv[1:] or None)
