"""Jobs in next-fire order, kept incrementally, so "what fires next" never scans every job.

The upcoming pane shows the next ~200 fires; with 10,000 jobs, merging every job's schedule
each time a batch of events arrives (ten times a second) is too slow. Only the jobs whose
first fire is among the earliest 200 can contribute to the first 200 fires, so keeping the
jobs sorted by next fire (re-placing just the rows a batch touched, by bisection) makes each
refresh of the pane O(200 log 200). The order is kept in blocks of about a thousand keys, so
re-placing a job moves a block, not a list of 100,000 (a batch of a few hundred rows re-placed
in one list costs as much as copying it). The jobs table keeps its order in the same blocks,
read by position (row 40,000 of 100,000) as well as by key. Pure Python, no Textual.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from .model import JobRow

__all__ = ["FireOrder", "SortedBlocks"]

_WAITING = ("paused", "disabled", "done")  # statuses that do not fire
BLOCK = 1_000  # keys per block of `SortedBlocks` (a block twice as long is split)


class SortedBlocks:
    """Distinct sorted keys in blocks of about `BLOCK`: adding or removing one costs a
    bisection and a move within one block, whatever the total. Read by key (`index`, `in`)
    or by position (`[i]`, `items`); where each block starts is counted again (one step per
    block) only when a position is asked for after a change."""

    def __init__(self, keys: Iterable[Any] = (), *, ordered: bool = False) -> None:
        """`ordered`: `keys` is a list already sorted (taken as it is, not sorted again)."""
        ordered_keys = keys if ordered and isinstance(keys, list) else sorted(keys)
        self._blocks: list[list[Any]] = [ordered_keys[i:i + BLOCK]
                                         for i in range(0, len(ordered_keys), BLOCK)]
        self._maxes: list[Any] = [block[-1] for block in self._blocks]
        self._len = len(ordered_keys)
        self._starts: list[int] | None = None  # each block's first position; None: recount

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Any]:
        for block in self._blocks:
            yield from block

    def __contains__(self, key: object) -> bool:
        at = bisect_left(self._maxes, key)
        if at == len(self._maxes):
            return False
        block = self._blocks[at]
        i = bisect_left(block, key)
        return i < len(block) and block[i] == key

    def add(self, key: Any) -> None:
        blocks, maxes = self._blocks, self._maxes
        self._starts = None
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
        self._starts = None
        if block:
            maxes[at] = block[-1]
        else:
            del blocks[at], maxes[at]

    def _positions(self) -> list[int]:
        starts = self._starts
        if starts is None:
            starts = []
            at = 0
            for block in self._blocks:
                starts.append(at)
                at += len(block)
            self._starts = starts
        return starts

    def index(self, key: Any) -> int:
        """The position of `key`, or where it would go (as `bisect_left` on a list)."""
        at = bisect_left(self._maxes, key)
        if at == len(self._maxes):
            return self._len
        return self._positions()[at] + bisect_left(self._blocks[at], key)

    def __getitem__(self, index: int) -> Any:
        """The key at a position (negative counts from the end)."""
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("SortedBlocks index out of range")
        starts = self._positions()
        at = bisect_right(starts, index) - 1
        return self._blocks[at][index - starts[at]]

    def items(self, start: int, stop: int) -> list[Any]:
        """The keys at positions `start` to `stop` (as a slice of a list, steps of one)."""
        start, stop, _ = slice(start, stop).indices(self._len)
        out: list[Any] = []
        if start >= stop:
            return out
        starts = self._positions()
        at = bisect_right(starts, start) - 1
        offset = start - starts[at]
        blocks = self._blocks
        while len(out) < stop - start:
            block = blocks[at]
            out += block[offset:offset + stop - start - len(out)]
            at += 1
            offset = 0
        return out

    def first(self, count: int) -> list[Any]:
        out: list[Any] = []
        for block in self._blocks:
            if len(out) >= count:
                break
            out += block[:count - len(out)]
        return out


class FireOrder:
    """Names of the jobs that will fire, earliest first (a paused job, even one whose run
    goes on, will not): by the first slot that will run (`JobRow.first_run`), so a job
    held by a spent budget sorts by its first fire after the reset, not by the slots it
    will skip (which would crowd out jobs that run)."""

    def __init__(self) -> None:
        self._keys = SortedBlocks()
        self._key_of: dict[str, tuple[float, str]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    @staticmethod
    def _key(row: JobRow) -> tuple[float, str] | None:
        first = row.first_run
        # `held`: paused by itself or with every job, even while a run goes on ("running")
        if first is None or row.exhausted or row.held or row.status in _WAITING:
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
