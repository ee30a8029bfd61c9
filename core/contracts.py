"""The output contract of unattended runs: `fail_if_empty` and the `expect` regex (with its
JSON group) that turn an answer nothing downstream can use into a `failed` run with a reason.

The scheduler checks a contract with `verify_output`: on a long answer the regex runs in a
child interpreter with a time budget, so a pattern that backtracks fails its own run ("contract
check timed out") instead of freezing every other job, the console and `/healthz`.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import contract_match
from .contract_match import JSON_GROUP
from .lazyclass import dataclass

__all__ = ["ANSWER_LIMIT", "CONTRACT_TIME_LIMIT", "INLINE_LIMIT", "INLINE_WORK", "JSON_GROUP",
           "Verdict", "check_output", "compile_expect", "inline_work", "pattern_degree",
           "verify_output"]

ANSWER_LIMIT = 1024 * 1024  # characters of stdout kept for the contract (the tail if more)
# Seconds of wall time a contract check may take. A linear pattern checks a full answer in
# milliseconds; past this the pattern is backtracking and the child is killed.
CONTRACT_TIME_LIMIT = 10.0
# Answers up to this many characters may be checked inline, when the pattern's worst case on
# them is known to be small (`inline_work`): a child interpreter would cost more than that.
INLINE_LIMIT = 8 * 1024
# The most backtracking steps (answer length to the power of the pattern's degree, plus one
# for the search's start positions) a check may take on the loop.
INLINE_WORK = (INLINE_LIMIT + 1) ** 2  # a degree-1 pattern (`a.*b`) on a full 8 KB: ~20 ms
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
    """`check_output` without blocking the event loop. Every check is bounded: inline when
    the pattern's worst case on this answer is small (`inline_work`), else in a child
    interpreter killed after `time_limit` seconds (default CONTRACT_TIME_LIMIT; `re` holds the
    GIL and cannot be interrupted, so neither a thread nor a timer could bound it)."""
    if time_limit is None:
        time_limit = CONTRACT_TIME_LIMIT
    if expect is None or inline_work(expect, len(stdout)) <= INLINE_WORK:
        return check_output(stdout, expect=expect, fail_if_empty=fail_if_empty)
    empty = _empty(stdout, fail_if_empty)
    if empty is not None:
        return empty
    import asyncio  # only a slow pattern needs a child interpreter (and the loop's API)

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


# --- how much a pattern can backtrack ---------------------------------------------------------
#
# A backtracking search on an answer of n characters takes at most about n^(d+1) steps, where
# d (the pattern's degree) counts the unbounded repeats that can each try every length one
# after another: `a.*b` is 1 (quadratic), `.*.*b` 2. A repeat inside a repeat, a repeated
# alternation or a back-reference can be exponential: no degree, always in the child. A
# repeat of one character class right after a character it cannot match (`\}\s*`) adds nothing:
# the runs it tries from different places never overlap.

# The parsed form `re` itself compiles (private modules, without type stubs).
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")
_SMALL_REPEAT = 16  # a bounded repeat up to this many copies is unrolled, not a degree
_ONE_CHAR = (sre.LITERAL, sre.NOT_LITERAL, sre.IN, sre.ANY)
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_CATEGORIES = {
    sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_NOT_DIGIT: r"\D", sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S", sre.CATEGORY_WORD: r"\w", sre.CATEGORY_NOT_WORD: r"\W",
}


def _matches(item: tuple[Any, Any], char: int) -> bool | None:
    """Whether the one-character item matches `char` (None: cannot tell)."""
    op, av = item
    if op is sre.LITERAL:
        return bool(av == char)
    if op is sre.NOT_LITERAL:
        return bool(av != char)
    if op is sre.ANY:
        return True
    if op is not sre.IN:
        return None
    negate, hit = False, False
    for sub, arg in av:
        if sub is sre.NEGATE:
            negate = True
        elif sub is sre.LITERAL:
            hit = hit or arg == char
        elif sub is sre.RANGE:
            hit = hit or arg[0] <= char <= arg[1]
        elif sub is sre.CATEGORY and arg in _CATEGORIES:
            hit = hit or re.match(_CATEGORIES[arg], chr(char)) is not None
        else:
            return None
    return hit != negate


def _last_char(items: list[tuple[Any, Any]]) -> int | None:
    """The character the sequence certainly ends with (None: not one fixed character)."""
    if not items:
        return None
    op, av = items[-1]
    if op is sre.LITERAL:
        return int(av)
    if op is sre.SUBPATTERN:
        return _last_char(list(av[3]))
    return None


def _simple(body: list[tuple[Any, Any]]) -> bool:
    """One character class, or a fixed string: what a repeat can take one way only."""
    return (len(body) == 1 and body[0][0] in _ONE_CHAR) or all(
        o is sre.LITERAL for o, _ in body)


def _cost(items: list[tuple[Any, Any]], fold_case: bool) -> tuple[int, float] | None:
    """(degree, factor): a search takes at most about factor * n^(degree+1) steps."""
    degree, factor = 0, 1.0
    for i, (op, av) in enumerate(items):
        inner: tuple[int, float] | None = (0, 1.0)
        if op in _REPEATS:
            lo, hi, body = av
            body = list(body)
            if not _simple(body):
                return None  # repeats in a repeat, a repeated alternation: exponential
            if hi is sre.MAXREPEAT or hi > _SMALL_REPEAT:
                before = _last_char(items[:i])
                if not (len(body) == 1 and before is not None and not fold_case
                        and _matches(body[0], before) is False):
                    degree += 1  # (else: runs from different places never overlap)
            else:
                factor *= hi - lo + 1  # the lengths it can try
        elif op is sre.BRANCH:
            costs = [_cost(list(b), fold_case) for b in av[1]]
            if any(c is None for c in costs):
                return None
            known = [c for c in costs if c is not None]
            inner = (max(d for d, _ in known), sum(f for _, f in known))
        elif op is sre.SUBPATTERN:
            inner = _cost(list(av[3]), fold_case or bool(av[1] & sre.SRE_FLAG_IGNORECASE))
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            inner = _cost(list(av[1]), fold_case)
        elif op is sre.ATOMIC_GROUP:
            inner = _cost(list(av), fold_case)
        elif op not in (*_ONE_CHAR, sre.AT):
            return None  # back-references, conditionals: no bound known
        if inner is None:
            return None
        degree, factor = degree + inner[0], factor * inner[1]
    return degree, factor


@lru_cache(maxsize=256)
def _pattern_cost(pattern: str) -> tuple[int, float] | None:
    try:
        parsed = sre_parse.parse(pattern, re.DOTALL)
        return _cost(list(parsed.data), bool(parsed.state.flags & re.IGNORECASE))
    except (re.error, RecursionError, OverflowError):
        return None


def pattern_degree(pattern: str) -> int | None:
    """The pattern's degree: a search of n characters takes at most about n^(degree+1)
    steps (times a constant of the pattern's own); None when no such bound is known (it may
    be exponential)."""
    cost = _pattern_cost(pattern)
    return None if cost is None else cost[0]


def inline_work(pattern: str, length: int) -> float:
    """The most steps a search of `pattern` on `length` characters can take (inf when
    unbounded or longer than INLINE_LIMIT: such a check runs in the child)."""
    cost = _pattern_cost(pattern)
    if cost is None or length > INLINE_LIMIT:
        return math.inf
    degree, factor = cost
    return factor * float(length + 1) ** (degree + 1)
