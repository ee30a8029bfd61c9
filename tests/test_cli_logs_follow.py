"""`crondeck logs JOB -f` keeps following: after the run it shows ends, it waits for the
job's next runs and prints them as they write, until Ctrl-C (like `journalctl -f`)."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

JOBS = """\
[defaults]
timezone = "UTC"

[[jobs]]
name = "tick"
command = "echo tick-line; sleep 0.3; echo tick-end"
schedule = "@every 2s"
"""
WAIT = 30.0  # seconds any one expected line may take under a loaded machine


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    q: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            q.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return q


def _line_matching(q: queue.Queue[str], pattern: str, seen: list[str]) -> re.Match[str]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if m := re.search(pattern, line):
            return m
    raise AssertionError(f"no line matching {pattern!r} within {WAIT}s; got {seen!r}")


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "crondeck.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_follow_waits_for_and_prints_the_next_runs(tmp_path: Path) -> None:
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text(JOBS)
    follower = _cli("logs", "tick", "-f", "--config", str(jobs))  # before any run
    runner = _cli("run", "--config", str(jobs))
    try:
        lines = _lines(follower)
        seen: list[str] = []
        first = _line_matching(lines, r"# crondeck: run (\S+) ", seen).group(1)
        _line_matching(lines, r"^tick-end", seen)
        _line_matching(lines, r"# crondeck: attempt \d+ ok", seen)  # the first run ended ...
        second = _line_matching(lines, r"# crondeck: run (\S+) ", seen).group(1)  # ... still there
        assert second != first
        _line_matching(lines, r"^tick-line", seen)
        assert follower.poll() is None
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.communicate(timeout=WAIT)
    follower.send_signal(signal.SIGINT)
    _out, err = follower.communicate(timeout=WAIT)
    assert follower.returncode == 0
    assert "has no run yet; waiting for its first one" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_follow_of_one_run_ends_with_it(tmp_path: Path) -> None:
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text(JOBS)
    runner = _cli("run", "--config", str(jobs))
    try:
        lines = _lines(runner)
        _line_matching(lines, r'"run_finished"', [])
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.communicate(timeout=WAIT)
    log = next((tmp_path).rglob("*.log"))
    run_id = log.stem
    done = subprocess.run([sys.executable, "-m", "crondeck.cli", "logs", "tick", "--run",
                           run_id, "-f", "--config", str(jobs)],
                          capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 0 and "tick-end" in done.stdout
