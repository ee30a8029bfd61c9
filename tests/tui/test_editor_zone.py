"""The job editor's time-zone field completes from the IANA list: type part of a zone,
accept the suggestion the way Textual's Input offers it (→ at the end of the text), and the
job is saved and scheduled in that zone."""

import asyncio
import tomllib
from datetime import UTC

from hosts import SIZE, EditorApp, open_test_deck
from textual.widgets import Input, Static

from crondeck.tui.screens.job_editor import JobEditorScreen


def test_zone_completion_from_the_iana_list_is_accepted_and_saved(tmp_path):
    deck = open_test_deck(tmp_path)
    path = deck.config.path
    app = EditorApp(deck, "digest")  # 0 9 * * 1-5, in UTC; now is Monday 08:58:30 UTC

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            editor = app.screen
            assert isinstance(editor, JobEditorScreen)
            box = editor.query_one("#timezone", Input)
            box.focus()
            box.value = ""
            await pilot.press(*"Europe/Ber")
            await pilot.pause()
            assert box.value == "Europe/Ber"
            assert box._suggestion == "Europe/Berlin"  # what the field shows greyed out
            await pilot.press("right")  # Input's key for taking the suggestion
            await pilot.pause()
            assert box.value == "Europe/Berlin"
            assert not editor.query_one("#timezone-error", Static).display
            info = str(editor.query_one("#schedule-info", Static).render())
            assert "next Tue 04 Mar 08:00" in info  # 09:00 in Berlin, shown in UTC
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.results and app.results[0].action == "updated"

    try:
        asyncio.run(go())
    finally:
        deck.close()
    saved = {j["name"]: j for j in tomllib.loads(path.read_text())["jobs"]}
    assert saved["digest"]["timezone"] == "Europe/Berlin"
    job = deck.scheduler.jobs["digest"]
    # 09:00 Berlin (08:00 UTC) has passed on Monday: the next is Tuesday's
    assert job.next_fire.astimezone(UTC).isoformat() == "2025-03-04T08:00:00+00:00"
