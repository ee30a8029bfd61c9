"""The crondeck command line on a jobs file: check, run (headless JSON), list, history, logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from crondeck.cli.main import main
from crondeck.core.lock import StateLock
from crondeck.core.store import StateStore

GOOD = """\
[defaults]
timezone = "UTC"

[agents.sh]
command = "sh -c 'echo \\"got: $(cat)\\"'"

[[jobs]]
name = "tick"
agent = "sh"
prompt = "hello"
schedule = "@every 1s"

[[jobs]]
name = "slow"
command = "echo started; sleep 30"
schedule = "@every 1s"
kill_grace = "1s"

[[jobs]]
name = "weekly"
command = ["true"]
schedule = "0 9 * * MON"

[scheduler]
shutdown_grace = "1s"            # the slow run is cancelled a second after SIGTERM
"""


@pytest.fixture
def jobs_file(tmp_path: Path) -> Path:
    path = tmp_path / "crondeck.toml"
    path.write_text(GOOD)
    return path


def test_check_ok_prints_one_line(jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(jobs_file)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "OK, 3 jobs, 1 agent" in out and "next: tick" in out


def test_check_reports_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = GOOD.replace('agent = "sh"', 'agent = "shh"').replace("MON", "MONDAY")
    bad = bad.replace('kill_grace = "1s"', 'kill_grace = "1s"\ntimout = "5m"')
    path = tmp_path / "crondeck.toml"
    path.write_text(bad)
    assert main(["--config", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert "3 problems in the jobs file (nothing was changed)" in err
    assert f"{path}:9: job 'tick', agent: agent 'shh' is not defined; did you mean 'sh'?" in err
    assert f"{path}:18: job 'slow', timout: unknown key 'timout'" in err
    assert "did you mean 'timeout'?" in err
    assert f"{path}:23: job 'weekly', schedule: bad schedule '0 9 * * MONDAY'" in err
    assert path.read_text() == bad


def test_config_from_the_environment(
    jobs_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRONDECK_CONFIG", str(jobs_file))
    assert main(["check"]) == 0
    assert str(jobs_file) in capsys.readouterr().out


def _run(jobs_file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crondeck.cli", "run", "--config", str(jobs_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.slow
def test_headless_run_logs_json_and_shuts_down_cleanly(jobs_file: Path) -> None:
    proc = _run(jobs_file)
    assert proc.stdout is not None
    lines: list[dict[str, object]] = []
    seen_tick = seen_slow = False
    try:
        for line in proc.stdout:
            event = json.loads(line)
            lines.append(event)
            if event["event"] == "run_finished" and event["job"] == "tick":
                seen_tick = True
            if event["event"] == "output_chunk" and event["job"] == "slow":
                seen_slow = True
            if seen_tick and seen_slow:
                break
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines += [json.loads(line) for line in rest.splitlines()]
    kinds = [e["event"] for e in lines]
    assert kinds[0] == "config_loaded" and kinds[-1] == "scheduler_stopped"
    assert "shutdown_requested" in kinds
    tick = next(e for e in lines if e["event"] == "run_finished" and e["job"] == "tick")
    assert tick["result"]["status"] == "ok"  # type: ignore[index]
    assert any(e["event"] == "output_chunk" and e.get("text") == "got: hello\n" for e in lines)
    # The slow run got its grace period and its result is recorded.
    slow = [e for e in lines if e["event"] == "run_finished" and e["job"] == "slow"]
    assert slow and slow[-1]["result"]["status"] == "cancelled"  # type: ignore[index]
    state = StateStore(jobs_file.parent / ".crondeck" / "state.toml").load()
    assert state.problems == []
    assert state.jobs["slow"].results[-1].status.value == "cancelled"
    assert state.jobs["slow"].running == ()
    assert state.jobs["tick"].run_count >= 1
    assert not StateLock(jobs_file.parent / ".crondeck" / "lock").acquire().release()


@pytest.mark.slow
def test_run_refuses_an_invalid_config_and_a_second_copy(
    jobs_file: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[jobs]]\nname = "x"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "crondeck.cli", "run", "--config", str(bad)],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "job has no schedule" in proc.stderr and "job has no agent" in proc.stderr

    with StateLock(jobs_file.parent / ".crondeck" / "lock"):
        proc = subprocess.run(
            [sys.executable, "-m", "crondeck.cli", "run", "--config", str(jobs_file)],
            capture_output=True, text=True, timeout=30,
        )
    assert proc.returncode == 1
    assert f"another crondeck (pid {os.getpid()}) is already running" in proc.stderr


@pytest.mark.slow
def test_list_history_and_logs_after_a_run(
    jobs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = _run(jobs_file)
    assert proc.stdout is not None
    run_id = ""
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "run_finished" and event["job"] == "tick":
            run_id = str(event["run_id"])
            break
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == 0

    assert main(["list", "--config", str(jobs_file)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NEXT", "LEFT", "LAST", "PASSED", "STATUS", "JOB", "SCHEDULE"]
    weekly = next(line for line in out if " weekly " in line)
    assert "never run" in weekly and "0 9 * * MON" in weekly and "Monday" in weekly
    tick = next(line for line in out if " tick " in line)
    assert " ok " in tick and "ago" in tick

    assert main(["history", "tick", "--config", str(jobs_file), "-n", "50"]) == 0
    out = capsys.readouterr().out
    assert run_id in out and "SCHEDULED" in out

    assert main(["history", "--config", str(jobs_file)]) == 0  # every job, merged
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["SCHEDULED", "JOB", "STATUS", "DURATION", "EXIT", "DETAIL"]
    rows = [line for line in out[1:] if line.strip() and not line.startswith("the ")]
    assert {"tick", "slow"} <= {line.split()[4] for line in rows}
    assert any(" tick " in line and " ok " in line for line in rows)
    assert out[-1].startswith(f"the {len(rows)} latest of ")

    assert main(["logs", "tick", "--run", run_id, "--config", str(jobs_file)]) == 0
    out = capsys.readouterr().out
    assert "got: hello" in out and f"run {run_id}" in out

    assert main(["logs", "tick", "--run", "tick@1999-01-01T00:00:00Z",
                 "--config", str(jobs_file)]) == 1
    assert "no log for run" in capsys.readouterr().err
    assert main(["history", "tik", "--config", str(jobs_file)]) == 2  # no such job: bad input
    assert "did you mean 'tick'?" in capsys.readouterr().err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("run", "list", "check", "history", "logs"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        assert "--config" in capsys.readouterr().out
