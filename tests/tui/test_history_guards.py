"""The history pane shows what the unattended-run guard rails decided: the JSON an output
contract captured (on the run's row) and slots skipped because the day's token budget is
spent ("skipped (budget)", with the budget's reason)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import START, settle, text_of

from crondeck.core.agents import RunContext
from crondeck.core.clock import FakeClock
from crondeck.core.results import RunStatus, SkipReason
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.widgets.history import HistoryList


def answer(text: str, prompt_tokens: int = 0, completion_tokens: int = 0) -> Any:
    """A model-like agent: answers `text` and reports the tokens it spent."""

    async def agent(prompt: str, ctx: RunContext) -> str:
        if prompt_tokens or completion_tokens:
            ctx.add_usage(prompt_tokens, completion_tokens)
        return text

    return agent


def make(sched: Scheduler, clock: FakeClock) -> CrondeckApp:
    return CrondeckApp(sched, config_path="/srv/ops/crondeck.toml", clock=clock, zone=START.tzinfo,
                       start=True, live=False)


WIDE = (180, 36)  # the history pane shares the width with the output pane


@pytest.mark.slow
def test_an_ok_run_shows_the_json_its_output_contract_captured() -> None:
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    sched.add_job(answer('- a\n- b\n- c\nRESULT: {"count": 3}\n'), "digest", "@yearly",
                  name="digest", tz="UTC", expect=r"RESULT: (?P<json>\{.*\})\s*$")
    sched.add_job(answer("plain\n"), "plain", "@yearly", name="plain", tz="UTC")
    long = "x" * 400
    sched.add_job(answer(f'RESULT: {{"text": "{long}"}}\n'), "long", "@yearly", name="long",
                  tz="UTC", expect=r"RESULT: (?P<json>\{.*\})\s*$")
    app = make(sched, clock)

    async def go() -> None:
        async with app.run_test(size=WIDE) as pilot:
            await settle(pilot)
            for name in ("digest", "plain", "long"):
                sched.run_now(name)
                await settle(pilot)
            history = app.dashboard.query_one(HistoryList)
            assert [r.job for r in history.items] == ["long", "plain", "digest"]
            shown = text_of(history)
            digest = next(line for line in shown.splitlines() if " digest " in line)
            assert "✓ ok" in digest and 'contract: {"count": 3} (run now)' in digest
            plain = next(line for line in shown.splitlines() if " plain " in line)
            assert "contract" not in plain
            # a long value stays on its one row, cut with an ellipsis at the pane's edge
            lng = [line for line in shown.splitlines() if "xxxx" in line]
            assert len(lng) == 1 and 'contract: {"text": "xxx' in lng[0]
            assert lng[0].rstrip(" │").endswith("…")

    asyncio.run(go())


@pytest.mark.slow
def test_a_slot_past_the_daily_token_budget_shows_as_skipped_for_budget() -> None:
    clock = FakeClock(START)
    sched = Scheduler(clock=clock)
    job = sched.add_job(answer("summary\n", 700, 400), "go", "@every 10s", name="digest",
                        tz="UTC", daily_token_budget=1_000)
    app = make(sched, clock)

    async def go() -> None:
        async with app.run_test(size=WIDE) as pilot:
            await settle(pilot)
            await clock.run_for(10)  # 08:58:40: spends 1,100 of 1,000 tokens
            await settle(pilot)
            await clock.run_for(10)  # 08:58:50: nothing left today
            await settle(pilot)
            statuses = [r.status for r in job.results]
            assert statuses[:2] == [RunStatus.OK, RunStatus.SKIPPED]
            assert job.results[1].skip_reason is SkipReason.BUDGET
            history = app.dashboard.query_one(HistoryList)
            newest = history.items[0]
            assert newest.skip_reason is SkipReason.BUDGET
            lines = text_of(history).splitlines()
            assert lines[0].split() == ["TIME", "JOB", "STATUS", "REASON"]
            line = lines[1]  # the newest row
            assert "skipped (budget)" in line
            assert "budget: 1,100 of 1,000 tokens used today" in line

    asyncio.run(go())
