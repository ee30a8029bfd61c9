"""A fast reader for the TOML that crondeck writes its state in (`state.toml`, `claims.toml`),
in front of `tomllib`, and a fast writer in front of `tomli_w`.

`crondeck exec` reads the state before every run, and `tomllib` spends most of that on a
job's fifty results, character by character. `loads` reads line by line the forms tomli-w
and the store write: `[a."b c".d]` and `[[a.b]]` headers, `key = value` with a bare or
quoted key and a basic string (the escapes tomli-w writes), an integer, a float, a boolean,
an offset date-time, `[]`, a one-line array of strings, or an array of strings or integers
one item a line. On anything
else (a comment, a literal or multi-line string, an inline table, a local date, a dotted
key, a table or key given twice) it returns None and the caller uses tomllib, so every error
is tomllib's and every document read here reads as tomllib reads it.

`dumps` writes a document of tables, arrays of tables, and keys holding a string, an integer,
a float, a boolean, a date-time or an array of those, exactly as tomli-w 1.x writes it (after
the run, `crondeck exec` writes a job's fifty results); on anything else (an array of short
tables tomli-w would write inline, an inline table, a value TOML has no form for) it returns
None and the caller uses tomli-w, which writes it or says what is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

__all__ = ["dumps", "loads"]

_STRING = r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\.)*"'
_KEY = rf"[A-Za-z0-9_-]+|{_STRING}"
_KEY_VALUE = re.compile(
    rf"({_KEY}) = (?:({_STRING})|([+-]?(?:0|[1-9][0-9]{{0,17}}))|(true|false)"
    r"|(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d))"
    r"|([+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)|(\[\]?)"
    rf"|(\[{_STRING}(?:, {_STRING})*\]))"
)
_HEADER = re.compile(rf"(\[\[?)((?:{_KEY})(?:\.(?:{_KEY}))*)(\]\]?)")
_PART = re.compile(rf"({_KEY})(?:\.|$)")
_ITEM = re.compile(rf"[ \t]*(?:({_STRING})|([+-]?(?:0|[1-9][0-9]{{0,17}})))[ \t]*,")
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)")


def _plain_escapes(quoted: str) -> bool:
    """Whether every escape is one that TOML and JSON read alike: any other (\\/, \\e, \\U,
    a surrogate) is left to tomllib."""
    for m in _ESCAPE.finditer(quoted):
        e = m[1]
        if len(e) == 1:
            if e not in 'btnfr"\\':
                return False
        elif 0xD800 <= int(e[1:], 16) <= 0xDFFF:
            return False
    return True


def _string(quoted: str) -> Any:
    """A basic string's value (or a one-line array of them, read as JSON alike)."""
    if "\\" not in quoted:
        if quoted[0] == '"':  # no escapes: the text between the quotes is the value
            return quoted[1:-1]
    elif not _plain_escapes(quoted):
        return None
    try:
        value: Any = json.loads(quoted, strict=False)  # a tab may stand as it is
    except ValueError:
        return None
    return value


def _key(token: str) -> str | None:
    return _string(token) if token[0] == '"' else token


def _path(text: str) -> list[str] | None:
    parts: list[str] = []
    end = 0
    for m in _PART.finditer(text):
        if m.start() != end:
            return None
        key = _key(m[1])
        if key is None:
            return None
        parts.append(key)
        end = m.end()
    return parts if end == len(text) else None


def loads(text: str) -> dict[str, Any] | None:
    """The document, or None if `text` is not in the subset (tomllib decides then)."""
    if "\r" in text:
        return None
    root: dict[str, Any] = {}
    table = root
    arrays: set[int] = set()  # lists made by [[header]]
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        if line[0] == "[":
            h = _HEADER.fullmatch(line)
            if h is None or len(h[1]) != len(h[3]):
                return None
            path = _path(h[2])
            if path is None:
                return None
            parent = root
            for part in path[:-1]:
                nxt = parent.get(part)
                if nxt is None:
                    nxt = parent[part] = {}
                elif isinstance(nxt, list) and id(nxt) in arrays:
                    nxt = nxt[-1]
                elif not isinstance(nxt, dict):
                    return None
                parent = nxt
            last = path[-1]
            existing = parent.get(last)
            if h[1] == "[[":
                if existing is None:
                    existing = parent[last] = []
                    arrays.add(id(existing))
                elif id(existing) not in arrays:
                    return None
                table = {}
                existing.append(table)
            else:
                if existing is not None:  # named again: tomllib's rules decide
                    return None
                table = parent[last] = {}
            continue
        m = _KEY_VALUE.fullmatch(line)
        if m is None:
            return None
        key = _key(m[1])
        if key is None or key in table:
            return None
        value: Any
        if m[2] is not None:
            value = _string(m[2])
            if value is None:
                return None
        elif m[3] is not None:
            value = int(m[3])
        elif m[4] is not None:
            value = m[4] == "true"
        elif m[5] is not None:
            try:
                value = datetime.fromisoformat(m[5])
            except ValueError:
                return None
        elif m[6] is not None:
            if "." not in m[6] and "e" not in m[6] and "E" not in m[6]:
                return None  # an integer out of range, or with a leading zero
            value = float(m[6])
        elif m[8] is not None:
            value = _string(m[8])
            if value is None:
                return None
        elif m[7] == "[]":
            value = []
        else:
            value = _array(lines)
            if value is None:
                return None
        table[key] = value
    return root


