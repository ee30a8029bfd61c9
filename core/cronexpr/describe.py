"""Plain English for cron expressions, accurate for everything the parser accepts.

Common shapes get natural phrases ("At 09:00, Monday through Friday"); anything else falls
back to listing the value sets compactly, which is never wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise

from .fields import MONTH_NAMES, WEEKDAY_NAMES, CronFields

__all__ = ["common_step", "consecutive_runs", "describe", "describe_values", "or_warning"]

_ORD = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def describe(f: CronFields) -> str:
    """One sentence: time of day, then days, then months."""
    text = _time_phrase(f.minutes, f.hours)
    days = _day_phrase(f)
    if days:
        text += days
    months = _month_phrase(f.months)
    if months:
        text += months
    return text


def or_warning(f: CronFields) -> str:
    return (
        f"day-of-month ({f.texts[2]}) and day-of-week ({f.texts[4]}) are both restricted, "
        f"so cron fires when EITHER matches: {_dom_phrase(f)}, or {_dow_phrase(f)} "
        "(not only when both match)"
    )


def _join(items: Sequence[str], word: str = "and") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def consecutive_runs(values: Iterable[int]) -> list[tuple[int, int]]:
    """The values, sorted, as (start, end) runs of consecutive numbers:
    [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    out: list[tuple[int, int]] = []
    for v in sorted(values):
        if out and v == out[-1][1] + 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def common_step(values: Iterable[int]) -> int | None:
    """The step (over 1) between `values` when there are 3 or more and, sorted, they form
    an arithmetic progression (0, 15, 30, 45 -> 15); otherwise None."""
    v = sorted(values)
    if len(v) < 3:
        return None
    step = v[1] - v[0]
    if step > 1 and all(b - a == step for a, b in pairwise(v)):
        return step
    return None


def describe_values(values: Iterable[int], show: Callable[[int], str] = str) -> str:
    """Values as a compact English list, "1–5, 10 and 20" (ranges with an en dash), each
    value written by `show`."""
    parts = [show(a) if a == b else f"{show(a)}–{show(b)}" for a, b in consecutive_runs(values)]
    return _join(parts)


def _hhmm(h: int, m: int) -> str:
    return f"{h:02d}:{m:02d}"


def _hour_span(hours: Sequence[int]) -> str:
    """Hours as wall-clock spans: [9..17] -> "09:00–17:59"."""
    spans = [f"{a:02d}:00–{b:02d}:59" for a, b in consecutive_runs(hours)]
    return _join(spans)


def _time_phrase(minutes: tuple[int, ...], hours: tuple[int, ...]) -> str:
    all_m, all_h = len(minutes) == 60, len(hours) == 24
    if len(minutes) * len(hours) <= 4:
        return "At " + _join([_hhmm(h, m) for h in hours for m in minutes])
    hour_q = "" if all_h else _hour_qualifier(hours)
    if all_m:
        return "Every minute" + hour_q
    step = common_step(minutes)
    if step and minutes[0] == 0 and minutes[-1] + step >= 60 and 60 % step == 0:
        return f"Every {step} minutes" + hour_q
    if len(minutes) == 1:
        m = minutes[0]
        if all_h:
            return "Every hour, on the hour" if m == 0 else f"Every hour at minute {m}"
        return f"At minute {m} past" + _hours_past(hours)
    mins = describe_values(minutes, lambda v: f":{v:02d}")
    if step:
        mins = f"Every {step} minutes from :{minutes[0]:02d} to :{minutes[-1]:02d}"
        return mins + (hour_q if hour_q else " of every hour")
    return f"At minutes {mins}" + (hour_q if hour_q else " of every hour")


def _hour_qualifier(hours: tuple[int, ...]) -> str:
    step = common_step(hours)
    if step:
        return f", every {step} hours from {hours[0]:02d}:00 to {hours[-1]:02d}:59"
    if len(consecutive_runs(hours)) <= 2:
        return ", " + _hour_span(hours)
    return ", in hours " + describe_values(hours, lambda v: f"{v:02d}")


def _hours_past(hours: tuple[int, ...]) -> str:
    step = common_step(hours)
    if step:
        return f" every {step} hours from {hours[0]:02d}:00 to {hours[-1]:02d}:00"
    return " hours " + describe_values(hours, lambda v: f"{v:02d}")


def _dom_phrase(f: CronFields) -> str:
    items = []
    if f.dom:
        step = common_step(sorted(f.dom))
        if step and len(f.dom) > 3:
            days = sorted(f.dom)
            items.append(f"days {days[0]}, {days[1]}, …, {days[-1]}")
        else:
            word = "day" if len(f.dom) == 1 and not f.dom_last else "days"
            items.append(f"{word} {describe_values(sorted(f.dom))}")
    if f.dom_last:
        items.append("the last day")
    if f.dom_last_weekday:
        items.append("the last weekday (Mon–Fri)")
    for n in f.dom_nearest:
        items.append(f"the weekday (Mon–Fri) nearest day {n}")
    return "on " + _join(items) + " of the month"


def _dow_phrase(f: CronFields, bare: bool = False, word: str = "and") -> str:
    items = []
    if f.dow:
        if len(f.dow) >= 3 and len(consecutive_runs(f.dow)) == 1:
            lo, hi = min(f.dow), max(f.dow)
            items.append(f"{WEEKDAY_NAMES[lo]} through {WEEKDAY_NAMES[hi]}")
        elif f.dow == {0, 5, 6}:
            items.append("Friday through Sunday")
        else:
            monday_first = sorted(f.dow, key=lambda d: (d == 0, d))
            items.append(_join([WEEKDAY_NAMES[d] for d in monday_first], word))
    for wd, n in f.dow_nth:
        items.append(f"the {_ORD[n]} {WEEKDAY_NAMES[wd]} of the month")
    for wd in sorted(f.dow_last):
        items.append(f"the last {WEEKDAY_NAMES[wd]} of the month")
    text = _join(items, "or")
    return text if bare else "on " + text


def _day_phrase(f: CronFields) -> str:
    dom_all = f.dom_star and len(f.dom) == 31
    dow_all = f.dow_star and len(f.dow) == 7
    if dom_all and dow_all:
        return ""
    if f.dom_star and f.dow_star:  # e.g. */2 in either: both apply (AND)
        if dow_all:
            return " " + _dom_phrase(f)
        if dom_all:
            return _weekday_clause(f)
        return f" {_dom_phrase(f)}, if that day is {_dow_phrase(f, bare=True, word='or')}"
    if dow_all:
        return " " + _dom_phrase(f)
    if dom_all:
        return _weekday_clause(f)
    if f.dom_star or f.dow_star:  # one side is a *-step: both must match (AND)
        return f" {_dom_phrase(f)}, if that day is {_dow_phrase(f, bare=True, word='or')}"
    return f" {_dom_phrase(f)}, or {_dow_phrase(f)}"


def _weekday_clause(f: CronFields) -> str:
    phrase = _dow_phrase(f, bare=True)
    if not f.dow_nth and not f.dow_last and " through " in phrase:
        return ", " + phrase
    return " on " + phrase


def _month_phrase(months: tuple[int, ...]) -> str:
    if len(months) == 12:
        return ""
    if len(months) >= 3 and len(consecutive_runs(months)) == 1:
        return f", {MONTH_NAMES[months[0]]} through {MONTH_NAMES[months[-1]]}"
    return ", in " + _join([MONTH_NAMES[m] for m in months])
