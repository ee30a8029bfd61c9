"""History and Output stay where the operator put them: the History cursor keeps its run while
rows arrive, a run opened from History is shown until the operator goes back to the jobs,
missed slots show their own times, History has views (all / failures only / skips and misses
hidden) and folds a job's identical skips, and its misses in a row, into one counted row."""

from __future__ import annotations

import asyncio

import pytest
from conftest import SIZE, START, settle, text_of
from textual import events

from crondeck.core import FakeClock, RunContext, RunStatus, Scheduler, SkipReason
from crondeck.tui.app import CrondeckApp


async def done(prompt: str) -> str:
    return "done\n"


class Printer:
    """Prints one line naming its run, then exits 0."""

    name = "printer"

    async def execute(self, ctx: RunContext) -> int | None:
        ctx.emit(f"hello from {ctx.job}\n", "stdout")
        return 0


def burst(app: CrondeckApp, typed: str) -> None:
    """Keys queued all at once, before the app handles the first (`pilot.press` waits after
    each key, so a key that moves the focus has done so before the next arrives)."""
    names = {"/": "slash", "\r": "enter"}
    for char in typed:
        app.post_message(events.Key(names.get(char, char), char))


def _app(sched: Scheduler, clock: FakeClock) -> CrondeckApp:
    return CrondeckApp(sched, config_path="/srv/ops/crondeck.toml", clock=clock,
                       zone=START.tzinfo, start=True, live=False)


