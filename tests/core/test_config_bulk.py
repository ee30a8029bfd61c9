"""Jobs that differ only by name are checked once: each still reads exactly as if checked on
its own, keeps its own lists and tables, and gets its own problems and warnings."""

from __future__ import annotations

import pytest

from crondeck.core import ConfigError, parse_config

JOB = """\
[[jobs]]
name = "{name}"
schedule = "*/5 * * * *"
command = ["echo", "hi"]
env = {{ A = "1" }}
timeout = "5m"
retries = 2
"""


def _alone(name: str):
    return parse_config(JOB.format(name=name)).jobs[0]


def test_jobs_alike_read_as_each_alone():
    config = parse_config("".join(JOB.format(name=n) for n in ("a", "b", "c")))
    assert config.jobs == [_alone("a"), _alone("b"), _alone("c")]


def test_jobs_alike_have_their_own_lists_and_tables():
    a, b = parse_config(JOB.format(name="a") + JOB.format(name="b")).jobs
    a.env["B"] = "2"
    assert isinstance(a.command, list)
    a.command.append("there")
    assert b.env == {"A": "1"} and b.command == ["echo", "hi"]


def test_a_bad_name_among_jobs_alike_is_still_a_problem():
    text = JOB.format(name="a") + JOB.format(name="bad/name")
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert [p.job for p in caught.value.problems] == ["bad/name"]


def test_each_job_alike_gets_its_own_warning():
    text = "".join(
        f'[[jobs]]\nname = "{n}"\nschedule = "@every 1h"\n'
        'command = "no-such-program-crondeck-test --x"\n' for n in ("a", "b"))
    config = parse_config(text)
    assert [(w.job, w.line) for w in config.warnings] == [("a", 4), ("b", 8)]


def test_a_value_of_another_type_is_not_taken_for_an_equal_one():
    text = ('[[jobs]]\nname = "a"\nschedule = "@every 1h"\ncommand = "true"\n'
            'fail_if_empty = true\n'
            '[[jobs]]\nname = "b"\nschedule = "@every 1h"\ncommand = "true"\n'
            'fail_if_empty = 1\n')
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert [(p.job, p.key) for p in caught.value.problems] == [("b", "fail_if_empty")]
