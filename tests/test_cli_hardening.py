"""What the command line guarantees against hostile or careless input: `--read-only` never
fires, `exec --json` starts its JSON on a line of its own, terminal control sequences from
agents are shown escaped, and `history` shows tokens and cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crondeck.cli.main import main


def _config(tmp_path: Path, command: str, name: str = "greet") -> Path:
    path = tmp_path / "crondeck.toml"
    path.write_text(f'[[jobs]]\nname = "{name}"\ncommand = {json.dumps(command)}\n'
                    'schedule = "* * * * *"\nstart_immediately = true\n')
    return path


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crondeck.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, check=False)


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
    proc = _cli(config, "exec", "greet", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert lines[0] == "hello"
    assert json.loads(lines[1])["status"] == "ok"


def test_exec_json_adds_no_blank_line_after_a_full_line(tmp_path: Path) -> None:
    config = _config(tmp_path, "echo hello")
    proc = _cli(config, "exec", "greet", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "hello" and json.loads(lines[1])["status"] == "ok" and len(lines) == 2
