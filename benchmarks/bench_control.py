"""Control socket figures for `make bench`, measured at the client's end of the socket against
a real `crondeck run` process:

- snapshot of 10,000 jobs: its size, and the time from sending hello to the first and the
  last byte of the snapshot line (the scheduler serves it while it runs), with full records
  (a client that does not ask for shared parts) and with shared parts (a console);
- command round trip: a command sent on an open connection to its reply (what a console
  key costs), and `control_call` (connect, hello, command, reply: what a CLI verb costs);
- output flood: an agent printing 50,000 lines a second for a few seconds while five other
  jobs are due every second; their lateness (scheduled instant -> the moment each tick's
  command, `date +%s.%N`, read the clock, from the output it printed) with no client, and
  with a console-like client following the stream (how many lines it received, how many it
  was told were dropped); and the ticks' lateness over the same window with no flood at
  all, the reference the flood's rows are read against (`BENCH_CONTROL=flood`: these
  rows alone).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from crondeck.core import ControlClient, control_call, control_path
from crondeck.core.store import StateStore

CRONS = ["0 3 1 1 *", "30 4 * * 0", "15 9 * * 1-5", "0 0 1 * *", "*/30 8-18 * * *"]
FLOOD_RATE = 50_000  # lines a second
FLOOD_SECONDS = 4.0
TICKS = 5  # jobs due every second beside the flood
FLOOD = f"""\
import sys, time
line = "x" * 60 + "\\n"
t0 = time.monotonic()
n = 0
while (elapsed := time.monotonic() - t0) < {FLOOD_SECONDS}:
    due = int(elapsed * {FLOOD_RATE})
    if due > n:
        sys.stdout.write(line * (due - n))
        sys.stdout.flush()
        n = due
    else:
        time.sleep(0.002)
"""


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def _start(config: Path) -> tuple[subprocess.Popen[bytes], Path]:
    proc = subprocess.Popen([sys.executable, "-m", "crondeck.cli", "--config", str(config),
                             "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = control_path(config.parent / ".crondeck")
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("crondeck run did not serve its control socket")
        time.sleep(0.05)
    return proc, path


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _big_file(folder: Path, n: int) -> Path:
    config = folder / "crondeck.toml"
    lines = ['[agents.claude]\nkind = "command"\ncommand = ["claude", "-p"]\n']
    for i in range(n):
        lines.append(f'[[jobs]]\nname = "job-{i}"\nagent = "claude"\n'
                     f'prompt = "Summarise the inbox of team {i}."\n'
                     f'schedule = "{CRONS[i % len(CRONS)]}"\n')
    config.write_text("\n".join(lines))
    return config


def _snapshot_once(path: Path, shared: bool = False) -> tuple[int, float, float]:
    """(bytes, ms to the snapshot's first byte, ms to its last), from sending hello."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(path))
        t0 = time.perf_counter()
        sock.sendall(b'{"op": "hello", "version": 1, "subscribe": true'
                     + (b', "shared": true' if shared else b"") + b"}\n")
        buffer = b""
        while b"\n" not in buffer:
            buffer += sock.recv(1 << 20)
        rest = bytearray(buffer.split(b"\n", 1)[1])  # grown in place: 100,000 jobs' line too
        first = time.perf_counter() if rest else 0.0
        while not rest.endswith(b"\n"):
            chunk = sock.recv(1 << 20)
            if not first:
                first = time.perf_counter()
            rest += chunk
        size = len(rest)
        last = time.perf_counter()
    return size, (first - t0) * 1000, (last - t0) * 1000


async def _round_trips(path: Path, n: int) -> list[float]:
    client = await ControlClient.connect(path)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        await client.call("skip_next", job=f"job-{i % 1000}", skip=i % 2 == 0)
        out.append((time.perf_counter() - t0) * 1000)
    await client.close()
    return out


def bench_big(n: int = 10_000) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="cdb", dir="/tmp"))
    try:
        proc, path = _start(_big_file(folder, n))
        try:
            snaps, shared = [], []
            for _ in range(5):  # alternating, so drift in the machine's speed hits both
                snaps.append(_snapshot_once(path))
                shared.append(_snapshot_once(path, shared=True))
            trips = asyncio.run(_round_trips(path, 1000))
            calls = []
            for i in range(200):
                t0 = time.perf_counter()
                control_call(path, "skip_next", job=f"job-{i}", skip=False)
                calls.append((time.perf_counter() - t0) * 1000)
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"bytes": snaps[0][0], "first_ms": [s[1] for s in snaps],
            "last_ms": [s[2] for s in snaps], "shared_bytes": shared[0][0],
            "shared_last_ms": [s[2] for s in shared], "trip_ms": trips, "call_ms": calls}


