"""A fast reader and writer of the TOML subset crondeck's files are written in, in front of
`tomllib` and `tomli_w`.

`tomllib` spends about 25 µs on every `key = value` line, character by character: a
100,000-job file has half a million such lines, and `crondeck exec` reads a job's fifty
results before every run. `loads` reads line by line the forms people write big jobs files
in and the forms tomli-w writes the state in (`state.toml`, `claims.toml`):

- `[a.b]` and `[[a.b]]` headers of bare or quoted keys;
- `key = value` with a bare or quoted key, and as the value a basic string (with the escapes
  TOML and JSON read alike), a literal string, a decimal integer, a float, a boolean, an
  offset date-time, a one-line array of strings, or an array of strings or integers written
  one item a line (each followed by a comma);
- comments, blank lines, spaces and tabs around all of these.

On anything else (a multi-line string, an inline table, a dotted key, a local date, `1_000`,
a table or key given twice, CRLF) it returns None and the caller uses tomllib, so every error
message is tomllib's and every document read here reads exactly as tomllib reads it. Equal
keys and plain strings come back as one object: a file with 100,000 jobs on a dozen schedules
holds each key, schedule, zone and command once.

`dumps` writes a document of tables, arrays of tables, and keys holding a string, an integer,
a float, a boolean, a date-time or an array of those, exactly as tomli-w 1.x writes it (after
the run, `crondeck exec` writes a job's fifty results); on anything else (an array of short
tables tomli-w would write inline, an inline table, a value TOML has no form for) it returns
None and the caller uses tomli-w, which writes it or says what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

__all__ = ["dumps", "dumps_item", "loads"]

# TOML forbids control characters other than tab in strings and comments.
_CHAR = r"[^\x00-\x08\x0a-\x1f\x7f"
_WS = r"[ \t]*"
_COMMENT = rf"(?:#{_CHAR}]*)?"
_PLAIN = rf'{_CHAR}"\\]*'  # a basic string's text without escapes
_ESCAPED = rf'{_PLAIN}(?:\\.{_PLAIN})*'  # ... and with them (checked by _unescape)
_LITERAL = rf"{_CHAR}']*"
_BARE = r"[A-Za-z0-9_-]+"
_KEY = rf'{_BARE}|"{_ESCAPED}"'
_INT = r"[+-]?(?:0|[1-9][0-9]{0,17})"  # longer numbers: tomllib's limits and errors
_STRING = rf"(?:\"{_ESCAPED}\"|'{_LITERAL}')"
# tomllib's ranges (fromisoformat would take a 60-minute offset); an invalid day: ValueError
_HOUR, _MINUTE = r"(?:[01][0-9]|2[0-3])", r"[0-5][0-9]"
_DATE_TIME = (rf"[0-9]{{4}}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[ T]{_HOUR}:{_MINUTE}"
              rf":{_MINUTE}(?:\.[0-9]{{1,6}})?(?:Z|[+-]{_HOUR}:{_MINUTE})")

# The value's group number says its kind (`Match.lastindex`: a comment captures nothing).
_KEY_VALUE = re.compile(
    rf'{_WS}(?:({_BARE})|"({_ESCAPED})"){_WS}={_WS}(?:'
    rf'"({_PLAIN})"'  # 3: the common string first
    rf"|'({_LITERAL})'"  # 4
    rf"|({_INT})"  # 5
    r"|(true|false)"  # 6
    rf'|"({_ESCAPED})"'  # 7
    rf"|({_DATE_TIME})"  # 8
    r"|([+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+))"  # 9
    rf"|\[((?:{_WS}{_STRING}{_WS},)*(?:{_WS}{_STRING}{_WS},?)?{_WS})\]"  # 10
    r"|(\[)"  # 11: an array continued on the next lines
    rf"){_WS}{_COMMENT}"
)
_HEADER = re.compile(
    rf"{_WS}(\[\[?){_WS}((?:{_KEY})(?:{_WS}\.{_WS}(?:{_KEY}))*){_WS}(\]\]?){_WS}{_COMMENT}"
)
_PART = re.compile(rf"{_WS}({_KEY}){_WS}(?:\.|$)")
_BLANK = re.compile(rf"{_WS}{_COMMENT}")
_ITEM = re.compile(rf'"({_ESCAPED})"|\'({_LITERAL})\'')
_ITEM_LINE = re.compile(rf"{_WS}(?:\"({_ESCAPED})\"|'({_LITERAL})'|({_INT})){_WS},{_WS}{_COMMENT}")
_CLOSE = re.compile(rf"{_WS}\]{_WS}{_COMMENT}")
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)")


def loads(text: str) -> dict[str, Any] | None:
    """The document, or None if `text` is not in the subset (tomllib decides then)."""
    if "\r" in text:
        return None  # CRLF is valid TOML, a lone CR is not: leave both to tomllib
    root: dict[str, Any] = {}
    table = root
    shared: dict[str, str] = {}
    share = shared.setdefault
    arrays: set[int] = set()  # lists made by [[header]]: the only ones a header extends
    kv_match = _KEY_VALUE.fullmatch
    headers: dict[str, list[str] | None] = {}  # a big file repeats one header: read it once
    lines = _lines(text)
    for line in lines:
        m = kv_match(line) if line[:1] != "[" else None
        if m is not None:
            key = m[1]
            if key is None:
                key = _unescape(m[2])
                if key is None:
                    return None
            key = share(key, key)
            if key in table:
                return None
            group = m.lastindex or 0
            value: Any = m[group]
            if group <= 4:  # a string without escapes
                value = share(value, value)
            elif group == 5:
                value = int(value)
            elif group == 6:
                value = value == "true"
            elif group == 7:
                value = _unescape(value)
            elif group == 8:
                try:
                    value = datetime.fromisoformat(value)
                except ValueError:
                    return None
            elif group == 9:
                value = float(value)
            elif group == 10:
                value = _strings(value, share)
            else:
                value = _array(lines, share)
            if value is None:
                return None
            table[key] = value
            continue
        if not line or _BLANK.fullmatch(line):
            continue
        if line in headers:
            keys = headers[line]
        else:
            keys = headers[line] = _header(line, share)
        if keys is None:
            return None
        parent = root
        for part in keys[1:-1]:  # tables on the way, made implicitly if new
            nxt = parent.get(part)
            if nxt is None:
                nxt = parent[part] = {}
            elif type(nxt) is list and id(nxt) in arrays:
                nxt = nxt[-1]  # [[a]] then [a.b]: b of a's last table
            elif type(nxt) is not dict:
                return None
            parent = nxt
        last = keys[-1]
        existing = parent.get(last)
        if keys[0] == "[[":
            if existing is None:
                existing = parent[last] = []
                arrays.add(id(existing))
            elif id(existing) not in arrays:
                return None
            table = {}
            existing.append(table)
        else:
            if existing is not None:
                # defined twice, or made implicitly by an earlier header (tomllib's rules
                # on re-opening such a table are subtler than this reader needs)
                return None
            table = parent[last] = {}
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


def _header(line: str, share: Callable[[str, str], str]) -> list[str] | None:
    """["[" or "[[", key, key, ...] of a header line; None if it is none (or unbalanced)."""
    h = _HEADER.fullmatch(line)
    if h is None or len(h[1]) != len(h[3]):
        return None
    keys = [h[1]]
    for part in _PART.finditer(h[2]):  # the header's pattern already checked the dots
        token: str = part[1]
        key = _unescape(token[1:-1]) if token[0] == '"' else token
        if key is None:
            return None
        keys.append(share(key, key))
    return keys


def _unescape(body: str) -> str | None:
    """A basic string's value from the text between its quotes; None for an escape that
    TOML and JSON do not read alike (\\/, \\e, \\U, a surrogate): tomllib's turn."""
    if "\\" not in body:
        return body
    for m in _ESCAPE.finditer(body):
        e = m[1]
        if len(e) == 1:
            if e not in 'btnfr"\\':
                return None
        elif 0xD800 <= int(e[1:], 16) <= 0xDFFF:
            return None
    import json  # only a string with escapes needs it

    try:
        value: str = json.loads(f'"{body}"', strict=False)  # a tab may stand as it is
    except ValueError:
        return None
    return value


