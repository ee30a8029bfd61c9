"""A run already going when the console first hears of it (a snapshot's run in flight, its
RunStarted before the console attached) shows when it started, not a dash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from crondeck.core import OutputChunk
from crondeck.core.clock import FakeClock
from crondeck.core.scheduler import Scheduler
from crondeck.tui.model import DashboardModel


def test_output_of_a_run_heard_of_first_by_its_output_has_its_start() -> None:
    async def main() -> None:
        clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
        s = Scheduler(clock=clock)
        release = asyncio.Event()

        async def agent() -> AsyncIterator[str]:
            yield "working\n"
            await release.wait()

        s.add_job(agent, None, "@every 1h", name="crawl")
        handle = s.run_now("crawl")
        await asyncio.sleep(0.05)
        assert handle.started_at is not None
        model = DashboardModel(s)  # attached now: the run's start is behind us
        model.apply([OutputChunk(seq=1, at=clock.now(), job="crawl", run_id=handle.run_id,
                                 stream="stdout", text="page 1 ok\n")])
        out = model.run(handle.run_id)
        assert out is not None and out.started_at == handle.started_at
        release.set()
        await asyncio.wait_for(handle, 2)

    asyncio.run(main())
