"""The fast TOML reader reads every document it accepts exactly as tomllib does (plain jobs
files, the state files crondeck writes, and whatever mixes their forms), and leaves
everything else to tomllib (returns None); its fast writer writes every document it accepts
exactly as tomli-w does, and leaves everything else to tomli-w."""

from __future__ import annotations

import math
import tomllib
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

import crondeck.core.toml_fast as toml_fast
from crondeck.core import GateResult, JobState, RunResult, RunStatus, SkipReason, StateStore
from crondeck.core.atomic import to_toml_value
from crondeck.core.store import _claim_toml, job_state_to_toml, result_to_toml
from crondeck.core.toml_fast import dumps, loads

AT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ODD = "tab\tquote\" back\\slash nl\n cr\r bell\x07 del\x7f é ü 中文 😀 \u2028 [x] = y # z"


def exact(value: Any) -> Any:
    """`value` with every scalar tagged by its type: True == 1, 0.0 == -0.0 and two
    date-times at one instant in different offsets are all told apart."""
    if isinstance(value, dict):
        assert all(type(k) is str for k in value)
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact(v) for v in value]
    if isinstance(value, datetime | date | time):
        return (type(value).__name__, value.isoformat(), str(value.utcoffset())
                if isinstance(value, datetime) else None)
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    return (type(value).__name__, value)


def reads_as_tomllib(text: str) -> bool:
    """Whether the fast reader took `text` (and then read it as tomllib does)."""
    ours = loads(text)
    if ours is None:
        return False
    assert exact(ours) == exact(tomllib.loads(text))  # and tomllib does not refuse it
    return True


# --- reading ------------------------------------------------------------------------------

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


def test_a_plain_jobs_file_reads_as_tomllib_reads_it():
    assert reads_as_tomllib(PLAIN)


def test_equal_strings_are_one_object():
    doc = loads('[[jobs]]\nschedule = "0 3 * * *"\n[[jobs]]\nschedule = "0 3 * * *"\n')
    assert doc is not None
    a, b = doc["jobs"]
    assert a["schedule"] is b["schedule"]
    assert next(iter(a)) is next(iter(b))


def _results(job: str) -> tuple[RunResult, ...]:
    return (
        RunResult(run_id=f"{job}@1", job=job, scheduled_for=AT, status=RunStatus.OK,
                  started_at=AT + timedelta(microseconds=123456),
                  finished_at=AT + timedelta(seconds=2), exit_code=0, output_tail="ok\n"),
        RunResult(run_id=f"{job}@2", job=job, scheduled_for=AT, status=RunStatus.FAILED,
                  started_at=AT, finished_at=AT, exit_code=-9, output_tail=ODD, error=ODD,
                  attempt=3, output_bytes=10**12, truncated=True, cost=0.000125,
                  contract={"a": [1, None, "x"], "b": {"c": True}},
                  extra={"will_retry": True, "usage": {"prompt_tokens": 5}}),
        RunResult(run_id=f"{job}@3", job=job, scheduled_for=AT, status=RunStatus.SKIPPED,
                  finished_at=AT, skip_reason=SkipReason.GATE,
                  gate=GateResult(run=False, exit_code=1, reason="quiet", context=ODD)),
        RunResult(run_id=f"{job}@4", job=job, scheduled_for=AT, status=RunStatus.OK,
                  started_at=AT, finished_at=AT, cost=1e-07, manual=True),
    )


def _state_text(tmp_path, names: list[str]) -> str:
    store = StateStore(tmp_path / "state.toml")
    for i, name in enumerate(names):
        store.put(JobState(
            name=name, paused=bool(i % 2), pause_note=ODD if i % 2 else "",
            pause_until=AT if i % 2 else None, next_fire=AT + timedelta(minutes=i),
            last_slot=AT, run_count=i, consecutive_failures=i, running=(f"{name}@9",) * i,
            results=_results(name), tokens_day="2026-03-01", tokens_today=7 * i,
            tokens_total=10**15, cost_today=0.5, cost_total=123.456789))
    store.put(JobState(name="waits", next_fire=AT))
    store.put(JobState(name="waits too", next_fire=AT))
    store.flush()
    return (tmp_path / "state.toml").read_text()


def test_a_state_file_reads_as_tomllib_reads_it(tmp_path):
    text = _state_text(tmp_path, ["plain", "with space", "dotted.name", 'q"uote', "ünï"])
    assert reads_as_tomllib(text)
    assert StateStore(tmp_path / "state.toml").load().jobs["with space"].results