def _strings(inside: str, share: Callable[[str, str], str]) -> list[str] | None:
    """The strings of a one-line array, from the text between its brackets."""
    items: list[str] = []
    for m in _ITEM.finditer(inside):
        basic = m[1]
        if basic is None:
            items.append(share(m[2], m[2]))
        elif "\\" not in basic:
            items.append(share(basic, basic))
        else:
            value = _unescape(basic)
            if value is None:
                return None
            items.append(value)
    return items


def _array(lines: Iterator[str], share: Callable[[str, str], str]) -> list[Any] | None:
    """The items of an array written one a line (`[` ended its first line) up to `]`."""
    items: list[Any] = []
    for line in lines:
        m = _ITEM_LINE.fullmatch(line)
        if m is None:
            if _CLOSE.fullmatch(line):
                return items
            if _BLANK.fullmatch(line):
                continue
            return None
        if m[3] is not None:
            items.append(int(m[3]))
        elif m[2] is not None:
            items.append(share(m[2], m[2]))
        else:
            value = _unescape(m[1])
            if value is None:
                return None
            items.append(value)
    return None


# What tomli-w escapes in a basic string (everything else, tab included, stands as it is).
_ESCAPES = {i: f"\\u{i:04x}" for i in (*range(0x20), 0x7F) if i != 0x09}
_ESCAPES.update({0x08: "\\b", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"',
                 0x5C: "\\\\"})
_BARE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
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


def dumps_item(name: str, table: Mapping[str, Any]) -> str | None:
    """`table` as one `[[name]]` table of an array, to be appended to a file of such tables
    (tomli-w might write a short one inline in a whole document), or None if it is not in
    the forms written here."""
    out: list[str] = []
    try:
        _table(table, _key_part(name), True, out)
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
        part = key if key and _BARE_CHARS.issuperset(key) else _quote(key)
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
