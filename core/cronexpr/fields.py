"""The five cron fields (their ranges and names) and `CronFields`, the value sets of one
parsed expression: the vocabulary the parser, the engine, the messages and the
descriptions share."""

from __future__ import annotations

from dataclasses import field

from ..lazyclass import dataclass

__all__ = [
    "DOM",
    "DOW",
    "FIELDS",
    "HOUR",
    "MINUTE",
    "MONTH",
    "MONTH_NAMES",
    "MONTH_NUMBERS",
    "WEEKDAY_NAMES",
    "WEEKDAY_NUMBERS",
    "CronFields",
    "Field",
    "columns_of",
]

# English names by cron number: weekdays from 0 = Sunday, months from 1 (index 0 is empty).
WEEKDAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MONTH_NAMES = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# The three-letter names a field accepts (JAN, SUN), upper case, to their numbers.
MONTH_NUMBERS = {name[:3].upper(): i for i, name in enumerate(MONTH_NAMES) if name}
WEEKDAY_NUMBERS = {name[:3].upper(): i for i, name in enumerate(WEEKDAY_NAMES)}


@dataclass(frozen=True)
class Field:
    name: str
    lo: int
    hi: int
    names: dict[str, int] = field(default_factory=dict)


MINUTE, HOUR, DOM, MONTH, DOW = (
    Field("minute", 0, 59),
    Field("hour", 0, 23),
    Field("day-of-month", 1, 31),
    Field("month", 1, 12, MONTH_NUMBERS),
    Field("day-of-week", 0, 7, WEEKDAY_NUMBERS),
)
FIELDS = (MINUTE, HOUR, DOM, MONTH, DOW)


# frozenset() is a new 216-byte object each time; every expression shares this one.
_NONE: frozenset[int] = frozenset()


class CronFields:
    """Value sets of one expression. Day-of-week uses 0–6 with Sunday 0 (7 folded into 0).

    A plain slots class, not a dataclass: parsing speed is a feature here."""

    __slots__ = (
        "dom",
        "dom_last",
        "dom_last_weekday",
        "dom_nearest",
        "dom_star",
        "dow",
        "dow_last",
        "dow_nth",
        "dow_star",
        "expr",
        "hours",
        "minutes",
        "months",
        "step_notes",
    )

    def __init__(self, expr: str, texts: list[str]) -> None:
        self.expr = expr
        self.minutes: tuple[int, ...] = ()
        self.hours: tuple[int, ...] = ()
        self.dom: frozenset[int] = _NONE
        self.dom_last = False  # L
        self.dom_last_weekday = False  # LW
        self.dom_nearest: tuple[int, ...] = ()  # nW
        self.months: tuple[int, ...] = ()
        self.dow: frozenset[int] = _NONE
        self.dow_nth: tuple[tuple[int, int], ...] = ()  # (weekday, n) from w#n
        self.dow_last: frozenset[int] = _NONE  # wL
        self.dom_star = texts[2][0] in "*?"
        self.dow_star = texts[4][0] in "*?"
        self.step_notes: tuple[str, ...] = ()

    @property
    def texts(self) -> list[str]:
        """The five field texts as written (split again when asked: kept once, in `expr`)."""
        return self.expr.split()

    @property
    def columns(self) -> tuple[int, ...]:
        """Start column of each field in the expression (only needed for messages)."""
        return columns_of(self.expr)


def columns_of(expr: str) -> tuple[int, ...]:
    """Start column of each whitespace-separated token of `expr`."""
    cols = []
    pos = 0
    for tok in expr.split():
        pos = expr.index(tok, pos)
        cols.append(pos)
        pos += len(tok)
    return tuple(cols)
