"""The upcoming pane's fire order stays exactly the sorted order of the jobs that will fire,
however many jobs a batch re-places, with the order kept in blocks (small ones here, so
blocks split and empty)."""

from __future__ import annotations

import random
from bisect import bisect_left
from datetime import UTC, datetime, timedelta

import pytest

from crondeck.tui import fire_order
from crondeck.tui.fire_order import FireOrder, SortedBlocks
from crondeck.tui.model import JobRow

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def _churn(rnd: random.Random, blocks: SortedBlocks, kept: set[int], keys: int,
           adding: float) -> None:
    """One random step on both: add a key below `keys` (with chance `adding`) or take one out."""
    key = rnd.randrange(keys)
    if rnd.random() < adding:
        if key not in kept:
            blocks.add(key)
            kept.add(key)
    else:
        blocks.discard(key)
        kept.discard(key)


def test_sorted_blocks_match_a_sorted_list(monkeypatch):
    monkeypatch.setattr(fire_order, "BLOCK", 4)
    rnd = random.Random(7)
    for _ in range(50):
        start = rnd.sample(range(500), rnd.randint(0, 40))
        blocks, kept = SortedBlocks(start), set(start)
        for _ in range(200):
            _churn(rnd, blocks, kept, 500, 0.5)
            assert len(blocks) == len(kept)
        assert blocks.first(1000) == sorted(kept)
        assert blocks.first(9) == sorted(kept)[:9]


def _row(name: str, minutes: int, status: str = "idle") -> JobRow:
    return JobRow(name=name, schedule="@every 1m", description="", agent="a",
                  status=status,  # type: ignore[arg-type]
                  next_fire=T0 + timedelta(minutes=minutes))


def test_fire_order_after_many_batches_is_the_rebuilt_order(monkeypatch):
    monkeypatch.setattr(fire_order, "BLOCK", 8)
    rnd = random.Random(3)
    rows = {f"job-{i:03d}": _row(f"job-{i:03d}", rnd.randrange(100)) for i in range(300)}
    order = FireOrder()
    order.rebuild(rows)
    for _ in range(40):
        names = rnd.sample(sorted(rows), rnd.randint(1, 120))
        for name in names:
            pick = rnd.random()
            if pick < 0.1:
                del rows[name]
            elif pick < 0.2:
                rows[name] = _row(name, rnd.randrange(100), "paused")
            else:
                rows[name] = _row(name, rnd.randrange(100))
        order.update(rows, names)
        fresh = FireOrder()
        fresh.rebuild(rows)
        assert order.first(len(rows)) == fresh.first(len(rows))
        assert len(order) == len(fresh)
        for name in names:  # back, as a job added again
            rows.setdefault(name, _row(name, rnd.randrange(100)))
        order.update(rows, names)


def test_sorted_blocks_read_by_position_as_a_sorted_list(monkeypatch):
    """The jobs table reads its order by position (row i, a screenful from row i) and a
    key's position (where the cursor's job is now): the same as a sorted list's."""
    monkeypatch.setattr(fire_order, "BLOCK", 4)
    rnd = random.Random(11)
    for _ in range(30):
        start = sorted(rnd.sample(range(400), rnd.randint(0, 60)))
        blocks, kept = SortedBlocks(start, ordered=True), set(start)
        for _ in range(120):
            _churn(rnd, blocks, kept, 400, 0.55)
            flat = sorted(kept)
            probe = rnd.randrange(400)
            assert blocks.index(probe) == bisect_left(flat, probe)
            assert (probe in blocks) == (probe in kept)
            if flat:
                i = rnd.randrange(-len(flat), len(flat))
                assert blocks[i] == flat[i]
            a, b = rnd.randrange(-5, len(flat) + 5), rnd.randrange(-5, len(flat) + 5)
            assert blocks.items(a, b) == flat[a:b]
        assert list(blocks) == sorted(kept)
        with pytest.raises(IndexError):
            blocks[len(kept)]
