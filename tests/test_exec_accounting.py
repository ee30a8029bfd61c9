"""`crondeck exec` is accounted like a scheduled run: it honours the daily token budget and
adds to the job's counters (tokens, runs in total, consecutive failures), with or without a
scheduler beside it; beside one, an exec without a slot is a manual run with its own id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crondeck.core.inbox import read_inbox
from crondeck.core.lock import StateLock
from crondeck.core.results import RunResult
from crondeck.core.runlogs import RunLogs
from crondeck.core.store import StateStore

SPENDER = '''
async def run(prompt, ctx):
    ctx.add_usage(400, 200)
    print("spent")
    return 0


async def broken(prompt, ctx):
    raise RuntimeError("no luck")
'''


def _config(tmp_path: Path) -> Path:
    (tmp_path / "spender.py").write_text(SPENDER)
    path = tmp_path / "crondeck.toml"
    path.write_text(
        '[defaults]\ntimezone = "UTC"\n\n'
        '[[jobs]]\nname = "spend"\npython = "spender:run"\nschedule = "0 9 * * *"\n'
        'daily_token_budget = 500\n\n'
        '[[jobs]]\nname = "flaky"\npython = "spender:broken"\nschedule = "0 9 * * *"\n')
    return path


def _exec(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(config.parent))
    return subprocess.run(
        [sys.executable, "-m", "crondeck.cli", "--config", str(config), "exec", *args],
        capture_output=True, text=True, timeout=120, check=False, env=env)


def _summary(proc: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(proc.stdout.splitlines()[-1])


def _jobs_state(config: Path) -> dict:
    return tomllib.loads((config.parent / ".crondeck" / "state.toml").read_text())["jobs"]


@pytest.mark.slow
def test_exec_honours_the_daily_budget_and_counts_tokens_and_runs(tmp_path: Path) -> None:
    config = _config(tmp_path)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    codes = [_exec(config, "spend", "--scheduled-for", f"{today}T0{h}:00", "--json")
             for h in (1, 2, 3)]
    assert [p.returncode for p in codes] == [0, 3, 3], [p.stderr for p in codes]
    assert _summary(codes[1])["skip_reason"] == "budget"
    assert "600 of 500 tokens used today" in _summary(codes[2])["error"]
    spend = _jobs_state(config)["spend"]
    assert (spend["tokens_today"], spend["tokens_total"], spend["run_count"]) == (600, 600, 1)
    listed = subprocess.run(
        [sys.executable, "-m", "crondeck.cli", "--config", str(config), "list", "--json"],
        capture_output=True, text=True, timeout=120, check=True)
    [row] = [r for r in json.loads(listed.stdout) if r.get("job", r.get("name")) == "spend"]
    assert row["tokens_today"] == 600


def test_exec_counts_consecutive_failures(tmp_path: Path) -> None:
    config = _config(tmp_path)
    for minute in ("09:00", "09:01"):
        assert _exec(config, "flaky", "--scheduled-for", f"2026-03-01T{minute}").returncode == 1
    flaky = _jobs_state(config)["flaky"]
    assert (flaky["consecutive_failures"], flaky["run_count"]) == (2, 2)


def test_exec_beside_a_scheduler_is_a_manual_run_with_its_own_id(tmp_path: Path) -> None:
    config = _config(tmp_path)
    state_dir = tmp_path / ".crondeck"
    with StateLock(state_dir / "lock"):  # a scheduler holds it
        proc = _exec(config, "flaky", "--json")
    result = _summary(proc)
    slot_id = RunResult.from_dict(result).scheduled_for.replace(second=0, microsecond=0)
    assert result["manual"] is True
    assert result["run_id"] != f"flaky@{slot_id.isoformat()[:-6]}Z"  # not the slot's id
    [(_path, folded)] = read_inbox(state_dir)
    assert folded is not None and folded.run_id == result["run_id"]
    # its own log file, named after its own id, not the scheduler's run of that minute
    assert [p.name for p in (state_dir / "runs" / "flaky").iterdir()] == [
        RunLogs(state_dir / "runs").path("flaky", result["run_id"]).name]


def test_exec_without_a_scheduler_keeps_the_minute_as_its_slot(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = _summary(_exec(config, "flaky", "--json"))
    assert result["manual"] is False and result["run_id"].endswith(":00Z")


def test_exec_beside_a_scheduler_honours_the_budget_the_scheduler_keeps(
        tmp_path: Path) -> None:
    config = _config(tmp_path)
    state_dir = tmp_path / ".crondeck"
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert _exec(config, "spend", "--scheduled-for", f"{today}T01:00").returncode == 0
    with StateLock(state_dir / "lock"):  # a scheduler holds it
        proc = _exec(config, "spend", "--json")
    assert proc.returncode == 3 and _summary(proc)["skip_reason"] == "budget"


def test_a_running_scheduler_accounts_folded_exec_results(tmp_path: Path) -> None:
    """The inbox path: tokens, runs and failures of exec results join the job's counters."""
    import asyncio

    from crondeck.core.config import load_config
    from crondeck.core.inbox import drop_result, fold_into_runtime
    from crondeck.core.results import RunStatus, Usage
    from crondeck.core.runtime import open_runtime

    config = _config(tmp_path)
    state_dir = tmp_path / ".crondeck"
    now = datetime.now(UTC)
    spent = RunResult(run_id="spend@x", job="spend", scheduled_for=now, status=RunStatus.OK,
                      started_at=now, finished_at=now, usage=Usage(400, 200))
    failed = RunResult(run_id="flaky@x", job="flaky", scheduled_for=now,
                       status=RunStatus.FAILED, started_at=now, finished_at=now, error="x")

    async def main() -> None:
        runtime = open_runtime(load_config(config))
        try:
            drop_result(state_dir, spent)
            drop_result(state_dir, failed)
            fold_into_runtime(runtime)
            spend, flaky = runtime.scheduler.jobs["spend"], runtime.scheduler.jobs["flaky"]
            assert (spend.tokens_today, spend.tokens_total, spend.run_count) == (600, 600, 1)
            assert (flaky.consecutive_failures, flaky.run_count) == (1, 1)
            fold_into_runtime(runtime)  # folding again changes nothing
            assert spend.tokens_today == 600
        finally:
            runtime.close()

    asyncio.run(main())
    stored = StateStore(state_dir / "state.toml").load().get("spend")
    assert stored is not None and stored.tokens_today == 600
