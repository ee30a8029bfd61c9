"""Parsing the five field texts of an expression into `CronFields`: a fast path for plain
numbers, ranges, steps and lists, and a careful path for names and the L/W/# specials that
also finds every error, pointing at its column, and every step note.

What is accepted reads here; the wording of the longer messages lives in `messages.py`.
"""

from __future__ import annotations

import re
from typing import TypeVar

from .fields import DOM, DOW, FIELDS, HOUR, MINUTE, MONTH, CronFields, Field, columns_of
from .messages import (
    CronError,
    hi_text,
    name_hint,
    names_hint,
    reversed_hint,
    step_too_large_note,
    uneven_step_note,
)
from .share import intern_values

__all__ = ["parse_fields"]


_FULL = tuple(
    tuple(range(f.lo, (6 if f.name == "day-of-week" else f.hi) + 1)) for f in FIELDS
)


class _Ctx:
    """Where we are in the expression, so every error can point at its column."""

    __slots__ = ("expr", "fld", "k")

    def __init__(self, expr: str, fld: Field, k: int) -> None:
        self.expr, self.fld, self.k = expr, fld, k

    def error(self, message: str, offset: int = 0, length: int = 1) -> CronError:
        return CronError(
            message,
            expression=self.expr,
            field=self.fld.name,
            column=columns_of(self.expr)[self.k] + offset,
            length=length,
        )


_PLAIN = re.compile(r"[0-9A-Za-z*/?#-]+\Z", re.ASCII)
_FULL_DOM = frozenset(_FULL[2])
_FULL_DOW = frozenset(_FULL[4])
# One-value fields ("30 2 15 * *"), made once: (v,) for each field, frozenset({d}) for days.
_ONE = tuple([(v,) for v in range(f.hi + 1)] for f in FIELDS)
_ONE_DOM = [frozenset((d,)) for d in range(DOM.hi + 1)]
_ONE_DOW = [frozenset((d,)) for d in range(7)]


def parse_fields(expr: str, texts: list[str]) -> CronFields:
    """Parse the five field texts of `expr` into a CronFields, raising CronError on
    anything that Vixie cron (as cronie implements it, plus L/W/#) would not accept."""
    out = CronFields(expr, texts)
    vals: list[tuple[int, ...]] = []
    for k in range(5):
        text = texts[k]
        if text == "*":  # the common cases first, without the general machinery
            vals.append(_FULL[k])
            continue
        if len(text) < 10 and text.isdigit() and text.isascii():
            v = int(text)
            if _LO[k] <= v <= _HI[k]:
                vals.append(_ONE[k][v])
                continue
        seen = _SEEN[k].get(text)
        if seen is not None:
            vals.append(seen)
            continue
        fast = _fast_field(text, k)
        if fast is not None:
            fast = _remember(_SEEN[k], text, intern_values(fast))
        else:  # names, specials, notes or errors: the careful path
            fast = intern_values(tuple(sorted(_parse_field(_Ctx(expr, FIELDS[k], k), text, out))))
        vals.append(fast)
    out.minutes, out.hours, dom, out.months, dow = vals
    if dom is _FULL[2]:
        out.dom = _FULL_DOM
    elif len(dom) == 1:
        out.dom = _ONE_DOM[dom[0]]
    else:
        out.dom = _DOM_SETS.get(dom) or _remember(_DOM_SETS, dom, frozenset(dom))
    if dow is _FULL[4]:
        out.dow = _FULL_DOW
    elif len(dow) == 1:
        out.dow = _ONE_DOW[dow[0] % 7]
    else:
        out.dow = _DOW_SETS.get(dow) or _remember(_DOW_SETS, dow, frozenset([v % 7 for v in dow]))
    if out.dom_nearest:
        out.dom_nearest = intern_values(out.dom_nearest)
    if out.dow_last:
        out.dow_last = intern_values(out.dow_last)
    return out


# What was parsed before, kept once and shared, so 10,000 expressions hold a few hundred
# value sets between them: each field's texts seen on the fast path (jobs files repeat
# "*/5", "9-17", "1-5"), and the day sets by value.
_SEEN: tuple[dict[str, tuple[int, ...]], ...] = ({}, {}, {}, {}, {})
_DOM_SETS: dict[tuple[int, ...], frozenset[int]] = {}
_DOW_SETS: dict[tuple[int, ...], frozenset[int]] = {}
_KEPT = 1024

K = TypeVar("K")
V = TypeVar("V")


