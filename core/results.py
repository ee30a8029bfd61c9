"""What one scheduled slot came to: a `RunResult`, whatever happened (ran, skipped, missed).

Every slot the scheduler considers ends as exactly one final result, so history, state files
and the TUI can show skips and misses beside runs without guessing what happened in between.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from .lazyclass import dataclass

__all__ = [
    "GateResult",
    "HasResults",
    "RunResult",
    "RunStatus",
    "SkipReason",
    "Usage",
    "last_run",
    "make_run_id",
]


class RunStatus(StrEnum):
    """How a slot ended. `RUNNING` only appears in persisted state (a claimed, unfinished run)."""

    OK = "ok"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    MISSED = "missed"
    ABANDONED = "abandoned"
    RUNNING = "running"


class SkipReason(StrEnum):
    """Why a slot was skipped (not failed): the gate said no, the previous run was still
    going, the job was paused, an operator skipped it, the job's daily token budget is
    spent, or its start could not be recorded (a run that a crash could not tell had started
    might run twice)."""

    GATE = "gate"
    OVERLAP = "overlap"
    PAUSED = "paused"
    OPERATOR = "operator"
    BUDGET = "budget"
    UNRECORDED = "unrecorded"


def make_run_id(job: str, scheduled_for: datetime) -> str:
    """`"<job>@<scheduled UTC ISO>"`: the idempotency key of a slot (one run per job and time)."""
    if scheduled_for.tzinfo is None:
        raise ValueError("run ids need an aware datetime")
    if scheduled_for.tzinfo is not UTC:
        scheduled_for = scheduled_for.astimezone(UTC)
    return f"{job}@{scheduled_for.isoformat()[:-6]}Z"  # drop "+00:00"


@dataclass(frozen=True, slots=True)
class GateResult:
    """What the pre-run gate decided, kept on the run so an operator can see why it ran or not.

    `run` is the decision; `context` is the gate's stdout (capped) appended to the prompt;
    `reason` says why it skipped; `error` records a gate that raised or could not start
    (which runs by default).
    """

    run: bool
    exit_code: int | None = None
    context: str = ""
    reason: str = ""
    error: str = ""
    timed_out: bool = False
    duration: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "exit_code": self.exit_code,
            "context": self.context,
            "reason": self.reason,
            "error": self.error,
            "timed_out": self.timed_out,
            "duration": self.duration,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateResult:
        return cls(
            run=bool(data.get("run", True)),
            exit_code=data.get("exit_code"),
            context=str(data.get("context", "")),
            reason=str(data.get("reason", "")),
            error=str(data.get("error", "")),
            timed_out=bool(data.get("timed_out", False)),
            duration=float(data.get("duration", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a model run consumed, as the API reported them (budgets and cost use these)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Usage:
        return cls(int(data.get("prompt_tokens", 0)), int(data.get("completion_tokens", 0)))


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one slot of one job. Times are aware UTC; `output_tail` is the capped,
    redacted tail of the interleaved stdout/stderr (with a note when truncated)."""

    run_id: str
    job: str
    scheduled_for: datetime
    status: RunStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    output_tail: str = ""
    error: str = ""
    gate: GateResult | None = None
    skip_reason: SkipReason | None = None
    attempt: int = 1
    manual: bool = False
    output_bytes: int = 0
    truncated: bool = False
    usage: Usage | None = None
    cost: float | None = None
    contract: Any = field(default=None, hash=False)  # JSON parsed by the output contract
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        """True only for a run that completed successfully."""
        return self.status is RunStatus.OK

    @property
    def failed(self) -> bool:
        """True for a run that failed or timed out: what counts towards auto-pause, retries
        and a failing job."""
        return self.status is RunStatus.FAILED or self.status is RunStatus.TIMED_OUT

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def reason(self) -> str:
        """One line for history views: why it was skipped/missed/failed, or ''."""
        if self.status is RunStatus.OK:
            return ""
        return self.error.strip().splitlines()[0] if self.error.strip() else ""

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (ISO strings for times), ready for TOML/JSON; omits empty values
        that TOML cannot hold (None)."""
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "job": self.job,
            "scheduled_for": _iso(self.scheduled_for),
            "status": self.status.value,
            "output_tail": self.output_tail,
            "error": self.error,
            "attempt": self.attempt,
            "manual": self.manual,
            "output_bytes": self.output_bytes,
            "truncated": self.truncated,
        }
        if self.started_at is not None:
            out["started_at"] = _iso(self.started_at)
        if self.finished_at is not None:
            out["finished_at"] = _iso(self.finished_at)
        if self.exit_code is not None:
            out["exit_code"] = self.exit_code
        if self.skip_reason is not None:
            out["skip_reason"] = self.skip_reason.value
        if self.gate is not None:
            out["gate"] = {k: v for k, v in self.gate.to_dict().items() if v is not None}
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        if self.cost is not None:
            out["cost"] = self.cost
        if self.contract is not None:
            out["contract"] = self.contract
        if self.extra.get("will_retry"):  # an attempt, not the run's end (see store.ends_run)
            out["will_retry"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        gate = data.get("gate")
        skip = data.get("skip_reason")
        usage = data.get("usage")
        contract = data.get("contract")
        if contract is None and isinstance(data.get("contract_json"), str):
            contract = json.loads(data["contract_json"])  # state.toml keeps it as JSON text
        cost = data.get("cost")
        return cls(
            run_id=str(data["run_id"]),
            job=str(data["job"]),
            scheduled_for=_parse(data["scheduled_for"]),
            status=RunStatus(data["status"]),
            started_at=_parse(data["started_at"]) if data.get("started_at") else None,
            finished_at=_parse(data["finished_at"]) if data.get("finished_at") else None,
            exit_code=data.get("exit_code"),
            output_tail=str(data.get("output_tail", "")),
            error=str(data.get("error", "")),
            gate=GateResult.from_dict(gate) if isinstance(gate, dict) else None,
            skip_reason=SkipReason(skip) if skip else None,
            attempt=int(data.get("attempt", 1)),
            manual=bool(data.get("manual", False)),
            output_bytes=int(data.get("output_bytes", 0)),
            truncated=bool(data.get("truncated", False)),
            usage=Usage.from_dict(usage) if isinstance(usage, dict) else None,
            cost=float(cost) if isinstance(cost, int | float) else None,
            contract=contract,
            extra={"will_retry": True} if data.get("will_retry") is True else {},
        )


class HasResults(Protocol):
    """A job or its saved state: something holding its recent results, oldest first."""

    @property
    def results(self) -> Sequence[RunResult]: ...


def last_run(of: HasResults) -> RunResult | None:
    """The newest result of a slot that actually ran (not skipped or missed): what LAST and
    PASSED show, and the run whose output a job's pane opens on."""
    for result in reversed(of.results):
        if result.status not in (RunStatus.SKIPPED, RunStatus.MISSED):
            return result
    return None


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def _parse(value: str | datetime) -> datetime:
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return dt.astimezone(UTC)
