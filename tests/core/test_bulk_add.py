"""Adding many jobs takes shortcuts (a new job's blank state reported as its next fire
alone, shared first-fire timestamps): what a sink, the state file and the scheduler end up
with is what the one-job-at-a-time path gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from crondeck.core import FakeClock, JobState, Scheduler, every
from crondeck.core.persist import StoreSink
from crondeck.core.store import StateStore

T0 = datetime(2025, 3, 1, 9, 0, 30, tzinfo=UTC)


class FullSink:
    """A sink without `job_waits`: every change comes as a JobState."""

    def __init__(self) -> None:
        self.states: dict[str, JobState] = {}

    def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
        pass

    def result_recorded(self, result: object) -> None:
        pass

    def job_changed(self, state: JobState) -> None:
        self.states[state.name] = state


def _add_all(s: Scheduler) -> None:
    s.add_job(["true"], None, "*/5 * * * *", name="cron", tz="UTC")
    s.add_job(["true"], None, "*/5 * * * *", name="cron-2", tz="UTC")
    s.add_job(["true"], None, "0 9 * * *", name="berlin", tz="Europe/Berlin")
    s.add_job(["true"], None, every(minutes=7), name="every")
    s.add_job(["true"], None, "*/5 * * * *", name="paused", tz="UTC", paused=True,
              pause_note="why")
    s.add_job(["true"], None, "*/5 * * * *", name="now", tz="UTC", start_immediately=True)
    s.add_job(["true"], None, "*/5 * * * *", name="ended", tz="UTC",
              until=T0 - timedelta(days=1))
    s.add_job(["true"], None, "*/5 * * * *", name="off", tz="UTC").enabled = False


def test_a_store_told_of_waiting_jobs_holds_the_states_a_full_sink_is_given(
        tmp_path: Path) -> None:
    full = FullSink()
    _add_all(Scheduler(FakeClock(T0), state_sink=full))
    store = StateStore(tmp_path / "state.toml")
    s = Scheduler(FakeClock(T0), state_sink=StoreSink(store))
    _add_all(s)
    assert dict(store.jobs) == full.states
    assert {name: j.state() for name, j in s.jobs.items()} == full.states
    assert set(store.jobs.waiting) == {"cron", "cron-2", "berlin", "every", "now"}
    store.flush()
    assert dict(StateStore(tmp_path / "state.toml").load().jobs) == full.states


def test_jobs_sharing_a_first_fire_are_due_in_the_order_they_were_added() -> None:
    s = Scheduler(FakeClock(T0))
    names = [f"j{i}" for i in range(20)]
    for i, name in enumerate(names):
        s.add_job(["true"], None, "*/5 * * * *" if i % 2 else "*/10 * * * *", name=name,
                  tz="UTC")
    due = [name for _, _, name in sorted(s._heap)]
    assert due == names[1::2] + names[0::2]  # 09:05 first, then 09:10, each in added order
    five, ten = (datetime(2025, 3, 1, 9, m, tzinfo=UTC) for m in (5, 10))
    assert [s.jobs[n].next_fire for n in due] == [five] * 10 + [ten] * 10


def _program(s: Scheduler) -> None:
    """Jobs added (and a few changed while still being added) as a big file's are."""
    for i in range(40):
        s.add_job(["true"], None, ("*/5 * * * *", "0 9 * * *", "*/2 * * * *")[i % 3],
                  name=f"j{i:02d}", tz=("UTC", "Europe/Berlin")[i % 2])
    _add_all(s)
    s.jobs["j03"].enabled = False
    s.pause_job("j04", note="later")
    s.remove_job("j05")
    s.add_job(["true"], None, "@hourly", name="j05", tz="UTC")
    s.jobs["j06"].enabled = False
    s.jobs["j06"].enabled = True
    s.skip_next("j07")


def _record(tmp_path: Path, bulk: bool) -> tuple[object, ...]:
    store = StateStore(tmp_path / f"{bulk}.toml")
    s = Scheduler(FakeClock(T0), state_sink=StoreSink(store))
    events: list[object] = []
    s.add_listener(lambda e: events.append((type(e).__name__, getattr(e, "job", None),
                                            getattr(e, "next_fire", None))))
    if bulk:
        with s._adding():
            _program(s)
    else:
        _program(s)
    due = [(when, job.name) for when, job in s.upcoming(limit=100)]
    states = {name: j.state() for name, j in s.jobs.items()}
    store.flush()
    return dict(store.jobs), states, due, events, store.path.read_text().split("\n", 5)[5]


def test_jobs_added_in_bulk_end_as_jobs_added_one_by_one(tmp_path: Path) -> None:
    one, bulk = _record(tmp_path, False), _record(tmp_path, True)
    assert bulk == one
    stored, states = one[0], one[1]
    assert stored == states and len(states) == 48
    assert stored["j04"].paused and stored["j03"].disabled and stored["j07"].skip_next
