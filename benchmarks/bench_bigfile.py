"""100,000-job file benchmark (`make bench`): `crondeck run` from spawn to the first due
run's own output, and the memory of the whole headless process.

A jobs file of N jobs is written to a temporary directory: N-1 command jobs over ten cron
expressions in four zones (none due for minutes), and one job `first` that starts at once
(`start_immediately`) and prints a marker line. The clock starts when `crondeck run` is
spawned and stops when the marker arrives on its JSON event stream (an `output` event read
by this process, as a log shipper would), so everything counts: interpreter start, imports,
parsing and validating the file, building the scheduler, loading state, the event stream
and the first run's process. RSS is read from /proc when the marker arrives
and again once the process has settled; VmHWM is the peak. Three runs, p50 and max.

Then three restarts on the state the previous run saved (100,000 job states): the first
job's slot was taken, so these are timed to `config_loaded` (everything before scheduling:
the state is read, the scheduler built and each state restored) and RSS read then.

Then the catch-up after downtime: 2,000 `@every 10s` jobs (python agents printing one line;
DUE below: 20,000 take minutes a run) whose saved next fires lie 25 s back, so every one is
due when `crondeck run` starts (its missed slots booked, the latest run), alone and among
the 100,000 jobs of the file above. Timed from spawn to the first and to the LAST due run's
`output_chunk` on the event stream (and, by the events' own times, from
`scheduler_started`); then the same for the console running the schedule in-process
(`crondeck --config` in a pty), timed by the agents' own start times. Each run's claim must
be durable before its agent starts.
`python benchmarks/bench_bigfile.py catchup [JOBS [DUE [RUNS]]]` runs only these rows.

Targets: first due run under 3 s; the headless process under 100 MiB RSS.

Run directly (`python benchmarks/bench_bigfile.py [JOBS]`) or via benchmarks/run.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

JOBS = 100_000
RUNS = 3
MARKER = "first-due-run"
TIMEOUT = 120.0  # seconds to wait for the first run before giving up
SETTLE = 3.0  # seconds after the first run before the settled RSS is read
TARGET_S = 3.0
TARGET_MIB = 100.0

EXPRS = ["0 3 * * *", "30 4 * * 1-5", "15 2 1 * *", "0 0 * * 0", "45 23 * * 6", "5 1 * * *",
         "0 */6 * * *", "20 5 * * 1", "0 22 * * 1-5", "10 10 10 * *"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]


def jobs_file(n: int) -> str:
    parts = [f'[[jobs]]\nname = "first"\nschedule = "0 3 * * *"\nstart_immediately = true\n'
             f'command = "echo {MARKER}"\n\n']
    for i in range(n - 1):
        parts.append(f'[[jobs]]\nname = "job-{i:06d}"\nschedule = "{EXPRS[i % len(EXPRS)]}"\n'
                     f'timezone = "{ZONES[i % len(ZONES)]}"\ncommand = "true"\n\n')
    return "".join(parts)


CATCHUP_DUE = 2_000
CATCHUP_BACK = 25  # seconds of downtime before the start: two or three slots of each job due
CATCHUP_TIMEOUT = 600.0  # seconds to wait for the last due run
CATCHUP_AGENT = """import os, time
RAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ran.txt")
async def first_line(prompt):
    with open(RAN, "a") as f:  # when this agent began, for the console (no event stream)
        f.write(f"{time.time()}\\n")
    return "caught-up\\n"
"""


def _stop(proc: subprocess.Popen[str], reader: threading.Thread, grace: float) -> None:
    """SIGTERM, as a service manager stops it; killed if it is not gone within `grace` s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    reader.join(timeout=10)


def catchup_file(due: int, others: int) -> str:
    """`due` `@every 10s` python jobs, then `others` jobs of the big file (none due)."""
    parts = [f"[scheduler]\nmax_concurrent_runs = {due}\n\n"]
    for i in range(due):
        parts.append(f'[[jobs]]\nname = "due-{i:06d}"\nschedule = "@every 10s"\n'
                     f'python = "catchup_agent:first_line"\nprompt = "p"\n\n')
    for i in range(others):
        parts.append(f'[[jobs]]\nname = "job-{i:06d}"\nschedule = "{EXPRS[i % len(EXPRS)]}"\n'
                     f'timezone = "{ZONES[i % len(ZONES)]}"\ncommand = "true"\n\n')
    return "".join(parts)


