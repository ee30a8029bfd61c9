"""Token budgets and cost: each attempt's tokens and cost added to the job's counters (today's
reset at the job's local midnight), and the "budget" reason that skips a slot once spent.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import FILE_MODE, atomic_write_toml, ensure_real_dir, pid_alive, read_toml
from .results import RunResult, Usage

if TYPE_CHECKING:
    from .jobs import Job

__all__ = ["account", "budget_lock", "budget_reason", "cost_of", "local_day", "release_budget",
           "reserve_budget", "run_spend", "tokens_today"]

BUDGET_LOCK = "budget.lock"  # in the state directory: held while a budget is checked
RESERVATIONS = "budget.toml"  # what runs in flight elsewhere may still spend


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
    if result.usage is None and result.cost is None and "run_tokens" not in result.extra:
        return
    day = local_day(job, now)
    if job.tokens_day != day:
        job.tokens_day, job.tokens_today, job.cost_today = day, 0, 0.0
    tokens, cost = run_spend(result)
    job.tokens_today += tokens
    job.tokens_total += tokens
    if cost is not None:
        job.cost_today = round(job.cost_today + cost, 8)
        job.cost_total = round(job.cost_total + cost, 8)


def run_spend(result: RunResult) -> tuple[int, float | None]:
    """Tokens and cost to count for `result`: a run's every attempt when the result carries
    them (`extra["run_tokens"]`, `extra["run_cost"]`: a `crondeck exec` run folded from the
    inbox, whose result holds only its last attempt's usage), else its own."""
    tokens, cost = result.extra.get("run_tokens"), result.extra.get("run_cost")
    if isinstance(tokens, int) and not isinstance(tokens, bool):
        return tokens, float(cost) if isinstance(cost, int | float) else result.cost
    return (result.usage.total if result.usage is not None else 0), result.cost


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


# --- budgets shared by processes (`crondeck exec`) --------------------------------------------
#
# Two execs of one job started at the same moment would both read the day's spend before
# either had spent anything. Each checks the budget and reserves what it may spend in one
# step, under a file lock; the reservation goes once its result is recorded.


@contextlib.contextmanager
def budget_lock(state_dir: Path) -> Iterator[None]:
    """Hold the state directory's budget lock (blocking: it is held for milliseconds)."""
    path = ensure_real_dir(Path(state_dir)) / BUDGET_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _reservations(state_dir: Path) -> list[dict[str, Any]]:
    try:
        entries = read_toml(Path(state_dir) / RESERVATIONS).get("reserved", [])
    except (OSError, ValueError):  # missing or unreadable: nothing reserved
        return []
    return [e for e in entries
            if isinstance(e, dict) and isinstance(e.get("pid"), int) and pid_alive(e["pid"])]


def reserve_budget(state_dir: Path, job: str, run_key: str, day: str, used: int,
                   budget: int | None, estimate: int | None) -> int:
    """In one step under `budget_lock`: the tokens `job` counts as spent on `day` (`used`,
    plus what its other runs in flight reserved); below `budget`, this run reserves `estimate`
    (default: the rest of the budget) until `release_budget`. Returns that total: at or over
    the budget, the run is skipped (nothing reserved)."""
    state_dir = Path(state_dir)
    with budget_lock(state_dir):
        entries = _reservations(state_dir)
        reserved = sum(int(e.get("tokens", 0)) for e in entries
                       if e.get("job") == job and e.get("day") == day)
        total = used + reserved
        if budget is not None and total < budget:
            tokens = estimate if estimate is not None else budget - total
            entries.append({"job": job, "run": run_key, "day": day, "pid": os.getpid(),
                            "tokens": max(0, tokens)})
            atomic_write_toml(state_dir / RESERVATIONS, {"reserved": entries})
    return total


def release_budget(state_dir: Path, run_key: str) -> None:
    """Drop this process's reservation `run_key` (its result is recorded)."""
    with budget_lock(state_dir):
        entries = _reservations(state_dir)
        kept = [e for e in entries if not (e.get("run") == run_key
                                           and e.get("pid") == os.getpid())]
        if len(kept) != len(entries):
            atomic_write_toml(Path(state_dir) / RESERVATIONS, {"reserved": kept})
