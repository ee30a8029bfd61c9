"""TUI figures for `make bench` (issue 5): a dashboard with 10,000 jobs and an output flood.

- first screen: app start to the dashboard mounted with its table laid out;
- countdown tick: the 1 s refresh, i.e. `tick()` plus rendering every visible table line;
- key latency: `down` pressed in the jobs table until the screen has processed it (p50/p99);
- flood: an agent printing ~50,000 lines a second for 3 s: worst UI-loop stall and memory.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from datetime import UTC, datetime

from crondeck.core.clock import FakeClock
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.widgets.job_table import JobTable
from crondeck.tui.widgets.output_pane import OutputPane

SIZE = (160, 50)


async def _quick(prompt: str) -> str:
    return "ok\n"


def _scheduler(n: int) -> tuple[Scheduler, FakeClock]:
    clock = FakeClock(datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
    s = Scheduler(clock=clock)
    for i in range(n):
        sched = f"*/{(i % 30) + 1} * * * *" if i % 2 else f"@every {(i % 50) + 10}s"
        s.add_job(_quick, "p", sched, name=f"job-{i:05d}", tz="UTC")
    return s, clock


async def _dashboard(n: int) -> None:
    sched, clock = _scheduler(n)
    app = CrondeckApp(sched, clock=clock, zone=UTC, live=False)
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first = time.perf_counter() - t0
        screen = app.dashboard
        table = screen.query_one(JobTable)
        ticks = []
        for _ in range(50):
            clock.advance(1)
            s = time.perf_counter()
            screen.tick()
            for y in range(table.size.height):
                table.render_line(y)
            ticks.append(time.perf_counter() - s)
        lat = []
        for _ in range(200):
            # handling the key (cursor move, selection message, output pane) plus one full
            # frame render; Pilot's own idle waits are left out
            s = time.perf_counter()
            table.action_cursor(1)
            await pilot.pause()
            app.screen._compositor.render_update(full=True)
            lat.append(time.perf_counter() - s)
        lat.sort()
        print(f"{n:,} jobs: first screen {first * 1000:.0f} ms (target < 1500)")
        print(f"  countdown tick p50 {statistics.median(ticks) * 1000:.2f} ms, "
              f"max {max(ticks) * 1000:.2f} ms (target < 10)")
        print(f"  key press p50 {lat[len(lat) // 2] * 1000:.1f} ms, "
              f"p99 {lat[int(len(lat) * 0.99) - 1] * 1000:.1f} ms (target < 50)")


class _Flood:
    name = "flood"

    async def execute(self, ctx) -> int:
        loop = asyncio.get_running_loop()
        end = loop.time() + 3.0
        i = 0
        while loop.time() < end:
            for _ in range(500):
                ctx.emit(f"line {i} {'x' * 60}\n", "stdout")
                i += 1
            await asyncio.sleep(0.01)  # ~50,000 lines/s
        return 0


async def _flood() -> None:
    clock = FakeClock(datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
    sched = Scheduler(clock=clock)
    sched.add_job(_Flood(), "p", "@every 1h", name="flood")
    app = CrondeckApp(sched, clock=clock, zone=UTC, live=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        handle = sched.run_now("flood")
        stalls = []
        while not handle.done():
            s = time.perf_counter()
            await asyncio.sleep(0.01)
            stalls.append(time.perf_counter() - s - 0.01)
        await pilot.pause(0.3)
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        pane = app.dashboard.query_one(OutputPane)
        print(f"flood (~50k lines/s for 3 s): UI loop worst stall {max(stalls) * 1000:.0f} ms, "
              f"p99 {sorted(stalls)[int(len(stalls) * 0.99) - 1] * 1000:.0f} ms; "
              f"pane keeps {pane.line_count:,} lines; "
              f"max RSS +{(rss1 - rss0) / 1024:.0f} MiB; dropped {app.dashboard.model.dropped:,}")


def main() -> None:
    asyncio.run(_dashboard(10_000))
    asyncio.run(_flood())


if __name__ == "__main__":
    main()
