"""Ways to build a cron expression without typing it: preset buttons, and a picker with the
days of the week as toggles, an hour range and a minute. Both post a message with the
expression they built; the builder screen puts it into the input.

The picker also follows the input: when the typed expression has a shape it can show
(`M H * * DAYS`), the screen sets `fields` and the toggles update, quietly. While it cannot
show the expression (`*/15 * * * *`, or one that does not parse) it changes nothing: its
toggles hold an older state, and building from them would throw the typed expression away.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, Checkbox, Input, Label

from crondeck.core import CronFields, consecutive_runs

__all__ = ["PRESETS", "PresetBar", "SchedulePicker", "build_expression"]

# (button label, expression)
PRESETS: tuple[tuple[str, str], ...] = (
    ("5 min", "*/5 * * * *"),
    ("15 min", "*/15 * * * *"),
    ("30 min", "*/30 * * * *"),
    ("hourly", "0 * * * *"),
    ("daily 09:00", "0 9 * * *"),
    ("weekdays 09:00", "0 9 * * 1-5"),
    ("weekly", "0 9 * * 1"),
    ("monthly", "0 9 1 * *"),
    ("@every 90s", "@every 90s"),
)
# Monday first, as people read a week; cron numbers (Sunday 0).
WEEK = (("Mon", 1), ("Tue", 2), ("Wed", 3), ("Thu", 4), ("Fri", 5), ("Sat", 6), ("Sun", 0))


def build_expression(minute: int, hours: tuple[int, int] | None, days: set[int]) -> str:
    """`minute hours * * days` from picker choices; None hours or all/no days mean `*`."""
    if hours is None or hours == (0, 23):
        hour_text = "*"
    else:
        lo, hi = hours
        hour_text = str(lo) if lo == hi else f"{lo}-{hi}"
    if not days or len(days) == 7:
        day_text = "*"
    else:
        # Monday..Sunday as 1..7 so Sat-Sun reads as one range
        week = sorted(7 if d == 0 else d for d in days)
        parts = [str(a) if a == b else f"{a}-{b}" if b > a + 1 else f"{a},{b}"
                 for a, b in consecutive_runs(week)]
        day_text = ",".join(parts)
    return f"{minute} {hour_text} * * {day_text}"


class PresetBar(Horizontal):
    """One button per common schedule."""

    @dataclass
    class Chosen(Message):
        expression: str

    def compose(self) -> ComposeResult:
        # Two groups, like the picker's: one line when wide, two when narrow.
        half = (len(PRESETS) + 1) // 2
        for group, start, stop in (("first", 0, half), ("rest", half, len(PRESETS))):
            with Horizontal(id=f"presets-{group}", classes="picker-group"):
                if start == 0:
                    yield Label("Presets", classes="picker-label")
                for i in range(start, stop):
                    yield Button(PRESETS[i][0], id=f"preset-{i}", compact=True,
                                 classes="preset")

    @on(Button.Pressed, ".preset")
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        index = int((event.button.id or "preset-0").rsplit("-", 1)[1])
        self.post_message(self.Chosen(PRESETS[index][1]))


class SchedulePicker(Horizontal):
    """Weekday toggles, hours from–to and a minute; every change posts `Built`."""

    @dataclass
    class Built(Message):
        expression: str

    fields: reactive[CronFields | None] = reactive(None, always_update=True)

    def compose(self) -> ComposeResult:
        # Two groups, side by side in a wide builder and one above the other in a narrow
        # one (the screen's `-narrow` class), so the hours never fall past the right edge.
        with Horizontal(id="picker-days", classes="picker-group"):
            yield Label("Build", classes="picker-label")
            for name, num in WEEK:
                yield Checkbox(name, value=1 <= num <= 5, id=f"day-{num}", compact=True,
                               classes="day")
        with Horizontal(id="picker-hours", classes="picker-group"):
            yield Label(" hours", classes="picker-sep")
            yield Input("9", id="hour-from", restrict=r"\d{0,2}", max_length=2, compact=True,
                        classes="hour", tooltip="first hour (0–23); empty = every hour")
            yield Label("–", classes="picker-sep")
            yield Input("9", id="hour-to", restrict=r"\d{0,2}", max_length=2, compact=True,
                        classes="hour", tooltip="last hour (0–23)")
            yield Label(" at minute", classes="picker-sep")
            yield Input("0", id="minute", restrict=r"\d{0,2}", max_length=2, compact=True,
                        classes="hour", tooltip="minute past the hour (0–59)")
            note = Label(" ≠ expression", id="picker-note")
            note.tooltip = "the toggles cannot show the expression typed above"
            yield note

    def choices(self) -> tuple[int, tuple[int, int] | None, set[int]] | None:
        """(minute, hours, days) as chosen, or None if a number is out of range."""
        def num(widget_id: str) -> int | None:
            text = self.query_one(f"#{widget_id}", Input).value
            return int(text) if text.isdigit() else None

        minute = num("minute") or 0
        lo, hi = num("hour-from"), num("hour-to")
        if minute > 59 or (lo is not None and lo > 23) or (hi is not None and hi > 23):
            return None
        hours: tuple[int, int] | None
        if lo is None and hi is None:
            hours = None
        else:
            lo = lo if lo is not None else hi
            hi = hi if hi is not None else lo
            assert lo is not None and hi is not None
            hours = (min(lo, hi), max(lo, hi))
        days = {num_ for _name, num_ in WEEK
                if self.query_one(f"#day-{num_}", Checkbox).value}
        return minute, hours, days

    @on(Checkbox.Changed)
    @on(Input.Changed, ".hour")
    def _changed(self, event: Checkbox.Changed | Input.Changed) -> None:
        event.stop()
        if not event.control.has_focus:  # set by the screen or on mount, not by the operator
            return
        if self.has_class("-other-shape"):
            if isinstance(event, Checkbox.Changed):
                with self.prevent(Checkbox.Changed):
                    event.checkbox.value = not event.value
            self.notify("the picker cannot show the expression above, so it leaves it as it "
                        "is: clear the expression or pick a preset to build one here",
                        severity="warning", timeout=5)
            return
        picked = self.choices()
        if picked is not None:
            self.post_message(self.Built(build_expression(*picked)))

    def watch_fields(self, f: CronFields | None) -> None:
        """Show a typed expression in the toggles when it has the picker's shape."""
        if f is None or not self.is_mounted or self.has_focus_within:
            return  # never change a control under the operator's fingers
        hour_runs = consecutive_runs(f.hours)
        simple = (len(f.minutes) == 1 and len(hour_runs) == 1 and f.texts[2] in ("*", "?")
                  and f.texts[3] == "*" and not f.dow_nth and not f.dow_last)
        # Say when the toggles cannot show the expression (`*/5 * * * *`): their last
        # state looked like its meaning.
        self.set_class(not simple, "-other-shape")
        if not simple:
            return
        with self.prevent(Checkbox.Changed, Input.Changed):
            for _name, num in WEEK:
                self.query_one(f"#day-{num}", Checkbox).value = num in f.dow
            lo, hi = hour_runs[0]
            self._set("hour-from", "" if (lo, hi) == (0, 23) else str(lo))
            self._set("hour-to", "" if (lo, hi) == (0, 23) else str(hi))
            self._set("minute", str(f.minutes[0]))

    def _set(self, widget_id: str, value: str) -> None:
        box = self.query_one(f"#{widget_id}", Input)
        if box.value != value:
            box.value = value
