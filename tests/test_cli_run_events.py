"""`crondeck run` prints the core watcher's events like every other event: one JSON object a
line; a refused edit of the jobs file is also said on stderr."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime

from crondeck.cli.commands.run import _print
from crondeck.core.events import (
    ConfigRejected,
    ConfigReloaded,
    ExecResultRecorded,
    NotificationFailed,
    NotificationSent,
)
from crondeck.core.results import RunResult, RunStatus
from crondeck.core.scheduler import Scheduler

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_watcher_events_are_json_lines_and_a_refused_edit_reaches_stderr() -> None:
    scheduler = Scheduler()
    out, err = io.StringIO(), io.StringIO()
    result = RunResult(run_id="a@x", job="a", scheduled_for=T0, status=RunStatus.FAILED)

    async def go() -> None:
        sub = scheduler.subscribe()
        printer = asyncio.create_task(_print(sub, out, err, on_closed=lambda: None))
        bus = scheduler.bus
        bus.emit(ConfigReloaded, path="/j.toml", added=("b",), removed=(), changed=("a",))
        bus.emit(ConfigRejected, path="/j.toml", problems=("/j.toml:3: bad", "/j.toml:9: worse"))
        bus.emit(ExecResultRecorded, job="a", run_id="a@x", status=result.status, result=result)
        sub.close()
        await asyncio.wait_for(printer, timeout=10)

    asyncio.run(go())
    reloaded, rejected, recorded = (json.loads(line) for line in out.getvalue().splitlines())
    assert {k: reloaded[k] for k in ("event", "path", "added", "removed", "changed")} == {
        "event": "config_reloaded", "path": "/j.toml", "added": ["b"], "removed": [],
        "changed": ["a"]}
    assert reloaded["seq"] < rejected["seq"] < recorded["seq"] and "at" in reloaded
    assert rejected["event"] == "config_rejected"
    assert rejected["problems"] == ["/j.toml:3: bad", "/j.toml:9: worse"]
    assert err.getvalue().splitlines() == [
        "crondeck run: jobs file not reloaded: /j.toml:3: bad",
        "crondeck run: jobs file not reloaded: /j.toml:9: worse"]
    assert (recorded["event"], recorded["job"], recorded["run_id"], recorded["status"]) == (
        "exec_result_recorded", "a", "a@x", "failed")
    assert recorded["result"] == result.to_dict()



def test_notification_events_keep_their_kind_and_carry_notify_event() -> None:
    """The notification's own event (failure, recovered...) must not overwrite the kind."""
    scheduler = Scheduler()
    out, err = io.StringIO(), io.StringIO()

    async def go() -> None:
        sub = scheduler.subscribe()
        printer = asyncio.create_task(_print(sub, out, err, on_closed=lambda: None))
        bus = scheduler.bus
        bus.emit(NotificationSent, job="a", run_id="a@x", notify_event="failure",
                 target="command", attempts=1)
        bus.emit(NotificationFailed, job="a", run_id="a@x", notify_event="recovered",
                 target="webhook", attempts=3, error="HTTP 500")
        sub.close()
        await asyncio.wait_for(printer, timeout=10)

    asyncio.run(go())
    sent, failed = (json.loads(line) for line in out.getvalue().splitlines())
    assert (sent["event"], sent["notify_event"], sent["target"]) == (
        "notification_sent", "failure", "command")
    assert (failed["event"], failed["notify_event"], failed["error"]) == (
        "notification_failed", "recovered", "HTTP 500")
