"""`crondeck status`: who runs the jobs file (the process holding its lock: pid, kind,
uptime), what is running and what fires next, asked of that process over its control
socket; with no scheduler running, what the saved state says the next one will do."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any, TextIO

from crondeck.core import escape_controls, short_span

from ._shared import EXIT_BAD_CONFIG, EXIT_ERROR, read_state, table
from .control import EXIT_OK, NotAnswering, Target, parser_for, shown, verb
from .list import rows

NEXT_SHOWN = 10  # rows of NEXT in the text form (--json lists every job)

STATUS_EXIT_CODES = """\
exit status:
  0  a scheduler runs this jobs file and answered
  1  none runs it (the saved state is shown), or the one holding its lock does not answer
  2  bad usage
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = parser_for(sub, "status", "what the running scheduler is doing, and who it is",
                "Show which process runs the jobs file's schedule (pid, kind, uptime: the "
                "holder of .crondeck/lock, asked over .crondeck/control.sock), the runs in "
                "flight, the paused jobs and what fires next. With no scheduler running, the "
                "saved state's paused jobs and next fires.", STATUS_EXIT_CODES)
    p.add_argument("--json", action="store_true",
                   help="one JSON object: state, holder, scheduler, running, paused, next")
    p.set_defaults(func=run)


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


def online(answer: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The JSON form of a live scheduler's `status` answer."""
    hello = answer.get("hello", {})
    started = hello.get("started_at")
    uptime = (now - datetime.fromisoformat(started)).total_seconds() if started else None
    jobs = answer.get("jobs", [])
    running = [{"job": j["name"], **r} for j in jobs for r in j.get("running", [])]
    running.sort(key=lambda r: r.get("started_at") or r.get("scheduled_for") or "")
    paused = [{"job": j["name"], "note": j.get("pause_note", ""),
               "until": j.get("pause_until")} for j in jobs if j.get("paused")]
    upcoming = [{"job": j["name"], "next_fire": j["next_fire"],
                 "skip_next": bool(j.get("skip_next"))} for j in jobs
                if j.get("next_fire") and not j.get("paused") and not j.get("disabled")
                and not j.get("exhausted")]
    upcoming.sort(key=lambda r: datetime.fromisoformat(r["next_fire"]))
    return {
        "state": "running",
        "holder": {"pid": hello.get("pid"), "kind": hello.get("kind"), "started_at": started,
                   "uptime_seconds": int(uptime) if uptime is not None else None,
                   "protocol": hello.get("version"), "config": hello.get("config")},
        "scheduler": answer.get("scheduler"),
        "running": running, "paused": paused, "next": upcoming,
    }


def offline(target: Target, now: datetime, holder: int | None = None,
            silent: bool = False) -> dict[str, Any] | None:
    """The JSON form of the saved state, no scheduler answering (None: invalid file)."""
    config = target.config()
    if config is None:
        return None
    state = read_state(config)
    for problem in state.problems:
        print(f"crondeck status: {problem}", file=target.err)
    items = rows(config, state, now)
    saved = state.jobs
    names = {j.name for j in config.jobs}
    paused = [{"job": n, "note": st.pause_note, "until": _iso(st.pause_until)}
              for n, st in saved.items() if st.paused and n in names]
    still = {p["job"] for p in paused}
    return {
        "state": "not_answering" if silent else "stopped",
        "holder": {"pid": holder, "kind": None, "started_at": None, "uptime_seconds": None,
                   "protocol": None, "config": str(config.path)} if silent else None,
        "scheduler": None,
        "running": [],
        "paused": paused,
        "next": [{"job": r["job"], "next_fire": _iso(r["next"]),
                  "skip_next": bool(saved[r["job"]].skip_next) if r["job"] in saved else False}
                 for r in items if r["next"] and r["job"] not in still],
    }


def _text(target: Target, data: dict[str, Any], now: datetime, out: TextIO) -> None:
    holder, sched = data["holder"], data["scheduler"]
    if data["state"] == "running":
        up = (f", up {short_span(holder['uptime_seconds'])}"
              if holder.get("uptime_seconds") is not None else "")
        kind = holder.get("kind") or "a scheduler"
        kind = "a program embedding crondeck" if kind == "embedded" else kind
        print(f"{kind} (pid {holder['pid']}{up}) runs {target.loc.path}", file=out)
        if sched and sched.get("stopping"):
            print("it is stopping: nothing new starts, the runs in flight are finishing",
                  file=out)
        if sched and sched.get("paused"):
            note = f" ({escape_controls(sched['pause_note'])})" if sched.get("pause_note") else ""
            until = (f" until {shown(sched['pause_until'], target.zone(None))}"
                     if sched.get("pause_until") else " until resumed")
            print(f"every job is paused{note}{until}: `crondeck resume --all`", file=out)
    elif data["state"] == "not_answering":
        who = f"pid {holder['pid']}" if holder.get("pid") else "a process"
        print(f"{who} holds the lock on {target.state_dir} but does not answer on "
              f"{target.socket} (an older crondeck?); as last saved:", file=out)
    else:
        print(f"no scheduler runs {target.loc.path}; as last saved (start one with "
              "`crondeck run`, or `crondeck`):", file=out)
    if data["running"]:
        print(f"\nRunning ({len(data['running'])}):", file=out)
        grid = [["JOB", "RUN", "SLOT", "STARTED", ""]]
        for r in data["running"]:
            started = r.get("started_at")
            ago = (f"{short_span((now - datetime.fromisoformat(started)).total_seconds())} ago"
                   if started else "not yet (gate)")
            extra = ", ".join(x for x in ("manual" if r.get("manual") else "",
                                          f"attempt {r['attempt']}"
                                          if (r.get("attempt") or 1) > 1 else "") if x)
            grid.append([r["job"], r["run_id"], shown(r.get("scheduled_for"),
                                                      target.zone(r["job"])), ago, extra])
        table(grid, out)
    elif data["state"] == "running":
        print("\nNothing is running.", file=out)
    if data["paused"]:
        print(f"\nPaused ({len(data['paused'])}):", file=out)
        grid = [["JOB", "UNTIL", "NOTE"]]
        for p in data["paused"]:
            grid.append([p["job"], shown(p["until"], target.zone(p["job"])) if p["until"]
                         else "resumed", escape_controls(p["note"] or "")])  # as history
        table(grid, out)
    nxt = data["next"]
    if nxt:
        shown_of = f", the first {NEXT_SHOWN} of {len(nxt)}" if len(nxt) > NEXT_SHOWN else ""
        print(f"\nNext{shown_of}:", file=out)
        grid = [["NEXT", "LEFT", "JOB", ""]]
        for r in nxt[:NEXT_SHOWN]:
            at = datetime.fromisoformat(r["next_fire"])
            grid.append([shown(at, target.zone(r["job"])),
                         short_span((at - now).total_seconds()), r["job"],
                         "skipped (skip next)" if r.get("skip_next") else ""])
        table(grid, out)
    else:
        print("\nNothing is planned to fire.", file=out)


def _status(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    now = datetime.now(UTC)
    try:
        answer = target.call("status")
    except NotAnswering as exc:
        data = offline(target, now, exc.pid, silent=True)
        code = EXIT_ERROR
    else:
        data = online(answer, now) if answer is not None else offline(target, now)
        code = EXIT_OK if answer is not None else EXIT_ERROR
    if data is None:
        return EXIT_BAD_CONFIG
    data = {"config": str(target.loc.path), **data}
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
    else:
        _text(target, data, now, out)
    return code


run = verb("status", _status)
