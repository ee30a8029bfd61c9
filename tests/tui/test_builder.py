"""The cron builder: every keystroke re-validates and re-previews; errors sit under their
column; presets and pickers build expressions; "Use" returns the expression."""

import asyncio
from datetime import UTC, datetime

import pytest
from conftest import type_text
from hosts import DST_NOW, SIZE, BuilderApp

from crondeck.tui.cron_view import gap, preview
from crondeck.tui.screens.cron_builder import CronBuilderScreen
from crondeck.tui.widgets.cron_pickers import PRESETS, build_expression
from crondeck.tui.widgets.cron_preview import ErrorLine, FieldsView, FiresView, WarningsView


def shown(widget) -> str:
    return widget.render().plain


def run(app, steps):
    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await steps(pilot, app.screen)

    asyncio.run(go())


# -- the view model (no Textual) -----------------------------------------------------------


def test_gap_two_units():
    assert gap(900) == "+15m"
    assert gap(2 * 86400 + 16 * 3600 + 59) == "+2d 16h"
    assert gap(90) == "+1m 30s"
    assert gap(3600) == "+1h"
    assert gap(0) == "+0s"


def test_preview_breakdown_description_and_fires():
    now = datetime(2025, 3, 3, 8, 58, 30, tzinfo=UTC)
    p = preview("*/15 9-17 * * 1-5", "Europe/Berlin", now, 3, local=UTC)
    assert p.ok
    assert p.description == "Every 15 minutes, 09:00–17:59, Monday through Friday"
    assert [r.name for r in p.fields] == ["minute", "hour", "day of month", "month",
                                         "day of week"]
    assert p.fields[0].meaning == "at :00, :15, :30 and :45"
    assert p.fields[4].meaning == "Mon–Fri"
    assert "0–59" in p.fields[0].allowed
    first = p.fires[0]
    assert first.at.isoformat() == "2025-03-03T10:00:00+01:00"
    assert first.local is not None and first.local.hour == 9  # operator's zone beside it
    assert first.gap == "+1m 30s"
    assert p.fires[1].gap == "+15m"


def test_preview_same_zone_has_no_local_column():
    p = preview("0 9 * * *", "UTC", datetime(2025, 3, 3, tzinfo=UTC), 2, local=UTC)
    assert all(f.local is None for f in p.fires)


def test_preview_warnings_are_the_engines_tagged_by_kind():
    now = datetime(2025, 3, 3, tzinfo=UTC)
    p = preview("*/7 0 1 * 1", "Europe/Berlin", now)
    kinds = [w.kind for w in p.warnings]
    assert kinds[0] == "step" and "or" in kinds
    p = preview("30 2 * * *", "Europe/Berlin", now)
    dst = [w.text for w in p.warnings if w.kind == "dst"]
    assert dst[0] == "2025-03-30: 02:30 does not exist (DST change); runs at 03:00 instead"


def test_preview_marks_fires_moved_by_dst():
    p = preview("30 2 * * *", "Europe/Berlin", DST_NOW, 4)
    marked = [f for f in p.fires if f.dst]
    assert len(marked) == 1
    assert marked[0].at.isoformat() == "2025-03-30T03:00:00+02:00"
    assert "02:30 does not exist" in marked[0].dst


def test_preview_interval_and_macro():
    now = datetime(2025, 3, 3, 8, 58, 30, tzinfo=UTC)
    p = preview("@every 90s", "UTC", now, 3)
    assert p.interval and p.description == "Every 1 minute 30 seconds"
    assert [f.gap for f in p.fires] == ["+1m 30s", "+1m 30s", "+1m 30s"]
    p = preview("@daily", "UTC", now, 1)
    assert p.expanded == "0 0 * * *"


def test_build_expression_from_picker_choices():
    assert build_expression(0, (9, 9), {1, 2, 3, 4, 5}) == "0 9 * * 1-5"
    assert build_expression(30, (9, 17), {6, 0}) == "30 9-17 * * 6,7"
    assert build_expression(5, None, set()) == "5 * * * *"
    assert build_expression(0, (0, 23), {1, 3, 5}) == "0 * * * 1,3,5"


