"""The jobs file: every key round-trips, and every kind of bad input gets a clear, located error."""

from __future__ import annotations

import re
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from crondeck.core.config import (
    ConfigError,
    Problem,
    load_config,
    parse_config,
    save_config,
)
from crondeck.core.paths import EXAMPLE_CONFIG, resolve_config

FULL = """\
[defaults]
timezone = "Europe/Berlin"
timeout = "30m"
overlap = "queue_one"
catchup = "all"
misfire_grace = "5m"
gate_timeout = "20s"
on_gate_error = "skip"
retries = 2
retry_backoff = "1m"
pause_after_failures = 5
output_tail = "16KB"
kill_grace = "10s"

[scheduler]
max_concurrent_runs = 8
history = 20
logs_keep = 10
log_max_size = "1MB"
logs_max_total = 50000000

[agents.claude]
kind = "command"
command = ["claude", "-p"]
prompt_via = "stdin"
cwd = "work"
env = { LANG = "C" }

[agents.summariser]
python = "mypkg.agents:summarise"

[[jobs]]
name = "inbox-watch"
agent = "claude"
prompt = "Summarise these new emails and flag anything important."
schedule = "*/5 * * * *"
pre_run = "scripts/new_mail.sh"
timeout = "10m"
cwd = "inbox"
env = { MAILBOX = "INBOX" }
max_runs = 30
until = 2030-12-31
start_immediately = true
timezone = "America/New_York"
overlap = "replace"
catchup = "none"
misfire_grace = "1m"
gate_timeout = "5s"
on_gate_error = "run"
retries = 1
retry_backoff = "30s"
pause_after_failures = 3
output_tail = 2048
kill_grace = "3s"

[[jobs]]
name = "disk report"
command = "df -h"
prompt_via = "arg"
schedule = "@every 1h30m"
until = 2030-06-01T12:00:00+02:00

[[jobs]]
name = "digest"
python = "mypkg.agents:digest"
schedule = "0 9 * * 1-5"
until = 2030-06-01T12:00:00
enabled = false
"""


def _problems(text: str) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "/etc/crondeck.toml")
    return info.value.problems


def _one(text: str) -> Problem:
    problems = _problems(text)
    assert len(problems) == 1, problems
    return problems[0]


def test_every_key_is_read() -> None:
    cfg = parse_config(FULL)
    assert cfg.defaults.timeout == timedelta(minutes=30)
    assert cfg.defaults.output_tail == 16 * 1024
    assert cfg.scheduler.log_max_size == 1024 * 1024
    assert cfg.agents["claude"].command == ["claude", "-p"]
    assert cfg.agents["summariser"].kind == "python"
    inbox = cfg.job("inbox-watch")
    assert inbox.until == date(2030, 12, 31)
    assert cfg.policy(inbox).timeout == timedelta(minutes=10)
    assert cfg.policy(inbox).kill_grace == timedelta(seconds=3)
    assert cfg.policy(cfg.job("disk report")).overlap == "queue_one"  # from [defaults]
    assert str(cfg.zone(cfg.job("digest"))) == "Europe/Berlin"
    assert cfg.job("disk report").until == datetime(2030, 6, 1, 10, tzinfo=UTC)
    assert not cfg.enabled(cfg.job("digest")) and cfg.enabled(cfg.job("disk report"))


def test_enabled_is_inherited_from_defaults_and_overridden_per_job() -> None:
    cfg = parse_config('[defaults]\nenabled = false\n'
                       '[[jobs]]\nname = "off"\ncommand = "true"\nschedule = "@daily"\n'
                       '[[jobs]]\nname = "on"\ncommand = "true"\nschedule = "@daily"\n'
                       'enabled = true\n')
    assert [cfg.enabled(j) for j in cfg.jobs] == [False, True]
    assert cfg.job("on").policy.enabled is True and cfg.job("off").policy.enabled is None
    assert "enabled = false" in cfg.dumps() and "enabled = true" in cfg.dumps()


def test_enabled_must_be_a_boolean_in_defaults_too() -> None:
    p = _one('[defaults]\nenabled = "no"\n')
    assert (p.line, p.key) == (2, "enabled")
    assert "expected true or false, got string 'no'" in p.message
    p = _one('[[jobs]]\nname = "j"\ncommand = "true"\nschedule = "@daily"\nenable = false\n')
    assert "did you mean 'enabled'?" in p.message


