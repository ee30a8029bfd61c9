"""The daily budget across processes: two `crondeck exec` runs of one job started together
cannot both pass the budget check (check and reservation are one step under a file lock),
and a result folded from the inbox counts the tokens of every attempt of its run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crondeck.core.budget import release_budget, reserve_budget
from crondeck.core.inbox import drop_result, read_inbox
from crondeck.core.lock import StateLock
from crondeck.core.results import RunResult, RunStatus, Usage

AGENTS = '''
import asyncio, pathlib

async def slow(prompt, ctx):
    await asyncio.sleep(2)
    ctx.add_usage(400, 200)
    print("spent")
    return 0

async def flaky(prompt, ctx):
    ctx.add_usage(400, 200)
    marker = pathlib.Path(__file__).with_name("tried")
    if not marker.exists():
        marker.write_text("1")
        raise RuntimeError("first attempt fails")
    return "done\\n"
'''


def _config(tmp_path: Path) -> Path:
    (tmp_path / "agents_shared.py").write_text(AGENTS)
    path = tmp_path / "crondeck.toml"
    path.write_text(
        '[defaults]\ntimezone = "UTC"\n\n'
        '[[jobs]]\nname = "slow"\npython = "agents_shared:slow"\nschedule = "0 9 * * *"\n'
        'daily_token_budget = 500\n\n'
        '[[jobs]]\nname = "flaky"\npython = "agents_shared:flaky"\nschedule = "0 9 * * *"\n'
        'retries = 1\nretry_backoff = "1s"\n')
    return path


def _start(config: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(config.parent))
    return subprocess.Popen(
        [sys.executable, "-m", "crondeck.cli", "--config", str(config), "exec", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
def test_two_simultaneous_execs_cannot_both_pass_the_budget(tmp_path: Path) -> None:
    config = _config(tmp_path)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    procs = [_start(config, "slow", "--scheduled-for", f"{today}T0{h}:00", "--json")
             for h in (1, 2)]
    outs = [p.communicate(timeout=60) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3], outs
    skipped = next(json.loads(out.splitlines()[-1]) for (out, _), p in zip(outs, procs,
                                                                           strict=True)
                   if p.returncode == 3)
    assert skipped["skip_reason"] == "budget"
    from crondeck.core.atomic import read_toml
    assert read_toml(tmp_path / ".crondeck" / "budget.toml").get("reserved") == []


def test_a_reservation_holds_until_released_and_dies_with_its_process(tmp_path: Path) -> None:
    day = "2026-12-05"
    assert reserve_budget(tmp_path, "j", "a", day, 0, 500, None) == 0  # reserves the rest
    assert reserve_budget(tmp_path, "j", "b", day, 0, 500, None) == 500  # refused
    assert reserve_budget(tmp_path, "other", "c", day, 0, 500, 100) == 0  # its own budget
    release_budget(tmp_path, "a")
    assert reserve_budget(tmp_path, "j", "d", day, 0, 500, 120) == 0
    assert reserve_budget(tmp_path, "j", "e", day, 300, 500, 120) == 420  # 300 + d's 120
    assert reserve_budget(tmp_path, "j", "f", day, 400, 500, 120) == 640  # + d's and e's: over
    # a reservation of a process that died holds nothing
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    path = tmp_path / "budget.toml"
    path.write_text(path.read_text().replace(f"pid = {os.getpid()}",
                                             f"pid = {dead.stdout.strip()}"))
    assert reserve_budget(tmp_path, "j", "g", day, 0, 500, None) == 0


@pytest.mark.slow
def test_an_exec_result_folded_from_the_inbox_counts_every_attempt(tmp_path: Path) -> None:
    from crondeck.core.config import load_config
    from crondeck.core.inbox import fold_into_runtime
    from crondeck.core.runtime import open_runtime

    config = _config(tmp_path)
    state_dir = tmp_path / ".crondeck"
    with StateLock(state_dir / "lock"):  # a scheduler holds it: the result goes to the inbox
        proc = _start(config, "flaky", "--json")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result = json.loads(out.splitlines()[-1])
    assert result["attempt"] == 2 and result["usage"]["prompt_tokens"] == 400
    [(_path, waiting)] = read_inbox(state_dir)
    assert waiting is not None and waiting.extra["run_tokens"] == 1200

    async def fold() -> None:
        runtime = open_runtime(load_config(config))
        try:
            fold_into_runtime(runtime)
            job = runtime.scheduler.jobs["flaky"]
            assert (job.tokens_today, job.tokens_total) == (1200, 1200)
        finally:
            runtime.close()

    asyncio.run(fold())


def test_folding_counts_the_run_totals_the_inbox_file_carries(tmp_path: Path) -> None:
    """Without a scheduler, the next exec folds the inbox itself: the totals count there too."""
    from crondeck.core.jobs import JobState
    from crondeck.core.ledger import count_result

    now = datetime.now(UTC)
    result = RunResult(run_id="j@x", job="j", scheduled_for=now, status=RunStatus.OK,
                       started_at=now, finished_at=now, usage=Usage(400, 200), attempt=3)
    drop_result(tmp_path, result, tokens=1800, cost=0.5)
    [(_path, waiting)] = read_inbox(tmp_path)
    assert waiting is not None and waiting == result
    state = count_result(JobState(name="j"), waiting, now.date().isoformat())
    assert (state.tokens_today, state.tokens_total, state.cost_total) == (1800, 1800, 0.5)
