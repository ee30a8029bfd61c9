"""Command-line loose ends: what `exec` prints of an agent's terminal escapes, the exit code
of an unknown job across the verbs, negative durations, note length, and `next` at the end
of the calendar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import crondeck_cli

from crondeck.cli.main import main


def _config(tmp_path: Path, command: str, name: str = "greet") -> Path:
    path = tmp_path / "crondeck.toml"
    path.write_text(f'[[jobs]]\nname = "{name}"\ncommand = {json.dumps(command)}\n'
                    'schedule = "0 9 * * *"\n')
    return path


def test_exec_shows_terminal_escapes_escaped_and_json_unchanged(tmp_path: Path) -> None:
    config = _config(tmp_path, "printf 'title\\033]0;pwned\\007 clear\\033[2J done'; "
                                "printf 'err\\033[2J' >&2")
    proc = crondeck_cli(config, "exec", "greet", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert "\x1b" not in proc.stderr
    assert "title\\x1b]0;pwned\\x07 clear\\x1b[2J done" in proc.stdout
    assert "err\\x1b[2J" in proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["status"] == "ok"


def test_an_unknown_job_is_exit_2_for_every_verb_that_names_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "echo hi")
    for argv in (["logs", "gret"], ["history", "gret"], ["trigger", "gret"],
                 ["trigger", "gret", "--wait"], ["cancel", "gret"], ["skip", "gret"],
                 ["pause", "gret"], ["resume", "gret"], ["exec", "gret"]):
        code = main(["--config", str(config), *argv])
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert err.strip() == (f"crondeck {argv[0]}: no job named 'gret' in {config}; "
                                       "did you mean 'greet'?"), argv
    # a known job with no scheduler to ask is still "nothing runs", exit 1
    assert main(["--config", str(config), "cancel", "greet"]) == 1


def test_a_negative_duration_is_refused_with_what_would_be_right(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "echo hi")
    for argv, right in ((["pause", "greet", "--for", "-5m"], "--for 5m"),
                        (["pause", "greet", "--for=-5m"], "--for 5m"),
                        (["run", "--wait-for-lock", "-5s"], "--wait-for-lock 5s")):
        with pytest.raises(SystemExit) as exit_:
            main(["--config", str(config), *argv])
        err = capsys.readouterr().err
        assert exit_.value.code == 2
        assert "expected one argument" not in err
        assert f"'{argv[-1].removeprefix('--for=')}' is negative" in err and right in err
    assert "--until" in crondeck_cli(config, "pause", "greet", "--for", "-5m").stderr
    assert not (tmp_path / ".crondeck" / "state.toml").exists()  # nothing was paused


def test_a_pause_note_is_capped_on_every_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from crondeck.core import (
        PAUSE_NOTE_MAX,
        ControlError,
        ControlServer,
        Scheduler,
        control_path,
        every,
    )

    config = _config(tmp_path, "echo hi")
    with pytest.raises(SystemExit) as exit_:  # the command line, offline
        main(["--config", str(config), "pause", "greet", "--note", "x" * 120_000])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "the pause note is 120,000 characters; the most is 500" in err
    assert not (tmp_path / ".crondeck" / "state.toml").exists()  # nothing was paused
    assert main(["--config", str(config), "pause", "greet", "--note", "x" * PAUSE_NOTE_MAX]) == 0

    s = Scheduler()  # the API
    s.add_job(lambda: "ok", None, every(hours=1), name="a")
    for pause in (lambda: s.pause_job("a", note="y" * 501), lambda: s.pause_all(note="y" * 501)):
        with pytest.raises(ValueError, match="the most is 500"):
            pause()
    assert not s.jobs["a"].paused and not s.paused
    server = ControlServer(s, control_path(tmp_path))  # the control protocol
    for op, args in (("pause", {"job": "a"}), ("pause_all", {})):
        with pytest.raises(ControlError) as refused:
            server.command(op, {**args, "note": "z" * 501})
        assert refused.value.code == "bad_request" and "the most is 500" in refused.value.message
    assert not s.jobs["a"].paused and not s.paused


def test_next_lists_every_fire_to_the_last_day_of_the_calendar(
        capsys: pytest.CaptureFixture[str]) -> None:
    for zone, offset in (("UTC", "+00:00"), ("Asia/Tokyo", "+09:00"),
                         ("America/New_York", "-05:00")):
        assert main(["next", "@daily", "--tz", zone, "--after", "9999-12-29T12:00"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[1:] == [f"9999-12-30T00:00:00{offset}", f"9999-12-31T00:00:00{offset}",
                           "(no more fires: the calendar ends with the year 9999; 2 shown)"]
    assert main(["next", "0 */6 * * *", "--tz", "UTC", "--after", "9999-12-31T00:00",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fires"] == [
        "9999-12-31T06:00:00+00:00", "9999-12-31T12:00:00+00:00", "9999-12-31T18:00:00+00:00"]


def test_the_console_pause_dialog_stops_the_note_at_the_cap() -> None:
    import asyncio

    from textual.app import App
    from textual.widgets import Input

    from crondeck.core import PAUSE_NOTE_MAX
    from crondeck.tui.screens.pause_dialog import PauseDialog

    async def go() -> None:
        app: App[None] = App()
        async with app.run_test() as pilot:
            dialog = PauseDialog("greet", blink=False)
            await app.push_screen(dialog)
            await pilot.pause()
            note = dialog.query_one("#note", Input)
            note.insert_text_at_cursor("x" * PAUSE_NOTE_MAX)
            await pilot.press("y")  # one more is refused
            assert note.value == "x" * PAUSE_NOTE_MAX

    asyncio.run(asyncio.wait_for(go(), 30))