def catchup_once(path: Path, due: int) -> dict[str, float]:
    """Spawn `crondeck run` on a state whose `due` jobs' next fires passed CATCHUP_BACK s ago;
    seconds to the first and to the last due run's output."""
    from crondeck.core.store import StateStore  # the bench's own interpreter: same install

    state = path.parent / ".crondeck"
    if state.exists():
        shutil.rmtree(state)
    back = datetime.fromtimestamp((time.time() - CATCHUP_BACK) // 10 * 10, UTC)
    store = StateStore(state / "state.toml")
    store.put_waiting_many(iter([(f"due-{i:06d}", back) for i in range(due)]))
    store.flush()
    crondeck = str(Path(sys.executable).with_name("crondeck"))
    t0 = time.perf_counter()
    proc = subprocess.Popen([crondeck, "--config", str(path), "run"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=path.parent)
    assert proc.stdout is not None
    stream = proc.stdout
    figures: dict[str, float] = {}
    seen: set[str] = set()
    done = threading.Event()

    started: list[datetime] = []

    def read() -> None:
        for line in stream:
            if '"scheduler_started"' in line:
                started.append(datetime.fromisoformat(json.loads(line)["at"]))
            if '"output_chunk"' not in line:
                continue
            event = json.loads(line)
            if event.get("event") == "output_chunk" and "caught-up" in event.get("text", ""):
                now = time.perf_counter() - t0
                # and by the events' own times, from the scheduler's start (no start-up)
                at = (datetime.fromisoformat(event["at"]) - started[0]).total_seconds()
                if "first_s" not in figures:
                    figures["first_s"], figures["first_sched_s"] = now, at
                seen.add(event.get("run_id", ""))
                if len(seen) == due:
                    figures["last_s"], figures["last_sched_s"] = now, at
                    done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not done.wait(CATCHUP_TIMEOUT):  # reported as "> CATCHUP_TIMEOUT" with the count
            figures["last_s"] = float("inf")
            figures["done"] = len(seen)
    finally:
        _stop(proc, reader, 120)
    return figures


def catchup_console(path: Path, due: int) -> dict[str, float]:
    """The console (`crondeck --config`, in a pty, running the schedule in-process) on the
    same downtime: seconds from spawn to the first and the last due agent's start."""
    import contextlib
    import fcntl
    import pty
    import select
    import struct
    import termios

    from crondeck.core.store import StateStore

    state = path.parent / ".crondeck"
    if state.exists():
        shutil.rmtree(state)
    ran = path.parent / "ran.txt"
    ran.unlink(missing_ok=True)
    back = datetime.fromtimestamp((time.time() - CATCHUP_BACK) // 10 * 10, UTC)
    store = StateStore(state / "state.toml")
    store.put_waiting_many(iter([(f"due-{i:06d}", back) for i in range(due)]))
    store.flush()
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "XDG_CONFIG_HOME": str(path.parent / "xdg")}
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "crondeck.cli", "--config", str(path)],
                            stdin=slave, stdout=slave, stderr=slave, env=env,
                            cwd=path.parent, start_new_session=True)
    os.close(slave)
    figures: dict[str, float] = {}
    times: list[float] = []
    try:
        deadline = time.monotonic() + CATCHUP_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:  # drained, or the app would block on a full terminal
                with contextlib.suppress(OSError):
                    os.read(master, 1 << 16)
            if ran.exists():
                times = [float(t) for t in ran.read_text().split()]
                if len(times) >= due:
                    break
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(master)
    if times:
        times.sort()
        figures["first_s"] = times[0] - t0
    if len(times) >= due:
        figures["last_s"] = times[due - 1] - t0
    else:
        figures["done"] = len(times)
    return figures


def catchup(total: int, due: int = CATCHUP_DUE, runs: int = RUNS) -> None:
    """The catch-up rows: `due` jobs due at start, alone and in a file of `total` jobs."""
    print(f"catch-up after downtime: {due:,} @every 10s jobs due at start; load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{'measure':<48}{'p50':>9}{'max':>9}{'runs':>22}")
    for others in dict.fromkeys((0, max(0, total - due))):
        with tempfile.TemporaryDirectory(prefix="crondeck-catchup-") as tmp:
            path = Path(tmp) / "crondeck.toml"
            path.write_text(catchup_file(due, others))
            (Path(tmp) / "catchup_agent.py").write_text(CATCHUP_AGENT)
            got = [catchup_once(path, due) for _ in range(runs)]
            console = [catchup_console(path, due) for _ in range(runs)]
        for key, what in (("first_s", "spawn to first"), ("last_s", "spawn to LAST"),
                          # secondary: from stamps crondeck writes about itself
                          ("first_sched_s", "internal: loop start to first"),
                          ("last_sched_s", "internal: loop start to LAST"),
                          ("console first_s", "console: spawn to first"),
                          ("console last_s", "console: spawn to LAST")):
            label = f"{due + others:,} jobs: {what} due run's output"
            which = console if key.startswith("console ") else got
            values = [g.get(key.removeprefix("console "), float("inf")) for g in which]
            each = "/".join(f"{v:.3f}" for v in values)
            print(f"{label:<48}{statistics.median(values):>7.3f} s {max(values):>7.3f} s "
                  f"{each:>20}")
        late = [g["done"] for g in got + console if "done" in g]
        if late:
            print(f"  (inf: not all within {CATCHUP_TIMEOUT:.0f} s; done by then: "
                  + ", ".join(f"{n:,}" for n in late) + f" of {due:,})")