def test_every_key_round_trips_through_save(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(FULL)
    cfg = load_config(path)
    backup = save_config(cfg)
    assert backup == tmp_path / "crondeck.toml.bak"
    assert backup.read_text() == FULL  # the hand-written version, comments and all
    again = load_config(path)
    assert again == cfg
    assert save_config(again) is not None and load_config(path) == cfg


def test_saving_an_invalid_config_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(FULL)
    cfg = load_config(path)
    cfg.jobs[0].schedule = "61 * * * *"
    with pytest.raises(ConfigError):
        save_config(cfg)
    assert path.read_text() == FULL
    assert not (tmp_path / "crondeck.toml.bak").exists()


def test_the_example_config_is_valid_and_so_is_every_commented_line() -> None:
    assert parse_config(EXAMPLE_CONFIG).jobs == []
    uncommented = re.sub(r"(?m)^# (?=\[|[a-z_]+ +=)", "", EXAMPLE_CONFIG)
    cfg = parse_config(uncommented)
    assert [j.name for j in cfg.jobs] == ["inbox-watch", "disk-report"]


def test_invalid_toml_names_the_line() -> None:
    p = _one('[defaults]\ntimeout = "5m"\nschedule = */5 * * * *\n')
    assert p.line == 3 and "not valid TOML" in p.message
    assert str(p).startswith("/etc/crondeck.toml:3: not valid TOML")


def test_unknown_keys_suggest_the_nearest_valid_one() -> None:
    problems = _problems(
        '[defaults]\ntimout = "5m"\n\n[[jobs]]\nname = "a"\ncommand = "true"\n'
        'schedule = "@daily"\nprompt_vai = "arg"\n\n[job]\nx = 1\n'
    )
    messages = [(p.line, p.job, p.key, p.message) for p in problems]
    assert messages == [
        (2, None, "timout", "unknown key 'timout' in [defaults]; did you mean 'timeout'?"),
        (8, "a", "prompt_vai", "unknown key 'prompt_vai' in job 'a'; did you mean 'prompt_via'?"),
        (10, None, "job", "unknown top-level key 'job'; did you mean [jobs]?"),
    ]
    assert str(problems[1]) == (
        "/etc/crondeck.toml:8: job 'a', prompt_vai: unknown key 'prompt_vai' in job 'a'; "
        "did you mean 'prompt_via'?"
    )


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ("timeout = 300", "timeout", 'durations are strings with a unit: write "300s"'),
        ('timeout = "5 minutes"', "timeout", "is not a duration"),
        ("max_runs = 0", "max_runs", "0 is too small: use 1 or more"),
        ('max_runs = "3"', "max_runs", "expected a whole number, got string '3'"),
        ('start_immediately = "yes"', "start_immediately", "expected true or false"),
        ("enabled = 0", "enabled", "expected true or false, got integer 0"),
        ('overlap = "sometimes"', "overlap", "'sometimes' is not one of 'skip' | 'queue_one'"),
        ("prompt = 42", "prompt", "expected a string, got integer 42"),
        ('until = "next week"', "until", "expected a TOML date or date-time"),
        ('env = { N = 1 }', "env", "expected a table of strings"),
        ('output_tail = "lots"', "output_tail", "is not a size"),
    ],
)
def test_wrong_types_say_what_would_be_right(line: str, key: str, expected: str) -> None:
    p = _one(f'[[jobs]]\nname = "j"\ncommand = "true"\nschedule = "@daily"\n{line}\n')
    assert (p.line, p.job, p.key) == (5, "j", key)
    assert expected in p.message


def test_bad_cron_expression_shows_field_and_caret() -> None:
    p = _one('[[jobs]]\nname = "j"\ncommand = "true"\nschedule = "0 9 * * MONDAY"\n')
    assert (p.line, p.job, p.key) == (4, "j", "schedule")
    assert "day-of-week" in p.message or "weekday" in p.message
    assert "^" in p.detail
    assert "^" in str(p).splitlines()[-1]


