"""The fast paths behind the 10,000-job targets still show the right things: the output pane
follows the cursor (at once, or once a fast-moving cursor rests), countdowns tick, the
incremental order matches a full sort, upcoming fires come from the next-fire order, a job
switch lays nothing out, and the COST column appears only when a job uses a model."""

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from conftest import SIZE, settle, text_of

from crondeck.core.display import money, token_count
from crondeck.tui.fire_order import FireOrder
from crondeck.tui.widgets.job_table import SORTS, JobTable
from crondeck.tui.widgets.output_pane import OutputPane
from crondeck.tui.widgets.upcoming import UpcomingList


def _shown_job(pane: OutputPane) -> str:
    if pane.run is not None:
        return pane.run.job
    return pane.lines[0].split()[0]


@pytest.mark.slow
def test_output_follows_a_fast_cursor_once_it_rests(make_app):
    app, _sched, _clock, _ = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            pane = app.dashboard.query_one(OutputPane)
            await pilot.pause(0.1)
            await pilot.press("down")  # after a rest: shown at once
            assert _shown_job(pane) == table.selected
            for _ in range(3):  # faster than the rest interval
                table.action_cursor(1)
                await asyncio.sleep(0.01)
            assert table.cursor == 4
            await pilot.pause(0.2)
            assert _shown_job(pane) == table.selected == table.order[4]

    asyncio.run(go())


@pytest.mark.slow
def test_switching_jobs_lays_out_nothing(make_app):
    app, _sched, _clock, _ = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            layouts = []
            original = screen._refresh_layout

            def counted(*args, **kwargs):
                layouts.append(1)
                return original(*args, **kwargs)

            screen._refresh_layout = counted
            for _ in range(3):
                await pilot.pause(0.1)
                await pilot.press("down")
            await pilot.pause(0.1)
            assert not layouts

    asyncio.run(go())


@pytest.mark.slow
def test_countdowns_tick_with_the_clock(make_app):
    app, _sched, clock, _ = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            upcoming = app.dashboard.query_one(UpcomingList)
            def delta() -> str:
                return next(line for line in text_of(table).splitlines() if "delta" in line)

            assert "in 1m 30s" in delta()  # @every 1h fires on the hour; it is 08:58:30
            soonest = text_of(upcoming).splitlines()[0]
            clock.advance(1)
            app.dashboard.tick()
            await pilot.pause()
            assert "in 1m 29s" in delta()
            assert text_of(upcoming).splitlines()[0] != soonest
            clock.advance(60)
            app.dashboard.tick()
            await pilot.pause()
            assert "in 29s" in delta()

    asyncio.run(go())


@pytest.mark.slow
def test_incremental_order_matches_a_full_sort(make_app):
    app, _sched, clock, _ = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            rows = dict(table.rows)
            table.select("beta")
            # delta now fires first, alpha last; only those two rows are re-placed
            rows["delta"] = replace(rows["delta"], next_fire=clock.now())
            rows["alpha"] = replace(rows["alpha"], next_fire=clock.now() + timedelta(days=3))
            table.set_rows(rows, {"delta", "alpha"})
            expected = [r.name for r in sorted(rows.values(), key=SORTS["next"])]
            assert table.order == expected
            assert table.order[0] == "delta"
            assert table.selected == "beta" and table.order[table.cursor] == "beta"
            # removed rows leave, filtered rows stay out
            del rows["epsilon"]
            table.filter_text = "a"
            table.set_rows(rows, {"epsilon"})
            assert "epsilon" not in table.order
            assert all("a" in n or "a" in rows[n].agent or "a" in rows[n].status
                       for n in table.order)

    asyncio.run(go())


@pytest.mark.slow
def test_fire_order_keeps_jobs_that_will_fire_earliest_first(make_app):
    app, _sched, clock, _ = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            rows = dict(app.dashboard.model.rows)
            order = FireOrder()
            order.rebuild(rows)
            assert "gamma" not in order.first(10)  # paused
            firing = sorted((r for r in rows.values() if r.status != "paused"),
                            key=lambda r: r.next_fire)
            assert order.first(10) == [r.name for r in firing]
            rows["beta"] = replace(rows["beta"], next_fire=clock.now() - timedelta(seconds=1))
            order.update(rows, {"beta"})
            assert order.first(1) == ["beta"]

    asyncio.run(go())


