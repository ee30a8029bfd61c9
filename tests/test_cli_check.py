"""`crondeck check` on several files at once (`crondeck check examples/*.toml` in CI): each
file gets its own verdict, a bad file never hides the others, exit 2 if any is bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from crondeck.cli.main import main

GOOD = """\
[defaults]
timezone = "UTC"

[[jobs]]
name = "weekly"
command = ["true"]
schedule = "0 9 * * MON"
"""

BAD = GOOD.replace("MON", "MONDAY")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    a, b, c = tmp_path / "a.toml", tmp_path / "b.toml", tmp_path / "c.toml"
    a.write_text(GOOD)
    b.write_text(BAD)
    c.write_text(GOOD.replace('"weekly"', '"other"'))
    return a, b, c


def test_several_good_files_each_get_a_summary_line(
    files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, _, c = files
    assert main(["check", str(a), str(c)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{a}: OK, 1 job, 0 agents; next: weekly at Mon ")
    assert lines[1].startswith(f"{c}: OK, 1 job, 0 agents; next: other at Mon ")
    assert err == ""


def test_one_bad_file_among_several_exits_2_and_the_others_are_still_checked(
    files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c = files
    assert main(["check", str(a), str(b), str(c)]) == 2
    out, err = capsys.readouterr()
    assert [line.split(": OK")[0] for line in out.splitlines()] == [str(a), str(c)]
    assert f"crondeck check: 1 problem in {b} (nothing was changed):" in err
    assert f"{b}:7: job 'weekly', schedule: bad schedule '0 9 * * MONDAY'" in err
    assert err.rstrip().endswith("crondeck check: 1 of 3 files has problems")
    assert b.read_text() == BAD  # never changed


def test_a_missing_path_is_a_problem_not_a_crash(
    files: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["check", str(files[0]), str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: no such file" in err
    assert not missing.exists()  # a named file is never created as an example


def test_a_single_positional_path_reads_like_config(
    files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(files[1])]) == 2
    err = capsys.readouterr().err
    assert "1 problem in the jobs file (nothing was changed)" in err
    assert "files have problems" not in err and "files has problems" not in err


def test_config_still_works_and_combines_with_paths(
    files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c = files
    assert main(["check", "--config", str(a)]) == 0
    assert capsys.readouterr().out.startswith(f"{a}: OK, 1 job")
    assert main(["--config", str(b), "check", str(c)]) == 2
    out, err = capsys.readouterr()
    assert out.startswith(f"{c}: OK") and f"1 problem in {b}" in err
