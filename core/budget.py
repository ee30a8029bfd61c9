"""Token budgets and cost: each attempt's tokens and cost added to the job's counters (today's
reset at the job's local midnight), and the "budget" reason that skips a slot once spent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .results import RunResult, Usage

if TYPE_CHECKING:
    from .jobs import Job

__all__ = ["account", "budget_reason", "cost_of", "local_day", "tokens_today"]


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
