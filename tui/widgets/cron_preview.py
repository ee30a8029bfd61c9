"""The read-only parts of the cron builder: the error line with its caret, the per-field
breakdown, the warnings and the next fires. Each is a Static the screen feeds a
`crondeck.tui.cron_view.Preview` (attributes down); none of them posts anything.

Colours come from the theme (`$error`, `$warning`, `$accent` ...) through content markup, so
the builder follows the chosen theme.
"""

from __future__ import annotations

from datetime import datetime

from textual.content import Content
from textual.markup import escape
from textual.reactive import reactive
from textual.widgets import Static

from crondeck.core import CronError, clip

from ..cron_view import FieldRow, Fire, Preview

__all__ = ["ErrorLine", "FieldsView", "FiresView", "WarningsView"]

_KIND_LABEL = {"or": "OR", "dst": "DST", "step": "STEP"}
_KIND_STYLE = {"or": "$warning", "dst": "$accent", "step": "$warning"}


class ErrorLine(Static):
    """A caret under the offending column of the expression, then the engine's message.

    `error` is set by the screen; `shift` is how far the input's text is scrolled. `hint`,
    when set (and no error), is shown muted instead: what to do in a builder opened empty,
    where an "✗ empty expression" would scold the operator before they have typed."""

    error: reactive[CronError | None] = reactive(None, always_update=True, layout=True)
    shift: reactive[int] = reactive(0)
    ok_text: reactive[str] = reactive("")
    hint: reactive[str] = reactive("")

    def render(self) -> Content:
        err = self.error
        if err is None and self.hint:
            return Content.from_markup("[dim]" + escape(self.hint) + "[/]")
        if err is None:
            return Content.from_markup("[$success]✓ " + escape(self.ok_text) + "[/]"
                                       if self.ok_text else "")
        if err.column is None:
            return Content.from_markup("[$error]✗ " + escape(str(err)) + "[/]")
        col = max(0, err.column - self.shift)
        caret = " " * col + "^" * err.length
        message = "✗ " + str(err)
        # A long message ("can never fire: day 30 never occurs in February") starts at the
        # left edge when it would not fit after the caret's column, and wraps below (the
        # widget grows) rather than being cut off: the caret already points at the column.
        width = self.content_size.width
        indent = col if not width or col + len(message) <= width else 0
        return Content.from_markup(
            "[bold $error]" + escape(caret) + "[/]\n[$error]" + " " * indent
            + escape(message) + "[/]"
        )


class FieldsView(Static):
    """Minute, hour, day of month, month, day of week: text, meaning, allowed values."""

    rows: reactive[list[FieldRow]] = reactive(list, always_update=True, layout=True)
    # what shows without rows: the screen says "as you type" before anything is typed
    placeholder: reactive[str] = reactive("fix the expression to see its fields")

    def render(self) -> Content:
        rows = self.rows
        if not rows:
            return Content.from_markup("[dim]" + escape(self.placeholder) + "[/]")
        name_w = max(len(r.name) for r in rows)
        text_w = max(6, max(len(r.text) for r in rows))
        room = self.content_size.width or 116
        # One line per field, whatever the width (a wrapped row ran into the next field's
        # column): MEANING shrinks to the room left, ALLOWED shows when 12 columns remain.
        mean_w = max(12, min(max(len(r.meaning) for r in rows), room - name_w - text_w - 4))
        allowed_w = room - (name_w + text_w + mean_w + 6)
        show_allowed = allowed_w >= 12
        head = f"[b]{'FIELD':<{name_w}}  {'TEXT':<{text_w}}  {'MEANING':<{mean_w}}"
        lines = [head + ("  ALLOWED[/]" if show_allowed else "[/]")]
        for r in rows:
            line = (f"[$accent]{escape(r.name):<{name_w}}[/]  [b]{escape(r.text):<{text_w}}[/]"
                    f"  {escape(clip(r.meaning, mean_w)):<{mean_w}}")
            if show_allowed:
                line += f"  [dim]{escape(clip(r.allowed, allowed_w))}[/]"
            lines.append(line)
        return Content.from_markup("\n".join(lines))


class WarningsView(Static):
    """The engine's warnings, tagged OR / DST / STEP."""

    warnings: reactive[list] = reactive(list, always_update=True, layout=True)
    valid: reactive[bool] = reactive(True)

    def render(self) -> Content:
        if not self.valid:
            return Content("")
        if not self.warnings:
            return Content.from_markup("[$success]no warnings[/]")
        lines = []
        for w in self.warnings:
            style = _KIND_STYLE.get(w.kind, "$warning")
            label = _KIND_LABEL.get(w.kind, w.kind.upper())
            lines.append(f"[bold reverse {style}] {label} [/] [{style}]{escape(w.text)}[/]")
        return Content.from_markup("\n".join(lines))


class FiresView(Static):
    """The next fires: when (chosen zone), local time when different, time from now, the gap
    from the previous fire, and a DST note under fires that DST moves or doubles. One line
    each (the pane cuts, never wraps: a wrapped line ran under the # column)."""

    preview: reactive[Preview | None] = reactive(None, always_update=True, layout=True)
    zone_ok: reactive[bool] = reactive(True)

    def render(self) -> Content:
        p = self.preview
        if not self.zone_ok:
            return Content.from_markup("[dim]no fires to show until the time zone is valid[/]")
        if p is None or not p.ok:
            return Content.from_markup("[dim]no fires to show until the expression is valid[/]")
        if not p.fires:
            return Content("")
        year = p.fires[0].at.year
        whens = [_when(f.at, year) for f in p.fires]
        locals_ = [_local(f) for f in p.fires]
        when_w = max(len("WHEN"), *(len(w) for w in whens))
        local_w = max(len(x) for x in locals_)
        num_w = len(str(len(p.fires)))
        head = f"[b]{'#':<{num_w}} {'WHEN':<{when_w}}  "
        if local_w:
            local_w = max(local_w, len("LOCAL"))
            head += f"{'LOCAL':<{local_w}}  "
        from_w = max(10, *(len(f.from_now) for f in p.fires))  # "in 115d 21h" is wider
        lines = [head + f"{'FROM NOW':<{from_w}}  GAP[/]"]
        for i, (fire, when, local) in enumerate(zip(p.fires, whens, locals_, strict=True), 1):
            line = f"{i:<{num_w}} {escape(when):<{when_w}}  "
            if local_w:
                line += f"[dim]{escape(local):<{local_w}}[/]  "
            line += f"{fire.from_now:<{from_w}}  [$accent]{fire.gap}[/]"
            lines.append(line)
            if fire.dst:  # a line of its own under WHEN: at the end it was cut or wrapped
                lines.append(" " * (num_w + 1) + f"[bold $warning]⚠ {escape(fire.dst)}[/]")
        return Content.from_markup("\n".join(lines))


def _when(at: datetime, year: int) -> str:
    fmt = "%a %d %b %H:%M" if at.year == year else "%a %d %b %Y %H:%M"
    seconds = f":{at.second:02d}" if at.second else ""
    return at.strftime(fmt) + seconds + f" {at.tzname() or ''}"


def _local(fire: Fire) -> str:
    local = fire.local
    if local is None:
        return ""
    fmt = "%H:%M" if local.date() == fire.at.date() else "%a %H:%M"
    seconds = f":{local.second:02d}" if local.second else ""
    return local.strftime(fmt) + seconds + f" {local.tzname() or ''}"
