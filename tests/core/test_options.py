"""One options model: JobOptions is the runtime form, its field names are the jobs file's
keys and add_job's overrides, and Config.options() is the one conversion from the file."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import pytest

from crondeck.core import FakeClock, JobOptions, NotifySpec, Scheduler, every
from crondeck.core.config import ConfigError, parse_config
from crondeck.core.config_keys import JOB_KEYS, POLICY_KEYS, SCHEDULER_KEYS
from crondeck.core.config_model import AgentSpec, JobSpec, Policy
from crondeck.core.options import DURATIONS, OPTION_NAMES, checked
from crondeck.core.runtime import build_scheduler

README = Path(__file__).parents[2] / "README.md"
NOT_OPTIONS = {"timezone", "enabled"}  # where a job runs, and whether: the Job's, not options


def _agent(prompt: str) -> str:
    return "ok"


def test_every_option_has_one_name_in_the_file_the_api_and_the_readme() -> None:
    policy = {f.name for f in fields(Policy)}
    assert policy == set(POLICY_KEYS)
    assert policy - NOT_OPTIONS <= OPTION_NAMES
    job_level = {f.name for f in fields(JobSpec)} & OPTION_NAMES
    assert job_level <= set(JOB_KEYS)
    # every option can be set in the file, under its own name ([scheduler] for history)
    assert not OPTION_NAMES - set(JOB_KEYS) - set(SCHEDULER_KEYS)
    readme = README.read_text()
    for name in OPTION_NAMES | policy:
        assert re.search(rf"`{name}\b", readme), f"{name} is not in the README"


def test_an_agents_prices_are_its_jobs_unless_the_job_sets_its_own() -> None:
    assert {"price_in", "price_out"} <= {f.name for f in fields(AgentSpec)}
    config = parse_config(
        '[agents.m]\nkind = "openai"\nmodel = "x"\nprice_in = 1\nprice_out = 2\n'
        '[[jobs]]\nname = "a"\nagent = "m"\nschedule = "@daily"\n'
        '[[jobs]]\nname = "b"\nagent = "m"\nschedule = "@daily"\nprice_in = 5\n')
    a, b = (config.options(config.job(n)) for n in ("a", "b"))
    assert (a.price_in, a.price_out, b.price_in, b.price_out) == (1.0, 2.0, 5.0, 2.0)


def test_the_file_becomes_job_options_in_one_place(tmp_path: Path) -> None:
    config = parse_config(
        '[defaults]\ntimeout = "10m"\npause_after_failures = 0\n'
        'notify = { on = ["failure"], command = "true", timeout = "3s" }\n'
        '[scheduler]\nhistory = 9\n'
        '[[jobs]]\nname = "a"\ncommand = "true"\nschedule = "@daily"\nretries = 2\n'
        '[[jobs]]\nname = "b"\ncommand = "true"\nschedule = "@hourly"\nretries = 2\n'
        '[[jobs]]\nname = "c"\ncommand = "true"\nschedule = "@daily"\nfail_if_empty = false\n',
        tmp_path / "crondeck.toml")
    a = config.options(config.job("a"))
    assert (a.timeout, a.retries, a.history, a.pause_after_failures) == (600.0, 2, 9, None)
    assert a.fail_if_empty and not config.options(config.job("c")).fail_if_empty
    assert a.notify == NotifySpec(on=("failure",), command="true", timeout=3.0)
    assert a.notify is not None and a.notify.cwd == str(tmp_path)
    assert config.options(config.job("b")) is a  # equal options are one shared object
    assert config.options().timeout == 600.0 and config.options().retries == 0
    scheduler = build_scheduler(config)
    assert scheduler.jobs["a"].options is a and scheduler.defaults == config.base_options()


def test_add_job_takes_options_and_overrides_by_field_name() -> None:
    s = Scheduler(FakeClock())
    base = JobOptions(retries=3)
    job = s.add_job(_agent, "p", every(minutes=1), name="a", options=base, timeout="2m")
    assert (job.options.retries, job.options.timeout) == (3, 120.0)
    assert s.add_job(_agent, "p", every(minutes=1), options=base).options is base
    one = s.add_job(_agent, "p", every(minutes=1), timeout=timedelta(minutes=5))
    two = s.add_job(_agent, "p", every(minutes=1), timeout="5m")
    assert one.options is two.options and one.options.timeout == 300.0
    assert s.add_job(_agent, "p", every(minutes=1)).options is s.defaults


def test_an_unknown_override_names_the_closest_option() -> None:
    s = Scheduler(FakeClock())
    with pytest.raises(TypeError, match="unknown job option 'timout': did you mean 'timeout'"):
        s.add_job(_agent, "p", every(minutes=1), timout="5m")
    with pytest.raises(TypeError, match="unknown job option 'zzz': job options are"):
        JobOptions().merged(zzz=1)
    assert not s.jobs


def test_durations_are_seconds_whatever_they_were_given_as() -> None:
    assert DURATIONS == ("timeout", "misfire_grace", "gate_timeout", "retry_backoff",
                         "kill_grace")
    given = checked({"timeout": "1m30s", "kill_grace": timedelta(seconds=2), "retries": 1})
    assert given == {"timeout": 90.0, "kill_grace": 2.0, "retries": 1}
    assert JobOptions(gate_timeout=timedelta(seconds=4)).gate_timeout == 4.0  # type: ignore[arg-type]


def test_the_file_refuses_a_timeout_the_scheduler_would_refuse() -> None:
    for key in ("timeout", "gate_timeout"):
        with pytest.raises(ConfigError, match=f"{key}: '0s' is no time at all"):
            parse_config(f'[defaults]\n{key} = "0s"\n')