# -- the screen ----------------------------------------------------------------------------


@pytest.mark.slow
def test_typing_changes_the_preview_on_every_keystroke():
    async def steps(pilot, screen):
        assert "Every minute" in shown(screen.query_one("#description"))
        await pilot.press("ctrl+u", *"0 9 * * 1-5")
        await pilot.pause()
        assert str(screen.query_one("#description").render()) == (
            "At 09:00, Monday through Friday")
        assert "Mon–Fri" in shown(screen.query_one(FieldsView))
        fires = shown(screen.query_one(FiresView))
        assert "Tue 04 Mar 09:00 CET" in fires and "08:00 UTC" in fires
        # one more keystroke: different schedule, different fires
        await pilot.press("backspace", "backspace", "backspace", "6")
        await pilot.pause()
        assert "At 09:00 on Saturday" in str(screen.query_one("#description").render())
        assert "Sat 08 Mar 09:00" in shown(screen.query_one(FiresView))

    run(BuilderApp("* * * * *"), steps)


@pytest.mark.slow
def test_error_sits_under_its_column_then_is_fixed():
    async def steps(pilot, screen):
        await pilot.press("end", "ctrl+u")
        await type_text(pilot, "0 24 * * *")
        await pilot.pause()
        line = screen.query_one(ErrorLine)
        assert line.error is not None
        caret, message = shown(line).split("\n")
        assert caret == "  ^^"  # "0 24 * * *": the hour starts at column 2
        assert message.strip() == "✗ hour: 24 is out of range 0–23"
        assert screen.query_one("#expr").has_class("-invalid")
        assert "fix the expression" in shown(screen.query_one(FieldsView))
        assert "no fires" in shown(screen.query_one(FiresView))
        # fix it: 24 -> 23
        await pilot.press("home", "right", "right", "right", "right", "backspace", "3")
        await pilot.pause()
        assert screen.expression == "0 23 * * *"
        assert line.error is None
        assert "At 23:00" in str(screen.query_one("#description").render())
        assert not screen.query_one("#expr").has_class("-invalid")

    run(BuilderApp("0 9 * * *"), steps)


@pytest.mark.slow
def test_preset_buttons_set_the_expression():
    async def steps(pilot, screen):
        labels = [label for label, _ in PRESETS]
        for label in ("weekdays 09:00", "@every 90s", "15 min"):
            await pilot.click(f"#preset-{labels.index(label)}")
            await pilot.pause()
            assert screen.expression == dict(PRESETS)[label]
        assert str(screen.query_one("#description").render()) == "Every 15 minutes"

    run(BuilderApp("0 0 1 1 *"), steps)


@pytest.mark.slow
def test_weekday_toggles_and_hours_build_an_expression():
    async def steps(pilot, screen):
        # the picker shows the typed expression's shape: Mon–Fri at 09:00
        assert screen.query_one("#day-1").value and not screen.query_one("#day-6").value
        await pilot.click("#day-6")  # add Saturday
        await pilot.pause()
        assert screen.expression == "0 9 * * 1-6"
        await pilot.click("#hour-to")
        await pilot.press("end", "backspace", "backspace", *"17")
        await pilot.pause()
        assert screen.expression == "0 9-17 * * 1-6"
        assert str(screen.query_one("#description").render()) == (
            "At minute 0 past hours 09–17, Monday through Saturday")

    run(BuilderApp("0 9 * * 1-5"), steps)


@pytest.mark.slow
def test_dst_warning_and_moved_fire_are_marked():
    async def steps(pilot, screen):
        warnings = shown(screen.query_one(WarningsView))
        assert "DST" in warnings and "runs at 03:00 instead" in warnings
        assert "⚠ DST: 02:30 does not exist, runs at 03:00" in shown(screen.query_one(FiresView))

    run(BuilderApp("30 2 * * *", now=DST_NOW), steps)


