"""The jobs file brought to life: scheduler built from config, state persisted across restarts,
abandoned runs recovered, one scheduler per state directory."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crondeck.core.agents import CommandAgent, PythonAgent
from crondeck.core.clock import FakeClock
from crondeck.core.config import ConfigError, load_config, parse_config
from crondeck.core.lock import LockHeld
from crondeck.core.results import RunStatus, make_run_id
from crondeck.core.runtime import Runtime, build_scheduler, open_runtime
from crondeck.core.store import StateStore

T0 = datetime(2025, 3, 1, 9, 0, 30, tzinfo=UTC)


def _write(tmp_path: Path, body: str) -> Path:
    """A jobs file beside a fresh importable agents module (unique name per test)."""
    module = f"agents_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "def tick(prompt):\n    return 'tick: ' + prompt + '\\n'\n"
    )
    path = tmp_path / "crondeck.toml"
    path.write_text(body.replace("MODULE", module))
    return path


TICKER = """
[defaults]
timezone = "UTC"

[[jobs]]
name = "ticker"
python = "MODULE:tick"
prompt = "hello"
schedule = "* * * * *"
"""


async def _run(runtime: Runtime, clock: FakeClock, seconds: float) -> None:
    task = asyncio.create_task(runtime.scheduler.astart(stop_when_done=False))
    await clock.run_for(seconds)
    runtime.scheduler.stop()
    await asyncio.wait_for(task, 5)


def _slots(deck_or_store: Runtime | StateStore, status: RunStatus) -> list[str]:
    store = deck_or_store.store if isinstance(deck_or_store, Runtime) else deck_or_store
    return [r.scheduled_for.strftime("%H:%M") for r in store.jobs["ticker"].results
            if r.status is status]


def test_config_keys_reach_the_scheduler(tmp_path: Path) -> None:
    cfg = parse_config(
        """
[defaults]
timezone = "Europe/Berlin"
timeout = "10m"
overlap = "queue_one"
pause_after_failures = 3

[scheduler]
max_concurrent_runs = 9
history = 7

[agents.shell]
command = ["sh", "-c"]
prompt_via = "arg"
cwd = "work"
env = { A = "1" }