def _array(lines: Any) -> list[Any] | None:
    """The items of an array written one a line (`[` ended its first line) up to `]`."""
    items: list[Any] = []
    for line in lines:
        if line == "]":
            return items
        m = _ITEM.fullmatch(line)
        if m is None:
            return None
        if m[1] is not None:
            item = _string(m[1])
            if item is None:
                return None
            items.append(item)
        else:
            items.append(int(m[2]))
    return None


# What tomli-w escapes in a basic string (everything else, tab included, stands as it is).
_ESCAPES = {i: f"\\u{i:04x}" for i in (*range(0x20), 0x7F) if i != 0x09}
_ESCAPES.update({0x08: "\\b", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"',
                 0x5C: "\\\\"})
_BARE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_INLINE_LIMIT = 100  # tomli-w's line length: an array of tables this short is written inline


class _Unwritable(Exception):
    """Not in the forms `dumps` writes: tomli-w's turn."""


def dumps(doc: Mapping[str, Any]) -> str | None:
    """`doc` as tomli-w 1.x writes it, or None if it is not in the forms written here."""
    out: list[str] = []
    try:
        _table(doc, "", False, out)
    except _Unwritable:
        return None
    return "".join(out)


def _quote(text: str) -> str:
    return f'"{text.translate(_ESCAPES)}"'


def _key_part(key: object) -> str:
    part = _KEY_PARTS.get(key) if type(key) is str else None
    if part is None:
        if not isinstance(key, str):
            raise _Unwritable
        part = key if key and _BARE.issuperset(key) else _quote(key)
        if len(_KEY_PARTS) < 4096:
            _KEY_PARTS[key] = part
    return part


_KEY_PARTS: dict[str, str] = {}  # a state repeats the same few keys in every result


def _literal(value: object, nest: int = 0) -> str:
    kind = type(value)
    if kind is str:
        return _quote(value)  # type: ignore[arg-type]
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float or kind is datetime:
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, int | float | date):  # a datetime is a date
        return str(value)
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        indent = "    " * (nest + 1)
        items = ",\n".join(indent + _literal(item, nest + 1) for item in value)
        return f"[\n{items},\n{'    ' * nest}]"
    raise _Unwritable  # an inline table, a time, None, anything else


def _is_table(value: object) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _table(table: Mapping[str, Any], name: str, in_array: bool, out: list[str]) -> None:
    """tomli-w's order: the header, the table's own keys, then its tables one by one."""
    literals: list[str] = []
    tables: list[tuple[str, Any, bool]] = []
    for key, value in table.items():
        kind = type(value)
        if kind is str or kind is int or kind is bool or kind is datetime or kind is float:
            literals.append(f"{_key_part(key)} = {_literal(value)}\n")
        elif _is_table(value):
            tables.append((key, value, False))
        elif (isinstance(value, list | tuple) and value
              and all(_is_table(v) for v in value)):
            if not _too_long_inline(value[0]):
                raise _Unwritable  # tomli-w may write them inline: its rules decide
            tables.extend((key, v, True) for v in value)
        else:
            literals.append(f"{_key_part(key)} = {_literal(value)}\n")
    written = False
    if in_array or (name and (literals or not tables)):
        written = True
        out.append(f"[[{name}]]\n" if in_array else f"[{name}]\n")
    if literals:
        written = True
        out.extend(literals)
    for key, value, in_aot in tables:
        if written:
            out.append("\n")
        written = True
        part = _key_part(key)
        _table(value, f"{name}.{part}" if name else part, in_aot, out)


def _too_long_inline(table: Mapping[str, Any]) -> bool:
    """Whether tomli-w surely writes `table` of an array as a table of its own: its keys
    other than tables, written inline, already pass the line length or take two lines."""
    inline = ", ".join(f"{_key_part(k)} = {_literal(v)}" for k, v in table.items()
                       if not _is_table(v))
    return len(inline) + len("    {  },") > _INLINE_LIMIT or "\n" in inline
