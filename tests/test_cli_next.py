"""`crondeck next`: the builder in the terminal, through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def crondeck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crondeck.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_next_prints_description_warnings_and_fires():
    out = crondeck("next", "30 2 * * *", "-n", "3", "--tz", "America/New_York",
                   "--after", "2026-03-07T00:00")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "At 02:30  (America/New_York)"
    assert lines[1] == (
        "warning: 2026-03-08: 02:30 does not exist (DST change); runs at 03:00 instead"
    )
    assert lines[2:] == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]


def test_next_json():
    out = crondeck("next", "0 0 1 * MON", "-n", "2", "--tz", "UTC",
                   "--after", "2026-01-01T00:00+00:00", "--json")
    data = json.loads(out.stdout)
    assert data["description"] == "At 00:00 on day 1 of the month, or on Monday"
    assert any("EITHER" in w for w in data["warnings"])
    assert data["fires"] == ["2026-01-05T00:00:00+00:00", "2026-01-12T00:00:00+00:00"]


def test_bad_expression_shows_a_caret_on_stderr_and_exits_2():
    out = crondeck("next", "0 24 * * *", "--tz", "UTC")
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert lines[0] == "crondeck next: hour: 24 is out of range 0–23"
    assert lines[1] == "  0 24 * * *"
    assert lines[2] == "    ^^"


@pytest.mark.slow
def test_bad_zone_and_bad_after_are_clear():
    out = crondeck("next", "* * * * *", "--tz", "Europe/Berln")
    assert out.returncode == 2 and "Europe/Berlin" in out.stderr
    out = crondeck("next", "* * * * *", "--after", "yesterday")
    assert out.returncode == 2 and "ISO-8601" in out.stderr


@pytest.mark.slow
def test_every_interval_fires_on_its_grid():
    out = crondeck("next", "@every 90s", "-n", "2", "--tz", "UTC",
                   "--after", "2026-01-01T00:00:10+00:00")
    assert out.stdout.splitlines()[1:] == ["2026-01-01T00:01:30+00:00", "2026-01-01T00:03:00+00:00"]


@pytest.mark.slow
def test_an_unquoted_expression_the_shell_globbed_says_to_quote_it(tmp_path):
    for name in ("Makefile", "README.md", "notes"):
        (tmp_path / name).write_text("")
    words = ["0", "9", *(["Makefile", "README.md", "notes"] * 3)]  # what `0 9 * * *` became
    out = subprocess.run([sys.executable, "-m", "crondeck.cli", "next", *words],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    assert "the shell replaced * with the names of the 3 files here" in out.stderr
    assert "crondeck next '0 9 * * *'" in out.stderr
    assert "Traceback" not in out.stderr


def test_an_unquoted_expression_without_stars_is_read_as_typed():
    out = crondeck("next", "0", "9", "1", "1", "1", "-n", "1", "--tz", "UTC",
                   "--after", "2026-01-01T00:00")
    assert out.returncode == 0
    assert out.stdout.splitlines()[-1] == "2026-01-01T09:00:00+00:00"
