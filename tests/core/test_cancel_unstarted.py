"""A run cancelled in the same step it was started in (before its task ran at all) still ends
as a cancelled result: its handle settles, the job is no longer running, `stop()` returns."""

from __future__ import annotations

import asyncio

from crondeck.core import RunStatus, Scheduler, every
from crondeck.core.clock import FakeClock


async def _agent() -> str:
    await asyncio.sleep(30)
    return "never"


def test_run_now_cancelled_at_once_ends_cancelled_and_stop_returns() -> None:
    async def main() -> None:
        s = Scheduler(clock=FakeClock())
        s.add_job(_agent, None, every(hours=1), name="j")
        loop_task = asyncio.create_task(s.astart())
        await asyncio.sleep(0)
        handle = s.run_now("j")
        assert s.cancel("j", "changed my mind") == 1  # the same step: its task has not run
        result = await asyncio.wait_for(handle, 2)
        assert result.status is RunStatus.CANCELLED
        assert result.error == "changed my mind"
        assert not s.get_job("j").running
        assert [r.status for r in s.get_job("j").results] == [RunStatus.CANCELLED]
        s.stop()
        await asyncio.wait_for(loop_task, 2)  # nothing left in flight to wait for

    asyncio.run(main())
