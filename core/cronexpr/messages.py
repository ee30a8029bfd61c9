"""What the cron parser says: `CronError`, and the wording of its longer hints, of the step
notes and of the errors about a whole expression (field count, a date that never comes).

Kept apart from the parsing rules (`parser.py`) so the parser stays about what is accepted.
"""

from __future__ import annotations

import re

from .fields import (
    FIELDS,
    MONTH_NAMES,
    MONTH_NUMBERS,
    WEEKDAY_NAMES,
    WEEKDAY_NUMBERS,
    CronFields,
    Field,
)

__all__ = [
    "CronError",
    "count_error",
    "hi_text",
    "name_hint",
    "names_hint",
    "never_fires_error",
    "reversed_hint",
    "step_too_large_note",
    "uneven_step_note",
]


_SHOWN = 80  # characters of a pasted kilobyte-long expression an error shows
_LONG_QUOTE = re.compile(f"'[^']{{{_SHOWN + 1},}}'")


class CronError(ValueError):
    """A cron expression that cannot be accepted: names the field, the text and its column,
    and says what would be valid. `str(err)` is the one-line message; `caret()` adds the
    expression with a caret under the offending column."""

    def __init__(
        self,
        message: str,
        *,
        expression: str = "",
        field: str | None = None,
        column: int | None = None,
        length: int = 1,
    ) -> None:
        # a value quoted from a huge expression is cut, not repeated whole
        message = _LONG_QUOTE.sub(lambda m: f"{m.group()[:_SHOWN // 2]}…'", message)
        self.message = message
        self.expression = expression
        self.field = field
        self.column = column
        self.length = max(1, length)
        super().__init__(f"{field}: {message}" if field else message)

    def caret(self) -> str:
        """The message, then the expression with `^^^` under the offending text."""
        if self.column is None or not self.expression:
            return str(self)
        shown, column, length = self.expression, self.column, self.length
        if len(shown) > _SHOWN:  # the part around the column, marked as cut where it is
            start = max(0, min(column - _SHOWN // 4, len(shown) - _SHOWN))
            lead = "…" if start else ""
            shown = lead + shown[start:start + _SHOWN] + ("…" if start + _SHOWN < len(shown)
                                                          else "")
            column = column - start + len(lead)
            length = max(1, min(length, len(shown) - column))
        return f"{self}\n  {shown}\n  {' ' * column}{'^' * length}"


_FULL_MONTHS = [name.upper() for name in MONTH_NAMES[1:]]
_FULL_WEEKDAYS = [name.upper() for name in WEEKDAY_NAMES]


def name_hint(fld: Field, up: str, text: str) -> str:
    if up in ("L", "LW", "W"):
        return f"{text!r} is only allowed in day-of-month (L, LW, nW) or day-of-week (5L)"
    for full, names, kind in (
        (_FULL_MONTHS, MONTH_NUMBERS, "month"),
        (_FULL_WEEKDAYS, WEEKDAY_NUMBERS, "weekday"),
    ):
        if up in full or (len(up) > 3 and any(f.startswith(up) for f in full)):
            short = up[:3]
            if names is fld.names:
                return f"{text!r}: use the three-letter name {short}"
            return f"{text!r} is a {kind} name; {fld.name} takes {names_hint(fld, bare=True)}"
        if up in names and names is not fld.names:
            return f"{text!r} is a {kind} name; {fld.name} takes {names_hint(fld, bare=True)}"
    import difflib  # here: only a misspelt name needs it

    close = difflib.get_close_matches(up, list(fld.names), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown value {text!r} (valid: {fld.lo}–{fld.hi}{names_hint(fld)}){hint}"


def names_hint(fld: Field, bare: bool = False) -> str:
    if fld.name == "month":
        names = "JAN–DEC"
    elif fld.name == "day-of-week":
        names = "SUN–SAT"
    else:
        return f"{fld.lo}–{fld.hi}" if bare else ""
    return f"{fld.lo}–{fld.hi} or {names}" if bare else f" or {names}"


def hi_text(fld: Field, a_text: str) -> str:
    if fld.names and a_text.isalpha():
        return {"month": "DEC", "day-of-week": "SAT"}[fld.name]
    return str(6 if fld.name == "day-of-week" else fld.hi)


def reversed_hint(fld: Field, a_text: str, b_text: str, lo: int, hi: int) -> str:
    end = hi_text(fld, a_text)
    start = (
        {"month": "JAN", "day-of-week": "SUN"}[fld.name]
        if fld.names and a_text.isalpha()
        else str(fld.lo)
    )
    return (
        f"range {a_text}-{b_text} is reversed ({lo} > {hi}); ranges do not wrap around: "
        f"write {a_text}-{end},{start}-{b_text}"
    )


def step_too_large_note(fld: Field, item: str, step: int, lo: int, hi: int) -> str:
    return (
        f"{fld.name}: step {step} in {item!r} is larger than the range {lo}–{hi}: "
        f"fires at {fld.name} {_show_value(fld, lo)} only"
    )


def uneven_step_note(fld: Field, step: int, lo: int, last: int, span: int) -> str:
    """`*/step` over a field of `span` values whose last pick `last` wraps to `lo` early."""
    gap = span - (last - lo)
    return (
        f"{fld.name}: */{step} does not divide {span} evenly: after "
        f"{_show_value(fld, last)} the next is {_show_value(fld, lo)}, {gap} "
        f"{_unit(fld, gap)} later instead of {step}"
    )


def _show_value(fld: Field, v: int) -> str:
    if fld.name == "minute":
        return f":{v:02d}"
    if fld.name == "hour":
        return f"{v:02d}:00"
    if fld.name == "month":
        return MONTH_NAMES[v]
    if fld.name == "day-of-week":
        return WEEKDAY_NAMES[v % 7]
    return str(v)


def _unit(fld: Field, n: int) -> str:
    base = {"minute": "minute", "hour": "hour", "month": "month", "day-of-week": "day"}
    return base.get(fld.name, "step") + ("s" if n != 1 else "")


def count_error(expression: str, parts: list[tuple[str, int]]) -> CronError:
    """The error for an expression without exactly five fields; `parts` are its tokens with
    their columns."""
    n = len(parts)
    names = " ".join(f.name for f in FIELDS)
    if n == 0:
        return CronError(
            f"empty expression: write 5 fields ({names}), e.g. '*/5 * * * *', or a macro "
            "like @daily",
            expression=expression,
        )
    if n in (6, 7):
        return CronError(
            f"expected 5 fields ({names}), got {n}: seconds (and years) are not supported; "
            "crondeck fires at minute resolution. For sub-minute cadence use '@every 30s'",
            expression=expression,
            column=parts[5][1] if n == 6 else parts[0][1],
            length=len(parts[5][0]) if n == 6 else len(parts[0][0]),
        )
    if n > 7:
        return CronError(
            f"expected 5 fields ({names}), got {n}",
            expression=expression,
            column=parts[5][1],
            length=len(parts[5][0]),
        )
    last = parts[-1]
    return CronError(
        f"expected 5 fields ({names}), got {n}: add the missing "
        f"{', '.join(f.name for f in FIELDS[n:])}",
        expression=expression,
        column=last[1] + len(last[0]),
    )


def never_fires_error(f: CronFields, expression: str) -> CronError:
    """The error for a well-formed expression whose day fields match no date at all."""
    names = [MONTH_NAMES[m] for m in f.months]
    if len(names) == 12:
        month_text = "any month"
    else:
        month_text = names[0] if len(names) == 1 else "any of " + ", ".join(names)
    if f.dow_star and f.texts[4] in ("*", "?"):
        why = f"day {f.texts[2]} never occurs in {month_text}"
    else:
        why = (
            f"no day in {month_text} is both day-of-month {f.texts[2]} and "
            f"day-of-week {f.texts[4]}"
        )
    return CronError(
        f"this expression can never fire: {why}",
        expression=expression,
        field="day-of-month",
        column=f.columns[2],
        length=len(f.texts[2]),
    )
