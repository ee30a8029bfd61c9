"""The state file's fast reader reads every document it accepts exactly as tomllib does, and
leaves everything else to tomllib (returns None); its fast writer writes every document it
accepts exactly as tomli-w does, and leaves everything else to tomli-w."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta

import pytest
import tomli_w

from crondeck.core import GateResult, JobState, RunResult, RunStatus, SkipReason, StateStore
from crondeck.core.atomic import to_toml_value
from crondeck.core.state_toml import dumps, loads
from crondeck.core.store import _claim_toml, job_state_to_toml, result_to_toml

AT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ODD = "tab\tquote\" back\\slash nl\n cr\r bell\x07 del\x7f é ü 中文 😀 \u2028 [x] = y # z"


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
    fast = loads(text)
    assert fast is not None
    assert fast == tomllib.loads(text)
    assert StateStore(tmp_path / "state.toml").load().jobs["with space"].results


def test_a_claims_file_reads_as_tomllib_reads_it():
    text = _claim_toml("a@1", "a", AT, "1-abc") + _claim_toml("b b@1", "b b", AT, "1-abc")
    assert loads(text) == tomllib.loads(text) != {}


@pytest.mark.parametrize("text", [
    'a = "x"\nb = 1\nc = -2\nd = true\ne = false\nf = 1.5\ng = -0.25e-3\nh = []\n',
    "t = 2026-03-01 08:00:00+00:00\nu = 2026-03-01T08:00:00.5Z\nv = 2026-03-01 08:00:00-05:30\n",
    'names = [\n    "a",\n    "b\\"c",\n]\nnums = [\n    1,\n    -2,\n]\none = ["a", "b\\tc"]\n',
    'tab = "a\tb"\nescapes = "\\\\slash \\\\u0041 \\u0041 \\"q\\""\n',
    '[a]\nx = 1\n\n[[a.b]]\ny = 1\n\n[a.b.c]\nz = 1\n\n[[a.b]]\ny = 2\n',
    '["quoted key"."and more"]\n"k e y" = "\\u00e9\\b\\f"\n',
])
def test_each_form_reads_as_tomllib_reads_it(text):
    assert loads(text) == tomllib.loads(text)


@pytest.mark.parametrize("text", [
    "a = 1 # a comment\n",  # comments, and every form not in the subset: tomllib's
    "a = 'literal'\n",
    'a = """multi\nline"""\n',
    "a = {b = 1}\n",
    "a.b = 1\n",
    "a = 2026-03-01 08:00:00\n",  # a local date-time
    "a = 2026-03-01T08:00:00.1234567Z\n",
    "a = 1_000\n",
    "a = 0x1f\n",
    "a = 01\n",
    "a = 12345678901234567890\n",
    "a = inf\n",
    'a = "\\/"\n',
    'a = "\\U0001F600"\n',
    'a = "\\ud800"\n',
    "a = [1, 2]\n",
    "a = [\n    [1],\n]\n",
    "a = [\n    1,\n",
    "[ a ]\nx = 1\n",
    "a = 1\r\n",
    " a = 1\n",
    "a = 1 \n",
    # what tomllib refuses is refused here too, by tomllib
    "a = 1\na = 2\n",
    "[a]\n[a]\n",
    "a = 1\n[a]\n",
    "[a]\nx = 1\n[[a]]\n",
    "a = []\n[[a]]\n",
    "a = 2026-13-01 08:00:00Z\n",
    "[a.]\n",
    'a = "\x01"\n',
])
def test_anything_else_is_left_to_tomllib(text):
    assert loads(text) is None


def test_a_date_time_keeps_its_offset():
    doc = loads("a = 2026-03-01 08:00:00+02:00\nb = 2026-03-01 08:00:00Z\n")
    assert doc is not None
    assert doc["a"].utcoffset() == timedelta(hours=2)
    assert doc["b"].tzinfo == UTC


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
        assert loads(text) == tomllib.loads(text)
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
    {"d": __import__("decimal").Decimal("1.5")},
])
def test_anything_else_is_left_to_tomli_w(doc):
    assert dumps(doc) is None


def test_a_store_writes_its_state_without_tomli_w(tmp_path, monkeypatch):
    def refused(*_args, **_kwargs):
        raise AssertionError("tomli-w called for a form the fast writer writes")

    monkeypatch.setattr(tomli_w, "dumps", refused)
    text = _state_text(tmp_path, ["plain", "with space", "ünï"])
    assert loads(text) == tomllib.loads(text)
    store = StateStore(tmp_path / "state.toml").load()
    assert store.jobs["with space"].results == _results("with space")
