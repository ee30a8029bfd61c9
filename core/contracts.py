"""The output contract of unattended runs: `fail_if_empty` and the `expect` regex (with its
JSON group) that turn an answer nothing downstream can use into a `failed` run with a reason.

The scheduler checks a contract with `verify_output`: on a long answer the regex runs in a
child interpreter with a time budget, so a pattern that backtracks fails its own run ("contract
check timed out") instead of freezing every other job, the console and `/healthz`.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import contract_match
from .contract_match import JSON_GROUP

__all__ = ["ANSWER_LIMIT", "CONTRACT_TIME_LIMIT", "INLINE_LIMIT", "JSON_GROUP", "Verdict",
           "check_output", "compile_expect", "verify_output"]

ANSWER_LIMIT = 1024 * 1024  # characters of stdout kept for the contract (the tail if more)
# Seconds of wall time a contract check may take. A linear pattern checks a full answer in
# milliseconds; past this the pattern is backtracking and the child is killed.
CONTRACT_TIME_LIMIT = 10.0
# Answers up to this many characters are checked inline: even a quadratic pattern takes
# milliseconds there, and a child interpreter would cost more than the check.
INLINE_LIMIT = 8 * 1024
_MATCHER = str(Path(contract_match.__file__).resolve())


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the contract makes of an otherwise successful run's stdout."""

    ok: bool
    error: str = ""
    contract: Any = None


@lru_cache(maxsize=256)
def compile_expect(pattern: str) -> re.Pattern[str]:
    """The contract's regex: searched anywhere in stdout, `.` matching newlines too (JSON
    answers span lines). Raises re.error for a bad pattern (the config check reports it)."""
    return re.compile(pattern, re.DOTALL)


def _empty(stdout: str, fail_if_empty: bool) -> Verdict | None:
    if fail_if_empty and not stdout.strip():
        return Verdict(False, "empty output: the agent answered nothing (fail_if_empty; set "
                              "fail_if_empty = false if that is fine)")
    return None


def _judge(expect: str, matched: bool, group: str | None) -> Verdict:
    """The verdict on a search's outcome; a group that should be JSON and is not fails the
    contract, so a downstream system never receives something it cannot parse."""
    if not matched:
        return Verdict(False, f"output contract: no match for expect = {expect!r}")
    if group is None:
        return Verdict(True)
    try:
        return Verdict(True, contract=json.loads(group))
    except ValueError as exc:
        shown = group if len(group) <= 200 else group[:200] + "…"
        return Verdict(False, f"output contract: the matched group is not valid JSON ({exc}): "
                              f"{shown}")


def check_output(stdout: str, *, expect: str | None, fail_if_empty: bool) -> Verdict:
    """Apply `fail_if_empty` (whitespace counts as empty) and the `expect` contract, in this
    thread and without a time limit (the scheduler uses `verify_output`).

    The JSON kept is the named group `json` if the pattern has one, else its only group when
    that group looks like JSON (starts with `{` or `[`).
    """
    empty = _empty(stdout, fail_if_empty)
    if empty is not None:
        return empty
    if expect is None:
        return Verdict(True)
    return _judge(expect, *contract_match.find(stdout, expect))


async def verify_output(stdout: str, *, expect: str | None, fail_if_empty: bool,
                        time_limit: float | None = None) -> Verdict:
    """`check_output` without blocking the event loop: past INLINE_LIMIT characters the regex
    runs in a child interpreter that is killed after `time_limit` seconds (default
    CONTRACT_TIME_LIMIT; `re` holds the GIL and cannot be interrupted, so neither a thread nor
    a timer could bound it)."""
    if time_limit is None:
        time_limit = CONTRACT_TIME_LIMIT
    if expect is None or len(stdout) <= INLINE_LIMIT:
        return check_output(stdout, expect=expect, fail_if_empty=fail_if_empty)
    empty = _empty(stdout, fail_if_empty)
    if empty is not None:
        return empty
    request = json.dumps({"expect": expect, "stdout": stdout}).encode()
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", _MATCHER, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        return Verdict(False, f"contract check could not start: {exc}")
    try:
        out, err = await asyncio.wait_for(child.communicate(request), time_limit)
    except TimeoutError:
        return Verdict(False, f"contract check timed out after {time_limit:g}s: expect = "
                              f"{expect!r} backtracks on this output (make it linear, e.g. "
                              r"[^\n]* instead of .*)")
    finally:
        if child.returncode is None:  # timed out or the run was cancelled: no stray child
            child.kill()
            await asyncio.shield(child.wait())
    if child.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no error text"]
        return Verdict(False, f"contract check failed (exit code {child.returncode}): "
                              f"{last[0]}")
    reply = json.loads(out)
    return _judge(expect, bool(reply["matched"]), reply["group"])
