"""What an operator trying to break crondeck from the shell found: each test is one of those
attempts, run as the shell runs it where that is what broke (a subprocess, its waits bounded)."""

from __future__ import annotations

import errno
import io
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from crondeck.cli.commands.run import LossyOut, _open_waiting, emit
from crondeck.cli.main import main
from crondeck.core import load_config
from crondeck.core.lock import StateLock

CRONDECK = [sys.executable, "-m", "crondeck.cli"]
JOB = '[[jobs]]\nname = "tick"\nschedule = "@daily"\ncommand = "echo hi"\n'


def _crondeck(*args: str, cwd: Path | None = None, stdout: object = subprocess.PIPE,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CRONDECK, *args], cwd=cwd, stdout=stdout,  # type: ignore[call-overload]
                          stderr=subprocess.PIPE, text=True, timeout=timeout, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("args", [["list"], ["--version"], ["next", "@daily"]])
def test_output_to_a_full_disk_is_one_line_not_a_traceback(tmp_path: Path, args: list[str]
                                                           ) -> None:
    (tmp_path / "crondeck.toml").write_text(JOB)
    with open("/dev/full", "w") as full:
        proc = _crondeck(*args, cwd=tmp_path, stdout=full)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"crondeck{' ' + args[0] if args[0] != '--version' else ''}: cannot write its "
        "output: No space left on device"]


class _Refusing(io.StringIO):
    """A destination whose flushes fail with `error` while `refuse` is set."""

    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error
        self.refuse = True

    def flush(self) -> None:
        if self.refuse:
            raise self.error


def test_event_lines_refused_are_said_once_and_the_recovery_too() -> None:
    dest, err = _Refusing(OSError(errno.ENOSPC, "No space left on device")), io.StringIO()
    out = LossyOut(dest, err)
    for n in range(3):
        emit(out, {"event": "tick", "n": n})  # raises nothing: the jobs go on
    dest.refuse = False
    emit(out, {"event": "tick", "n": 3})
    assert err.getvalue().splitlines() == [
        "crondeck run: cannot write the event lines: No space left on device; the jobs go on, "
        "their lines are dropped until it can",
        "crondeck run: event lines written again (3 dropped)"]
    dest.error, dest.refuse = BrokenPipeError(errno.EPIPE, "Broken pipe"), True
    with pytest.raises(BrokenPipeError):  # a reader gone away still stops `crondeck run`
        emit(out, {"event": "tick", "n": 4})


@pytest.mark.slow
def test_crondeck_run_with_its_output_refused_schedules_on_and_stops_cleanly(tmp_path: Path
                                                                             ) -> None:
    (tmp_path / "crondeck.toml").write_text(
        '[[jobs]]\nname = "tick"\nschedule = "@every 1s"\ncommand = "echo hi"\n')
    with open("/dev/full", "w") as full:
        proc = subprocess.Popen([*CRONDECK, "run"], cwd=tmp_path, stdout=full,
                                stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        first = proc.stderr.readline()  # said at once (the config_loaded line)
        assert "cannot write the event lines: No space left on device" in first
        deadline = time.monotonic() + 30
        while "ok" not in _crondeck("history", "tick", cwd=tmp_path).stdout:
            assert time.monotonic() < deadline, "no run recorded while its output is refused"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _small_files(limit: int) -> Callable[[], None]:
    def apply() -> None:  # in the child: files past `limit` bytes refused (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.slow
def test_crondeck_run_whose_state_cannot_be_saved_at_stop_says_so(tmp_path: Path) -> None:
    jobs = "".join(f'[[jobs]]\nname = "job-{n:03}"\nschedule = "{n % 60} {n // 60} * * *"\n'
                   'command = "true"\n' for n in range(100))  # a saved state of ~5 KB
    (tmp_path / "crondeck.toml").write_text(jobs)
    proc = subprocess.Popen([*CRONDECK, "run"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_small_files(2048))
    assert proc.stdout is not None and proc.stderr is not None
    try:
        for line in proc.stdout:  # its signal handlers are in place once it has started
            if "scheduler_started" in line:
                break
        proc.send_signal(signal.SIGTERM)
        proc.stdout.read()
        assert proc.wait(timeout=30) == 1
        err = proc.stderr.read()
        assert "Traceback" not in err
        assert (f"crondeck run: the state in {tmp_path / '.crondeck'} could not be saved on "
                "stopping: File too large") in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_crondeck_run_beside_a_state_dir_that_is_a_file_refuses_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "crondeck.toml").write_text(JOB)
    (tmp_path / ".crondeck").write_text("")
    assert main(["--config", str(tmp_path / "crondeck.toml"), "run"]) == 1
    assert capsys.readouterr().err == (
        f"crondeck run: {tmp_path / '.crondeck'} is not a directory (move it away)\n")


def test_crondeck_run_whose_state_dir_cannot_be_used_refuses_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "crondeck.toml").write_text(JOB)
    (tmp_path / ".crondeck" / "lock").mkdir(parents=True, mode=0o700)  # the lock cannot open
    assert main(["--config", str(tmp_path / "crondeck.toml"), "run"]) == 1
    assert capsys.readouterr().err == (
        f"crondeck run: cannot keep its state in {tmp_path / '.crondeck'}: Is a directory: "
        f"{tmp_path / '.crondeck' / 'lock'}\n")


