"""Scheduler benchmark (`make bench`): add time for 10,000 jobs, idle CPU, dispatch lateness.

Targets: 10,000 jobs added in under 1 s; idle CPU below 1% of a core; p99 dispatch
lateness (scheduled instant -> run start) under 50 ms for 1,000 Python agents due together
with max_concurrent_runs=1000. The same with 100 command agents is reported too.

Run directly (`python benchmarks/bench_scheduler.py`) or via `main()` from benchmarks/run.py.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from datetime import UTC, datetime, timedelta

from crondeck.core import CommandAgent, RunResult, Scheduler, cron, every

CRONS = ["*/5 * * * *", "0 * * * *", "15 9 * * 1-5", "0 0 1 * *", "30 2 * * 0", "*/15 8-18 * * *"]


async def _noop(prompt: str) -> str:
    return ""


def bench_add(n: int = 10_000) -> float:
    """Seconds to add `n` jobs, mixed cron (in a few zones) and interval schedules."""
    schedules = [cron(expr, tz=tz) for expr in CRONS for tz in ("UTC", "Europe/Berlin")]
    schedules += [every(seconds=s) for s in (30, 60, 90, 300, 3600)]
    s = Scheduler()
    t0 = time.perf_counter()
    for i in range(n):
        s.add_job(_noop, "p", schedules[i % len(schedules)], name=f"job-{i}")
    return time.perf_counter() - t0


def bench_idle(seconds: float = 3.0, n: int = 10_000) -> float:
    """CPU used by the loop (fraction of one core) with `n` jobs none of which is due soon."""
    far = datetime.now(UTC) + timedelta(days=1)
    s = Scheduler()
    for i in range(n):
        s.add_job(_noop, "p", every(hours=24, start=far), name=f"idle-{i}")

    async def main() -> float:
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await asyncio.sleep(0.2)  # let startup settle
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        s.stop()
        await task
        return cpu / wall

    return asyncio.run(main())


def _lateness(results: list[RunResult]) -> list[float]:
    return sorted(
        (r.started_at - r.scheduled_for).total_seconds() * 1000
        for r in results
        if r.started_at is not None
    )


def bench_dispatch(n: int, command: bool) -> list[float]:
    """Lateness in ms of `n` jobs all due at the same instant, max_concurrent_runs=1000."""
    s = Scheduler(max_concurrent_runs=1000)
    results: list[RunResult] = []
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    agent = CommandAgent(["true"]) if command else _noop
    for i in range(n):
        s.add_job(agent, "p", every(hours=1, start=due), name=f"d-{i}", max_runs=1,
                  on_result=results.append)
    asyncio.run(s.astart(until=due + timedelta(seconds=30), stop_when_done=True))
    return _lateness(results)


def bench_redact(n: int = 100_000) -> tuple[float, float]:
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
    return out[0], out[1]


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def main() -> dict[str, float]:
    rows: list[tuple[str, str, str]] = []
    add_s = bench_add()
    gc.collect()
    rows.append(("add 10,000 jobs (mixed cron/interval)", f"{add_s * 1000:.0f} ms", "< 1000 ms"))
    idle = bench_idle()
    gc.collect()  # each measurement starts without the previous one's garbage
    rows.append(("idle CPU, 10,000 jobs", f"{idle * 100:.2f} % of a core", "< 1 %"))
    py = bench_dispatch(1000, command=False)
    gc.collect()
    rows.append(("1,000 Python agents: lateness p50", f"{_pct(py, 50):.1f} ms", ""))
    rows.append(("1,000 Python agents: lateness p99", f"{_pct(py, 99):.1f} ms", "< 50 ms"))
    cmd = bench_dispatch(100, command=True)
    rows.append(("100 command agents: lateness p50", f"{_pct(cmd, 50):.1f} ms", ""))
    rows.append(("100 command agents: lateness p99", f"{_pct(cmd, 99):.1f} ms", "(reported)"))
    plain_us, secret_us = bench_redact()
    rows.append(("redact output: plain line / line with secrets",
                 f"{plain_us:.1f} / {secret_us:.1f} µs", "(reported)"))
    width = max(len(r[0]) for r in rows)
    print(f"{'scheduler':<{width}}  {'measured':>20}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>20}  {target}")
    return {
        "add_10k_s": add_s,
        "idle_cpu_fraction": idle,
        "py_p50_ms": _pct(py, 50),
        "py_p99_ms": _pct(py, 99),
        "py_mean_ms": statistics.fmean(py) if py else float("nan"),
        "cmd_p50_ms": _pct(cmd, 50),
        "cmd_p99_ms": _pct(cmd, 99),
        "redact_plain_us": plain_us,
        "redact_secret_us": secret_us,
    }


if __name__ == "__main__":
    main()
