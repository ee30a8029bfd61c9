"""`crondeck run` stops like a service: on SIGTERM nothing new starts, runs in flight get the
[scheduler] shutdown_grace to finish, then (or at a second signal) are cancelled with the
output they printed; it exits 0 and never hangs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from crondeck.core.store import StateStore

CRONDECK = [sys.executable, "-m", "crondeck.cli"]


def _config(tmp_path: Path, command: str, grace: str) -> Path:
    path = tmp_path / "crondeck.toml"
    path.write_text(
        f'[scheduler]\nshutdown_grace = "{grace}"\n\n'
        f'[[jobs]]\nname = "work"\ncommand = "{command}"\nschedule = "@daily"\n'
        'start_immediately = true\nkill_grace = "1s"\n')
    return path


def _start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*CRONDECK, "--config", str(config), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _read_until(proc: subprocess.Popen[str], seen: list[dict[str, Any]],
                want: str) -> None:
    """Read JSON lines until one whose `text` contains `want` (a run's output chunk)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        seen.append(event)
        if event["event"] == "output_chunk" and want in str(event.get("text", "")):
            return
    raise AssertionError(f"crondeck run ended before printing {want!r}")


def _finish(proc: subprocess.Popen[str], seen: list[dict[str, Any]],
            timeout: float) -> tuple[float, str]:
    """Wait (bounded) for the process to end; returns seconds taken and stderr."""
    started = time.monotonic()
    try:
        rest, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
        raise AssertionError(f"crondeck run did not exit within {timeout}s") from None
    seen += [json.loads(line) for line in rest.splitlines()]
    return time.monotonic() - started, err


def _result(seen: list[dict[str, Any]]) -> dict[str, Any]:
    finished = [e for e in seen if e["event"] == "run_finished" and e["job"] == "work"]
    assert len(finished) == 1, [e["event"] for e in seen]
    result: dict[str, Any] = finished[0]["result"]
    return result


@pytest.mark.slow
def test_a_run_that_finishes_within_the_grace_is_recorded_ok(tmp_path: Path) -> None:
    config = _config(tmp_path, "echo started; sleep 2; echo finished", "30s")
    proc = _start(config)
    seen: list[dict[str, Any]] = []
    try:
        _read_until(proc, seen, "started")
        proc.send_signal(signal.SIGTERM)
        took, err = _finish(proc, seen, timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert took < 15  # the run's two seconds, not the 30 s grace
    request = next(e for e in seen if e["event"] == "shutdown_requested")
    assert request["signal"] == "SIGTERM" and request["running"] == 1
    assert request["grace"] == 30.0
    result = _result(seen)
    assert result["status"] == "ok" and "finished" in result["output_tail"]
    assert seen[-1]["event"] == "scheduler_stopped"
    state = StateStore(tmp_path / ".crondeck" / "state.toml").load()
    assert state.jobs["work"].results[-1].status.value == "ok"
    assert state.jobs["work"].running == ()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])  # HUP: terminal closed
def test_a_run_that_outlives_the_grace_is_cancelled_with_its_output(
    tmp_path: Path, signum: signal.Signals
) -> None:
    config = _config(tmp_path, "echo started; sleep 60", "1s")
    proc = _start(config)
    seen: list[dict[str, Any]] = []
    try:
        _read_until(proc, seen, "started")
        proc.send_signal(signum)
        took, err = _finish(proc, seen, timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert took < 15
    request = next(e for e in seen if e["event"] == "shutdown_requested")
    assert request["signal"] == signum.name
    result = _result(seen)
    assert result["status"] == "cancelled" and "started" in result["output_tail"]
    state = StateStore(tmp_path / ".crondeck" / "state.toml").load()
    saved = state.jobs["work"].results[-1]
    assert saved.status.value == "cancelled" and "started" in saved.output_tail
    assert state.jobs["work"].running == ()


@pytest.mark.slow
def test_a_second_signal_cancels_the_runs_at_once(tmp_path: Path) -> None:
    config = _config(tmp_path, "echo started; sleep 60", "10m")
    proc = _start(config)
    seen: list[dict[str, Any]] = []
    assert proc.stdout is not None
    try:
        _read_until(proc, seen, "started")
        proc.send_signal(signal.SIGTERM)
        for line in proc.stdout:  # the first signal is heard: the run goes on
            seen.append(json.loads(line))
            if seen[-1]["event"] == "shutdown_requested":
                break
        assert seen[-1]["grace"] == 600.0
        time.sleep(0.5)
        assert proc.poll() is None  # draining, inside a ten-minute grace
        proc.send_signal(signal.SIGINT)
        took, err = _finish(proc, seen, timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert took < 15
    requests = [e for e in seen if e["event"] == "shutdown_requested"]
    assert [r["signal"] for r in requests] == ["SIGTERM", "SIGINT"]
    assert requests[1]["grace"] == 0.0
    result = _result(seen)
    assert result["status"] == "cancelled" and "started" in result["output_tail"]


def test_run_log_rotates_by_size_and_keeps_a_few_files(tmp_path: Path) -> None:
    from crondeck.cli.commands.run import RotatingLog

    path = tmp_path / "state" / "run.log"
    log = RotatingLog(path, max_bytes=100, keep=2)
    for n in range(12):
        log.write(json.dumps({"event": "n", "seq": n, "pad": "x" * 10}) + "\n")  # < 40 bytes
        log.flush()
    log.close()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["run.log", "run.log.1", "run.log.2"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    lines = [line for name in ("run.log.2", "run.log.1", "run.log")
             for line in (path.parent / name).read_text().splitlines()]
    seqs = [json.loads(line)["seq"] for line in lines]
    assert seqs == list(range(12 - len(seqs), 12)) and len(seqs) >= 6  # newest kept, in order
    assert all((path.parent / name).stat().st_size <= 100 for name in files)


def test_wait_for_lock_gives_up_after_its_wait(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from crondeck.cli.main import main
    from crondeck.core.lock import StateLock

    config = tmp_path / "crondeck.toml"
    config.write_text('[[jobs]]\nname = "a"\ncommand = "true"\nschedule = "@daily"\n')
    (tmp_path / ".crondeck").mkdir(mode=0o700)
    with StateLock(tmp_path / ".crondeck" / "lock"):
        started = time.monotonic()
        assert main(["--config", str(config), "run", "--wait-for-lock", "0.3"]) == 1
        assert time.monotonic() - started < 10
    captured = capsys.readouterr()
    waiting = json.loads(captured.out.splitlines()[0])
    assert waiting["event"] == "waiting_for_lock" and waiting["holder"] == os.getpid()
    assert f"another crondeck (pid {os.getpid()})" in captured.err
    with pytest.raises(SystemExit):
        main(["--config", str(config), "run", "--wait-for-lock", "soon"])
    assert "--wait-for-lock: 'soon' is not a duration" in capsys.readouterr().err
