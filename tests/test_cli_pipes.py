"""Commands meet closed pipes and bad counts as a shell user would: quietly, promptly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crondeck.cli.main import main

CRONDECK = [sys.executable, "-m", "crondeck.cli"]


@pytest.mark.slow
def test_a_reader_that_goes_away_ends_the_command_quietly():
    proc = subprocess.Popen([*CRONDECK, "next", "* * * * *", "-n", "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()  # like `| head -1`
    proc.stdout.close()
    assert proc.wait(timeout=30) == 141
    assert proc.stderr.read() == b""


@pytest.mark.slow
def test_crondeck_run_stops_when_its_log_reader_goes_away(tmp_path: Path):
    config = tmp_path / "crondeck.toml"
    config.write_text('[[jobs]]\nname = "tick"\nschedule = "@every 1s"\ncommand = "true"\n')
    proc = subprocess.Popen([*CRONDECK, "--config", str(config), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None and proc.stderr is not None
    try:
        assert b"config_loaded" in proc.stdout.readline()
        proc.stdout.close()
        started = time.monotonic()
        # the next event (the 1 s job) finds the pipe closed; shutting down is prompt
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        assert b"stdout was closed" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_history_refuses_a_count_below_one(capsys):
    for bad in ("0", "-5", "x"):
        try:
            main(["history", "-n", bad])
        except SystemExit as stop:
            assert stop.code == 2
        else:
            raise AssertionError(f"-n {bad} was accepted")
        assert "argument -n" in capsys.readouterr().err
