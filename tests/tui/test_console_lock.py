"""The console running its scheduler in-process watches its state lock as `crondeck run`
does: a deleted lock file stops the schedule even when no run is about to claim a slot."""

from __future__ import annotations

import asyncio
from datetime import UTC
from pathlib import Path

import pytest

from crondeck.core import runtime as runtime_module
from crondeck.core.clock import FakeClock
from crondeck.core.config import load_config
from crondeck.core.events import LockLost
from crondeck.core.runtime import open_runtime
from crondeck.tui.app import CrondeckApp

JOBS = """
[[jobs]]
name = "a"
schedule = "0 0 1 1 *"
command = "echo a"
"""


@pytest.mark.slow
def test_the_console_notices_a_deleted_lock_without_any_claim(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "LOCK_CHECK", 0.02)
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS)
    runtime = open_runtime(load_config(path), clock=FakeClock())
    app = CrondeckApp(runtime.scheduler, config_path=path, clock=runtime.scheduler.clock,
                      zone=UTC, start=True, live=False)
    app.runtime = runtime

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            lost = asyncio.Event()
            runtime.scheduler.add_listener(
                lambda event: lost.set() if isinstance(event, LockLost) else None)
            (tmp_path / ".crondeck" / "lock").unlink()
            await asyncio.wait_for(lost.wait(), 5)
            assert "deleted" in runtime.lock_lost
            assert runtime.read_only

    try:
        asyncio.run(go())
    finally:
        runtime.close()
