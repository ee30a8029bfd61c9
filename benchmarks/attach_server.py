"""The scheduler side of bench_tui's attached case, in a process of its own:
`python attach_server.py SOCKET N` serves a scheduler of N jobs (bench_tui's; its loop does
not run, so nothing fires by itself) and a job `flood` that prints ~50,000 lines a second
for 3 s when run; it prints `ready` once it serves, and stops when stdin closes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bench_tui import _flood_agent, _scheduler

from crondeck.core import ControlServer


async def main(path: Path, n: int) -> None:
    sched, clock = _scheduler(n)
    sched.add_job(_flood_agent(), "p", "@every 1h", name="flood")

    async def moving() -> None:
        # a run's id is its job and start time: each flood needs a time of its own
        while True:
            await asyncio.sleep(0.1)
            clock.advance(1)

    async with ControlServer(sched, path, kind="crondeck run"):
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        ticking = loop.create_task(moving())
        await loop.run_in_executor(None, sys.stdin.read)
        ticking.cancel()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
