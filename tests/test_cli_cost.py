"""`crondeck list` shows what model jobs spend: tokens today against the daily budget and
cost today and in total, in the table and in --json; a runtime without models keeps its table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crondeck.cli.main import main
from crondeck.core.jobs import JobState
from crondeck.core.results import RunResult, RunStatus, Usage
from crondeck.core.store import StateStore

DECK = """\
[defaults]
timezone = "UTC"

[agents.gpt]
kind = "openai"
model = "gpt-4o-mini"
api_key_env = "OPENAI_API_KEY"
price_in = 0.15
price_out = 0.60

[agents.local]
kind = "openai"
base_url = "http://localhost:11434/v1"
model = "llama3.1"

[[jobs]]
name = "digest"
agent = "gpt"
prompt = "Summarize."
schedule = "0 7 * * *"
daily_token_budget = 50000

[[jobs]]
name = "triage"
agent = "local"
prompt = "Triage."
schedule = "*/5 * * * *"

[[jobs]]
name = "backup"
command = ["true"]
schedule = "0 3 * * *"
"""


def _deck(tmp_path: Path, digest_day: str) -> Path:
    path = tmp_path / "crondeck.toml"
    path.write_text(DECK)
    store = StateStore(tmp_path / ".crondeck" / "state.toml")
    ran = datetime.now(UTC) - timedelta(minutes=10)
    last = RunResult(run_id=f"digest@{ran.isoformat()}", job="digest", scheduled_for=ran,
                     status=RunStatus.OK, started_at=ran, finished_at=ran,
                     usage=Usage(9_000, 3_345), cost=0.0033570)
    store.put(JobState("digest", run_count=4, results=(last,), tokens_day=digest_day,
                       tokens_today=12_345, tokens_total=98_765, cost_today=0.4213,
                       cost_total=3.1))
    store.put(JobState("triage", run_count=9, tokens_day=digest_day, tokens_today=2_000,
                       tokens_total=1_500_000))
    store.flush()
    return path


def _row(out: list[str], job: str) -> str:
    return next(line for line in out if f" {job} " in line)


def test_list_shows_tokens_today_against_the_budget_and_cost(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _deck(tmp_path, datetime.now(UTC).date().isoformat())
    assert main(["list", "--config", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NEXT", "LEFT", "LAST", "PASSED", "STATUS", "TOKENS", "COST",
                              "JOB", "SCHEDULE"]
    assert "12.3k of 50.0k today" in _row(out, "digest")
    assert "$0.42 today · $3.10 total" in _row(out, "digest")
    triage = _row(out, "triage")  # a local model: tokens, but no price, so no cost
    assert "2.0k today" in triage and "$" not in triage
    backup = _row(out, "backup")  # not a model: dashes in both columns
    assert backup.split()[backup.split().index("backup") - 2:][:2] == ["-", "-"]

    assert main(["list", "--json", "--config", str(path)]) == 0
    items = {r["job"]: r for r in json.loads(capsys.readouterr().out)}
    digest = items["digest"]
    assert (digest["tokens_today"], digest["tokens_total"], digest["daily_token_budget"]) == (
        12_345, 98_765, 50_000)
    assert (digest["cost_today"], digest["cost_total"]) == (0.4213, 3.1)
    assert (digest["last_run_tokens"], digest["last_run_cost"]) == (12_345, 0.003357)
    assert items["triage"]["tokens_total"] == 1_500_000 and items["triage"]["cost_total"] == 0
    assert items["backup"]["tokens_today"] == 0 and items["backup"]["last_run_cost"] is None
    assert "priced" not in digest


def test_yesterdays_counters_are_not_today_s(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    path = _deck(tmp_path, yesterday)
    assert main(["list", "--config", str(path)]) == 0
    digest = _row(capsys.readouterr().out.splitlines(), "digest")
    assert "0 of 50.0k today" in digest and "$0.00 today · $3.10 total" in digest
    assert main(["list", "--json", "--config", str(path)]) == 0
    items = {r["job"]: r for r in json.loads(capsys.readouterr().out)}
    assert items["digest"]["tokens_today"] == 0 and items["digest"]["cost_today"] == 0
    assert items["digest"]["tokens_total"] == 98_765