def _remember(cache: dict[K, V], key: K, value: V) -> V:
    if len(cache) >= _KEPT:
        cache.clear()
    cache[key] = value
    return value


_ITEM = re.compile(r"(?:(\*)|(\d{1,9})(?:-(\d{1,9}))?)(?:/(\d{1,9}))?\Z", re.ASCII)
_LO = tuple(f.lo for f in FIELDS)
_HI = tuple(f.hi for f in FIELDS)


def _fast_field(text: str, k: int) -> tuple[int, ...] | None:
    """Plain numbers, ranges, steps and lists of them, as a sorted tuple; or None to take
    the careful path (which also produces every error message and step warning)."""
    if "," in text:
        vals: set[int] = set()
        for item in text.split(","):
            one = _fast_field(item, k)
            if one is None:
                return None
            vals.update(one)
        return tuple(sorted(vals))
    m = _ITEM.match(text)
    if m is None:
        return None
    star, a, b, step = m.groups()
    if star:
        lo, hi = _LO[k], _FULL[k][-1]
    else:
        lo = int(a)
        hi = int(b) if b else lo
        if lo < _LO[k] or hi > _HI[k] or hi < lo or (step and not b):
            return None
    if not step:
        return (lo,) if lo == hi else tuple(range(lo, hi + 1))
    n = int(step)
    if n == 0 or n > hi - lo or (star and k != 2 and (hi - lo + 1) % n):
        return None
    return tuple(range(lo, hi + 1, n))


def _parse_field(ctx: _Ctx, text: str, out: CronFields) -> set[int]:
    values: set[int] = set()
    offset = 0
    for item in text.split(","):
        if not item:
            raise ctx.error(
                "empty list item: remove the extra comma (lists look like 1,15,30)", offset
            )
        _parse_item(ctx, item, offset, values, out)
        offset += len(item) + 1
    return values


def _parse_item(ctx: _Ctx, item: str, off: int, values: set[int], out: CronFields) -> None:
    fld = ctx.fld
    if _PLAIN.match(item) is None or item[0] in "Hh":
        _check_chars(ctx, item, off)
    up = item.upper()
    if up == "?":
        if fld not in (DOM, DOW):
            raise ctx.error("? is only allowed in day-of-month and day-of-week (it means *)", off)
        values.update(range(fld.lo, fld.hi + 1))
        return
    if fld is DOM and _parse_dom_special(ctx, up, off, out):
        return
    if fld is DOW and _parse_dow_special(ctx, up, off, out):
        return
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text:
            raise ctx.error("a step needs a number after '/', like */15", off + len(item) - 1)
        if not step_text.isdigit():
            raise ctx.error(
                f"step {step_text!r} must be a whole number, like */15",
                off + len(base) + 1,
                len(step_text),
            )
        step = _number(ctx, step_text, off + len(base) + 1, "step")
        if step == 0:
            raise ctx.error(
                "step */0 is not allowed: the step must be at least 1", off + len(base) + 1
            )
    if base == "*":
        lo, hi = fld.lo, fld.hi
        if fld is DOW:
            hi = 6  # '*' means each day once; 7 is only an alias for Sunday
    elif not base:
        raise ctx.error(f"missing value before '/': write */{step_text}", off)
    else:
        a_text, dash, b_text = base.partition("-")
        lo = _value(ctx, a_text, off)
        if dash:
            if not b_text:
                raise ctx.error(
                    f"range {base!r} has no end: write like {fld.lo}-{fld.hi}", off, len(base)
                )
            hi = _value(ctx, b_text, off + len(a_text) + 1)
            if fld is DOW and hi == 0 and lo > 0 and b_text.isalpha():
                hi = 7  # FRI-SUN is 5-7: Sunday closes a range as 7
            if hi < lo:
                raise ctx.error(reversed_hint(fld, a_text, b_text, lo, hi), off, len(base))
        elif slash:
            raise ctx.error(
                f"{item!r}: a step needs a range or *: write {a_text}-{hi_text(fld, a_text)}"
                f"/{step} (from {a_text} to the end, every {step})",
                off,
                len(item),
            )
        else:
            hi = lo
    picked = range(lo, hi + 1, step)
    values.update(picked)
    if slash and step > hi - lo:
        out.step_notes += (step_too_large_note(fld, item, step, lo, hi),)
    elif slash and base == "*" and fld in (MINUTE, HOUR, MONTH, DOW):
        span = hi - lo + 1
        if span % step:
            out.step_notes += (uneven_step_note(fld, step, lo, picked[-1], span),)


