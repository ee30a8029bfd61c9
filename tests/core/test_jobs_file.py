"""Saving edits the operator's jobs file in place: comments, order and layout survive; only
the keys that changed are touched; a file changed on disk since it was read is never
overwritten unasked."""

from __future__ import annotations

import copy
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from crondeck.core.config import (
    ConfigError,
    FileChanged,
    JobSpec,
    load_config,
    parse_config,
    plan_save,
    save_config,
)
from crondeck.core.jobs_file import edit_jobs_text
from crondeck.core.paths import EXAMPLE_CONFIG

COMMENTED = """\
# My jobs. Keep this comment.
[defaults]
timeout = "30m"   # per run

# The first job: reports disk use.
[[jobs]]
name = "disk"  # short name
command = "df -h"
schedule = "*/15 * * * *"
timeout = "1800s"   # half an hour, written my way
# retries = 3

# --- nightly ---

# Reads the inbox.
[[jobs]]
name = "inbox"
command = 'mail --check'
prompt = '''
Summarise.
'''
schedule = "0 9 * * 1-5"
[jobs.env]
LANG = "de_DE.UTF-8"  # for the dates

# the end
"""


def job(name: str, **kw) -> JobSpec:
    return JobSpec(name=name, schedule=kw.pop("schedule", "@daily"),
                   command=kw.pop("command", "true"), **kw)


def edited(text: str, change) -> str:
    """`text` after `change(config)` (which returns the new config) is rendered in place;
    the result must load as exactly that config."""
    old = parse_config(text)
    new = change(copy.deepcopy(old))
    out = edit_jobs_text(text, old, new)
    assert parse_config(out) == new
    return out


def test_an_unchanged_config_leaves_the_file_byte_for_byte() -> None:
    assert edited(COMMENTED, lambda c: c) == COMMENTED


def test_editing_one_key_changes_only_that_line_and_keeps_its_comment() -> None:
    def change(c):
        c.job("disk").schedule = "*/5 * * * *"
        return c

    out = edited(COMMENTED, change)
    assert out == COMMENTED.replace('schedule = "*/15 * * * *"', 'schedule = "*/5 * * * *"')


def test_a_value_spelled_differently_but_unchanged_is_left_as_written() -> None:
    # `1800s` reads as 30 minutes, which the app would write as "30m": it is not rewritten
    out = edited(COMMENTED, lambda c: replace(c, jobs=[replace(c.jobs[0], cwd="sub"),
                                                         c.jobs[1]]))
    assert 'timeout = "1800s"   # half an hour, written my way' in out
    assert 'cwd = "sub"\n# retries = 3' in out  # after the last key, before its comments


def test_a_changed_key_keeps_its_comment_and_quoting() -> None:
    def change(c):
        c.job("inbox").command = "mail --check --all"
        c.job("inbox").prompt = "Summarise, briefly.\n"
        c.job("inbox").env = {"LANG": "C.UTF-8"}
        return c

    out = edited(COMMENTED, change)
    assert "command = 'mail --check --all'" in out  # literal string stays literal
    assert "prompt = '''\nSummarise, briefly.\n'''" in out  # multi-line stays multi-line
    assert 'LANG = "C.UTF-8"  # for the dates' in out
    assert out.count("\n") == COMMENTED.count("\n")


def test_a_cleared_field_removes_its_key_and_nothing_else() -> None:
    def change(c):
        c.job("disk").policy.timeout = None
        return c

    out = edited(COMMENTED, change)
    assert "1800s" not in out
    assert out == COMMENTED.replace('timeout = "1800s"   # half an hour, written my way\n', "")


def test_a_new_job_is_appended_as_a_jobs_table_after_the_last_one() -> None:
    out = edited(COMMENTED, lambda c: replace(c, jobs=[*c.jobs, job("new", command="echo hi")]))
    assert out.startswith(COMMENTED)
    assert out[len(COMMENTED):] == ('\n[[jobs]]\nname = "new"\ncommand = "echo hi"\n'
                                    'schedule = "@daily"\n')


def test_deleting_a_job_takes_its_own_comments_and_leaves_the_rest() -> None:
    out = edited(COMMENTED, lambda c: replace(c, jobs=c.jobs[1:]))
    assert "The first job" not in out and "retries" not in out and "disk" not in out
    assert "# My jobs. Keep this comment." in out and "# --- nightly ---" in out
    assert '# Reads the inbox.\n[[jobs]]\nname = "inbox"' in out
    assert out.count("\n\n\n") == 0  # no blank lines piled up where it was
    out = edited(COMMENTED, lambda c: replace(c, jobs=c.jobs[:1]))
    assert "Reads the inbox" not in out and "LANG" not in out and "inbox" not in out
    assert "# --- nightly ---" in out and "# the end" in out
    assert "# retries = 3" in out  # the first job's own comment stays with it


