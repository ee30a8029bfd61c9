"""Model servers that misbehave: a hang-up before any answer, a 200 that is not an event
stream, a stream without its end marker but complete, a server that reports no usage."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from llm_fake import ENDPOINTS, KINDS, FakeLLM, Reply, answer_stream, openai_stream, sse

from crondeck.core.llm import AnthropicAgent, ModelAgent, OpenAIAgent
from crondeck.core.results import RunResult, RunStatus, Usage
from crondeck.core.scheduler import Scheduler

NO_USAGE = "reported no token usage"


@pytest.fixture
def fake() -> Any:
    with FakeLLM() as server:
        yield server


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test-0123456789abcdefghijklmnop")


def run(agent: ModelAgent, *, timeout: float = 20, **options: Any) -> RunResult:
    """Run `agent` once through a real Scheduler and return the result."""

    async def main() -> RunResult:
        s = Scheduler()
        job = s.add_job(agent, "Say hello.", "@yearly", name="model", tz="UTC",
                        timeout=timeout, **options)
        return await asyncio.wait_for(s.run_now(job).wait(), 60)

    return asyncio.run(main())


def model(kind: str, fake: FakeLLM, **kw: Any) -> ModelAgent:
    cls = OpenAIAgent if kind == "openai" else AnthropicAgent
    return cls(f"{kind}-test", base_url=fake.url, api_key_env="TEST_LLM_KEY",
               retry_base=0.01, **kw)


# --- a hang-up before any answer -------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_hang_up_without_an_answer_is_retried(fake: FakeLLM, kind: str) -> None:
    fake.queue(Reply(hang_up=True), Reply(events=answer_stream(kind, ["ok"], 3, 1)))
    result = run(model(kind, fake))
    assert result.ok, result.error
    assert result.output_tail == "ok\n" and len(fake.requests) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_hang_ups_that_go_on_fail_in_one_line_naming_the_url(fake: FakeLLM, kind: str) -> None:
    fake.queue(*[Reply(hang_up=True) for _ in range(5)])
    result = run(model(kind, fake))
    assert result.status is RunStatus.FAILED
    url = f"{fake.url}{ENDPOINTS[kind]}"
    assert result.error == (f"no answer from {url}: the server closed the connection without "
                            "answering, still after 5 attempts")
    assert len(fake.requests) == 5


def test_a_reply_that_is_not_http_is_named_in_one_line(fake: FakeLLM) -> None:
    fake.queue(*[Reply(raw=b"SSH-2.0-OpenSSH_9.6\r\n\r\n") for _ in range(5)])
    result = run(model("openai", fake))
    assert result.status is RunStatus.FAILED
    assert result.error.startswith(f"no answer from {fake.url}/chat/completions: the reply is "
                                   "not HTTP (BadStatusLine: ")
    assert "\n" not in result.error and "SSH-2.0" in result.error


def test_a_hang_up_is_not_retried_past_the_runs_timeout(fake: FakeLLM) -> None:
    fake.queue(Reply(hang_up=True), Reply(events=answer_stream("openai", ["late"])))
    agent = model("openai", fake)
    agent.retry_base = 30.0
    result = run(agent, timeout=5)
    assert result.status is RunStatus.FAILED
    assert result.error.startswith(f"no answer from {fake.url}/chat/completions: the server "
                                   "closed the connection without answering; the next try "
                                   "(in 30s) would be past the run's timeout")
    assert len(fake.requests) == 1


# --- a 200 that is not an event stream --------------------------------------------------------


def test_a_complete_json_chat_completion_is_accepted(fake: FakeLLM) -> None:
    body = {"id": "c1", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello whole"},
         "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}
    fake.queue(Reply(body=json.dumps(body).encode()))
    result = run(model("openai", fake))
    assert result.ok, result.error
    assert result.output_tail == "Hello whole\n" and result.usage == Usage(9, 2)


def test_a_complete_json_message_is_accepted(fake: FakeLLM) -> None:
    body = {"id": "m1", "type": "message", "role": "assistant", "content": [
        {"type": "text", "text": "Bonjour"}, {"type": "text", "text": " entier"}],
        "stop_reason": "end_turn", "usage": {"input_tokens": 7, "output_tokens": 3}}
    fake.queue(Reply(body=json.dumps(body).encode()))
    result = run(model("anthropic", fake))
    assert result.ok, result.error
    assert result.output_tail == "Bonjour entier\n" and result.usage == Usage(7, 3)


@pytest.mark.parametrize("kind", KINDS)
def test_an_html_page_with_200_is_named_not_called_a_cut_stream(fake: FakeLLM, kind: str) -> None:
    page = b"<html><head><title>Sign in - Corp proxy</title></head><body>" + b"x" * 5000
    fake.queue(Reply(body=page, content_type="text/html; charset=utf-8"))
    result = run(model(kind, fake))
    assert result.status is RunStatus.FAILED
    assert result.error.startswith(f"{fake.url}{ENDPOINTS[kind]} answered HTTP 200 with "
                                   "text/html, not an event stream: ")
    assert "Sign in - Corp proxy" in result.error and "stream cut" not in result.error
    assert len(result.error) < 600 and len(fake.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_json_that_is_not_an_answer_is_named(fake: FakeLLM, kind: str) -> None:
    fake.queue(Reply(body=b'{"status": "queued", "id": 42}'))
    result = run(model(kind, fake))
    assert result.status is RunStatus.FAILED
    assert result.error.startswith(f"{fake.url}{ENDPOINTS[kind]} answered HTTP 200 with "
                                   "application/json, not an event stream nor a complete "
                                   "answer: ")
    assert "queued" in result.error


@pytest.mark.parametrize("kind", KINDS)
def test_an_event_stream_labelled_as_something_else_is_still_read(fake: FakeLLM,
                                                                   kind: str) -> None:
    fake.queue(Reply(events=answer_stream(kind, ["mislabelled"], 2, 1),
                     content_type="text/plain"))
    result = run(model(kind, fake))
    assert result.ok, result.error
    assert result.output_tail == "mislabelled\n"


# --- complete without [DONE] -----------------------------------------------------------------


def test_finish_reason_and_usage_without_done_is_a_success(fake: FakeLLM) -> None:
    fake.queue(Reply(events=openai_stream(["all of it"], 4, 3, done=False)))
    result = run(model("openai", fake))
    assert result.ok, result.error
    assert result.output_tail == "all of it\n" and result.usage == Usage(4, 3)


# --- no usage reported -----------------------------------------------------------------------


def test_a_server_that_reports_no_usage_is_said_once(fake: FakeLLM) -> None:
    fake.queue(Reply(hang_up=True), Reply(events=openai_stream(["hi"])))
    result = run(model("openai", fake), daily_token_budget=100)
    assert result.ok, result.error
    assert result.usage is None
    assert result.output_tail.count(NO_USAGE) == 1
    assert result.output_tail.startswith("hi\n")
    assert "daily_token_budget" in result.output_tail


def test_anthropic_without_usage_is_said_too(fake: FakeLLM) -> None:
    events = [sse({"type": "message_start", "message": {"id": "m", "content": []}},
                  "message_start"),
              sse({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "text_delta", "text": "salut"}}, "content_block_delta"),
              sse({"type": "message_stop"}, "message_stop")]
    fake.queue(Reply(events=events))
    result = run(model("anthropic", fake))
    assert result.ok, result.error
    assert result.output_tail.count(NO_USAGE) == 1


def test_usage_reported_says_nothing_more(fake: FakeLLM) -> None:
    fake.queue(Reply(events=openai_stream(["hi"], 1, 1)))
    result = run(model("openai", fake))
    assert result.output_tail == "hi\n"
