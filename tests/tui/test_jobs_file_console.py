"""The console respects the jobs file: a save never overwrites an edit made on disk since
it was read (it asks: keep both / keep mine / take theirs / $EDITOR), `E` edits the file
in $EDITOR (checked on return, problems shown with their line), and the header says for as
long as it lasts that the file on disk is refused."""

from __future__ import annotations

import asyncio
import os
import sys
import tomllib
from datetime import UTC
from pathlib import Path

import pytest
from conftest import SIZE, settle, text_of
from helpers import until
from hosts import JOBS_FILE, EditorApp, open_test_deck
from textual.widgets import Input

from crondeck.core import ConfigRejected, ConfigReloaded
from crondeck.core.config import Problem
from crondeck.tui.app import CrondeckApp
from crondeck.tui.external_editor import editor_argv
from crondeck.tui.runtime_watch import RuntimeWatcher
from crondeck.tui.screens.delete_job import confirm_delete
from crondeck.tui.screens.file_changed import EditorProblemsDialog, FileChangedDialog
from crondeck.tui.textual_compat import shown_notifications
from crondeck.tui.widgets.header import DeckHeader

COMMENTED = "# my jobs, my comments\n" + JOBS_FILE.replace(
    'command = "df -h"', 'command = "df -h"   # disk use')


def names(path: Path) -> list[str]:
    return [j["name"] for j in tomllib.loads(path.read_text())["jobs"]]


def touch(path: Path, text: str, bump: int = 1) -> None:
    """Write as another program would, with a visibly newer mtime."""
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def run(app, runtime, steps) -> None:
    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await steps(pilot)

    try:
        asyncio.run(go())
    finally:
        runtime.close()


async def fill_new_job(pilot, name: str, command: str) -> None:
    screen = pilot.app.screen
    for key, value in (("name", name), ("command", command)):
        box = screen.query_one(f"#{key}", Input)
        box.value = value
    source = screen.query_one("#source")
    source.value = "command"
    await pilot.pause()


# --- saving over an edit made on disk -----------------------------------------------------


@pytest.mark.slow
def test_a_save_after_an_invalid_outside_edit_asks_and_keep_mine_writes_mine(tmp_path):
    runtime = open_test_deck(tmp_path, COMMENTED)
    path = runtime.config.path
    app = EditorApp(runtime)
    theirs = COMMENTED.replace('"*/15 * * * *"', '"61 * * * *"')

    async def steps(pilot):
        await fill_new_job(pilot, "nightly", "echo hi")
        touch(path, theirs)  # refused on reload: the app keeps the version it read
        await pilot.press("ctrl+s")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FileChangedDialog)
        shown = str(dialog.query_one("#diff").query_one("Static").render())
        assert '+schedule = "61 * * * *"' in shown
        assert "keep both: not possible, their version does not load (line 18)" in str(
            dialog.query_one("#choices").render())
        assert path.read_text() == theirs  # nothing written while asking
        await pilot.press("b")  # not offered: their version does not load
        await pilot.pause()
        assert app.screen is dialog
        await pilot.press("m")
        await pilot.pause()

    run(app, runtime, steps)
    text = path.read_text()
    assert text.startswith(COMMENTED)  # mine, comments and all, with the new job after
    assert names(path) == ["digest", "disk", "nightly"]
    assert path.with_name("crondeck.toml.bak").read_text() == theirs
    assert app.results[-1].job == "nightly"


@pytest.mark.slow
def test_take_theirs_writes_nothing_and_closes_the_form(tmp_path):
    runtime = open_test_deck(tmp_path, COMMENTED)
    path = runtime.config.path
    app = EditorApp(runtime, "disk")
    theirs = COMMENTED.replace("# my jobs", "# their jobs")

    async def steps(pilot):
        app.screen.query_one("#schedule", Input).value = "@hourly"
        await pilot.pause()
        touch(path, theirs)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FileChangedDialog)
        await pilot.press("escape")  # back to the form first: nothing lost
        await pilot.pause()
        assert app.screen.query_one("#schedule", Input).value == "@hourly"
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()

    run(app, runtime, steps)
    assert path.read_text() == theirs
    assert not path.with_name("crondeck.toml.bak").exists()
    assert app.results == [None]


