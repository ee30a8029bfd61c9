"""`t` opens the theme list on the theme in use, crondeck's own themes next: it opened on
"ansi-dark" (the alphabetical first of ~25), the current theme unmarked, the shipped light
and high-contrast themes somewhere in the middle."""

import asyncio

import pytest
from conftest import palette_searched
from test_themes import _pick_theme, _real_app, xdg  # noqa: F401  (xdg: a fixture)
from textual.command import CommandList


async def listed(pilot) -> list[str]:
    await palette_searched(pilot)
    options = pilot.app.screen.query_one(CommandList)
    return [str(options.get_option_at_index(i).prompt).split("\n")[0]
            for i in range(options.option_count)]


@pytest.mark.slow
def test_the_theme_list_opens_on_the_theme_in_use_then_crondecks_own(xdg):  # noqa: F811
    async def go():
        app = _real_app()
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            await pilot.press("t")
            names = await listed(pilot)
            assert names[:3] == ["crondeck-dark", "crondeck-high-contrast", "crondeck-light"]
            assert app.screen.query_one(CommandList).highlighted == 0
            assert "in use" in str(app.screen.query_one(CommandList).get_option_at_index(0)
                                   .prompt)
            assert "textual-dark" in names[3:]  # Textual's own themes still offered
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("t")
            await _pick_theme(pilot, "crondeck-light")
            assert app.theme == "crondeck-light"
            await pilot.press("t")
            names = await listed(pilot)
            assert names[:3] == ["crondeck-light", "crondeck-dark", "crondeck-high-contrast"]

    asyncio.run(go())