def _cost_app(make_app, *, tokens: int, cost: float | None, budget: int | None = None):
    app, sched, clock, _streamer = make_app(start=False)
    job = sched.jobs["beta"]
    if budget is not None:
        job.options = replace(job.options, daily_token_budget=budget)
    job.tokens_day = clock.now().date().isoformat()
    job.tokens_today = job.tokens_total = tokens
    if cost is not None:
        job.cost_today, job.cost_total = cost, cost + 2.68
    return app


def _header(table: JobTable) -> str:
    return text_of(table).splitlines()[0]


@pytest.mark.slow
def test_cost_column_only_when_a_job_uses_a_model(make_app):
    app = _cost_app(make_app, tokens=0, cost=None)

    async def go():
        async with app.run_test(size=(200, 36)) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            assert "COST" not in _header(table)

    asyncio.run(go())


@pytest.mark.slow
def test_cost_column_shows_today_and_total_and_narrows(make_app):
    for size, expected in (((200, 36), "$0.42 today · $3.10"), (SIZE, "$0.42"),
                           ((80, 24), "$0.42")):
        app = _cost_app(make_app, tokens=12_345, cost=0.42)

        async def go(app=app, size=size, expected=expected):
            async with app.run_test(size=size) as pilot:
                await settle(pilot)
                table = app.dashboard.query_one(JobTable)
                shown = text_of(table)
                assert "COST" in _header(table)
                beta = next(line for line in shown.splitlines() if "beta" in line)
                assert expected in beta
                alpha = next(line for line in shown.splitlines() if "alpha" in line)
                assert "$" not in alpha  # no model: a dash
                assert "SCHEDULE" in _header(table)

        asyncio.run(go())


@pytest.mark.slow
def test_cost_column_counts_tokens_when_unpriced(make_app):
    app = _cost_app(make_app, tokens=12_345, cost=None)

    async def go():
        async with app.run_test(size=(200, 36)) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            beta = next(line for line in text_of(table).splitlines() if "beta" in line)
            assert "12.3k · 12.3k tok" in beta  # today · total

    asyncio.run(go())


def test_money_and_token_formats_fit_narrow_columns():
    assert [money(x) for x in (0, 0.421, 12.3, 431.2, 12_345)] == [
        "$0.00", "$0.42", "$12.30", "$431", "$12.3k"]
    assert [token_count(x) for x in (950, 12_345, 4_100_000)] == ["950", "12.3k", "4.1M"]


@pytest.mark.slow
def test_a_run_shown_while_its_lines_are_being_announced_shows_each_line_once(make_app):
    """The race seen in the demo: a batch of output is folded into the model, the output pane
    switches to that run (the cursor came to rest) before the batch is announced, then the
    announcement arrives. Each line must appear once, not twice."""
    app, sched, _clock, streamer = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            table = screen.query_one(JobTable)
            pane = screen.query_one(OutputPane)
            table.select("alpha")
            sched.run_now("alpha")
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            events = screen.observer.subscription.drain()
            changes = screen.model.apply(events)  # folded in: the run holds its lines
            screen._show_selected()  # the pane switches to the run now
            screen._update_output(changes.started, changes.output, [])  # then the batch
            shown = [line for line in pane.lines if line.strip()]
            assert sum("line 1" in line for line in shown) == 1, shown
            assert sum("disk 91% full" in line for line in shown) == 1, shown
            streamer.release.set()
            await settle(pilot)
            screen.observer.pump()
            await settle(pilot)
            shown = [line for line in pane.lines if line.strip()]
            assert sum("all done" in line for line in shown) == 1, shown
            assert sum("line 2" in line for line in shown) == 1, shown

    asyncio.run(go())


