"""The pure slot decisions (core/slots.py), checked without a loop or a scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crondeck.core import Job, JobOptions, RunHandle, RunResult, RunStatus, SkipReason, every
from crondeck.core.agents import as_agent
from crondeck.core.slots import (
    MAX_MISSED_RECORDS,
    START,
    decide,
    due_slots,
    pause_note_at,
    plan_slots,
)

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


@dataclass
class Pause:
    paused: bool = False
    pause_note: str = ""
    pause_until: datetime | None = None


async def _agent(prompt: str) -> str:
    return ""


def job(**options: object) -> Job:
    j = Job(name="j", agent=as_agent(_agent), prompt="p", schedule=every(minutes=1, start=T0),
            options=JobOptions().merged(**options))
    j.next_fire = T0
    return j


def minutes(n: int) -> list[datetime]:
    return [T0 + timedelta(minutes=i) for i in range(n)]


def test_due_slots_lists_every_slot_up_to_now() -> None:
    j = job()
    due = due_slots(j, T0 + timedelta(minutes=2, seconds=30),
                    lambda after: j.schedule.next_after(after))
    assert due.slots == minutes(3)
    assert due.next_fire == T0 + timedelta(minutes=3)


def test_catchup_latest_runs_only_the_last_slot() -> None:
    plan = plan_slots(job(catchup="latest"), minutes(3), T0 + timedelta(minutes=2), 0, Pause())
    assert plan.runnable == [T0 + timedelta(minutes=2)]
    assert [slot for slot, _ in plan.missed] == minutes(2)
    assert not plan.to_backlog


def test_catchup_all_queues_every_slot_in_the_backlog() -> None:
    plan = plan_slots(job(catchup="all"), minutes(3), T0 + timedelta(minutes=2), 0, Pause())
    assert plan.runnable == minutes(3) and plan.to_backlog


def test_misfire_grace_turns_late_slots_into_misses() -> None:
    plan = plan_slots(job(catchup="all", misfire_grace=30), minutes(3),
                      T0 + timedelta(minutes=2), 0, Pause())
    assert plan.runnable == [T0 + timedelta(minutes=2)]
    assert all("beyond misfire_grace" in why for _, why in plan.missed)


def test_a_long_outage_is_summarised_in_one_missed_result() -> None:
    n = MAX_MISSED_RECORDS + 50
    plan = plan_slots(job(catchup="latest"), minutes(n), T0 + timedelta(minutes=n - 1), 0,
                      Pause())
    assert plan.summary is not None and plan.summary[0] == T0
    assert len(plan.missed) == MAX_MISSED_RECORDS - 1


def test_pause_of_the_job_or_of_everything() -> None:
    j = job()
    assert pause_note_at(j, T0, Pause()) is None
    assert pause_note_at(j, T0, Pause(True, "maintenance")) == "maintenance"
    assert pause_note_at(j, T0, Pause(True, "x", pause_until=T0)) is None
    j.paused, j.pause_note = True, "mine"
    plan = plan_slots(j, minutes(2), T0 + timedelta(minutes=1), 0, Pause())
    assert plan.paused == [(slot, "mine") for slot in minutes(2)] and not plan.runnable


def test_decide_skip_next_budget_and_overlap() -> None:
    j = job(overlap="queue_one")
    assert decide(j, T0, manual=False) is START
    j.skip_next_pending = True
    assert decide(j, T0, manual=False).reason is SkipReason.OPERATOR
    assert decide(j, T0, manual=True) is START  # run now ignores skip-next
    j.skip_next_pending = False
    j.running["r"] = RunHandle("j", "r", T0, False)
    assert decide(j, T0, manual=False).action == "queue"
    j2 = job(overlap="skip")
    j2.running["r"] = RunHandle("j", "r", T0, False)
    assert decide(j2, T0, manual=True).why == "still running"


def test_failed_means_failed_or_timed_out() -> None:
    def result(status: RunStatus) -> RunResult:
        return RunResult(run_id="j@x", job="j", scheduled_for=T0, status=status)

    assert {s for s in RunStatus if result(s).failed} == {RunStatus.FAILED, RunStatus.TIMED_OUT}
