"""The one JSON form of what a scheduler says: events (as `crondeck run` prints them and the
control socket streams them), and the JOB and SCHED records of the control protocol.

`event_json(event)` and `event_from_json(data)` are inverses for every event class in
`core/events.py`. An unknown `event` kind (a newer scheduler) raises `UnknownEvent`, a
ValueError naming the kind, so a reader can skip the line and go on.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from enum import Enum
from json.encoder import encode_basestring
from typing import Any

from . import events as _events
from .agents import CommandAgent, PythonAgent, program_of
from .clock import utc
from .events import Event, OutputChunk
from .jobs import Job
from .results import GateResult, RunResult, RunStatus, SkipReason

__all__ = [
    "UnknownEvent",
    "event_from_json",
    "event_json",
    "event_text",
    "file_refused_from_json",
    "file_refused_json",
    "job_capture",
    "job_json",
    "job_record",
    "plain",
    "resolve_shared",
    "scheduler_json",
]

SHARED_KINDS = ("schedule", "agent", "options")  # the parts a snapshot may send once


class UnknownEvent(ValueError):
    """An event line of a kind this version does not know (or with fields it cannot read)."""


def plain(value: Any) -> Any:
    """JSON-ready form of event field values (ISO datetimes, enum values, `to_dict()`s)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def event_json(event: Event) -> dict[str, Any]:
    """`{"event": "run_finished", "seq": 7, "at": "...", ...fields}`."""
    out: dict[str, Any] = {"event": event.kind, "seq": event.seq, "at": event.at.isoformat()}
    for f in fields(event):
        if f.name not in ("seq", "at"):
            out[f.name] = plain(getattr(event, f.name))
    return out


_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string = encode_basestring  # a str as a JSON string, in C


def event_text(event: Event) -> str:
    """`event_json(event)` as compact JSON text. Output chunks, the bulk of a busy stream
    (each may hold many lines), are written directly (same text, a fraction of the work)."""
    if type(event) is OutputChunk:
        return (f'{{"event":"output_chunk","seq":{event.seq},"at":"{event.at.isoformat()}",'
                f'"job":{_string(event.job)},"run_id":{_string(event.run_id)},'
                f'"stream":{_string(event.stream)},"text":{_string(event.text)}}}')
    return _compact(event_json(event))


# --- the inverse ------------------------------------------------------------------------


def _when(value: Any) -> datetime:
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return utc(dt)


def _converter(hint: Any) -> Callable[[Any], Any]:
    """How to rebuild one field from its JSON value, from the field's type annotation."""
    if hint is datetime:
        return _when
    if hint is RunResult:
        return RunResult.from_dict
    if hint is GateResult:
        return GateResult.from_dict
    if hint is RunStatus:
        return RunStatus
    if hint is SkipReason:
        return SkipReason
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple:
        inner = _converter(args[0]) if args else (lambda v: v)
        return lambda v: tuple(inner(x) for x in v)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            inner = _converter(rest[0])
            return lambda v: None if v is None else inner(v)
    return lambda v: v


def _readers() -> dict[str, tuple[type[Event], dict[str, Callable[[Any], Any]]]]:
    out: dict[str, tuple[type[Event], dict[str, Callable[[Any], Any]]]] = {}
    for name in _events.__all__:
        cls = getattr(_events, name)
        if not (isinstance(cls, type) and issubclass(cls, Event)) or cls is Event:
            continue
        hints = typing.get_type_hints(cls, vars(_events))
        conv = {f.name: _converter(hints[f.name]) for f in dataclasses.fields(cls)}
        out[_events._kind(cls)] = (cls, conv)
    return out


_READERS = _readers()


def event_from_json(data: dict[str, Any]) -> Event:
    """The event `event_json` made `data` from (a frozen dataclass of the same class, equal
    to the original). Raises UnknownEvent for a kind this version does not know or a line
    whose fields do not fit it."""
    kind = data.get("event") if isinstance(data, dict) else None
    reader = _READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        raise UnknownEvent(f"unknown event kind {kind!r}: this crondeck knows "
                           f"{len(_READERS)} kinds (a newer scheduler may send more)")
    cls, conv = reader
    try:
        args = {name: fn(data[name]) for name, fn in conv.items() if name in data}
        return cls(**args)
    except (TypeError, ValueError, KeyError) as exc:
        raise UnknownEvent(f"cannot read a {kind!r} event: {exc}") from None


# --- JOB and SCHED ----------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Options and agent values as JSON: plain values kept, callables by their name."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    name = getattr(value, "__qualname__", None) or type(value).__name__
    module = getattr(value, "__module__", None)
    return f"{module}:{name}" if module else str(name)


def agent_json(agent: Any) -> dict[str, Any]:
    """`{"kind": "command"|"python"|"model", "program": ..., "describe": ...}`."""
    if isinstance(agent, CommandAgent):
        command = agent.command
        shown = command if isinstance(command, str) else " ".join(command)
        return {"kind": "command", "name": agent.name, "program": program_of(command) or "",
                "describe": shown}
    if isinstance(agent, PythonAgent):
        return {"kind": "python", "name": agent.name, "program": agent.spec or agent.name,
                "describe": agent.spec or repr(agent.target)}
    model = getattr(agent, "model", None)
    if isinstance(model, str):
        kind = str(getattr(agent, "kind", "model"))
        return {"kind": "model", "name": str(getattr(agent, "name", kind)), "program": model,
                "describe": f"{kind} {model}"}
    name = str(getattr(agent, "name", type(agent).__name__))
    return {"kind": "python", "name": name, "program": name, "describe": repr(agent)}


def schedule_json(schedule: Any) -> dict[str, Any]:
    tz = getattr(schedule, "tz", None)
    return {"expression": schedule.text, "zone": getattr(tz, "key", None) or "UTC",
            "describe": schedule.describe()}


