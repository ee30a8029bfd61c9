"""Run-failure toasts: one per failure while the operator is on the dashboard; held while
another screen is on top of it (the cron builder, the job editor, a dialog: a toast there
covered the controls the operator was using) and shown when the dashboard is back, several
folded into one toast with a repeated failure listed once and counted. Nothing is lost: the
table and the history show every failure anyway. Other notices are never held."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crondeck.core.results import RunResult

from .widgets.history import describe

__all__ = ["FailureToasts"]

LISTED = 6  # different failures named in a folded toast; the rest are counted


@dataclass
class FailureToasts:
    """The dashboard's failure toasts (`failed` for each failure, `release` when it is the
    current screen again)."""

    notify: Callable[..., Any]  # the screen's `notify` (Textual's toast)
    held: list[tuple[str, str]] = field(default_factory=list)  # (title, message)

    def failed(self, result: RunResult, *, hold: bool) -> None:
        word, reason = describe(result)
        title, message = f"Run {word}", f"{result.job}: {reason or word}"
        if hold:
            self.held.append((title, message))
        else:
            self.notify(message, title=title, severity="error", timeout=8)

    def release(self) -> None:
        """Show what was held: as it was if one failure, else one toast listing them."""
        held, self.held = self.held, []
        if not held:
            return
        if len(held) == 1:
            title, message = held[0]
            self.notify(message, title=title, severity="error", timeout=8)
            return
        counts: dict[str, int] = {}  # the same failure again and again is one line, counted
        for _title, message in held:
            counts[message] = counts.pop(message, 0) + 1  # re-inserted: ordered by latest
        lines = [f"{m} (×{n})" if n > 1 else m for m, n in counts.items()][-LISTED:]
        if len(counts) > LISTED:
            lines.insert(0, f"… and {len(counts) - LISTED} other failures")
        self.notify("\n".join(lines), severity="error", timeout=15,
                        title=f"{len(held)} runs failed while you were away from the dashboard")