[[jobs]]
name = "a"
agent = "shell"
env = { B = "2" }
schedule = "0 9 * * *"
pre_run = "scripts/gate.sh"
until = 2030-01-31
retries = 2
retry_backoff = "1m"
output_tail = "2KB"
""",
        tmp_path / "crondeck.toml",
    )
    s = build_scheduler(cfg)
    assert s.max_concurrent_runs == 9
    job = s.jobs["a"]
    o = job.options
    assert (o.timeout, o.overlap, o.pause_after_failures, o.history) == (600, "queue_one", 3, 7)
    assert (o.retries, o.retry_backoff, o.output_tail, o.pre_run) == (
        2, 60, 2048, "scripts/gate.sh")
    assert o.until == datetime(2030, 1, 31, 23, tzinfo=UTC)  # through Jan 31 in Berlin
    assert str(job.schedule.tz) == "Europe/Berlin"
    assert isinstance(job.agent, CommandAgent)
    assert job.agent.cwd == tmp_path / "work" and job.agent.env == {"A": "1", "B": "2"}
    assert job.agent.prompt_via == "arg"


def test_a_python_target_that_does_not_import_names_the_job(tmp_path: Path) -> None:
    cfg = parse_config('[[jobs]]\nname = "j"\npython = "no_such_mod_x:fn"\nschedule = "@daily"\n',
                       tmp_path / "crondeck.toml")
    with pytest.raises(ConfigError) as info:
        build_scheduler(cfg)
    [p] = info.value.problems
    assert (p.job, p.key) == ("j", "python") and "no_such_mod_x" in p.message


def test_two_schedulers_on_one_config_and_a_read_only_observer(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, TICKER))
    with open_runtime(cfg) as first:
        assert isinstance(first.scheduler.jobs["ticker"].agent, PythonAgent)
        with pytest.raises(LockHeld, match=r"pid \d+"):
            open_runtime(cfg)
        with open_runtime(cfg, read_only=True) as observer:
            assert observer.read_only and observer.lock is None
    with open_runtime(cfg):
        pass  # free again after close


def test_restart_runs_the_missed_slot_exactly_once(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, TICKER))
    clock = FakeClock(T0)

    async def first() -> None:
        with open_runtime(cfg, clock=clock) as runtime:
            await _run(runtime, clock, 100)  # 09:01 and 09:02 run

    asyncio.run(first())
    assert _slots(StateStore(cfg.state_dir / "state.toml").load(), RunStatus.OK) == [
        "09:01", "09:02"]

    clock.set(T0 + timedelta(minutes=7))  # down from 09:02:10 to 09:07:30

    async def second() -> Runtime:
        with open_runtime(cfg, clock=clock) as runtime:
            await _run(runtime, clock, 1)
        return runtime

    asyncio.run(second())
    store = StateStore(cfg.state_dir / "state.toml").load()
    assert _slots(store, RunStatus.OK) == ["09:01", "09:02", "09:07"]
    assert _slots(store, RunStatus.MISSED) == ["09:03", "09:04", "09:05", "09:06"]

    asyncio.run(second())  # restarting again at the same moment fires nothing new
    again = StateStore(cfg.state_dir / "state.toml").load()
    assert again.jobs["ticker"].results == store.jobs["ticker"].results
    assert again.jobs["ticker"].run_count == 3

    log = (cfg.state_dir / "runs" / "ticker").glob("*.log")
    texts = sorted(p.read_text() for p in log)
    assert len(texts) == 3 and all("tick: hello" in t for t in texts)


def test_a_run_left_in_flight_by_a_dead_process_is_abandoned_not_rerun(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, TICKER))
    slot = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    crashed = StateStore(cfg.state_dir / "state.toml")
    crashed.claim("ticker", make_run_id("ticker", slot), slot)  # then the process died
    clock = FakeClock(T0)

    async def restart() -> Runtime:
        with open_runtime(cfg, clock=clock) as runtime:
            await _run(runtime, clock, 1)
        return runtime

    runtime = asyncio.run(restart())
    assert [r.run_id for r in runtime.abandoned] == ["ticker@2025-03-01T09:00:00Z"]
    store = StateStore(cfg.state_dir / "state.toml").load()
    st = store.jobs["ticker"]
    assert [(r.run_id, r.status) for r in st.results] == [
        ("ticker@2025-03-01T09:00:00Z", RunStatus.ABANDONED)]
    assert st.running == () and not (cfg.state_dir / "claims.toml").exists()


def test_corrupt_state_is_reported_and_the_schedule_starts_from_the_file(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, TICKER))
    cfg.state_dir.mkdir()
    (cfg.state_dir / "state.toml").write_text("jobs = {{{")
    with open_runtime(cfg, clock=FakeClock(T0)) as runtime:
        assert len(runtime.problems) == 1 and "moved it aside" in runtime.problems[0]
        assert runtime.scheduler.jobs["ticker"].next_fire == datetime(2025, 3, 1, 9, 1, tzinfo=UTC)
    assert len(list(cfg.state_dir.glob("state.toml.corrupt-*"))) == 1


def test_an_edit_on_disk_is_applied_and_an_invalid_one_keeps_the_schedule(tmp_path: Path) -> None:
    path = _write(tmp_path, TICKER + '\n[[jobs]]\nname = "old"\ncommand = "true"\n'
                  'schedule = "@hourly"\n')
    cfg = load_config(path)
    clock = FakeClock(T0)

    def edit(text: str) -> None:
        path.write_text(text)
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    async def scenario() -> None:
        with open_runtime(cfg, clock=clock) as runtime:
            await _run(runtime, clock, 40)  # ticker ran at 09:01
            assert runtime.reload_if_changed() is None  # untouched
            module = path.read_text().split('python = "')[1].split(":")[0]
            edit(TICKER.replace("MODULE", module).replace("* * * * *", "*/5 * * * *")
                 + '\n[[jobs]]\nname = "new"\ncommand = "true"\nschedule = "@daily"\n')
            result = runtime.reload_if_changed()
            assert result is not None and result.ok
            assert (result.added, result.removed, result.changed) == (["new"], ["old"],
                                                                       ["ticker"])
            assert sorted(runtime.scheduler.jobs) == ["new", "ticker"]
            ticker = runtime.scheduler.jobs["ticker"]
            assert ticker.run_count == 1  # its state came along
            assert ticker.next_fire == datetime(2025, 3, 1, 9, 5, tzinfo=UTC)

            good = path.read_text()
            edit(good.replace('schedule = "@daily"', 'schedule = "@dayly"'))
            refused = runtime.reload_if_changed()
            assert refused is not None and not refused.ok
            assert refused.problems[0].job == "new" and refused.problems[0].key == "schedule"
            assert sorted(runtime.scheduler.jobs) == ["new", "ticker"]  # kept as it was
            assert "@dayly" in path.read_text()  # and the operator's file is untouched

    asyncio.run(scenario())


THREE = """
[defaults]
timezone = "UTC"
timeout = "10m"

[agents.writer]
command = ["cat"]

[[jobs]]
name = "a"
agent = "writer"
schedule = "@hourly"

[[jobs]]
name = "b"
command = "true"
schedule = "@hourly"

