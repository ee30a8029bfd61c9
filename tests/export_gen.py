"""Seeded generators of crondeck schedules for the export tests: every syntax crondeck accepts
(names, 7 and 0 for Sunday, `FRI-SUN`, `?`, `*`-led lists, L/W/#, macros, `@every`), with the
hours and zones where DST changes happen weighted up."""

from __future__ import annotations

import random
from collections.abc import Iterator

from crondeck.core import parse
from crondeck.core.cronexpr import CronError

# DST at 02:00 and at midnight, 30- and 45-minute offsets and shifts, none at all.
ZONES = (
    "America/New_York", "Europe/Berlin", "Europe/London", "Australia/Sydney",
    "Australia/Lord_Howe", "America/Santiago", "Pacific/Chatham", "America/Havana",
    "America/Asuncion", "Asia/Kolkata", "UTC",
)
_MONTHS = ("JAN", "feb", "Mar", "APR", "may", "JUN", "jul", "AUG", "sep", "OCT", "nov", "DEC")
_DAYS = ("SUN", "mon", "Tue", "WED", "thu", "FRI", "sat")


def _item(rng: random.Random, lo: int, hi: int) -> str:
    r = rng.random()
    if r < 0.12:
        return f"*/{rng.randint(2, max(2, hi - lo))}"
    a = rng.randint(lo, hi)
    if r < 0.55:
        return str(a)
    b = rng.randint(a, hi)
    if r < 0.8:
        return f"{a}-{b}"
    return f"{a}-{hi if a == b else b}/{rng.randint(1, 7)}" if a < hi else str(a)


def _list(rng: random.Random, lo: int, hi: int, star_led: float = 0.15) -> str:
    items = [_item(rng, lo, hi) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
    if rng.random() < star_led:  # '*'-led: unrestricted for cronie's rules
        items[0] = rng.choice(("*", f"*/{rng.randint(2, max(2, (hi - lo) // 2))}"))
    return ",".join(items)


def _minute(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        return rng.choice(("0", "30", "15", "45", "5", "59"))
    if r < 0.55:
        return rng.choice(("*/15", "*/30", "*/20", "0,30", "*/45", "15-45/15", "*/15,7"))
    if r < 0.57:
        return rng.choice(("*", "0-59"))
    return _list(rng, 0, 59, 0.1)


def _hour(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.4:  # the hours DST changes move or repeat somewhere
        return rng.choice(("0", "1", "2", "3", "1-3", "0-3", "23", "1,2", "2-3", "0,23"))
    if r < 0.55:
        return rng.choice(("*", "*/2", "*/3", "0-23", "*/6,1", "9-17"))
    return _list(rng, 0, 23)


def _dom(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.5:
        return rng.choice(("*", "*", "*", "?"))
    if r < 0.58:
        return rng.choice(("L", "LW", "15W", "1W", "31W", "L,15", "1-31", "*/2", "*/10,5"))
    return _list(rng, 1, 31)


def _month(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.7:
        return "*"
    if r < 0.8:
        a = rng.randrange(12)
        b = rng.randrange(a, 12)
        return f"{_MONTHS[a]}-{_MONTHS[b]}" if a != b else _MONTHS[a]
    return _list(rng, 1, 12, 0.1)


def _dow(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.5:
        return rng.choice(("*", "*", "*", "?"))
    if r < 0.62:
        return rng.choice(("*/4,7", "*/5,FRI-SUN", "FRI-SUN", "SAT-SUN", "7", "0,7", "MON-FRI",
                           "*/2", "*/3,2", "0-6", "1-7", "SUN-SAT", "5-7/2"))
    if r < 0.7:
        w = rng.randint(0, 7)
        return rng.choice((f"{w}#{rng.randint(1, 5)}", f"{w}L", f"{_DAYS[w % 7]}#5"))
    if r < 0.8:
        a = rng.randrange(7)
        b = rng.randrange(7)
        return f"{_DAYS[a]}-{_DAYS[b]}" if b > a or b == 0 else _DAYS[a]
    return _list(rng, 0, 7)


def schedules(seed: int, n: int, *, macros: bool = True) -> Iterator[tuple[str, str]]:
    """`n` (schedule, zone) pairs crondeck accepts, the same for the same seed."""
    rng = random.Random(seed)
    made = 0
    while made < n:
        zone = rng.choice(ZONES)
        r = rng.random()
        if macros and r < 0.04:
            text = rng.choice(("@daily", "@hourly", "@weekly", "@monthly", "@yearly",
                               "@midnight", "@annually"))
        elif macros and r < 0.07:
            text = "@every " + rng.choice(("5m", "1h", "90m", "7m", "2h", "30s", "1d", "15m"))
        else:
            text = f"{_minute(rng)} {_hour(rng)} {_dom(rng)} {_month(rng)} {_dow(rng)}"
        try:
            parse(text, zone)
        except CronError:
            continue
        made += 1
        yield text, zone


def jobs_toml(pairs: list[tuple[str, str]]) -> str:
    """A jobs file with one job per schedule, named j0, j1, …"""
    return "".join(f'[[jobs]]\nname = "j{i}"\ncommand = "true"\nschedule = "{text}"\n'
                   f'timezone = "{zone}"\n\n' for i, (text, zone) in enumerate(pairs))