@pytest.mark.slow
def test_a_run_shown_while_its_end_is_being_announced_shows_its_outcome_once(make_app):
    """Same race at the end of a run: the pane switches to the run after its end was folded
    in (so it shows the outcome) and before that end is announced: one outcome line."""
    app, sched, _clock, streamer = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            table = screen.query_one(JobTable)
            pane = screen.query_one(OutputPane)
            table.select("alpha")
            sched.run_now("alpha")
            await settle(pilot)
            screen.observer.pump()
            await settle(pilot)
            streamer.release.set()
            for _ in range(5):
                await asyncio.sleep(0)
            events = screen.observer.subscription.drain()
            changes = screen.model.apply(events)  # the end folded in
            assert changes.finished
            screen._show_selected()
            screen._update_output(changes.started, changes.output,
                                  [r.run_id for r in changes.finished])
            outcomes = [line for line in pane.lines if line.startswith("── ")]
            assert len(outcomes) == 1, list(pane.lines)

    asyncio.run(go())


@pytest.mark.slow
def test_cost_column_shows_a_budgeted_jobs_share_of_its_budget(make_app):
    """A budgeted job shows today's share of its budget (narrowed to a percentage)."""
    for size, expected in (((200, 36), "1.2k/50.0k tok"), (SIZE, "2%")):
        app = _cost_app(make_app, tokens=1_234, cost=None, budget=50_000)

        async def go(app=app, size=size, expected=expected):
            async with app.run_test(size=size) as pilot:
                await settle(pilot)
                table = app.dashboard.query_one(JobTable)
                assert "COST" in _header(table)
                beta = next(line for line in text_of(table).splitlines() if "beta" in line)
                assert expected in beta

        asyncio.run(go())


@pytest.mark.slow
def test_a_budgeted_job_gets_a_cost_column_before_it_spends_anything(make_app):
    """As in `crondeck list`: a job with a daily token budget is a model job from the start."""
    app = _cost_app(make_app, tokens=0, cost=None, budget=50_000)

    async def go():
        async with app.run_test(size=(200, 36)) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            assert "COST" in _header(table)
            beta = next(line for line in text_of(table).splitlines() if "beta" in line)
            assert "0/50.0k tok · 0" in beta

    asyncio.run(go())


@pytest.mark.slow
def test_the_next_column_names_the_zone_its_times_are_in(make_app):
    """NEXT is in the operator's zone, not the job's: a 09:00 Berlin job reads 08:00 on a
    UTC machine, so the header says which zone it is."""
    app, _sched, _clock, _ = make_app(start=False)

    async def go():
        async with app.run_test(size=(200, 36)) as pilot:
            await settle(pilot)
            header = _header(app.dashboard.query_one(JobTable))
            assert " NEXT UTC " in f" {' '.join(header.split())} "

    asyncio.run(go())


@pytest.mark.slow
def test_many_rows_changed_at_once_are_spliced_into_the_order_a_full_sort_gives(make_app):
    """A batch naming many rows (each re-placed in its block of the order): the order is a
    full sort's, the cursor stays on its job, the filter holds, and the fire order is the
    one rebuilt from scratch."""
    app, _sched, clock, _ = make_app(start=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            base = next(iter(table.rows.values()))
            rows = {f"m{i:03d}": replace(base, name=f"m{i:03d}",
                                         next_fire=clock.now() + timedelta(seconds=i * 7 % 300))
                    for i in range(300)}
            table.set_rows(rows)
            fires = FireOrder()
            fires.rebuild(rows)
            table.select("m150")
            changed = {f"m{i:03d}" for i in range(0, 300, 3)}  # 100 rows: merged
            for name in changed:
                rows[name] = replace(rows[name], next_fire=rows[name].next_fire
                                     + timedelta(seconds=1000))
            for i in range(400, 420):  # new ones
                changed.add(f"m{i}")
                rows[f"m{i}"] = replace(base, name=f"m{i}", next_fire=clock.now())
            del rows["m001"]  # gone
            changed.add("m001")
            table.set_rows(rows, changed)
            fires.update(rows, changed)
            expected = [r.name for r in sorted(rows.values(), key=lambda r: (SORTS["next"](r),
                                                                            r.name))]
            assert table.order == expected
            assert table.selected == "m150" and table.order[table.cursor] == "m150"
            full = FireOrder()
            full.rebuild(rows)
            assert fires.first(500) == full.first(500)
            table.filter_text = "m41"
            for name in list(rows)[:80]:  # another batch, under the filter
                rows[name] = replace(rows[name], next_fire=clock.now())
            table.set_rows(rows, list(rows)[:80])
            assert table.order == [n for n in expected if "m41" in n]

    asyncio.run(go())
