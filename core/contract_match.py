"""The regex half of an output contract, runnable as a script on its own.

Python's `re` holds the GIL for a whole search and cannot be interrupted, so a backtracking
pattern on a long answer would freeze the event loop (a thread does not help). The scheduler
runs this file in a child interpreter (`python -I -S contract_match.py`) that it can kill when
the time budget is spent; it therefore imports nothing but the standard library.
"""

from __future__ import annotations

import json
import re
import sys

__all__ = ["JSON_GROUP", "find", "main"]

JSON_GROUP = "json"


def find(stdout: str, expect: str) -> tuple[bool, str | None]:
    """(matched, the group kept as JSON or None). The group is the named group `json` if the
    pattern has one, else its only group when that looks like JSON (starts with `{` or `[`).
    `.` matches newlines too (JSON answers span lines)."""
    m = re.compile(expect, re.DOTALL).search(stdout)
    if m is None:
        return False, None
    if JSON_GROUP in m.re.groupindex:
        return True, m.group(JSON_GROUP)
    if m.re.groups == 1 and (m.group(1) or "").lstrip()[:1] in ("{", "["):
        return True, m.group(1)
    return True, None


def main() -> None:
    """stdin: {"expect": ..., "stdout": ...}; stdout: {"matched": ..., "group": ...}."""
    request = json.load(sys.stdin)
    matched, group = find(request["stdout"], request["expect"])
    json.dump({"matched": matched, "group": group}, sys.stdout)


if __name__ == "__main__":
    main()
