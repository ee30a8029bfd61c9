"""A FakeClock drives a whole scheduler (not only the cron engine) through DST changes in
zones with 1-hour, 30-minute and no shifts: each job starts at exactly the UTC instants an
independent, minute-by-minute oracle of cronie's rules gives, none twice, none missed."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crondeck.core import FakeClock, RunSkipped, RunStarted, Scheduler, every

TRANSITIONS = [
    ("America/New_York", date(2026, 3, 8)),  # 02:00 -> 03:00
    ("America/New_York", date(2026, 11, 1)),  # 02:00 -> 01:00
    ("Europe/London", date(2026, 3, 29)),  # 01:00 -> 02:00
    ("Europe/London", date(2026, 10, 25)),  # 02:00 -> 01:00
    ("Australia/Lord_Howe", date(2026, 4, 5)),  # 02:00 -> 01:30
    ("Australia/Lord_Howe", date(2026, 10, 4)),  # 02:00 -> 02:30
    ("Asia/Kathmandu", date(2026, 3, 8)),  # +05:45 all year
]
EXPRESSIONS = ["0 2 * * *", "30 1 * * *", "*/15 * * * *"]


def oracle(zone: str, expr: str, start: datetime, end: datetime) -> list[datetime]:
    """The UTC instants in (start, end] at which `expr` fires by cronie's rules, worked out
    minute by minute in UTC: a wildcard job at every instant whose wall time matches (both
    passes of a repeated hour, none in a gap); a fixed-time job once a day, at the first
    pass of a repeated time, and at the first instant after the jump for a time in a gap."""
    tz = ZoneInfo(zone)
    minute, hour = expr.split()[:2]
    instants = []
    t = start + timedelta(minutes=1)
    while t <= end:
        instants.append(t)
        t += timedelta(minutes=1)
    if hour == "*":
        step = int(minute.removeprefix("*/"))
        return [t for t in instants if t.astimezone(tz).minute % step == 0]
    h, m = int(hour), int(minute)
    out: dict[date, datetime] = {}
    previous = start.astimezone(tz)
    for t in instants:
        local = t.astimezone(tz)
        crossed = (previous.hour, previous.minute) < (h, m) <= (local.hour, local.minute) \
            and previous.date() == local.date()
        exact = (local.hour, local.minute) == (h, m)
        if (exact or crossed) and local.date() not in out:  # first pass, or after the gap
            out[local.date()] = t
        previous = local
    return sorted(out.values())


async def fires(zone: str, expr: str, start: datetime, end: datetime,
                ) -> list[tuple[datetime, datetime]]:
    """(slot, clock when it started) of every run, both in UTC."""
    clock = FakeClock(start)
    s = Scheduler(clock=clock)
    started: list[tuple[datetime, datetime]] = []
    skipped: list[RunSkipped] = []
    s.add_listener(lambda e: started.append((e.scheduled_for.astimezone(UTC), clock.now()))
                   if isinstance(e, RunStarted) else
                   skipped.append(e) if isinstance(e, RunSkipped) else None)

    async def agent() -> None:
        return None

    s.add_job(agent, None, expr, name="j", tz=zone)
    task = asyncio.create_task(s.astart())
    await clock.run_for((end - start).total_seconds())
    s.stop()
    await asyncio.wait_for(task, 10)
    assert not skipped
    return started


@pytest.mark.slow
@pytest.mark.parametrize(("zone", "day"), TRANSITIONS,
                         ids=[f"{z.split('/')[1]}-{d:%m-%d}" for z, d in TRANSITIONS])
def test_a_scheduler_on_a_fake_clock_fires_at_the_right_utc_instants_across_dst(
        zone: str, day: date) -> None:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=1)
    end = start + timedelta(days=2, hours=12)
    for expr in EXPRESSIONS:
        started = asyncio.run(fires(zone, expr, start, end))
        slots = [slot for slot, _at in started]
        assert slots == oracle(zone, expr, start, end), (zone, expr)
        assert len(set(slots)) == len(slots)  # none twice (compared as UTC instants)
        assert all(at == slot for slot, at in started), (zone, expr)  # each on time


def test_the_oracle_knows_the_dst_rules() -> None:
    """Spot checks of the oracle itself, from the README's DST rules."""
    ny = "America/New_York"
    spring = datetime(2026, 3, 8, tzinfo=UTC)
    # 02:00 does not exist on 8 March: runs at 03:00 EDT, the jump's instant (07:00 UTC)
    assert oracle(ny, "0 2 * * *", spring, spring + timedelta(days=1)) == [
        datetime(2026, 3, 8, 7, 0, tzinfo=UTC)]
    fall = datetime(2026, 11, 1, tzinfo=UTC)
    # 01:30 happens twice on 1 November: only its first pass (EDT, 05:30 UTC)
    assert oracle(ny, "30 1 * * *", fall, fall + timedelta(days=1)) == [
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC)]
    # a wildcard job runs in both passes: 25 hours of quarter hours that day
    day = oracle(ny, "*/15 * * * *", datetime(2026, 11, 1, 4, tzinfo=UTC),
                 datetime(2026, 11, 2, 5, tzinfo=UTC))
    assert len(day) == 25 * 4
    lord_howe = datetime(2026, 10, 3, 12, tzinfo=UTC)  # 02:00 -> 02:30 on 4 October
    assert oracle("Australia/Lord_Howe", "0 2 * * *", lord_howe,
                  lord_howe + timedelta(days=1)) == [datetime(2026, 10, 3, 15, 30, tzinfo=UTC)]


def test_a_sync_function_finishes_within_its_fake_instant() -> None:
    """A sync job function runs in a thread; fake time waits for it as real time would
    barely move. Before, fake time ran on while the thread worked, so the next slot found
    the run still going and was skipped: an hour of every(minutes=5) made 8 runs of 12."""
    clock = FakeClock(datetime(2025, 1, 6, 12, 0, tzinfo=UTC))
    s = Scheduler(clock=clock)
    ran: list[datetime] = []
    job = s.add_job(lambda: ran.append(clock.now()), None, every(minutes=5), name="tick")

    async def go() -> None:
        task = asyncio.create_task(s.astart())
        await clock.run_for(3600)
        s.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(go())
    assert len(ran) == 12
    assert [r.status.value for r in job.results] == ["ok"] * 12


def test_a_sync_gate_finishes_within_its_fake_instant() -> None:
    """The same for a sync Python `pre_run` gate: before, most slots of an hour of
    every(minutes=1) were skipped as overlapping the run held up behind its gate."""
    clock = FakeClock(datetime(2025, 1, 6, 12, 0, tzinfo=UTC))
    s = Scheduler(clock=clock)

    def gate() -> None:
        sum(range(20_000))  # some work, in its thread

    async def agent() -> None:
        return None

    job = s.add_job(agent, None, every(minutes=1), name="gated", pre_run=gate)

    async def go() -> None:
        task = asyncio.create_task(s.astart())
        await clock.run_for(1800)
        s.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(go())
    assert job.run_count == 30
    assert {r.status.value for r in job.results} == {"ok"}
