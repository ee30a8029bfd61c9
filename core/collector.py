"""Pausing Python's cyclic garbage collector while many acyclic objects are made at once (a
big jobs file read, a scheduler built from it, a control snapshot of 10,000 jobs): its passes
over the growing heap would find nothing and cost a large share of the time."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collector_paused"]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off for the block (as it was before, afterwards)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
