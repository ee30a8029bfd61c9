"""The output pane wraps long lines (keeping its row counts as lines arrive, not per
repaint), searches the shown run (`/`, n/N) and goes full screen on the dashboard (`z`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from textual.app import App, ComposeResult

from crondeck.tui.model import OutputLine, RunOutput
from crondeck.tui.widgets.output_pane import MAX_LINES, OutputPane

AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
LONG = "word " * 30  # 150 cells


def _run(lines: list[tuple[str, str]]) -> RunOutput:
    run = RunOutput("job@1", "job", AT)
    for stream, text in lines:
        run.lines.append(OutputLine(AT, stream, text))
    run.total = len(run.lines)
    return run


class PaneApp(App[None]):
    def __init__(self, run: RunOutput) -> None:
        super().__init__()
        self.the_run = run

    def compose(self) -> ComposeResult:
        yield OutputPane(zone=UTC, id="output")

    def on_mount(self) -> None:
        pane = self.query_one(OutputPane)
        pane.follow = False
        pane.show_run(self.the_run)


def _rows(pane: OutputPane, count: int) -> list[str]:
    return [pane.render_line(y).text for y in range(count)]


def _drive(run: RunOutput, act, size=(62, 14)):
    async def go():
        async with PaneApp(run).run_test(size=size) as pilot:
            await pilot.pause()
            return await act(pilot.app.query_one(OutputPane), pilot)

    return asyncio.run(go())


def test_wrap_shows_a_long_line_on_several_rows_under_its_text():
    run = _run([("stdout", "short"), ("stderr", LONG.strip()), ("stdout", "after")])

    async def act(pane: OutputPane, pilot):
        width = pane.scrollable_content_region.width
        assert pane.row_count == 3
        assert _rows(pane, 2)[1].rstrip().endswith(LONG[: width - 2].rstrip())  # cut
        pane.wrap = True
        await pilot.pause()
        rows = _rows(pane, 8)
        assert pane.row_count == 1 + 3 + 1
        assert rows[0].strip() == "short"
        # every row of the stderr line carries its marker; the text continues under itself
        assert all(r.startswith("▌ ") for r in rows[1:4])
        assert "".join(r[2:] for r in rows[1:4]).split() == LONG.split()
        assert rows[4].strip() == "after"
        assert pane.virtual_size.width == width  # no sideways scrolling while wrapped
        pane.wrap = False
        await pilot.pause()
        assert pane.row_count == 3

    _drive(run, act)


def test_wrapped_rows_are_counted_as_lines_arrive_and_roll_off():
    run = _run([("stdout", LONG)] * 10)

    async def act(pane: OutputPane, pilot):
        pane.wrap = True
        await pilot.pause()
        per_line = pane.row_count // 10
        assert per_line > 1
        more = 0
        for _batch in range(3):  # the run keeps fewer lines than the pane: in batches
            run.lines.extend(OutputLine(AT, "stdout", f"n{more + i}") for i in range(4000))
            run.total += 4000
            more += 4000
            pane.catch_up()
        assert more > MAX_LINES
        assert pane.line_count == MAX_LINES
        assert pane.row_count == MAX_LINES  # the long lines rolled off
        pane.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        last = [r.strip() for r in _rows(pane, pane.scrollable_content_region.height)]
        assert last[-1] == f"n{more - 1}"

    _drive(run, act)


def test_a_width_change_rewraps():
    run = _run([("stdout", LONG)])

    async def act(pane: OutputPane, pilot):
        pane.wrap = True
        await pilot.pause()
        before = pane.row_count
        await pilot.resize_terminal(40, 14)
        await pilot.pause()
        assert pane.row_count > before

    _drive(run, act)


def test_search_marks_and_moves_between_matches_and_wraps_around():
    lines = [("stdout", f"line {i}") for i in range(60)]
    lines[10] = ("stdout", "ERROR one")
    lines[40] = ("stderr", "error two")
    run = _run(lines)

    async def act(pane: OutputPane, pilot):
        pane.search = "error"
        assert pane.find(1)
        assert pane.current == 10 and pane.match_count() == (1, 2)
        await pilot.pause()
        assert pane.scroll_y <= 10 < pane.scroll_y + pane.size.height
        pane.focus()
        await pilot.press("n")
        assert pane.current == 40 and pane.match_count() == (2, 2)
        await pilot.pause()
        assert pane.scroll_y <= 40 < pane.scroll_y + pane.size.height
        await pilot.press("n")
        assert pane.current == 10  # around
        await pilot.press("N")
        assert pane.current == 40
        # the match is drawn in the match styles
        row = pane.render_line(40 - int(pane.scroll_y))
        styles = {seg.style for seg in row if "error" in seg.text.casefold()}
        current = pane.get_component_rich_style("output-pane--match-current")
        assert any(s is not None and s.bgcolor == current.bgcolor for s in styles)
        pane.search = "nowhere"
        assert not pane.find(1) and pane.match_count() == (0, 0)

    _drive(run, act)


def test_search_in_a_wrapped_pane_scrolls_to_the_row_of_the_match():
    lines = [("stdout", LONG)] * 30 + [("stdout", "needle")]
    run = _run(lines)

    async def act(pane: OutputPane, pilot):
        pane.wrap = True
        await pilot.pause()
        pane.search = "needle"
        assert pane.find(1)
        await pilot.pause()
        shown = [r.strip() for r in _rows(pane, pane.scrollable_content_region.height)]
        assert "needle" in shown

    _drive(run, act)


@pytest.mark.slow
def test_dashboard_keys_search_wrap_and_full_screen(make_app):
    async def go():
        app, sched, _clock, streamer = make_app()
        async with app.run_test(size=(120, 36)) as pilot:
            screen = app.dashboard
            await pilot.pause()
            sched.run_now("alpha")
            for _ in range(50):
                screen.observer.pump()
                await pilot.pause()
                if screen.output.line_count >= 4:
                    break
            pane = screen.output
            pane.focus()
            await pilot.press("slash")
            box = screen.query_one("#output-search")
            assert box.display and box.has_focus
            await pilot.press(*"disk")
            assert pane.search == "disk" and pane.current is not None
            await pilot.press("enter")
            assert not box.display and pane.has_focus
            assert "/disk: 1/1 (n/N)" in str(pane.border_subtitle)
            await pilot.press("slash", "escape")
            assert pane.search == "" and pane.has_focus
            await pilot.press("w")
            assert pane.wrap and "wrap" in str(pane.border_subtitle)
            await pilot.press("z")
            await pilot.pause()
            assert screen.maximized is not None and pane.size.width > 100
            await pilot.press("escape")
            await pilot.pause()
            assert screen.maximized is None
            streamer.release.set()

    asyncio.run(go())


def test_another_run_clears_the_search_and_the_same_run_keeps_it():
    first = _run([("stdout", "error here"), ("stdout", "fine")])
    other = RunOutput("other@1", "other", AT)
    other.lines.append(OutputLine(AT, "stdout", "nothing of the kind"))
    other.total = 1

    async def act(pane: OutputPane, pilot):
        pane.search = "error"
        assert pane.find(1, here=True) and pane.match_count() == (1, 1)
        pane.show_run(first)  # the same run shown again (its job selected again): kept
        assert pane.search == "error"
        pane.show_run(other)
        await pilot.pause()
        assert pane.search == "" and pane.match_count() == (0, 0)
        assert "/" not in str(pane.border_subtitle or "")
        assert not any("error" in row for row in _rows(pane, 3))

    _drive(first, act)


@pytest.mark.slow
def test_switching_jobs_clears_the_output_search(make_app):
    async def go():
        app, sched, _clock, streamer = make_app()
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            screen = app.dashboard
            await pilot.pause()
            sched.run_now("alpha")
            for _ in range(50):
                screen.observer.pump()
                await pilot.pause()
                if screen.output.line_count >= 4:
                    break
            pane = screen.output
            pane.focus()
            await pilot.press("slash", *"disk", "enter")
            assert "/disk: 1/1 (n/N)" in str(pane.border_subtitle)
            screen.table.focus()
            await pilot.press("down")
            for _ in range(20):  # the pane switches once the cursor rests
                await pilot.pause(0.05)
                if pane.run is None or pane.run.job != "alpha":
                    break
            assert screen.table.selected != "alpha"
            assert pane.search == "" and "/disk" not in str(pane.border_subtitle)
            await pilot.press("up")
            for _ in range(20):
                await pilot.pause(0.05)
                if pane.run is not None and pane.run.job == "alpha":
                    break
            assert pane.search == ""  # not carried back either: typed again if wanted
            streamer.release.set()

    asyncio.run(go())
