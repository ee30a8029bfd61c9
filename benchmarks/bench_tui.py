"""TUI figures for `make bench`: a dashboard with 10,000 jobs and an output flood.

What is timed is what an operator waits for, frame to frame. Headless Textual skips turning a
frame into terminal output, so each frame's terminal output is produced here (the work a real
terminal session does) and its completion time recorded; waits of Pilot's own (it sleeps
20 ms or more to detect idleness) are never inside a figure.

- launch: `crondeck --config` on a 10,000-job file in a real pty, to the first job row;
- first screen: app start (scheduler built) to the first dashboard frame with its table;
- countdown tick: the 1 s refresh, i.e. `tick()` plus the frame it causes (p50/max);
- key latency: `down` as the terminal delivers it, to the first frame showing the cursor
  on the next row (p50/p99), pressed singly (each then rests) and held (30 presses a second);
  plus, after a held key is released, how long until the output pane shows the job the
  cursor rests on (it waits for 50 ms of rest by design);
- flood: an agent printing ~50,000 lines a second for 3 s: worst UI-loop stall and memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import resource
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual import events

from crondeck.core.clock import FakeClock
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.textual_compat import app_driver
from crondeck.tui.widgets.job_table import JobTable
from crondeck.tui.widgets.output_pane import OutputPane

SIZE = (160, 50)
DEBUG = os.environ.get("BENCH_DEBUG")  # set: print each slow key press
REPEAT = 1 / 30  # a held key repeats about 30 times a second


async def _quick(prompt: str) -> str:
    return "ok\n"


def _scheduler(n: int) -> tuple[Scheduler, FakeClock]:
    clock = FakeClock(datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
    s = Scheduler(clock=clock)
    for i in range(n):
        sched = f"*/{(i % 30) + 1} * * * *" if i % 2 else f"@every {(i % 50) + 10}s"
        s.add_job(_quick, "p", sched, name=f"job-{i:05d}", tz="UTC")
    return s, clock


class _Frames:
    """Records every frame the app displays: when it was done, and what it showed."""

    def __init__(self, app: CrondeckApp) -> None:
        self.app = app
        self.log: list[tuple[float, int, str]] = []  # (done at, table cursor, output's job)
        self.first: float | None = None
        self._panes: list[Any] = []
        display = app._display

        def _display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is None:
                return
            render = getattr(renderable, "render_segments", None)
            if render is not None:
                render(app.console)  # the terminal output a real session writes
            now = time.perf_counter()
            if type(screen).__name__ != "DashboardScreen":
                return
            if not self._panes:
                self._panes = [screen.query_one(JobTable), screen.query_one(OutputPane)]
            table, pane = self._panes
            if self.first is None and table.size.height and table.order:
                self.first = now
            self.log.append((now, table.cursor, _shown(pane)))

        app._display = _display  # type: ignore[method-assign]
        self.work: list[float] = []  # seconds each frame took to lay out, render and write

    def attach(self, screen: Any) -> None:
        """Time the screen's frames: layout (when needed) plus compositing and output."""
        pending = [0.0]

        def timed(method: Any, layout: bool) -> Any:
            def run(*args: Any, **kwargs: Any) -> Any:
                s = time.perf_counter()
                try:
                    return method(*args, **kwargs)
                finally:
                    if layout:
                        pending[0] += time.perf_counter() - s
                    else:
                        self.work.append(time.perf_counter() - s + pending[0])
                        pending[0] = 0.0
            return run

        screen._refresh_layout = timed(screen._refresh_layout, True)
        screen._compositor_refresh = timed(screen._compositor_refresh, False)

    async def next_frame(self, after: int) -> float:
        """The work of the first frame after the `after`-th."""
        while len(self.work) <= after:  # noqa: ASYNC110 (polls what a display hook records)
            await asyncio.sleep(0.001)
        return self.work[after]

    async def first_screen(self) -> float:
        while self.first is None:  # noqa: ASYNC110 (polls what a display hook records)
            await asyncio.sleep(0.001)
        return self.first

    async def cursor_at(self, cursor: int, since: float) -> float:
        """Seconds from `since` to the first frame after it showing the cursor at `cursor`."""
        while True:
            hits = [done for done, at, _job in self.log if done >= since and at >= cursor]
            if hits:
                if DEBUG and hits[0] - since > 0.05:
                    print("slow", cursor, hits[0] - since)
                return hits[0] - since
            await asyncio.sleep(0.001)

    async def output_of(self, job: str, since: float) -> float:
        while True:
            hits = [done for done, _at, shown in self.log if done >= since and shown == job]
            if hits:
                return hits[0] - since
            await asyncio.sleep(0.001)


def _shown(pane: OutputPane) -> str:
    if pane.run is not None:
        return pane.run.job
    first = pane.lines[0] if pane.line_count else ""
    return first.split()[0] if first.strip() else ""


