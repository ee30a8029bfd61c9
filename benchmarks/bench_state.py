"""State benchmark (`make bench`): 1,000 runs due at one instant with a real state directory
on disk, so every run's claim must be durable (written and fsynced) before the run starts.

Measured at the boundary a user sees: the lateness of each agent's own first line (its wall
time when it begins minus its slot's instant), p50 / p99 / max over all runs of all rounds.
Side by side: no state sink (the floor), claims written one run at a time (each its own
write + fsync, as a sink without `claim_runs` gets), and claims of one instant written
together (`StoreSink.claim_runs`: one write + fsync for the batch).

Run directly (`python benchmarks/bench_state.py`) or via `main()` from benchmarks/run.py.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crondeck.core import JobState, RunResult, Scheduler, StateSink, every
from crondeck.core.persist import StateDir, StoreSink

N = 1000


class OneAtATime:
    """The StoreSink seen through the plain StateSink protocol: no `claim_runs`, so each run
    is claimed with a write of its own."""

    def __init__(self, sink: StoreSink) -> None:
        self.sink = sink

    def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
        self.sink.run_claimed(job, run_id, scheduled_for)

    def result_recorded(self, result: RunResult) -> None:
        self.sink.result_recorded(result)

    def job_changed(self, state: JobState) -> None:
        self.sink.job_changed(state)


def one_round(mode: str, n: int = N) -> list[float]:
    """Lateness in ms of the first line of `n` agents due at one instant (`mode`: "none",
    "one-at-a-time", "together")."""
    with tempfile.TemporaryDirectory(dir=Path.home() if Path.home().exists() else None) as tmp:
        state = StateDir(Path(tmp) / ".crondeck") if mode != "none" else None
        sink: StateSink | None = None
        if state is not None:
            sink = state.sink if mode == "together" else OneAtATime(state.sink)
        try:
            s = Scheduler(max_concurrent_runs=n, state_sink=sink)
            first_line: list[float] = []
            due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)

            def agent_for() -> Callable[[str], Awaitable[str]]:
                async def agent(prompt: str) -> str:
                    first_line.append(time.time())
                    return ""
                return agent

            for i in range(n):
                s.add_job(agent_for(), "p", every(hours=1, start=due), name=f"s-{i}",
                          max_runs=1)
            asyncio.run(s.astart(until=due + timedelta(seconds=60), stop_when_done=True))
        finally:
            if state is not None:
                state.close()
    return sorted((t - due.timestamp()) * 1000 for t in first_line)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def main(rounds: int = 3) -> dict[str, float]:
    out: dict[str, float] = {}
    rows: list[tuple[str, str]] = []
    for mode in ("none", "one-at-a-time", "together"):
        late: list[float] = []
        p99s: list[float] = []
        for _ in range(rounds if mode != "one-at-a-time" else max(1, rounds - 1)):
            lat = one_round(mode)
            gc.collect()
            late += lat
            p99s.append(_pct(lat, 99))
        late.sort()
        spread = f"p99 per round {min(p99s):.0f}-{max(p99s):.0f} ms" if len(p99s) > 1 else ""
        rows.append((f"{N:,} agents due together, claims {mode}: first line p50/p99/max",
                     f"{_pct(late, 50):.0f} / {_pct(late, 99):.0f} / {late[-1]:.0f} ms  {spread}"))
        key = mode.replace("-", "_")
        out[f"{key}_p50_ms"] = _pct(late, 50)
        out[f"{key}_p99_ms"] = _pct(late, 99)
        out[f"{key}_max_ms"] = late[-1]
        out[f"{key}_mean_ms"] = statistics.fmean(late)
    ratio = out["one_at_a_time_p99_ms"] / max(out["together_p99_ms"], 1e-9)
    rows.append(("p99 one-at-a-time / together", f"{ratio:.0f}x"))
    width = max(len(r[0]) for r in rows)
    print(f"{'state (real state dir on disk)':<{width}}  measured")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return out


if __name__ == "__main__":
    main()
