"""The event stream: ordered, numbered, bounded per observer, never blocking the emitter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from crondeck.core.events import (
    EventBus,
    JobAdded,
    ObserverDropped,
    OutputChunk,
    RunFinished,
    SchedulerStarted,
)
from crondeck.core.results import RunResult, RunStatus

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _bus() -> EventBus:
    return EventBus(lambda: T0)


def _chunk(bus: EventBus, i: int) -> None:
    bus.emit(OutputChunk, job="j", run_id="j@x", stream="stdout", text=f"line {i}\n")


def test_events_are_numbered_in_order_with_aware_utc_times() -> None:
    bus = _bus()
    sub = bus.subscribe()
    bus.emit(SchedulerStarted, jobs=0)
    bus.emit(JobAdded, job="a", schedule="@every 5s", description="Every 5 seconds", agent="x")
    events = sub.drain()
    assert [type(e) for e in events] == [SchedulerStarted, JobAdded]
    assert [e.seq for e in events] == [1, 2]
    assert all(e.at.tzinfo is not None and e.at.utcoffset().total_seconds() == 0 for e in events)
    assert events[1].kind == "job_added"


def test_nobody_listening_costs_nothing_and_returns_none() -> None:
    bus = _bus()
    assert bus.emit(SchedulerStarted, jobs=0) is None
    assert bus.last_seq == 0


@pytest.mark.slow
def test_slow_observer_loses_chunks_with_a_count_but_keeps_other_events() -> None:
    bus = _bus()
    sub = bus.subscribe(max_chunks=10)
    for i in range(100_000):
        _chunk(bus, i)
    result = RunResult(run_id="j@x", job="j", scheduled_for=T0, status=RunStatus.OK)
    bus.emit(RunFinished, job="j", run_id="j@x", result=result)
    events = sub.drain()
    chunks = [e for e in events if isinstance(e, OutputChunk)]
    notices = [e for e in events if isinstance(e, ObserverDropped)]
    assert [c.text for c in chunks] == [f"line {i}\n" for i in range(10)]
    assert len(notices) == 1 and notices[0].dropped == 99_990
    assert isinstance(events[-1], RunFinished)  # the finish is never lost
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert len(sub) == 0


def test_drop_notice_appears_where_the_gap_is_even_if_nothing_follows() -> None:
    bus = _bus()
    sub = bus.subscribe(max_chunks=2)
    for i in range(5):
        _chunk(bus, i)
    events = sub.drain()
    assert [type(e).__name__ for e in events] == ["OutputChunk", "OutputChunk", "ObserverDropped"]
    assert events[-1].dropped == 3


def test_output_is_bounded_and_counted_in_lines_whatever_the_chunks_hold() -> None:
    bus = _bus()
    sub = bus.subscribe(max_chunks=100)

    def emit(lines: range, end: str = "\n") -> None:
        text = "".join(f"line {i}\n" for i in lines)
        bus.emit(OutputChunk, job="j", run_id="j@x", stream="stdout", text=text[:-1] + end)

    emit(range(0, 500))  # larger than the bound: still passes into an empty queue
    emit(range(500, 510))  # 510 lines pending: dropped
    first = sub.drain()
    assert first[0].text.count("\n") == 500 and first[1].dropped == 10 and len(first) == 2
    emit(range(510, 560))
    emit(range(560, 610))  # 100 lines: fits exactly
    emit(range(610, 611), end="")  # a line without its newline is still a line
    events = sub.drain()
    assert [type(e).__name__ for e in events] == ["OutputChunk", "OutputChunk",
                                                   "ObserverDropped"]
    assert events[-1].dropped == 1
    assert "".join(e.text for e in events[:2]) == "".join(f"line {i}\n" for i in range(510, 610))


def test_observer_far_behind_on_events_is_bounded_and_told() -> None:
    bus = _bus()
    sub = bus.subscribe(max_chunks=5, max_events=50)
    for _ in range(200):
        bus.emit(SchedulerStarted, jobs=0)
    events = sub.drain()
    assert len(events) <= 51
    dropped = [e for e in events if isinstance(e, ObserverDropped)]
    assert sum(d.dropped_events for d in dropped) == 150


def test_async_iteration_and_close() -> None:
    async def main() -> list[str]:
        bus = _bus()
        sub = bus.subscribe()
        seen: list[str] = []

        async def reader() -> None:
            async for ev in sub:
                seen.append(ev.kind)

        task = asyncio.create_task(reader())
        await asyncio.sleep(0)
        bus.emit(SchedulerStarted, jobs=1)
        _chunk(bus, 1)
        await asyncio.sleep(0)
        sub.close()
        bus.emit(SchedulerStarted, jobs=2)  # after close: not delivered
        await asyncio.wait_for(task, 1)
        return seen

    assert asyncio.run(main()) == ["scheduler_started", "output_chunk"]


def test_a_raising_listener_does_not_break_emit() -> None:
    bus = _bus()
    errors: list[BaseException] = []
    bus.on_listener_error = lambda fn, exc: errors.append(exc)
    good: list[int] = []
    bus.add_listener(lambda e: 1 / 0)
    remove = bus.add_listener(lambda e: good.append(e.seq))
    bus.emit(SchedulerStarted, jobs=0)
    remove()
    bus.emit(SchedulerStarted, jobs=0)
    assert good == [1]
    assert len(errors) == 2 and isinstance(errors[0], ZeroDivisionError)