def options_json(options: Any) -> dict[str, Any]:
    """JobOptions as a dict: one name per option, durations in seconds."""
    return {f.name: _jsonable(getattr(options, f.name)) for f in dataclasses.fields(options)}


def job_capture(job: Job, *, results: bool = False) -> tuple[Any, ...]:
    """The job's state as of now, taken cheaply (`Job.capture`, about a microsecond): values
    that do not change later, so that `job_record` can make the JSON afterwards, in pieces,
    while the scheduler runs on."""
    return job.capture(results)


def job_record(captured: tuple[Any, ...],
               cache: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JOB record of a `job_capture`. `cache` shares the parts jobs have in common
    (schedules, agents, options) across a snapshot of many jobs."""
    (name, paused, pause_note, pause_until, skip_next, next_fire, last_slot, run_count,
     failures, exhausted, enabled, tokens_day, tokens_today, tokens_total, cost_today,
     cost_total, running, schedule, prompt, agent, options, results) = captured
    out: dict[str, Any] = {
        "name": name,
        "paused": paused,
        "pause_note": pause_note,
        "pause_until": _iso(pause_until),
        "skip_next": skip_next,
        "next_fire": _iso(next_fire),
        "last_slot": _iso(last_slot),
        "run_count": run_count,
        "consecutive_failures": failures,
        "exhausted": exhausted,
        "disabled": not enabled,
        "tokens_day": tokens_day,
        "tokens_today": tokens_today,
        "tokens_total": tokens_total,
        "cost_today": cost_today,
        "cost_total": cost_total,
        "running": [{"run_id": run_id, "scheduled_for": utc(slot).isoformat(),
                     "started_at": utc(started).isoformat() if started else None,
                     "manual": manual, "attempt": attempt}
                    for run_id, slot, started, manual, attempt in running],
        "schedule": _shared(cache, schedule, schedule_json),
        "prompt": prompt,
        "agent": _shared(cache, agent, agent_json),
        "options": _shared(cache, options, options_json),
    }
    if results is not None:
        out["results"] = [r.to_dict() for r in results]
    return out


def job_json(job: Job, *, results: bool = False,
             cache: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JOB record: the job's state (`JobState.to_dict()`'s keys, `results` only when
    asked, absent times as null) with its runs in flight, schedule, prompt, agent and
    options."""
    return job_record(job_capture(job, results=results), cache)


def _shared(cache: dict[int, dict[str, Any]] | None, obj: Any,
            make: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    if cache is None:
        return make(obj)
    key = id(obj)
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = make(obj)
    return hit


def resolve_shared(record: Mapping[str, Any], shared: Any) -> Mapping[str, Any]:
    """A snapshot's JOB record as the full record: its `schedule`, `agent` and `options`,
    where they are numbers, taken from the snapshot's `shared` lists (the snapshot a client
    gets when it says `"shared": true` in its hello), and the fields of its `state` part
    put in its place. A full record, or no `shared`, is returned as it is. Raises
    ValueError for a number its list does not have."""
    if not isinstance(shared, dict):
        return record
    out: dict[str, Any] | None = None
    for kind in SHARED_KINDS:
        ref = record.get(kind)
        if type(ref) is int:
            if out is None:
                out = dict(record)
            out[kind] = shared_part(shared, kind, ref, record)
    ref = record.get("state")
    if type(ref) is int:
        state = shared_part(shared, "state", ref, record)
        if not isinstance(state, dict):
            raise ValueError(f"shared state {ref} is not an object")
        out = {**state, **(out if out is not None else record)}
        del out["state"]
    return out if out is not None else record


def shared_part(shared: Any, kind: str, ref: int, record: Mapping[str, Any]) -> Any:
    """Part number `ref` of `kind` in a snapshot's `shared` (ValueError if it has none)."""
    table = shared.get(kind) if isinstance(shared, dict) else None
    if not isinstance(table, list) or not 0 <= ref < len(table):
        raise ValueError(f"job {record.get('name')!r} refers to shared {kind} {ref}, "
                         "which the snapshot does not have")
    return table[ref]


def scheduler_json(scheduler: Any) -> dict[str, Any]:
    """The SCHED record: `{"paused", "pause_note", "pause_until", "running_loop",
    "in_flight", "seq"}`."""
    return {"paused": scheduler.paused, "pause_note": scheduler.pause_note,
            "pause_until": _iso(scheduler.pause_until), "running_loop": scheduler.running_loop,
            "in_flight": scheduler.in_flight, "seq": scheduler.bus.last_seq}


def file_refused_json(path: str, problems: Sequence[str], since: datetime) -> dict[str, Any]:
    """A snapshot's `file_refused`: the jobs file on disk is refused (its problems, since
    when), and the scheduler runs the version before it. null while it runs the file; absent
    from an older server's snapshot."""
    return {"path": path, "problems": list(problems), "since": utc(since).isoformat()}


def file_refused_from_json(snapshot: Mapping[str, Any]
                           ) -> tuple[str, tuple[str, ...], datetime | None] | None:
    """(path, problems, since) from a snapshot's `file_refused`, or None when it runs the
    file (or an older server does not say: see `"file_refused" in snapshot`)."""
    word = snapshot.get("file_refused")
    if not isinstance(word, dict):
        return None
    problems = tuple(str(p) for p in word.get("problems") or [] if isinstance(p, str))
    try:
        since = datetime.fromisoformat(word["since"]) if isinstance(word.get("since"),
                                                                    str) else None
    except ValueError:
        since = None
    if since is not None and since.tzinfo is None:
        since = None
    return str(word.get("path") or ""), problems, since


def _iso(dt: datetime | None) -> str | None:
    return utc(dt).isoformat() if dt is not None else None
