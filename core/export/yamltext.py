"""A small, safe YAML emitter for the plain structures the Kubernetes export builds (dicts,
lists, strings, ints, bools), so the core needs no YAML library.

Safe means: every string that a YAML parser could read as anything but that string (`no`,
`1.0`, `*/5 * * * *`, a leading space, a colon) is double-quoted with JSON escapes, which
YAML reads back exactly; multi-line text becomes a literal block (`|`) when it can be, so
the jobs file stays readable inside the ConfigMap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dump_documents", "dump_yaml"]

_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_./-]*$")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}
_BLOCK_OK = re.compile(r"^[^\x00-\x08\x0b-\x1f\x7f\u0085\u2028\u2029\ufeff]*$")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _RESERVED:
            return value
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _block(text: str, indent: int) -> str | None:
    """`|` literal block for multi-line text, or None when a literal cannot hold it."""
    if "\n" not in text or not _BLOCK_OK.match(text) or "\r" in text:
        return None
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    lines = body.split("\n")
    first = next((line for line in lines if line.strip()), "")
    if first[:1] in (" ", "\t") or not first or any(not ln.strip() and ln for ln in lines):
        return None  # indentation would be ambiguous: quote it instead
    pad = " " * indent
    out = [f"|{chomp}"]
    out += [pad + line if line else "" for line in lines]
    if chomp == "+":
        out += [""] * (trailing - 1)
    return "\n".join(out)


def _emit(value: Any, indent: int, out: list[str], prefix: str) -> None:
    """Append `value` as YAML; `prefix` is what precedes it on its first line."""
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            out.append(f"{prefix}{{}}")
            return
        first = True
        for key, item in value.items():
            head = prefix if first else pad
            first = False
            _emit_item(f"{head}{_scalar(str(key))}:", item, indent, out)
        return
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            out.append(f"{prefix}[]")
            return
        first = True
        for item in value:
            head = prefix if first else pad
            first = False
            if isinstance(item, Mapping) and item:
                _emit(item, indent + 2, out, f"{head}- ")
            elif isinstance(item, Sequence) and not isinstance(item, str) and item:
                out.append(f"{head}-")
                _emit(item, indent + 2, out, " " * (indent + 2))
            else:
                out.append(f"{head}- {_inline(item, indent + 2)}")
        return
    out.append(f"{prefix}{_inline(value, indent)}")


def _inline(value: Any, indent: int) -> str:
    if isinstance(value, Mapping) and not value:
        return "{}"
    if isinstance(value, Sequence) and not isinstance(value, str) and not value:
        return "[]"
    if isinstance(value, str):
        block = _block(value, indent + 2)
        if block is not None:
            return block
    return _scalar(value)


def _emit_item(head: str, item: Any, indent: int, out: list[str]) -> None:
    if isinstance(item, Mapping) and item:
        out.append(head)
        _emit(item, indent + 2, out, " " * (indent + 2))
    elif isinstance(item, Sequence) and not isinstance(item, str) and item:
        out.append(head)
        _emit(item, indent, out, " " * indent)
    else:
        out.append(f"{head} {_inline(item, indent)}")


def dump_yaml(value: Mapping[str, Any]) -> str:
    """One YAML document for a mapping of plain values."""
    out: list[str] = []
    _emit(value, 0, out, "")
    return "\n".join(out) + "\n"


def dump_documents(docs: Sequence[Mapping[str, Any]], header: str = "") -> str:
    """Several documents separated by `---`, after an optional comment header."""
    text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return text + "---\n".join(dump_yaml(d) for d in docs)
