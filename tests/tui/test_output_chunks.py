"""Output arrives as chunks of many lines (all a command's lines from one read of its pipe):
the console shows every line, in order, once."""

from __future__ import annotations

import asyncio

from conftest import SIZE, settle

from crondeck.core import OutputChunk
from crondeck.tui.model import MAX_LINES_PER_RUN
from crondeck.tui.widgets.output_pane import OutputPane

RUN = "alpha@2025-03-03T08:00:00Z"


def _rows(first: int, last: int) -> str:
    return "".join(f"row {i}\n" for i in range(first, last))


def test_chunks_of_many_lines_reach_the_model_and_the_pane_line_by_line(make_app):
    app, sched, _clock, _streamer = make_app(start=False)

    def emit(text: str, stream: str = "stdout") -> None:
        sched.bus.emit(OutputChunk, job="alpha", run_id=RUN, stream=stream, text=text)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            pane = screen.query_one(OutputPane)
            emit(_rows(0, 3000))
            screen.observer.pump()
            run = screen.model.run(RUN)
            assert run is not None and [ln.text for ln in run.lines] == [
                f"row {i}" for i in range(3000)]
            pane.show_run(run)
            emit(_rows(3000, 3500))
            emit("oops\nstill\n", "stderr")
            emit(_rows(3500, 7000))
            screen.observer.pump()  # one batch of three chunks: 4,002 new lines
            await pilot.pause()
            assert run.total == 7002 and len(run.lines) == MAX_LINES_PER_RUN
            shown = list(pane.lines)
            expected = [f"  row {i}" for i in range(3500)] + ["▌ oops", "▌ still"] + [
                f"  row {i}" for i in range(3500, 7000)]
            assert shown == expected

    asyncio.run(go())