def _flood_file(folder: Path) -> Path:
    config = folder / "crondeck.toml"
    (folder / "flood.py").write_text(FLOOD)
    ticks = "".join(f'[[jobs]]\nname = "tick-{i}"\ncommand = "date +%s.%N"\n'
                    'schedule = "@every 1s"\n\n' for i in range(TICKS))
    config.write_text("[scheduler]\nmax_concurrent_runs = 8\n\n" + ticks
                      + f'[[jobs]]\nname = "flood"\ncommand = ["{sys.executable}", "flood.py"]\n'
                      'schedule = "0 3 1 1 *"\ntimeout = "1m"\n')
    return config


async def _follow(path: Path, seconds: float) -> tuple[int, int]:
    """Follow the stream as a console does; (output lines received, lines dropped)."""
    client = await ControlClient.connect(path, subscribe=True, client="bench")
    lines = dropped = 0

    async def read() -> None:
        nonlocal lines, dropped
        async for msg in client:
            if msg.get("type") != "event":
                continue
            kind = msg["event"]["event"]
            if kind == "output_chunk" and msg["event"]["job"] == "flood":
                lines += msg["event"]["text"].count("\n")  # every line one read delivered
            elif kind == "observer_dropped":
                dropped += msg["event"]["dropped"]

    reader = asyncio.create_task(read())
    await asyncio.sleep(seconds)
    reader.cancel()
    await client.close()
    return lines, dropped


def bench_flood(with_client: bool, flood: bool = True) -> dict[str, Any]:
    """The ticks' lateness over a flood (or, `flood=False`, over the same window without
    one: the reference the flood's figures are compared with)."""
    folder = Path(tempfile.mkdtemp(prefix="cdf", dir="/tmp"))
    try:
        config = _flood_file(folder)
        proc, path = _start(config)
        try:
            time.sleep(1.5)
            window_start = time.time()
            if flood:
                control_call(path, "run_now", job="flood")
            lines = dropped = 0
            if with_client:
                lines, dropped = asyncio.run(_follow(path, FLOOD_SECONDS + 0.5))
            else:
                time.sleep(FLOOD_SECONDS + 0.5)
            window_end = time.time()
        finally:
            _stop(proc)
        store = StateStore(folder / ".crondeck" / "state.toml", read_only=True).load()
        late = []
        for name, state in store.jobs.items():
            if not name.startswith("tick-"):
                continue
            for r in state.results:
                stamp = r.output_tail.split()  # what the tick's own `date` printed
                if stamp and window_start <= r.scheduled_for.timestamp() <= window_end:
                    late.append((float(stamp[0]) - r.scheduled_for.timestamp()) * 1000)
        flood = [r for r in store.jobs["flood"].results if r.started_at is not None]
        produced = flood[-1].output_bytes // 61 if flood else 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"late_ms": late, "lines": lines, "dropped": dropped, "produced": produced}


def _rate(runs: list[dict[str, Any]]) -> str:
    return f"{statistics.mean(r['produced'] for r in runs) / FLOOD_SECONDS:,.0f}"


