"""A fast reader for the plain subset of TOML that big jobs files are written in, in front of
`tomllib`.

`tomllib` spends about 25 µs on every `key = value` line; a 100,000-job file has half a
million of them. `loads` reads line by line the forms such files are made of: `[table]`,
`[a.b]` and `[[array]]` headers of bare keys, `key = value` with a bare key and a basic or
literal string without escapes, a decimal integer, a boolean or a one-line array of such
strings, comments and blank lines. On anything else (a quoted or dotted key, an escape, a
float, a date, an inline table, a table defined twice, a key given twice) it returns None
and the caller uses tomllib, so every error message is tomllib's and every accepted file
reads exactly as tomllib reads it.

Equal strings come back as one object: a file with 100,000 jobs on a dozen schedules holds
each key, schedule, zone and command once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = ["loads"]

# TOML forbids control characters other than tab in strings and comments.
_CHAR = r"[^\x00-\x08\x0a-\x1f\x7f"
_COMMENT = rf"(?:#{_CHAR}]*)?"
_BASIC = rf'"({_CHAR}"\\]*)"'
_LITERAL = rf"'({_CHAR}']*)'"
_INT = r"([+-]?(?:0|[1-9][0-9]{0,17}))"  # longer numbers: tomllib's limits and errors
_STRING_ITEM = rf'(?:"{_CHAR}"\\]*"|\'{_CHAR}\']*\')'
_ARRAY = rf"\[((?:[ \t]*{_STRING_ITEM}[ \t]*,)*(?:[ \t]*{_STRING_ITEM}[ \t]*,?)?[ \t]*)\]"

_KEY_VALUE = re.compile(
    rf"[ \t]*([A-Za-z0-9_-]+)[ \t]*=[ \t]*"
    rf"(?:{_BASIC}|{_LITERAL}|{_INT}|(true|false)|{_ARRAY})[ \t]*{_COMMENT}"
)
_HEADER = re.compile(
    rf"[ \t]*(\[\[?)[ \t]*([A-Za-z0-9_-]+(?:[ \t]*\.[ \t]*[A-Za-z0-9_-]+)*)[ \t]*(\]\]?)"
    rf"[ \t]*{_COMMENT}"
)
_BLANK = re.compile(rf"[ \t]*{_COMMENT}")
_ITEM = re.compile(rf'"({_CHAR}"\\]*)"|\'({_CHAR}\']*)\'')


def loads(text: str) -> dict[str, Any] | None:
    """The document, or None if `text` is not in the subset (tomllib decides then)."""
    if "\r" in text:
        return None  # CRLF is valid TOML, a lone CR is not: leave both to tomllib
    root: dict[str, Any] = {}
    table = root
    shared: dict[str, str] = {}
    share = shared.setdefault
    defined: set[int] = {id(root)}  # tables given their own header (or the root)
    arrays: set[int] = set()  # lists made by [[header]]: the only ones a header extends
    kv_match = _KEY_VALUE.fullmatch
    headers: dict[str, list[str] | None] = {}  # a big file repeats one header: read it once
    for line in _lines(text):
        m = kv_match(line) if line[:1] != "[" else None
        if m is not None:
            key = share(m[1], m[1])
            if key in table:
                return None
            group = m.lastindex or 0  # the value's group: the comment captures nothing
            value = m[group]
            if group <= 3:  # a basic or literal string
                table[key] = share(value, value)
            elif group == 4:
                table[key] = int(value)
            elif group == 5:
                table[key] = value == "true"
            else:
                items = (i[1] if i[1] is not None else i[2] for i in _ITEM.finditer(value))
                table[key] = [share(s, s) for s in items]
            continue
        if not line:
            continue
        if _BLANK.fullmatch(line):
            continue
        if line in headers:
            keys = headers[line]
        else:
            keys = headers[line] = _header(line, share)
        if keys is None:
            return None
        parent = root
        for part in keys[1:-1]:  # implicitly created tables on the way; an array: tomllib
            nxt = parent.get(part)
            if nxt is None:
                nxt = parent[part] = {}
            elif not isinstance(nxt, dict):
                return None
            parent = nxt
        last = keys[-1]
        existing = parent.get(last)
        if keys[0] == "[[":
            if len(keys) != 2:
                return None
            if existing is None:
                existing = parent[last] = []
                arrays.add(id(existing))
            elif id(existing) not in arrays:
                return None
            table = {}
            existing.append(table)
        else:
            if existing is None:
                existing = parent[last] = {}
            elif not isinstance(existing, dict) or id(existing) in defined or existing:
                # defined twice, or holding keys already (tomllib's rules on re-opening
                # an implicitly created table are subtler than this reader needs)
                return None
            defined.add(id(existing))
            table = existing
    return root


CHUNK = 1 << 20  # characters split into lines at a time


def _lines(text: str) -> Iterator[str]:
    """`text.split("\n")` (but for an empty last line), a chunk at a time: a big file's
    lines are not all held at once."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start + CHUNK)
        if end < 0:
            end = size
        yield from text[start:end].split("\n")
        start = end + 1


def _header(line: str, share: Any) -> list[str] | None:
    """["[" or "[[", key, key, ...] of a header line; None if it is none (or unbalanced)."""
    h = _HEADER.fullmatch(line)
    if h is None or len(h[1]) != len(h[3]):
        return None
    return [h[1], *(share(k, k) for k in (part.strip(" \t") for part in h[2].split(".")))]
