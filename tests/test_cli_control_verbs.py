"""The operator's verbs (pause, resume, trigger, skip, cancel, reload, status) against a real
`crondeck run` on a temporary jobs file, and with no scheduler running, where pause, resume
and skip go to the saved state for the next scheduler to start with."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from helpers import wait_until

from crondeck.cli.commands import control
from crondeck.cli.commands.control import parse_until
from crondeck.cli.main import main
from crondeck.core import StateLock, StateStore, control_call, control_path

CRONDECK = [sys.executable, "-m", "crondeck.cli"]
DEADLINE = 30.0  # seconds any wait below may take before the test fails

JOBS = """\
[defaults]
timezone = "Europe/Paris"

[[jobs]]
name = "greet"
command = "echo hello from greet"
schedule = "0 0 1 1 *"

[[jobs]]
name = "broken"
command = "sh -c 'echo about to fail; exit 3'"
schedule = "0 0 1 1 *"

[[jobs]]
name = "slow"
command = "sleep 60"
schedule = "0 0 1 1 *"
kill_grace = "1s"

[[jobs]]
name = "weekly"
command = "true"
schedule = "0 9 * * MON"
"""

TICK = """
[[jobs]]
name = "tick"
command = "true"
schedule = "@every 1s"

[[jobs]]
name = "tock"
command = "true"
schedule = "@every 1s"
"""


@pytest.fixture
def jobs_file(tmp_path: Path) -> Path:
    path = tmp_path / "crondeck.toml"
    path.write_text(JOBS)
    return path


def saved(jobs_file: Path) -> StateStore:
    return StateStore(jobs_file.parent / ".crondeck" / "state.toml", read_only=True).load()


def verb(capsys: pytest.CaptureFixture[str], jobs_file: Path, *argv: str
         ) -> tuple[int, str, str]:
    code = main([*argv, "--config", str(jobs_file)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- --until ------------------------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # 13:00 in Paris


def test_until_takes_clock_times_in_the_zone_dates_and_iso_times() -> None:
    assert parse_until("14:30", PARIS, NOW) == datetime(2026, 12, 5, 13, 30, tzinfo=UTC)
    # 12:30 in Paris has passed today: the next one is tomorrow's
    assert parse_until("12:30", PARIS, NOW) == datetime(2026, 12, 6, 11, 30, tzinfo=UTC)
    assert parse_until("2026-12-24", PARIS, NOW) == datetime(2026, 12, 23, 23, 0, tzinfo=UTC)
    assert parse_until("2026-12-24T09:00", PARIS, NOW) == datetime(2026, 12, 24, 8, 0,
                                                                   tzinfo=UTC)
    assert parse_until("2026-12-24T09:00:00Z", PARIS, NOW) == datetime(2026, 12, 24, 9, 0,
                                                                       tzinfo=UTC)


@pytest.mark.parametrize(("text", "says"), [
    ("soon", "is not a time: write a clock time (14:30, in Europe/Paris)"),
    ("25:00", "hours go to 23"),
    ("2026-12-01T09:00", "has passed"),
])
def test_until_says_what_would_be_right(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_until(text, PARIS, NOW)


def test_bad_usage_exits_2(jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = verb(capsys, jobs_file, "pause")
    assert code == 2 and "give a JOB or --all" in err
    code, _, err = verb(capsys, jobs_file, "cancel", "slow", "--all")
    assert code == 2 and "give a JOB or --all (not both)" in err
    with pytest.raises(SystemExit) as stop:
        main(["pause", "greet", "--for", "2x", "--config", str(jobs_file)])
    assert stop.value.code == 2
    assert "is not a duration" in capsys.readouterr().err
    code, _, err = verb(capsys, jobs_file, "pause", "greet", "--until", "soon")
    assert code == 2 and "is not a time" in err
    code, _, err = verb(capsys, jobs_file, "--read-only", "pause", "greet")
    assert code == 2 and "--read-only only observes" in err
    assert saved(jobs_file).get("greet") is None


# -- no scheduler running -------------------------------------------------------------------

def test_offline_pause_resume_and_skip_go_to_the_saved_state(
        jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = verb(capsys, jobs_file, "pause", "greet", "--note", "deploy freeze",
                        "--for", "2h")
    assert code == 0
    assert out.startswith(f"no scheduler runs {jobs_file}: paused 'greet' (deploy freeze) "
                          "until ")
    assert "the next scheduler starts with it" in out
    st = saved(jobs_file).get("greet")
    assert st is not None and st.paused and st.pause_note == "deploy freeze"
    assert st.pause_until is not None
    left = st.pause_until - datetime.now(UTC)
    assert timedelta(hours=1, minutes=59) < left <= timedelta(hours=2)

    code, out, _ = verb(capsys, jobs_file, "resume", "greet")
    assert code == 0 and "resumed 'greet' in the saved state" in out
    st = saved(jobs_file).get("greet")
    assert st is not None and not st.paused and st.pause_note == "" and st.pause_until is None
    code, out, _ = verb(capsys, jobs_file, "resume", "greet")
    assert code == 0 and "'greet' was not paused; nothing changed" in out

    code, out, _ = verb(capsys, jobs_file, "skip", "weekly")
    assert code == 0
    monday = re.search(r"skips its next slot \((Mon \d{4}-\d\d-\d\d 09:00:00 CET)", out)
    assert monday, out
    weekly = saved(jobs_file).get("weekly")
    assert weekly is not None and weekly.skip_next
    code, out, _ = verb(capsys, jobs_file, "skip", "weekly", "--undo")
    assert code == 0 and not saved(jobs_file).jobs["weekly"].skip_next
    # the lock was only held for the moment of each change
    StateLock(jobs_file.parent / ".crondeck" / "lock").acquire().release()


def test_offline_pause_all_pauses_each_job_and_resume_all_resumes_them(
        jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    verb(capsys, jobs_file, "pause", "weekly", "--note", "own")
    code, out, _ = verb(capsys, jobs_file, "pause", "--all", "--note", "holiday")
    assert code == 0 and "every job (3 newly paused, each on its own)" in out
    jobs = saved(jobs_file).jobs
    assert all(jobs[n].paused for n in ("greet", "broken", "slow", "weekly"))
    assert jobs["weekly"].pause_note == "own" and jobs["slow"].pause_note == "holiday"
    code, out, _ = verb(capsys, jobs_file, "resume", "--all")
    assert code == 0 and "resumed 4 paused jobs" in out
    assert not any(st.paused for st in saved(jobs_file).jobs.values())


def test_offline_errors_name_the_job_and_the_nearest_name(
        jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["pause", "gret"], ["resume", "gret"], ["skip", "gret"]):
        code, out, err = verb(capsys, jobs_file, *argv)
        assert code == 2 and out == ""
        assert err.strip() == (f"crondeck {argv[0]}: no job named 'gret' in {jobs_file}; "
                               "did you mean 'greet'?")
    assert saved(jobs_file).jobs == {}


def test_offline_trigger_cancel_and_reload_say_nothing_runs(
        jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = verb(capsys, jobs_file, "trigger", "greet")
    assert code == 1
    assert f"no scheduler runs {jobs_file}" in err and "`crondeck exec greet`" in err
    code, _, err = verb(capsys, jobs_file, "trigger", "greet", "--wait")
    assert code == 1 and "`crondeck exec greet`" in err
    code, _, err = verb(capsys, jobs_file, "cancel", "slow")
    assert code == 1 and "no run of 'slow' is going on to cancel" in err
    code, _, err = verb(capsys, jobs_file, "reload")
    assert code == 1 and "nothing to reload" in err
    assert not (jobs_file.parent / ".crondeck").exists()  # asking created nothing


def test_offline_status_shows_the_saved_state(
        jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    verb(capsys, jobs_file, "pause", "weekly", "--note", "audit")
    code, out, _ = verb(capsys, jobs_file, "status", "--json")
    assert code == 1
    data = json.loads(out)
    assert set(data) == {"config", "state", "holder", "scheduler", "running", "paused", "next"}
    assert (data["config"], data["state"], data["holder"], data["scheduler"]) == (
        str(jobs_file), "stopped", None, None)
    assert data["paused"] == [{"job": "weekly", "note": "audit", "until": None}]
    assert data["running"] == []
    assert {n["job"] for n in data["next"]} == {"greet", "broken", "slow"}
    assert {n["next_fire"] for n in data["next"]} == {"2026-12-31T23:00:00+00:00"} or (
        datetime.now(UTC).year != 2026)
    code, out, _ = verb(capsys, jobs_file, "status")
    assert code == 1 and out.startswith(f"no scheduler runs {jobs_file}")
    assert re.search(r"^weekly\s+resumed\s+audit$", out, re.M), out


def test_a_lock_holder_that_does_not_answer_is_named(
        jobs_file: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "START_GRACE", 0.05)
    lock = StateLock(jobs_file.parent / ".crondeck" / "lock").acquire()
    try:
        for argv in (["pause", "greet"], ["trigger", "greet"], ["status"]):
            code, out, err = verb(capsys, jobs_file, *argv)
            assert code == 1, argv
            said = err + out
            assert re.search(rf"pid {os.getpid()}\)? holds the lock on "
                             f"{re.escape(str(jobs_file.parent / '.crondeck'))} ", said), said
            assert "does not answer" in err + out
        code, out, _ = verb(capsys, jobs_file, "status", "--json")
        data = json.loads(out)
        assert (code, data["state"], data["holder"]["pid"], data["scheduler"]) == (
            1, "not_answering", os.getpid(), None)
    finally:
        lock.release()
    assert saved(jobs_file).get("greet") is None


# -- against a running scheduler -----------------------------------------------------------

def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


class Scheduler:
    """A `crondeck run` subprocess on a jobs file, its events in a log file."""

    def __init__(self, jobs_file: Path) -> None:
        self.jobs_file = jobs_file
        self.log = jobs_file.parent / f"run-{time.monotonic_ns()}.log"
        self.errors = self.log.with_suffix(".err")
        with self.log.open("w") as out, self.errors.open("w") as err:
            self.proc = subprocess.Popen([*CRONDECK, "run", "--config", str(jobs_file)],
                                         stdout=out, stderr=err)
        self.socket = control_path(jobs_file.parent / ".crondeck")
        wait_until(self.answers, DEADLINE, "the scheduler to answer on its socket")

    def answers(self) -> bool:
        assert self.proc.poll() is None, self.errors.read_text()
        try:
            control_call(self.socket, "status", timeout=2)
        except Exception:
            return False
        return True

    def job(self, name: str) -> dict[str, Any]:
        status = control_call(self.socket, "status", timeout=5)
        return next(j for j in status["jobs"] if j["name"] == name)

    def events(self) -> list[dict[str, Any]]:
        return events(self.log)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def running(jobs_file: Path) -> Iterator[Scheduler]:
    scheduler = Scheduler(jobs_file)
    try:
        yield scheduler
    finally:
        scheduler.stop()


@pytest.mark.slow
def test_pause_resume_and_skip_reach_the_running_scheduler(
        running: Scheduler, jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = verb(capsys, jobs_file, "pause", "greet", "--note", "vacation",
                        "--until", "2099-01-01T09:00")
    assert code == 0
    assert out.strip() == "paused 'greet' (vacation) until Thu 2099-01-01 09:00:00 CET"
    greet = running.job("greet")
    assert (greet["paused"], greet["pause_note"], greet["pause_until"]) == (
        True, "vacation", "2099-01-01T08:00:00+00:00")
    code, out, _ = verb(capsys, jobs_file, "resume", "greet")
    assert (code, out.strip()) == (0, "resumed 'greet'")
    assert running.job("greet")["paused"] is False

    code, out, _ = verb(capsys, jobs_file, "skip", "weekly")
    assert code == 0
    assert re.fullmatch(r"'weekly' skips its next slot, Mon \d{4}-\d\d-\d\d 09:00:00 CET\n",
                        out), out
    assert running.job("weekly")["skip_next"] is True

    code, out, _ = verb(capsys, jobs_file, "pause", "--all", "--note", "maintenance")
    assert code == 0 and "paused every job (maintenance) until resumed" in out
    code, out, _ = verb(capsys, jobs_file, "status", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["scheduler"]["paused"] is True
    assert data["scheduler"]["pause_note"] == "maintenance"
    code, out, _ = verb(capsys, jobs_file, "resume", "--all")
    assert code == 0 and out.startswith("resumed the scheduler")
    code, out, _ = verb(capsys, jobs_file, "status", "--json")
    assert json.loads(out)["scheduler"]["paused"] is False

    code, out, err = verb(capsys, jobs_file, "pause", "gret")
    assert (code, out) == (2, "")
    assert err.strip() == "crondeck pause: no job named 'gret'; did you mean 'greet'?"


@pytest.mark.slow
def test_status_says_who_runs_what_is_running_and_what_is_next(
        running: Scheduler, jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = verb(capsys, jobs_file, "trigger", "slow")
    assert code == 0 and out.startswith("started slow@")
    run_id = out.split()[1]
    wait_until(lambda: running.job("slow")["running"], DEADLINE, "the slow run to start")
    code, out, err = verb(capsys, jobs_file, "trigger", "slow")  # overlap = "skip"
    assert (code, out, err) == (3, "", "crondeck trigger: 'slow' not started: still running\n")
    code, out, _ = verb(capsys, jobs_file, "status", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"config", "state", "holder", "scheduler", "running", "paused", "next"}
    assert data["state"] == "running"
    holder = data["holder"]
    assert (holder["pid"], holder["kind"], holder["protocol"]) == (
        running.proc.pid, "crondeck run", 1)
    assert 0 <= holder["uptime_seconds"] < 600
    assert [(r["job"], r["run_id"], r["manual"], r["attempt"]) for r in data["running"]] == [
        ("slow", run_id, True, 1)]
    assert datetime.fromisoformat(data["running"][0]["started_at"]) <= datetime.now(UTC)
    assert data["next"][0]["job"] == "weekly"  # a Monday comes before the 1st of January
    assert {n["job"] for n in data["next"]} == {"weekly", "greet", "broken", "slow"}

    code, out, _ = verb(capsys, jobs_file, "status")
    assert code == 0
    assert re.match(rf"crondeck run \(pid {running.proc.pid}, up \d+s\) runs "
                    rf"{re.escape(str(jobs_file))}\n", out), out
    assert re.search(rf"^slow\s+{re.escape(run_id)}\s", out, re.M), out

    code, out, _ = verb(capsys, jobs_file, "cancel", "slow")
    assert (code, out.strip()) == (0, "cancelled 1 run of 'slow' (recorded as cancelled, "
                                      "with the output it printed)")
    wait_until(lambda: any(
        e["event"] == "run_finished" and e["run_id"] == run_id
        and e["result"]["status"] == "cancelled" for e in running.events()),
        DEADLINE, "the cancelled run to be recorded")
    code, out, _ = verb(capsys, jobs_file, "cancel", "slow")
    assert code == 0 and "had no run going on" in out

    verb(capsys, jobs_file, "trigger", "slow")
    wait_until(lambda: running.job("slow")["running"], DEADLINE, "the second slow run to start")
    code, out, _ = verb(capsys, jobs_file, "cancel", "--all")
    assert (code, out.strip()) == (0, "cancelled the runs of 1 job: slow (1)")


@pytest.mark.slow
def test_trigger_wait_exits_with_the_runs_status(running: Scheduler, jobs_file: Path) -> None:
    ok = subprocess.run([*CRONDECK, "trigger", "greet", "--wait", "--config", str(jobs_file)],
                        capture_output=True, text=True, timeout=DEADLINE)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "hello from greet\n"
    assert re.search(r"crondeck trigger: greet@\S+: ok; exit 0$", ok.stderr.strip()), ok.stderr
    bad = subprocess.run([*CRONDECK, "trigger", "broken", "--wait", "--config", str(jobs_file)],
                         capture_output=True, text=True, timeout=DEADLINE)
    assert bad.returncode == 1, bad.stderr
    assert bad.stdout == "about to fail\n"
    assert re.search(r"broken@\S+: failed \(.*3.*\); exit 1$", bad.stderr.strip()), bad.stderr
    missing = subprocess.run([*CRONDECK, "trigger", "gret", "--wait", "--config",
                              str(jobs_file)], capture_output=True, text=True, timeout=DEADLINE)
    assert missing.returncode == 2
    assert "no job named 'gret'; did you mean 'greet'?" in missing.stderr


@pytest.mark.slow
def test_reload_reports_applied_or_the_problems_with_line_and_key(
        running: Scheduler, jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs_file.write_text(JOBS + '\n[[jobs]]\nname = "extra"\ncommand = "true"\n'
                                'schedule = "0 9 * * MONDAY"\n')
    code, _, err = verb(capsys, jobs_file, "reload")
    assert code == 2
    assert "crondeck reload: not applied, 1 problem in" in err
    assert re.search(r":\d+: job 'extra', schedule: bad schedule '0 9 \* \* MONDAY'", err), err
    jobs_file.write_text(JOBS + '\n[[jobs]]\nname = "extra"\ncommand = "true"\n'
                                'schedule = "0 9 * * MON"\n')
    code, out, _ = verb(capsys, jobs_file, "reload")
    assert code == 0
    # the scheduler's own watcher may have applied the edit first: then nothing is left
    assert out.strip() in (
        f"reloaded {jobs_file}: 1 added (extra), 0 changed, 0 removed",
        f"reloaded {jobs_file}: 0 added, 0 changed, 0 removed")
    assert running.job("extra")["name"] == "extra"


@pytest.mark.slow
def test_an_offline_pause_is_honoured_by_the_next_scheduler(
        jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs_file.write_text(JOBS + TICK)
    code, out, _ = verb(capsys, jobs_file, "pause", "tick", "--note", "not now")
    assert code == 0 and "the next scheduler starts with it" in out
    code, out, _ = verb(capsys, jobs_file, "skip", "tock")
    assert code == 0 and "the next scheduler starts with it" in out
    scheduler = Scheduler(jobs_file)
    try:
        # tock's first slot is skipped by operator, the next one runs
        wait_until(lambda: [
            e for e in scheduler.events() if e["event"] == "run_started" and e["job"] == "tock"],
            DEADLINE, "tock to run after its skipped slot")
        tock = [e for e in scheduler.events() if e.get("job") == "tock"
                and e["event"] in ("run_skipped", "run_started")]
        assert tock[0]["event"] == "run_skipped"
        assert tock[0]["result"]["error"] == "skipped by operator"
        assert tock[1]["event"] == "run_started"
        # its 1 s slots come and are recorded as skipped, paused; none runs
        skipped = wait_until(lambda: [
            e for e in scheduler.events()
            if e["event"] == "run_skipped" and e["job"] == "tick"][1:],
            DEADLINE, "two of tick's slots to be skipped")
        assert skipped[0]["result"]["error"] == "paused: not now"
        assert not [e for e in scheduler.events()
                    if e["event"] == "run_started" and e["job"] == "tick"]
        assert scheduler.job("tick")["paused"] is True
        # resumed on the running scheduler, it runs again
        code, out, _ = verb(capsys, jobs_file, "resume", "tick")
        assert (code, out.strip()) == (0, "resumed 'tick'")
        wait_until(lambda: [e for e in scheduler.events()
                            if e["event"] == "run_started" and e["job"] == "tick"],
                   DEADLINE, "tick to run")
    finally:
        scheduler.stop()
    assert scheduler.proc.returncode == 0, scheduler.errors.read_text()


@pytest.mark.slow
def test_ctrl_c_stops_waiting_and_leaves_the_run_going(
        running: Scheduler, jobs_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proc = subprocess.Popen([*CRONDECK, "trigger", "slow", "--wait", "--config",
                             str(jobs_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stderr is not None
        started = proc.stderr.readline()
        assert re.fullmatch(r"crondeck trigger: started (slow@\S+); waiting for it to end\n",
                            started), started
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 130
    assert err.strip() == ("crondeck trigger: stopped waiting; the run of 'slow' goes on "
                           "(`crondeck cancel slow` stops it)")
    run_id = started.split()[3][:-1]
    assert [r["run_id"] for r in running.job("slow")["running"]] == [run_id]
    assert verb(capsys, jobs_file, "cancel", "slow")[0] == 0