@pytest.mark.slow
def test_fire_count_is_adjustable():
    async def steps(pilot, screen):
        assert len(screen.result.fires) == 10
        await pilot.click("#n")
        await pilot.press("end", "ctrl+u", "3")
        await pilot.pause()
        assert len(screen.result.fires) == 3
        assert screen.query_one("#fires-pane").border_title == "Next 3 fires"
        await pilot.press("ctrl+up")
        await pilot.pause()
        assert len(screen.result.fires) == 8

    run(BuilderApp("*/5 * * * *"), steps)


@pytest.mark.slow
def test_zone_change_and_bad_zone():
    async def steps(pilot, screen):
        await pilot.click("#zone")
        await pilot.press("end", "ctrl+u")
        await type_text(pilot, "America/New_Yrok")
        await pilot.pause()
        assert "did you mean 'America/New_York'" in shown(screen.query_one("#zone-error"))
        assert not screen.valid
        await pilot.press("ctrl+u")
        await type_text(pilot, "America/New_York")
        await pilot.pause()
        assert screen.valid
        assert "EST" in shown(screen.query_one(FiresView))

    run(BuilderApp("0 9 * * *"), steps)


@pytest.mark.slow
def test_use_returns_the_expression_only_when_valid():
    app = BuilderApp("0 9 * * *", use=True)

    async def steps(pilot, screen):
        await pilot.press("end", "backspace", *"8")  # "0 9 * * 8": out of range
        await pilot.pause()
        assert screen.query_one("#use").disabled
        await pilot.press("ctrl+s")
        await pilot.press("enter")
        await pilot.pause()
        assert app.results == [] and app.screen is screen
        await pilot.press("backspace", *"1-5")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.results == ["0 9 * * 1-5"]

    run(app, steps)


@pytest.mark.slow
def test_standalone_has_no_use_and_escape_closes():
    app = BuilderApp("0 9 * * *")

    async def steps(pilot, screen):
        assert not screen.query("#use")
        assert screen.check_action("use", ()) is False
        await pilot.press("enter")  # nothing to use: stays open
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None]

    run(app, steps)


def test_builder_takes_a_zone_object():
    from zoneinfo import ZoneInfo

    screen = CronBuilderScreen("0 9 * * *", zone=ZoneInfo("Asia/Tokyo"))
    assert screen.zone_text == "Asia/Tokyo"


@pytest.mark.slow
def test_panes_grow_to_show_every_row_when_an_empty_expression_becomes_valid():
    """Opened empty (as from the dashboard), then typed: all five field rows and all the
    fires are on screen, not just the header line the placeholder had room for."""

    async def steps(pilot, screen):
        fields, fires = screen.query_one(FieldsView), screen.query_one(FiresView)
        assert fields.size.height == 1  # the placeholder line
        await type_text(pilot, "0 9 * * 1-5")
        await pilot.pause()
        assert fields.size.height == 6  # header + minute, hour, day, month, weekday
        assert fires.size.height >= 11  # header + 10 fires

    run(BuilderApp(""), steps)


@pytest.mark.slow
def test_an_expression_that_never_fires_is_an_error_under_the_input_and_cannot_be_used(
        tmp_path):
    """`0 0 30 2 *` parses field by field but can never fire: the builder says so right under
    the day of month, in the error style, and from the editor it cannot be put into the job."""
    from hosts import EditorApp, open_test_deck
    from textual.color import Color
    from textual.widgets import Button, Input

    runtime = open_test_deck(tmp_path)
    app = EditorApp(runtime, "disk")

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            editor = app.screen
            await pilot.press("ctrl+b")
            await pilot.pause()
            builder = app.screen
            assert isinstance(builder, CronBuilderScreen) and builder.use_mode
            box = builder.query_one("#expr", Input)
            await pilot.press("end", "ctrl+u")
            await type_text(pilot, "0 0 30 2 *")
            await pilot.pause()
            line = builder.query_one(ErrorLine)
            # right under the input: the caret under "30", then the whole message (wrapped
            # when the input is too narrow for it, never cut off), in the error colour
            assert line.region.y == box.region.bottom
            drawn = [line.render_line(y).text.rstrip() for y in range(line.size.height)]
            assert drawn[0] == "    ^^"  # "0 0 " before "30"
            assert " ".join(" ".join(drawn[1:]).split()) == (
                "✗ day-of-month: this expression can never fire: day 30 never occurs in "
                "February")
            cross = next(seg for seg in line.render_line(1) if "✗" in seg.text)
            drawn_rgb = cross.style.color.triplet
            theme_rgb = Color.parse(app.current_theme.error).rgb
            assert all(abs(a - b) <= 2 for a, b in zip(drawn_rgb, theme_rgb, strict=True))
            assert box.has_class("-invalid")
            assert "no fires" in shown(builder.query_one(FiresView))
            # "Use" is unavailable: the button, ctrl+s and enter all leave the job alone
            assert builder.query_one("#use", Button).disabled
            assert builder.check_action("use", ()) is None  # shown dimmed in the footer
            await pilot.press("ctrl+s")
            await pilot.press("enter")
            await pilot.click("#use")
            await pilot.pause()
            assert app.screen is builder
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is editor
            assert editor.query_one("#schedule", Input).value == "*/15 * * * *"

    try:
        asyncio.run(go())
    finally:
        runtime.close()


