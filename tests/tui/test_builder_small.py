"""The cron builder in a small terminal (80x24): every control can be reached and is on the
screen when it has focus (none of the presets, the picker and Use/Cancel is cut off below
the fires pane, nor the picker's hours past the right edge), and the fires keep one line
each."""

import asyncio

import pytest
from hosts import BuilderApp
from textual.widgets import Button, Checkbox

from crondeck.tui.widgets.cron_preview import FiresView

SMALL = (80, 24)


@pytest.mark.slow
def test_every_builder_control_is_on_screen_when_focused_at_80x24():
    async def go():
        async with BuilderApp("*/15 9-17 * * 1-5", use=True).run_test(size=SMALL) as pilot:
            await pilot.pause()
            screen = pilot.app.screen
            controls = [*screen.query(Button), *screen.query(Checkbox),
                        *screen.query("#picker Input")]
            assert len(controls) >= 9 + 2 + 7 + 3  # presets, use/cancel, days, hours
            for widget in controls:
                widget.focus()
                await pilot.pause()
                region = widget.region
                label = getattr(widget, "label", widget.id)
                assert region.width > 0 and region.height > 0, label
                assert screen.region.contains_region(region), (label, region)
                assert region.bottom <= SMALL[1] - 1, (label, region)  # above the footer

    asyncio.run(go())


@pytest.mark.slow
def test_next_fires_keep_one_line_each_at_80x24():
    """The gap column wrapped ("+4m" then "53s" on a line of its own)."""

    async def go():
        app = BuilderApp("*/15 9-17 * * 1-5", use=True)
        async with app.run_test(size=SMALL) as pilot:
            await pilot.pause()
            fires = pilot.app.screen.query_one(FiresView)
            rows = [fires.render_line(y).text.rstrip() for y in range(fires.size.height)]
            numbered = [r for r in rows if r[:2].strip().isdigit()]
            assert [int(r.split()[0]) for r in numbered] == list(range(1, len(numbered) + 1))
            assert len(rows) == len(numbered) + 1  # the header, then one line per fire

    asyncio.run(go())


@pytest.mark.slow
def test_a_dst_note_is_shown_whole_under_its_fire_at_80x24():
    """The note sat at the end of the fire's line: wrapped under # when wide, cut when not."""
    from hosts import DST_NOW

    async def go():
        app = BuilderApp("30 2 * * *", now=DST_NOW, use=True)
        async with app.run_test(size=SMALL) as pilot:
            await pilot.pause()
            fires = pilot.app.screen.query_one(FiresView)
            rows = [fires.render_line(y).text.rstrip() for y in range(fires.size.height)]
            moved = next(i for i, r in enumerate(rows) if "Sun 30 Mar 03:00" in r)
            assert rows[moved + 1].strip() == "⚠ DST: 02:30 does not exist, runs at 03:00"
            assert rows[moved + 2].split()[0] == "3"

    asyncio.run(go())


@pytest.mark.slow
@pytest.mark.parametrize("theme", ("crondeck-dark", "crondeck-light", "crondeck-high-contrast"))
def test_builder_panes_are_delimited_in_every_shipped_theme(theme, tmp_path):
    """Fields, Warnings and Next fires had $border-blurred borders: invisible in
    crondeck-light (#F7F7F7 on #F7F8FA), titles floating over nothing."""
    from test_themes import _contrast

    from crondeck.tui.themes import install_themes

    async def go():
        app = BuilderApp("*/15 9-17 * * 1-5", use=True)
        async with app.run_test(size=(120, 40)) as pilot:
            install_themes(app, user_dir=tmp_path / "none", remember=False)
            app.theme = theme
            await pilot.pause()
            screen = app.screen
            for pane_id in ("#fields", "#warnings-pane", "#fires-pane"):
                pane = screen.query_one(pane_id)
                background = pane.background_colors[1]
                edge, colour = pane.styles.border_top
                assert edge == "round"
                border = background + colour
                assert _contrast(border, background) >= 2.0, (theme, pane_id, border.hex)

    asyncio.run(go())


@pytest.mark.slow
def test_the_picker_says_when_it_cannot_show_the_expression():
    """With `*/5 * * * *` typed, a picker still showing Mon–Fri 09:00 would look like the
    expression's meaning, so it says it does not show this one, until it can again."""

    async def go():
        app = BuilderApp("*/5 * * * *", use=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            screen = app.screen
            picker, note = screen.query_one("#picker"), screen.query_one("#picker-note")
            assert picker.has_class("-other-shape") and note.display
            assert "≠ expression" in str(note.render())
            box = screen.query_one("#expr")
            box.value = "30 7 * * 1-5"
            await pilot.pause()
            assert not picker.has_class("-other-shape") and not note.display
            assert screen.query_one("#minute").value == "30"

    asyncio.run(go())
