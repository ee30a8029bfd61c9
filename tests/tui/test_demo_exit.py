"""Leaving the demo says where its files are and how to open them again."""

from __future__ import annotations

import argparse
import shlex

from crondeck.cli.main import main
from crondeck.tui import app as app_module


def test_leaving_the_demo_prints_a_command_that_reopens_it(monkeypatch, capsys):
    monkeypatch.setattr(app_module.CrondeckApp, "run", lambda self: None)
    args = argparse.Namespace(demo=True, config=None, read_only=False)
    assert app_module.run_app(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("demo files kept in ")
    command = shlex.split(out[1])
    assert command[:2] == ["crondeck", "--config"]
    # the command given opens the same jobs: the demo's jobs file lists them
    assert main(["--config", command[2], "list", "--json"]) == 0
    assert "nightly-digest" in capsys.readouterr().out
