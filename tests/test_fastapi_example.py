"""examples/fastapi_app.py driven in-process (httpx's ASGI transport, the app's lifespan
entered by hand) on a fake clock: a frequency change applies at once and never cancels the
run in flight; run-now is awaited, or refused with 409 while a run is going; failures are
notified."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import httpx

from crondeck.core import FakeClock, NotificationSent, NotifySpec, RunContext

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi_app.py"
T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_app_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the models' annotations through it
    spec.loader.exec_module(module)
    return module


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def test_the_fastapi_example(tmp_path: Path) -> None:
    example = _example()
    clock = FakeClock(T0)
    alerts = tmp_path / "alerts.jsonl"
    fail = {"next": False}

    async def agent(prompt: str, ctx: RunContext) -> str:
        await clock.sleep(300)  # five minutes of work
        if fail["next"]:
            raise RuntimeError("the model is down")
        return f"digest for {ctx.scheduled_for:%H:%M}"

    notify = NotifySpec(on=("failure",), command=f"cat >> {alerts}", attempts=1)
    app = example.create_app(agent=agent, clock=clock, notify=notify)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=transport, base_url="http://app") as client:
            await clock.settle()
            status = (await client.get("/status")).json()
            assert status["next_run"] == iso(3600) and status["last_result"] is None

            # run now, without waiting: 202; a second request while it runs: 409
            started = await client.post("/run", params={"wait": "false"})
            assert started.status_code == 202
            run_id = started.json()["run_id"]
            assert (await client.post("/run")).status_code == 409
            await clock.run_for(60)

            # every 15 minutes, from now: the next run moves at once; the run goes on
            changed = await client.put("/config", json={"every_minutes": 15})
            assert changed.status_code == 200
            body = changed.json()
            assert body["next_run"] == iso(60 + 900) and body["running"] is True
            assert body["schedule"] == "Every 15 minutes"

            await clock.run_for(240)  # 12:05: the run started at 12:00 finishes, not cancelled
            status = (await client.get("/status")).json()
            assert status["running"] is False
            assert status["last_result"]["run_id"] == run_id
            assert status["last_result"]["status"] == "ok"
            assert status["last_result"]["output"] == "digest for 12:00"

            await clock.run_for(660)  # 12:16: the new frequency's first slot (12:16) started
            assert (await client.get("/status")).json()["running"] is True
            await clock.run_for(300)
            status = (await client.get("/status")).json()
            assert status["last_result"]["run_id"] == "digest@2025-01-06T12:16:00Z"
            assert status["next_run"] == iso(60 + 1800)

            # switched off: no next run; on again: from now
            off = (await client.put("/config", json={"enabled": False})).json()
            assert off["enabled"] is False and off["next_run"] is None
            on = (await client.put("/config", json={"enabled": True})).json()
            assert on["next_run"] == iso(60 + 1800)

            # an awaited run that fails: its result, and a notification
            notified = asyncio.Event()
            app.state.scheduler.add_listener(
                lambda e: notified.set() if isinstance(e, NotificationSent) else None)
            fail["next"] = True
            request = asyncio.create_task(client.post("/run"))
            await clock.run_for(300)
            failed = (await asyncio.wait_for(request, 5)).json()
            assert failed["status"] == "failed" and "the model is down" in failed["error"]
            await asyncio.wait_for(notified.wait(), 10)  # delivered off the loop, in a thread
            alert = json.loads(alerts.read_text().splitlines()[0])
            assert alert["event"] == "failure" and alert["job"] == "digest"

            bad = await client.put("/config", json={"every_minutes": 0})
            assert bad.status_code == 422
        assert not app.state.scheduler.running_loop  # the lifespan stopped it

    asyncio.run(main())
