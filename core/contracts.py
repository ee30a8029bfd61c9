"""The output contract of unattended runs: `fail_if_empty` and the `expect` regex (with its
JSON group) that turn an answer nothing downstream can use into a `failed` run with a reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["ANSWER_LIMIT", "JSON_GROUP", "Verdict", "check_output", "compile_expect"]

ANSWER_LIMIT = 1024 * 1024  # characters of stdout kept for the contract (the tail if more)
JSON_GROUP = "json"


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


def check_output(stdout: str, *, expect: str | None, fail_if_empty: bool) -> Verdict:
    """Apply `fail_if_empty` (whitespace counts as empty) and the `expect` contract.

    The JSON kept is the named group `json` if the pattern has one, else its only group when
    that group looks like JSON (starts with `{` or `[`); a group that should be JSON and is
    not fails the contract, so a downstream system never receives something it cannot parse.
    """
    if fail_if_empty and not stdout.strip():
        return Verdict(False, "empty output: the agent answered nothing (fail_if_empty; set "
                              "fail_if_empty = false if that is fine)")
    if expect is None:
        return Verdict(True)
    m = compile_expect(expect).search(stdout)
    if m is None:
        return Verdict(False, f"output contract: no match for expect = {expect!r}")
    group: str | None = None
    if JSON_GROUP in m.re.groupindex:
        group = m.group(JSON_GROUP)
    elif m.re.groups == 1 and (m.group(1) or "").lstrip()[:1] in ("{", "["):
        group = m.group(1)
    if group is None:
        return Verdict(True)
    try:
        return Verdict(True, contract=json.loads(group))
    except ValueError as exc:
        shown = group if len(group) <= 200 else group[:200] + "…"
        return Verdict(False, f"output contract: the matched group is not valid JSON ({exc}): "
                              f"{shown}")
