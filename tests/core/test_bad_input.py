"""Bad input never gives a traceback: absurd durations, numbers past Python's digit limit,
deeply nested TOML, bytes that are not UTF-8. Each becomes a CronError or a config problem
with its line and key that says what the limit is."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crondeck.cli.main import main
from crondeck.core.clock import FakeClock
from crondeck.core.config import ConfigError, Problem, load_config, parse_config
from crondeck.core.cronexpr import CronError, parse
from crondeck.core.durations import MAX_DURATION, DurationError, parse_duration
from crondeck.core.interval import Every
from crondeck.core.results import RunStatus
from crondeck.core.runtime import Runtime, open_runtime
from crondeck.core.store import JobState, StateStore

JOB = '[[jobs]]\nname = "j"\ncommand = "true"\nschedule = "@every 1h"\n'


def _problems(text: str) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "/etc/crondeck.toml")
    return info.value.problems


def _one(text: str) -> Problem:
    problems = _problems(text)
    assert len(problems) == 1, problems
    return problems[0]


# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["999999999999d", "99999999999d", "3651d", "87601h",
                                  "9" * 4301 + "s", "0" * 5000 + "9" * 20 + "m"])
def test_a_duration_too_long_says_what_the_limit_is(text: str) -> None:
    with pytest.raises(DurationError, match=r"at most 3650d \(10 years\)"):
        parse_duration(text)


def test_the_limit_itself_and_leading_zeros_are_fine() -> None:
    assert parse_duration("3650d") == MAX_DURATION == timedelta(days=3650)
    assert parse_duration("0" * 5000 + "90s") == timedelta(seconds=90)


@pytest.mark.parametrize("key", ["timeout", "retry_backoff", "kill_grace", "misfire_grace",
                                 "gate_timeout"])
def test_an_absurd_duration_in_the_jobs_file_is_a_problem_on_its_line(key: str) -> None:
    p = _one(JOB + f'{key} = "999999999999d"\n')
    assert (p.line, p.key) == (5, key)
    assert "at most 3650d (10 years)" in p.message


def test_an_absurd_notify_timeout_is_a_problem_on_its_line() -> None:
    p = _one(JOB + 'notify = { command = "true", timeout = "999999999999d" }\n')
    assert (p.line, p.key) == (5, "notify")
    assert "notify.timeout" in p.message and "at most 3650d" in p.message


@pytest.mark.parametrize("every", ["@every 99999999999d", "@every 1000000d",
                                   "@every " + "9" * 4301 + "s"])
def test_an_absurd_every_is_a_cron_error_and_a_problem(every: str) -> None:
    with pytest.raises(CronError, match="at most 3650d"):
        parse(every, "UTC")
    p = _one(JOB.replace("@every 1h", every))
    assert (p.line, p.key) == (4, "schedule")


def test_an_interval_longer_than_the_limit_is_refused_by_every_too() -> None:
    with pytest.raises(ValueError, match="at most 3650d"):
        Every(timedelta(days=1_000_000))


def test_the_calendar_ends_in_9999_without_a_traceback() -> None:
    late = datetime(9999, 12, 1, tzinfo=UTC)
    for text in ("@every 3650d", "0 0 * * *", "0 0 29 2 1"):
        sched = parse(text, "UTC")
        with pytest.raises(OverflowError):
            sched.next_after(datetime(9999, 12, 31, 12, tzinfo=UTC))
        fires = sched.upcoming(late, 100)  # stops where the calendar does
        assert len(fires) < 100 and all(f.year == 9999 for f in fires)


# --- cron numbers past any limit -------------------------------------------------------------


@pytest.mark.parametrize("text", ["1" * 5000 + " * * * *", "*/" + "9" * 5000 + " * * * *",
                                  "0 0 * * 1#" + "9" * 5000, "0 0 " + "9" * 5000 + "W * *",
                                  "0-" + "5" * 5000 + " * * * *", "0 " + "1" * 12 + " * * *",
                                  "0 0 * * " + "9" * 5000 + "L"])
def test_a_number_of_thousands_of_digits_is_a_cron_error(text: str) -> None:
    with pytest.raises(CronError, match=r"too large|1–5"):
        parse(text, "UTC")


def test_leading_zeros_are_still_read_as_the_number() -> None:
    assert parse("0" * 5000 + "5 * * * *", "UTC").f.minutes == (5,)


# --- the jobs file itself --------------------------------------------------------------------


def test_a_deeply_nested_array_is_a_config_problem() -> None:
    p = _one(JOB + "x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested" in p.message and p.line == 5


def test_an_integer_past_the_digit_limit_is_a_config_problem() -> None:
    p = _one(JOB + "retries = " + "9" * 5000 + "\n")
    assert "too large" in p.message and p.line == 5


def test_invalid_utf8_in_the_jobs_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_bytes(JOB.encode() + b'prompt = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (p,) = info.value.problems
    assert p.line == 5 and "UTF-8" in p.message


@pytest.mark.parametrize("key", ["timeout", "gate_timeout"])
def test_a_zero_timeout_names_the_key_and_its_line(key: str) -> None:
    p = _one(JOB + f'{key} = "0s"\n')
    assert (p.line, p.key) == (5, key)
    assert "longer than 0s" in p.message


# --- a little fuzzing ------------------------------------------------------------------------

_DURATION_CHARS = st.sampled_from([*"0123456789dhms ", "99999999999", "\u0663", "-"])


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(_DURATION_CHARS, max_size=30).map("".join))
def test_any_duration_text_parses_or_says_why(text: str) -> None:
    try:
        parse_duration(text)
    except DurationError:
        pass


_CRON_PIECES = st.sampled_from(["*", "?", "/", "-", ",", "#", "L", "W", "LW", "0", "7", "59",
                                "60", "99999999999", "9" * 5000, "MON", "jan", " ", "@every ",
                                "1d", "3651d", "H", "\u0663", "\x00"])


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(st.lists(_CRON_PIECES, max_size=14).map("".join))
def test_any_cron_text_parses_or_is_a_cron_error(text: str) -> None:
    try:
        sched = parse(text, "UTC")
    except CronError:
        return
    sched.upcoming(datetime(2026, 1, 1, tzinfo=UTC), 3)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60))
def test_any_bytes_in_the_jobs_file_are_a_problem_or_a_config(tmp_path_factory: object,
                                                               data: bytes) -> None:
    path = Path(str(tmp_path_factory.mktemp("fuzz"))) / "crondeck.toml"  # type: ignore[attr-defined]
    path.write_bytes(JOB.encode() + data)
    try:
        load_config(path)
    except ConfigError:
        pass


# --- a working directory that is not there ---------------------------------------------------


def test_a_missing_working_directory_is_a_warning_and_a_run_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(JOB.replace('"true"', '"echo hi"') + 'cwd = "does/not/exist"\n'
                    '[agents.a]\ncommand = ["true"]\ncwd = "gone"\n')
    cfg = load_config(path)
    warned = {w.key: w for w in cfg.warnings}
    assert warned["cwd"].line == 5 and "'does/not/exist' does not exist" in warned["cwd"].message
    assert warned["agents.a.cwd"].line == 8
    assert main(["--config", str(path), "exec", "j", "--json"]) == 1
    out, err = capsys.readouterr()
    assert "does/not/exist" in err  # check-style warning before the run
    error = json.loads(out.splitlines()[-1])["error"]
    assert "\n" not in error and "Traceback" not in error
    assert error.startswith("cannot start the command: the working directory ")
    assert str(tmp_path / "does/not/exist") in error


def test_a_missing_program_is_one_line_too(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(JOB.replace('"true"', '["no-such-program-here"]'))
    assert main(["--config", str(path), "exec", "j", "--json"]) == 1
    error = json.loads(capsys.readouterr().out.splitlines()[-1])["error"]
    assert error == ("cannot start 'no-such-program-here': No such file or directory "
                     "(FileNotFoundError)")


@pytest.mark.parametrize("line", ['cwd = "a\\u0000b"', 'env = { A = "\\u0000" }',
                                  'pre_run = "true\\u0000"'])
def test_a_nul_character_where_the_system_cannot_take_one_is_a_problem(line: str) -> None:
    p = _one(JOB + line + "\n")
    assert p.line == 5 and p.key == line.split()[0] and "NUL" in p.message


def test_a_nul_in_the_command_is_a_problem() -> None:
    p = _one(JOB.replace('"true"', '["echo", "a\\u0000"]'))
    assert (p.line, p.key) == (3, "command") and "NUL" in p.message


# --- state files with a time that has no zone ------------------------------------------------


@pytest.mark.parametrize("with_state", [False, True])
def test_a_naive_time_in_the_claims_file_is_moved_aside_and_scheduling_goes_on(
    tmp_path: Path, with_state: bool
) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text('[defaults]\ntimezone = "UTC"\n' + JOB.replace("@every 1h", "* * * * *")
                    .replace('"true"', '"echo hi"'))
    cfg = load_config(path)
    cfg.state_dir.mkdir()
    if with_state:
        store = StateStore(cfg.state_dir / "state.toml")
        store.put(JobState(name="j", run_count=2, last_slot=datetime(2025, 3, 1, 7, tzinfo=UTC)))
        store.flush()
    claims = cfg.state_dir / "claims.toml"
    claims.write_text('[[claims]]\njob = "j"\nrun_id = "j@2025-03-01T08:00:00Z"\n'
                      "scheduled_for = 2025-03-01T08:00:00\n")
    clock = FakeClock(datetime(2025, 3, 1, 9, 0, 30, tzinfo=UTC))

    async def start() -> Runtime:
        with open_runtime(cfg, clock=clock) as runtime:
            task = asyncio.create_task(runtime.scheduler.astart(stop_when_done=False))
            await clock.run_for(60)
            runtime.scheduler.stop()
            await asyncio.wait_for(task, 5)
        return runtime

    runtime = asyncio.run(start())
    (problem,) = runtime.problems
    assert "claims.toml" in problem and "no time zone" in problem and "moved it aside" in problem
    assert not claims.exists() and len(list(cfg.state_dir.glob("claims.toml.corrupt-*"))) == 1
    ran = {r.run_id for r in runtime.store.jobs["j"].results if r.status is RunStatus.OK}
    assert ran & {"j@2025-03-01T09:00:00Z", "j@2025-03-01T09:01:00Z"}


# --- the longest durations allowed work where they are used ----------------------------------


def test_crondeck_next_says_where_the_calendar_ends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["next", "@every 3650d", "-n", "1000", "--tz", "UTC"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("(no more fires: the calendar ends with the year 9999;")
    assert out[-2].startswith("99")


def test_a_notify_command_with_the_longest_timeout_runs(tmp_path: Path) -> None:
    from crondeck.core.notify import NotifySpec, _run_command

    done = tmp_path / "done"
    spec = NotifySpec(command=f"cat >/dev/null; touch {done}",
                      timeout=MAX_DURATION.total_seconds())
    _run_command(spec, {"event": "failure", "job": "j", "run_id": "r", "status": "failed"})
    assert done.exists()


@pytest.mark.parametrize("pattern", ["a{9999999999}", "(" * 2000 + ")" * 2000])
def test_an_expect_pattern_python_cannot_compile_is_a_problem(pattern: str) -> None:
    p = _one(JOB + f"expect = '{pattern}'\n")
    assert (p.line, p.key) == (5, "expect") and "regular expression" in p.message


@pytest.mark.parametrize(("line", "edit"), [
    ('job = "j"', "job = []"), ('job = "j"', 'job = "other"'),
    ("exit_code = 0", "exit_code = 00:00:00"), ("attempt = 1", 'attempt = "1"')])
def test_a_mistyped_result_in_the_state_file_is_moved_aside_not_a_traceback_later(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, edit: str
) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(JOB.replace('"true"', '"echo hi"'))
    assert main(["--config", str(path), "exec", "j"]) == 0
    state = tmp_path / ".crondeck" / "state.toml"
    assert line in state.read_text()
    state.write_text(state.read_text().replace(line, edit))
    capsys.readouterr()
    for command in (["history"], ["history", "--json"], ["list"]):
        assert main(["--config", str(path), *command]) == 0
    err = capsys.readouterr().err
    assert "state.toml" in err and "results" in err
