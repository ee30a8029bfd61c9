"""Secrets cut across output chunks never reach the pane, the kept tail or the answer: a
Python agent yielding a key in two pieces (fake clock) and a model streaming it in two SSE
deltas (the fake server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from llm_fake import FakeLLM, Reply, openai_stream

from crondeck.core.clock import FakeClock
from crondeck.core.events import OutputChunk
from crondeck.core.llm import OpenAIAgent
from crondeck.core.results import RunResult, RunStatus
from crondeck.core.schedule import every
from crondeck.core.scheduler import Scheduler

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
KEY = "sk-live-0123456789abcdefghijKLMN"
PASSWORD = "hunter2-swordfish"


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRONDECK_TEST_DB_PASSWORD", PASSWORD)
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test-0123456789abcdefghijklmnop")


def run_once(agent: Any, **options: Any) -> tuple[RunResult, list[str]]:
    """One slot of `agent` on a fake clock; the result and the chunks the pane received."""

    async def main() -> tuple[RunResult, list[str]]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        sub = s.subscribe()
        job = s.add_job(agent, "p", every(minutes=1), name="j", **options)
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(65)
        s.stop(terminate=True)
        await asyncio.wait_for(task, 5)
        chunks = [e.text for e in sub.drain() if isinstance(e, OutputChunk)]
        return job.results[0], chunks

    return asyncio.run(main())


def test_a_key_yielded_in_two_chunks_is_redacted_everywhere() -> None:
    async def agent(prompt: str) -> AsyncIterator[str]:
        yield "Using key sk-live-0123"
        yield "456789abcdefghijKLMN for the call; db password hunt"
        yield "er2-swordfish.\nRESULT: done"

    result, chunks = run_once(agent, expect=r"RESULT: (?P<status>\w+)$")
    shown = "".join(chunks)
    assert result.ok, result.error
    want = ("Using key [REDACTED] for the call; db password "
            "[REDACTED:CRONDECK_TEST_DB_PASSWORD].\nRESULT: done")
    assert shown == want and result.output_tail == want
    assert not any(KEY[:12] in c or "hunter2" in c for c in chunks)
    assert chunks[0] == "Using key "  # the rest of the text was shown without waiting


def test_what_was_held_back_is_released_when_the_run_times_out() -> None:
    async def main() -> tuple[RunResult, list[str]]:
        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        sub = s.subscribe()

        async def hangs(prompt: str) -> AsyncIterator[str]:
            yield "partial answer, then sk"
            await clock.sleep(3600)  # the 10 s timeout cancels it long before
            yield "never"

        job = s.add_job(hangs, "p", every(minutes=1), name="j", timeout=10)
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(75)
        s.stop(terminate=True)
        await asyncio.wait_for(task, 5)
        return job.results[0], [e.text for e in sub.drain() if isinstance(e, OutputChunk)]

    result, chunks = asyncio.run(main())
    assert result.status is RunStatus.TIMED_OUT
    assert result.output_tail == "partial answer, then sk"
    assert chunks == ["partial answer, then ", "sk"]


def test_an_answer_ending_in_a_held_back_tail_still_meets_its_contract() -> None:
    async def agent(prompt: str) -> AsyncIterator[str]:
        yield "see the docs at "
        yield "github"  # could have been the start of github_pat_… until the run ended

    result, chunks = run_once(agent, expect=r"docs at github$")
    assert result.ok, result.error
    assert result.output_tail == "see the docs at github" and "".join(chunks) == result.output_tail


def test_a_model_key_split_across_two_sse_deltas_is_redacted() -> None:
    with FakeLLM() as fake:
        fake.queue(Reply(events=openai_stream(["Your key is sk-live-0123456",
                                               "789abcdefghijKLMN, keep it.", " hunter2-",
                                               "swordfish"], 12, 9)))
        agent = OpenAIAgent("gpt-test", base_url=fake.url, api_key_env="TEST_LLM_KEY")

        async def main() -> tuple[RunResult, list[str]]:
            s = Scheduler()
            job = s.add_job(agent, "p", "@yearly", name="model", tz="UTC", timeout=20)
            chunks: list[str] = []
            s.add_listener(lambda e: chunks.append(e.text) if isinstance(e, OutputChunk)
                           else None)
            return await asyncio.wait_for(s.run_now(job).wait(), 60), chunks

        result, chunks = asyncio.run(main())
    assert result.ok, result.error
    want = "Your key is [REDACTED], keep it. [REDACTED:CRONDECK_TEST_DB_PASSWORD]\n"
    assert result.output_tail == want and "".join(chunks) == want
    assert not any("sk-live" in c or "hunter2" in c for c in chunks)