def test_a_claims_file_reads_as_tomllib_reads_it():
    text = _claim_toml("a@1", "a", AT, "1-abc") + _claim_toml("b b@1", "b b", AT, "1-abc")
    assert reads_as_tomllib(text)
    assert loads(text) != {}


@pytest.mark.parametrize("text", [
    'a = "x"\nb = 1\nc = -2\nd = true\ne = false\nf = 1.5\ng = -0.25e-3\nh = []\n',
    "t = 2026-03-01 08:00:00+00:00\nu = 2026-03-01T08:00:00.5Z\nv = 2026-03-01 08:00:00-05:30\n",
    'names = [\n    "a",\n    "b\\"c",\n]\nnums = [\n    1,\n    -2,\n]\none = ["a", "b\\tc"]\n',
    'tab = "a\tb"\nescapes = "\\\\slash \\\\u0041 \\u0041 \\"q\\""\n',
    '[a]\nx = 1\n\n[[a.b]]\ny = 1\n\n[a.b.c]\nz = 1\n\n[[a.b]]\ny = 2\n',
    '["quoted key"."and more"]\n"k e y" = "\\u00e9\\b\\f"\n',
    # the plain forms and the state's forms, each where the other's were expected
    'a = "x\\ty"',
    "a = 1.5",
    '"quoted" = 1',
    'a = [\n  "x",\n]',
    "[[t]]\n[t.u]",
    "[[t.u]]",
    "a = 1 # a comment\n",
    "a = 'literal'\n",
    "[ a ]\nx = 1\n",
    " a = 1\n",
    "a = 1 \n",
    '[ "a b" . c ]  # c\n  "k" = [ \'x\' , "y\\n" , ]\n'
    "m = [  # items\n\n  'l',\n  # one more\n  2 ,\n  ]  # end\n",
    "d = 2026-03-01T08:00:00Z # when\nf = 0e0\ng = -0.0\n",
])
def test_each_form_reads_as_tomllib_reads_it(text):
    assert reads_as_tomllib(text)


@pytest.mark.parametrize("text", [
    'a = 1979-05-27',  # a local date
    "a = 2026-03-01 08:00:00\n",  # a local date-time
    "a = 2026-03-01T08:00:00.1234567Z\n",
    'a = 1_000',
    'a = 0x1f',
    'a = 01',
    'a = 1234567890123456789012',
    "a = 12345678901234567890\n",
    "a = inf\n",
    'a = { b = 1 }',
    'a.b = 1',
    'a = [1, 2]',
    "a = [\n    [1],\n]\n",
    'a = """x"""',
    'a = """multi\nline"""\n',
    'a = "\\/"\n',
    'a = "\\U0001F600"\n',
    'a = "\\ud800"\n',
    "a = [\n    1,\n",
    '[t.u]\n[t]\nx = 1',  # valid TOML, but left to tomllib
    # what tomllib refuses is refused here too, by tomllib
    'a = 1\na = 2',
    '[t]\n[t]',
    'a = 1\n[a]',
    'a = ["x"]\n[[a]]',
    "[a]\nx = 1\n[[a]]\n",
    "a = []\n[[a]]\n",
    "a = 2026-13-01 08:00:00Z\n",
    "[a.]\n",
    '[t]]',
    '[[t]',
    'a = "x"\r\n',
    "a = 1\r\n",
    'a = "x" junk',
    '# bad \x01 comment',
    'a = "\x7f"',
    'a = "\x01"\n',
    '\ufeffa = 1',
])
def test_anything_else_is_left_to_tomllib(text):
    assert loads(text) is None


def test_a_date_time_keeps_its_offset():
    doc = loads("a = 2026-03-01 08:00:00+02:00\nb = 2026-03-01 08:00:00Z\n")
    assert doc is not None
    assert doc["a"].utcoffset() == timedelta(hours=2)
    assert doc["b"].tzinfo == UTC


