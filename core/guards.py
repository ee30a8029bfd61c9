"""Guard rails for unattended runs: the output contract, empty answers, token budgets, cost.

An agent that "succeeds" with nothing, or with prose no downstream system can parse, or that
burns the month's quota overnight, is the classic failure of unattended runs. These checks
turn each into something visible in history: a `failed` run with a one-line reason, or a
slot skipped with reason "budget".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .results import RunResult, Usage

if TYPE_CHECKING:
    from .jobs import Job

__all__ = [
    "ANSWER_LIMIT",
    "JSON_GROUP",
    "Verdict",
    "account",
    "budget_reason",
    "check_output",
    "compile_expect",
    "cost_of",
    "local_day",
    "tokens_today",
]

ANSWER_LIMIT = 1024 * 1024  # characters of stdout kept for the contract (the tail if more)
JSON_GROUP = "json"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the guards make of an otherwise successful run's stdout."""

    ok: bool
    error: str = ""
    contract: Any = None


@lru_cache(maxsize=256)
def compile_expect(pattern: str) -> re.Pattern[str]:
    """The contract's regex: searched anywhere in stdout, `.` matching newlines too (JSON
    answers span lines). Raises re.error for a bad pattern (the config check reports it)."""
    return re.compile(pattern, re.DOTALL)


def check_output(stdout: str, *, expect: str | None, fail_if_empty: bool) -> Verdict:
    """Apply `fail_if_empty` (whitespace counts as empty) and the `expect` contract.

    The JSON kept is the named group `json` if the pattern has one, else its only group when
    that group looks like JSON (starts with `{` or `[`); a group that should be JSON and is
    not fails the contract, so a downstream system never receives something it cannot parse.
    """
    if fail_if_empty and not stdout.strip():
        return Verdict(False, "empty output: the agent answered nothing (fail_if_empty; set "
                              "fail_if_empty = false if that is fine)")
    if expect is None:
        return Verdict(True)
    m = compile_expect(expect).search(stdout)
    if m is None:
        return Verdict(False, f"output contract: no match for expect = {expect!r}")
    group: str | None = None
    if JSON_GROUP in m.re.groupindex:
        group = m.group(JSON_GROUP)
    elif m.re.groups == 1 and (m.group(1) or "").lstrip()[:1] in ("{", "["):
        group = m.group(1)
    if group is None:
        return Verdict(True)
    try:
        return Verdict(True, contract=json.loads(group))
    except ValueError as exc:
        shown = group if len(group) <= 200 else group[:200] + "…"
        return Verdict(False, f"output contract: the matched group is not valid JSON ({exc}): "
                              f"{shown}")


def cost_of(usage: Usage | None, price_in: float | None, price_out: float | None) -> float | None:
    """Cost of a run from prices per million tokens; None without usage or prices."""
    if usage is None or (price_in is None and price_out is None):
        return None
    cost = (usage.prompt_tokens * (price_in or 0.0)
            + usage.completion_tokens * (price_out or 0.0)) / 1_000_000
    return round(cost, 8)


def local_day(job: Job, now: datetime) -> str:
    """The calendar day of `now` in the job's zone (budgets reset at its local midnight)."""
    zone = getattr(job.schedule, "tz", None) or UTC
    return now.astimezone(zone).date().isoformat()


def tokens_today(job: Job, now: datetime) -> int:
    return job.tokens_today if job.tokens_day == local_day(job, now) else 0


def account(job: Job, result: RunResult, now: datetime) -> None:
    """Add an attempt's tokens and cost to the job's counters (today's restart at local
    midnight). Failed attempts count: the tokens were spent all the same."""
    if result.usage is None and result.cost is None:
        return
    day = local_day(job, now)
    if job.tokens_day != day:
        job.tokens_day, job.tokens_today, job.cost_today = day, 0, 0.0
    tokens = result.usage.total if result.usage is not None else 0
    job.tokens_today += tokens
    job.tokens_total += tokens
    if result.cost is not None:
        job.cost_today = round(job.cost_today + result.cost, 8)
        job.cost_total = round(job.cost_total + result.cost, 8)


def budget_reason(job: Job, now: datetime) -> str | None:
    """Why the next slot must be skipped for budget, or None while tokens remain today."""
    budget = job.options.daily_token_budget
    if budget is None:
        return None
    used = tokens_today(job, now)
    if used < budget:
        return None
    zone = getattr(job.schedule, "tz", None) or UTC
    return (f"budget: {used:,} of {budget:,} tokens used today; resets at midnight "
            f"({getattr(zone, 'key', str(zone))})")
