"""Clocks: the fake one drives sleepers deterministically; run ids and results are UTC."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crondeck.core.clock import FakeClock, SystemClock, utc
from crondeck.core.results import GateResult, RunResult, RunStatus, SkipReason, make_run_id

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_fake_clock_wakes_sleepers_in_deadline_order() -> None:
    async def main() -> list[tuple[str, datetime]]:
        clock = FakeClock(T0)
        woke: list[tuple[str, datetime]] = []

        async def sleeper(name: str, secs: float) -> None:
            await clock.sleep(secs)
            woke.append((name, clock.now()))

        tasks = [asyncio.create_task(sleeper(n, s)) for n, s in [("b", 20), ("a", 10), ("c", 30)]]
        await clock.run_for(25)
        assert clock.now() == T0 + timedelta(seconds=25)
        assert clock.sleepers == 1
        await clock.run_for(10)
        await asyncio.gather(*tasks)
        return woke

    woke = asyncio.run(main())
    assert woke == [
        ("a", T0 + timedelta(seconds=10)),
        ("b", T0 + timedelta(seconds=20)),
        ("c", T0 + timedelta(seconds=30)),
    ]


def test_cancelled_sleep_leaves_no_live_sleeper_and_set_can_go_backwards() -> None:
    async def main() -> None:
        clock = FakeClock(T0)
        task = asyncio.create_task(clock.sleep(100))
        await asyncio.sleep(0)
        assert clock.sleepers == 1
        task.cancel()
        await asyncio.sleep(0)
        assert clock.sleepers == 0 and clock.next_deadline() is None
        clock.set(T0 - timedelta(hours=1))
        assert clock.now() == T0 - timedelta(hours=1)

    asyncio.run(main())


def test_system_clock_is_aware_utc_and_naive_times_are_rejected() -> None:
    now = SystemClock().now()
    assert now.utcoffset() == timedelta(0)
    with pytest.raises(ValueError):
        utc(datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        FakeClock(datetime(2025, 1, 1))
    assert utc(datetime(2025, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == datetime(
        2025, 1, 1, tzinfo=UTC
    )


def test_run_id_is_job_at_utc_iso() -> None:
    berlin = timezone(timedelta(hours=1))
    assert make_run_id("digest", datetime(2025, 1, 6, 9, tzinfo=berlin)) == (
        "digest@2025-01-06T08:00:00Z"
    )
    assert make_run_id("x", T0.replace(microsecond=5)) == "x@2025-03-01T12:00:00.000005Z"


def test_result_round_trips_through_plain_dicts() -> None:
    r = RunResult(
        run_id="a@x",
        job="a",
        scheduled_for=T0,
        status=RunStatus.SKIPPED,
        skip_reason=SkipReason.GATE,
        exit_code=3,
        error="no new mail",
        gate=GateResult(run=False, exit_code=3, reason="no new mail"),
    )
    d = r.to_dict()
    assert None not in d.values()
    back = RunResult.from_dict(d)
    assert back == r and not back.ok and back.reason == "no new mail"
    assert RunResult(run_id="a", job="a", scheduled_for=T0, status=RunStatus.OK).ok
