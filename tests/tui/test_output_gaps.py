"""What the output pane shows is what the run printed, or says what it leaves out: lines a
run printed faster than the console keeps them are counted where they are missing (not cut
out silently), and terminal escape sequences (colours, titles, cursor moves) are not shown
as garbage."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from textual.app import App, ComposeResult

from crondeck.core import GateResult, OutputChunk, RunResult, RunStatus, Scheduler, SkipReason
from crondeck.core.clock import FakeClock
from crondeck.tui.model import MAX_LINES_PER_RUN, DashboardModel, OutputLine, RunOutput
from crondeck.tui.widgets.output_pane import OutputPane

AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield OutputPane(zone=UTC, id="output")


def add(run: RunOutput, texts: list[str]) -> None:
    """As the model folds a chunk in: the run keeps its newest lines, counts them all."""
    run.lines.extend(OutputLine(AT, "stdout", t) for t in texts)
    run.total += len(texts)


def shown(act) -> list[str]:
    async def go() -> list[str]:
        async with PaneApp().run_test(size=(100, 20)) as pilot:
            pane = pilot.app.query_one(OutputPane)
            act(pane)
            await pilot.pause()
            return list(pane.lines)

    return asyncio.run(go())


def test_a_flood_between_two_catch_ups_says_how_many_lines_are_missing_and_where():
    def act(pane: OutputPane) -> None:
        run = RunOutput("flood@1", "flood", AT)
        add(run, ["start"])
        pane.show_run(run)
        add(run, [f"line {i}" for i in range(1, MAX_LINES_PER_RUN + 1001)])
        pane.catch_up()

    lines = shown(act)
    assert lines[0] == "  start"
    assert lines[1] == "── 1,000 lines not kept here: crondeck logs flood --run flood@1 prints them"
    assert lines[2] == "  line 1001"
    assert lines[-1] == f"  line {MAX_LINES_PER_RUN + 1000}"


def test_a_run_whose_first_lines_rolled_off_says_so_at_the_top():
    def act(pane: OutputPane) -> None:
        run = RunOutput("big job@1", "big job", AT)
        add(run, [f"line {i}" for i in range(1, MAX_LINES_PER_RUN + 21)])
        pane.show_run(run)

    lines = shown(act)
    assert lines[0] == ("── 20 lines not kept here: crondeck logs 'big job' --run 'big job@1' "
                        "prints them")
    assert lines[1] == "  line 21"


def model() -> DashboardModel:
    return DashboardModel(Scheduler(clock=FakeClock(AT)))


def test_colours_and_titles_are_taken_out_of_the_text():
    text = ("\x1b[31mred\x1b[0m \x1b[1;32mbold\x1b[0m\n"
            "\x1b]0;a title\x07after\n"
            "\x1b[?25l\x1b[2K\x1b(Bplain\x1b[?25h\n"
            "tab\tand \x07bell\n")
    folded = model()
    folded.apply([OutputChunk(job="j", run_id="j@1", stream="stdout", text=text, at=AT, seq=1)])
    assert [line.text for line in folded.outputs["j"][0].lines] == [
        "red bold", "after", "plain", "tab\tand \x07bell"]


def test_a_history_run_from_its_tail_is_cleaned_too():
    result = RunResult(job="j", run_id="j@1", status=RunStatus.OK, scheduled_for=AT,
                       started_at=AT, output_tail="\x1b[2Kdone \x1b[32m✓\x1b[0m\n")
    assert [line.text for line in model().output_for_result(result).lines] == ["done ✓"]


def test_a_run_its_gate_skipped_says_so_and_why_not_only_an_exit_code():
    """"── skipped (exit code 1)" named neither the gate nor its reason (the only output a
    gate skip has); the History row cuts the reason short."""
    result = RunResult(job="inbox", run_id="inbox@1", status=RunStatus.SKIPPED,
                       scheduled_for=AT, exit_code=1, skip_reason=SkipReason.GATE,
                       error="no new mail since the last check",
                       gate=GateResult(run=False, exit_code=1,
                                       reason="no new mail since the last check"))
    assert OutputPane.outcome(RunOutput("inbox@1", "inbox", None, result=result)) == (
        "── skipped by its pre-run gate (exit code 1): no new mail since the last check")
