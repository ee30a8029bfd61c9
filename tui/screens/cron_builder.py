"""The cron builder: try an expression and see, on every keystroke, what it means, what is
wrong with it (under the exact column), its warnings and its next fires.

Opened standalone (`c` on the dashboard) it is for trying, and "New job" (ctrl+n) dismisses
with a `NewJobSchedule` for the job editor to start from; opened on a job (`c` with one
selected: its schedule and zone to start from, `job=`) "Edit job" (ctrl+s) dismisses with a
`JobSchedule`, for the job editor to open on that job with the schedule tried (saved from
there, as any edit); opened from the job editor (`use=True`) "Use" (ctrl+s, or enter in the
expression) dismisses with the expression.
Everything it shows comes from the core engine through `crondeck.tui.cron_view`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import ClassVar
from zoneinfo import ZoneInfo, available_timezones

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Footer, Input, Label, Static

from crondeck.core import ZoneError, get_zone, local_zone

from ..cron_view import MAX_FIRES, Preview, preview
from ..widgets.cron_pickers import PresetBar, SchedulePicker
from ..widgets.cron_preview import ErrorLine, FieldsView, FiresView, WarningsView
from .quit_guard import KeepsQuitKey

__all__ = ["CronBuilderScreen", "JobSchedule", "NewJobSchedule"]

DEFAULT_FIRES = 10
EMPTY_HINT = "type a cron expression, or pick a preset below"
_ZONES: list[str] | None = None
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class NewJobSchedule:
    """"New job" in a standalone builder: the schedule, and the zone if it was changed."""

    expression: str
    timezone: str = ""


@dataclass(frozen=True)
class JobSchedule(NewJobSchedule):
    """"Edit job" in a builder opened on `job`: the schedule tried, and the zone if changed."""

    job: str = ""


def zone_problem(text: str, exc: ZoneError) -> str:
    """The zone box's message, short enough for its narrow column."""
    if not text:
        return "empty: type an IANA zone like Europe/Berlin or UTC"
    if exc.suggestions:
        return (f"unknown time zone {text!r}; did you mean "
                + ", ".join(repr(s) for s in exc.suggestions[:2]) + "?")
    return f"unknown time zone {text!r}: use an IANA name like 'Europe/Berlin'"


def zone_names() -> list[str]:
    """The IANA zone names, sorted (loaded once; completion for every zone input)."""
    global _ZONES
    if _ZONES is None:
        _ZONES = sorted(available_timezones())
    return _ZONES