def _check_chars(ctx: _Ctx, item: str, off: int) -> None:
    if item[0] in "Hh" and (len(item) == 1 or item[1] in "(/"):
        raise ctx.error(
            "H (Jenkins' hashed value) is not supported: pick a fixed value, e.g. 17",
            off,
            len(item),
        )
    for i, ch in enumerate(item):
        if not ch.isascii():
            what = "digit" if ch.isdigit() else "character"
            raise ctx.error(f"non-ASCII {what} {ch!r}: use the digits 0–9", off + i)
        if not (ch.isalnum() or ch in "*/-?#"):
            raise ctx.error(f"unexpected character {ch!r}", off + i)


def _value(ctx: _Ctx, text: str, off: int) -> int:
    """One number or name of this field, range-checked."""
    fld = ctx.fld
    if not text:
        raise ctx.error("missing value", off)
    if text.isdigit():
        v = _number(ctx, text, off)
        if not fld.lo <= v <= fld.hi:
            rng = f"{fld.lo}–{fld.hi}" + (" (0 and 7 are Sunday)" if fld is DOW else "")
            raise ctx.error(f"{v} is out of range {rng}", off, len(text))
        return v
    up = text.upper()
    if up.isalpha():
        if up in fld.names:
            return fld.names[up]
        raise ctx.error(name_hint(fld, up, text), off, len(text))
    raise ctx.error(
        f"{text!r} is not a number{' or name' if fld.names else ''} "
        f"(valid: {fld.lo}–{fld.hi}{names_hint(fld)})",
        off,
        len(text),
    )


def _number(ctx: _Ctx, text: str, off: int, what: str = "") -> int:
    """An ASCII digit string as an int. No field takes a number of ten digits, and int()
    refuses over 4,300, so a longer one (leading zeros aside) is an error here."""
    digits = text.lstrip("0") or "0"
    if len(digits) > 9:
        fld = ctx.fld
        shown = text if len(text) <= 12 else f"{text[:12]}…"
        rng = f"{fld.name} takes {fld.lo}–{fld.hi}"
        raise ctx.error(f"{what + ' ' if what else ''}{shown} is too large ({len(digits)} "
                        f"digits): {rng}", off, len(text))
    return int(digits)


def _parse_dom_special(ctx: _Ctx, up: str, off: int, out: CronFields) -> bool:
    """L, LW and nW in day-of-month. Returns True if the item was one of them."""
    if up == "L":
        out.dom_last = True
        return True
    if up == "LW":
        out.dom_last_weekday = True
        return True
    if up.endswith("W") and up[:-1].isdigit():
        n = _number(ctx, up[:-1], off, "nW")
        if not 1 <= n <= 31:
            raise ctx.error(f"{n}W: the day must be in 1–31", off, len(up))
        out.dom_nearest = (*out.dom_nearest, n)
        return True
    if "L" in up or "W" in up:
        raise ctx.error(
            f"{up!r}: day-of-month accepts L (last day), LW (last weekday) or nW "
            "(weekday nearest day n, e.g. 15W)",
            off,
            len(up),
        )
    if "#" in up:
        raise ctx.error("# belongs in day-of-week (e.g. 1#2 = second Monday)", off, len(up))
    return False


def _parse_dow_special(ctx: _Ctx, up: str, off: int, out: CronFields) -> bool:
    """wL (last weekday w of the month) and w#n (n-th weekday w). True if handled."""
    if "#" in up:
        wd_text, _, n_text = up.partition("#")
        wd = _value(ctx, wd_text, off)
        if not n_text.isdigit() or len(n_text) > 9 or not 1 <= int(n_text) <= 5:
            raise ctx.error(
                f"{up!r}: after # comes which occurrence, 1–5 (1#2 = second Monday)",
                off + len(wd_text) + 1,
                max(1, len(n_text)),
            )
        out.dow_nth = (*out.dow_nth, (wd % 7, int(n_text)))
        return True
    if up.endswith("L") and len(up) > 1 and "/" not in up and "-" not in up:
        wd = _value(ctx, up[:-1], off)
        out.dow_last = out.dow_last | {wd % 7}
        return True
    if up == "L":
        raise ctx.error(
            "L alone in day-of-week is ambiguous: write 5L for the last Friday of the "
            "month, or put L in day-of-month for the last day",
            off,
        )
    if up.endswith("W") and up[:-1].isdigit():
        raise ctx.error("W belongs in day-of-month (e.g. 15W, LW)", off, len(up))
    return False
