"""Run-failure toasts: one per failure while the operator is on the dashboard; held while
another screen is on top of it (the cron builder, the job editor, a dialog: a toast there
covered the controls the operator was using) and shown when the dashboard is back, several
folded into one toast with a repeated failure listed once and counted. Nothing is lost: the
table and the history show every failure anyway. Other notices are never held."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from crondeck.core import RunResult

from .widgets.history import describe

__all__ = ["FailureToasts"]

LISTED = 6  # different failures named in a folded toast; the rest are counted


@dataclass
class FailureToasts:
    """The dashboard's failure toasts (`failed` for each failure, `release` when it is the
    current screen again)."""

    notify: Callable[..., Any]  # the screen's `notify` (Textual's toast)
    held: list[tuple[str, str]] = field(default_factory=list)  # (title, message)
    # Toasts shown, by (title, message): for each, the failures it stands for (oldest first)
    showing: dict[tuple[str, str], list[list[tuple[str, str]]]] = field(default_factory=dict)

    def failed(self, result: RunResult, *, hold: bool) -> None:
        word, reason = describe(result)
        title, message = f"Run {word}", f"{result.job}: {reason or word}"
        if hold:
            self.held.append((title, message))
        else:
            self._show(title, message, [(title, message)], 8)

    def _show(self, title: str, message: str, stands_for: list[tuple[str, str]],
              timeout: float) -> None:
        self.notify(message, title=title, severity="error", timeout=timeout)
        self.showing.setdefault((title, message), []).append(stands_for)

    def take_down(self, shown: Iterable[Any], unnotify: Callable[[Any], None]) -> None:
        """Another screen is going on top: failure toasts still up would follow onto it
        (over the builder's or the editor's controls), so take them down and hold their
        failures again. `shown`: the app's live notifications (title, message)."""
        for notification in list(shown):
            entries = self.showing.get((notification.title, notification.message))
            if entries:
                unnotify(notification)
                self.held.extend(entries.pop(0))
        self.showing.clear()  # what was not found has timed out

    def release(self) -> None:
        """Show what was held: as it was if one failure, else one toast listing them."""
        held, self.held = self.held, []
        if not held:
            return
        if len(held) == 1:
            title, message = held[0]
            self._show(title, message, held, 8)
            return
        counts: dict[str, int] = {}  # the same failure again and again is one line, counted
        for _title, message in held:
            counts[message] = counts.pop(message, 0) + 1  # re-inserted: ordered by latest
        lines = [f"{m} (×{n})" if n > 1 else m for m, n in counts.items()][-LISTED:]
        if len(counts) > LISTED:
            lines.insert(0, f"… and {len(counts) - LISTED} other failures")
        self._show(f"{len(held)} runs failed while you were away from the dashboard",
                   "\n".join(lines), held, 15)