@pytest.mark.slow
def test_the_history_cursor_stays_on_its_run_while_rows_arrive(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for job in ("delta", "beta", "epsilon"):
                sched.run_now(job)
                await settle(pilot)
            history = app.dashboard.history
            history.focus()
            await pilot.press("down")  # onto beta's failure
            await pilot.pause()
            chosen = history.items[history.cursor]
            assert chosen.job == "beta"
            for job in ("delta", "gamma", "delta"):  # three rows arrive above it
                sched.run_now(job)
                await settle(pilot)
            assert history.cursor == 4
            assert history.items[history.cursor] is chosen
            line = text_of(history).splitlines()[1 + history.cursor]
            assert "beta" in line and "failed" in line
            await pilot.press("enter")
            await pilot.pause()
            shown = app.dashboard.output.run
            assert shown is not None and shown.run_id == chosen.run_id

    asyncio.run(go())


@pytest.mark.slow
def test_at_the_top_the_cursor_stays_with_its_run_too_while_the_pane_has_focus(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            sched.run_now("delta")
            await settle(pilot)
            history = app.dashboard.history
            history.focus()
            await pilot.pause()
            first = history.items[0]
            sched.run_now("beta")
            await settle(pilot)
            assert history.items[history.cursor] is first and history.cursor == 1
            assert history.scroll_y == 0  # the new row shows above it

    asyncio.run(go())


def test_an_unfocused_history_at_the_top_keeps_showing_the_newest(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            sched.run_now("delta")
            await settle(pilot)
            sched.run_now("beta")
            await settle(pilot)
            history = app.dashboard.history
            assert not history.has_focus and history.cursor == 0
            assert history.items[0].job == "beta"

    asyncio.run(go())


@pytest.mark.slow
def test_a_scrolled_history_keeps_its_rows_in_view_as_rows_arrive(make_app):
    app, sched, clock, _ = make_app()

    async def go():
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            for _ in range(30):
                sched.run_now("delta")
                await settle(pilot, 1)
                clock.advance(1)
            history = app.dashboard.history
            history.focus()
            await pilot.press("pagedown", "pagedown")
            await pilot.pause()
            top, chosen = history.scroll_y, history.items[history.cursor]
            assert top > 0
            sched.run_now("beta")
            await settle(pilot)
            assert history.items[history.cursor] is chosen
            assert history.scroll_y == top + 1  # the same rows, where they were

    asyncio.run(go())


@pytest.mark.slow
def test_a_run_opened_from_history_gives_way_when_the_operator_goes_back_to_the_jobs(make_app):
    """Opened from History, the pane shows that run; with the same job still selected,
    going back to the jobs (tab, or `/` and enter) shows the selected job again."""
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            sched.run_now("beta")
            await settle(pilot)
            table = app.dashboard.table
            table.select("delta")
            await pilot.pause()
            history = app.dashboard.history
            history.focus()
            await pilot.press("enter")  # beta's failure
            await pilot.pause()
            output = app.dashboard.output
            assert output.run is not None and output.run.job == "beta"
            assert str(output.border_title).startswith("History run (esc) · beta · ")
            burst(app, "/delt\r")  # as a terminal delivers typed-ahead keys: in one batch
            await pilot.pause()
            await pilot.pause()
            assert table.filter_text == "delt" and table.selected == "delta"
            assert not sched.jobs["delta"].skip_next_pending  # `s` did not skip its next run
            assert "delta has not run yet" in "\n".join(output.lines)
            assert str(output.border_title) == "Output"  # delta's: it has not run

    asyncio.run(go())


@pytest.mark.slow
def test_esc_and_tab_back_to_the_jobs_leave_the_run_opened_from_history(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            sched.run_now("beta")
            await settle(pilot)
            app.dashboard.table.select("delta")
            history = app.dashboard.history
            history.focus()
            await pilot.press("enter")
            await pilot.pause()
            output = app.dashboard.output
            assert output.run is not None and output.run.job == "beta"
            await pilot.press("escape")
            await pilot.pause()
            assert output.run is None and "delta has not run yet" in "\n".join(output.lines)
            assert history.has_focus  # esc changes what the pane shows, not the focus
            await pilot.press("enter")
            await pilot.pause()
            assert output.run is not None and output.run.job == "beta"
            await pilot.press("tab")  # history -> jobs
            await pilot.pause()
            assert app.dashboard.table.has_focus
            assert output.run is None

    asyncio.run(go())


@pytest.mark.slow
def test_missed_slots_show_their_own_times_and_say_missed_once():
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    sched.add_job(done, "go", "@every 10s", name="ticker", tz="UTC")
    app = _app(sched, clock)

    async def go():
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            await clock.run_for(10)  # 08:58:40 runs
            await settle(pilot)
            clock.advance(60)  # the loop wakes late: 08:58:50 .. 08:59:40 are due
            await clock.settle()
            await settle(pilot)
            history = app.dashboard.history
            # the 5 slots missed in a row are one row: at the newest slot's own time, since
            # the oldest's (not the time the loop woke)
            missed = [r for r in history.items if r.status is RunStatus.MISSED]
            assert len(missed) == 1
            assert history.counts[history.items.index(missed[0])] == 5
            lines = text_of(history).splitlines()
            rows = [line for line in lines if "missed" in line]
            assert len(rows) == 1 and rows[0].split()[0] == "08:59:30"
            assert "×5 since 08:58:50 · missed: a later slot" in rows[0]
            history.focus()
            history.cursor = history.items.index(missed[0])
            await pilot.press("enter")
            await pilot.pause()
            outcome = app.dashboard.output.lines[-1]
            assert outcome.startswith("── missed: a later slot was due too"), outcome
            assert "missed: missed" not in outcome

    asyncio.run(go())


@pytest.mark.slow
def test_v_cycles_the_history_views_and_the_title_says_which(make_app):
    app, sched, _clock, _ = make_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for job in ("delta", "beta", "epsilon"):  # ok, failed, skipped (gate)
                sched.run_now(job)
                await settle(pilot)
            history = app.dashboard.history
            assert [r.job for r in history.items] == ["epsilon", "beta", "delta"]
            await pilot.press("v")
            assert [r.job for r in history.items] == ["beta"]
            assert "failures only" in str(history.border_title)
            await pilot.press("v")
            assert [r.job for r in history.items] == ["beta", "delta"]
            assert "skips hidden" in str(history.border_title)
            await pilot.press("v")
            assert len(history.items) == 3
            assert str(history.border_title) == "History · all jobs"

    asyncio.run(go())


@pytest.mark.slow
def test_identical_skips_of_a_job_fold_into_one_row_with_a_count():
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    sched.add_job(done, "go", "@every 10s", name="held", tz="UTC")
    sched.add_job(Printer(), "go", "@yearly", name="other", tz="UTC")
    sched.pause_job("held", note="deploy freeze")
    app = _app(sched, clock)

    async def go():
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            for _ in range(3):
                await clock.run_for(10)
                await settle(pilot)
            sched.run_now("other")  # another job between them does not break the streak
            await settle(pilot)
            for _ in range(3):
                await clock.run_for(10)
                await settle(pilot)
            history = app.dashboard.history
            assert [(r.job, n) for r, n in zip(history.items, history.counts, strict=True)] \
                == [("held", 6), ("other", 1)]
            assert history.items[0].skip_reason is SkipReason.PAUSED
            row = text_of(history).splitlines()[1]
            assert "skipped (paused)" in row and "×6 since 08:58:40" in row
            assert row.split()[0] == "08:59:30"  # the newest of them
            sched.resume_job("held")
            await clock.run_for(10)  # a run ends the streak: the next skip is a new row
            await settle(pilot)
            sched.pause_job("held", note="deploy freeze")
            await clock.run_for(10)
            await settle(pilot)
            assert [(r.job, r.status.value, n) for r, n in
                    zip(history.items, history.counts, strict=True)] == [
                ("held", "skipped", 1), ("held", "ok", 1), ("held", "skipped", 6),
                ("other", "ok", 1)]

    asyncio.run(go())


@pytest.mark.slow
def test_misses_of_a_downtime_fold_into_one_row_whatever_their_lateness():
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    sched.add_job(done, "go", "@every 10s", name="strict", tz="UTC", catchup="none")
    sched.add_job(Printer(), "go", "@yearly", name="other", tz="UTC")
    app = _app(sched, clock)

    async def go():
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            await clock.run_for(10)  # 08:58:40 runs
            await settle(pilot)
            clock.advance(60)  # down: 08:58:50 .. 08:59:40 each missed, each so many s late
            await clock.settle()
            await settle(pilot)
            history = app.dashboard.history
            missed = [(r, n) for r, n in zip(history.items, history.counts, strict=True)
                      if r.status is RunStatus.MISSED]
            assert len(missed) == 1 and missed[0][1] >= 5
            row = next(line for line in text_of(history).splitlines() if "missed" in line)
            assert "since 08:58:50 · missed: late (catchup" in row
            assert "s late" not in row  # no one slot's lateness stands for all of them
            await pilot.press("v", "v")  # skips (and misses) hidden
            assert history.view == "no-skips"
            assert all(r.status is RunStatus.OK for r in history.items)
            assert "misses too" in str(history.border_title)

    asyncio.run(go())
