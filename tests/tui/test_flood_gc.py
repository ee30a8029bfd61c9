"""Under an output flood the collector's full passes stay short and out of the way: what the
first screen built is frozen, streaming output counts as busy time, and the output pane keeps
a bounded number of rendered lines however many scroll past."""

from __future__ import annotations

import asyncio
import gc

from conftest import SIZE, settle

from crondeck.core import OutputChunk
from crondeck.tui.quiet_gc import QUIET, QuietCollector
from crondeck.tui.widgets.job_table import JobTable
from crondeck.tui.widgets.output_pane import CACHED, OutputPane

RUN = "alpha@2025-03-03T08:00:00Z"


def test_settle_freezes_what_exists_only_while_started():
    collector = QuietCollector()
    collector.settle()  # not started: the collector is not ours to change
    assert gc.get_freeze_count() == 0
    collector.start()
    try:
        later = [object() for _ in range(10)]
        assert any(o is later for o in gc.get_objects())
        collector.settle()
        assert not any(o is later for o in gc.get_objects())  # full passes skip it now
    finally:
        collector.stop()
    assert gc.get_freeze_count() == 0


def test_the_first_screen_is_frozen_and_output_defers_full_passes(make_app):
    app, sched, _clock, _streamer = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            assert screen._gc.settled == 1  # once the first screen was drawn
            table = screen.query_one(JobTable)  # built for it: full passes skip it
            assert not any(o is table for o in gc.get_objects())
            now = [screen._gc._clock() + QUIET]  # quiet: no key for a while
            screen._gc._clock = lambda: now[0]
            for _ in range(100):  # a full pass due, as CPython counts (default: after 10)
                gc.collect(1)
            sched.bus.emit(OutputChunk, job="alpha", run_id=RUN, stream="stdout",
                           text="".join(f"row {i}\n" for i in range(500)))
            screen.observer.pump()
            await pilot.pause()
            assert not screen._gc.collect_if_quiet()  # output is streaming in
            now[0] += QUIET
            assert screen._gc.collect_if_quiet()  # quiet again: it runs

    asyncio.run(go())


def test_a_flood_keeps_a_bounded_number_of_rendered_lines(make_app):
    app, sched, _clock, _streamer = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            pane = screen.query_one(OutputPane)
            for batch in range(20):  # 20 batches of 250 lines, each drawn as it arrives
                sched.bus.emit(OutputChunk, job="alpha", run_id=RUN, stream="stdout",
                               text="".join(f"row {batch * 250 + i}\n" for i in range(250)))
                screen.observer.pump()
                if batch == 0:
                    pane.show_run(screen.model.run(RUN))
                await pilot.pause()
            assert pane.follow and pane.lines[-1] == "  row 4999"
            assert len(pane._cache) <= CACHED

    asyncio.run(go())
