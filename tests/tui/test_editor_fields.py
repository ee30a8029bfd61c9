"""Job editor fields: the time zone completes from the IANA list (type part of a zone,
accept the suggestion the way Textual's Input offers it, → at the end of the text, and the
job is saved and scheduled in that zone); a pre_run whose program cannot be found is
warned about inline, without blocking the save."""

import asyncio
import tomllib
from datetime import UTC

import pytest
from conftest import type_text
from hosts import SIZE, EditorApp, open_test_deck
from textual.widgets import Input, Static

from crondeck.tui.screens.job_editor import JobEditorScreen


@pytest.mark.slow
def test_zone_completion_from_the_iana_list_is_accepted_and_saved(tmp_path):
    runtime = open_test_deck(tmp_path)
    path = runtime.config.path
    app = EditorApp(runtime, "digest")  # 0 9 * * 1-5, in UTC; now is Monday 08:58:30 UTC

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            editor = app.screen
            assert isinstance(editor, JobEditorScreen)
            box = editor.query_one("#timezone", Input)
            box.focus()
            box.value = ""
            await type_text(pilot, "Europe/Ber")
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
        runtime.close()
    saved = {j["name"]: j for j in tomllib.loads(path.read_text())["jobs"]}
    assert saved["digest"]["timezone"] == "Europe/Berlin"
    job = runtime.scheduler.jobs["digest"]
    # 09:00 Berlin (08:00 UTC) has passed on Monday: the next is Tuesday's
    assert job.next_fire.astimezone(UTC).isoformat() == "2025-03-04T08:00:00+00:00"


@pytest.mark.slow
def test_a_pre_run_that_is_no_program_is_warned_about_inline_but_can_be_saved(tmp_path):
    """`pre_run = "2m"` (a duration typed into the gate): the editor says, under the field
    and in the warning colour, that no such program exists; it is a warning, so Save stays
    available (the program may exist only where the jobs run)."""
    from textual.color import Color
    from textual.widgets import Button

    runtime = open_test_deck(tmp_path)
    path = runtime.config.path
    app = EditorApp(runtime, "disk")

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            editor = app.screen
            note = editor.query_one("#pre_run-error", Static)
            assert not note.display
            box = editor.query_one("#pre_run", Input)
            box.focus()
            await type_text(pilot, "2m")
            await pilot.pause()
            assert note.display
            text = " ".join(str(note.render()).split())
            assert text.startswith("⚠ program '2m' not found on PATH: the gate cannot start")
            warn = next(s for s in note.render_line(0) if "⚠" in s.text).style.color.triplet
            theme = Color.parse(app.current_theme.warning).rgb
            assert all(abs(a - b) <= 2 for a, b in zip(warn, theme, strict=True))
            assert not editor.query_one("#save", Button).disabled
            # a real program: the warning goes
            box.value = "true"
            await pilot.pause()
            assert not note.display
            box.value = "2m"
            await pilot.pause()
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.results and app.results[0].action == "updated"

    try:
        asyncio.run(go())
    finally:
        runtime.close()
    saved = {j["name"]: j for j in tomllib.loads(path.read_text())["jobs"]}
    assert saved["disk"]["pre_run"] == "2m"
