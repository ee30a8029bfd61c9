"""`crondeck history` shows what a run's output contract captured (its named JSON group) in
the DETAIL column, compact and cut to fit, not only in `history --json`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crondeck.cli.main import main
from crondeck.core.jobs import JobState
from crondeck.core.results import RunResult, RunStatus
from crondeck.core.store import StateStore

DECK = """\
[defaults]
timezone = "UTC"

[[jobs]]
name = "digest"
command = ["true"]
schedule = "0 7 * * *"
"""


def _deck(tmp_path: Path, *results: tuple[RunStatus, Any, str]) -> Path:
    """A jobs file whose saved state holds `results` (status, contract, error), oldest first."""
    path = tmp_path / "crondeck.toml"
    path.write_text(DECK)
    store = StateStore(tmp_path / ".crondeck" / "state.toml")
    start = datetime.now(UTC) - timedelta(days=len(results))
    runs = []
    for i, (status, contract, error) in enumerate(results):
        at = start + timedelta(days=i)
        runs.append(RunResult(run_id=f"digest#{i}", job="digest", scheduled_for=at,
                              status=status, started_at=at, finished_at=at + timedelta(seconds=2),
                              exit_code=0 if status is RunStatus.OK else 3, error=error,
                              contract=contract))
    store.put(JobState("digest", run_count=len(runs), results=tuple(runs)))
    store.flush()
    return path


def _row(out: str, run_id: str) -> str:
    return next(line for line in out.splitlines() if f" {run_id} " in line + " ")


def test_an_ok_run_shows_its_contract_json_in_detail(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _deck(tmp_path, (RunStatus.OK, {"count": 3, "urgent": False}, ""),
                 (RunStatus.OK, None, ""))
    assert main(["history", "digest", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert _row(out, "digest#0").rstrip().endswith('contract: {"count": 3, "urgent": false}')
    assert "contract" not in _row(out, "digest#1")


def test_a_long_contract_is_cut_to_one_line_and_json_keeps_all_of_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [f"headline number {i}\nwith a second line" for i in range(40)]
    path = _deck(tmp_path, (RunStatus.OK, {"items": items}, ""))
    assert main(["history", "digest", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    row = _row(out, "digest#0")
    detail = row[row.index("contract: "):].rstrip()
    assert detail.startswith('contract: {"items": ["headline number 0\\nwith a second line", ')
    assert detail.endswith("…") and len(detail) == 80
    assert len(out.splitlines()) == 4  # header, one row, blank, totals: nothing wrapped
    assert main(["history", "digest", "--json", "--config", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["contract"] == {"items": items}


def test_a_failed_run_keeps_its_reason_before_the_contract(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _deck(tmp_path, (RunStatus.FAILED, [1, 2], "exit code 3: upload failed"))
    assert main(["history", "digest", "--config", str(path)]) == 0
    row = _row(capsys.readouterr().out, "digest#0")
    assert row.rstrip().endswith("exit code 3: upload failed; contract: [1, 2]")
