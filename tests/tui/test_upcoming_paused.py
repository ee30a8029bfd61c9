"""A paused job has no upcoming fires: Upcoming leaves it out as soon as it is paused (by
itself or with every job), even while a run of it goes on, and lists it again on resume.
In a console running the schedule and in one attached to a scheduler elsewhere."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from typing import Any

import pytest
from conftest import START, settle, text_of
from helpers import ScriptedLink

from crondeck.core import JobOptions, RemoteScheduler
from crondeck.core.clock import FakeClock
from crondeck.core.events import JobPaused, JobResumed, SchedulerPaused, SchedulerResumed
from crondeck.core.wire import event_json, options_json
from crondeck.tui.app import CrondeckApp
from crondeck.tui.attached import AttachedDashboard

SIZE = (120, 36)
WAIT = 30.0  # the whole test, on a loaded machine


def listed(app: CrondeckApp) -> set[str]:
    return {name for _when, name in app.dashboard.upcoming.items}


def row_text(app: CrondeckApp, job: str) -> str:
    return next(line for line in text_of(app.dashboard.table).splitlines()
                if f" {job} " in line)


@pytest.mark.slow
def test_a_job_paused_while_it_runs_leaves_upcoming_at_once(make_app):
    app, sched, _clock, streamer = make_app()

    async def go() -> None:
        async with asyncio.timeout(WAIT), app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            sched.run_now("alpha")
            await settle(pilot)
            assert app.dashboard.model.rows["alpha"].status == "running"
            assert "alpha" in listed(app)  # running, not paused: its next fires are listed

            sched.pause_job("alpha", note="looking into it")
            await settle(pilot)
            assert app.dashboard.model.rows["alpha"].status == "running"  # the run goes on
            assert "paused" in row_text(app, "alpha")
            assert "alpha" not in listed(app)
            assert {"beta", "delta"} <= listed(app)

            sched.resume_job("alpha")
            await settle(pilot)
            assert "alpha" in listed(app)

            sched.pause_all(note="deploy freeze")
            await settle(pilot)
            assert app.dashboard.model.rows["alpha"].status == "running"
            assert listed(app) == set()
            assert "no fires coming up" in text_of(app.dashboard.upcoming)

            sched.resume_all()
            await settle(pilot)
            assert {"alpha", "beta", "delta"} <= listed(app)
            assert "gamma" not in listed(app)  # paused by itself all along
            streamer.release.set()
            await settle(pilot)

    asyncio.run(go())


def record(name: str, minutes: int, **over: Any) -> dict[str, Any]:
    return {"name": name, "paused": False, "next_fire": (START + timedelta(
                minutes=minutes)).isoformat(), "running": [], "prompt": "p",
            "schedule": {"expression": "*/5 * * * *", "zone": "UTC", "describe": ""},
            "agent": {"kind": "command", "name": "echo", "program": "echo",
                      "describe": "echo hi"},
            "options": options_json(JobOptions())} | over


RUN = [{"run_id": "run-1", "scheduled_for": START.isoformat(),
        "started_at": START.isoformat(), "manual": True, "attempt": 1}]


def link_with(jobs: list[dict[str, Any]]) -> ScriptedLink:
    """A scheduler's connection: its first snapshot, then what the test feeds it."""
    return ScriptedLink({"type": "snapshot", "seq": 1, "jobs": jobs, "output": [],
                         "scheduler": {"paused": False, "pause_note": "", "running_loop": True,
                                       "seq": 1}}, START)


def test_an_attached_console_leaves_a_paused_running_job_out_of_upcoming():
    """As the scheduler sends them: the event, then the record of what it changed."""
    link = link_with([record("talker", 2, running=RUN), record("digest", 3)])

    async def connect() -> ScriptedLink:
        return link

    async def go() -> None:
        clock = FakeClock(START)
        mirror = await RemoteScheduler.attach(connect=connect, clock=clock)
        seq = 1
        seen = asyncio.Event()
        mirror.add_listener(lambda e: seen.set() if e.seq == seq else None)

        async def send(event: Any, after: dict[str, Any]) -> None:
            seen.clear()
            link.queue.put_nowait({"type": "event", "event": event_json(event)})
            link.queue.put_nowait(after)
            await seen.wait()  # bounded by the test's timeout
            await asyncio.sleep(0.05)  # the record after it, read from the same stream

        def sched_record(paused: bool) -> dict[str, Any]:
            return {"type": "scheduler", "scheduler": {
                "paused": paused, "pause_note": "freeze" if paused else "",
                "running_loop": True, "seq": seq}}

        app = CrondeckApp(mirror, clock=clock, zone=UTC, live=False, start=False)
        app.dashboard_class = AttachedDashboard
        try:
            async with asyncio.timeout(WAIT), app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                assert app.dashboard.model.rows["talker"].status == "running"
                assert listed(app) == {"talker", "digest"}

                seq += 1
                await send(JobPaused(seq=seq, at=START, job="talker", note="", until=None),
                           {"type": "job", "job": record("talker", 2, running=RUN,
                                                         paused=True)})
                await settle(pilot)
                assert app.dashboard.model.rows["talker"].status == "running"
                assert "paused" in row_text(app, "talker")
                assert listed(app) == {"digest"}

                seq += 1
                await send(JobResumed(seq=seq, at=START, job="talker"),
                           {"type": "job", "job": record("talker", 2, running=RUN)})
                await settle(pilot)
                assert listed(app) == {"talker", "digest"}

                seq += 1
                await send(SchedulerPaused(seq=seq, at=START, note="freeze", until=None),
                           sched_record(True))
                await settle(pilot)
                assert app.dashboard.model.rows["talker"].status == "running"
                assert listed(app) == set()

                seq += 1
                await send(SchedulerResumed(seq=seq, at=START), sched_record(False))
                await settle(pilot)
                assert listed(app) == {"talker", "digest"}
        finally:
            await mirror.aclose()

    asyncio.run(go())
