"""Jobs in next-fire order, kept incrementally, so "what fires next" never scans every job.

The upcoming pane shows the next ~200 fires; with 10,000 jobs, merging every job's schedule
each time a batch of events arrives (ten times a second) is too slow. Only the jobs whose
first fire is among the earliest 200 can contribute to the first 200 fires, so keeping the
jobs sorted by next fire (re-placing just the rows a batch touched, by bisection) makes each
refresh of the pane O(200 log 200). The order is kept in blocks of about a thousand keys, so
re-placing a job moves a block, not a list of 100,000 (a batch of a few hundred rows re-placed
in one list costs as much as copying it). Pure Python, no Textual.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from .model import JobRow

__all__ = ["FireOrder", "SortedBlocks", "spliced"]

_WAITING = ("paused", "disabled", "done")  # statuses that do not fire
BLOCK = 1_000  # keys per block of `SortedBlocks` (a block twice as long is split)


def spliced(keys: list[Any], old: Iterable[Any], new: list[Any], *parallel: list[Any]
            ) -> list[list[Any]]:
    """The sorted list `keys` without the keys `old` and with the keys `new`, and each list
    in `parallel` (an item per key) changed at the same places (`new`'s items are the keys'
    last items: their names). Many at once: the lists are copied a slice at a time, where
    moving each key in and out of a list of 100,000 moves the rest of the list each time."""
    gone = sorted(at for key in old
                  if (at := bisect_left(keys, key)) < len(keys) and keys[at] == key)
    lists = [keys, *parallel]
    kept: list[list[Any]] = []
    for items in lists:
        out: list[Any] = []
        start = 0
        for at in gone:
            out += items[start:at]
            start = at + 1
        out += items[start:]
        kept.append(out)
    new = sorted(new)
    places = [bisect_left(kept[0], key) for key in new]  # ascending, as `new` is
    result: list[list[Any]] = []
    for n, items in enumerate(kept):
        out = []
        start = 0
        for at, key in zip(places, new, strict=True):
            out += items[start:at]
            out.append(key if n == 0 else key[-1])
            start = at
        out += items[start:]
        result.append(out)
    return result


class SortedBlocks:
    """Distinct sorted keys in blocks of about `BLOCK`: adding or removing one costs a
    bisection and a move within one block, whatever the total."""

    def __init__(self, keys: Iterable[Any] = ()) -> None:
        ordered = sorted(keys)
        self._blocks: list[list[Any]] = [ordered[i:i + BLOCK]
                                         for i in range(0, len(ordered), BLOCK)]
        self._maxes: list[Any] = [block[-1] for block in self._blocks]
        self._len = len(ordered)

    def __len__(self) -> int:
        return self._len

    def add(self, key: Any) -> None:
        blocks, maxes = self._blocks, self._maxes
        if not blocks:
            blocks.append([key])
            maxes.append(key)
            self._len = 1
            return
        at = min(bisect_left(maxes, key), len(maxes) - 1)
        block = blocks[at]
        insort(block, key)
        maxes[at] = block[-1]
        if len(block) > 2 * BLOCK:
            blocks[at:at + 1] = [block[:BLOCK], block[BLOCK:]]
            maxes[at:at + 1] = [block[BLOCK - 1], block[-1]]
        self._len += 1

    def discard(self, key: Any) -> None:
        blocks, maxes = self._blocks, self._maxes
        at = bisect_left(maxes, key)
        if at == len(maxes):
            return
        block = blocks[at]
        i = bisect_left(block, key)
        if i == len(block) or block[i] != key:
            return
        del block[i]
        self._len -= 1
        if block:
            maxes[at] = block[-1]
        else:
            del blocks[at], maxes[at]

    def first(self, count: int) -> list[Any]:
        out: list[Any] = []
        for block in self._blocks:
            if len(out) >= count:
                break
            out += block[:count - len(out)]
        return out


class FireOrder:
    """Names of the jobs that will fire, earliest first: by the first slot that will run
    (`JobRow.first_run`), so a job held by a spent budget sorts by its first fire after
    the reset, not by the slots it will skip (which would crowd out jobs that run)."""

    def __init__(self) -> None:
        self._keys = SortedBlocks()
        self._key_of: dict[str, tuple[float, str]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    @staticmethod
    def _key(row: JobRow) -> tuple[float, str] | None:
        first = row.first_run
        if first is None or row.exhausted or row.status in _WAITING:
            return None
        return (first.timestamp(), row.name)

    def rebuild(self, rows: Mapping[str, JobRow]) -> None:
        keyed = ((name, self._key(row)) for name, row in rows.items())
        self._key_of = {name: key for name, key in keyed if key is not None}
        self._keys = SortedBlocks(self._key_of.values())

    def update(self, rows: Mapping[str, JobRow], names: Collection[str]) -> None:
        """Re-place the named jobs (changed, added or removed since the last call)."""
        if len(names) * 2 > len(self._key_of) + 8:
            self.rebuild(rows)
            return
        keys, key_of = self._keys, self._key_of
        for name in names:
            row = rows.get(name)
            key = self._key(row) if row is not None else None
            old = key_of.get(name)
            if old == key:
                continue
            if old is not None:
                keys.discard(old)
            if key is None:
                del key_of[name]
            else:
                key_of[name] = key
                keys.add(key)

    def first(self, count: int) -> list[str]:
        return [name for _, name in self._keys.first(count)]
