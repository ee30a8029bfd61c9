"""`crondeck next EXPR`: crontab.guru in the terminal, on the engine the scheduler fires by."""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from datetime import UTC, datetime
from typing import TextIO

from crondeck.core import CronError, ZoneError, get_zone, local_zone, parse

EXIT_BAD_INPUT = 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "next",
        help="describe a cron expression and print its next fires",
        description=(
            "Describe a cron expression (or @daily, @every 90s, …) in plain English, list "
            "warnings, and print the next fires as ISO-8601 timestamps with offset."
        ),
    )
    p.add_argument("expr", metavar="EXPR", nargs="+",
                   help="cron expression, quoted: '*/15 9-17 * * 1-5'")
    p.add_argument("-n", type=int, default=10, metavar="N", help="how many fires (default 10)")
    p.add_argument("--tz", metavar="ZONE", help="IANA time zone (default: the local zone)")
    p.add_argument(
        "--after", metavar="ISO-8601", help="start after this instant (default: now)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if args.n < 1 or args.n > 100_000:
        print("crondeck next: -n must be between 1 and 100000", file=err)
        return EXIT_BAD_INPUT
    try:
        zone = get_zone(args.tz) if args.tz else local_zone()
    except ZoneError as e:
        print(f"crondeck next: --tz: {e}", file=err)
        return EXIT_BAD_INPUT
    try:
        after = _parse_after(args.after, zone) if args.after else datetime.now(UTC)
    except ValueError as e:
        print(f"crondeck next: --after: {e}", file=err)
        return EXIT_BAD_INPUT
    expr = _expression(args.expr, err)
    if expr is None:
        return EXIT_BAD_INPUT
    try:
        sched = parse(expr, zone)
    except CronError as e:
        print(f"crondeck next: {e.caret()}", file=err)
        return EXIT_BAD_INPUT
    fires = sched.upcoming(after, args.n)
    warnings = sched.warnings(after)
    if args.json:
        payload = {
            "expression": sched.text,
            "timezone": zone.key,
            "description": sched.describe(),
            "warnings": warnings,
            "fires": [f.isoformat() for f in fires],
        }
        print(json.dumps(payload, indent=2), file=out)
        return 0
    print(f"{sched.describe()}  ({zone.key})", file=out)
    for w in warnings:
        print(f"warning: {w}", file=out)
    for f in fires:
        print(f.isoformat(), file=out)
    if len(fires) < args.n:
        print(f"(no more fires: the calendar ends with the year 9999; {len(fires)} shown)",
              file=out)
    return 0


def _expression(words: str | list[str], err: TextIO) -> str | None:
    """The expression from its words: one quoted word, or several typed without quotes
    (`crondeck next 0 9 1 1 1`). When the shell has already turned a `*` into the names of
    files here, the expression is lost: say to quote it."""
    if isinstance(words, str):
        return words
    if len(words) == 1:
        return words[0]
    files = [w for w in words if w not in ("*", "?") and os.path.lexists(w)]
    if files:
        guess = _unglob(words)
        quoted = f"'{guess}'" if guess else "'0 9 * * *'"
        print(f"crondeck next: the shell replaced * with the names of the {len(set(files))} files "
              f"here ({files[0]!r}, …) before crondeck saw it. Quote the expression: "
              f"crondeck next {quoted}", file=err)
        return None
    return " ".join(words)


def _unglob(words: list[str]) -> str | None:
    """The expression as typed, if each run of file names is whole copies of what `*`
    expands to here."""
    star = sorted(glob.glob("*"))
    out: list[str] = []
    i = 0
    while i < len(words):
        if star and sorted(words[i:i + len(star)]) == star:
            out.append("*")
            i += len(star)
        elif os.path.lexists(words[i]):
            return None
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


def _parse_after(text: str, zone) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not ISO-8601: write like 2026-03-08T01:30 or 2026-03-08T01:30-05:00"
        ) from None
    dt = dt.replace(tzinfo=zone) if dt.tzinfo is None else dt
    try:
        dt.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise ValueError(f"{text!r} is outside the calendar (years 1 to 9999 in UTC)") from None
    return dt