class CronBuilderScreen(KeepsQuitKey, Screen[str | NewJobSchedule | None]):
    """Dismisses with the expression when "Use" is chosen (only when `use`), with a
    `JobSchedule` on "Edit job" (only when opened on a `job`), with a `NewJobSchedule` on
    "New job" (only when not `use`), else None."""

    CSS_PATH = "cron_builder.tcss"
    # `-narrow`: presets and picker take two lines each (they are ~95 columns on one);
    # the whole builder scrolls when the terminal is too short for it (80x24).
    # (Not a ClassVar: Textual declares it an instance attribute.)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012
    BINDINGS: ClassVar = [
        Binding("escape", "close", "Close", id="builder.close",
                tooltip="close the builder (the job keeps its schedule)"),
        Binding("ctrl+s", "use", "Use", id="builder.use",
                tooltip="put this expression into the job (enter in the expression does too)"),
        Binding("ctrl+s", "edit_job", "Edit job", id="builder.edit_job",
                tooltip="open the job in the editor with this schedule and zone (ctrl+s "
                        "there saves and applies it)"),
        Binding("ctrl+n", "new_job", "New job", id="builder.new_job",
                tooltip="close the builder and make a new job with this schedule"),
        Binding("ctrl+up", "more_fires", "More fires", show=False, id="builder.more",
                tooltip="show more upcoming fires"),
        Binding("ctrl+down", "fewer_fires", "Fewer fires", show=False, id="builder.fewer",
                tooltip="show fewer upcoming fires"),
    ]

    def __init__(self, expression: str = "", *, zone: str | tzinfo | None = None,
                 now: Callable[[], datetime] | None = None, local: tzinfo | None = None,
                 use: bool = False, fires: int = DEFAULT_FIRES, live: bool = True,
                 new_job: bool = False, job: str | None = None) -> None:
        super().__init__()
        self.new_job_allowed = new_job
        self.job = job  # opened on this job's schedule: "Edit job" takes the one tried to it
        self.initial = expression
        self.local = local or local_zone()
        zone_key = getattr(zone, "key", None) if zone is not None else None
        self.zone_text = (zone if isinstance(zone, str) else zone_key) or (
            getattr(self.local, "key", None) or "UTC")
        self.now = now or (lambda: datetime.now(UTC))
        self.use_mode = use
        self.n_fires = fires
        self.live = live
        self.result: Preview | None = None
        # Opened empty, nothing typed yet: a hint, not an error. Once the operator has typed
        # (or the builder opened on an expression), clearing it is an error like any other.
        self.typed = bool(expression.strip())
        self._footer_valid: bool | None = None  # `valid` when the footer was last refreshed

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="builder"):
            with Horizontal(id="inputs"):
                with Vertical(id="expr-box"):
                    yield Label("Expression", classes="input-label")
                    yield Input(self.initial, id="expr",
                                placeholder="5 fields (min hour day month weekday), a macro "
                                "like @daily, or @every 90s")
                    yield ErrorLine(id="expr-error")
                with Vertical(id="zone-box"):
                    yield Label("Time zone", classes="input-label")
                    yield Input(self.zone_text, id="zone",
                                suggester=SuggestFromList(zone_names(), case_sensitive=False),
                                tooltip="IANA zone; → accepts the completion")
                    yield Static("", id="zone-error")
                with Vertical(id="n-box"):
                    yield Label("Fires", classes="input-label")
                    yield Input(str(self.n_fires), id="n", restrict=r"\d{0,3}", max_length=3,
                                tooltip=f"how many upcoming fires to list (1–{MAX_FIRES})")
            yield Static("", id="description")
            yield FieldsView(id="fields")
            with Horizontal(id="panes"):
                with VerticalScroll(id="warnings-pane"):
                    yield WarningsView(id="warnings")
                with VerticalScroll(id="fires-pane"):
                    yield FiresView(id="fires")
            yield PresetBar(id="presets")
            yield SchedulePicker(id="picker")
            if self.use_mode:
                with Horizontal(id="use-row"):
                    yield Button("Use this schedule", id="use", variant="primary")
                    yield Button("Cancel", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#fields").border_title = "Fields"
        self.query_one("#fires-pane").border_title = "Next fires"
        self.query_one("#warnings-pane").border_title = "Warnings"
        for box in self.query(Input):
            box.cursor_blink = self.live
        self.recompute()
        self.query_one("#expr", Input).focus()
        if self.live:
            self.set_interval(15, self.recompute, name="builder-refresh")

    # -- the preview ----------------------------------------------------------------------

    @property
    def expression(self) -> str:
        return self.query_one("#expr", Input).value

    @property
    def valid(self) -> bool:
        return self.result is not None and self.result.ok and self._zone() is not None

    def _zone(self) -> ZoneInfo | None:
        try:
            return get_zone(self.query_one("#zone", Input).value.strip())
        except ZoneError:
            return None

    def recompute(self) -> None:
        """Parse and preview the current input; push the result down to the views."""
        zone_box = self.query_one("#zone", Input)
        zone_error = self.query_one("#zone-error", Static)
        zone = self._zone()
        if zone is None:
            try:
                get_zone(zone_box.value.strip())
            except ZoneError as exc:
                zone_error.update(Content(f"✗ {zone_problem(zone_box.value.strip(), exc)}"))
            zone_box.add_class("-invalid")
        else:
            zone_error.update("")
            zone_box.remove_class("-invalid")
        text = self.expression
        # A bad zone leaves the expression's meaning and fields as they are (they do not
        # depend on it); only the fires wait for a zone.
        self.result = preview(text, zone or UTC_ZONE, self.now(), self.n_fires,
                              local=self.local)
        if zone is None:
            self.result = replace(self.result, fires=[], warnings=[
                w for w in self.result.warnings if w.kind != "dst"])
        self._show(self.result)

    def _show(self, p: Preview) -> None:
        expr_box = self.query_one("#expr", Input)
        error_line = self.query_one(ErrorLine)
        error_line.shift = int(expr_box.scroll_x)
        error_line.ok_text = f"means {p.expanded}" if p.expanded else "valid"
        untouched = not self.typed and not self.expression.strip() and self._zone() is not None
        error_line.hint = EMPTY_HINT if untouched else ""
        error_line.error = None if untouched else p.error
        expr_box.set_class(not p.ok and not untouched, "-invalid")
        desc = self.query_one("#description", Static)
        desc.update(p.description if p.ok else "")
        fields = self.query_one(FieldsView)
        fields.placeholder = ("each field's meaning shows here as you type" if untouched
                              else "fix the expression to see its fields")
        fields.rows = p.fields
        warnings = self.query_one(WarningsView)
        warnings.valid = p.ok
        warnings.warnings = p.warnings
        pane = self.query_one("#warnings-pane")
        pane.border_title = f"Warnings ({len(p.warnings)})" if p.warnings else "Warnings"
        fires = self.query_one(FiresView)
        fires.zone_ok = self._zone() is not None
        fires.preview = p
        self.query_one("#fires-pane").border_title = (
            f"Next {len(p.fires)} fires" if p.ok and p.fires else "Next fires")
        picker = self.query_one(SchedulePicker)
        if p.parsed is not None:
            picker.fields = p.parsed
        elif not picker.has_focus_within:  # an @every, or no parse: nothing the toggles show
            picker.set_class(bool(self.expression.strip()), "-other-shape")
        if self.use_mode:
            self.query_one("#use", Button).disabled = not self.valid
        if self.valid != self._footer_valid:  # Use is the only binding that depends on the
            self._footer_valid = self.valid  # input; a refresh rebuilds the whole footer
            self.refresh_bindings()

    # -- events from the inputs and pickers ------------------------------------------------

    @on(Input.Changed, "#expr")
    @on(Input.Changed, "#zone")
    def _input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "expr" and event.value.strip():
            self.typed = True
        self.recompute()

    @on(Input.Changed, "#n")
    def _n_changed(self, event: Input.Changed) -> None:
        value = event.value
        if value.isdigit() and int(value) > MAX_FIRES:
            event.input.value = str(MAX_FIRES)  # what is listed (its own Changed follows)
        elif value.isdigit() and int(value) > 0:
            self.n_fires = int(value)
            self.recompute()

    @on(Input.Submitted, "#expr")
    def _submitted(self) -> None:
        if self.use_mode:
            self.action_use()

    @on(PresetBar.Chosen)
    @on(SchedulePicker.Built)
    def _built(self, message: PresetBar.Chosen | SchedulePicker.Built) -> None:
        box = self.query_one("#expr", Input)
        with self.prevent(SchedulePicker.Built):
            box.value = message.expression
        box.cursor_position = len(box.value)

    @on(Button.Pressed, "#use")
    def _use_pressed(self) -> None:
        self.action_use()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_close()

    # -- actions ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "use":
            if not self.use_mode:
                return False
            return True if self.valid else None
        if action == "new_job":
            if self.use_mode or not self.new_job_allowed:
                return False
            return True if self.valid else None
        if action == "edit_job":
            if self.use_mode or self.job is None:
                return False
            return True if self.valid else None
        return True

    def action_use(self) -> None:
        if self.use_mode and self.valid:
            self.dismiss(" ".join(self.expression.split()))
        elif self.use_mode:
            self.app.bell()

    def action_new_job(self) -> None:
        if self.use_mode or not self.new_job_allowed:
            return
        if not self.valid:
            self.app.bell()
            return
        zone = self.query_one("#zone", Input).value.strip()
        self.dismiss(NewJobSchedule(" ".join(self.expression.split()),
                                    zone if zone != self.zone_text else ""))

    def action_edit_job(self) -> None:
        if self.use_mode or self.job is None:
            return
        if not self.valid:
            self.app.bell()
            return
        zone = self.query_one("#zone", Input).value.strip()
        self.dismiss(JobSchedule(" ".join(self.expression.split()),
                                 zone if zone != self.zone_text else "", job=self.job))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_more_fires(self) -> None:
        self._set_n(min(MAX_FIRES, self.n_fires + 5))

    def action_fewer_fires(self) -> None:
        self._set_n(max(1, self.n_fires - 5))

    def _set_n(self, n: int) -> None:
        self.query_one("#n", Input).value = str(n)