[[jobs]]
name = "c"
command = "true"
schedule = "@hourly"
timeout = "1m"
"""


@pytest.mark.parametrize(("edit", "changed"), [
    (('schedule = "@hourly"\ntimeout = "1m"', 'schedule = "@daily"\ntimeout = "1m"'), ["c"]),
    (('command = ["cat"]', 'command = ["tac"]'), ["a"]),  # the agent: the jobs that use it
    (('timeout = "10m"', 'timeout = "20m"'), ["a", "b"]),  # c has its own timeout
    (('timeout = "10m"', 'timeout = "10m"\nenabled = false'), ["a", "b", "c"]),  # switched off
    (('name = "b"', 'name = "b"'), []),  # nothing
])
def test_an_edit_changes_exactly_the_jobs_it_changes_in_place(
        tmp_path: Path, edit: tuple[str, str], changed: list[str]) -> None:
    """A changed job, or one only switched off or on, is the same job changed in place (its
    run in flight goes on: nothing is replaced); the others are left alone."""
    path = tmp_path / "crondeck.toml"
    path.write_text(THREE)
    with open_runtime(load_config(path), clock=FakeClock(T0)) as runtime:
        before = dict(runtime.scheduler.jobs)
        new = parse_config(THREE.replace(*edit), path)
        switched = "enabled" in edit[1]
        assert runtime.replaced_by(new) == []
        assert sorted(runtime.changes(new).changed) == changed
        result = runtime.apply(new)
        assert result.ok and sorted(result.changed) == changed
        assert result.added == result.removed == []
        for name, job in runtime.scheduler.jobs.items():
            assert job is before[name], name
            assert job.enabled is not switched


def test_a_runtime_that_lost_its_lock_refuses_claims_and_leaves_the_state_alone(
        tmp_path: Path) -> None:
    from crondeck.core.events import LockLost
    from crondeck.core.lock import LockLostError

    config = load_config(_write(tmp_path, TICKER))
    runtime = open_runtime(config)
    events = []
    runtime.scheduler.add_listener(events.append)
    try:
        assert runtime.check_lock() == ""
        (config.state_dir / "lock").unlink()
        slot = datetime(2025, 3, 1, 9, 1, tzinfo=UTC)
        with pytest.raises(LockLostError, match="lost the lock"):
            runtime.scheduler.state_sink.run_claimed("ticker", make_run_id("ticker", slot), slot)
        assert "deleted" in runtime.lock_lost and runtime.read_only and runtime.store.read_only
        assert [e.reason for e in events if isinstance(e, LockLost)] == [runtime.lock_lost]
        before = (config.state_dir / "state.toml").read_bytes()
        runtime.store.claim("ticker", "ticker@x", slot)
        runtime.store.flush()
        assert (config.state_dir / "state.toml").read_bytes() == before
    finally:
        runtime.close()


def test_the_runtime_holds_its_state_dir_and_watches_the_lock_without_a_claim(
        tmp_path: Path) -> None:
    """The periodic lock check the console starts: a deleted lock file stops the scheduler
    and says why although no run claimed anything."""
    from crondeck.core.events import LockLost
    from crondeck.core.persist import StateDir

    config = load_config(_write(tmp_path, TICKER))
    runtime = open_runtime(config)
    events: list[object] = []
    runtime.scheduler.add_listener(events.append)
    assert isinstance(runtime.state, StateDir)
    assert runtime.store is runtime.state.store and runtime.lock is runtime.state.lock

    async def main() -> None:
        loop = asyncio.create_task(runtime.scheduler.astart(stop_when_done=False))
        watch = runtime.start_lock_watch(every=0.02)
        assert watch is not None and runtime.start_lock_watch() is watch  # started once
        (config.state_dir / "lock").unlink()
        await asyncio.wait_for(loop, 5)  # the loop stopped on its own
        await asyncio.wait_for(watch, 1)

    try:
        asyncio.run(main())
        assert "deleted" in runtime.lock_lost and runtime.read_only
        assert [e.reason for e in events if isinstance(e, LockLost)] == [runtime.lock_lost]
    finally:
        runtime.close()
    with open_runtime(config, read_only=True) as observer:
        async def watch_nothing() -> None:
            assert observer.start_lock_watch() is None  # no lock to watch
        asyncio.run(watch_nothing())


def test_closing_a_runtime_stops_its_lock_watch_and_unlocks(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, TICKER))

    async def main() -> asyncio.Task[None] | None:
        runtime = open_runtime(config)
        watch = runtime.start_lock_watch(every=0.02)
        runtime.close()
        await asyncio.sleep(0.05)
        return watch

    watch = asyncio.run(main())
    assert watch is not None and watch.cancelled()
    with open_runtime(config):  # the lock was freed
        pass


class _SlowClock(FakeClock):
    """A clock that moves 0.4 s every time it is read: adding a file's jobs takes long
    enough to straddle a slot boundary."""

    def now(self) -> datetime:
        self._now += timedelta(seconds=0.4)
        return self._now


def test_jobs_of_one_file_get_the_same_first_fire_however_long_adding_them_takes() -> None:
    body = "".join(f'[[jobs]]\nname = "j{i}"\ncommand = "true"\nschedule = "@every 1s"\n\n'
                   for i in range(6))
    config = parse_config(body)
    clock = _SlowClock(datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC))
    scheduler = build_scheduler(config, clock=clock)
    fires = {job.name: job.next_fire for job in scheduler.jobs.values()}
    # Each read of the clock moved it: one first fire for all, the second after the build began.
    assert set(fires.values()) == {datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC)}, fires