_piece = st.sampled_from([
    # lines of plain jobs files
    "", "# c", "  # c", "[t]", "[ t . u ]", "[u]", "[t.v]", "[[j]]", "[[ j ]]", "[[t]]",
    "[j]", "[j.x]", "a = 1", "a = +0", "b = -12", "c = true", "d = false", 'e = "x y"',
    "f = 'lit # x'", 'g = ""', 'h = ["a", \'b\',]', "i = []", 'k = "é"', "a = 2 # c",
    'name = "n"', "x=1", "\ta\t=\t'v'\t", 'a = "x', "a = tru", "[t", "a = [", "= 1",
    "t = 1", "j = 1", "u = 'x'",
    # lines of the state files
    '"a b" = 1', '"a.b" = "x"', '"\\u00e9" = true', '["q k"]', '[t."u v"]', "[[j.r]]",
    "[j.r.s]", "[[t.u.v]]", 'e = "tab\\tq\\"\\\\ \\u0041 \\b\\f\\n\\r"', 'e = "\\e"',
    'e = "\\ud83d"', 'e = "\\x"', "f = 1.5", "f = -0.0", "f = 1e3", "f = 2.5E-3",
    "f = 1.", "f = .5", "f = 1e", "n = 9223372036854775807", "n = 123456789012345678",
    "n = 0.1_0", "d = 2026-03-01 08:00:00Z", "d = 2026-03-01T08:00:00.123456+05:30",
    "d = 2026-02-30 08:00:00Z", "d = 2026-03-01 24:00:00Z", "d = 2026-03-01 08:00:60Z",
    "d = 2026-03-01 08:00:00+24:00", "d = 2026-03-01 08:00:00-23:59",
    "d = 2026-03-01 08:00:00+05:60", "d = 2026-03-01", 'o = ["a", "b\\n"]',
    'o = ["\\/"]', "m = [\n    1,\n    -2,\n]", 'm = [\n    "a",\n    \'b\', # c\n\n]',
    "m = [ # c\n  1,\n  ] # c", 'm = [\n  "x"\n]', "m = [\n  [1],\n]", "m = [\n", "]",
    "    1,", '  "x",', "a = [1]",
])


_header = st.sampled_from([
    "[t]", "[ t . u ]", '["q k"]', '[t."u v"]', '[ "t" ]', "[[j]]", "[[ j ]]", "[[j.r]]",
    "[j.r.s]", "[[t.u.v]]", "[a.b.c]", "[a]  # c", "[[a.b]]", "[j.'r']",
])
_key_text = st.sampled_from([
    "a", "b", "name", "x-y", "1", '"a b"', '"a.b"', '"\\u00e9"', '"a"', '""', "'lit'",
    '"\\t"',
])
_value_text = st.sampled_from([
    '"x y"', '"0 3 * * *"', '""', "'lit # x'", "''", '"é\\u00e9\\"\\\\"', "0", "-12",
    "+7", "9223372036854775807", "true", "false", "1.5", "-0.0", "6e-3",
    "2026-03-01 08:00:00Z", "2026-03-01T23:59:59.999999-05:30", "2024-02-29 08:00:00+00:00",
    "[]", "[ ]", '["a", \'b\',]', '[ "a\\n" ]', "[\n  1,\n  -2,\n]",
    '[ # c\n  "a",\n\n  \'b\' ,  # d\n  # e\n  ]',
])
_bad_value_text = st.sampled_from([  # each a form tomllib refuses, or leaves to tomllib
    '"\\e"', "01", "1_000", "1.", "2026-02-29 08:00:00Z", "2026-03-01 08:00:00",
    "2026-03-01", "[1, 2]", '[\n  "x"\n]', "[\n  [1],\n]", "{ a = 1 }", '"a" junk',
])
_key_value = st.builds(
    lambda key, eq, value, tail: f"{key}{eq}{value}{tail}",
    _key_text, st.sampled_from([" = ", "=", "\t=  "]),
    st.integers(0, 9).flatmap(lambda i: _bad_value_text if i == 0 else _value_text),
    st.sampled_from(["", "", " # c", "  "]),
)
_key_values = st.lists(_key_value, max_size=4, unique_by=lambda kv: kv.partition("=")[0])
_section = st.builds(lambda header, lines: [header, *lines], _header, _key_values)
_document = st.one_of(
    st.lists(_piece, max_size=14).map("\n".join),  # any mix of lines
    st.builds(lambda top, sections: "\n".join(top + [x for s in sections for x in s]),
              _key_values, st.lists(_section, max_size=5, unique_by=lambda s: s[0])),
)


@pytest.mark.slow
@settings(max_examples=800, deadline=None)
@given(_document)
def test_whatever_it_accepts_is_what_tomllib_reads(text):
    reads_as_tomllib(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(_piece, max_size=12), st.integers(min_value=1, max_value=30))
def test_a_file_read_a_chunk_at_a_time_reads_the_same(lines, chunk):
    text = "\n".join(lines)
    whole = loads(text)
    saved = toml_fast.CHUNK
    toml_fast.CHUNK = chunk  # lines split at every place a big file could split them
    try:
        assert loads(text) == whole
        assert [line for line in toml_fast._lines(text) if line] == [
            line for line in text.split("\n") if line]
    finally:
        toml_fast.CHUNK = saved


# --- writing ------------------------------------------------------------------------------

