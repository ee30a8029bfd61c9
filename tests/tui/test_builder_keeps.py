"""The cron builder keeps what was typed: the picker never builds over an expression it
cannot show; a bad zone says what it probably meant, whole, and leaves the expression's
fields alone; and the builder opened with `c` starts a new job with its schedule."""

import asyncio

import pytest
from conftest import settle
from hosts import BuilderApp
from test_job_actions_wiring import make
from textual.widgets import Checkbox, Input

from crondeck.tui.screens.cron_builder import CronBuilderScreen
from crondeck.tui.screens.job_editor import JobEditorScreen
from crondeck.tui.textual_compat import shown_notifications
from crondeck.tui.widgets.cron_preview import FieldsView, FiresView


def shown(widget) -> str:
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


@pytest.mark.slow
def test_the_picker_leaves_an_expression_it_cannot_show_alone():
    async def go():
        app = BuilderApp("")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            screen = app.screen
            expr = screen.query_one("#expr", Input)
            expr.focus()
            await pilot.press(*"0 9 * * 1-5")
            await pilot.pause()
            expr.value = ""
            await pilot.press(*"*/15 * * * *")
            await pilot.pause()
            picker = screen.query_one("#picker")
            assert picker.has_class("-other-shape")
            saturday = screen.query_one("#day-6", Checkbox)
            saturday.focus()
            await pilot.press("space")
            await pilot.pause()
            assert expr.value == "*/15 * * * *"
            assert not saturday.value  # the toggle did not pretend either
            assert any("cannot show the expression" in n.message for n in shown_notifications(app))
            # an expression that does not parse is not thrown away either
            expr.focus()
            expr.value = "0 9 * * 1-"
            await pilot.pause()
            assert picker.has_class("-other-shape")
            saturday.focus()
            await pilot.press("space")
            await pilot.pause()
            assert expr.value == "0 9 * * 1-"
            # with the expression cleared, the picker builds
            expr.focus()
            expr.value = ""
            await pilot.pause()
            assert not picker.has_class("-other-shape")
            saturday.focus()
            await pilot.press("space")
            await pilot.pause()
            assert expr.value == "0 9 * * 1-6"

    asyncio.run(go())


@pytest.mark.slow
def test_a_bad_zone_suggests_whole_and_leaves_the_fields_alone():
    for size in ((80, 24), (120, 40), (200, 50)):
        async def go(size=size):
            app = BuilderApp("0 9 * * 1-5")
            async with app.run_test(size=size) as pilot:
                await pilot.pause()
                screen = app.screen
                screen.query_one("#zone", Input).value = "berlin"
                await pilot.pause()
                error = screen.query_one("#zone-error")
                text = " ".join(shown(error).split())
                assert "did you mean 'Europe/Berlin'?" in text, (size, text)
                fields = shown(screen.query_one(FieldsView))
                assert "fix the expression" not in fields and "MEANING" in fields
                assert "until the time zone is valid" in shown(screen.query_one(FiresView))
                assert "✗" not in shown(screen.query_one("#expr-error"))
                assert not screen.valid

        asyncio.run(go())


@pytest.mark.slow
def test_new_job_from_the_builder_opened_with_c(tmp_path):
    app, _sched, _path = make(tmp_path)

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await pilot.pause()
            builder = app.screen
            assert isinstance(builder, CronBuilderScreen)
            await pilot.press(*"*/20 8-18 * * 1-5")
            await pilot.pause()
            assert builder.check_action("new_job", ()) is True
            await pilot.press("ctrl+n")
            await pilot.pause()
            editor = app.screen
            assert isinstance(editor, JobEditorScreen)
            assert editor.query_one("#schedule", Input).value == "*/20 8-18 * * 1-5"
            assert not editor.original

    asyncio.run(go())


@pytest.mark.slow
def test_new_job_is_not_offered_for_an_invalid_expression_nor_from_the_editor():
    async def go():
        app = BuilderApp("0 9 * * 8", new_job=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert app.screen.check_action("new_job", ()) is None  # shown, disabled
            await pilot.press("ctrl+n")
            assert isinstance(app.screen, CronBuilderScreen)
        app = BuilderApp("0 9 * * 1", use=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert app.screen.check_action("new_job", ()) is False

    asyncio.run(go())
