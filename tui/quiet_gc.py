"""Full garbage collections at quiet moments, not in the middle of a key press.

With 10,000 jobs, CPython's cyclic collector now and then walks every object the app holds;
each such full pass stalls the screen visibly at a random moment, usually while the operator
is moving the cursor. So while the dashboard is up:

- what exists once the runtime is loaded is frozen (`gc.freeze()`): it lives as long as the app,
  and full passes no longer walk it (reference counting still frees whatever is dropped); so
  is what the first screen built (`settle`: widgets, styles, render caches) and a new
  snapshot's model once it is applied;
- automatic full passes are off; when one is due (as often as CPython would have run it), the
  dashboard runs it after a countdown frame has been drawn, once nobody has touched a key and
  no output has streamed in for a couple of seconds (a flood's lines are freed by reference
  counting as they scroll off: a full pass in the middle of one only stalls the screen), or
  at the latest after a minute (memory stays bounded even under a key held, or a flood
  running, for minutes).

Young generations are collected as usual, except while a countdown frame is drawn (`hold`):
that frame allocates thousands of short-lived objects, so the collections they would trigger
run right after it instead. Everything is restored when the dashboard goes.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = ["QuietCollector"]

QUIET = 2.0  # seconds without operator input before a full pass may run
LONGEST = 60.0  # a full pass at least this often, input or not
_NEVER = 1_000_000_000  # a gen-2 threshold automatic collection never reaches


class QuietCollector:
    """Owns the collector's full passes while started; `touched()` on operator input."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._saved: tuple[int, int, int] | None = None
        self._touched = 0.0
        self._collected = 0.0
        self.collections = 0
        self.settled = 0  # times `settle` froze what existed
        self._holds = 0  # `hold`s not yet released (a tick can come before the last frame)

    def start(self) -> None:
        if self._saved is not None:
            return
        # no collection first: with 10,000 jobs that alone would delay the first screen
        # noticeably; the little start-up garbage frozen with the runtime is released by `stop`
        gc.freeze()
        self._saved = gc.get_threshold()
        young, middle, _ = self._saved
        gc.set_threshold(young, middle, _NEVER)
        self._collected = self._clock()

    def stop(self) -> None:
        if self._holds:
            self._holds = 1
            self.release()
        if self._saved is None:
            return
        gc.set_threshold(*self._saved)
        self._saved = None
        gc.unfreeze()

    def settle(self) -> None:
        """What exists now lives on (the first screen's widgets, a snapshot's model): freeze
        it too, so full passes skip it. Only while started (`stop` releases it all)."""
        if self._saved is not None:
            gc.freeze()
            self.settled += 1

    def touched(self) -> None:
        """The operator did something, or output streamed in: no full pass for the next
        `QUIET` seconds."""
        self._touched = self._clock()

    def hold(self) -> None:
        """No collection until as many `release`s (call one once the frame is drawn): the
        frame's garbage is freed by reference counting meanwhile, and what falls due runs
        after it."""
        if self._saved is None:
            return
        if not self._holds:
            if not gc.isenabled():
                return  # someone else turned the collector off: theirs to turn back on
            gc.disable()
        self._holds += 1

    def release(self) -> None:
        if self._holds:
            self._holds -= 1
            if not self._holds:
                gc.enable()

    def release_and_collect_if_quiet(self) -> bool:
        """After a frame: `release`, then `collect_if_quiet`."""
        self.release()
        return self.collect_if_quiet()

    def collect_if_quiet(self) -> bool:
        """Run a full pass if it is quiet (or overdue); True if one ran."""
        if self._saved is None or gc.get_count()[2] < self._saved[2]:
            return False  # not due: CPython itself would not have run one yet
        now = self._clock()
        if now - self._touched < QUIET and now - self._collected < LONGEST:
            return False
        gc.collect()
        self._collected = self._clock()
        self.collections += 1
        return True
