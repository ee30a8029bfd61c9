"""Slot decisions, pure: given a job, its due slots, its policies and the pause state, what
becomes of each slot (start, skip, miss, queue, replace). No events, no I/O, no loop.

Catch-up after an outage (latest/none/all), misfire grace, pause, skip-next, the daily token
budget and the overlap policy (skip/queue_one/replace/allow) are all decided here; the
`Scheduler` applies the decisions (records results, starts runs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from .budget import budget_reason
from .jobs import Job
from .lazyclass import dataclass
from .results import SkipReason
from .schedule import Schedule, first_fire, next_slot

__all__ = [
    "MAX_ENUMERATED",
    "MAX_MISSED_RECORDS",
    "ON_TIME",
    "START",
    "Decision",
    "Due",
    "PauseState",
    "Plan",
    "decide",
    "due_slots",
    "exhaustion",
    "first_fire",
    "next_slot",
    "on_time",
    "pause_note_at",
    "plan_slots",
    "starts_plainly",
    "wake_at",
]

MAX_ENUMERATED = 1_000  # due slots looked at one by one before jumping ahead
MAX_MISSED_RECORDS = 100  # individual `missed` results per catch-up; older ones summarised
ON_TIME = 5.0  # catchup="none": how late a slot may be and still count as on time

NextSlot = Callable[[datetime], datetime | None]


class PauseState(Protocol):
    """The scheduler-wide pause (`Scheduler` has these three attributes)."""

    @property
    def paused(self) -> bool: ...

    @property
    def pause_note(self) -> str: ...

    @property
    def pause_until(self) -> datetime | None: ...


# ------------------------------------------------------------------ when slots fall due


def wake_at(job: Job) -> datetime | None:
    """When the loop must next look at `job`: its next fire, or the end of its pause if that
    comes first (None when it is exhausted)."""
    if job.exhausted or job.next_fire is None:
        return None
    wake = job.next_fire
    if job.paused and job.pause_until is not None and job.pause_until < wake:
        wake = job.pause_until
    return wake


def exhaustion(job: Job, now: datetime) -> str:
    """Why a live job will not fire again ("max_runs reached", "past until", "no more
    slots"), or "" while it will."""
    max_runs = job.options.max_runs
    if max_runs is not None and job.run_count >= max_runs:
        return "max_runs reached"
    if job.next_fire is None:
        until = job.options.until
        return "past until" if until is not None and until <= now else "no more slots"
    return ""


@dataclass(slots=True)
class Due:
    """The slots of a job due at an instant, the next fire after them, and how many slots a
    long outage jumped over (-1: more, not cheaply counted)."""

    slots: list[datetime]
    next_fire: datetime | None
    more_missed: int = 0


def due_slots(job: Job, now: datetime, next_slot: NextSlot) -> Due:
    """Every slot of `job` due at `now`; past `MAX_ENUMERATED` of them, only the latest."""
    slots: list[datetime] = []
    slot = job.next_fire
    more_missed = 0
    while slot is not None and slot <= now:
        slots.append(slot)
        if len(slots) >= MAX_ENUMERATED:
            latest, skipped_over = latest_due(job.schedule, slot, now, next_slot)
            if latest is not None and latest > slot:
                more_missed = skipped_over
                slots.append(latest)
                slot = latest
        slot = next_slot(slot)
    return Due(slots, slot, more_missed)


def latest_due(schedule: Schedule, after: datetime, now: datetime,
               next_slot: NextSlot) -> tuple[datetime | None, int]:
    """The last slot <= now, found without walking every slot of a long outage, and how many
    slots lie strictly between `after` and it (-1 when not cheaply known)."""
    period = getattr(schedule, "period", None)
    if getattr(schedule, "is_interval", False) and isinstance(period, timedelta):
        n = int((now - after) / period)
        latest = after + n * period
        return latest, max(n - 1, 0)
    window = timedelta(days=1)
    while window < timedelta(days=366 * 5):
        probe = next_slot(max(after, now - window))
        if probe is not None and probe <= now:
            latest = probe
            while (nxt := next_slot(latest)) is not None and nxt <= now:
                latest = nxt
            return latest, -1
        window *= 8
    return None, 0


# ------------------------------------------------------------- what becomes of due slots


def pause_note_at(job: Job, slot: datetime, pause: PauseState) -> str | None:
    """The pause note if `slot` falls in a job or global pause, else None."""
    if job.paused and (job.pause_until is None or slot < job.pause_until):
        return job.pause_note
    if pause.paused and (pause.pause_until is None or slot < pause.pause_until):
        return pause.pause_note
    return None


def starts_plainly(job: Job, at: datetime, pause: PauseState) -> bool:
    """Whether the slot due at `at` will start a run with no policy in the way (the only
    kind of slot worth preparing ahead of its instant)."""
    return (
        at == job.next_fire
        and not job.paused
        and not pause.paused
        and not job.skip_next_pending
        and not job._running
        and not job._backlog
        and job.queued is None
        and budget_reason(job, at) is None
    )


def on_time(job: Job, slots: list[datetime], now: datetime, pause: PauseState) -> bool:
    """The common case, one on-time slot and nothing paused: no catch-up or misfire policy
    can turn it into a miss, so it goes straight to `decide`."""
    return (
        len(slots) == 1
        and not pause.paused
        and not job.paused
        and not job._backlog
        and (now - slots[0]).total_seconds()
        <= min(ON_TIME, job.options.misfire_grace or ON_TIME)
    )


@dataclass(slots=True)
class Plan:
    """What becomes of a batch of due slots, in the order the scheduler books it: skipped
    for a pause, one summary of old misses, single misses, then the runnable slots (each
    still subject to `decide`), or all of them into the backlog (catchup = "all")."""

    paused: list[tuple[datetime, str]] = field(default_factory=list)  # slot, pause note
    summary: tuple[datetime, datetime, str] | None = None  # first, last, error
    missed: list[tuple[datetime, str]] = field(default_factory=list)  # slot, why
    runnable: list[datetime] = field(default_factory=list)
    to_backlog: bool = False


def plan_slots(job: Job, slots: list[datetime], now: datetime, more: int,
               pause: PauseState) -> Plan:
    """Apply pause, misfire grace and the catch-up policy to the slots due at `now`
    (`more`: slots an outage jumped over, see `Due.more_missed`)."""
    opts = job.options
    plan = Plan()
    runnable: list[datetime] = []
    missed: list[tuple[datetime, str]] = []
    for slot in slots:
        note = pause_note_at(job, slot, pause)
        if note is not None:
            plan.paused.append((slot, note))
            continue
        late = (now - slot).total_seconds()
        if opts.misfire_grace is not None and late > opts.misfire_grace:
            missed.append((slot, f"missed: {late:.0f}s late, beyond misfire_grace "
                                 f"({opts.misfire_grace:g}s)"))
        else:
            runnable.append(slot)
    if opts.catchup == "latest":
        for slot in runnable[:-1]:
            missed.append((slot, "missed: a later slot was due too; ran only the latest"))
        runnable = runnable[-1:]
    elif opts.catchup == "none":
        keep = []
        for i, slot in enumerate(runnable):
            late = (now - slot).total_seconds()
            tolerance = opts.misfire_grace if opts.misfire_grace is not None else ON_TIME
            if i == len(runnable) - 1 and late <= tolerance:
                keep.append(slot)
            else:
                missed.append((slot, f"missed: {late:.0f}s late (catchup = none)"))
        runnable = keep
    missed.sort()
    if more or len(missed) > MAX_MISSED_RECORDS:
        head = missed[: len(missed) - MAX_MISSED_RECORDS + 1] if missed else []
        if head:
            missed = missed[len(head):]
            count = len(head) + (more if more > 0 else 0)
            extra = "" if more >= 0 else " (and more)"
            first, last = head[0][0], head[-1][0]
            plan.summary = (first, last,
                            f"missed: {count} slots from {first.astimezone(UTC):%Y-%m-%d %H:%M} "
                            f"to {last.astimezone(UTC):%Y-%m-%d %H:%M} UTC{extra}")
    plan.missed = missed
    plan.runnable = runnable
    plan.to_backlog = opts.catchup == "all" and (len(runnable) > 1 or bool(job._backlog))
    return plan


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one slot about to be dispatched: start it, skip it (with a reason),
    queue it behind the run in flight, or replace that run."""

    action: Literal["start", "skip", "queue", "replace"]
    reason: SkipReason | None = None
    why: str = ""


START = Decision("start")
_QUEUE = Decision("queue")
_REPLACE = Decision("replace")


def decide(job: Job, now: datetime, manual: bool) -> Decision:
    """Skip-next, the daily budget (scheduled slots only) and the overlap policy for one
    slot. A skip with reason OPERATOR spends the job's skip-next."""
    if not manual:
        if job.skip_next_pending:
            return Decision("skip", SkipReason.OPERATOR, "skipped by operator")
        # Scheduled slots only: an operator's "run now" is attended, so it may spend past
        # the budget (its tokens still count).
        why = budget_reason(job, now)
        if why is not None:
            return Decision("skip", SkipReason.BUDGET, why)
    if job._running:
        policy = job.options.overlap
        max_runs = job.options.max_runs
        if (policy == "allow" and max_runs is not None and not manual
                and job.run_count + len(job.running) >= max_runs):
            policy = "skip"
        if policy == "skip":
            return Decision("skip", SkipReason.OVERLAP, "still running")
        if policy == "queue_one":
            return _QUEUE
        if policy == "replace":
            return _REPLACE
    return START