@pytest.mark.slow
def test_keep_both_makes_my_change_to_their_version(tmp_path):
    runtime = open_test_deck(tmp_path, COMMENTED)
    path = runtime.config.path
    app = EditorApp(runtime, "disk")
    theirs = COMMENTED.replace('prompt = "Summarise the inbox."',
                               'prompt = "Summarise the inbox, briefly."  # theirs')

    async def steps(pilot):
        app.screen.query_one("#schedule", Input).value = "@hourly"
        await pilot.pause()
        touch(path, theirs)  # valid, but not reloaded yet
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FileChangedDialog)
        await pilot.press("b")
        await pilot.pause()

    run(app, runtime, steps)
    assert path.read_text() == theirs.replace('"*/15 * * * *"', '"@hourly"')
    assert runtime.config.job("digest").prompt == "Summarise the inbox, briefly."
    assert runtime.config.job("disk").schedule == "@hourly"


@pytest.mark.slow
def test_a_save_over_a_reloaded_outside_edit_of_the_same_job_asks(tmp_path):
    """The form was filled before the app took in their edit of this job: saving it as it
    stands would put their changed command back to the old one, unasked."""
    runtime = open_test_deck(tmp_path, COMMENTED)
    path = runtime.config.path
    app = EditorApp(runtime, "disk")
    theirs = COMMENTED.replace('command = "df -h"', 'command = "df -h /"')

    async def steps(pilot):
        app.screen.query_one("#timeout", Input).value = "1m"
        await pilot.pause()
        touch(path, theirs)
        assert not runtime.reload().problems  # the app follows the file: theirs is applied
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FileChangedDialog)
        assert path.read_text() == theirs  # nothing written while asking
        await pilot.press("b")
        await pilot.pause()

    run(app, runtime, steps)
    disk = tomllib.loads(path.read_text())["jobs"][1]
    assert (disk["command"], disk["timeout"]) == ("df -h /", "1m")
    assert "# disk use" in path.read_text()
    assert runtime.config.job("disk").command == "df -h /"


@pytest.mark.slow
def test_a_reloaded_outside_edit_of_another_job_is_kept_without_asking(tmp_path):
    runtime = open_test_deck(tmp_path, COMMENTED)
    path = runtime.config.path
    app = EditorApp(runtime, "disk")
    theirs = COMMENTED.replace('"Summarise the inbox."', '"Summarise the inbox, briefly."')

    async def steps(pilot):
        app.screen.query_one("#timeout", Input).value = "1m"
        await pilot.pause()
        touch(path, theirs)
        assert not runtime.reload().problems
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, FileChangedDialog)

    run(app, runtime, steps)
    jobs = tomllib.loads(path.read_text())["jobs"]
    assert jobs[0]["prompt"] == "Summarise the inbox, briefly."
    assert jobs[1]["timeout"] == "1m"


@pytest.mark.slow
def test_deleting_after_an_outside_edit_asks_too(tmp_path):
    runtime = open_test_deck(tmp_path, COMMENTED)
    path = runtime.config.path
    app = EditorApp(runtime, "digest")
    theirs = COMMENTED + '\n[[jobs]]\nname = "theirs"\ncommand = "true"\nschedule = "@daily"\n'

    async def steps(pilot):
        await pilot.press("escape")  # close the form: only the host app is left
        await pilot.pause()
        touch(path, theirs)
        confirm_delete(app, runtime, "digest")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, FileChangedDialog)
        await pilot.press("b")
        await until(lambda: "digest" not in names(path), 10, pilot=pilot)

    run(app, runtime, steps)
    assert names(path) == ["disk", "theirs"]
    assert "# disk use" in path.read_text() and "# my jobs, my comments" in path.read_text()
    assert "digest" not in runtime.scheduler.jobs


# --- E: the jobs file in $EDITOR -----------------------------------------------------------


