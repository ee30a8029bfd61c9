"""Jobs in next-fire order, kept incrementally, so "what fires next" never scans every job.

The upcoming pane shows the next ~200 fires; with 10,000 jobs, merging every job's schedule
each time a batch of events arrives (ten times a second) is too slow. Only the jobs whose
first fire is among the earliest 200 can contribute to the first 200 fires, so keeping the
jobs sorted by next fire (re-placing just the rows a batch touched, by bisection) makes each
refresh of the pane O(200 log 200). Pure Python, no Textual.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from .model import JobRow

__all__ = ["FireOrder", "spliced"]

_WAITING = ("paused", "disabled", "done")  # statuses that do not fire
MERGE_FROM = 64  # jobs re-placed from which they are merged in, not moved one by one


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


class FireOrder:
    """Names of the jobs that will fire, earliest first: by the first slot that will run
    (`JobRow.first_run`), so a job held by a spent budget sorts by its first fire after
    the reset, not by the slots it will skip (which would crowd out jobs that run)."""

    def __init__(self) -> None:
        self._keys: list[tuple[float, str]] = []
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
        self._keys = sorted(self._key_of.values())

    def update(self, rows: Mapping[str, JobRow], names: Collection[str]) -> None:
        """Re-place the named jobs (changed, added or removed since the last call)."""
        if len(names) * 2 > len(self._key_of) + 8:
            self.rebuild(rows)
            return
        if len(names) >= MERGE_FROM:  # many: spliced out and in at once
            gone: list[tuple[float, str]] = []
            added: list[tuple[float, str]] = []
            for name in set(names):
                was = self._key_of.pop(name, None)
                if was is not None:
                    gone.append(was)
                row = rows.get(name)
                key = self._key(row) if row is not None else None
                if key is not None:
                    self._key_of[name] = key
                    added.append(key)
            self._keys = spliced(self._keys, gone, added)[0]
            return
        keys = self._keys
        for name in names:
            old = self._key_of.pop(name, None)
            if old is not None:
                at = bisect_left(keys, old)
                if at < len(keys) and keys[at] == old:
                    del keys[at]
            row = rows.get(name)
            key = self._key(row) if row is not None else None
            if key is not None:
                self._key_of[name] = key
                keys.insert(bisect_left(keys, key), key)

    def first(self, count: int) -> list[str]:
        return [name for _, name in self._keys[:count]]
