"""`crondeck list`: every job like `systemctl list-timers`: NEXT, LEFT, LAST, PASSED, STATUS,
JOB, SCHEDULE, from the jobs file and the state as last saved (read-only). Jobs that run a
model add TOKENS and COST (today's counters restart at the job's local midnight, like its
budget); a runtime without models keeps the table it always had."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from crondeck.core import (
    Config,
    CronError,
    JobSpec,
    JobState,
    last_run,
    money,
    parse,
    token_count,
    uses_model,
)

from ._shared import EXIT_BAD_CONFIG, add_config_arg, load, read_state, span, table, when


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list jobs with their next and last runs",
        description="List every job of the jobs file with when it fires next, how it last "
        "ran, and its schedule in plain English (like systemctl list-timers).",
    )
    add_config_arg(p)
    p.add_argument("--json", action="store_true", help="one JSON object per job, as a list")
    p.set_defaults(func=run)


def rows(config: Any, state: Any, now: datetime) -> list[dict[str, Any]]:
    """One dict per job, soonest first (jobs that will not fire last)."""
    out = []
    for job in config.jobs:
        zone = config.zone(job)
        try:
            sched = parse(job.schedule, zone)
        except CronError:  # pragma: no cover - validated on load
            continue
        st = state.jobs.get(job.name)
        last = last_run(st) if st else None
        status = "never run"
        nxt: datetime | None = sched.next_after(now)
        if not config.enabled(job):
            status, nxt = "disabled", None
            if st is not None and st.running:
                status = "running (disabled)"
        elif st is not None:
            if st.running:
                status = "running"
            elif last is not None:
                status = last.status.value
            if st.exhausted:
                status, nxt = f"done ({st.exhausted})", None
            elif st.paused:
                status = "paused" + (f": {st.pause_note}" if st.pause_note else "")
                if st.pause_until is None:
                    nxt = None
                elif st.pause_until > now:
                    nxt = sched.next_after(st.pause_until)
        last_at = (last.started_at or last.finished_at) if last else None
        out.append({"job": job.name, "next": nxt, "last": last_at, "status": status,
                    "schedule": job.schedule, "description": sched.describe(), "zone": zone,
                    "run_count": st.run_count if st else 0,
                    **spend(config, job, st, last, now)})
    out.sort(key=lambda r: (r["next"] is None, r["next"] or now))
    return out


def spend(config: Config, job: JobSpec, st: JobState | None, last: Any,
          now: datetime) -> dict[str, Any]:
    """Tokens and cost of `job` as of `now`. The saved counters for today belong to the day
    they were saved on: read on a later day they are 0, as the scheduler would count."""
    options = config.options(job)
    today = st is not None and st.tokens_day == now.astimezone(config.zone(job)).date().isoformat()
    usage = getattr(last, "usage", None)
    return {
        "tokens_today": st.tokens_today if st and today else 0,
        "tokens_total": st.tokens_total if st else 0,
        "daily_token_budget": options.daily_token_budget,
        "cost_today": st.cost_today if st and today else 0.0,
        "cost_total": st.cost_total if st else 0.0,
        "last_run_tokens": usage.total if usage is not None else None,
        "last_run_cost": getattr(last, "cost", None),
        "priced": options.price_in is not None or options.price_out is not None,
    }


def _uses_model(r: dict[str, Any]) -> bool:
    return uses_model(priced=r["priced"], budget=r["daily_token_budget"],
                      tokens=r["tokens_total"], cost=r["cost_total"])


def _tokens_cell(r: dict[str, Any]) -> str:
    if not _uses_model(r):
        return "-"
    budget = r["daily_token_budget"]
    of = f" of {token_count(budget)}" if budget else ""
    return f"{token_count(r['tokens_today'])}{of} today"


def _cost_cell(r: dict[str, Any]) -> str:
    if not (r["priced"] or r["cost_total"]):
        return "-"
    return f"{money(r['cost_today'])} today · {money(r['cost_total'])} total"


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    config = load(args, "list", err)
    if config is None:
        return EXIT_BAD_CONFIG
    state = read_state(config)
    for problem in state.problems:
        print(f"crondeck list: {problem}", file=err)
    now = datetime.now(UTC)
    items = rows(config, state, now)
    if args.json:
        print(json.dumps([
            {**{k: v for k, v in r.items() if k != "priced"}, "zone": str(r["zone"]),
             "next": r["next"].isoformat() if r["next"] else None,
             "last": r["last"].isoformat() if r["last"] else None} for r in items
        ], indent=2), file=out)
        return 0
    if not items:
        print(f"No jobs in {config.path}. Add a [[jobs]] entry; see `crondeck check`.", file=out)
        return 0
    models = any(_uses_model(r) for r in items)
    grid = [["NEXT", "LEFT", "LAST", "PASSED", "STATUS", *(["TOKENS", "COST"] if models else []),
             "JOB", "SCHEDULE"]]
    for r in items:
        grid.append([
            when(r["next"], r["zone"]),
            span((r["next"] - now).total_seconds()) if r["next"] else "-",
            when(r["last"], r["zone"]),
            f"{span((now - r['last']).total_seconds())} ago" if r["last"] else "-",
            r["status"],
            *([_tokens_cell(r), _cost_cell(r)] if models else []),
            r["job"],
            f"{r['schedule']}  ({r['description']})",
        ])
    table(grid, out)
    print(f"\n{len(items)} job{'s' if len(items) != 1 else ''} listed.", file=out)
    return 0
