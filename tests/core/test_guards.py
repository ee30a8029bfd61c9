"""Guard rails for unattended runs: output contract, empty answers, token budgets (reset at
local midnight, DST included), cost. On a FakeClock: a day and a half in milliseconds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from crondeck.core.agents import RunContext
from crondeck.core.clock import FakeClock
from crondeck.core.contracts import check_output
from crondeck.core.results import RunResult, RunStatus, SkipReason, Usage
from crondeck.core.scheduler import Scheduler

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def answer(text: str | None, prompt_tokens: int = 0, completion_tokens: int = 0) -> Any:
    async def agent(prompt: str, ctx: RunContext) -> str | None:
        if prompt_tokens or completion_tokens:
            ctx.add_usage(prompt_tokens, completion_tokens)
        return text

    return agent


def once(agent: Any, **options: Any) -> RunResult:
    async def main() -> RunResult:
        s = Scheduler(clock=FakeClock(T0))
        job = s.add_job(agent, "go", "@yearly", name="j", tz="UTC", **options)
        return await s.run_now(job).wait()

    return asyncio.run(main())


def test_the_issue_example_contract_parses_its_json_group() -> None:
    out = 'Thinking...\nRESULT: {"new": 3, "urgent": ["invoice"]}\n'
    r = once(answer(out), expect=r"RESULT: (\{.*\})\s*$")
    assert r.ok and r.contract == {"new": 3, "urgent": ["invoice"]}
    assert r.to_dict()["contract"] == {"new": 3, "urgent": ["invoice"]}


def test_a_named_json_group_is_the_one_kept() -> None:
    r = once(answer("score=7 data=[1, 2]"), expect=r"score=(\d+) data=(?P<json>\[.*\])")
    assert r.ok and r.contract == [1, 2]


def test_no_match_fails_the_run_but_keeps_the_output() -> None:
    r = once(answer("I could not find anything, sorry.\n"), expect=r"RESULT: (\{.*\})")
    assert r.status is RunStatus.FAILED
    assert r.reason == r"output contract: no match for expect = 'RESULT: (\\{.*\\})'"
    assert r.output_tail == "I could not find anything, sorry.\n"


def test_a_json_group_that_is_not_json_fails() -> None:
    r = once(answer("RESULT: {new: 3}"), expect=r"RESULT: (?P<json>\{.*\})")
    assert r.status is RunStatus.FAILED
    assert r.error.startswith("output contract: the matched group is not valid JSON")


def test_a_plain_group_is_not_forced_to_be_json() -> None:
    r = once(answer("STATUS: OK"), expect=r"STATUS: (OK|WARN)")
    assert r.ok and r.contract is None


def test_empty_answers_fail_when_asked_and_succeed_when_not() -> None:
    for empty in ("", None, "  \n\n"):
        r = once(answer(empty), fail_if_empty=True)
        assert r.status is RunStatus.FAILED and r.reason.startswith("empty output")
    assert once(answer(None)).ok  # the library default keeps the old contract
    assert once(answer("x"), fail_if_empty=True).ok


def test_stderr_alone_is_still_an_empty_answer() -> None:
    async def agent(prompt: str, ctx: RunContext) -> None:
        ctx.emit("warning: nothing to do\n", "stderr")

    r = once(agent, fail_if_empty=True)
    assert r.status is RunStatus.FAILED and "warning: nothing to do" in r.output_tail


def test_check_output_on_its_own() -> None:
    assert check_output("a", expect=None, fail_if_empty=True).ok
    assert not check_output("", expect=None, fail_if_empty=True).ok
    assert check_output("", expect=None, fail_if_empty=False).ok


def test_cost_per_run_today_and_in_total() -> None:
    async def main() -> None:
        s = Scheduler(clock=FakeClock(T0))
        job = s.add_job(answer("hi", 200_000, 100_000), "go", "@yearly", name="j", tz="UTC",
                        price_in=3.0, price_out=15.0)
        r = await s.run_now(job).wait()
        await s.run_now(job).wait()
        assert r.usage == Usage(200_000, 100_000) and r.cost == 0.6 + 1.5
        assert job.cost_today == job.cost_total == 4.2
        assert job.tokens_today == job.tokens_total == 600_000

    asyncio.run(main())


def test_budget_skips_slots_until_local_midnight_across_a_dst_change() -> None:
    # Europe/Berlin springs forward on 2026-03-29 (02:00 -> 03:00). Hourly runs of 1,000
    # tokens each against a budget of 2,000 a day.
    start = datetime(2026, 3, 28, 19, 30, tzinfo=UTC)  # 20:30 in Berlin

    async def main() -> list[RunResult]:
        clock = FakeClock(start)
        s = Scheduler(clock=clock)
        job = s.add_job(answer("ok", 600, 400), "go", "0 * * * *", name="digest",
                        tz="Europe/Berlin", daily_token_budget=2_000)
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_until(datetime(2026, 3, 29, 22, 30, tzinfo=UTC))  # 00:30 on the 30th
        s.stop()
        await task
        restored = Scheduler(clock=clock)  # the day's spend survives a restart
        again = restored.add_job(answer("ok", 600, 400), "go", "0 * * * *", name="digest",
                                 tz="Europe/Berlin", daily_token_budget=2_000)
        restored.restore([job.state()])
        assert again.tokens_today == 1_000 and again.tokens_total == job.tokens_total
        return list(job.results)

    results = asyncio.run(main())
    zone = ZoneInfo("Europe/Berlin")
    berlin = [(r.scheduled_for.astimezone(zone).strftime("%d %H:%M"), r.status.value)
              for r in results]
    ran = [when for when, status in berlin if status == "ok"]
    # two runs per local day: 21:00 and 22:00 on the 28th, 00:00 and 01:00 on the 29th (the
    # midnight of Berlin, not of UTC), then 00:00 on the 30th after the DST change
    assert ran == ["28 21:00", "28 22:00", "29 00:00", "29 01:00", "30 00:00"]
    skipped = [r for r in results if r.status is RunStatus.SKIPPED]
    assert all(r.skip_reason is SkipReason.BUDGET for r in skipped)
    assert len(skipped) == 1 + 21  # 23:00 on the 28th; 03:00-23:00 on the 29th (no 02:00)
    assert skipped[0].reason == ("budget: 2,000 of 2,000 tokens used today; resets at "
                                 "midnight (Europe/Berlin)")


def test_run_now_is_attended_and_may_spend_past_the_budget() -> None:
    async def main() -> None:
        s = Scheduler(clock=FakeClock(T0))
        job = s.add_job(answer("ok", 1_000, 0), "go", "@yearly", name="j", tz="UTC",
                        daily_token_budget=500)
        assert (await s.run_now(job).wait()).ok
        assert (await s.run_now(job).wait()).ok
        assert job.tokens_today == 2_000

    asyncio.run(main())


def test_a_backtracking_contract_fails_its_run_without_freezing_the_loop(
        monkeypatch: Any) -> None:
    """`re` cannot be interrupted and holds the GIL: the check runs in a child with a budget."""
    from crondeck.core import contracts

    monkeypatch.setattr(contracts, "CONTRACT_TIME_LIMIT", 0.5)
    lines = "\n".join(f"RESULT: {{{i}}} and more" for i in range(12_000)) + "\nthe end\n"

    async def main() -> tuple[RunResult, float]:
        loop = asyncio.get_running_loop()
        gaps: list[float] = []

        async def ticker() -> None:
            last = loop.time()
            while True:
                await asyncio.sleep(0.01)
                gaps.append(loop.time() - last)
                last = loop.time()

        beat = asyncio.create_task(ticker())
        s = Scheduler(clock=FakeClock(T0))
        job = s.add_job(answer(lines), "go", "@yearly", name="j", tz="UTC",
                        expect=r"RESULT: (?P<json>\{.*\})\s*$")
        result = await asyncio.wait_for(s.run_now(job).wait(), 30)
        beat.cancel()
        return result, max(gaps, default=float("inf"))

    result, worst_gap = asyncio.run(main())
    assert result.status is RunStatus.FAILED
    assert result.error.startswith("contract check timed out after 0.5s")
    assert worst_gap < 2.0  # the loop kept turning while the pattern backtracked


def test_the_readme_contract_pattern_is_linear() -> None:
    import re
    import time
    from pathlib import Path

    toml = (Path(__file__).parents[2] / "examples" / "daily-digest.toml").read_text()
    [pattern] = re.findall(r"^expect = '(.*)'$", toml, re.M)
    assert f"`expect = '{pattern}'`" in (Path(__file__).parents[2] / "README.md").read_text()
    answer_text = "\n".join(f"RESULT: {{\"n\": {i}}} said" for i in range(30_000))
    started = time.monotonic()
    verdict = check_output(answer_text + '\nRESULT: {"items": 3}\n', expect=pattern,
                           fail_if_empty=True)
    assert time.monotonic() - started < 2.0
    assert verdict.ok and verdict.contract == {"items": 3}


def test_a_contract_checked_off_the_loop_keeps_its_json() -> None:
    r = once(answer('x\nRESULT: {"a": [1, 2]}\n'), expect=r"RESULT: (?P<json>\{[^\n]*\})\s*$")
    assert r.ok and r.contract == {"a": [1, 2]}
