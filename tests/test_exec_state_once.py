"""`crondeck exec` reads the state once: what it read before the run is reused under the lock
when the files are unchanged, read again when anything changed them meanwhile (nothing is
lost), and a plain probe tells whether a scheduler holds the lock. SIGTERM ends a run as
SIGINT does."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from crondeck.cli.main import main
from crondeck.core import StateStore
from crondeck.core.lock import StateLock

JOBS = """\
[[jobs]]
name = "hello"
schedule = "@daily"
command = "{command}"
"""


def _config(tmp_path: Path, command: str) -> Path:
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS.format(command=command))
    return path


def _results(tmp_path: Path, job: str) -> list[str]:
    doc = tomllib.loads((tmp_path / ".crondeck" / "state.toml").read_text())
    return [r["run_id"] for r in doc["jobs"].get(job, {}).get("results", [])]


def test_an_unchanged_state_is_read_once(tmp_path, monkeypatch, capsys):
    config = _config(tmp_path, "echo ok")
    assert main(["--config", str(config), "exec", "hello", "--scheduled-for",
                 "2026-03-01T09:00Z"]) == 0
    reads: list[Path] = []
    real = StateStore._read

    def counted(self: StateStore, path: Path) -> object:
        reads.append(path)
        return real(self, path)

    monkeypatch.setattr(StateStore, "_read", counted)
    assert main(["--config", str(config), "exec", "hello", "--scheduled-for",
                 "2026-03-01T10:00Z"]) == 0
    assert [p.name for p in reads].count("state.toml") == 1
    assert _results(tmp_path, "hello") == ["hello@2026-03-01T09:00:00Z",
                                           "hello@2026-03-01T10:00:00Z"]
    assert "ok\n" in capsys.readouterr().out


def test_a_state_changed_during_the_run_is_read_again_and_nothing_is_lost(tmp_path):
    # Another writer (here the command itself, standing for an exec of another job that
    # finished meanwhile) replaces state.toml while the run goes on.
    other = tmp_path / "other.toml"
    store = StateStore(other)
    from datetime import UTC, datetime

    from crondeck.core import RunResult, RunStatus

    at = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    store.record(RunResult(run_id="other@1", job="other", scheduled_for=at,
                           status=RunStatus.OK, started_at=at, finished_at=at))
    store.flush()
    config = _config(tmp_path, f"cp {other} .crondeck/state.toml && echo copied")
    assert main(["--config", str(config), "exec", "hello", "--scheduled-for",
                 "2026-03-01T09:00Z"]) == 0  # the first run: its state is read, then replaced
    assert _results(tmp_path, "other") == ["other@1"]
    assert _results(tmp_path, "hello") == ["hello@2026-03-01T09:00:00Z"]


def test_the_scheduler_probe_writes_nothing(tmp_path):
    lock_path = tmp_path / "lock"
    assert StateLock(lock_path).in_use() is False
    assert lock_path.read_text() == ""
    holder = StateLock(lock_path).acquire()
    try:
        assert StateLock(lock_path).in_use() is True
        assert lock_path.read_text().strip().isdigit()  # the holder's pid, untouched
    finally:
        holder.release()
    assert StateLock(lock_path).in_use() is False


def test_sigterm_ends_the_agent_and_exits_130(tmp_path):
    config = _config(tmp_path, "echo started; exec sleep 60")
    proc = subprocess.Popen(
        [sys.executable, "-m", "crondeck.cli", "--config", str(config), "exec", "hello",
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == "started\n"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    result = json.loads(out.splitlines()[-1])
    assert result["status"] == "cancelled" and "SIGTERM" in result["error"]
    assert "recorded in" in err


@pytest.mark.parametrize("freeze", [False, True])
def test_exec_leaves_the_collector_as_it_found_it(tmp_path, freeze):
    import gc

    config = _config(tmp_path, "echo ok")
    gc.unfreeze()
    if freeze:
        gc.freeze()  # someone else's frozen objects stay frozen
    try:
        assert main(["--config", str(config), "exec", "hello"]) == 0
        assert gc.isenabled()
        assert (gc.get_freeze_count() > 0) is freeze
    finally:
        gc.unfreeze()


def test_exec_hands_sigint_back_as_it_found_it(tmp_path, monkeypatch):
    """Until the slot's own handler takes SIGINT, a KeyboardInterrupt is raised as by
    Python's handler (so asyncio.run installs none of its own); afterwards Python's is back."""
    import asyncio

    from crondeck.cli.commands import exec as exec_command

    seen = []
    real_run = asyncio.run

    def run(coro, **kwargs):
        handler = signal.getsignal(signal.SIGINT)
        seen.append(handler)
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGINT, None)
        return real_run(coro, **kwargs)

    monkeypatch.setattr(asyncio, "run", run)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert main(["--config", str(_config(tmp_path, "echo ok")), "exec", "hello"]) == 0
    assert seen == [exec_command._raise_keyboard_interrupt]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
