"""The jobs table keeps its order in blocks of sort keys (small blocks here, so they split and
empty): after any run of batches, big and small, under a filter and not, it shows the rows a
full sort shows, reads them by position as a list would, and keeps the cursor on its job."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import timedelta

from conftest import SIZE, settle

from crondeck.tui import fire_order
from crondeck.tui.widgets.job_table import SORTS, JobTable


def test_batches_re_placed_in_blocks_give_a_full_sorts_order(make_app, monkeypatch):
    monkeypatch.setattr(fire_order, "BLOCK", 8)
    app, _sched, clock, _ = make_app(start=False)
    rnd = random.Random(5)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.dashboard.query_one(JobTable)
            base = next(iter(table.rows.values()))

            def made(i: int, status: str = "idle"):
                return replace(base, name=f"r{i:03d}", status=status,
                               next_fire=clock.now() + timedelta(seconds=rnd.randrange(900)))

            rows = {f"r{i:03d}": made(i) for i in range(250)}
            table.set_rows(rows)
            for turn in range(30):
                if turn == 20:
                    table.filter_text = "r1"
                if turn == 25:
                    table.sort_key = "name"
                shown = list(table.order)
                if shown:
                    table.select(shown[rnd.randrange(len(shown))])
                chosen = table.selected
                # a few rows or many (up to just under half: the incremental path)
                names = rnd.sample(range(300), rnd.choice((1, 5, 40, 110)))
                changed = set()
                for i in names:
                    name = f"r{i:03d}"
                    changed.add(name)
                    if name in rows and rnd.random() < 0.15:
                        del rows[name]
                    else:
                        rows[name] = made(i, rnd.choice(("idle", "idle", "paused")))
                table.set_rows(rows, changed)
                needle = table.filter_text
                key = SORTS[table.sort_key]
                expected = [r.name for r in sorted(
                    (r for r in rows.values() if not needle or r.matches(needle)),
                    key=lambda r: (key(r), r.name))]
                assert table.order == expected
                assert list(table.order) == expected and len(table.order) == len(expected)
                assert table.order[5:17] == expected[5:17]
                assert table.order[-1:] == expected[-1:]
                if chosen in rows and chosen in expected:
                    assert table.selected == chosen
                    assert table.order[table.cursor] == chosen
                    assert table.order.index(chosen) == expected.index(chosen)
                for name in rnd.sample(sorted(rows), 5):
                    assert (name in table.order) == (name in expected)

    asyncio.run(go())