def test_a_renamed_job_keeps_its_place_and_comments() -> None:
    def change(c):
        c.jobs[0].name = "disk-usage"
        return c

    out = edited(COMMENTED, change)
    assert out == COMMENTED.replace('name = "disk"', 'name = "disk-usage"')


def test_the_example_file_crondeck_writes_keeps_every_comment() -> None:
    out = edited(EXAMPLE_CONFIG, lambda c: replace(c, jobs=[job("first", command="df -h")]))
    assert out.startswith(EXAMPLE_CONFIG)  # every comment, in place
    assert "jobs = [" not in out
    assert out.endswith('\n[[jobs]]\nname = "first"\ncommand = "df -h"\nschedule = "@daily"\n')
    # and the next edits keep working on what was written
    again = edited(out, lambda c: replace(c, jobs=[*c.jobs, job("second")]))
    assert again.startswith(out)
    gone = edited(again, lambda c: replace(c, jobs=c.jobs[1:]))
    assert gone.startswith(EXAMPLE_CONFIG) and '"first"' not in gone and '"second"' in gone


INLINE = """\
# jobs kept inline
jobs = [
  { name = "a", command = "echo a", schedule = "@daily" },  # the a job
  { name = "b", command = "echo b", schedule = "@hourly" },
]
"""


def test_inline_jobs_stay_inline() -> None:
    out = edited(INLINE, lambda c: replace(c, jobs=[*c.jobs, job("c")]))
    assert "[[jobs]]" not in out
    assert '  { name = "c", command = "true", schedule = "@daily" },\n]' in out
    assert "# the a job" in out
    out = edited(INLINE, lambda c: replace(c, jobs=c.jobs[1:]))
    assert '"a"' not in out and '{ name = "b"' in out and "# jobs kept inline" in out

    def change(c):
        c.job("b").schedule = "@weekly"
        return c

    assert edited(INLINE, change) == INLINE.replace("@hourly", "@weekly")


def test_unicode_is_kept_as_written() -> None:
    text = ('# Zürich 🚀\n[[jobs]]\nname = "groesse"\ncommand = "echo «hé»"\n'
            'schedule = "@daily"\nprompt = "Grüße, 世界"\n')

    def change(c):
        c.jobs[0].prompt = "Grüße, 世界 — ✓"
        return c

    out = edited(text, change)
    assert out == text.replace('"Grüße, 世界"', '"Grüße, 世界 — ✓"')


def test_a_file_with_jobs_first_and_no_tables_before_them() -> None:
    text = ('# top\n\n# about a\n[[jobs]]\nname = "a"\ncommand = "true"\nschedule = "@daily"\n'
            '\n# about b, set apart\n\n[[jobs]]\nname = "b"\ncommand = "true"\n'
            'schedule = "@daily"\n')
    out = edited(text, lambda c: replace(c, jobs=c.jobs[1:]))
    assert out == ('# top\n\n\n# about b, set apart\n\n[[jobs]]\nname = "b"\n'
                   'command = "true"\nschedule = "@daily"\n')


# --- saving: the file on disk -------------------------------------------------------------


def test_save_config_edits_the_file_in_place_and_keeps_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(COMMENTED)
    cfg = load_config(path)
    cfg.job("disk").schedule = "@hourly"
    backup = save_config(cfg)
    assert backup is not None and backup.read_text() == COMMENTED
    assert path.read_text() == COMMENTED.replace('"*/15 * * * *"', '"@hourly"')


