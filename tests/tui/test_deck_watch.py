"""The app follows the jobs file when someone else edits it, and never runs a broken edit."""

from __future__ import annotations

import os
from pathlib import Path

from crondeck.core.config import load_config
from crondeck.core.deck import open_deck
from crondeck.tui.deck_watch import DeckWatcher

JOBS = """
[[jobs]]
name = "a"
schedule = "*/5 * * * *"
command = "echo a"
"""


def write(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    st = path.stat()  # make sure the change is visible even within one mtime tick
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def test_reload_adds_jobs_and_reports_bad_edits_keeping_the_schedule(tmp_path):
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS)
    notices: list[tuple[str, dict]] = []
    deck = open_deck(load_config(path))
    try:
        watcher = DeckWatcher(deck, lambda msg, **kw: notices.append((msg, kw)))
        assert watcher.check() is None  # unchanged: nothing to do, nothing said
        job_b = '\n[[jobs]]\nname = "b"\nschedule = "@every 1m"\ncommand = "echo b"\n'
        write(path, JOBS + job_b, 1)
        done = watcher.check()
        assert done is not None and done.added == ["b"]
        assert set(deck.scheduler.jobs) == {"a", "b"}
        assert "added b" in notices[-1][0]
        write(path, JOBS.replace("*/5", "*/0"), 2)  # a broken edit
        refused = watcher.check()
        assert refused is not None and not refused.ok
        assert set(deck.scheduler.jobs) == {"a", "b"}  # the running schedule is kept
        assert notices[-1][1]["severity"] == "error"
        assert "step" in notices[-1][0] and "kept" in notices[-1][0]
    finally:
        deck.close()