def _status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid` in MiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def run_once(path: Path, restart: bool = False) -> dict[str, float]:
    crondeck = str(Path(sys.executable).with_name("crondeck"))
    state = path.parent / ".crondeck"
    if state.exists() and not restart:  # from no state, as a first deployment does
        shutil.rmtree(state)
    t0 = time.perf_counter()
    proc = subprocess.Popen([crondeck, "--config", str(path), "run"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    stream = proc.stdout
    figures: dict[str, float] = {}
    first = threading.Event()

    def read() -> None:  # drains the stream to the end: a full pipe would stall crondeck
        for line in stream:
            event = json.loads(line)
            kind = event.get("event")
            if kind == "config_loaded":
                figures["loaded_s"] = time.perf_counter() - t0
                if restart:
                    figures["rss_at_first_mib"] = _status(proc.pid)["VmRSS"]
                    first.set()
            elif kind == "output_chunk" and MARKER in event.get("text", "") \
                    and not first.is_set():
                figures["first_run_s"] = time.perf_counter() - t0
                figures["rss_at_first_mib"] = _status(proc.pid)["VmRSS"]
                first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not first.wait(TIMEOUT):
            raise SystemExit(f"no first run within {TIMEOUT:.0f} s (exit {proc.poll()})")
        time.sleep(SETTLE)
        rss = _status(proc.pid)
        figures["rss_settled_mib"] = rss["VmRSS"]
        figures["rss_peak_mib"] = rss["VmHWM"]
    finally:
        _stop(proc, reader, 60)
    return figures


def main(n: int = JOBS) -> None:
    with tempfile.TemporaryDirectory(prefix="crondeck-bigfile-") as tmp:
        path = Path(tmp) / "crondeck.toml"
        text = jobs_file(n)
        path.write_text(text)
        t0 = time.perf_counter()
        tomllib.loads(text)
        parse_s = time.perf_counter() - t0
        print(f"{n:,} jobs ({len(text) / 2**20:.1f} MiB of TOML); {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.2f}")
        print(f"for scale: the standard library's tomllib alone parses it in {parse_s:.2f} s")
        runs = [run_once(path) for _ in range(RUNS)]
        restarts = [run_once(path, restart=True) for _ in range(RUNS)]
    rows = [
        ("crondeck run: spawn to config_loaded", "loaded_s", "s", None),
        ("crondeck run: spawn to first due run's output", "first_run_s", "s", TARGET_S),
        ("RSS when the first run's output arrives", "rss_at_first_mib", "MiB", None),
        (f"RSS settled ({SETTLE:.0f} s later)", "rss_settled_mib", "MiB", TARGET_MIB),
        ("peak RSS (VmHWM)", "rss_peak_mib", "MiB", TARGET_MIB),
        ("restart (saved state): spawn to config_loaded", "loaded_s", "s", None),
        ("restart: RSS at config_loaded", "rss_at_first_mib", "MiB", None),
        ("restart: RSS settled", "rss_settled_mib", "MiB", TARGET_MIB),
    ]
    print(f"{'measure':<48}{'p50':>9}{'max':>9}{'runs':>22}  target")
    for i, (label, key, unit, target) in enumerate(rows):
        values = [r[key] for r in (runs if i < 5 else restarts)]
        p50, top = statistics.median(values), max(values)
        fmt = "{:.2f}" if unit == "s" else "{:.0f}"
        verdict = ""
        if target is not None:
            verdict = f"< {fmt.format(target)} {unit} " + ("ok" if p50 < target else "MISSED")
        each = "/".join(fmt.format(v) for v in values)
        print(f"{label:<48}{fmt.format(p50):>6} {unit:<3}{fmt.format(top):>6} {unit:<3}"
              f"{each:>20}  {verdict}")
    print()
    catchup(n)


if __name__ == "__main__":
    if sys.argv[1:2] == ["catchup"]:  # only the catch-up rows: catchup [JOBS [DUE [RUNS]]]
        args = [int(a) for a in sys.argv[2:5]]
        catchup(*(args or [JOBS]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else JOBS)