def test_unknown_time_zone_suggests_names() -> None:
    p = _one('[defaults]\ntimezone = "Europe/Berln"\n[[jobs]]\nname = "j"\ncommand = "true"\n'
             'schedule = "@daily"\n')
    assert (p.line, p.key) == (2, "timezone")
    assert "unknown time zone 'Europe/Berln'" in p.message and "'Europe/Berlin'" in p.message


def test_undefined_agent_suggests_the_close_one() -> None:
    p = _one('[agents.claude]\ncommand = "claude -p"\n[[jobs]]\nname = "j"\nagent = "claud"\n'
             'schedule = "@daily"\n')
    assert (p.line, p.job, p.key) == (5, "j", "agent")
    assert p.message == "agent 'claud' is not defined; did you mean 'claude'?"


def test_duplicate_job_names_are_reported_at_the_second() -> None:
    p = _one('[[jobs]]\nname = "j"\ncommand = "a"\nschedule = "@daily"\n\n'
             '[[jobs]]\nname = "j"\ncommand = "b"\nschedule = "@hourly"\n')
    assert (p.line, p.job, p.key) == (7, "j", "name")
    assert "duplicate job name 'j'" in p.message


@pytest.mark.parametrize(
    ("body", "key", "expected"),
    [
        ('command = "true"\nschedule = "@daily"', "name", "job has no name"),
        ('name = "j"\ncommand = "true"', "schedule", "job has no schedule"),
        ('name = "j"\nschedule = "@daily"', "agent", "job has no agent"),
        ('name = "j"\nagent = "x"\ncommand = "y"\nschedule = "@daily"', "command",
         "job has both agent and command"),
        ('name = "a/b"\ncommand = "y"\nschedule = "@daily"', "name", "no / or @"),
        ('name = "j"\ncommand = []\nschedule = "@daily"', "command", "non-empty list"),
        ('name = "j"\npython = "not a target"\nschedule = "@daily"', "python",
         "package.module:function"),
    ],
)
def test_incomplete_jobs(body: str, key: str, expected: str) -> None:
    p = _one(f"[[jobs]]\n{body}\n")
    assert p.key == key and expected in p.message


def test_jobs_written_as_a_table_get_told_the_array_form() -> None:
    p = _one('[jobs.backup]\ncommand = "true"\n')
    assert "[[jobs]]" in p.message


def test_agent_problems() -> None:
    problems = _problems('[agents.a]\nkind = "python"\ncommand = "x"\n[agents.b]\ncwd = "/"\n')
    assert [(p.line, p.key) for p in problems] == [(2, "kind"), (4, "agents.b")]
    assert "write kind = 'command'" in problems[0].message
    assert "exactly one of command" in problems[1].message


def test_every_problem_is_reported_at_once() -> None:
    text = FULL.replace('timeout = "30m"', 'timeout = "30 min"').replace(
        'schedule = "0 9 * * 1-5"', 'schedule = "0 25 * * *"'
    ).replace('agent = "claude"', 'agent = "claud"')
    problems = _problems(text)
    assert [p.key for p in problems] == ["timeout", "agent", "schedule"]
    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)


def test_cron_warnings_are_kept_but_do_not_fail() -> None:
    cfg = parse_config('[[jobs]]\nname = "j"\ncommand = "true"\nschedule = "0 0 1 * 1"\n')
    assert len(cfg.warnings) == 1 and cfg.warnings[0].job == "j"


def test_missing_or_undecodable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "crondeck.toml"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(bad)
    assert bad.read_bytes() == b"\xff\xfe"


# --- where the jobs file is ------------------------------------------------------------------


