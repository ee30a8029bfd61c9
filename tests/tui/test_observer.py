"""The bridge: events become one batched message; a flood is capped, never unbounded."""

import asyncio
from datetime import UTC, datetime

import pytest
from conftest import SIZE, settle

from crondeck.core.clock import FakeClock
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.model import MAX_LINES_PER_RUN, DashboardModel
from crondeck.tui.observer import ModelChanged, Observer
from crondeck.tui.widgets.output_pane import MAX_LINES, OutputPane


class Flood:
    name = "flood"

    def __init__(self, n: int) -> None:
        self.n = n

    async def execute(self, ctx):
        for i in range(self.n):
            ctx.emit(f"line {i}\n", "stdout")
            if i % 5000 == 0:
                await asyncio.sleep(0)
        return 0


class _Target:
    def __init__(self):
        self.messages = []

    def post_message(self, message):
        self.messages.append(message)
        return True


def test_a_batch_of_events_becomes_one_message():
    async def go():
        clock = FakeClock(datetime(2025, 1, 1, tzinfo=UTC))
        sched = Scheduler(clock=clock)
        sched.add_job(Flood(3000), "p", "@every 1h", name="flood")
        target = _Target()
        obs = Observer(sched, target)  # type: ignore[arg-type]
        await sched.run_now("flood").wait()
        obs.pump()
        assert len(target.messages) == 1
        changes = target.messages[0].changes
        assert isinstance(target.messages[0], ModelChanged)
        (lines,) = changes.output.values()
        assert len(lines) == 3000
        assert changes.finished and changes.finished[0].ok
        run = obs.model.current_output("flood")
        assert run is not None and len(run.lines) == 3000
        assert obs.pump() is not None and len(target.messages) == 1  # nothing new

    asyncio.run(go())


@pytest.mark.slow
def test_a_flood_is_capped_in_the_model_and_the_pane():
    clock = FakeClock(datetime(2025, 1, 1, tzinfo=UTC))
    sched = Scheduler(clock=clock)
    sched.add_job(Flood(60_000), "p", "@every 1h", name="flood")
    app = CrondeckApp(sched, clock=clock, zone=UTC, live=False)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            for _ in range(20):
                await settle(pilot, rounds=1)
                if not sched.jobs["flood"].is_running:
                    break
            await settle(pilot)
            model: DashboardModel = app.dashboard.model
            run = model.current_output("flood")
            assert run is not None and len(run.lines) <= MAX_LINES_PER_RUN
            pane = app.dashboard.query_one(OutputPane)
            assert pane.line_count <= MAX_LINES
            assert pane.lines[-1].startswith("── ok")
            # the subscription dropped what the UI could not keep up with, with a count
            assert model.dropped + len(run.lines) >= 10_000

    asyncio.run(go())


def test_demo_config_builds_every_feature(tmp_path):
    from crondeck.tui.launch import launch, prepare_demo

    path = prepare_demo(tmp_path)
    assert (tmp_path / "scripts" / "fake_llm.sh").stat().st_mode & 0o111
    opened = launch(path, demo=True)
    jobs = opened.scheduler.jobs
    assert set(jobs) >= {"standup-notes", "inbox-watch", "deploy-check", "slow-crawl",
                         "disk-report", "nightly-digest", "weekly-review"}
    assert jobs["nightly-digest"].paused and jobs["nightly-digest"].pause_note
    assert jobs["inbox-watch"].options.pre_run
    assert jobs["disk-report"].agent.name == "df"
    assert any(getattr(j.schedule, "is_interval", False) for j in jobs.values())
    # the app opens the file through the core's runtime: state is persisted beside it, locked
    assert (tmp_path / ".crondeck" / "state.toml").exists()
    assert not opened.read_only
    again = launch(path)  # a second crondeck on the same file can only watch
    assert again.read_only and "already running" in again.read_only_reason
    again.close()
    opened.close()