@pytest.mark.slow
def test_logs_follow_ends_when_its_reader_goes_away_before_any_more_output(tmp_path: Path
                                                                            ) -> None:
    (tmp_path / "crondeck.toml").write_text(JOB)  # @daily: no next run for hours
    assert _crondeck("exec", "tick", cwd=tmp_path).returncode == 0
    proc = subprocess.Popen([*CRONDECK, "logs", "-f", "tick"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        assert proc.stdout.readline().startswith(b"# crondeck: run tick@")  # `| head -1`
        proc.stdout.close()
        assert proc.wait(timeout=15) == 141
        assert proc.stderr.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize(("args", "says"), [
    (["--scheduled-for", "0001-01-01T00:00"],  # in Berlin: the year 0 in UTC
     "--scheduled-for '0001-01-01T00:00' is outside the calendar (years 1 to 9999 in UTC)"),
    (["--scheduled-for", "9999-12-31T23:59:59-23:59"],
     "--scheduled-for '9999-12-31T23:59:59-23:59' is outside the calendar"),
    (["--k8s-job", "tick-99999999999999999999"],
     "--k8s-job 'tick-99999999999999999999': 99999999999999999999 minutes since the epoch is "
     "past the year 9999"),
])
def test_exec_slots_off_the_calendar_are_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str) -> None:
    (tmp_path / "crondeck.toml").write_text(JOB + 'timezone = "Europe/Berlin"\n')
    assert main(["--config", str(tmp_path / "crondeck.toml"), "exec", "tick", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"crondeck exec: {says}") and err.count("\n") == 1
    assert not (tmp_path / ".crondeck" / "runs").exists()  # nothing ran


def test_exec_skipped_exit_code_must_be_an_exit_status(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    for bad in ("256", "-1"):  # 256 would reach the shell as 0: "ok"
        with pytest.raises(SystemExit) as stop:
            main(["exec", "tick", "--skipped-exit-code", bad])
        assert stop.value.code == 2
        assert "is not an exit status: give 0 to 255" in capsys.readouterr().err


def test_next_at_the_ends_of_the_calendar(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["next", "@daily", "--tz", "Asia/Tokyo", "--after", "0001-01-01T00:00"]) == 2
    assert capsys.readouterr().err == (
        "crondeck next: --after: '0001-01-01T00:00' is outside the calendar (years 1 to 9999 "
        "in UTC)\n")
    # DST warnings look a year ahead: from the last day there is none
    assert main(["next", "30 2 * * *", "--tz", "America/New_York",
                 "--after", "9999-12-31T12:00"]) == 0
    assert "the calendar ends with the year 9999; 0 shown" in capsys.readouterr().out


def test_export_out_a_file_is_one_line_and_the_file_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text(JOB)
    assert main(["--config", str(jobs), "export", "crontab", "--out", str(jobs)]) == 1
    assert capsys.readouterr().err == (
        f"crondeck export: --out {jobs}: cannot write there: Not a directory (give a "
        "directory)\n")
    assert jobs.read_text() == JOB


def _check(tmp_path: Path, text: str | bytes, capsys: pytest.CaptureFixture[str]
           ) -> tuple[int, str]:
    jobs = tmp_path / "crondeck.toml"
    if isinstance(text, str):
        jobs.write_text(text)
    else:
        jobs.write_bytes(text)
    code = main(["check", str(jobs)])
    return code, capsys.readouterr().err


def test_a_byte_order_mark_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _check(tmp_path, b"\xef\xbb\xbf" + JOB.encode(), capsys)  # Windows Notepad
    assert code == 2
    assert "crondeck.toml:1: the file starts with a byte order mark (BOM, bytes EF BB BF), " \
           "which TOML does not allow; save it as UTF-8 without BOM" in err
    assert "Invalid statement" not in err


@pytest.mark.parametrize(("value", "says"), [
    ("5", 'durations are strings with a unit: write "5s" or "5m"'),
    ("-1", 'durations are strings with a unit, like "90s", "5m" or "1h30m"'),
    ("nan", 'durations are strings with a unit, like "90s", "5m" or "1h30m"'),
    ("inf", 'durations are strings with a unit, like "90s", "5m" or "1h30m"'),
    ("1e308", 'durations are strings with a unit, like "90s", "5m" or "1h30m"'),
    ("1.5", 'durations are strings with a unit, like "90s", "5m" or "1h30m"'),
])
def test_a_bare_number_for_a_duration_is_never_told_to_become_another_bad_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, says: str) -> None:
    code, err = _check(tmp_path, JOB + f"timeout = {value}\n", capsys)
    assert code == 2
    assert f"job 'tick', timeout: {says}\n" in err


def test_a_pasted_megabyte_is_not_echoed_back_whole(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    stars = " ".join(["*"] * 100_000)
    assert main(["next", stars]) == 2
    err = capsys.readouterr().err
    assert len(err) < 400 and "got 100000" in err
    line, caret = err.splitlines()[1:3]
    assert line.startswith("  * * * * * *") and line.endswith("…")
    assert caret == "  " + " " * 10 + "^"  # under the sixth field, as in a short one
    assert main(["next", "x" * 100_000 + " * * * *"]) == 2
    err = capsys.readouterr().err
    assert len(err) < 400 and "minute: unknown value 'xxxxxxxx" in err
    code, err = _check(tmp_path, JOB.replace("@daily", stars), capsys)
    assert code == 2 and len(err) < 600 and "(199999 characters)" in err
    code, err = _check(tmp_path, JOB.replace('"tick"', '"' + "x" * 100_000 + '"'), capsys)
    assert code == 2 and len(err) < 400
    assert "job name is 100000 characters long: 100 at most" in err


@pytest.mark.parametrize("name", ["日本語", "café"])
def test_a_name_in_another_script_is_told_names_are_ascii(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, err = _check(tmp_path, JOB.replace('"tick"', f'"{name}"'), capsys)
    assert code == 2
    assert "is not allowed: names are ASCII (letters A-Z, digits, spaces and . _ - : +)" in err
    assert "must start with a letter or digit" not in err  # 日 is a letter


def test_a_stray_file_at_the_socket_path_with_no_scheduler_is_not_one_to_restart(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text(JOB)
    (tmp_path / ".crondeck").mkdir(mode=0o700)
    (tmp_path / ".crondeck" / "control.sock").write_text("left by someone\n")
    config = ["--config", str(jobs)]
    assert main([*config, "pause", "tick"]) == 0  # to the saved state, as with no file there
    assert "no scheduler runs" in capsys.readouterr().out
    assert main([*config, "status", "--json"]) == 1
    assert '"state": "stopped"' in capsys.readouterr().out
    assert main([*config, "trigger", "tick"]) == 1
    err = capsys.readouterr().err
    assert "no scheduler runs" in err and "restart the scheduler" not in err


def test_status_shows_a_pause_note_escaped_as_history_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text(JOB)
    config = ["--config", str(jobs)]
    assert main([*config, "pause", "tick", "--note", "freeze\x1b]52;c;aGk=\x07\x1b[2J"]) == 0
    capsys.readouterr()
    main([*config, "status"])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "freeze\\x1b]52;c;aGk=\\x07\\x1b[2J" in out


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_exec_whose_terminal_closes_records_the_run_cancelled_and_ends_its_agent(
        tmp_path: Path) -> None:
    (tmp_path / "crondeck.toml").write_text(
        '[[jobs]]\nname = "long"\nschedule = "@daily"\n'
        'command = "echo $$ > agent.pid; echo started; exec sleep 60"\n')
    proc = subprocess.Popen([*CRONDECK, "exec", "long"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        assert proc.stdout.readline() == "started\n"
        agent = int((tmp_path / "agent.pid").read_text())
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=30) == 130
        assert "cancelled (interrupted by SIGHUP)" in proc.stderr.read()
        assert _gone(agent, 10)
        history = _crondeck("history", "long", cwd=tmp_path).stdout
        assert "cancelled" in history and "interrupted by SIGHUP" in history
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_crondeck_run_started_while_a_verb_writes_the_saved_state_is_not_refused(
        tmp_path: Path) -> None:
    (tmp_path / "crondeck.toml").write_text(JOB)
    (tmp_path / ".crondeck").mkdir(mode=0o700)
    lock = StateLock(tmp_path / ".crondeck" / "lock").acquire()  # as `crondeck pause` holds it
    threading.Timer(0.3, lock.release).start()  # ... for a moment
    out = io.StringIO()
    runtime = _open_waiting(load_config(tmp_path / "crondeck.toml"), out, None)
    try:
        assert runtime.scheduler.jobs  # it started, once the verb was done
        assert out.getvalue() == ""  # no waiting_for_lock line: that is --wait-for-lock's
    finally:
        runtime.close()


@pytest.mark.parametrize("name", ["A=B", ""])
def test_an_env_name_the_os_refuses_is_a_problem_of_the_file_not_of_every_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, err = _check(tmp_path, JOB + f'env = {{ "{name}" = "x" }}\n', capsys)
    assert code == 2  # it used to pass, then every run failed: "illegal environment variable"
    assert (f"job 'tick', env: {name!r} cannot be an environment variable's name (no '=', not "
            "empty)") in err


@pytest.mark.slow
def test_crondeck_run_with_nothing_due_stops_when_its_reader_goes_away(tmp_path: Path) -> None:
    (tmp_path / "crondeck.toml").write_text(JOB)  # @daily: no event for hours
    proc = subprocess.Popen([*CRONDECK, "run"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        for line in proc.stdout:  # what it says on starting, then nothing until tomorrow
            if "scheduler_started" in line:
                break
        time.sleep(1.0)
        proc.stdout.close()  # the reader goes away between two events
        assert proc.wait(timeout=20) == 0
        assert "stdout was closed (its reader went away): stopping" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.slow
def test_trigger_while_the_scheduler_stops_is_refused_not_started(short_dir: Path) -> None:
    (short_dir / "crondeck.toml").write_text(
        '[[jobs]]\nname = "long"\nschedule = "@daily"\ncommand = "echo started; sleep 30"\n'
        '[[jobs]]\nname = "quick"\nschedule = "@daily"\ncommand = "echo hi"\n')
    proc = subprocess.Popen([*CRONDECK, "run"], cwd=short_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if "scheduler_started" in line:
                break
        assert _crondeck("trigger", "long", cwd=short_dir).returncode == 0
        for line in proc.stdout:
            if '"started\\n"' in line:  # its output: the run is going
                break
        proc.send_signal(signal.SIGTERM)  # `long` gets its 30 s grace
        for line in proc.stdout:
            if "shutdown_requested" in line:
                break
        status = _crondeck("status", cwd=short_dir)
        assert "it is stopping: nothing new starts, the runs in flight are finishing" in \
            status.stdout
        refused = _crondeck("trigger", "quick", cwd=short_dir)
        assert refused.returncode == 1
        assert "not started: the scheduler is stopping" in refused.stderr
        proc.send_signal(signal.SIGTERM)  # the second: cancel `long` now
        rest = proc.stdout.read()
        assert proc.wait(timeout=30) == 0
        assert '"job": "quick"' not in rest  # nothing of it started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_a_value_left_open_at_the_end_of_the_file_is_given_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _check(tmp_path, JOB + "garbage = [\n\n", capsys)  # a save cut short
    assert code == 2
    assert "crondeck.toml:5: not valid TOML: Invalid value (at end of document)" in err
