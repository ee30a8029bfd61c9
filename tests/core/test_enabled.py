"""`enabled = false`: a job switched off never fires and records nothing (unlike paused, which
records every slot as skipped); switched on again it continues from then, owing nothing for
the time it was off, in the scheduler, through the jobs file, across restarts and in the CLI."""

from __future__ import annotations

import asyncio
import io
import uuid
from argparse import Namespace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crondeck.cli.commands import exec as exec_cmd
from crondeck.cli.commands import list as list_cmd
from crondeck.core.clock import FakeClock
from crondeck.core.config import load_config, parse_config
from crondeck.core.results import RunStatus
from crondeck.core.runtime import build_scheduler, open_runtime
from crondeck.core.scheduler import Scheduler
from crondeck.core.store import StateStore

T0 = datetime(2025, 1, 6, 12, 0, 30, tzinfo=UTC)


async def _agent(prompt: str) -> str:
    return "done\n"


async def _run_for(s: Scheduler, clock: FakeClock, seconds: float) -> None:
    task = asyncio.create_task(s.astart(stop_when_done=False))
    await clock.run_for(seconds)
    s.stop()
    await asyncio.wait_for(task, 5)


def _minutes(results: object) -> list[tuple[str, str]]:
    return [(r.scheduled_for.strftime("%H:%M"), r.status.value) for r in results]  # type: ignore[attr-defined]


def test_a_disabled_job_never_fires_and_records_nothing_unlike_a_paused_one() -> None:
    async def go() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        off = s.add_job(_agent, "x", "* * * * *", name="off")
        paused = s.add_job(_agent, "x", "* * * * *", name="paused")
        off.enabled = False
        paused.pause("holiday")
        assert off.next_fire is None and off.exhausted == "disabled"
        assert [j.name for _, j in s.upcoming()] == ["paused"]
        await _run_for(s, clock, 300)
        assert list(off.results) == [] and off.run_count == 0
        assert {r.status for r in paused.results} == {RunStatus.SKIPPED}
        state = off.state()
        assert state.disabled and state.next_fire is None and state.exhausted == ""

    asyncio.run(go())


def test_enabling_continues_from_now_without_catching_up() -> None:
    async def go() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        job = s.add_job(_agent, "x", "* * * * *", name="j", catchup="all")
        await _run_for(s, clock, 60)  # 12:01 runs
        job.enabled = False
        await _run_for(s, clock, 240)  # 12:02 .. 12:05 fall while it is off
        job.enabled = True
        assert job.next_fire == datetime(2025, 1, 6, 12, 6, tzinfo=UTC)
        await _run_for(s, clock, 120)
        assert _minutes(job.results) == [("12:01", "ok"), ("12:06", "ok"), ("12:07", "ok")]

    asyncio.run(go())


def test_disabling_lets_the_run_in_flight_finish_and_run_now_still_works() -> None:
    async def go() -> None:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)

        async def slow(prompt: str) -> str:
            await clock.sleep(90)
            return "slow\n"

        job = s.add_job(slow, "x", "* * * * *", name="j")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(31)  # 12:01 starts
        assert job.is_running
        job.enabled = False
        await clock.run_for(200)
        assert _minutes(job.results) == [("12:01", "ok")]  # finished, nothing after it
        handle = job.run_now()  # attended: the operator asked for it
        await clock.run_for(100)
        assert (await handle).status is RunStatus.OK
        s.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())


def _write(tmp_path: Path, enabled: bool, catchup: str = "all") -> Path:
    module = f"agents_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text("def tick(prompt):\n    return 'tick\\n'\n")
    path = tmp_path / "crondeck.toml"
    path.write_text(f'[defaults]\ntimezone = "UTC"\ncatchup = "{catchup}"\n\n'
                    f'[[jobs]]\nname = "ticker"\npython = "{module}:tick"\n'
                    f'schedule = "* * * * *"\nenabled = {str(enabled).lower()}\n')
    return path


def test_build_scheduler_and_crondeck_run_honour_enabled_false(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, enabled=False))
    clock = FakeClock(T0)
    s = build_scheduler(cfg, clock=clock)
    assert not s.jobs["ticker"].enabled
    asyncio.run(_run_for(s, clock, 600))
    assert list(s.jobs["ticker"].results) == []


def test_switching_on_or_off_in_the_file_does_not_replace_the_job(tmp_path: Path) -> None:
    path = _write(tmp_path, enabled=True)
    cfg = load_config(path)
    off = parse_config(path.read_text().replace("enabled = true", "enabled = false"), path)
    with open_runtime(cfg, clock=FakeClock(T0)) as runtime:
        job = runtime.scheduler.jobs["ticker"]
        assert runtime.replaced_by(off) == []  # a run in flight would not be cancelled
        retimed = parse_config(path.read_text().replace("* * * * *", "*/5 * * * *"), path)
        assert runtime.replaced_by(retimed) == []  # changed in place too
        assert runtime.changes(retimed).changed == ["ticker"]
        reload = runtime.apply(off)
        assert reload.changed == ["ticker"] and runtime.scheduler.jobs["ticker"] is job
        assert not job.enabled and job.next_fire is None


def test_enabled_again_after_a_restart_owes_nothing_for_the_time_it_was_off(
        tmp_path: Path) -> None:
    path = _write(tmp_path, enabled=True)
    clock = FakeClock(T0)

    async def session(seconds: float) -> None:
        with open_runtime(load_config(path), clock=clock) as runtime:
            await _run_for(runtime.scheduler, clock, seconds)

    asyncio.run(session(60))  # 12:01 runs
    path.write_text(path.read_text().replace("enabled = true", "enabled = false"))
    asyncio.run(session(120))  # off: 12:02 and 12:03 neither run nor recorded
    state = StateStore(tmp_path / ".crondeck" / "state.toml").load().jobs["ticker"]
    assert state.disabled and _minutes(state.results) == [("12:01", "ok")]
    clock.set(T0 + timedelta(minutes=10))  # down until 12:10:30, then switched on
    path.write_text(path.read_text().replace("enabled = false", "enabled = true"))
    asyncio.run(session(60))
    state = StateStore(tmp_path / ".crondeck" / "state.toml").load().jobs["ticker"]
    # catchup = "all" would have run 12:02 .. 12:10 had the job merely been down
    assert _minutes(state.results) == [("12:01", "ok"), ("12:11", "ok")]
    assert not state.disabled


def test_list_says_disabled_and_exec_refuses_unless_forced(tmp_path: Path) -> None:
    path = _write(tmp_path, enabled=False)
    cfg = load_config(path)
    [row] = list_cmd.rows(cfg, StateStore(tmp_path / "state.toml").load(), T0)
    assert (row["status"], row["next"]) == ("disabled", None)

    def exec_(*extra: str) -> tuple[int, str]:
        err = io.StringIO()
        args = Namespace(config=str(path), job="ticker", scheduled_for=None, k8s_job=None,
                         json=False, no_retries=False, skipped_exit_code=3, force=False)
        for flag in extra:
            setattr(args, flag, True)
        return exec_cmd.run(args, io.StringIO(), err), err.getvalue()

    code, err = exec_()
    assert code == 3
    assert "'ticker' is disabled (enabled = false" in err and "--force" in err
    assert not (tmp_path / ".crondeck" / "state.toml").exists()  # nothing recorded
    code, err = exec_("force")
    assert code == 0, err
    assert "ticker@" in err and ": ok" in err
