"""Jobs whose state holds only their next fire are saved grouped by that instant, and load
back exactly as the per-job tables they replace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import tomli_w

from crondeck.core.atomic import read_toml
from crondeck.core.jobs import JobState
from crondeck.core.store import StateStore

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def test_waiting_jobs_are_grouped_by_next_fire_and_load_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "state.toml"
    store = StateStore(path)
    waiting = [JobState(name=f"j{i}", next_fire=T0 + timedelta(hours=i % 3)) for i in range(9)]
    paused = JobState(name="p", paused=True, pause_note="why", next_fire=T0)
    blank = JobState(name="nothing")
    for st in [*waiting, paused, blank, JobState(name='odd "name"\x7f', next_fire=T0)]:
        store.put(st)
    store.flush()
    doc = read_toml(path)
    assert set(doc["jobs"]) == {"p", "nothing"}  # the jobs carrying more than a next fire
    assert doc["next_fires"][T0.isoformat()] == ["j0", "j3", "j6", 'odd "name"\x7f']
    again = StateStore(path).load()
    assert again.problems == []
    assert again.jobs == store.jobs


def test_a_job_table_and_a_next_fires_entry_load_the_same_state(tmp_path: Path) -> None:
    later = T0 + timedelta(minutes=5)
    old = tmp_path / "old.toml"
    old.write_text(tomli_w.dumps({"format": 1, "jobs": {"a": {"next_fire": later}}}))
    new = tmp_path / "new.toml"
    new.write_text(tomli_w.dumps({"format": 1, "next_fires": {later.isoformat(): ["a"]}}))
    assert StateStore(old).load().jobs == StateStore(new).load().jobs == {
        "a": JobState(name="a", next_fire=later)}


def test_a_state_change_is_saved_and_the_unchanged_jobs_are_not_rendered_again(
        tmp_path: Path) -> None:
    path = tmp_path / "state.toml"
    store = StateStore(path)
    store.put(JobState(name="a", run_count=1, next_fire=T0))
    store.put(JobState(name="b", run_count=2, next_fire=T0))
    store.flush()
    rendered = dict(store._job_text)
    store.put(JobState(name="w", next_fire=T0))
    store.flush()
    waiting = store._waiting_text
    store.put(JobState(name="b", run_count=3, next_fire=T0))
    store.flush()
    assert store._waiting_text is waiting  # no waiting job changed: the table is reused
    store.put(JobState(name="c", next_fire=T0))
    store.flush()
    assert store._job_text["a"] is rendered["a"]  # unchanged: its text reused
    assert store._job_text["b"] is not rendered["b"]
    assert read_toml(path)["next_fires"] == {T0.isoformat(): ["c", "w"]}
    again = StateStore(path).load().jobs
    assert (again["a"].run_count, again["b"].run_count, again["c"]) == (
        1, 3, JobState(name="c", next_fire=T0))
    store.remove("a")
    store.put(JobState(name="b", next_fire=T0))  # back to holding nothing but a next fire
    store.flush()
    assert set(store._job_text) == set() and set(read_toml(path).get("jobs", {})) == set()
    assert StateStore(path).load().jobs == {"b": JobState(name="b", next_fire=T0),
                                            "c": JobState(name="c", next_fire=T0),
                                            "w": JobState(name="w", next_fire=T0)}


def test_a_malformed_next_fires_table_is_moved_aside(tmp_path: Path) -> None:
    for bad in ({"next_fires": {"soon": ["a"]}}, {"next_fires": {T0.isoformat(): "a"}},
                {"next_fires": {"2025-03-01T09:00:00": ["a"]}}, {"next_fires": []}):
        path = tmp_path / "state.toml"
        path.write_text(tomli_w.dumps({"format": 1, **bad}))
        store = StateStore(path).load()
        assert store.jobs == {} and "moved it aside" in store.problems[0], bad
        assert not path.exists()


def test_a_state_holding_only_a_next_fire_is_kept_as_that_instant() -> None:
    store = StateStore(Path("unused.toml"))
    store.put(JobState(name="a", next_fire=T0))
    store.put(JobState(name="b", run_count=1, next_fire=T0))
    assert store.jobs.full.keys() == {"b"} and store.jobs.waiting == {"a": T0}
    assert store.get("a") == JobState(name="a", next_fire=T0) and "a" in store.jobs
    assert dict(store.jobs) == {"a": JobState(name="a", next_fire=T0),
                                "b": JobState(name="b", run_count=1, next_fire=T0)}
    store.put(JobState(name="a", paused=True, next_fire=T0))
    assert store.jobs.waiting == {} and store.jobs["a"].paused
    store.remove("a")
    store.remove("b")
    assert store.jobs == {} and len(store.jobs) == 0


def test_any_field_set_besides_the_next_fire_is_more_than_waiting() -> None:
    from dataclasses import fields, replace

    from crondeck.core.results import RunResult, RunStatus
    from crondeck.core.store import waits_only

    base = JobState(name="a", next_fire=T0)
    assert waits_only(base) and not waits_only(JobState(name="a"))
    result = RunResult(run_id="r", job="a", scheduled_for=T0, status=RunStatus.OK)
    values = {bool: True, str: "x", int: 1, float: 0.5, tuple: ("r",)}
    for f in fields(JobState):
        if f.name in ("name", "next_fire"):
            continue
        default = getattr(base, f.name)
        value = T0 if f.name in ("pause_until", "last_slot") else (
            (result,) if f.name == "results" else values[type(default)])
        assert not waits_only(replace(base, **{f.name: value})), f.name

