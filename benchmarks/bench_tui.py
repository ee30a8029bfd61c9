"""TUI figures for `make bench`: a dashboard with 10,000 jobs and an output flood.

What is timed is what an operator waits for, frame to frame. Headless Textual skips turning a
frame into terminal output, so each frame's terminal output is produced here (the work a real
terminal session does) and its completion time recorded; waits of Pilot's own (it sleeps
20 ms or more to detect idleness) are never inside a figure.

- launch: `crondeck --config` on a 10,000-job file in a real pty, to the first job row;
- first screen: app start (scheduler built) to the first dashboard frame with its table;
- countdown tick: the 1 s refresh, i.e. `tick()` plus the frame it causes (p50/max); the
  rows in view soon show "due" (nothing runs them while it is timed), so a second case has
  every fire in view minutes away: every countdown in view moves each second;
- key latency: `down` as the terminal delivers it, to the first frame showing the cursor
  on the next row (p50/p99), pressed singly (each then rests) and held (30 presses a second);
  plus, after a held key is released, how long until the output pane shows the job the
  cursor rests on (it waits for 50 ms of rest by design);
- flood: an agent printing ~50,000 lines a second for 3 s: worst UI-loop stall and memory.

Keys are timed on a live console, as an operator's is (its observer folds events ten times a
second, its countdowns tick each second): the attached one is live throughout; the in-process
one is frozen for the countdown measure (`tick()` called by the bench, nothing folded in
between, as always) and goes live after it. The keys are timed once the runs the countdown
measure's 50 skipped seconds made due (tens of thousands at 100,000 jobs) have all run and
been folded in, so nothing runs while keys are timed, in either case. (Kept frozen, the
in-process console folded that burst's events only on the first key that pumps the observer,
pause, all at once.) The clock is a fake one that moves only for the countdown measure.
Each run of each dashboard case (in-process, attached) is a process of its own (`--case`), so
no case is measured in the heap an earlier one left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
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

from crondeck.core import CommandAgent, ControlAttached, OutputChunk, RemoteScheduler
from crondeck.core.clock import FakeClock
from crondeck.core.control_client import ControlClient
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.attached import AttachedDashboard
from crondeck.tui.screens.dashboard import DashboardScreen
from crondeck.tui.screens.pause_dialog import PauseDialog
from crondeck.tui.textual_compat import app_driver
from crondeck.tui.widgets.job_table import JobTable
from crondeck.tui.widgets.output_pane import OutputPane

SIZE = (160, 50)
DEBUG = os.environ.get("BENCH_DEBUG")  # set: print each slow key press
REPEAT = 1 / 30  # a held key repeats about 30 times a second


async def _quick(prompt: str) -> str:
    return "ok\n"


def _scheduler(n: int, moving: bool = False) -> tuple[Scheduler, FakeClock]:
    """`moving`: every fire at least ten minutes away, so each countdown moves each second."""
    clock = FakeClock(datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
    s = Scheduler(clock=clock)
    for i in range(n):
        sched = f"*/{(i % 30) + 1} * * * *" if i % 2 else f"@every {(i % 50) + 10}s"
        if moving:
            sched = f"{(i % 50) + 10} * * * *"
        s.add_job(_quick, "p", sched, name=f"job-{i:05d}", tz="UTC")
    return s, clock


class _Frames:
    """Records every frame the app displays: when it was done, and what it showed."""

    def __init__(self, app: CrondeckApp) -> None:
        self.app = app
        self.log: list[tuple[float, int, str]] = []  # (done at, table cursor, output's job)
        self.status: list[tuple[float, str]] = []  # (done at, the selected row's status)
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
            if not isinstance(screen, DashboardScreen):
                return
            if not self._panes:
                self._panes = [screen.query_one(JobTable), screen.query_one(OutputPane)]
            table, pane = self._panes
            if self.first is None and table.size.height and table.order:
                self.first = now
            row = table.rows.get(table.selected or "")
            self.log.append((now, table.cursor, _shown(pane)))
            self.status.append((now, row.status if row is not None else ""))

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

    async def status_is(self, paused: bool, since: float, limit: float = 10.0) -> float:
        """Seconds from `since` to the first frame after it showing the selected row paused
        (or not)."""
        while True:
            hits = [done for done, status in self.status
                    if done >= since and (status == "paused") == paused]
            if hits:
                return hits[0] - since
            if time.perf_counter() - since > limit:
                raise RuntimeError(f"the row never showed paused={paused}")
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


Figures = dict[str, list[float]]


async def _measure(app: CrondeckApp, frames: _Frames, clock: FakeClock, pilot: Any,
                   out: Figures, only_tick: bool = False) -> None:
    """The measures common to both cases, on a mounted dashboard (seconds, into `out`)."""
    screen = app.dashboard
    table = screen.query_one(JobTable)
    table.focus()
    frames.attach(screen)
    await pilot.pause()
    ticks = out.setdefault("tick", [])
    for _ in range(50):
        clock.advance(1)
        done = len(frames.work)
        s = time.perf_counter()
        screen.tick()
        took = time.perf_counter() - s
        # plus the frame it causes (not the wait for Textual's frame timer)
        ticks.append(took + await frames.next_frame(done))
    if only_tick:
        return
    # keys are timed on a live console, as an operator's is (the in-process one was frozen
    # for the ticks, as before, so that the tick figures stay comparable)
    if not screen.live:
        screen.go_live()
    # the 50 s just skipped made thousands of jobs due (tens of thousands at 100,000 jobs):
    # let the scheduler run them and the live console fold them in before keys are timed
    # (that burst is the core's work)
    await _settled(app)

    single = out.setdefault("key", [])
    for _ in range(100):
        at = _press(app, "down")
        single.append(await frames.cursor_at(table.cursor + 1, at))
        await asyncio.sleep(0.1)  # rest: the next press is a new one, not a repeat

    held = out.setdefault("held", [])
    start = table.cursor
    presses = []
    t = time.perf_counter()
    for _ in range(100):
        presses.append(_press(app, "down"))
        t += REPEAT
        await asyncio.sleep(max(0.0, t - time.perf_counter()))
    for i, at in enumerate(presses):
        held.append(await frames.cursor_at(start + i + 1, at))
    await asyncio.sleep(0.3)

    # pause (space, then enter in its dialog) and resume (space) the selected job, to the
    # first frame whose row shows it: attached, the command's round trip is inside
    paused, resumed = out.setdefault("pause", []), out.setdefault("resume", [])
    for _ in range(15):
        _press(app, "space")
        deadline = time.perf_counter() + 10
        while not isinstance(app.screen, PauseDialog):
            assert time.perf_counter() < deadline, "the pause dialog never opened"
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)
        at = _press(app, "enter")
        paused.append(await frames.status_is(True, at))
        await asyncio.sleep(0.1)
        at = _press(app, "space")
        resumed.append(await frames.status_is(False, at))
        await asyncio.sleep(0.1)


async def _settled(app: CrondeckApp, quiet: float = 0.5, limit: float = 300.0) -> None:
    """Until nothing runs and no event has come for `quiet` seconds, all of it folded in by
    the live console (bounded by `limit`)."""
    sched = app.scheduler
    seen = [0]
    remove = sched.add_listener(lambda _e: seen.__setitem__(0, seen[0] + 1))
    sub = app.dashboard.observer.subscription
    try:
        end = time.perf_counter() + limit
        last, calm_since = -1, time.perf_counter()
        while True:
            await asyncio.sleep(0.1)
            now = time.perf_counter()
            if seen[0] != last or len(sub) or sched.in_flight:
                last, calm_since = seen[0], now
            elif now - calm_since >= quiet:
                return
            if now > end:
                raise RuntimeError(f"the schedule did not settle within {limit:g} s")
    finally:
        remove()


async def _dashboard(n: int, out: Figures, only_tick: bool = False,
                     moving: bool = False) -> None:
    sched, clock = _scheduler(n, moving)
    app = CrondeckApp(sched, clock=clock, zone=UTC, live=False)  # live for keys: `_measure`
    frames = _Frames(app)
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        out.setdefault("first", []).append(await frames.first_screen() - t0)
        await pilot.pause()
        await _measure(app, frames, clock, pilot, out, only_tick)


class _Server:
    """attach_server.py in a process of its own: a scheduler serving its control socket."""

    def __init__(self, n: int) -> None:
        self.dir = tempfile.mkdtemp(prefix="cdb", dir="/tmp")
        os.chmod(self.dir, 0o700)
        self.path = Path(self.dir) / "control.sock"
        here = Path(__file__).parent
        self.proc = subprocess.Popen(
            [sys.executable, str(here / "attach_server.py"), str(self.path), str(n)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"attach_server did not start: {line!r}")

    def rss(self) -> tuple[int, int]:
        """The server's resident and peak resident memory, KiB."""
        fields = dict(line.split(":", 1) for line in
                      Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
                      if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            os.rmdir(self.dir)


async def _mirror(path: Path, clock: FakeClock) -> tuple[RemoteScheduler, list[float]]:
    """Attach; the list gets when each snapshot had arrived (read and parsed)."""
    arrived: list[float] = []

    async def connect() -> Any:
        link = await ControlClient.connect(path, subscribe=True, client="bench", shared=True)
        arrived.append(time.perf_counter())
        return link

    return await RemoteScheduler.attach(connect=connect, clock=clock), arrived


async def _attached(n: int, out: Figures, only_tick: bool = False) -> None:
    server = _Server(n)
    try:
        clock = FakeClock(datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
        t0 = time.perf_counter()
        mirror, arrived = await _mirror(server.path, clock)
        out.setdefault("snapshot", []).append(arrived[0] - t0)
        app = CrondeckApp(mirror, clock=clock, zone=UTC, live=True, start=False)
        app.dashboard_class = AttachedDashboard
        frames = _Frames(app)
        try:
            async with app.run_test(size=SIZE) as pilot:
                out.setdefault("first", []).append(await frames.first_screen() - arrived[0])
                await pilot.pause()
                await _measure(app, frames, clock, pilot, out, only_tick)
                if not only_tick:
                    await _reattach(app, frames, clock, mirror, out)
        finally:
            await mirror.aclose()
    finally:
        server.close()


async def _reattach(app: CrondeckApp, frames: _Frames, clock: FakeClock,
                    mirror: RemoteScheduler, out: Figures, times: int = 3) -> None:
    """The connection dropped and the mirror re-attached at once (a new snapshot, the jobs
    as they were): the console's resync and the frame it causes; and the mirror's own work,
    from the drop to the snapshot applied (the core's, beside it)."""
    screen = app.dashboard
    resync = screen.resync
    done: list[float] = []

    def timed() -> None:
        after = len(frames.work)
        s = time.perf_counter()
        resync()
        done.append(time.perf_counter() - s)
        marks.append(after)

    marks: list[int] = []
    screen.resync = timed  # type: ignore[method-assign]
    applied: list[float] = []
    remove = mirror.add_listener(
        lambda e: applied.append(time.perf_counter()) if isinstance(e, ControlAttached) else None)
    try:
        for _ in range(times):
            clock.advance(1)  # the console tells a new snapshot by when it was taken
            count = len(done)
            link = mirror._link
            assert link is not None
            dropped = time.perf_counter()
            await link.close()
            end = dropped + 120
            while len(done) == count:
                if time.perf_counter() > end:
                    raise RuntimeError("the console did not resync within 120 s")
                await asyncio.sleep(0.01)
            out.setdefault("reattach", []).append(applied[-1] - dropped)
            out.setdefault("resync", []).append(done[-1] + await frames.next_frame(marks[-1]))
            await asyncio.sleep(0.5)
    finally:
        remove()
        screen.resync = resync  # type: ignore[method-assign]


def _report_tick(n: int, runs: int = 3) -> None:
    """The countdown tick alone, the cases alternating run by run."""
    cases: dict[str, Any] = {
        "in-process": lambda out: _dashboard(n, out, only_tick=True),
        "attached": lambda out: _attached(n, out, only_tick=True),
        "in-process, every countdown moving":
            lambda out: _dashboard(n, out, only_tick=True, moving=True)}
    print(f"countdown tick and its frame, {n:,} jobs (target < 10 ms):")
    for i in range(1, runs + 1):
        for name, case in cases.items():
            out: Figures = {}
            asyncio.run(case(out))
            print(f"  {name:>34} run {i}: {_ms(out['tick'])} "
                  f"(load {os.getloadavg()[0]:.1f})")


FLOOD = """\
import sys, time
line = "x" * 60 + "\\n"
t0 = time.monotonic()
n = 0
while (elapsed := time.monotonic() - t0) < 3.0:
    due = int(elapsed * 50_000)
    if due > n:
        sys.stdout.write("".join(f"line {i} {line}" for i in range(n, due)))
        sys.stdout.flush()
        n = due
    else:
        time.sleep(0.002)
"""


def _flood_agent() -> CommandAgent:
    """A command printing ~50,000 numbered lines a second for 3 s through a real pipe, so
    the output takes the path a command agent's does (read, redacted, published)."""
    return CommandAgent([sys.executable, "-c", FLOOD], name="flood")


def _lines(e: Any) -> int:
    """Output lines an event carries (a chunk holds every line one read delivered)."""
    return e.text.count("\n") if isinstance(e, OutputChunk) else 0


def _rss_now() -> int:
    """This process's resident memory, KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _stalls_until(done: Any, limit: float = 60.0) -> list[float]:
    """How late a 10 ms sleep on the UI's loop wakes, until `done()`."""
    stalls: list[float] = []
    end = time.perf_counter() + limit
    while not done():
        if time.perf_counter() > end:
            raise RuntimeError("the flood did not end")
        s = time.perf_counter()
        await asyncio.sleep(0.01)
        stalls.append(time.perf_counter() - s - 0.01)
    return stalls


async def _flood(out: Figures) -> None:
    """Three floods in a row in one console: the UI loop's stalls, and memory after each."""
    clock = FakeClock(datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
    sched = Scheduler(clock=clock)
    sched.add_job(_flood_agent(), "p", "@every 1h", name="flood")
    app = CrondeckApp(sched, clock=clock, zone=UTC, live=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        out["rss"] = [_rss_now()]
        lines = [0]
        sched.add_listener(lambda e: lines.__setitem__(0, lines[0] + _lines(e)))
        for _ in range(3):
            lines[0] = 0
            handle = sched.run_now("flood")
            out.setdefault("stall", []).extend(await _stalls_until(handle.done))
            await pilot.pause(0.3)
            out["rss"].append(_rss_now())
            out.setdefault("lines", []).append(lines[0] / 3.0)
        out["dropped"] = [app.dashboard.model.dropped]


async def _flood_attached(out: Figures) -> None:
    """The same through the socket: the flood runs in the server's process; lines are
    counted as the mirror receives them."""
    server = _Server(0)
    try:
        clock = FakeClock(datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
        mirror, _arrived = await _mirror(server.path, clock)
        app = CrondeckApp(mirror, clock=clock, zone=UTC, live=True, start=False)
        app.dashboard_class = AttachedDashboard
        try:
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause()
                out["rss"] = [_rss_now()]
                out["server_rss"] = [server.rss()[0]]
                lines = [0]
                mirror.add_listener(lambda e: lines.__setitem__(0, lines[0] + _lines(e)))
                for _ in range(3):
                    lines[0] = 0
                    handle = mirror.run_now("flood")
                    out.setdefault("stall", []).extend(await _stalls_until(handle.done))
                    await pilot.pause(0.3)
                    out["rss"].append(_rss_now())
                    out["server_rss"].append(server.rss()[0])
                    out.setdefault("lines", []).append(lines[0] / 3.0)
                out["dropped"] = [app.dashboard.model.dropped]
        finally:
            await mirror.aclose()
    finally:
        server.close()


def _ms(values: list[float]) -> str:
    return (f"p50 {_p(values, 0.5):6.1f}  p99 {_p(values, 0.99):6.1f}  "
            f"max {max(values) * 1000:6.1f} ms")


CASES = {"in-process": _dashboard, "attached": _attached}


def _case(name: str, n: int) -> Figures:
    """One dashboard case in a process of its own: a case run after another measured in the
    heap that one left (100,000 jobs' worth: the collector walks it while the next case
    parses its snapshot)."""
    out = subprocess.run([sys.executable, __file__, "--case", name, str(n)],
                         stdout=subprocess.PIPE, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"bench_tui case {name!r} on {n:,} jobs failed "
                           f"(exit {out.returncode}); its error is above")
    lines = out.stdout.strip().splitlines()
    for line in lines[:-1]:  # what the case printed on its way (BENCH_DEBUG)
        print(line)
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def _report(n: int, runs: int = 3) -> None:
    """The dashboard measures in-process and attached, each `runs` times, side by side,
    each run of each case in a fresh process (the cases alternating)."""
    cases = CASES
    figures: dict[str, list[Figures]] = {name: [] for name in cases}
    loads = []
    for _ in range(runs):
        for name in cases:
            figures[name].append(_case(name, n))
        loads.append(os.getloadavg()[0])
    load = ", ".join(f"{x:.1f}" for x in loads)
    print(f"{n:,} jobs, {runs} runs each (1-min load average after each run: {load}):")
    rows = [("first screen (attached: from the snapshot's arrival; target < 1500 ms)", "first"),
            ("countdown tick and its frame (target < 10 ms)", "tick"),
            ("key to frame, down, single presses (target < 50 ms p99)", "key"),
            ("key to frame, down, held at 30/s (target < 50 ms p99)", "held"),
            ("pause: enter in its dialog to the row showing paused (target < 50 ms p99)",
             "pause"),
            ("resume: space to the row no longer paused (target < 50 ms p99)", "resume")]
    for title, key in rows:
        print(f"  {title}")
        for name in cases:
            for i, out in enumerate(figures[name], 1):
                print(f"    {name:>10} run {i}: {_ms(out[key])}")
    for i, out in enumerate(figures["attached"], 1):
        print(f"  attached run {i}: connect to snapshot read and parsed "
              f"{out['snapshot'][0] * 1000:.0f} ms; connect to first screen "
              f"{(out['snapshot'][0] + out['first'][0]) * 1000:.0f} ms")
    for i, out in enumerate(figures["attached"], 1):
        print(f"  attached run {i}, re-attached ({len(out['resync'])} times): the console's "
              f"resync and its frame {_ms(out['resync'])}; the mirror, drop to snapshot "
              f"applied {_ms(out['reattach'])}")


def _report_flood() -> None:
    cases = {"in-process": _flood, "attached": _flood_attached}
    print("flood (~50k lines/s for 3 s, three times in one console):")
    for name, case in cases.items():
        out: Figures = {}
        asyncio.run(case(out))
        rss = out["rss"]
        print(f"  {name:>10}: UI loop stall {_ms(out['stall'])}; lines/s received "
              f"{', '.join(f'{x:,.0f}' for x in out['lines'])}; dropped "
              f"{out['dropped'][0]:,.0f}; console RSS MiB "
              f"{' -> '.join(f'{x / 1024:.0f}' for x in rss)}"
              + (f"; scheduler RSS MiB "
                 f"{' -> '.join(f'{x / 1024:.0f}' for x in out['server_rss'])}"
                 if "server_rss" in out else "")
              + f" (load {os.getloadavg()[0]:.1f})")


def _launch(n: int = 10_000, runs: int = 3, target: float = 1.5) -> None:
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
          f"best {min(times):.2f} s, median {statistics.median(times):.2f} s "
          f"(target < {target:g})")


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
    # "dashboard", "tick" or "flood": that part alone; "100k": the dashboard on 100,000 jobs
    # (not in `make bench`: a run of its two cases takes minutes)
    only = os.environ.get("BENCH_TUI")
    if only == "100k":
        _report(100_000, runs=int(os.environ.get("BENCH_RUNS", "1")))
        return
    if only == "tick":
        _report_tick(10_000, runs=int(os.environ.get("BENCH_RUNS", "3")))
    if not only:
        _launch()
        _launch(100_000, runs=2, target=3.0)
    if only in (None, "", "dashboard"):
        _report(10_000, runs=int(os.environ.get("BENCH_RUNS", "3")))
    if only in (None, "", "flood"):
        _report_flood()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:  # one case of `_report`, its figures as one JSON line
        figures: Figures = {}
        asyncio.run(CASES[sys.argv[2]](int(sys.argv[3]), figures))
        print(json.dumps(figures))
    else:
        main()
