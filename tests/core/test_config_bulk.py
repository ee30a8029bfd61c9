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


def test_jobs_alike_get_every_warning_of_their_kind_at_their_own_lines():
    job = ('[[jobs]]\nname = "{n}"\nschedule = "*/7 * * * *"\ncwd = "no-such-dir"\n'
           'command = "no-such-program-crondeck-test"\n')
    # a multi-line prompt in between: its lines are no keys, and must not shift the others'
    other = '[[jobs]]\nname = "m"\nschedule = "@every 1h"\ncommand = "true"\nprompt = """\n' \
            '[[jobs]]\nname = "x"\n"""\n'
    config = parse_config(job.format(n="a") + other + job.format(n="b") + job.format(n="c"))
    got = [(w.job, w.key, w.line) for w in config.warnings]
    assert got == [(n, key, start + offset) for n, start in (("a", 1), ("b", 14), ("c", 19))
                   for key, offset in (("schedule", 2), ("cwd", 3), ("command", 4))]
    alone = parse_config(job.format(n="a")).warnings
    assert [w.message for w in config.warnings] == [w.message for w in alone] * 3



def test_warnings_read_in_parts_are_those_read_whole():
    """A file's warnings get their lines when read: the first few, one, or all of them in any
    order give the same problems, at the same lines, as a list read whole."""
    job = ('[[jobs]]\nname = "{n}"\nschedule = "*/7 * * * *"\ncwd = "no-such-dir"\n'
           'command = "no-such-program-crondeck-test"\n')
    text = "".join(job.format(n=f"j{i}") for i in range(40))
    whole = list(parse_config(text).warnings)
    assert len(whole) == 120 and whole[-1].line == 39 * 5 + 5
    parts = parse_config(text).warnings
    assert len(parts) == 120
    assert parts[:3] == whole[:3] and parts[-1] == whole[-1] and parts[57] == whole[57]
    assert parts[100:0:-7] == whole[100:0:-7]
    assert list(parts) == whole and parts == whole
    with pytest.raises(IndexError):
        parts[120]

def test_lines_looked_up_at_once_are_those_looked_up_one_by_one():
    from crondeck.core.tomllines import KeyLines

    text = ('[defaults]\ntimeout = "5m"\n\n[agents.x]\ncommand = """\n[[jobs]]\nname = 1\n"""\n'
            + "".join(f'[[jobs]]\nname = "j{i}"\n\n# note\nschedule = "@every 1h"\n'
                      for i in range(4)))
    paths = [("jobs", 2, "schedule"), ("jobs", 0, "name"), ("agents", "x", "command"),
             ("defaults", "timeout"), ("jobs", 3, "nothing"), ("jobs", 9, "schedule")]
    assert KeyLines.deferred(text).lines_for(paths) == [
        KeyLines.deferred(text).get(*p) for p in paths] == [23, 10, 5, 2, 24, None]


def test_lines_looked_up_at_once_in_a_file_written_otherwise():
    """The lines of `[[jobs]]` headers written in other ways, other tables and arrays among
    them, and lines starting with "[" inside values: as one by one."""
    from crondeck.core.tomllines import KeyLines

    text = ('top = 1\n[[ jobs ]] # first\nname = "a"\nx = [\n  [1, 2],\n]\nschedule = "s"\n'
            '[agents."y z"]\ncommand = "c"\n\t[[jobs]]\n"name" = "b"\n[[other]]\nname = "o"\n'
            '[[jobs.sub]]\nname = "n"\n[[jobs]]\nname = "c"\n')
    paths = [("jobs", 0, "schedule"), ("jobs", 0, "name"), ("jobs", 1, "name"),
             ("jobs", 2, "name"), ("agents", "y z", "command"), ("agents", "y z"),
             ("other", 0, "name"), ("jobs", "sub", 0, "name"), ("top",), ("jobs", 5, "x")]
    one_by_one = [KeyLines.deferred(text).get(*p) for p in paths]
    assert KeyLines.deferred(text).lines_for(paths) == one_by_one
    assert one_by_one[:5] == [2, 3, 11, 17, 9]  # "  [1, 2]," reads as a header