def main() -> dict[str, float]:
    only_flood = os.environ.get("BENCH_CONTROL") == "flood"  # the flood rows alone
    big = {"bytes": 0, "first_ms": [0.0], "last_ms": [0.0], "shared_bytes": 0,
           "shared_last_ms": [0.0], "trip_ms": [0.0],
           "call_ms": [0.0]} if only_flood else bench_big()
    quiet: list[dict[str, Any]] = []
    without: list[dict[str, Any]] = []
    with_: list[dict[str, Any]] = []
    for _ in range(2):  # interleaved, so drift in the machine's speed hits all alike
        quiet.append(bench_flood(False, flood=False))
        without.append(bench_flood(False))
        with_.append(bench_flood(True))
    first, last = big["first_ms"], big["last_ms"]
    trip, call = big["trip_ms"], big["call_ms"]
    late_q = [x for r in quiet for x in r["late_ms"]]
    late0 = [x for r in without for x in r["late_ms"]]
    late1 = [x for r in with_ for x in r["late_ms"]]
    rows = [
        ("snapshot, 10,000 jobs: size", f"{big['bytes'] / 1e6:.1f} MB", ""),
        ("  hello to first byte  median / max",
         f"{statistics.median(first):.0f} / {max(first):.0f} ms", ""),
        ("  hello to last byte   median / max",
         f"{statistics.median(last):.0f} / {max(last):.0f} ms", ""),
        ("  with shared parts (a console): size",
         f"{big['shared_bytes'] / 1e6:.1f} MB", ""),
        ("  with shared parts: hello to last byte   median / max",
         f"{statistics.median(big['shared_last_ms']):.0f} / "
         f"{max(big['shared_last_ms']):.0f} ms", ""),
        ("command round trip (open connection) p50 / p99 / max",
         f"{_pct(trip, 50):.2f} / {_pct(trip, 99):.2f} / {max(trip):.1f} ms", "< 50 ms p99"),
        ("control_call (connect + hello + command) p50 / p99 / max",
         f"{_pct(call, 50):.2f} / {_pct(call, 99):.2f} / {max(call):.1f} ms", ""),
        ("no flood (reference): tick lateness  p50 / p99 / max",
         f"{_pct(late_q, 50):.1f} / {_pct(late_q, 99):.1f} / {max(late_q, default=0):.1f} ms",
         ""),
        (f"flood {FLOOD_RATE:,} lines/s: tick lateness, no client  p50 / p99 / max",
         f"{_pct(late0, 50):.1f} / {_pct(late0, 99):.1f} / {max(late0, default=0):.1f} ms", ""),
        (f"flood {FLOOD_RATE:,} lines/s: tick lateness, client following p50 / p99 / max",
         f"{_pct(late1, 50):.1f} / {_pct(late1, 99):.1f} / {max(late1, default=0):.1f} ms",
         "unchanged"),
        ("  lines/s the scheduler took in, no client / client following",
         f"{_rate(without)} / {_rate(with_)}", ""),
        ("  lines printed / received by the client / told dropped",
         ", ".join(f"{r['produced']:,} / {r['lines']:,} / {r['dropped']:,}" for r in with_),
         ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'control socket (crondeck run, measured at the client)':<{width}}  "
          f"{'measured':>26}  target  (load {os.getloadavg()[0]:.1f})")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>26}  {target}")
    return {
        "snapshot_bytes": float(big["bytes"]),
        "snapshot_first_ms": statistics.median(first),
        "snapshot_last_ms": statistics.median(last),
        "snapshot_shared_bytes": float(big["shared_bytes"]),
        "snapshot_shared_last_ms": statistics.median(big["shared_last_ms"]),
        "trip_p50_ms": _pct(trip, 50), "trip_p99_ms": _pct(trip, 99),
        "call_p50_ms": _pct(call, 50), "call_p99_ms": _pct(call, 99),
        "quiet_late_p99_ms": _pct(late_q, 99),
        "flood_late_p99_no_client_ms": _pct(late0, 99),
        "flood_late_p99_client_ms": _pct(late1, 99),
    }


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
