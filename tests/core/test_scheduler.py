"""Scheduler policies on a fake clock: every test simulates minutes to days in milliseconds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import until

from crondeck.core.clock import FakeClock
from crondeck.core.events import (
    ClockJumped,
    JobExhausted,
    JobPaused,
    JobResumed,
    ObserverDropped,
    OutputChunk,
    RunFinished,
    SchedulerError,
    SchedulerStopped,
)
from crondeck.core.jobs import JobState, NullStateSink
from crondeck.core.results import RunResult, RunStatus, SkipReason
from crondeck.core.schedule import cron, every
from crondeck.core.scheduler import Scheduler

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)  # a Monday


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def quick(log: list[str] | None = None) -> Callable[[str], Awaitable[str]]:
    async def agent(prompt: str) -> str:
        if log is not None:
            log.append(prompt)
        return "done\n"

    return agent


def slow(clock: FakeClock, seconds: float) -> Callable[[str], Awaitable[str]]:
    async def agent(prompt: str) -> str:
        await clock.sleep(seconds)
        return "slow done\n"

    return agent


async def run_for(s: Scheduler, clock: FakeClock, seconds: float) -> None:
    """Run the loop for `seconds` of fake time, then stop it and let runs finish."""
    task = asyncio.create_task(s.astart(stop_when_done=False))
    await clock.run_for(seconds)
    s.stop(terminate=True)
    await asyncio.wait_for(task, 5)


def statuses(results: Any) -> list[tuple[str, str]]:
    return [(r.scheduled_for.astimezone(UTC).strftime("%H:%M:%S"), r.status.value)
            for r in results]


def go(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


# --- cadence ----------------------------------------------------------------------------


def test_interval_fires_on_its_anchored_grid_and_a_slow_agent_does_not_drift_it() -> None:
    async def main() -> list[RunResult]:
        clock = FakeClock(at(3))
        s = Scheduler(clock=clock)
        job = s.add_job(slow(clock, 7), "p", every(seconds=10), name="grid")
        await run_for(s, clock, 65)
        return list(job.results)

    results = go(main())
    assert [r.scheduled_for for r in results] == [at(10 * i) for i in range(1, 7)]
    assert all(r.ok and r.started_at == r.scheduled_for for r in results)
    assert results[0].run_id == "grid@2025-01-06T12:00:10Z"


@pytest.mark.slow
def test_cron_on_a_dst_day_fires_at_the_right_utc_instants() -> None:
    # Europe/Berlin springs forward on 2025-03-30: 09:00 local is 08:00Z before, 07:00Z after.
    async def main() -> list[RunResult]:
        clock = FakeClock(datetime(2025, 3, 28, 12, tzinfo=UTC))
        s = Scheduler(clock=clock)
        job = s.add_job(quick(), "p", cron("0 9 * * *", tz="Europe/Berlin"), name="daily")
        hourly = s.add_job(quick(), "p", cron("30 * * * *", tz="Europe/Berlin"), name="hourly",
                           history=100)
        await run_for(s, clock, 3 * 86400)
        return [*job.results, *hourly.results]

    results = go(main())
    daily = [r.scheduled_for.astimezone(UTC) for r in results if r.job == "daily"]
    assert daily == [
        datetime(2025, 3, 29, 8, tzinfo=UTC),
        datetime(2025, 3, 30, 7, tzinfo=UTC),
        datetime(2025, 3, 31, 7, tzinfo=UTC),
    ]
    hourly = [r for r in results if r.job == "hourly"]
    assert all(r.ok for r in hourly)
    assert len({r.run_id for r in hourly}) == len(hourly) == 72  # one per real hour


def test_cron_on_the_day_clocks_go_back_never_fires_a_slot_twice() -> None:
    async def main() -> list[RunResult]:
        clock = FakeClock(datetime(2025, 10, 25, 22, tzinfo=UTC))
        s = Scheduler(clock=clock)
        job = s.add_job(quick(), "p", cron("*/30 * * * *", tz="Europe/Berlin"), name="half")
        await run_for(s, clock, 8 * 3600)
        return list(job.results)

    results = go(main())
    ids = [r.run_id for r in results]
    assert len(ids) == len(set(ids)) == 16  # 8 real hours, every 30 min
    assert all(r.ok for r in results)


# --- missed slots and catch-up -----------------------------------------------------------


def _outage(catchup: str, misfire_grace: float | None = None) -> list[RunResult]:
    """A 1-minute job; the process is down from 12:00:30 to 12:05:30 (simulated)."""

    async def main() -> list[RunResult]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(quick(), "p", every(minutes=1), name="j", catchup=catchup,
                        misfire_grace=misfire_grace)
        await run_for(s, clock, 30)  # nothing due yet
        clock.advance(300)  # the machine sleeps; no loop runs
        await run_for(s, clock, 1)
        return list(job.results)

    return go(main())


def test_outage_catchup_latest_runs_the_most_recent_slot_once_and_records_the_rest() -> None:
    assert statuses(_outage("latest")) == [
        ("12:01:00", "missed"),
        ("12:02:00", "missed"),
        ("12:03:00", "missed"),
        ("12:04:00", "missed"),
        ("12:05:00", "ok"),
    ]


def test_outage_catchup_none_runs_nothing_that_is_late() -> None:
    assert [s for _, s in statuses(_outage("none"))] == ["missed"] * 5


def test_outage_catchup_all_runs_every_slot_in_order() -> None:
    results = _outage("all")
    assert statuses(results) == [(f"12:0{i}:00", "ok") for i in range(1, 6)]


def test_misfire_grace_drops_slots_that_are_too_late() -> None:
    results = _outage("all", misfire_grace=60)
    assert statuses(results)[-1] == ("12:05:00", "ok")
    assert [s for _, s in statuses(results)[:-1]] == ["missed"] * 4
    assert "misfire_grace" in results[0].error


def test_long_outage_is_summarised_not_enumerated() -> None:
    async def main() -> list[RunResult]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(quick(), "p", every(seconds=1), name="j", history=500)
        await run_for(s, clock, 0.5)
        clock.advance(86400 * 7)
        await run_for(s, clock, 0.5)
        return list(job.results)

    results = go(main())
    assert results[-1].ok
    missed = [r for r in results if r.status is RunStatus.MISSED]
    assert len(missed) <= 101
    assert "slots from" in missed[0].error


def test_clock_set_back_never_reruns_a_slot() -> None:
    async def main() -> list[RunResult]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(quick(), "p", every(seconds=10), name="j")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(35)
        clock.set(T0)  # someone sets the wall clock back
        await clock.run_for(60)
        s.stop()
        await task
        return list(job.results)

    results = go(main())
    ids = [r.run_id for r in results]
    assert len(ids) == len(set(ids))
    assert [r.scheduled_for for r in results] == [at(10 * i) for i in range(1, 7)]


# --- overlap ------------------------------------------------------------------------------


def _overlap(policy: str) -> list[RunResult]:
    async def main() -> list[RunResult]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(slow(clock, 25), "p", every(seconds=10), name="o", overlap=policy)
        await run_for(s, clock, 35)
        return list(job.results)

    return go(main())


def test_overlap_skip_records_still_running() -> None:
    results = _overlap("skip")
    assert statuses(results) == [
        ("12:00:20", "skipped"),
        ("12:00:30", "skipped"),
        ("12:00:10", "ok"),
    ]
    assert results[0].skip_reason is SkipReason.OVERLAP and results[0].error == "still running"


def test_overlap_queue_one_runs_once_when_the_current_ends() -> None:
    results = _overlap("queue_one")
    # 12:00:20 queued, then replaced in the queue by 12:00:30; 12:00:10 ends at 12:00:35,
    # the queued slot starts then; the scheduler stop at 12:00:35 cancels it.
    assert ("12:00:20", "skipped") in statuses(results)
    assert ("12:00:10", "ok") in statuses(results)
    queued = [r for r in results if r.scheduled_for == at(30)]
    assert len(queued) == 1 and queued[0].started_at == at(35)


def test_overlap_replace_cancels_the_running_one() -> None:
    results = _overlap("replace")
    assert statuses(results)[:2] == [("12:00:10", "cancelled"), ("12:00:20", "cancelled")]
    assert results[0].error == "replaced by o@2025-01-06T12:00:20Z"


def test_overlap_allow_runs_concurrently() -> None:
    results = _overlap("allow")
    assert ("12:00:10", "ok") in statuses(results)
    assert all(r.status in (RunStatus.OK, RunStatus.CANCELLED) for r in results)
    assert len(results) == 3


def test_max_concurrent_runs_bounds_a_catch_up_burst() -> None:
    async def main() -> tuple[int, int]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock, max_concurrent_runs=3)
        live = 0
        peak = 0

        async def agent(prompt: str) -> str:
            nonlocal live, peak
            live += 1
            peak = max(peak, live)
            await clock.sleep(5)
            live -= 1
            return ""

        jobs = [s.add_job(agent, "p", every(minutes=1), name=f"j{i}") for i in range(10)]
        await run_for(s, clock, 90)
        return peak, sum(len([r for r in j.results if r.ok]) for j in jobs)

    peak, ok = go(main())
    assert peak == 3 and ok == 10


# --- operator -----------------------------------------------------------------------------


def test_pause_records_skips_with_the_note_and_resume_continues_from_now() -> None:
    async def main() -> tuple[list[RunResult], list[str]]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        sub = s.subscribe()
        job = s.add_job(quick(), "p", every(seconds=10), name="j")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(15)
        job.pause(note="investigating")
        await clock.run_for(20)
        job.resume()
        await clock.run_for(10)
        s.stop()
        await task
        kinds = [e.kind for e in sub.drain() if isinstance(e, JobPaused | JobResumed)]
        return list(job.results), kinds

    results, kinds = go(main())
    assert statuses(results) == [
        ("12:00:10", "ok"),
        ("12:00:20", "skipped"),
        ("12:00:30", "skipped"),
        ("12:00:40", "ok"),
    ]
    assert results[1].error == "paused: investigating"
    assert results[1].skip_reason is SkipReason.PAUSED
    assert kinds == ["job_paused", "job_resumed"]


def test_pause_until_resumes_by_itself() -> None:
    async def main() -> list[RunResult]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(quick(), "p", every(seconds=10), name="j")
        job.pause(note="lunch", until=at(25))
        await run_for(s, clock, 45)
        assert not job.paused
        return list(job.results)

    assert [s for _, s in statuses(go(main()))] == ["skipped", "skipped", "ok", "ok"]


def test_skip_next_skips_only_one_slot() -> None:
    async def main() -> list[RunResult]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(quick(), "p", every(seconds=10), name="j")
        job.skip_next()
        await run_for(s, clock, 30)
        return list(job.results)

    results = go(main())
    assert [s for _, s in statuses(results)] == ["skipped", "ok", "ok"]
    assert results[0].skip_reason is SkipReason.OPERATOR


def test_pause_all_and_resume_all_leave_individual_pauses_alone() -> None:
    async def main() -> tuple[list[RunResult], list[RunResult], bool]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        a = s.add_job(quick(), "p", every(seconds=10), name="a")
        b = s.add_job(quick(), "p", every(seconds=10), name="b")
        b.pause(note="mine")
        s.pause_all(note="maintenance")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(15)
        s.resume_all()
        await clock.run_for(10)
        s.stop()
        await task
        return list(a.results), list(b.results), b.paused

    a, b, b_paused = go(main())
    assert [(r.status.value, r.error) for r in a] == [
        ("skipped", "paused: maintenance"), ("ok", "")]
    assert b_paused and all(r.status is RunStatus.SKIPPED for r in b)


def test_run_now_obeys_overlap_and_cancel_stops_the_run() -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(slow(clock, 100), "p", every(hours=1), name="j")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        first = s.run_now(job)
        told: list[RunStatus] = []
        first.add_done_callback(lambda h: told.append(h.result().status))
        await clock.settle()
        assert not first.done() and job.is_running and told == []
        second = s.run_now("j")
        assert second.skipped and second.result().error == "still running"
        second.add_done_callback(lambda h: told.append(h.result().status))
        assert told == [RunStatus.SKIPPED]  # already settled: called at once
        assert s.cancel(job) == 1
        result = await first
        assert result.status is RunStatus.CANCELLED and result.manual
        assert result.error == "cancelled by operator"
        assert told == [RunStatus.SKIPPED, RunStatus.CANCELLED]
        s.stop()
        await task

    go(main())


def test_a_cancelled_run_keeps_what_it_printed_and_the_tokens_it_spent() -> None:
    """Cancelled by the operator or a stop: its output so far is the only clue to where it
    was (so it must not come back empty), and tokens spent before the cancel count."""

    async def main() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)

        async def agent(prompt: str, ctx: Any) -> str:
            ctx.emit("fetched 3 of 10 pages\n", "stdout")
            ctx.add_usage(120, 30)
            await clock.sleep(100)
            return "done"

        job = s.add_job(agent, "p", every(hours=1), name="j")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        first = s.run_now(job)
        await clock.settle()
        assert s.cancel(job) == 1
        result = await first
        assert result.status is RunStatus.CANCELLED
        assert result.output_tail == "fetched 3 of 10 pages\n" and result.output_bytes == 22
        assert result.usage is not None and result.usage.total == 150
        assert job.tokens_total == 150
        s.stop()
        await task

    go(main())


# --- budgets and failures ------------------------------------------------------------------


def test_max_runs_and_until_exhaust_the_job_and_astart_returns() -> None:
    async def main() -> tuple[int, int, list[str]]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        sub = s.subscribe()
        a = s.add_job(quick(), "p", every(seconds=10), name="a", max_runs=2)
        b = s.add_job(quick(), "p", every(seconds=10), name="b", until=at(30))
        task = asyncio.create_task(s.astart(stop_when_done=True))
        await clock.run_for(100)
        await asyncio.wait_for(task, 1)  # returned by itself: every job exhausted
        events = sub.drain()
        stopped = [e for e in events if isinstance(e, SchedulerStopped)]
        reasons = sorted(e.reason for e in events if isinstance(e, JobExhausted))
        assert stopped[0].reason == "every job is exhausted"
        return len(a.results), len(b.results), reasons

    assert go(main()) == (2, 3, ["max_runs reached", "past until"])


def test_start_immediately_fires_at_once() -> None:
    async def main() -> list[RunResult]:
        clock = FakeClock(at(3))
        s = Scheduler(clock=clock)
        job = s.add_job(quick(), "p", every(seconds=10), name="j", start_immediately=True)
        await run_for(s, clock, 10)
        return list(job.results)

    assert [r.scheduled_for for r in go(main())] == [at(3), at(10)]


def test_retries_back_off_then_auto_pause_after_consecutive_failures() -> None:
    async def main() -> tuple[list[RunResult], list[RunFinished], bool, str]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        sub = s.subscribe()

        async def broken(prompt: str) -> str:
            raise RuntimeError("model unavailable")

        job = s.add_job(broken, "p", every(minutes=1), name="j", retries=2, retry_backoff=5,
                        pause_after_failures=2)
        await run_for(s, clock, 180)
        finished = [e for e in sub.drain() if isinstance(e, RunFinished)]
        return list(job.results), finished, job.paused, job.pause_note

    results, finished, paused, note = go(main())
    attempts = [(e.result.attempt, e.result.finished_at - T0) for e in finished[:3]]
    assert attempts == [
        (1, timedelta(seconds=60)), (2, timedelta(seconds=65)), (3, timedelta(seconds=75))]
    assert [e.will_retry for e in finished[:3]] == [True, True, False]
    failed = [r for r in results if r.status is RunStatus.FAILED]
    assert len(failed) == 2 and "RuntimeError: model unavailable" in failed[0].error
    assert paused and note == "auto-paused after 2 consecutive failures"
    assert results[-1].skip_reason is SkipReason.PAUSED


def test_timeout_on_the_fake_clock_marks_timed_out() -> None:
    async def main() -> RunResult:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(slow(clock, 3600), "p", every(minutes=10), name="j", timeout="30s")
        await run_for(s, clock, 700)
        return job.results[0]

    r = go(main())
    assert r.status is RunStatus.TIMED_OUT and r.error == "timed out after 30s"
    assert r.finished_at == T0 + timedelta(minutes=10, seconds=30)


def test_raising_agent_callback_and_observer_never_stop_other_jobs() -> None:
    async def main() -> tuple[list[RunResult], list[str]]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        sub = s.subscribe()
        s.add_listener(lambda e: 1 / 0)

        def bad_callback(result: RunResult) -> None:
            raise ValueError("callback bug")

        async def bad_agent(prompt: str) -> str:
            raise KeyError("agent bug")

        s.add_job(bad_agent, "p", every(seconds=10), name="bad", on_result=bad_callback)
        good = s.add_job(quick(), "p", every(seconds=10), name="good", on_result=bad_callback)
        await run_for(s, clock, 30)
        errors = [e.where for e in sub.drain() if isinstance(e, SchedulerError)]
        return list(good.results), errors

    results, errors = go(main())
    assert [r.status for r in results] == [RunStatus.OK] * 3
    assert "on_result" in errors and "listener" in errors


# --- gates (python callables; shell gates are in test_gates.py) -----------------------------


def test_python_gate_context_reaches_the_prompt_and_false_skips() -> None:
    async def main() -> tuple[list[str], list[RunResult]]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        prompts: list[str] = []
        answers = iter(["3 new mails", False, None])

        async def gate() -> str | bool | None:
            return next(answers)

        job = s.add_job(quick(prompts), "Summarise.", every(seconds=10), name="g",
                        pre_run=gate)
        await run_for(s, clock, 30)
        return prompts, list(job.results)

    prompts, results = go(main())
    assert prompts == ["Summarise.\n\n3 new mails", "Summarise."]
    assert [r.status.value for r in results] == ["ok", "skipped", "ok"]
    assert results[1].skip_reason is SkipReason.GATE
    assert results[0].gate is not None and results[0].gate.context == "3 new mails"


def test_gate_that_raises_runs_by_default_or_skips_when_asked() -> None:
    def boom() -> str:
        raise OSError("mail server down")

    async def main(on_error: str) -> RunResult:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(quick(), "p", every(seconds=10), name="g", pre_run=boom,
                        on_gate_error=on_error)
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(10)
        await until(lambda: bool(job.results), 5)  # the sync gate ran in a real thread
        s.stop()
        await task
        return job.results[0]

    ran = go(main("run"))
    assert ran.ok and ran.gate is not None and "mail server down" in ran.gate.error
    skipped = go(main("skip"))
    assert skipped.status is RunStatus.SKIPPED and "mail server down" in skipped.error


def test_async_gate_timeout_on_fake_clock_skips() -> None:
    async def main() -> RunResult:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)

        async def hang() -> str:
            await clock.sleep(3600)
            return "late"

        job = s.add_job(quick(), "p", every(minutes=5), name="g", pre_run=hang,
                        gate_timeout="10s")
        await run_for(s, clock, 320)
        return job.results[0]

    r = go(main())
    assert r.status is RunStatus.SKIPPED and r.gate is not None and r.gate.timed_out
    assert r.error == "gate timed out after 10s"


# --- API shape, state -----------------------------------------------------------------------


def test_names_are_unique_and_default_to_job_n() -> None:
    s = Scheduler(clock=FakeClock(T0))
    a = s.add_job(quick(), "p", every(seconds=10))
    b = s.add_job(quick(), "p", "@every 5m", tz="UTC")
    assert (a.name, b.name) == ("job-1", "job-2")
    with pytest.raises(ValueError, match="already exists"):
        s.add_job(quick(), "p", every(seconds=10), name="job-1")
    with pytest.raises(ValueError, match="overlap"):
        s.add_job(quick(), "p", every(seconds=10), overlap="sometimes")
    assert s.remove_job("job-1") is a and list(s.jobs) == ["job-2"]


def test_run_pending_fires_what_is_due_once_synchronously() -> None:
    clock = FakeClock(T0)
    s = Scheduler(clock=clock)
    s.add_job(quick(), "p", every(seconds=10), name="a")
    s.add_job(quick(), "p", every(seconds=60), name="b")
    assert s.run_pending() == [] and s.due_jobs() == []
    clock.advance(10)
    assert [j.name for j in s.due_jobs()] == ["a"]
    results = s.run_pending()
    assert [(r.job, r.status.value) for r in results] == [("a", "ok")]
    assert s.run_pending() == []  # the same slot never runs twice


class Sink(NullStateSink):
    def __init__(self) -> None:
        self.claimed: list[str] = []
        self.results: list[RunResult] = []
        self.states: dict[str, JobState] = {}

    def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
        self.claimed.append(run_id)

    def result_recorded(self, result: RunResult) -> None:
        self.results.append(result)

    def job_changed(self, state: JobState) -> None:
        self.states[state.name] = state


def test_restart_mid_schedule_fires_the_missed_slot_once_and_marks_abandoned_runs() -> None:
    async def first_life(clock: FakeClock, sink: Sink) -> dict[str, JobState]:
        s = Scheduler(clock=clock, state_sink=sink)
        s.add_job(slow(clock, 30), "p", every(minutes=1), name="j")
        await run_for(s, clock, 70)  # 12:01 started at 12:01, still running at 12:01:10
        snap = s.snapshot()
        assert snap["j"].running == ()  # stop(terminate=True) recorded it as cancelled
        return {"j": JobState.from_dict({**snap["j"].to_dict(),
                                         "running": ["j@2025-01-06T12:01:00Z"],
                                         "results": []})}

    async def second_life(clock: FakeClock, saved: dict[str, JobState]) -> list[RunResult]:
        s = Scheduler(clock=clock)
        job = s.add_job(quick(), "p", every(minutes=1), name="j")
        s.restore(saved)
        await run_for(s, clock, 1)
        return list(job.results)

    clock = FakeClock(T0)
    sink = Sink()
    saved = go(first_life(clock, sink))
    assert sink.claimed == ["j@2025-01-06T12:01:00Z"]
    assert sink.states["j"].last_slot == at(60)
    clock.advance(600)  # down for ten minutes
    results = go(second_life(clock, saved))
    assert results[0].status is RunStatus.ABANDONED
    assert results[0].run_id == "j@2025-01-06T12:01:00Z"
    assert [s for _, s in statuses(results[1:])] == ["missed"] * 9 + ["ok"]
    assert results[-1].scheduled_for == at(660)
    assert len({r.run_id for r in results}) == len(results)


def test_job_state_round_trips_through_plain_dicts() -> None:
    st = JobState(name="j", paused=True, pause_note="n", pause_until=at(5), next_fire=at(10),
                  last_slot=at(0), run_count=3, consecutive_failures=1,
                  results=(RunResult(run_id="j@x", job="j", scheduled_for=T0,
                                     status=RunStatus.OK),))
    assert JobState.from_dict(st.to_dict()) == st


def test_a_flooding_agent_never_blocks_on_a_slow_observer_and_memory_stays_bounded() -> None:
    async def main() -> tuple[list[Any], RunResult, int]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        sub = s.subscribe(max_chunks=100)  # nobody reads it while the flood runs

        async def flood(prompt: str):
            for i in range(20_000):
                yield f"line {i}\n"

        job = s.add_job(flood, "p", every(minutes=1), name="flood")
        await run_for(s, clock, 60)
        peak = len(sub)
        return sub.drain(), job.results[0], peak

    events, result, peak = go(main())
    assert result.ok and result.output_bytes > 200_000 and result.truncated
    assert len(result.output_tail.encode()) < 10_200
    assert peak < 200
    chunks = [e for e in events if isinstance(e, OutputChunk)]
    dropped = sum(e.dropped for e in events if isinstance(e, ObserverDropped))
    assert len(chunks) == 100 and len(chunks) + dropped == 20_000
    assert any(isinstance(e, RunFinished) and e.result.ok for e in events)


def test_stop_waits_for_runs_and_remove_job_cancels_its_runs() -> None:
    async def main() -> tuple[RunResult, RunResult]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        keep = s.add_job(slow(clock, 30), "p", every(minutes=1), name="keep")
        gone = s.add_job(slow(clock, 30), "p", every(minutes=1), name="gone")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(70)
        s.remove_job("gone")
        s.stop()  # not terminate: the running one finishes first
        await clock.run_for(30)
        await asyncio.wait_for(task, 1)
        return keep.results[-1], gone.results[-1]

    kept, removed = go(main())
    assert kept.ok and kept.finished_at == at(90)
    assert removed.status is RunStatus.CANCELLED and removed.error == "job removed"


def test_nonexistent_and_repeated_local_times_fire_once_each_day() -> None:
    # 02:30 Berlin does not exist on 2025-03-30 (runs at 03:00) and happens twice on
    # 2025-10-26 (runs once, the first time): the scheduler follows the cron engine exactly.
    async def main(start: datetime) -> list[datetime]:
        clock = FakeClock(start)
        s = Scheduler(clock=clock)
        job = s.add_job(quick(), "p", cron("30 2 * * *", tz="Europe/Berlin"), name="night")
        await run_for(s, clock, 26 * 3600)
        assert all(r.ok for r in job.results)
        return [r.scheduled_for.astimezone(UTC) for r in job.results]

    assert go(main(datetime(2025, 3, 30, tzinfo=UTC))) == [
        datetime(2025, 3, 30, 1, 0, tzinfo=UTC),
        datetime(2025, 3, 31, 0, 30, tzinfo=UTC),
    ]
    assert go(main(datetime(2025, 10, 26, tzinfo=UTC))) == [
        datetime(2025, 10, 26, 0, 30, tzinfo=UTC),
        datetime(2025, 10, 27, 1, 30, tzinfo=UTC),
    ]


def test_suspend_is_noticed_as_a_clock_jump_and_handled_by_catch_up() -> None:
    async def main() -> tuple[list[RunResult], list[float]]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        sub = s.subscribe()
        job = s.add_job(quick(), "p", every(minutes=10), name="j")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(5)  # the loop is asleep (at most 30 s at a time)
        clock.advance(3600)  # the laptop lid closes for an hour: the sleep overshoots
        await clock.settle()
        s.stop()
        await task
        jumps = [e.seconds for e in sub.drain() if isinstance(e, ClockJumped)]
        return list(job.results), jumps

    results, jumps = go(main())
    assert jumps and jumps[0] > 3000
    assert [s for _, s in statuses(results)] == ["missed"] * 5 + ["ok"]


def test_an_agent_that_swallows_the_timeout_is_still_timed_out() -> None:
    async def main() -> RunResult:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)

        async def stubborn(prompt: str) -> str:
            try:
                await clock.sleep(3600)
            except asyncio.CancelledError:
                return "I refuse"
            return "done"

        job = s.add_job(stubborn, "p", every(minutes=10), name="j", timeout=5)
        await run_for(s, clock, 610)
        return job.results[0]

    r = go(main())
    assert r.status is RunStatus.TIMED_OUT and r.finished_at == at(605)
