"""Editing the operator's jobs file in place: the smallest change to the text as they wrote
it that turns one validated `Config` into another, so comments, key order, blank lines and
the file's own style survive a save from the app.

`edit_jobs_text(text, old, new)` takes the file's text (which reads as `old`) and returns it with
the differences between `old` and `new` applied:

- a job whose keys are all unchanged is left byte for byte as it was, however its values
  are spelled (`timeout = "1800s"` is not rewritten as "30m");
- a changed key is replaced where it stands, its trailing comment kept, and a string keeps
  its quoting where the new value allows (literal, multi-line);
- a key the new config no longer has is removed (a form field cleared, "default" chosen);
  a key it newly has is appended to the job's table;
- a new job is appended in the file's style: a `[[jobs]]` table after the last one, or an
  inline table in a `jobs = [...]` array; a renamed job keeps its place;
- a deleted job's table goes with its own comments: those inside it, those directly above
  its `[[jobs]]` line and those directly after its last key (no blank line between);
  comments set apart by blank lines belong to what follows and stay.

Jobs are found by name, so the same change can be applied to a file someone else has
edited meanwhile (`edit_jobs_text` onto their text), as long as they kept the jobs it touches.

tomlkit is imported here and nowhere else in the core: the state files crondeck owns are
written with tomli-w.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import (
    AoT,
    Array,
    Comment,
    InlineTable,
    Item,
    String,
    StringType,
    Table,
    Trivia,
    Whitespace,
)

from .atomic import to_toml_value
from .config_model import Config
from .tomllines import scan_key_lines

__all__ = ["FileChanged", "JobsFileError", "edit_jobs_text", "unified_diff"]


class JobsFileError(ValueError):
    """The change cannot be made to this text (a job it edits is not there, or the text is
    not TOML)."""


@dataclass
class FileChanged(Exception):
    """The jobs file on disk is no longer the text the change was made against: someone
    else edited (or removed) it since it was read."""

    path: Path
    read: str  # the text the app read
    disk: str | None  # the text on disk now (None: the file is gone)

    def __str__(self) -> str:
        what = "removed" if self.disk is None else "changed on disk"
        return f"{self.path} was {what} since crondeck read it"

    def diff(self) -> str:
        """What changed on disk, as a unified diff from the text read."""
        return unified_diff(self.read, self.disk or "", f"{self.path.name} (as read)",
                            f"{self.path.name} (on disk now)")


def unified_diff(a: str, b: str, a_name: str, b_name: str) -> str:
    return "".join(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                        a_name, b_name, n=2))


def edit_jobs_text(text: str, old: Config, new: Config) -> str:
    """`text` (a file that reads as `old`) with the differences between `old` and `new`
    made in place. Raises JobsFileError if `text` is not TOML or lacks a job to change."""
    before, after = _doc(old), _doc(new)
    if len(before.get("jobs", ())) >= _WINDOWED and all(
            before.get(k) == after.get(k) for k in ("defaults", "scheduler", "agents")):
        edited = _render_windows(text, before.get("jobs", []), after.get("jobs", []))
        if edited is not None:
            return edited
    return _render(text, before, after)


# tomlkit reads a big file slowly (the save would hold up the scheduler's loop): from this
# many jobs on, only the tables around the jobs that change are read, edited and spliced back
_WINDOWED = 200


def _render(text: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    try:
        doc = tomlkit.parse(text)
    except (TOMLKitError, RecursionError, ValueError) as exc:  # deep nesting, huge numbers
        raise JobsFileError(f"not valid TOML: {exc}") from None
    for section in ("defaults", "scheduler"):
        _sync_section(doc, (section,), before.get(section, {}), after.get(section, {}))
    agents_before, agents_after = before.get("agents", {}), after.get("agents", {})
    for name in agents_before.keys() | agents_after.keys():
        if name not in agents_after:
            _remove_section(doc, ("agents", name))
        else:
            _sync_section(doc, ("agents", name), agents_before.get(name, {}), agents_after[name])
    _sync_jobs(doc, before.get("jobs", []), after.get("jobs", []))
    return doc.as_string()


def _render_windows(text: str, old: list[dict[str, Any]],
                    new: list[dict[str, Any]]) -> str | None:
    """`_render` on the stretches of `text` around the jobs that change (each from the
    `[[jobs]]` line of the job before them to that of the job after them), spliced back;
    None when the file's layout does not allow it (then the whole file is read)."""
    lines = scan_key_lines(text)
    starts = [0]
    for row in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(row))
    headers: list[int] = []
    for i in range(len(old)):
        number = lines.get("jobs", i)
        if number is None or (headers and starts[number - 1] <= headers[-1]):
            return None
        headers.append(starts[number - 1])
    regions: list[list[int]] = []  # [old from, old to, new from, new to]
    matcher = difflib.SequenceMatcher(a=_names(old), b=_names(new), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            regions.append([i1, i2, j1, j2])
            continue
        regions += [[i1 + k, i1 + k + 1, j1 + k, j1 + k + 1]
                    for k in range(i2 - i1) if old[i1 + k] != new[j1 + k]]
    windows: list[list[int]] = []
    for i1, i2, j1, j2 in regions:  # one unchanged job on each side, where there is one
        lo = [i1 - 1, j1 - 1] if i1 > 0 and j1 > 0 else [0, 0]
        hi = [i2 + 1, j2 + 1] if i2 < len(old) and j2 < len(new) else [len(old), len(new)]
        if windows and lo[0] < windows[-1][1]:
            windows[-1][1], windows[-1][3] = hi[0], hi[1]
        else:
            windows.append([lo[0], hi[0], lo[1], hi[1]])
    for i1, i2, j1, j2 in reversed(windows):
        start = headers[i1] if i1 > 0 else 0  # the first job's comments above it, too
        end = headers[i2] if i2 < len(old) else len(text)
        part = text[start:end]
        try:
            jobs = tomllib.loads(part).get("jobs")
        except tomllib.TOMLDecodeError:
            return None
        if not isinstance(jobs, list) or _names(jobs) != _names(old[i1:i2]):
            return None  # other tables between the jobs, or a header the scan misread
        text = text[:start] + _render(part, {"jobs": old[i1:i2]},
                                      {"jobs": new[j1:j2]}) + text[end:]
    return text


def _doc(config: Config) -> dict[str, Any]:
    return to_toml_value(config.to_dict())  # type: ignore[no-any-return]


# --- values ------------------------------------------------------------------------------


def _value(value: Any, like: Any = None) -> Item:
    """A tomlkit item for `value`, written like `like` (the item it replaces) where it can:
    a string keeps literal or multi-line quoting, a table stays inline."""
    if isinstance(value, str):
        kind = like.type if isinstance(like, String) else None
        multiline = "\n" in value or kind in (StringType.MLB, StringType.MLL)
        literal = kind in (StringType.SLL, StringType.MLL) and "'" not in value and (
            multiline or "\n" not in value) and all(c >= " " or c in "\t\n" for c in value)
        if multiline and not literal and value.endswith('"'):
            multiline = False  # `"""…""""` would end the string early: keep it escaped
        if multiline:
            # a newline right after the opening quotes is not part of the value: start the
            # text on its own line, as people write it (and as `like` did, if it did)
            opened = not isinstance(like, String) or like.as_string()[3:4] in ("\n", "\r")
            item = tomlkit.string(value, literal=literal, multiline=True)
            body = item.as_string()[3:-3]  # escaped as tomlkit writes it
            if not opened or body.startswith(("\n", "\r")):
                return item
            return String(item.type, value, "\n" + body, Trivia())
        if literal:
            return tomlkit.string(value, literal=True)
        return tomlkit.item(value)
    if isinstance(value, Mapping):
        table = tomlkit.inline_table()
        for key, item in value.items():
            table[key] = _value(item)
        return table
    if isinstance(value, list | tuple):
        array = tomlkit.array()
        array.extend(_value(v) for v in value)
        return array
    plain: Item = tomlkit.item(value)
    return plain


def _sync(table: Any, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Change `table` (a tomlkit table or inline table that reads as `old`) to read as
    `new`, touching only the keys that differ."""
    for key in [k for k in old if k not in new]:
        if key in table:
            del table[key]
    for key, value in new.items():
        if key in old and old[key] == value:
            continue
        current = table.get(key) if key in table else None
        if (isinstance(value, Mapping) and isinstance(old.get(key), Mapping)
                and isinstance(current, Table | InlineTable)):
            _sync(current, old[key], value)  # env = {...}: only the variables that changed
            continue
        if current is None:
            _add_key(table, key, _value(value))
        else:
            table[key] = _value(value, current)  # in place: its comment stays


def _add_key(table: Any, key: str, item: Item) -> None:
    """Add a key after the table's last one: before its sub-tables (a key below `[jobs.env]`
    would belong to env) and before the comments that trail it."""
    if isinstance(table, InlineTable):
        table[key] = item
        return
    body = table.value.body if isinstance(table, Table) else table.body
    at = 0
    for i, (k, value) in enumerate(body):
        if isinstance(value, Table | AoT):
            break
        if k is not None:
            at = i + 1
    container = table.value if isinstance(table, Table) else table
    if at >= len(body):
        container.append(key, item)
    else:
        container._insert_at(at, key, item)  # tomlkit has no public insert


# --- sections ----------------------------------------------------------------------------


def _lookup(doc: Any, path: tuple[str, ...]) -> Any:
    node = doc
    for part in path:
        if not hasattr(node, "get") or part not in node:
            return None
        node = node[part]
    return node


def _sync_section(doc: Any, path: tuple[str, ...], old: Mapping[str, Any],
                  new: Mapping[str, Any]) -> None:
    if old == new:
        return
    table = _lookup(doc, path)
    if table is None:
        parent = doc
        for part in path[:-1]:
            if part not in parent:
                parent[part] = tomlkit.table(is_super_table=True)
            parent = parent[part]
        parent[path[-1]] = table = tomlkit.table()
    _sync(table, old, new)


def _remove_section(doc: Any, path: tuple[str, ...]) -> None:
    parent = _lookup(doc, path[:-1])
    if parent is not None and path[-1] in parent:
        del parent[path[-1]]


# --- jobs --------------------------------------------------------------------------------


def _names(jobs: Any) -> list[str]:
    return [str(j.get("name")) for j in jobs]


def _sync_jobs(doc: Any, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    if old == new:
        return
    jobs = doc.get("jobs") if "jobs" in doc else None
    if jobs is not None and not isinstance(jobs, AoT | Array):
        raise JobsFileError("jobs is not an array of tables")
    before, after = _names(old), _names(new)
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            # same place: the same job, or one renamed where it stands
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                if old[i] != new[j]:
                    _sync(_find(jobs, before[i]), old[i], new[j])
            continue
        for i in range(i2 - 1, i1 - 1, -1):
            _delete_job(doc, jobs, _index(jobs, before[i]))
        anchor = before[i1 - 1] if i1 > 0 else None
        for j in range(j2 - 1, j1 - 1, -1):
            jobs = _insert_job(doc, jobs, anchor, new[j])


def _index(jobs: Any, name: str) -> int:
    if jobs is not None:
        for i, table in enumerate(jobs):
            if isinstance(table, Mapping) and table.get("name") == name:
                return i
    raise JobsFileError(f"job {name!r} is not in the file")


def _find(jobs: Any, name: str) -> Any:
    return jobs[_index(jobs, name)]


def _insert_job(doc: Any, jobs: Any, after: str | None, entry: dict[str, Any]) -> Any:
    """Add `entry` after the job named `after` (at the start when None; at the end when the
    file has no jobs yet), as a `[[jobs]]` table or an inline one, as the file has them."""
    if jobs is None:
        aot = tomlkit.aot()
        aot.append(_job_table(entry))
        if not doc.as_string().endswith("\n\n") and doc.as_string().strip():
            doc.add(tomlkit.nl())
        doc.append("jobs", aot)
        return doc["jobs"]
    position = _index(jobs, after) + 1 if after is not None else 0
    if isinstance(jobs, Array):
        item = _value(entry)
        assert isinstance(item, InlineTable)
        if len(jobs) and jobs[0].as_string().startswith("{ "):  # the file's `{ a = 1 }`
            item.value.body[0][1].trivia.indent = " "
            item.append(None, Whitespace(" "))
        if position >= len(jobs):
            jobs.append(item)
        else:
            jobs.insert(position, item)
        return jobs
    table = _job_table(entry)
    if position >= len(jobs):
        last = jobs[-1] if len(jobs) else None
        if last is not None and not _ends_blank(last):
            _container(last).append(None, tomlkit.nl())  # a blank line between tables
        jobs.append(table)
    else:
        jobs.insert(position, _job_table(entry, blank_after=True))
    return jobs


def _job_table(entry: dict[str, Any], *, blank_after: bool = False) -> Table:
    table = tomlkit.table()
    for key, value in entry.items():
        table[key] = _value(value)
    if blank_after:  # another table follows
        table.add(tomlkit.nl())
    return table


def _container(table: Any) -> Container:
    """The container whose end is the end of `table` in the text (its last sub-table's,
    when it has one: tomlkit files trailing lines under the last header)."""
    body: Container = table.value
    while body.body and isinstance(last := body.body[-1][1], Table) and not last.is_aot_element():
        body = last.value
    return body


def _ends_blank(table: Any) -> bool:
    return str(table.as_string()).endswith("\n\n")


def _trailing(body: list[tuple[Any, Any]]) -> int:
    """Where the comment and blank lines at the end of `body` start."""
    start = len(body)
    while start and isinstance(body[start - 1][1], Comment | Whitespace):
        start -= 1
    return start


def _is_blank(item: Any) -> bool:
    return isinstance(item, Whitespace) and "\n" in item.as_string()


def _blank_out(body: list[tuple[Any, Any]], indexes: Iterator[int] | range) -> None:
    """Remove lines without shifting the positions tomlkit keeps for keys."""
    for i in indexes:
        body[i] = (None, Whitespace(""))


def _delete_job(doc: Any, jobs: Any, index: int) -> None:
    if isinstance(jobs, Array):
        del jobs[index]
        return
    table = jobs[index]
    # what follows the job's last key: comments right under it are its own, the rest (after
    # a blank line) belongs to whatever comes next and is kept
    body = _container(table).body
    start = _trailing(body)
    keep_from = next((i for i in range(start, len(body)) if _is_blank(body[i][1])), len(body))
    kept = [item for _, item in body[keep_from:]]
    # the comment lines directly above its [[jobs]] line sit at the end of what precedes it
    previous = _container(jobs[index - 1]) if index > 0 else _before(doc)
    if previous is not None:
        above = previous.body
        end = len(above) if index > 0 or previous is not doc else _position(doc, "jobs")
        first = end
        while first and isinstance(above[first - 1][1], Comment):
            first -= 1
        _blank_out(above, range(first, end))
    last = index == len(jobs) - 1 and _ends_doc(doc)
    del jobs[index]
    if not len(jobs):
        del doc["jobs"]  # else tomlkit writes `jobs = []` in its place
    if not any(isinstance(item, Comment) for item in kept):
        if last and previous is not None:
            _trim_end(previous)  # the gap that led to the job went with it: the file ends
        return  # only blank lines: the previous table's own gap stays
    if previous is None or (previous is doc and index == 0):
        # only the document's own lines before the job: keep the comments there
        _insert_raw(doc, _position(doc, "jobs"), "".join(i.as_string() for i in kept))
        return
    shown = [item for _, item in previous.body if item.as_string()]
    if shown and _is_blank(shown[-1]) and _is_blank(kept[0]):
        kept = kept[1:]  # one blank line between the previous table and the comments, not two
    for item in kept:
        previous.append(None, item)


def _ends_doc(doc: Any) -> bool:
    """Whether the jobs array of tables is the last thing in the file (then its last table
    runs to the end of the text)."""
    at = _position(doc, "jobs")
    return at < len(doc.body) and all(isinstance(item, Comment | Whitespace)
                                      for _, item in doc.body[at + 1:])


def _trim_end(container: Container) -> None:
    """Blank out the blank lines at the end of `container`, so the text ends on its last
    line as a file does."""
    body = container.body
    end = len(body)
    while end and (_is_blank(body[end - 1][1]) or not body[end - 1][1].as_string()):
        end -= 1
    _blank_out(body, range(end, len(body)))


def _insert_raw(container: Container, at: int, text: str) -> None:
    """Lines of text (comments, blank lines) at `at` in `container`'s body. tomlkit inserts
    only keys, so its index of keys is shifted here as its own `_insert_at` does."""
    container.body.insert(at, (None, Whitespace(text)))
    for key, where in list(container._map.items()):
        if isinstance(where, tuple):
            container._map[key] = tuple(i + 1 if i >= at else i for i in where)
        elif where >= at:
            container._map[key] = where + 1


def _position(doc: Any, key: str) -> int:
    for i, (k, _) in enumerate(doc.body):
        if k is not None and k.key == key:
            return i
    return len(doc.body)


def _before(doc: Any) -> Any:
    """The container whose end sits right above the first `[[jobs]]` line: the table before
    it, or the document itself when only comments precede it."""
    at = _position(doc, "jobs")
    for _, item in reversed(doc.body[:at]):
        if isinstance(item, Table):
            return _container(item)
        if not isinstance(item, Comment | Whitespace):
            return doc  # plain keys at the top of the file
    return doc

