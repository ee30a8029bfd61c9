"""The job details screen of a model job: tokens today against the daily budget, the last
run's tokens and cost, cost today and in total, from real runs on the fake clock."""

from __future__ import annotations

import asyncio
from datetime import UTC as UTC_ZONE

import pytest
from conftest import SIZE, START, settle, text_of
from textual.widgets import Static

from crondeck.core.agents import RunContext
from crondeck.core.clock import FakeClock
from crondeck.core.results import Usage
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp
from crondeck.tui.screens.details import JobDetailsScreen


class Model:
    """Answers like a model agent: streams text and reports the tokens it used."""

    name = "model"

    async def execute(self, ctx: RunContext) -> int | None:
        ctx.emit("Three items today.\n", "stdout")
        ctx.usage = Usage(prompt_tokens=9_000, completion_tokens=3_000)
        return 0


async def plain(prompt: str) -> str:
    return "done\n"


def details_text(budget: int) -> tuple[str, str]:
    """Run the model job twice (price $0.15 in / $0.60 out per million tokens), open its
    details with Enter; what the screen shows for it and for a job without a model."""
    clock = FakeClock(START)
    s = Scheduler(clock=clock)
    s.add_job(Model(), "digest", "@daily", name="digest", tz="UTC", price_in=0.15,
              price_out=0.60, daily_token_budget=budget)
    s.add_job(plain, "p", "@daily", name="plain", tz="UTC")
    app = CrondeckApp(s, config_path="/srv/ops/crondeck.toml", clock=clock, zone=UTC_ZONE,
                      start=True, live=False)
    shown: list[str] = []

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for _ in range(2):
                s.run_now("digest")
                await settle(pilot)
            for name in ("digest", "plain"):
                app.dashboard.query_one("JobTable").select(name)  # type: ignore[attr-defined]
                await pilot.press("enter")
                await pilot.pause()
                assert isinstance(app.screen, JobDetailsScreen)
                shown.append(text_of(app.screen.query_one("VerticalScroll > Static", Static)))
                await pilot.press("escape")
                await pilot.pause()

    asyncio.run(go())
    return shown[0], shown[1]


@pytest.mark.slow
def test_details_show_tokens_left_in_the_budget_and_the_cost_of_runs() -> None:
    digest, plain_job = details_text(budget=50_000)
    lines = {line.split()[0]: " ".join(line.split()[1:]) for line in digest.splitlines()
             if line.strip()}
    assert lines["tokens"] == "24,000 today of 50,000 (26,000 left) · 24,000 in total"
    # 9,000 x $0.15/M + 3,000 x $0.60/M = $0.00315 a run: shown, not rounded to $0.00
    assert lines["last"] == "run 12,000 tokens (9,000 in, 3,000 out) · $0.0032"
    assert lines["cost"] == "$0.01 today · $0.01 in total"
    assert "budget" not in lines
    assert "tokens" not in plain_job and "cost" not in plain_job


@pytest.mark.slow
def test_details_say_when_the_day_s_budget_is_spent() -> None:
    digest, _ = details_text(budget=20_000)
    assert "24,000 today of 20,000 (0 left)" in digest
    assert "spent: further slots are skipped" in digest
