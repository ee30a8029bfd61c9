"""Pieces of parsed expressions kept once and shared: 10,000 jobs on expressions of their own
("m h d * *") have only 60 minute values, 28 day rules and 1,440 times of day between them.

- `intern_values`: a field's value tuple or frozenset, one object per value.
- `Shared`: objects built from a key (a day rule, a day's fire times), one per key while any
  expression holds it (or it is among the last few built); the entry goes with its last
  holder.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar
from weakref import KeyedRef

__all__ = ["Shared", "intern_values"]

T = TypeVar("T", tuple[int, ...], frozenset[int])
V = TypeVar("V")

# A bound, not weak references (tuples have none): a value tuple is a few hundred bytes, so
# the dead ones kept until the next clear stay small.
_VALUES: dict[object, object] = {}
_VALUES_KEPT = 4096


def intern_values(values: T) -> T:
    """The one kept object equal to `values` (itself the first time)."""
    kept = _VALUES.get(values)
    if kept is None:
        if len(_VALUES) >= _VALUES_KEPT:
            _VALUES.clear()
        _VALUES[values] = kept = values
    return kept  # type: ignore[return-value]


class Shared(Generic[V]):
    """key -> the live object built for it. Values must accept weak references (a slots
    class names `__weakref__`). The `keep` most recently built are also held here, so an
    expression parsed, used and dropped over and over (the builder parses on each keystroke)
    finds them again. Safe under threads: a lost race builds an equal object, and a missing
    entry only costs a rebuild."""

    __slots__ = ("_gone", "_recent", "_refs")

    def __init__(self, keep: int = 32) -> None:
        self._refs: dict[Hashable, KeyedRef[Hashable, V]] = {}
        self._recent: deque[V] = deque(maxlen=keep)
        self._gone = self._forget  # one callback for every entry

    def get(self, key: Hashable, build: Callable[[], V]) -> V:
        ref = self._refs.get(key)
        if ref is not None:
            obj: V | None = ref()
            if obj is not None:
                return obj
        obj = build()
        self._refs[key] = KeyedRef(obj, self._gone, key)
        self._recent.append(obj)
        return obj

    def _forget(self, ref: KeyedRef[Hashable, V]) -> None:
        if self._refs.get(ref.key) is ref:  # not a newer object built for the same key
            self._refs.pop(ref.key, None)
