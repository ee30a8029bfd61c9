"""Keeping the app's deck in step with the world outside it: the jobs file edited by someone
else (validated first; an invalid edit is reported and the running schedule is kept), and
results that `crondeck exec` dropped into the state directory's inbox.

The app calls `DeckWatcher.check` on a timer; all the work is the core's (`Deck`,
`fold_into_deck`), this only turns outcomes into notices for the operator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crondeck.core.deck import Deck, Reload
from crondeck.core.inbox import fold_into_deck

__all__ = ["INTERVAL", "DeckWatcher"]

INTERVAL = 2.0  # seconds between looks at the jobs file and the inbox

Notify = Callable[..., Any]


class DeckWatcher:
    """Reloads the jobs file when it changes on disk and folds `exec` results in."""

    def __init__(self, deck: Deck, notify: Notify) -> None:
        self.deck = deck
        self.notify = notify

    def check(self) -> Reload | None:
        """One look; returns what a reload did (None when the file had not changed)."""
        if self.deck.read_only:
            return None
        try:
            fold_into_deck(self.deck)
        except OSError as exc:  # the inbox is a convenience; never take the app down
            self.notify(f"could not read exec results: {exc}", severity="warning")
        reload = self.deck.reload_if_changed()
        if reload is not None:
            self._report(reload)
        return reload

    def _report(self, reload: Reload) -> None:
        if not reload.ok:
            problems = "\n".join(str(p) for p in reload.problems[:5])
            more = len(reload.problems) - 5
            if more > 0:
                problems += f"\n… and {more} more (crondeck check lists them all)"
            self.notify(
                f"the jobs file was changed but is invalid; the running schedule is kept:\n"
                f"{problems}",
                title="Jobs file not reloaded",
                severity="error",
                timeout=15,
            )
            return
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("added", reload.added),
                ("removed", reload.removed),
                ("changed", reload.changed),
            )
            if names
        ]
        if parts:
            self.notify("; ".join(parts), title="Jobs file reloaded", timeout=6)
