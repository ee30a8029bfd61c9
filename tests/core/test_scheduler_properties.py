"""Property: whatever the outages and catch-up policy, every slot ends as exactly one result
(ran, missed or skipped), none twice, in order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from crondeck.core.clock import FakeClock
from crondeck.core.results import RunStatus
from crondeck.core.schedule import every
from crondeck.core.scheduler import Scheduler

T0 = datetime(2025, 6, 1, tzinfo=UTC)

steps = st.lists(
    st.tuples(st.sampled_from(["run", "down", "pause", "resume", "skip"]),
              st.integers(min_value=1, max_value=900)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(
    period=st.integers(min_value=5, max_value=300),
    catchup=st.sampled_from(["latest", "none", "all"]),
    grace=st.one_of(st.none(), st.integers(min_value=0, max_value=600)),
    plan=steps,
)
def test_every_slot_is_accounted_for_exactly_once(
    period: int, catchup: str, grace: int | None, plan: list[tuple[str, int]]
) -> None:
    async def main() -> tuple[list, datetime]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)

        async def agent(prompt: str) -> str:
            return "ok"

        job = s.add_job(agent, "p", every(seconds=period), name="j", catchup=catchup,
                        misfire_grace=grace, history=100_000)
        for action, secs in plan:
            if action == "down":  # process not running: time passes with no loop
                clock.advance(secs)
                continue
            if action == "pause":
                job.pause(note="x")
            elif action == "resume":
                job.resume()
            elif action == "skip":
                job.skip_next()
            task = asyncio.create_task(s.astart(stop_when_done=False))
            await clock.run_for(secs)
            s.stop()
            await task
        # a final short run so slots due during a trailing outage are handled
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(0)
        s.stop()
        await task
        return list(job.results), clock.now()

    results, end = asyncio.run(main())
    ids = [r.run_id for r in results]
    assert len(ids) == len(set(ids)), "a slot was recorded twice"
    slots = sorted(r.scheduled_for for r in results)
    expected = []
    t = every(seconds=period).next_after(T0)
    while t <= end:
        expected.append(t)
        t += timedelta(seconds=period)
    if not any("slots from" in r.error for r in results):  # long outages are summarised
        assert slots == expected
    assert all(r.status in (RunStatus.OK, RunStatus.MISSED, RunStatus.SKIPPED) for r in results)
