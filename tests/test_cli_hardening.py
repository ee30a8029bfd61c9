"""What the command line guarantees against hostile or careless input: `--read-only` never
fires, `exec --json` starts its JSON on a line of its own, terminal control sequences from
agents are shown escaped, and `history` shows tokens and cost."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers import crondeck_cli

from crondeck.cli.main import main
from crondeck.core.jobs import JobState
from crondeck.core.results import RunResult, RunStatus, Usage
from crondeck.core.runlogs import RunLogs
from crondeck.core.store import StateStore


def _config(tmp_path: Path, command: str, name: str = "greet") -> Path:
    path = tmp_path / "crondeck.toml"
    path.write_text(f'[[jobs]]\nname = "{name}"\ncommand = {json.dumps(command)}\n'
                    'schedule = "* * * * *"\nstart_immediately = true\n')
    return path


def test_read_only_run_is_refused_and_takes_no_lock(tmp_path: Path) -> None:
    config = _config(tmp_path, "echo fired > fired.txt")
    try:  # before: the scheduler started, took the lock and fired
        proc = subprocess.run([sys.executable, "-m", "crondeck.cli", "--config", str(config),
                               "--read-only", "run"], capture_output=True, text=True,
                              timeout=20, check=False)
    except subprocess.TimeoutExpired:
        raise AssertionError("crondeck --read-only run kept running") from None
    err = proc.stderr
    assert proc.returncode == 2
    assert "--read-only" in err and "crondeck run" in err
    assert not (tmp_path / ".crondeck" / "lock").exists()
    assert not (tmp_path / "fired.txt").exists()


def test_read_only_exec_is_refused_and_runs_nothing(tmp_path: Path, capsys) -> None:
    config = _config(tmp_path, "echo fired > fired.txt")
    code = main(["--config", str(config), "--read-only", "exec", "greet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--read-only" in err and "exec" in err
    assert not (tmp_path / "fired.txt").exists()
    assert not (tmp_path / ".crondeck" / "state.toml").exists()


def test_exec_json_starts_on_a_line_of_its_own(tmp_path: Path) -> None:
    config = _config(tmp_path, "printf hello")
    proc = crondeck_cli(config, "exec", "greet", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert lines[0] == "hello"
    assert json.loads(lines[1])["status"] == "ok"


def test_exec_json_adds_no_blank_line_after_a_full_line(tmp_path: Path) -> None:
    config = _config(tmp_path, "echo hello")
    proc = crondeck_cli(config, "exec", "greet", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "hello" and json.loads(lines[1])["status"] == "ok" and len(lines) == 2


def _saved(tmp_path: Path, *results: RunResult) -> Path:
    path = tmp_path / "crondeck.toml"
    path.write_text('[defaults]\ntimezone = "UTC"\n\n[[jobs]]\nname = "digest"\n'
                    'command = ["true"]\nschedule = "0 7 * * *"\n')
    store = StateStore(tmp_path / ".crondeck" / "state.toml")
    store.put(JobState("digest", run_count=len(results), results=tuple(results)))
    store.flush()
    return path


def _result(i: int, **fields: object) -> RunResult:
    at = datetime(2026, 3, 1, 7, tzinfo=UTC) + timedelta(days=i)
    return RunResult(run_id=f"digest#{i}", job="digest", scheduled_for=at,
                     status=fields.pop("status", RunStatus.OK),  # type: ignore[arg-type]
                     started_at=at, finished_at=at + timedelta(seconds=2), exit_code=0,
                     **fields)  # type: ignore[arg-type]


def test_history_shows_tokens_and_cost_where_a_run_has_them(tmp_path: Path, capsys) -> None:
    path = _saved(tmp_path, _result(0, status=RunStatus.FAILED, error="x" * 100),
                  _result(1, usage=Usage(1200, 34), cost=0.0421),
                  _result(2, usage=Usage(950, 0)))
    for argv in (["history", "digest"], ["history"]):
        assert main([*argv, "--config", str(path)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert "TOKENS/COST" in lines[0]
        assert any(" 1.2k/$0.04" in line for line in lines)
        assert any(" 950/-" in line for line in lines)
        assert "$" not in next(line for line in lines if "xxxx" in line)
    # every job's table stays within 80 columns before DETAIL
    assert all(len(line[:lines[0].index("DETAIL")].rstrip()) <= 80 for line in lines[:4])


def test_history_without_model_runs_has_no_token_columns(tmp_path: Path, capsys) -> None:
    path = _saved(tmp_path, _result(0))
    assert main(["history", "digest", "--config", str(path)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "TOKENS" not in header


HOSTILE = "title\x1b]0;pwned\x07 clip\x1b]52;c;ZWNobyBoaQ==\x07 clear\x1b[2J csi\x9b1m done"


def test_history_shows_terminal_escapes_escaped(tmp_path: Path, capsys) -> None:
    path = _saved(tmp_path, _result(0, status=RunStatus.FAILED, error=f"café {HOSTILE}"))
    for argv in (["history", "digest"], ["history"]):
        assert main([*argv, "--config", str(path)]) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
        assert "\\x1b]52;c;" in out and "café" in out


def test_logs_show_terminal_escapes_escaped_and_raw_on_request(tmp_path: Path, capsys) -> None:
    path = _saved(tmp_path, _result(0))
    logs = RunLogs(tmp_path / ".crondeck" / "runs")
    log = logs.open("digest", "digest#0")
    log.write(f"naïve ✓ {HOSTILE}\n\ttabbed\r\n")
    log.close()
    assert main(["logs", "digest", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "\\x1b]0;pwned\\x07" in out and "\\x1b[2J" in out and "\\x9b1m" in out
    assert "naïve ✓" in out and "\ttabbed\n" in out
    assert main(["logs", "digest", "--raw", "--config", str(path)]) == 0
    assert HOSTILE in capsys.readouterr().out
