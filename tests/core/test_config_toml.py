"""The fast reader of plain jobs files reads what it accepts exactly as tomllib does, and
hands everything else to tomllib (None)."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crondeck.core.config_toml import loads

PLAIN = """\
# a jobs file
[defaults]
timezone = "Europe/Berlin"   # the office
retries = 2

[scheduler]
max_concurrent_runs = 8

[agents.digest]
command = ["python", "digest.py", '--all', ""]
prompt_via = 'arg'

[[jobs]]
name = "a"
schedule = "*/5 * * * *"
command = "echo 'a # not a comment'"
enabled = false

[[jobs]]
  name = "b"
schedule = "@every 1h"
agent = "digest"
max_runs = -0
"""


def test_a_plain_file_reads_as_tomllib_reads_it():
    assert loads(PLAIN) == tomllib.loads(PLAIN)


def test_equal_strings_are_one_object():
    doc = loads('[[jobs]]\nschedule = "0 3 * * *"\n[[jobs]]\nschedule = "0 3 * * *"\n')
    assert doc is not None
    a, b = doc["jobs"]
    assert a["schedule"] is b["schedule"]
    assert next(iter(a)) is next(iter(b))


@pytest.mark.parametrize("text", [
    'a = "x\\ty"',  # an escape
    'a = 1.5',
    'a = 1979-05-27',
    'a = 1_000',
    'a = 0x1f',
    'a = 01',
    'a = 1234567890123456789012',
    'a = { b = 1 }',
    '"quoted" = 1',
    'a.b = 1',
    'a = [\n  "x",\n]',
    'a = [1, 2]',
    'a = """x"""',
    'a = 1\na = 2',  # a key given twice: tomllib's error
    '[t]\n[t]',  # a table defined twice
    '[t.u]\n[t]\nx = 1',  # valid TOML, but left to tomllib
    'a = 1\n[a]',
    'a = ["x"]\n[[a]]',
    '[[t]]\n[t.u]',
    '[[t.u]]',
    '[t]]',
    '[[t]',
    'a = "x"\r\n',
    'a = "x" junk',
    '# bad \x01 comment',
    'a = "\x7f"',
    '\ufeffa = 1',
])
def test_anything_else_is_left_to_tomllib(text):
    assert loads(text) is None


_piece = st.sampled_from([
    "", "# c", "  # c", "[t]", "[ t . u ]", "[u]", "[t.v]", "[[j]]", "[[ j ]]", "[[t]]",
    "[j]", "[j.x]", "a = 1", "a = +0", "b = -12", "c = true", "d = false", 'e = "x y"',
    "f = 'lit # x'", 'g = ""', 'h = ["a", \'b\',]', "i = []", 'k = "é"', "a = 2 # c",
    'name = "n"', "x=1", "\ta\t=\t'v'\t", 'a = "x', "a = tru", "[t", "a = [", "= 1",
    "t = 1", "j = 1", "u = 'x'",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_piece, max_size=12))
def test_whatever_it_accepts_is_what_tomllib_reads(lines):
    text = "\n".join(lines)
    ours = loads(text)
    if ours is None:
        return
    assert ours == tomllib.loads(text)  # and tomllib does not refuse it


@settings(max_examples=200, deadline=None)
@given(st.lists(_piece, max_size=12), st.integers(min_value=1, max_value=30))
def test_a_file_read_a_chunk_at_a_time_reads_the_same(lines, chunk):
    import crondeck.core.config_toml as config_toml

    text = "\n".join(lines)
    whole = loads(text)
    saved = config_toml.CHUNK
    config_toml.CHUNK = chunk  # lines split at every place a big file could split them
    try:
        assert loads(text) == whole
        assert [line for line in config_toml._lines(text) if line] == [
            line for line in text.split("\n") if line]
    finally:
        config_toml.CHUNK = saved
