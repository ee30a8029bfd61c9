"""Line numbers for keys of a TOML document, so config errors can say where to look.

tomllib reports positions only for syntax errors; for the values it accepts, this scanner
walks the text once and maps each key path to its line: ("defaults", "timeout"),
("agents", "claude", "command"), ("jobs", 0, "schedule"). It understands the layout people
write (headers, `key = value`, arrays of tables, multi-line strings); anything fancier
(inline tables, dotted keys) falls back to the enclosing table's line.
"""

from __future__ import annotations

import re
from bisect import bisect_right
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
            wanted = {path[:i] for path in paths for i in range(len(path) + 1)}
            found = _search_lines(self._text, wanted)
            if found is None:
                found = scan_key_lines(self._text, wanted)._lines or {}
            lines = found
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


def syntax_error_line(message: str, text: str = "") -> int | None:
    """The line tomllib names in a TOMLDecodeError message ("... (at line 3, column 7)");
    "at end of document" (an array or string left open) is the last line of `text` that
    holds anything."""
    m = _SYNTAX_LINE.search(message)
    if m:
        return int(m.group(1))
    return text.rstrip().count("\n") + 1 if text and "at end of document" in message else None


# What str.splitlines() ends a line at besides "\n" (a text with none counts lines by "\n").
_OTHER_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
_BRACKET_LINE = re.compile(r"\n[^\S\n]*\[")  # a header, or a value's "[" line (after a "\n")
_JOBS_HEADER = re.compile(r"\n[^\S\n]*\[\[[^\S\n]*jobs[^\S\n]*\]\]")


def _search_lines(text: str, tables: set[KeyPath]) -> dict[KeyPath, int] | None:
    """`scan_key_lines(text, tables)` of a text without multi-line strings whose lines end at
    "\n" only (else None), done mostly by searches over the whole text: the `[[jobs]]`
    headers are found at once, every other line starting with "[" is looked at as the scan
    would, and only the lines of the tables asked for are read. Finds what the scan finds."""
    if '"""' in text or "'''" in text or any(brk in text for brk in _OTHER_BREAKS):
        return None
    padded = "\n" + text  # a match's "\n" is at the offset in `text` of the line it starts
    jobs = [m.start() for m in _JOBS_HEADER.finditer(padded)]
    taken = set(jobs)
    others: list[tuple[int, KeyPath]] = []  # the other headers: where, and their table
    arrays: dict[KeyPath, int] = {}
    for start in [m.start() for m in _BRACKET_LINE.finditer(padded)]:
        if start in taken:
            continue
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        m = _ARRAY_HEADER.match(line)
        if m:
            base = _header_path(m.group(1))
            if base == ("jobs",):
                return None  # written otherwise than [[jobs]]: its index needs the scan
            arrays[base] = index = arrays.get(base, -1) + 1
            others.append((start, (*base, index)))
        elif m := _HEADER.match(line):
            others.append((start, _header_path(m.group(1))))
    starts = [at for at, _ in others]  # in order, as found
    n_jobs = len(jobs)
    wanted: list[tuple[int, KeyPath]] = [(jobs[t[1]], t) for t in tables
              if len(t) == 2 and t[0] == "jobs" and type(t[1]) is int and 0 <= t[1] < n_jobs]
    wanted += [(at, table) for at, table in others if table in tables]
    wanted.sort()
    lines: dict[KeyPath, int] = {}
    if () in tables:  # the keys before the first header
        first = min(jobs[:1] + starts[:1], default=len(text))
        _keys_in(text[:first], (), 1, lines)
    counted, number = 0, 1  # the line number at offset `counted`
    for start, table in wanted:
        number += text.count("\n", counted, start)
        counted = start
        lines.setdefault(table, number)
        end = text.find("\n", start)
        if end < 0:
            continue
        after = bisect_right(jobs, start)
        stop = jobs[after] if after < n_jobs else len(text)
        after = bisect_right(starts, start)
        if after < len(starts):
            stop = min(stop, starts[after])
        _keys_in(text[end + 1:stop], table, number + 1, lines)
    return lines


def _keys_in(part: str, table: KeyPath, number: int, lines: dict[KeyPath, int]) -> None:
    """Record the keys of `table` written in `part` (its lines, from line `number` on)."""
    for offset, line in enumerate(part.split("\n")):
        m = _KEY.match(line)
        if m:
            token = m.group(1)
            key = token[1:-1] if token[:1] in "\"'" else token
            lines.setdefault((*table, key), number + offset)
