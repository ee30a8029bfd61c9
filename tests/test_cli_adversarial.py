"""What an operator trying to break crondeck from the shell found: each test is one of those
attempts, run as the shell runs it where that is what broke (a subprocess, its waits bounded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CRONDECK = [sys.executable, "-m", "crondeck.cli"]
JOB = '[[jobs]]\nname = "tick"\nschedule = "@daily"\ncommand = "true"\n'


def _crondeck(*args: str, cwd: Path | None = None, stdout: object = subprocess.PIPE,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CRONDECK, *args], cwd=cwd, stdout=stdout,  # type: ignore[call-overload]
                          stderr=subprocess.PIPE, text=True, timeout=timeout, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("args", [["list"], ["--version"], ["next", "@daily"]])
def test_output_to_a_full_disk_is_one_line_not_a_traceback(tmp_path: Path, args: list[str]
                                                           ) -> None:
    (tmp_path / "crondeck.toml").write_text(JOB)
    with open("/dev/full", "w") as full:
        proc = _crondeck(*args, cwd=tmp_path, stdout=full)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"crondeck{' ' + args[0] if args[0] != '--version' else ''}: cannot write its "
        "output: No space left on device"]