def editor_script(tmp_path: Path, *edits: tuple[str, str]) -> str:
    """An $EDITOR that makes the n-th edit on its n-th run (a replace in the file given)."""
    script = tmp_path / "edit.py"
    script.write_text(
        "import pathlib, sys\n"
        f"edits = {list(edits)!r}\n"
        f"count = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "n = int(count.read_text()) if count.exists() else 0\n"
        "count.write_text(str(n + 1))\n"
        "path = pathlib.Path(sys.argv[-1])\n"
        "old, new = edits[min(n, len(edits) - 1)]\n"
        "path.write_text(path.read_text().replace(old, new))\n")
    return f"{sys.executable} {script}"


def deck_app(runtime) -> CrondeckApp:
    app = CrondeckApp(runtime.scheduler, config_path=runtime.config.path,
                      clock=runtime.scheduler.clock, zone=UTC, start=False, live=False)
    app.runtime = runtime
    return app


def test_E_applies_and_saves_a_valid_edit(tmp_path, monkeypatch):
    runtime = open_test_deck(tmp_path, COMMENTED)
    path = runtime.config.path
    monkeypatch.setenv("VISUAL", editor_script(tmp_path, ('"*/15 * * * *"', '"@hourly"')))
    app = deck_app(runtime)

    async def steps(pilot):
        await settle(pilot)
        await pilot.press("E")
        await until(lambda: "@hourly" in path.read_text(), 10, pilot=pilot)
        await settle(pilot)

    run(app, runtime, steps)
    assert path.read_text() == COMMENTED.replace('"*/15 * * * *"', '"@hourly"')
    assert path.with_name("crondeck.toml.bak").read_text() == COMMENTED
    assert runtime.config.job("disk").schedule == "@hourly"


@pytest.mark.slow
def test_E_shows_problems_with_their_line_and_can_edit_again_or_discard(tmp_path, monkeypatch):
    runtime = open_test_deck(tmp_path, COMMENTED)
    path = runtime.config.path
    monkeypatch.setenv("EDITOR", editor_script(
        tmp_path, ('"*/15 * * * *"', '"61 * * * *"'), ('"61 * * * *"', '"*/30 * * * *"'),
        ("# my jobs, my comments", "broken = [")))
    monkeypatch.delenv("VISUAL", raising=False)
    app = deck_app(runtime)

    async def steps(pilot):
        await settle(pilot)
        await pilot.press("E")
        await until(lambda: isinstance(app.screen, EditorProblemsDialog), 10, pilot=pilot)
        shown = str(app.screen.query_one("#problems").query_one("Static").render())
        assert "line 18, job 'disk', schedule: bad schedule '61 * * * *'" in shown
        assert path.read_text() == COMMENTED  # nothing applied or saved
        await pilot.press("e")  # edit again: the second edit fixes it
        await until(lambda: "*/30" in path.read_text(), 10, pilot=pilot)
        await pilot.press("E")  # the third breaks the TOML itself: discard it
        await until(lambda: isinstance(app.screen, EditorProblemsDialog), 10, pilot=pilot)
        assert "not valid TOML" in str(app.screen.query_one("#problems").query_one(
            "Static").render())
        await pilot.press("d")
        await pilot.pause()

    run(app, runtime, steps)
    assert path.read_text() == COMMENTED.replace('"*/15 * * * *"', '"*/30 * * * *"')
    assert runtime.config.job("disk").schedule == "*/30 * * * *"


def test_the_editor_command_opens_at_the_line_where_it_can():
    path = Path("/tmp/crondeck.toml")
    assert editor_argv(path, 12, {"EDITOR": "vim"}) == ["vim", "+12", str(path)]
    assert editor_argv(path, 12, {"VISUAL": "code --wait", "EDITOR": "vim"}) == [
        "code", "--wait", str(path)]
    assert editor_argv(path, None, {"EDITOR": "nano -w"}) == ["nano", "-w", str(path)]


# --- the header's lasting line ---------------------------------------------------------------