def test_a_save_never_overwrites_an_edit_made_on_disk_since_it_was_read(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(COMMENTED)
    read = load_config(path)
    theirs = COMMENTED.replace('"*/15 * * * *"', '"61 * * * *"')  # invalid, as it happens
    path.write_text(theirs)
    mine = replace(read, jobs=[*read.jobs, job("new")])
    with pytest.raises(FileChanged) as caught:
        save_config(mine, base=read)
    assert path.read_text() == theirs  # untouched
    diff = caught.value.diff()
    assert '-schedule = "*/15 * * * *"' in diff and '+schedule = "61 * * * *"' in diff
    with pytest.raises(ConfigError):  # keeping both: their edit does not load
        plan_save(mine, base=read, onto=theirs)
    planned = plan_save(mine, base=read, onto=read.source)  # keeping mine
    assert planned.write() == tmp_path / "crondeck.toml.bak"
    assert path.with_name("crondeck.toml.bak").read_text() == theirs
    assert path.read_text() == COMMENTED + '\n[[jobs]]\nname = "new"\ncommand = "true"\n' \
                                           'schedule = "@daily"\n'


def test_keeping_both_makes_my_change_to_their_version(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(COMMENTED)
    read = load_config(path)
    theirs = COMMENTED.replace("# The first job", "# Their comment\n# The first job")
    path.write_text(theirs)
    mine = copy.deepcopy(read)
    mine.job("inbox").schedule = "@hourly"
    planned = plan_save(mine, base=read, onto=theirs)
    assert planned.text == theirs.replace('"0 9 * * 1-5"', '"@hourly"')
    assert planned.config == mine and planned.config.source == planned.text


def test_a_removed_file_is_a_change_on_disk_too(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(COMMENTED)
    read = load_config(path)
    path.unlink()
    with pytest.raises(FileChanged) as caught:
        save_config(read, base=read)
    assert caught.value.disk is None and "was removed since crondeck read it" in str(caught.value)


def test_a_config_built_in_code_is_saved_over_the_valid_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(COMMENTED)
    built = replace(load_config(path), source=None)
    built.jobs = built.jobs[:1]
    save_config(built)
    assert "# My jobs. Keep this comment." in path.read_text()
    assert [j["name"] for j in tomllib.loads(path.read_text())["jobs"]] == ["disk"]


def test_a_new_file_gets_jobs_tables(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    cfg = parse_config("", path)
    cfg.jobs = [job("a"), job("b")]
    assert save_config(cfg) is None  # nothing to back up
    assert path.read_text().count("[[jobs]]") == 2
    assert load_config(path) == cfg


@pytest.mark.slow
def test_a_big_file_is_edited_around_the_jobs_that_change_as_the_whole_file_would_be() -> None:
    from crondeck.core.jobs_file import _doc, _render

    env = '[jobs.env]\nA = "1"\n'
    text = '# many jobs\n[defaults]\ntimeout = "5m"\n\n' + "".join(
        f'# job {i}\n[[jobs]]\nname = "j{i}"\ncommand = "true"  # {i}\n'
        f'schedule = "*/5 * * * *"\n{env if i % 7 == 0 else ""}\n'
        for i in range(300))

    def rename(c):
        c.jobs[150].name = "renamed"
        return c

    def change_two(c):
        c.jobs[10].schedule = "@hourly"
        c.jobs[11].policy.timeout = None
        c.jobs[200].env = {"A": "2"}
        return c

    for change in (lambda c: replace(c, jobs=c.jobs[1:]),
                   lambda c: replace(c, jobs=c.jobs[:-1]),
                   lambda c: replace(c, jobs=[*c.jobs, job("new")]),
                   lambda c: replace(c, jobs=[*c.jobs[:100], *c.jobs[101:]]),
                   lambda c: replace(c, jobs=[job("first"), *c.jobs]),
                   rename, change_two):
        old = parse_config(text)
        new = change(copy.deepcopy(old))
        windowed = edit_jobs_text(text, old, new)
        assert windowed == _render(text, _doc(old), _doc(new))
        assert parse_config(windowed) == new


def test_deleting_the_last_job_leaves_the_file_as_if_it_had_never_been_there() -> None:
    top = '# top\n[defaults]\ntimeout = "5m"   # per run\n'
    one = edited(top, lambda c: replace(c, jobs=[job("a")]))
    two = edited(one, lambda c: replace(c, jobs=[*c.jobs, job("b")]))
    assert edited(two, lambda c: replace(c, jobs=c.jobs[:1])) == one  # no blank line at the end
    assert edited(one, lambda c: replace(c, jobs=[])) == top  # nor `jobs = []` for none
    assert edited(two, lambda c: replace(c, jobs=[])) == top
    # from the file crondeck writes first, whose jobs follow only comments
    first = edited(EXAMPLE_CONFIG, lambda c: replace(c, jobs=[job("first")]))
    assert edited(first, lambda c: replace(c, jobs=[])) == EXAMPLE_CONFIG
    # comments set apart after the job stay, one blank line above them as before
    ended = two + "\n# the end\n"
    assert edited(ended, lambda c: replace(c, jobs=c.jobs[:1])) == one + "\n# the end\n"
