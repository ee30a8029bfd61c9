"""Per-run logs: the full output of each run, capped per run and rotated by count and size."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from crondeck.core.runlogs import RunLogs


def _log(logs: RunLogs, job: str, i: int, text: str) -> Path:
    log = logs.open(job, f"{job}@2025-03-01T09:{i:02d}:00Z")
    log.write(text)
    log.close()
    os.utime(log.path, ns=(i * 10**9, i * 10**9))  # oldest first, whatever the disk says
    return log.path


def test_logs_are_private_and_named_safely(tmp_path: Path) -> None:
    logs = RunLogs(tmp_path / "runs")
    path = _log(logs, "a/b", 1, "hi\n")
    assert path.parent.name == "a%2Fb" and ":" not in path.name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert logs.find("a/b", "a/b@2025-03-01T09:01:00Z") == path
    assert logs.find("a/b") == path


def test_rotation_by_count_and_by_total_size(tmp_path: Path) -> None:
    logs = RunLogs(tmp_path / "runs", keep=3, max_total=10_000)
    paths = [_log(logs, "j", i, "x\n") for i in range(5)]
    logs.rotate("j")
    assert logs.runs("j") == paths[2:]
    big = [_log(logs, "j", 10 + i, "y" * 4000) for i in range(3)]
    logs.rotate("j", frozenset({big[0]}))  # a log in use is never removed
    assert logs.runs("j") == [big[0], big[2]]  # 8,000 bytes: under the cap again


def test_a_runaway_run_is_capped_with_a_note(tmp_path: Path) -> None:
    logs = RunLogs(tmp_path / "runs", max_bytes=100)
    log = logs.open("j", "j@1")
    for _ in range(50):
        log.write("0123456789\n")
    log.write("oops\n", "stderr")
    log.close()
    text = log.path.read_text()
    assert text.count("0123456789") == 9
    assert "output beyond 100 bytes not logged" in text and "oops" not in text


def test_a_chunk_of_lines_crossing_the_cap_keeps_the_lines_that_fit(tmp_path: Path) -> None:
    logs = RunLogs(tmp_path / "runs", max_bytes=100)
    log = logs.open("j", "j@1")
    log.write("0123456789\n" * 5)
    log.write("0123456789\n" * 2 + "é\n" * 20, "stderr")  # crosses the cap mid-chunk
    log.write("later\n")
    log.close()
    lines = log.path.read_text().splitlines()
    # 5 x 11 + 2 x 20 bytes fit; the first `é` line (12 bytes) would pass 100
    assert lines[:7] == ["0123456789"] * 5 + ["[stderr] 0123456789"] * 2
    assert len(lines) == 8 and "output beyond 100 bytes not logged" in lines[-1]


def test_distinct_job_names_never_share_a_log_directory(tmp_path: Path) -> None:
    logs = RunLogs(tmp_path / "runs")
    names = ["a-b", "a b", "a:b", "a/b", "a%2Fb", "a%b", ".hidden", "%2Ehidden", "_.hidden",
             "", "_", "%", "..", "café", "cafe\u0301", "x" * 300, "x" * 299 + "y"]
    dirs = {logs.job_dir(name) for name in names}
    assert len(dirs) == len(names)
    for name in names:
        assert logs.job_dir(name).parent == logs.root and len(logs.job_dir(name).name) < 256
        assert not logs.job_dir(name).name.startswith(".")
    for i, name in enumerate(["a b", "a-b", "a:b"]):
        _log(logs, name, i, f"output of {name}\n")
    for name in ["a b", "a-b", "a:b"]:
        found = logs.find(name)
        assert found is not None and found.read_text() == f"output of {name}\n"


def test_safe_names_keep_their_directory(tmp_path: Path) -> None:
    logs = RunLogs(tmp_path / "runs")
    for name in ["nightly-report", "db.backup", "a_b", "user@host", "v1+2"]:
        assert logs.job_dir(name).name == name


def test_exec_results_of_similar_job_names_wait_in_separate_inbox_files(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from crondeck.core.inbox import drop_result, read_inbox
    from crondeck.core.results import RunResult, RunStatus, make_run_id

    slot = datetime(2026, 3, 1, 9, tzinfo=UTC)
    for job in ("a b", "a-b", "a:b"):
        drop_result(tmp_path, RunResult(run_id=make_run_id(job, slot), job=job,
                                        scheduled_for=slot, status=RunStatus.OK))
    waiting = read_inbox(tmp_path)
    assert sorted(r.job for _, r in waiting if r is not None) == ["a b", "a-b", "a:b"]


def test_a_symlinked_job_directory_is_refused_and_never_rotated(tmp_path: Path) -> None:
    import pytest

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    precious = [elsewhere / f"{i}.log" for i in range(5)]
    for p in precious:
        p.write_text("keep me\n")
    logs = RunLogs(tmp_path / "runs", keep=1)
    (tmp_path / "runs").mkdir()
    logs.job_dir("j").symlink_to(elsewhere)
    with pytest.raises(OSError, match="symlink"):
        logs.open("j", "j@1")
    assert logs.rotate("j") == [] and all(p.exists() for p in precious)


def test_a_symlinked_runs_directory_is_refused(tmp_path: Path) -> None:
    import pytest

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "runs").symlink_to(elsewhere)
    logs = RunLogs(tmp_path / "state" / "runs")
    with pytest.raises(OSError, match="symlink"):
        logs.open("j", "j@1")
    assert list(elsewhere.iterdir()) == []


def test_a_planted_symlink_at_a_log_path_is_not_written_through(tmp_path: Path) -> None:
    import pytest

    target = tmp_path / "victim.txt"
    target.write_text("untouched\n")
    logs = RunLogs(tmp_path / "runs")
    logs.job_dir("j").mkdir(parents=True)
    logs.path("j", "j@1").symlink_to(target)
    with pytest.raises(OSError):
        logs.open("j", "j@1")
    assert target.read_text() == "untouched\n"


def test_rotation_removes_only_the_jobs_own_log_files(tmp_path: Path) -> None:
    outside = tmp_path / "outside.log"
    outside.write_text("keep me\n")
    logs = RunLogs(tmp_path / "runs", keep=1)
    paths = [_log(logs, "j", i, "x\n") for i in range(3)]
    link = logs.job_dir("j") / "0-link.log"
    link.symlink_to(outside)
    os.utime(link, ns=(0, 0), follow_symlinks=False)
    logs.rotate("j")
    assert outside.read_text() == "keep me\n"
    assert paths[-1].exists()
