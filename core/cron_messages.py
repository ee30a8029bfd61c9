"""What the cron parser says: the error type, and the wording of its hints and step notes.

Kept apart from the parsing rules (`cron_fields.py`) so every message a user can meet reads
in one place, and the parser stays about what is accepted.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cron_fields import Field

__all__ = [
    "DAY_NAMES",
    "FULL_DAYS",
    "FULL_MONTHS",
    "MONTH_NAMES",
    "CronError",
    "hi_text",
    "name_hint",
    "names_hint",
    "reversed_hint",
    "show_value",
    "unit",
]


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
        return f"{self}\n  {self.expression}\n  {' ' * self.column}{'^' * self.length}"


MONTH_NAMES = {
    n: i + 1
    for i, n in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
DAY_NAMES = {n: i for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
FULL_MONTHS = [
    *("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST"),
    *("SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER"),
]
FULL_DAYS = ["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"]


def name_hint(fld: Field, up: str, text: str) -> str:
    if up in ("L", "LW", "W"):
        return f"{text!r} is only allowed in day-of-month (L, LW, nW) or day-of-week (5L)"
    for full, names, kind in (
        (FULL_MONTHS, MONTH_NAMES, "month"),
        (FULL_DAYS, DAY_NAMES, "weekday"),
    ):
        if up in full or (len(up) > 3 and any(f.startswith(up) for f in full)):
            short = up[:3]
            if names is fld.names:
                return f"{text!r}: use the three-letter name {short}"
            return f"{text!r} is a {kind} name; {fld.name} takes {names_hint(fld, bare=True)}"
        if up in names and names is not fld.names:
            return f"{text!r} is a {kind} name; {fld.name} takes {names_hint(fld, bare=True)}"
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


def show_value(fld: Field, v: int) -> str:
    if fld.name == "minute":
        return f":{v:02d}"
    if fld.name == "hour":
        return f"{v:02d}:00"
    if fld.name == "month":
        return FULL_MONTHS[v - 1].title()
    if fld.name == "day-of-week":
        return FULL_DAYS[v % 7].title()
    return str(v)


def unit(fld: Field, n: int) -> str:
    base = {"minute": "minute", "hour": "hour", "month": "month", "day-of-week": "day"}
    return base.get(fld.name, "step") + ("s" if n != 1 else "")
