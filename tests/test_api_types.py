"""The embedding API's type hints catch a caller's mistakes under `mypy --strict`: a misspelt
job option, a value of the wrong type, and accept every kind of agent add_job takes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

USER_CODE = '''
from datetime import timedelta

from crondeck.core import CommandAgent, RunResult, Scheduler, every


class FrameworkAgent:
    def run(self, prompt: str) -> str:
        return prompt


class AsyncFrameworkAgent:
    async def arun(self, prompt: str, extra: int = 0) -> str:
        return prompt


def tick() -> None: ...


async def record(result: RunResult) -> None: ...


s = Scheduler()
s.add_job(FrameworkAgent(), "p", every(hours=1))
s.add_job(AsyncFrameworkAgent(), "p", every(hours=1), on_result=record)
s.add_job(tick, None, every(hours=1), timeout=timedelta(minutes=5), overlap="queue_one")
s.add_job(["claude", "-p"], "p", "@hourly", on_result=print)
job = s.add_job(CommandAgent("ls"), None, "@hourly", retries=2, timeout="5m")
s.update_job(job, schedule=every(minutes=5, start="now"), enabled=False, timeout=60)
s.add_job(tick, None, every(hours=1), timeot=5)  # error
s.add_job(tick, None, every(hours=1), overlap="never")  # error
s.update_job("tick", retries="2")  # error
'''


@pytest.mark.slow
def test_mypy_checks_add_job_and_update_job_for_their_callers(tmp_path: Path) -> None:
    # mypy reads crondeck.* through links named as they are imported (as `make lint` does)
    tree = tmp_path / "path" / "crondeck"
    tree.mkdir(parents=True)
    for folder in ("core", "cli", "tui"):
        (tree / folder).symlink_to(ROOT / folder)
    user = tmp_path / "user.py"
    user.write_text(USER_CODE)
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--python-version", "3.11",
         "--no-incremental", "--follow-imports=silent", "--config-file", "/dev/null",
         str(user)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={"MYPYPATH": str(tmp_path / "path"), "PATH": "/usr/bin:/bin"},
    ).stdout
    errors = sorted(int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line)
    expected = [n for n, line in enumerate(USER_CODE.splitlines(), 1) if "# error" in line]
    assert errors == expected, out
    assert 'did you mean "timeout"' in out
