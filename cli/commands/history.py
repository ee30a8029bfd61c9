"""`crondeck history [JOB]`: recent results (runs, skips, misses), newest first: one job's,
or every job's merged (what the app's History pane shows).

DETAIL says why a slot did not run well, and for a run whose output contract captured JSON,
that JSON (compact, cut to fit): the value a digest job exists to produce, so an operator
sees it without `--json`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from crondeck.core import (
    Config,
    RunResult,
    compact_json,
    escape_controls,
    money,
    token_count,
)

from ._shared import (
    EXIT_BAD_CONFIG,
    add_config_arg,
    count,
    known_job,
    load,
    read_state,
    table,
    when,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "history",
        help="show recent runs, skips and failures",
        description="Show recent results, newest first: runs, skips (and why), missed and "
        "abandoned slots, from the saved state; of one job, or of every job without JOB.",
    )
    p.add_argument("job", metavar="JOB", nargs="?", help="job name (default: every job)")
    p.add_argument("-n", type=count(100_000), default=20, metavar="N",
                   help="how many (default 20)")
    p.add_argument("--json", action="store_true", help="print a JSON list of results")
    add_config_arg(p)
    p.set_defaults(func=run)


DETAIL_WIDTH = 80


def detail(result: RunResult, width: int = DETAIL_WIDTH) -> str:
    """The reason, then the contract's JSON if any (`contract: {"count": 3}`), in `width`."""
    reason = result.reason
    if result.contract is None:
        return reason[:width]
    head = f"{reason}; contract: " if reason else "contract: "
    return head + compact_json(result.contract, max(10, width - len(head)))


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    config = load(args, "history", err)
    if config is None:
        return EXIT_BAD_CONFIG
    if args.job is not None and not known_job(config, args.job, "history", err):
        return EXIT_BAD_CONFIG
    state = read_state(config)
    for problem in state.problems:
        print(f"crondeck history: {problem}", file=err)
    if args.job is None:
        return _every_job(config, state, args, out)
    st = state.jobs.get(args.job)
    results = list(reversed(st.results))[: max(1, args.n)] if st else []
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2), file=out)
        return 0
    if not results:
        print(f"{args.job}: no runs recorded yet.", file=out)
        return 0
    zone = config.zone(config.job(args.job))
    spend = _spend_columns(results)
    grid = [["SCHEDULED", "STATUS", "DURATION", "EXIT", *spend, "RUN ID", "DETAIL"]]
    for r in results:
        grid.append([when(r.scheduled_for, zone), _status(r), _duration(r), _exit(r),
                     *_spend(r, spend), r.run_id, detail(r)])
    _table(grid, out)
    if st is not None:
        print(f"\n{st.run_count} runs in total, {st.consecutive_failures} consecutive "
              "failures.", file=out)
    return 0


def _every_job(config: Config, state: Any, args: argparse.Namespace, out: TextIO) -> int:
    """Every job's results merged, newest first by when they ended (as the app lists them)."""
    jobs = {j.name: j for j in config.jobs}
    merged = [r for name, st in state.jobs.items() if name in jobs for r in st.results]
    merged.sort(key=lambda r: r.finished_at or r.scheduled_for, reverse=True)
    results = merged[: max(1, args.n)]
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2), file=out)
        return 0
    if not results:
        print("no runs recorded yet.", file=out)
        return 0
    spend = _spend_columns(results)
    grid = [["SCHEDULED", "JOB", "STATUS", "DURATION", "EXIT", *spend, "DETAIL"]]
    for r in results:
        grid.append([when(r.scheduled_for, config.zone(jobs[r.job])), r.job, _status(r),
                     _duration(r), _exit(r), *_spend(r, spend), detail(r)])
    _table(grid, out)
    shown = len({r.job for r in results})
    print(f"\nthe {len(results)} latest of {len(merged)} results, from {shown} of "
          f"{len(jobs)} jobs; `crondeck history JOB` for one job.", file=out)
    return 0


def _status(r: RunResult) -> str:
    return r.status.value + (f" ({r.skip_reason.value})" if r.skip_reason else "")


def _duration(r: RunResult) -> str:
    return f"{r.duration:.1f}s" if r.duration is not None else "-"


def _exit(r: RunResult) -> str:
    return "-" if r.exit_code is None else str(r.exit_code)


def _table(grid: list[list[str]], out: TextIO) -> None:
    """The table with control characters escaped: errors and reasons quote agent output,
    which must not reach the terminal as escape sequences."""
    table([[escape_controls(cell) for cell in row] for row in grid], out)


def _spend_columns(results: list[RunResult]) -> list[str]:
    """TOKENS/COST, only when a shown run has either (jobs without a model keep the narrow
    table); one column so the multi-job table stays within 80 columns before DETAIL."""
    if any((r.usage is not None and r.usage.total) or r.cost is not None for r in results):
        return ["TOKENS/COST"]
    return []


def _spend(r: RunResult, columns: list[str]) -> list[str]:
    """`1.2k/$0.04`, `950/-`, `-/$0.04`, or `-` for a run with neither."""
    if not columns:
        return []
    tokens = token_count(r.usage.total) if r.usage is not None and r.usage.total else "-"
    cost = money(r.cost) if r.cost is not None else "-"
    return ["-" if tokens == cost == "-" else f"{tokens}/{cost}"]
