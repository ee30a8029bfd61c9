"""A console attached to a big scheduler (LARGE_SCHEDULE jobs and more) when the mirror takes a
new snapshot (a reconnect, or the scheduler sending one): the jobs the mirror announces
changed show their change, and the others are neither read again nor drawn again. A snapshot
that pauses every job (no event says so) still shows every row paused."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from typing import Any

import pytest
from conftest import START, text_of
from helpers import ScriptedLink

import crondeck.tui.model as model_module
from crondeck.core import LARGE_SCHEDULE, ControlAttached, JobOptions, RemoteScheduler
from crondeck.core.clock import FakeClock
from crondeck.core.wire import options_json
from crondeck.tui.app import CrondeckApp
from crondeck.tui.attached import AttachedDashboard
from crondeck.tui.widgets.header import DeckHeader

WAIT = 60.0  # ~20,000 rows made on a loaded machine
SIZE = (240, 36)  # the widest columns: LEFT shows "in 10m 00s ↷" whole


def record(name: str, minutes: int, **over: Any) -> dict[str, Any]:
    return {"name": name, "paused": False, "next_fire": (START + timedelta(
                minutes=minutes)).isoformat(), "running": [], "prompt": "p",
            "schedule": {"expression": f"*/{minutes % 30 + 1} * * * *", "zone": "UTC",
                         "describe": ""},
            "agent": {"kind": "command", "name": "echo", "program": "echo",
                      "describe": "echo hi"},
            "options": options_json(JobOptions())} | over


def snapshot(jobs: list[dict[str, Any]], seq: int, paused: bool = False) -> dict[str, Any]:
    return {"type": "snapshot", "seq": seq, "jobs": jobs, "output": [],
            "scheduler": {"paused": paused, "pause_note": "freeze" if paused else "",
                          "running_loop": True, "seq": seq}}


def link_with(jobs: list[dict[str, Any]]) -> ScriptedLink:
    """A scheduler's connection: its first snapshot, then what the test feeds it."""
    return ScriptedLink(snapshot(jobs, 1), START)


@pytest.mark.slow
def test_a_resync_redraws_only_the_rows_of_the_jobs_that_changed(monkeypatch):
    n = LARGE_SCHEDULE + 20
    jobs = [record(f"job-{i:05d}", 10 + i % 600) for i in range(n)]
    link = link_with(jobs)

    async def connect() -> ScriptedLink:
        return link

    async def go() -> None:
        clock = FakeClock(START)
        mirror = await RemoteScheduler.attach(connect=connect, clock=clock)
        attached = asyncio.Event()
        mirror.add_listener(lambda e: attached.set() if isinstance(e, ControlAttached) else None)

        async def new_snapshot(message: dict[str, Any]) -> None:
            attached.clear()
            link.queue.put_nowait(message)
            await asyncio.wait_for(attached.wait(), WAIT)

        app = CrondeckApp(mirror, clock=clock, zone=UTC, live=False, start=False)
        app.dashboard_class = AttachedDashboard
        try:
            async with app.run_test(size=SIZE) as pilot:
                screen = app.dashboard
                table = screen.table
                loop = asyncio.get_running_loop()
                end = loop.time() + WAIT
                while screen.model.pending:
                    assert loop.time() < end, "the rows were not filled"
                    await pilot.pause(0.05)
                await pilot.pause()
                lines = range(1, table.size.height)  # below the column titles
                shown = {y: table.order[y - 1] for y in lines}
                changed = shown[3]
                rows = dict(screen.model.rows)
                drawn = {y: table.render_line(y) for y in lines}
                assert "↷" not in drawn[3].text
                made: list[str] = []
                row_from_job = model_module.row_from_job

                def counted(job: Any, *args: Any, **kw: Any) -> Any:
                    made.append(job.name)
                    return row_from_job(job, *args, **kw)

                monkeypatch.setattr(model_module, "row_from_job", counted)
                # the scheduler's new snapshot: one job has its next slot skipped since,
                # one job (out of view) is gone and another one is new
                gone = table.order[-1]
                again = [record(r["name"], 0, next_fire=r["next_fire"],
                                schedule=r["schedule"],
                                **({"skip_next": True} if r["name"] == changed else {}))
                         for r in jobs if r["name"] != gone]
                again.append(record("newcomer", 900))
                await new_snapshot(snapshot(again, 2))
                screen.resync()
                await pilot.pause()
                assert sorted(made) == sorted([changed, "newcomer"])  # those rows alone read
                assert screen.model.rows[changed].skip_next
                assert gone not in screen.model.rows and gone not in table.order
                assert "newcomer" in table.order and len(table.order) == n
                assert f"Jobs ({n})" in table.border_title
                assert all(screen.model.rows[name] is row for name, row in rows.items()
                           if name not in (changed, gone))
                for y in lines:
                    assert table.order[y - 1] == shown[y]  # nothing moved
                    strip = table.render_line(y)
                    if shown[y] == changed:
                        assert "↷" in strip.text and strip is not drawn[y]
                    else:
                        assert strip is drawn[y], f"{shown[y]} drawn again"

                # a snapshot that pauses every job: no event says so, every row shows it
                made.clear()
                await new_snapshot(snapshot(again, 3, paused=True))
                screen.resync()
                await pilot.pause()
                assert sorted(made) == sorted(r["name"] for r in again)
                assert all(row.status == "paused" for row in screen.model.rows.values())
                assert "paused" in text_of(table)
                assert "freeze" in text_of(screen.query_one(DeckHeader))
        finally:
            await mirror.aclose()

    asyncio.run(go())
