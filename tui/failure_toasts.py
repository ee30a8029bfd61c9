"""Run-failure toasts: at most one per job until it recovers (the alert line above the
footer stays while any job is failing, so a job failing every 15 s is said once, not every
15 s). Held while another screen is on top of the dashboard (the cron builder, the job
editor, a dialog: a toast there covered the controls the operator was using) and shown when
the dashboard is back, one per job that is still failing, or one naming them when several
are. Nothing is lost: the alert line, the table and the history show every failure anyway.
Other notices are never held."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from crondeck.core import RunResult

from .widgets.alerts import JUMP_KEY
from .widgets.history import describe

__all__ = ["FailureToasts"]

SEPARATE = 3  # held failures of more jobs than this come back as one toast naming them
TIMEOUT = 8


@dataclass
class FailureToasts:
    """The dashboard's failure toasts (`failed` for each failure, `recovered` when jobs stop
    failing, `release` when the dashboard is the current screen again)."""

    notify: Callable[..., Any]  # the screen's `notify` (Textual's toast)
    announced: set[str] = field(default_factory=set)  # jobs toasted since they last recovered
    held: dict[str, tuple[str, str]] = field(default_factory=dict)  # job -> (title, message)
    # Toasts up, by (title, message): the job each stands for
    showing: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def failed(self, result: RunResult, *, hold: bool) -> None:
        if result.job in self.announced:
            return
        self.announced.add(result.job)
        word, reason = describe(result)
        title = f"Run {word}"
        message = f"{result.job}: {reason or word}"  # the alert line says the rest, and stays
        if hold:
            self.held[result.job] = (title, message)
        else:
            self._show(title, message, [result.job])

    def recovered(self, jobs: Iterable[str]) -> None:
        """These jobs stopped failing (or are gone): their next failure toasts again."""
        for job in jobs:
            self.announced.discard(job)
            self.held.pop(job, None)

    def _show(self, title: str, message: str, jobs: list[str]) -> None:
        self.notify(message, title=title, severity="error", timeout=TIMEOUT)
        self.showing.setdefault((title, message), []).extend(jobs)

    def take_down(self, shown: Iterable[Any], unnotify: Callable[[Any], None]) -> None:
        """Another screen is going on top: failure toasts still up would follow onto it
        (over the builder's or the editor's controls), so take them down and hold them
        again. `shown`: the app's live notifications (title, message)."""
        for notification in list(shown):
            key = (notification.title, notification.message)
            jobs = self.showing.pop(key, None)
            if jobs:
                unnotify(notification)
                for job in jobs:
                    self.held.setdefault(job, key)
        self.showing.clear()  # what was not found has timed out

    def release(self) -> None:
        """Show what was held: a toast per job, or one naming them when there are many."""
        held, self.held = self.held, {}
        if len(held) <= SEPARATE:
            for job, (title, message) in held.items():
                self._show(title, message, [job])
            return
        jobs = list(held)
        self._show(f"{len(jobs)} jobs are failing",
                   ", ".join(jobs) + f"\n({JUMP_KEY} jumps to the last failure)", jobs)
