"""A console attached to a scheduler of more jobs than a first screen needs: the mirror reads
each job's record when the screen comes to it, the first screen shows the jobs that fire
soonest, every job is there once the rows are filled, and keys work on any of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from conftest import SIZE, START
from helpers import until

from crondeck.core import LARGE_SCHEDULE, JobOptions, RemoteScheduler
from crondeck.core.clock import FakeClock
from crondeck.core.wire import options_json
from crondeck.tui.app import CrondeckApp
from crondeck.tui.attached import AttachedDashboard

WAIT = 60.0  # the rows of ~20,000 jobs, on a loaded machine


def record(name: str, minutes: int) -> dict[str, Any]:
    return {"name": name, "paused": False, "next_fire": (START + timedelta(
                minutes=minutes)).isoformat(), "running": [], "prompt": "p",
            "schedule": {"expression": f"*/{minutes % 30 + 1} * * * *", "zone": "UTC",
                         "describe": ""},
            "agent": {"kind": "command", "name": "echo", "program": "echo",
                      "describe": "echo hi"},
            "options": options_json(JobOptions())}


class Link:
    """A scheduler's connection: its snapshot, no further messages, commands answered."""

    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        self.hello = {"type": "hello", "version": 1, "pid": 4121, "kind": "crondeck run",
                      "started_at": START.isoformat()}
        self.snapshot = {"type": "snapshot", "seq": 1, "jobs": jobs, "output": [],
                         "scheduler": {"paused": False, "running_loop": True, "seq": 1}}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.closed = asyncio.Event()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[dict[str, Any]]:
        await self.closed.wait()
        return
        yield {}

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        self.calls.append((op, args))
        return {"job": args.get("job"), "skip_next": True, "next_fire": None}

    async def close(self) -> None:
        self.closed.set()


class Watched:
    """Notes, as the rows start to fill (the first screen drawn), what was made by then."""

    at_first_screen: tuple[int, int, str] | None = None

    @classmethod
    def on(cls, monkeypatch: pytest.MonkeyPatch) -> None:
        cls.at_first_screen = None
        fill = AttachedDashboard._fill_rows

        def _fill_rows(screen: AttachedDashboard) -> None:
            if cls.at_first_screen is None:
                unread = sum(not j.filled for j in screen.scheduler.jobs.values())
                cls.at_first_screen = (len(screen.model.pending), unread, screen.table.order[0])
            fill(screen)

        monkeypatch.setattr(AttachedDashboard, "_fill_rows", _fill_rows)


@pytest.mark.slow
def test_the_first_screen_reads_the_soonest_jobs_and_the_rest_fill_in(monkeypatch):
    Watched.on(monkeypatch)
    n = LARGE_SCHEDULE + 100
    jobs = [record(f"job-{i:05d}", 10 + i % 600) for i in range(n)]
    jobs.append(record("soonest", 1))
    link = Link(jobs)

    async def connect() -> Link:
        return link

    async def go() -> None:
        clock = FakeClock(START)
        mirror = await RemoteScheduler.attach(connect=connect, clock=clock)
        assert len(mirror.jobs) == n + 1 and not any(j.filled for j in mirror.jobs.values())
        app = CrondeckApp(mirror, clock=clock, zone=UTC, live=True, start=False)
        app.dashboard_class = AttachedDashboard
        try:
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause()
                screen = app.dashboard
                assert Watched.at_first_screen is not None
                pending, unread_then, top = Watched.at_first_screen
                # drawn from a few hundred jobs, the others neither rowed nor read yet
                assert top == "soonest" and pending > n - 1000 and unread_then > n - 1000
                unread = [name for name, j in mirror.jobs.items() if not j.filled]
                # a key on a job the first screen did not show goes to the scheduler
                late = unread[-1] if unread else "job-00007"
                screen.model.refresh_row(late)
                screen.table.set_rows(screen.model.rows, {late})
                screen.table.select(late)
                await pilot.press("s")
                for _ in range(50):
                    if link.calls:
                        break
                    await pilot.pause(0.01)
                assert link.calls[0] == ("skip_next", {"job": late, "skip": True})
                await until(lambda: not screen.model.pending, WAIT, "the rows to be filled",
                            pilot=pilot)
                await pilot.pause()
                assert set(screen.model.rows) == set(mirror.jobs)
                assert screen.table.row_count == n + 1
                assert sorted(screen.table.order) == sorted(mirror.jobs)
                assert screen.table.order[0] == "soonest"
        finally:
            await mirror.aclose()

    asyncio.run(go())
