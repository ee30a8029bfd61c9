"""Start-up benchmark (`make bench`): wall time of whole `crondeck` processes, exec to exit,
for the commands people script and that cron or Kubernetes start once per slot.

Each case is a fresh process started the way a shell starts it (the console script of this
environment), timed from spawn to exit. The cases run round-robin, so machine load falls on
all of them alike, RUNS times per round, three rounds. Baselines from the same interpreter:
`python -c pass` (the floor no Python CLI goes under) and the peers' equivalent of
`crondeck next` (croniter and cronsim printing the next fires of the same expression).

Target: `crondeck next`, `crondeck check` and `crondeck exec` on a small file each under
150 ms p50.

Run directly (`python benchmarks/bench_startup.py [RUNS]`) or via benchmarks/run.py.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 30
ROUNDS = 3
TARGET_MS = 150.0
EXPR = "*/15 9-17 * * 1-5"

SMALL_FILE = """\
[[jobs]]
name = "hello"
schedule = "*/5 * * * *"
command = "echo ok"

[[jobs]]
name = "digest"
schedule = "0 9 * * 1-5"
timezone = "Europe/Berlin"
command = "echo digest"
"""

CRONITER = (
    "import sys; from datetime import datetime; from croniter import croniter\n"
    "it = croniter(sys.argv[1], datetime.now())\n"
    "for _ in range(10): print(it.get_next(datetime).isoformat())"
)
CRONSIM = (
    "import sys; from datetime import datetime; from cronsim import CronSim\n"
    "it = CronSim(sys.argv[1], datetime.now())\n"
    "for _ in range(10): print(next(it).isoformat())"
)


def _cases(work: Path) -> list[tuple[str, list[str], bool]]:
    """(label, argv, is crondeck with a target)."""
    py = sys.executable
    crondeck = str(Path(py).with_name("crondeck"))
    return [
        ("python -c pass", [py, "-c", "pass"], False),
        ("croniter: next 10 fires", [py, "-c", CRONITER, EXPR], False),
        ("cronsim: next 10 fires", [py, "-c", CRONSIM, EXPR], False),
        ("crondeck --version", [crondeck, "--version"], False),
        ("crondeck next EXPR", [crondeck, "next", EXPR], True),
        ("crondeck check (2 jobs)", [crondeck, "--config", str(work / "crondeck.toml"),
                                     "check"], True),
        ("crondeck exec JOB (echo)", [crondeck, "--config", str(work / "crondeck.toml"),
                                      "exec", "hello"], True),
        ("crondeck list (2 jobs)", [crondeck, "--config", str(work / "crondeck.toml"),
                                    "list"], False),
    ]


def _time_once(argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False, timeout=60)
    elapsed = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: "
                         f"{done.stderr.decode(errors='replace').strip()}")
    return elapsed


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(runs: int = RUNS, rounds: int = ROUNDS) -> dict[str, list[list[float]]]:
    """label -> one list of wall times (seconds) per round."""
    with tempfile.TemporaryDirectory(prefix="crondeck-startup-") as tmp:
        work = Path(tmp)
        (work / "crondeck.toml").write_text(SMALL_FILE)
        cases = _cases(work)
        for _, argv, _ in cases:  # warm the page cache and write any bytecode first
            _time_once(argv, work)
        times: dict[str, list[list[float]]] = {label: [] for label, _, _ in cases}
        for _ in range(rounds):
            for label in times:
                times[label].append([])
            for _ in range(runs):
                for label, argv, _ in cases:
                    times[label][-1].append(_time_once(argv, work))
    return times


def report(times: dict[str, list[list[float]]]) -> list[str]:
    floor = statistics.median(t for r in times["python -c pass"] for t in r)
    targeted = {"crondeck next EXPR", "crondeck check (2 jobs)", "crondeck exec JOB (echo)"}
    lines = [f"{'process, exec to exit':<28}{'p50':>8}{'p99':>8}{'max':>8}"
             f"{'p50 per round':>22}{'× pass':>8}  target"]
    for label, per_round in times.items():
        every = [t for r in per_round for t in r]
        p50 = statistics.median(every)
        rounds = "/".join(f"{statistics.median(r) * 1000:.0f}" for r in per_round)
        target = ""
        if label in targeted:
            target = f"< {TARGET_MS:.0f} ms " + ("ok" if p50 * 1000 < TARGET_MS else "MISSED")
        lines.append(
            f"{label:<28}{p50 * 1000:>6.0f}ms{_pct(every, 0.99) * 1000:>6.0f}ms"
            f"{max(every) * 1000:>6.0f}ms{rounds:>20}ms{p50 / floor:>7.1f}×  {target}"
        )
    return lines


def main(runs: int = RUNS) -> None:
    print(f"{runs} runs × {ROUNDS} rounds each, round-robin; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    for line in report(measure(runs)):
        print(line)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else RUNS)