def test_config_resolution_order(tmp_path: Path) -> None:
    cwd = tmp_path / "project"
    cwd.mkdir()
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "CRONDECK_CONFIG": "env.toml"}
    loc = resolve_config("given.toml", env=env, cwd=cwd)
    assert (loc.path, loc.source) == (cwd / "given.toml", "--config")
    loc = resolve_config(None, env=env, cwd=cwd)
    assert (loc.path, loc.source) == (cwd / "env.toml", "$CRONDECK_CONFIG")
    del env["CRONDECK_CONFIG"]
    (cwd / "crondeck.toml").write_text("")
    assert resolve_config(None, env=env, cwd=cwd).path == cwd / "crondeck.toml"
    (cwd / "crondeck.toml").unlink()
    loc = resolve_config(None, env=env, cwd=cwd)
    assert loc.path == tmp_path / "xdg" / "crondeck" / "crondeck.toml"
    assert loc.created and loc.path.read_text() == EXAMPLE_CONFIG
    assert stat.S_IMODE(loc.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(loc.path.parent.stat().st_mode) == 0o700
    assert loc.state_dir == loc.path.parent / ".crondeck"
    loc.path.write_text("# mine\n")
    again = resolve_config(None, env=env, cwd=cwd)
    assert not again.created and again.path.read_text() == "# mine\n"


# --- programs that cannot be found: warnings, not problems -----------------------------------


def _program_warnings(tmp_path: Path, job: str, agent: str = "") -> list[Problem]:
    path = tmp_path / "crondeck.toml"
    path.write_text(agent + '[[jobs]]\nname = "j"\nschedule = "*/5 * * * *"\n' + job)
    return [w for w in load_config(path).warnings if "not found" in w.message]


def test_a_pre_run_that_is_no_program_is_a_warning_naming_it(tmp_path: Path) -> None:
    (warning,) = _program_warnings(tmp_path, 'command = "true"\npre_run = "2m"\n')
    assert (warning.job, warning.key, warning.line) == ("j", "pre_run", 5)
    assert warning.message.startswith("program '2m' not found on PATH: the gate cannot start")
    assert "pre_run is a command" in warning.message


@pytest.mark.parametrize("job", [
    'command = "true"\npre_run = "test -f /etc/hostname"\n',  # a shell builtin
    'command = "FOO=1 sh -c true"\n',  # VAR=value before the program
    'command = "scripts/go.sh --fast"\n',  # beside the jobs file
    'command = ["scripts/go.sh"]\npre_run = "./scripts/go.sh"\n',
    'command = "./go.sh"\ncwd = "scripts"\n',  # in the job's cwd
    'command = "$HOME/bin/x"\n',  # the shell expands it: not ours to judge
    'command = "/bin/sh -c true"\n',
])
def test_programs_that_can_be_found_are_not_warned_about(tmp_path: Path, job: str) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "go.sh").write_text("#!/bin/sh\n")
    assert _program_warnings(tmp_path, job) == []


def test_a_bare_name_beside_the_file_is_not_on_path_and_says_write_dot_slash(
        tmp_path: Path) -> None:
    (tmp_path / "go.sh").write_text("#!/bin/sh\n")
    (warning,) = _program_warnings(tmp_path, 'command = "go.sh"\n')
    assert warning.message.endswith(f"it is in {tmp_path.resolve()}, so write ./go.sh")


def test_missing_commands_of_jobs_and_agents_are_warnings(tmp_path: Path) -> None:
    warnings = _program_warnings(
        tmp_path, 'agent = "bot"\n',
        agent='[agents.bot]\ncommand = ["no-such-agent-cli", "-p"]\n\n')
    assert [(w.job, w.key) for w in warnings] == [(None, "agents.bot.command")]
    (job_warning,) = _program_warnings(tmp_path, 'command = ["/opt/nowhere/run"]\n')
    assert job_warning.key == "command"
    assert job_warning.message.startswith("program '/opt/nowhere/run' not found (no such file)")
    (relative,) = _program_warnings(tmp_path, 'command = "bin/run.sh"\n')
    assert relative.message.startswith(
        f"program 'bin/run.sh' not found (no such file in {tmp_path.resolve()})")
    assert "runs will fail to start" in job_warning.message


def test_crondeck_check_shows_the_warning_and_still_passes(tmp_path: Path, capsys) -> None:
    from crondeck.cli.main import main

    path = tmp_path / "crondeck.toml"
    path.write_text('[[jobs]]\nname = "j"\ncommand = "true"\nschedule = "@every 1h"\n'
                    'pre_run = "2m"\n')
    assert main(["check", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"warning: {path}:5: job 'j', pre_run: program '2m' not found" in err
    assert ": OK, 1 job, 0 agents, 1 warning" in out