def _state(name: str, i: int) -> JobState:
    return JobState(
        name=name, paused=bool(i % 2), pause_note=ODD if i % 2 else "",
        pause_until=AT if i % 2 else None, next_fire=AT + timedelta(minutes=i),
        last_slot=AT, run_count=i, consecutive_failures=i, running=(f"{name}@9",) * i,
        results=_results(name) * (i + 1), tokens_day="2026-03-01", tokens_total=10**15,
        cost_total=123.456789)


@pytest.mark.parametrize("name", ["plain", "with space", "dotted.name", 'q"uote', "ünï", ODD])
def test_a_job_state_is_written_as_tomli_w_writes_it(name):
    for i in range(3):
        doc = to_toml_value({"jobs": {name: job_state_to_toml(_state(name, i))}})
        text = dumps(doc)
        assert text == tomli_w.dumps(doc)
        assert reads_as_tomllib(text)
    doc = to_toml_value({"results": [result_to_toml(r) for r in _results(name)]})
    assert dumps(doc) == tomli_w.dumps(doc)


def test_a_state_file_is_written_as_tomli_w_writes_it(tmp_path):
    """The whole file a store writes: its head, every job's tables, the `next_fires` table."""
    text = _state_text(tmp_path, ["plain", "with space", "ünï"])
    head, _, rest = text.partition("\n[jobs.")
    doc = tomllib.loads(text)
    assert dumps({k: v for k, v in doc.items() if not isinstance(v, dict)}) == head
    jobs = tomllib.loads(f"[jobs.{rest}".partition("\n[next_fires]")[0])
    assert dumps(jobs) == tomli_w.dumps(jobs)


@pytest.mark.parametrize("doc", [
    {"a": 1.5, "b": [1, [2, "x"], 3.0], "c": {}, "d": {"e": {"f": "g"}}, "": True,
     "h": [{"k": "v" * 100}, {"k": 1}], "t": {"u": []}, "day": AT.date()},
    {"x": "\x00\x1f\x7f\u2028\t"},
    {"n": [], "m": [[]], "z": -0.0, "big": 10**30},
])
def test_each_form_is_written_as_tomli_w_writes_it(doc):
    assert dumps(doc) == tomli_w.dumps(doc)


@pytest.mark.parametrize("doc", [
    {"short": [{"a": 1}, {"b": 2}]},  # tomli-w writes these inline
    {"a": [1, {"inline": "table"}]},
    {"t": AT.timetz().replace(tzinfo=None)},
    {"none": None},
    {1: "not a string key"},
    {"d": Decimal("1.5")},
])
def test_anything_else_is_left_to_tomli_w(doc):
    assert dumps(doc) is None


_key = st.one_of(st.sampled_from(["a", "run_id", "with space", "dotted.name", 'q"', ""]),
                 st.text(max_size=6))
_written = st.one_of(
    st.text(max_size=12), st.sampled_from([ODD, "x" * 120]),
    st.integers(), st.booleans(), st.floats(), st.dates(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])),
)
_odd = st.one_of(st.datetimes(), st.times(), st.none(), st.decimals(places=2))
# One value in twenty of a form the fast writer leaves to tomli-w (or tomli-w refuses).
_scalar = st.integers(0, 19).flatmap(lambda i: _odd if i == 0 else _written)
_array = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
_table = st.recursive(
    st.dictionaries(_key, _array, max_size=4),
    lambda inner: st.dictionaries(_key, st.one_of(  # tables and arrays of tables in tables
        _array, inner, st.lists(inner, min_size=1, max_size=2)), max_size=4),
    max_leaves=6,
)
_inline = st.builds(  # an inline table in an array: tomli-w's alone
    lambda doc, key, item: {**doc, key: [item, {"k": item}]}, _table, _key, _scalar)
_doc = st.integers(0, 4).flatmap(lambda i: _inline if i == 0 else _table)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(_doc)
def test_whatever_it_writes_is_what_tomli_w_writes(doc):
    ours = dumps(doc)
    try:
        theirs = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        assert ours is None  # what tomli-w refuses, tomli-w refuses (and says why)
        return
    if ours is not None:
        assert ours == theirs
        assert exact(loads(ours) or tomllib.loads(ours)) == exact(tomllib.loads(theirs))


def test_a_store_writes_its_state_without_tomli_w(tmp_path, monkeypatch):
    def refused(*_args, **_kwargs):
        raise AssertionError("tomli-w called for a form the fast writer writes")

    monkeypatch.setattr(tomli_w, "dumps", refused)
    text = _state_text(tmp_path, ["plain", "with space", "ünï"])
    assert reads_as_tomllib(text)
    store = StateStore(tmp_path / "state.toml").load()
    assert store.jobs["with space"].results == _results("with space")