def _press(app: CrondeckApp, key: str) -> float:
    """Deliver a key the way the terminal driver does; returns when it was pressed."""
    event = events.Key(key, None)
    event.set_sender(app)
    driver = app_driver(app)
    assert driver is not None
    at = time.perf_counter()
    driver.send_message(event)
    return at


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def _dashboard(n: int) -> None:
    sched, clock = _scheduler(n)
    app = CrondeckApp(sched, clock=clock, zone=UTC, live=False)
    frames = _Frames(app)
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        first = await frames.first_screen() - t0
        await pilot.pause()
        screen = app.dashboard
        table = screen.query_one(JobTable)

        table.focus()
        lines = []  # tick() plus the table's lines alone, without the frame
        for _ in range(50):
            clock.advance(1)
            s = time.perf_counter()
            screen.tick()
            for y in range(table.size.height):
                table.render_line(y)
            lines.append(time.perf_counter() - s)
        frames.attach(screen)
        await pilot.pause()
        ticks = []
        for _ in range(50):
            clock.advance(1)
            done = len(frames.work)
            s = time.perf_counter()
            screen.tick()
            took = time.perf_counter() - s
            # plus the frame it causes (not the wait for Textual's frame timer)
            ticks.append(took + await frames.next_frame(done))
        # the 50 s just skipped made thousands of jobs due: let the scheduler run them and
        # the dashboard fold that in before keys are timed (that burst is the core's work)
        await pilot.pause(1.0)
        s = time.perf_counter()
        screen.observer.pump()
        await pilot.pause()
        burst = time.perf_counter() - s
        await pilot.pause(0.3)

        single = []
        for _ in range(100):
            at = _press(app, "down")
            single.append(await frames.cursor_at(table.cursor + 1, at))
            await asyncio.sleep(0.1)  # rest: the next press is a new one, not a repeat

        held = []
        start = table.cursor
        presses = []
        t = time.perf_counter()
        for _ in range(100):
            presses.append(_press(app, "down"))
            t += REPEAT
            await asyncio.sleep(max(0.0, t - time.perf_counter()))
        for i, at in enumerate(presses):
            held.append(await frames.cursor_at(start + i + 1, at))
        assert table.selected is not None
        settle = await frames.output_of(table.selected, presses[-1])

        print(f"{n:,} jobs: first screen {first * 1000:.0f} ms (target < 1500)")
        print(f"  countdown tick (its work and its frame's): "
              f"p50 {statistics.median(ticks) * 1000:.2f} ms, "
              f"max {max(ticks) * 1000:.2f} ms (target < 10)")
        print(f"    of which tick() and the table's lines: p50 "
              f"{statistics.median(lines) * 1000:.2f} ms, max {max(lines) * 1000:.2f} ms")
        print(f"  key to frame, single presses: p50 {_p(single, 0.5):.1f} ms, "
              f"p99 {_p(single, 0.99):.1f} ms (target < 50)")
        print(f"  key to frame, held key (30/s): p50 {_p(held, 0.5):.1f} ms, "
              f"p99 {_p(held, 0.99):.1f} ms (target < 50)")
        print(f"  held key released: output pane shows the job after {settle * 1000:.0f} ms "
              f"(waits for 50 ms of rest)")
        print(f"  (after 50 s of fires at once: the batch folded in and drawn in "
              f"{burst * 1000:.0f} ms)")


class _Flood:
    name = "flood"

    async def execute(self, ctx: Any) -> int:
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


def _launch(n: int = 10_000, runs: int = 3) -> None:
    """`crondeck --config FILE` with `n` jobs in a real pty, from the command to the first
    job row on screen: interpreter start, imports, reading and checking the file, building
    the scheduler and the first frame, all of which an operator waits through."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "crondeck.toml"
        lines = ['[defaults]', 'timezone = "UTC"', '']
        for i in range(n):
            sched = f"*/{(i % 30) + 1} * * * *" if i % 2 else f"@every {(i % 50) + 10}s"
            lines += ["[[jobs]]", f'name = "job-{i:05d}"', f'schedule = "{sched}"',
                      'command = "true"', ""]
        config.write_text("\n".join(lines))
        times = []
        for _ in range(runs):
            times.append(_launch_once(config))
    print(f"launch: `crondeck --config` on {n:,} jobs to the first job row on screen: "
          f"best {min(times):.2f} s, median {statistics.median(times):.2f} s (target < 1.5)")


def _launch_once(config: Path) -> float:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    env = {**os.environ, "TERM": "xterm-256color",
           "XDG_CONFIG_HOME": str(config.parent / "xdg")}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crondeck.cli", "--config", str(config), "--read-only"],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        while b"job-0" not in seen:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                raise RuntimeError("crondeck showed no job row within 60 s")
            seen = seen[-64:] + os.read(master, 65536)
        return time.perf_counter() - start
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def main() -> None:
    _launch()
    asyncio.run(_dashboard(10_000))
    asyncio.run(_flood())


if __name__ == "__main__":
    main()
