"""The small interfaces between the scheduler's parts: `RunHost` (what the runner needs while
it executes one run), and, re-exported from `jobs`, `JobHost` and `StateSink`.
"""

from __future__ import annotations

from typing import Protocol

from .clock import Clock
from .events import EventBus
from .jobs import Job, JobHost, RunHandle, StateSink
from .results import GateResult, RunResult

__all__ = ["JobHost", "RunHost", "StateSink"]


class RunHost(Protocol):
    """What `runner.Runner` needs from the scheduler while it executes one run: the clock, the
    event bus, and the hooks marking the steps of a run. `Scheduler` is the host."""

    @property
    def clock(self) -> Clock: ...

    @property
    def bus(self) -> EventBus: ...

    def claim_run(self, job: Job, handle: RunHandle) -> RunResult | None:
        """The run is about to start (before its gate): its run id is taken, durably. When
        the claim cannot be recorded, the skipped result the run ends with instead (it must
        not start: after a crash nothing would show it had)."""
        ...

    def claim_runs(self, runs: list[tuple[Job, RunHandle]]) -> list[RunResult | None]:
        """`claim_run` for the runs starting together at one instant: one durable write for
        all of them, before any starts."""
        ...

    def count_run(self, job: Job, handle: RunHandle) -> None:
        """An attempt of the agent is starting (counts towards max_runs on the first)."""
        ...

    def skip_gated(self, job: Job, handle: RunHandle, gate: GateResult) -> RunResult:
        """The pre-run gate said no: book the slot as skipped and return that result."""
        ...

    def record_attempt(self, result: RunResult) -> None:
        """An attempt failed and another follows: hand it to the state sink."""
        ...

    def finish_run(self, job: Job, handle: RunHandle, result: RunResult) -> None:
        """The run's one final result, whatever happened (cancellation included)."""
        ...

    def abandon_run(self, job: Job, handle: RunHandle, result: RunResult,
                    exc: Exception) -> None:
        """`finish_run` raised `exc`: report it, free the slot, settle the handle."""
        ...