def test_the_header_says_the_file_is_refused_until_it_is_valid_again(tmp_path):
    runtime = open_test_deck(tmp_path, COMMENTED)
    path = runtime.config.path
    app = deck_app(runtime)

    async def steps(pilot):
        await settle(pilot)
        header = app.dashboard.query_one(DeckHeader)
        watcher = RuntimeWatcher(runtime, app.notify, app.file_state)
        touch(path, COMMENTED.replace('"*/15 * * * *"', '"61 * * * *"'), 1)
        watcher.check()
        await pilot.pause()
        shown = text_of(header)
        assert header.size.height == 2
        assert "crondeck.toml: 1 problem since 08:58 — previous version runs" in shown
        assert "E fixes it · line 18, job 'disk'" in shown
        touch(path, COMMENTED.replace('"*/15 * * * *"', '"62 * * * *"'), 2)
        watcher.check()  # still refused: the line stays, since the first refusal
        await pilot.pause()
        assert "since 08:58" in text_of(header)
        touch(path, COMMENTED, 3)
        watcher.check()
        await pilot.pause()
        assert header.size.height == 1 and "problem" not in text_of(header)

    run(app, runtime, steps)


@pytest.mark.slow
def test_an_attached_console_says_when_its_scheduler_refuses_the_file(make_app):
    """Attached, the scheduler in the other process reloads the file: its refusal reaches
    the console as an event, which must show as the in-process console shows its own."""
    app, sched, _clock, _ = make_app(start=False)
    problem = ("/srv/ops/crondeck.toml:62: job 'weekly', schedule: bad schedule '0 25 * * 1':"
               " hour: 25 is out of range 0–23\n      0 25 * * 1\n        ^^")

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            header = app.dashboard.query_one(DeckHeader)
            sched.bus.emit(ConfigRejected, path="/srv/ops/crondeck.toml", problems=(problem,))
            await settle(pilot)
            assert header.size.height == 2
            assert ("crondeck.toml: 1 problem since 08:58 — previous version runs · E fixes "
                    "it · line 62, job 'weekly', schedule: bad sch") in text_of(header)
            assert any("Jobs file not reloaded" in (n.title or "")
                       for n in shown_notifications(app))
            sched.bus.emit(ConfigReloaded, path="/srv/ops/crondeck.toml", added=(),
                           removed=(), changed=("weekly",))
            await settle(pilot)
            assert header.size.height == 1 and "problem" not in text_of(header)

    asyncio.run(go())


def test_snapshot_header_with_a_refused_file(snap_compare, make_app):
    app, *_ = make_app()

    async def before(pilot):
        await settle(pilot)
        pilot.app.file_state([Problem(Path("/srv/ops/crondeck.toml"),
                                      "bad schedule '61 * * * *': minute: 61 is out of range "
                                      "0–59", 12, "alpha", "schedule")])
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


@pytest.mark.slow
def test_snapshot_the_question_about_an_edit_on_disk(snap_compare, tmp_path):
    runtime = open_test_deck(tmp_path, COMMENTED)
    path = runtime.config.path
    app = EditorApp(runtime, "disk")

    async def before(pilot):
        await pilot.pause()
        app.screen.query_one("#schedule", Input).value = "@hourly"
        touch(path, COMMENTED.replace('"*/15 * * * *"', '"61 * * * *"'))
        await pilot.press("ctrl+s")
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=before)
    finally:
        runtime.close()


@pytest.mark.slow
def test_editor_from_the_question_opens_their_version_with_my_change(tmp_path, monkeypatch):
    runtime = open_test_deck(tmp_path, COMMENTED)
    path = runtime.config.path
    monkeypatch.setenv("VISUAL", editor_script(tmp_path, ('"61 * * * *"', '"*/20 * * * *"')))
    app = EditorApp(runtime)
    theirs = COMMENTED.replace('"*/15 * * * *"', '"61 * * * *"')

    async def steps(pilot):
        await fill_new_job(pilot, "nightly", "echo hi")
        touch(path, theirs)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FileChangedDialog)
        await pilot.press("e")
        await until(lambda: "*/20" in path.read_text(), 10, pilot=pilot)

    run(app, runtime, steps)
    assert path.read_text() == COMMENTED.replace('"*/15 * * * *"', '"*/20 * * * *"') + (
        '\n[[jobs]]\nname = "nightly"\ncommand = "echo hi"\nschedule = "*/5 * * * *"\n')
    assert path.with_name("crondeck.toml.bak").read_text() == theirs
    assert runtime.config.job("disk").schedule == "*/20 * * * *"
    assert "nightly" in runtime.scheduler.jobs
