"""Every output-contract check has a time budget, small answers included: a pattern whose
worst case on the answer is known to be small is matched inline (no child interpreter),
any other runs in the child that is killed when the budget is spent."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from crondeck.core import contracts
from crondeck.core.contracts import inline_work, pattern_degree, verify_output

CATASTROPHIC = r"(a+)+$"


@pytest.mark.slow
def test_a_catastrophic_pattern_on_a_small_answer_does_not_freeze_the_loop() -> None:
    answer = "a" * 26 + "!"  # 27 characters, ~2^26 ways to split the a's: minutes inline

    async def main() -> tuple[contracts.Verdict, float]:
        loop = asyncio.get_running_loop()
        gaps: list[float] = []

        async def ticker() -> None:
            last = loop.time()
            while True:
                await asyncio.sleep(0.01)
                gaps.append(loop.time() - last)
                last = loop.time()

        beat = asyncio.create_task(ticker())
        await asyncio.sleep(0.02)
        verdict = await asyncio.wait_for(
            verify_output(answer, expect=CATASTROPHIC, fail_if_empty=True, time_limit=0.5), 30)
        beat.cancel()
        return verdict, max(gaps, default=float("inf"))

    started = time.monotonic()
    verdict, worst_gap = asyncio.run(main())
    assert not verdict.ok
    assert verdict.error.startswith("contract check timed out after 0.5s")
    assert worst_gap < 0.4 and time.monotonic() - started < 5


def test_a_safe_pattern_on_a_small_answer_costs_no_child(monkeypatch: Any) -> None:
    async def no_child(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a child interpreter was started")

    monkeypatch.setattr(asyncio, "create_subprocess_exec", no_child)
    readme = r"RESULT: (?P<json>\{.*\})\s*$"
    answer = "- a\n" * 1000 + 'RESULT: {"count": 3}\n'
    verdict = asyncio.run(verify_output(answer, expect=readme, fail_if_empty=True))
    assert verdict.ok and verdict.contract == {"count": 3}
    verdict = asyncio.run(verify_output("2026-12-05 done", expect=r"\d{4}-\d{2}-\d{2}",
                                        fail_if_empty=True))
    assert verdict.ok


@pytest.mark.parametrize(("pattern", "degree"), [
    (r"^OK$", 0), (r"\d{4}-\d{2}-\d{2}", 0), (r"a.*b", 1), (r"\{.*\}\s*$", 1),
    (r".*.*b", 2), (r"(a+)+$", None), (r"(a|ab)*c", None), (r"^(\w+\s?)*$", None),
    (r"(x)\1", None), (r"(?:.{0,10}){0,10}x", None),
])
def test_the_degree_bounds_how_a_pattern_can_backtrack(pattern: str, degree: int | None) -> None:
    assert pattern_degree(pattern) == degree


def test_what_is_checked_inline() -> None:
    assert inline_work(r"a.*b", contracts.INLINE_LIMIT) <= contracts.INLINE_WORK
    assert inline_work(r".*.*b", 2000) > contracts.INLINE_WORK  # cubic: the child
    assert inline_work(r".*.*b", 100) <= contracts.INLINE_WORK
    assert inline_work(CATASTROPHIC, 10) == float("inf")
    assert inline_work(r"^OK$", contracts.INLINE_LIMIT + 1) == float("inf")
