"""core/wire.py: one JSON form of events (what `crondeck run` prints, what the control socket
streams) and its inverse, for every event class; the JOB and SCHED records."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import crondeck.core.events as events
from crondeck.cli.commands import run as run_command
from crondeck.core import (
    CommandAgent,
    GateResult,
    RunResult,
    RunStatus,
    Scheduler,
    SkipReason,
    UnknownEvent,
    Usage,
    cron,
    event_from_json,
    event_json,
    job_json,
    scheduler_json,
)
from crondeck.core.wire import event_text

T0 = datetime(2026, 12, 5, 4, 15, tzinfo=UTC)
RESULT = RunResult(run_id="a@x", job="a", scheduled_for=T0, status=RunStatus.OK,
                   started_at=T0, finished_at=T0 + timedelta(seconds=3), exit_code=0,
                   output_tail="done\n", gate=GateResult(run=True, context="ctx"),
                   usage=Usage(10, 20), cost=0.5, contract={"n": 1}, manual=True, attempt=2)
GATE = GateResult(run=False, exit_code=1, reason="nothing new", duration=0.25)


def _sample(hint: Any, name: str) -> Any:
    """A value of the field's type, not the default, so the round trip proves something."""
    if hint is datetime:
        return T0 + timedelta(minutes=len(name))
    if hint is RunResult:
        return RESULT
    if hint is GateResult:
        return GATE
    if hint is RunStatus:
        return RunStatus.FAILED
    if hint is SkipReason:
        return SkipReason.PAUSED
    if hint is bool:
        return True
    if hint is int:
        return 7
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        return ("one", "two")
    if origin is typing.Literal:
        return args[-1]
    if origin in (typing.Union, __import__("types").UnionType):
        return _sample(next(a for a in args if a is not type(None)), name)
    return f"{name}-value"


def _every_event() -> list[events.Event]:
    out = []
    for name in events.__all__:
        cls = getattr(events, name)
        if not (isinstance(cls, type) and issubclass(cls, events.Event)) or cls is events.Event:
            continue
        hints = typing.get_type_hints(cls, vars(events))
        values = {f.name: _sample(hints[f.name], f.name) for f in dataclasses.fields(cls)
                  if f.name not in ("seq", "at")}
        out.append(cls(seq=42, at=T0, **values))
    return out


@pytest.mark.parametrize("event", _every_event(), ids=lambda e: e.kind)
def test_every_event_survives_the_round_trip_through_json_text(event: events.Event) -> None:
    line = json.dumps(event_json(event))
    back = event_from_json(json.loads(line))
    assert back == event and type(back) is type(event)
    assert event_json(back) == event_json(event)


def test_every_event_class_is_covered() -> None:
    kinds = {e.kind for e in _every_event()}
    assert len(kinds) == len(events.__all__) - 3  # not Event, EventBus, Subscription
    assert {"run_finished", "output_chunk", "config_rejected", "observer_dropped"} <= kinds


def test_absent_optional_fields_take_their_defaults() -> None:
    data = {"event": "run_started", "seq": 3, "at": T0.isoformat(), "job": "a",
            "run_id": "a@x", "scheduled_for": T0.isoformat(), "attempt": 1}
    assert event_from_json(data) == events.RunStarted(
        seq=3, at=T0, job="a", run_id="a@x", scheduled_for=T0, attempt=1, manual=False)


def test_an_unknown_kind_or_a_broken_line_is_a_clear_error() -> None:
    with pytest.raises(UnknownEvent, match="unknown event kind 'run_teleported'"):
        event_from_json({"event": "run_teleported", "seq": 1, "at": T0.isoformat()})
    with pytest.raises(UnknownEvent, match="cannot read a 'job_paused' event"):
        event_from_json({"event": "job_paused", "seq": 1, "at": "yesterday", "job": "a",
                         "note": "", "until": None})
    with pytest.raises(UnknownEvent, match="cannot read a 'job_resumed' event"):
        event_from_json({"event": "job_resumed", "seq": 1})  # no `at`, no `job`
    with pytest.raises(UnknownEvent, match="unknown event kind None"):
        event_from_json({"seq": 1})
    assert issubclass(UnknownEvent, ValueError)


def test_crondeck_run_prints_events_with_the_core_serializer() -> None:
    assert run_command.event_json is event_json


def test_job_and_scheduler_records() -> None:
    scheduler = Scheduler()
    job = scheduler.add_job(CommandAgent(["claude", "-p"]), "Summarise.",
                            cron("*/5 * * * *", "Europe/Paris"), name="digest", timeout="10m")
    scheduler.pause_job(job, note="vacation", until=T0)
    record = job_json(job)
    state = job.state().to_dict()
    assert set(state) - {"results", "running"} <= set(record)
    assert "results" not in record and "results" in job_json(job, results=True)
    assert (record["paused"], record["pause_note"], record["pause_until"]) == (
        True, "vacation", "2026-12-05T04:15:00+00:00")
    assert record["schedule"]["expression"] == "*/5 * * * *"
    assert record["schedule"]["zone"] == "Europe/Paris"
    assert record["schedule"]["describe"]
    assert record["agent"]["kind"] == "command" and record["agent"]["program"] == "claude"
    assert record["options"]["timeout"] == 600.0 and record["options"]["overlap"] == "skip"
    assert record["running"] == [] and record["prompt"] == "Summarise."
    json.dumps(record)  # every value is JSON
    sched = scheduler_json(scheduler)
    assert sched == {"paused": False, "pause_note": "", "pause_until": None,
                     "running_loop": False, "in_flight": 0, "seq": scheduler.bus.last_seq}


@pytest.mark.parametrize("event", [
    *_every_event(),
    events.OutputChunk(seq=9, at=T0, job='j"ob', run_id="a\\b", stream="stderr",
                       text="tab\t nul\x00 esc\x1b é ✓ 𝄞 \u2028\n"),
], ids=lambda e: e.kind)
def test_the_compact_text_of_an_event_is_its_json(event: events.Event) -> None:
    text = event_text(event)
    assert json.loads(text) == json.loads(json.dumps(event_json(event)))
    assert "\n" not in text  # one line, whatever the output held
