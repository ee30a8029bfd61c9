"""Line numbers for keys of a TOML document, so config errors can say where to look.

tomllib reports positions only for syntax errors; for the values it accepts, this scanner
walks the text once and maps each key path to its line: ("defaults", "timeout"),
("agents", "claude", "command"), ("jobs", 0, "schedule"). It understands the layout people
write (headers, `key = value`, arrays of tables, multi-line strings); anything fancier
(inline tables, dotted keys) falls back to the enclosing table's line.
"""

from __future__ import annotations

import re
from collections.abc import Container
from functools import lru_cache

__all__ = ["KeyLines", "scan_key_lines", "syntax_error_line"]

KeyPath = tuple[str | int, ...]

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*(.+?)\s*\]\]")
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:=|\.)""")
_SYNTAX_LINE = re.compile(r"at line (\d+)")


def _split_dotted(text: str) -> list[str]:
    parts: list[str] = []
    for m in re.finditer(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^.\s]+)\s*(?:\.|$)""", text):
        token = m.group(1)
        parts.append(token[1:-1] if token[:1] in "\"'" else token)
    return parts


@lru_cache(maxsize=256)
def _header_path(text: str) -> tuple[str, ...]:
    """A header's dotted name as a path (a 10,000-job file repeats `jobs` 10,000 times)."""
    return tuple(_split_dotted(text))


class KeyLines:
    """Key path -> 1-based line number; `get()` falls back to the nearest known parent."""

    def __init__(self, lines: dict[KeyPath, int] | None = None, *, text: str = "") -> None:
        self._lines = lines
        self._text = text

    @classmethod
    def deferred(cls, text: str) -> KeyLines:
        """Scan `text` only when a line is first asked for: a valid file needs none, and
        scanning a 10,000-job file costs a third of a second."""
        return cls(None, text=text)

    def get(self, *path: str | int) -> int | None:
        if self._lines is None:
            self._lines = scan_key_lines(self._text)._lines or {}
            self._text = ""
        return _nearest(self._lines, tuple(path))

    def lines_for(self, paths: list[KeyPath]) -> list[int | None]:
        """`get` of each path, at once. Not yet scanned, the text is scanned for the keys of
        the tables the paths name only (a big file's warnings name a few of its tables, and
        recording every key of 100,000 jobs costs more than the rest of the scan)."""
        if not paths:
            return []
        lines = self._lines
        if lines is None:
            wanted = {path[:i] for path in paths for i in range(len(path))}
            lines = scan_key_lines(self._text, wanted)._lines or {}
        return [_nearest(lines, path) for path in paths]


def _nearest(lines: dict[KeyPath, int], key: KeyPath) -> int | None:
    """The line of `key`, else of its nearest parent that has one."""
    while key:
        if key in lines:
            return lines[key]
        key = key[:-1]
    return None


def scan_key_lines(text: str, tables: Container[KeyPath] | None = None) -> KeyLines:
    """Map key paths to lines (see module docstring). With `tables`, the keys of those
    tables only (and every header)."""
    lines: dict[KeyPath, int] = {}
    arrays: dict[KeyPath, int] = {}
    table: KeyPath = ()
    keys = tables is None or table in tables  # record the keys of the table we are in
    in_multiline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped[0] == "[":  # a header (a key never starts with "[")
            m = _ARRAY_HEADER.match(line)
            if m:
                base = _header_path(m.group(1))
                index = arrays.get(base, -1) + 1
                arrays[base] = index
                table = (*base, index)
                lines.setdefault(table, number)
                keys = tables is None or table in tables
                continue
            m = _HEADER.match(line)
            if m:
                table = _header_path(m.group(1))
                lines.setdefault(table, number)
                keys = tables is None or table in tables
                continue
        if not keys and '"""' not in line and "'''" not in line:
            continue  # no key of ours, and no multi-line string starts here
        m = _KEY.match(line)
        if m:
            if keys:
                token = m.group(1)
                key = token[1:-1] if token[:1] in "\"'" else token
                lines.setdefault((*table, key), number)
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    in_multiline = quote
                    break
    return KeyLines(lines)


def syntax_error_line(message: str) -> int | None:
    """The line tomllib names in a TOMLDecodeError message ("... (at line 3, column 7)")."""
    m = _SYNTAX_LINE.search(message)
    return int(m.group(1)) if m else None