@pytest.mark.slow
def test_an_empty_builder_invites_typing_and_scolds_only_after_clearing():
    """Opened empty (from the dashboard): a hint, not "✗ empty expression"; typing and then
    clearing the expression is an error like any other."""
    app = BuilderApp("", use=True)

    async def steps(pilot, screen):
        line, box = screen.query_one(ErrorLine), screen.query_one("#expr")
        assert shown(line) == "type a cron expression, or pick a preset below"
        assert "✗" not in shown(line) and not box.has_class("-invalid")
        assert "fix" not in shown(screen.query_one(FieldsView))  # nothing to fix yet
        assert screen.query_one("#use").disabled  # nothing to use yet
        await pilot.press("5")
        await pilot.pause()
        assert "type a cron expression" not in shown(line)
        await pilot.press("backspace")
        await pilot.pause()
        assert shown(line).startswith("✗ empty expression")
        assert "fix the expression" in shown(screen.query_one(FieldsView))
        assert box.has_class("-invalid")

    run(app, steps)


@pytest.mark.slow
def test_fields_keep_one_line_each_in_a_small_terminal():
    """At 80x24 the allowed values do not fit the pane; rather than wrap under the FIELD
    column ("15W" alone on a line), each field keeps to its line, cut with an ellipsis."""

    async def go():
        async with BuilderApp("*/15 9-17 * * 1-5").run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            fields = pilot.app.screen.query_one(FieldsView)
            assert fields.size.height == 6  # header + one line per field
            lines = [fields.render_line(y).text.rstrip() for y in range(6)]
            assert [line.split()[0] for line in lines[1:]] == ["minute", "hour", "day",
                                                               "month", "day"]
            assert all(len(line) <= fields.size.width for line in lines)
            assert "ALLOWED" in lines[0] and "…" in lines[5]

    asyncio.run(go())


def test_the_gap_column_stays_aligned_when_from_now_is_long():
    """'in 115d 21h' is wider than the column's 10 cells: every row's GAP starts where the
    header's does."""
    async def steps(pilot, screen):
        lines = shown(screen.query_one(FiresView)).splitlines()
        column = lines[0].index("GAP")
        assert any("d " in line.split("in ")[1][:8] for line in lines[1:])  # '115d 21h'
        for line in lines[1:]:
            assert line[column] == "+", line

    run(BuilderApp("0 9 LW * *", fires=12), steps)


@pytest.mark.slow
def test_a_fire_count_past_the_most_shown_reads_as_the_most_shown():
    """Typed 500, the box said '00' (scrolled in a box too narrow) while 100 were listed."""
    async def steps(pilot, screen):
        await pilot.click("#n")
        await pilot.press("end", "ctrl+u", "5", "0", "0")
        await pilot.pause()
        box = screen.query_one("#n")
        assert box.value == "100" and len(screen.result.fires) == 100
        assert box.scrollable_content_region.width >= len("100") + 1  # the digits and cursor

    run(BuilderApp("*/5 * * * *"), steps)
