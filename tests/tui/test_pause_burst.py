"""Keys typed in a burst (a paste, automation) land in the field they were typed for: a
Tab among them moves on before the next key is delivered."""

import asyncio

import pytest
from conftest import settle
from textual import events
from textual.widgets import Input

from crondeck.tui.screens.pause_dialog import PauseDialog

SIZE = (120, 36)


def _burst(app, keys: list[str]) -> None:
    """Queue every key at once, as a terminal read of pasted text does (Pilot.press would
    wait for each key to be handled)."""
    for key in keys:
        char = None if len(key) > 1 else key
        app.post_message(events.Key(key, char if key != "tab" else "\t"))


@pytest.mark.slow
def test_note_tab_duration_in_one_burst(make_app):
    for _try in range(3):
        app, _sched, _clock, _ = make_app()

        async def go(app=app):
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                await pilot.press("space")
                await pilot.pause()
                dialog = app.screen
                assert isinstance(dialog, PauseDialog)
                _burst(app, [*"note", "tab", *"5m"])
                for _ in range(20):
                    await pilot.pause()
                assert dialog.query_one("#note", Input).value == "note"
                assert dialog.query_one("#duration", Input).value == "5m"

        asyncio.run(go())
