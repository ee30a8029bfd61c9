"""A FastAPI app that runs an agent on a schedule its users can change.

    pip install crondeck fastapi uvicorn
    uvicorn examples.fastapi_app:app          # or: python examples/fastapi_app.py

    curl localhost:8000/status
    curl -X PUT localhost:8000/config -H 'content-type: application/json' \\
         -d '{"every_minutes": 15}'                  # applies at once
    curl -X PUT localhost:8000/config -H 'content-type: application/json' \\
         -d '{"enabled": false}'
    curl -X POST localhost:8000/run                  # waits for the result; 409 if running
    curl -X POST 'localhost:8000/run?wait=false'     # 202 with the run id

The scheduler lives in the app's lifespan: it starts with the app, serves until the app
stops, and then terminates a run still in flight (its process group included) and records
it as cancelled. `STATE_DIR` keeps pause, history and counts across restarts (one process
per directory: a second one is refused). `ALERT_WEBHOOK` (an ntfy.sh topic URL, say) gets a
message when a run fails or times out.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Response
from pydantic import BaseModel, Field

from crondeck.core import (
    AgentLike,
    Clock,
    Job,
    NotifySpec,
    RunResult,
    Scheduler,
    every,
)

JOB = "digest"


def make_digest() -> str:
    """The agent: any function (sync or async) taking (), (prompt) or (prompt, ctx).
    A CommandAgent(["claude", "-p"]) or an OpenAIAgent fits here just as well."""
    return f"digest written at {datetime.now():%H:%M}"


class ConfigIn(BaseModel):
    every_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    enabled: bool | None = None


def _result(result: RunResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "run_id": result.run_id,
        "status": result.status.value,
        "finished_at": result.finished_at.isoformat() if result.finished_at else None,
        "error": result.error or None,
        "output": result.output_tail,
    }


def _status(job: Job) -> dict[str, Any]:
    return {
        "job": job.name,
        "schedule": job.schedule.describe(),
        "enabled": job.enabled,
        "running": job.is_running,
        "next_run": job.next_fire.isoformat() if job.next_fire else None,
        "last_result": _result(job.last_result),
    }


def create_app(
    *,
    agent: AgentLike = make_digest,
    clock: Clock | None = None,
    state_dir: str | None = None,
    notify: NotifySpec | None = None,
) -> FastAPI:
    """The app. Tests pass a fake clock and their own agent; in production the defaults and
    the environment decide."""
    webhook = os.environ.get("ALERT_WEBHOOK")
    if notify is None and webhook:
        notify = NotifySpec(on=("failure", "timed_out", "recovered"), webhook=webhook,
                            format="ntfy")
    scheduler = Scheduler(clock=clock, state_dir=state_dir or os.environ.get("STATE_DIR"))
    scheduler.add_job(agent, None, every(hours=1, start="now"), name=JOB,
                      timeout="10m", overlap="skip", notify=notify)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.create_task(scheduler.astart())  # serves until stop()
        try:
            yield
        finally:
            scheduler.stop(terminate=True)
            await loop
            scheduler.close()

    app = FastAPI(title="crondeck in an app", lifespan=lifespan)
    app.state.scheduler = scheduler

    # Endpoints that touch the scheduler are `async def`: they run on the event loop the
    # scheduler runs on (FastAPI runs a plain `def` in a worker thread).
    @app.get("/status")
    async def status() -> dict[str, Any]:
        return _status(scheduler.get_job(JOB))

    @app.put("/config")
    async def config(body: ConfigIn) -> dict[str, Any]:
        schedule = every(minutes=body.every_minutes, start="now") if body.every_minutes else None
        # In place and at once: the next run follows the new frequency, the history stays,
        # and a run in flight is not cancelled.
        job = scheduler.update_job(JOB, schedule=schedule, enabled=body.enabled)
        return _status(job)

    @app.post("/run")
    async def run(response: Response, wait: bool = True) -> dict[str, Any] | None:
        handle = scheduler.run_now(JOB)  # obeys overlap="skip": refused while one runs
        if handle.skipped:
            raise HTTPException(409, "a run is still in progress")
        if not wait:
            response.status_code = 202
            return {"run_id": handle.run_id}
        return _result(await handle)

    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
