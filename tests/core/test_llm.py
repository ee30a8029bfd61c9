"""Model agents against a real HTTP server on 127.0.0.1 (tests/core/llm_fake.py): streaming,
usage, every classified error, timeouts and cancel, all through the scheduler's run path."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import pytest
from llm_fake import (
    ENDPOINTS,
    KINDS,
    FakeLLM,
    Reply,
    answer_stream,
    anthropic_stream,
    error_body,
    free_port,
    openai_stream,
    partial_stream,
    sse,
)

from crondeck.core.clock import FakeClock
from crondeck.core.events import OutputChunk
from crondeck.core.jobs import JobState
from crondeck.core.llm import AnthropicAgent, ModelAgent, OpenAIAgent
from crondeck.core.results import RunResult, RunStatus, Usage
from crondeck.core.scheduler import Scheduler
from crondeck.core.store import job_state_from_toml, job_state_to_toml

KEY = "sk-test-0123456789abcdefghijklmnop"


@pytest.fixture
def fake() -> Any:
    with FakeLLM() as server:
        yield server


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LLM_KEY", KEY)


def run(agent: ModelAgent, prompt: str = "Say hello.", *, timeout: float = 20,
        chunks: list[str] | None = None, on_chunk: Any = None, clock: Any = None,
        **options: Any) -> RunResult:
    """Run `agent` once through a real Scheduler (SystemClock unless `clock`) and return
    the result."""

    async def main() -> RunResult:
        s = Scheduler(clock=clock) if clock is not None else Scheduler()
        job = s.add_job(agent, prompt, "@yearly", name="model", tz="UTC", timeout=timeout,
                        **options)

        def listen(event: Any) -> None:
            if isinstance(event, OutputChunk):
                if chunks is not None:
                    chunks.append(event.text)
                if on_chunk is not None:
                    on_chunk(event, handle)

        s.add_listener(listen)
        handle = s.run_now(job)
        return await asyncio.wait_for(handle.wait(), 60)

    return asyncio.run(main())


def openai(fake: FakeLLM, **kw: Any) -> OpenAIAgent:
    return OpenAIAgent("gpt-test", base_url=fake.url, api_key_env="TEST_LLM_KEY",
                       retry_base=0.01, **kw)


def model(kind: str, fake: FakeLLM, **kw: Any) -> ModelAgent:
    """An agent of `kind` on the fake, with a tiny backoff (so a gap of a second or more
    between two tries can only come from Retry-After)."""
    cls = OpenAIAgent if kind == "openai" else AnthropicAgent
    return cls(f"{kind}-test", base_url=fake.url, api_key_env="TEST_LLM_KEY",
               retry_base=0.01, **kw)


def gap(fake: FakeLLM, first: int = 0) -> float:
    """Seconds between two requests' arrivals, as the server saw them."""
    return fake.requests[first + 1].at - fake.requests[first].at


def test_openai_streams_each_delta_as_it_arrives_and_records_usage(fake: FakeLLM) -> None:
    release = threading.Event()
    fake.queue(Reply(events=openai_stream(["Hel", "lo, ", "world!"], 12, 5), hold=release))
    chunks: list[str] = []

    def first_chunk_before_the_rest(event: OutputChunk, handle: Any) -> None:
        release.set()  # the server holds the rest of the answer until we saw the first part

    agent = openai(fake, system="You are terse.", temperature=0.2, max_tokens=50)
    result = run(agent, chunks=chunks, on_chunk=first_chunk_before_the_rest)
    assert result.ok, result.error
    assert chunks == ["Hel", "lo, ", "world!", "\n"]
    assert result.output_tail == "Hello, world!\n"
    assert result.usage == Usage(12, 5) and result.usage.total == 17
    request = fake.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.json["model"] == "gpt-test" and request.json["stream"] is True
    assert request.json["messages"] == [{"role": "system", "content": "You are terse."},
                                        {"role": "user", "content": "Say hello."}]
    assert request.json["temperature"] == 0.2 and request.json["max_tokens"] == 50


def test_anthropic_streams_text_deltas_and_usage(fake: FakeLLM) -> None:
    fake.queue(Reply(events=anthropic_stream(["Bonjour", " le monde"], 20, 7)))
    agent = AnthropicAgent("claude-test", base_url=fake.url, api_key_env="TEST_LLM_KEY",
                           system="Be French.")
    chunks: list[str] = []
    result = run(agent, chunks=chunks)
    assert result.ok, result.error
    assert chunks == ["Bonjour", " le monde", "\n"]
    assert result.usage == Usage(20, 7)
    request = fake.requests[0]
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.json["system"] == "Be French." and request.json["max_tokens"] == 1024
    assert request.json["messages"] == [{"role": "user", "content": "Say hello."}]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [401, 403])
def test_authentication_errors_name_the_variable_never_the_key(fake: FakeLLM, kind: str,
                                                               status: int) -> None:
    fake.queue(Reply(status, body=error_body(f"Incorrect API key provided: {KEY}",
                                             "authentication_error", kind)))
    result = run(model(kind, fake))
    assert result.status is RunStatus.FAILED
    assert result.error == (f"authentication: check $TEST_LLM_KEY (HTTP {status} from "
                            f"{fake.url}{ENDPOINTS[kind]})")
    assert KEY not in result.error and KEY not in result.output_tail
    assert len(fake.requests) == 1  # never retried


def test_a_missing_key_variable_fails_before_any_request(fake: FakeLLM,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_LLM_KEY")
    result = run(openai(fake))
    assert result.status is RunStatus.FAILED
    assert result.error.startswith("authentication: $TEST_LLM_KEY is not set")
    assert fake.requests == []


@pytest.mark.parametrize("kind", KINDS)
def test_429_and_5xx_are_retried_then_succeed(fake: FakeLLM, kind: str) -> None:
    fake.queue(Reply(429, headers={"Retry-After": "0"},
                     body=error_body("slow down", "rate_limit_error", kind)),
               Reply(503, body=error_body("overloaded", "api_error", kind)),
               Reply(529, body=error_body("Overloaded", "overloaded_error", kind)),
               Reply(events=answer_stream(kind, ["ok"], 3, 1)))
    result = run(model(kind, fake))
    assert result.ok, result.error
    assert result.output_tail == "ok\n" and result.usage == Usage(3, 1)
    assert len(fake.requests) == 4
    assert all(r.json == fake.requests[0].json for r in fake.requests)  # the same question


@pytest.mark.parametrize("kind", KINDS)
def test_retry_after_in_seconds_is_waited_for(fake: FakeLLM, kind: str) -> None:
    fake.queue(Reply(429, headers={"Retry-After": "1"},
                     body=error_body("slow down", "rate_limit_error", kind)),
               Reply(events=answer_stream(kind, ["ok"])))
    result = run(model(kind, fake))
    assert result.ok, result.error
    assert gap(fake) >= 1.0  # the backoff alone would have retried after 0.01 s


def test_retry_after_as_an_http_date_is_waited_for(fake: FakeLLM) -> None:
    # HTTP dates have whole seconds: "3 s from now" is 2 to 3 s after the request arrives.
    fake.queue(Reply(503, headers={"Retry-After": formatdate(time.time() + 3, usegmt=True)},
                     body=error_body("maintenance")),
               Reply(events=openai_stream(["back"])))
    result = run(openai(fake))
    assert result.ok, result.error
    assert gap(fake) >= 1.5


def test_a_retry_after_date_in_the_past_retries_at_once(fake: FakeLLM) -> None:
    fake.queue(Reply(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
                     body=error_body("slow down")),
               Reply(events=openai_stream(["ok"])))
    result = run(openai(fake))
    assert result.ok, result.error
    assert len(fake.requests) == 2


@pytest.mark.parametrize("retry_after", ["3600", "5", "in-date"])
def test_retry_after_beyond_the_run_timeout_fails_at_once(fake: FakeLLM,
                                                          retry_after: str) -> None:
    """Failed with the reason, not left to sleep until the timeout kills it (that would be
    `timed_out` with no word about the rate limit)."""
    if retry_after == "in-date":
        retry_after = formatdate(time.time() + 600, usegmt=True)
    fake.queue(Reply(429, headers={"Retry-After": retry_after}, body=error_body("quota")))
    result = run(openai(fake), timeout=3)
    assert result.status is RunStatus.FAILED
    assert "rate limited (HTTP 429)" in result.error and "past the run's timeout" in result.error
    assert "quota" in result.error and len(fake.requests) == 1


def test_a_retry_after_date_is_measured_on_the_schedulers_clock(fake: FakeLLM) -> None:
    """On a clock set to 07:27:00, "07:28:00 GMT" is a minute away (past a 3 s timeout),
    even though that date is years in the past for the machine."""
    clock = FakeClock(datetime(2015, 10, 21, 7, 27, tzinfo=UTC))
    fake.queue(Reply(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
                     body=error_body("slow down")),
               Reply(events=openai_stream(["too soon"])))
    result = run(openai(fake), timeout=3, clock=clock)
    assert result.status is RunStatus.FAILED
    assert "the next try (in 60s) would be past the run's timeout" in result.error
    assert len(fake.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_server_errors_are_retried_a_few_times_then_fail(fake: FakeLLM, kind: str) -> None:
    fake.queue(*[Reply(500, body=error_body("boom", "api_error", kind)) for _ in range(3)])
    result = run(model(kind, fake, max_retries=2))
    assert result.status is RunStatus.FAILED
    assert result.error == (f"server error (HTTP 500) from {fake.url}{ENDPOINTS[kind]}, "
                            "still after 3 attempts: boom")
    assert len(fake.requests) == 3


def test_other_client_errors_fail_with_the_api_message(fake: FakeLLM) -> None:
    fake.queue(Reply(404, body=error_body("model 'gpt-test' not found")))
    result = run(openai(fake))
    assert result.error == f"HTTP 404 from {fake.url}/chat/completions: model 'gpt-test' not found"


def test_connection_refused_fails_with_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = run(OpenAIAgent("m", base_url=url))
    assert result.status is RunStatus.FAILED
    assert result.error.startswith(f"cannot connect to {url}/chat/completions: ")
    assert "refused" in result.error.lower()


def test_unknown_host_fails_with_the_url() -> None:
    result = run(OpenAIAgent("m", base_url="http://no-such-host.invalid/v1"))
    assert result.status is RunStatus.FAILED
    assert result.error.startswith("cannot connect to http://no-such-host.invalid/v1/")


@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_cut_mid_answer_fails_and_keeps_the_partial_output(fake: FakeLLM,
                                                                   kind: str) -> None:
    fake.queue(Reply(events=partial_stream(kind, ["The first ", "half"]), cut=True))
    result = run(model(kind, fake))
    assert result.status is RunStatus.FAILED
    assert result.error.startswith(f"stream cut mid-answer from {fake.url}{ENDPOINTS[kind]}")
    assert result.error.endswith("(14 characters of partial answer kept)")
    assert result.output_tail == "The first half"
    assert len(fake.requests) == 1  # half an answer is not retried: it may have cost tokens


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_that_ends_without_the_end_marker_is_a_cut_too(fake: FakeLLM, kind: str) -> None:
    fake.queue(Reply(events=answer_stream(kind, ["almost"], end=False)))
    result = run(model(kind, fake))
    assert result.status is RunStatus.FAILED
    assert result.error.startswith(f"stream cut mid-answer from {fake.url}{ENDPOINTS[kind]}")
    assert "end marker" in result.error
    assert result.output_tail == "almost"


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_json_fails_with_the_offending_line_truncated(fake: FakeLLM,
                                                               kind: str) -> None:
    garbage = "{not json " + "x" * 1000
    head = partial_stream(kind, ["fine "])
    named = "event: content_block_delta\n" if kind == "anthropic" else ""
    fake.queue(Reply(events=[*head, f"{named}data: {garbage}\n\n",
                             *answer_stream(kind, ["never shown"])]))
    result = run(model(kind, fake))
    assert result.status is RunStatus.FAILED
    assert result.error.startswith(f"malformed JSON in the stream from {fake.url}"
                                   f"{ENDPOINTS[kind]} (line ")
    assert garbage[:200] + "… (1,010 characters)" in result.error
    assert garbage not in result.error
    assert result.error.endswith("(5 characters of partial answer kept)")
    assert result.output_tail == "fine "
    assert "never shown" not in result.output_tail


def test_an_error_event_mid_stream_fails_with_its_message(fake: FakeLLM) -> None:
    events = anthropic_stream(["Part"])[:4]
    events.append(sse({"type": "error", "error": {"type": "overloaded_error",
                                                  "message": "Overloaded"}}, "error"))
    fake.queue(Reply(events=events))
    result = run(AnthropicAgent("c", base_url=fake.url))
    assert result.status is RunStatus.FAILED
    assert "Overloaded" in result.error and result.output_tail == "Part"


def test_a_slow_stream_hits_the_run_timeout_and_the_connection_is_closed(fake: FakeLLM) -> None:
    fake.queue(Reply(events=openai_stream([f"w{i} " for i in range(200)]), delay=0.05))
    result = run(openai(fake), timeout=1)
    assert result.status is RunStatus.TIMED_OUT
    assert result.output_tail.startswith("w0 w1 ")
    assert fake.disconnected.wait(30)  # the server saw the client hang up


def test_cancel_stops_the_request(fake: FakeLLM) -> None:
    release = threading.Event()
    fake.queue(Reply(events=openai_stream(["first ", "second"]), hold=release, delay=0.01))

    def cancel_after_first(event: OutputChunk, handle: Any) -> None:
        handle.cancel("operator said stop")

    result = run(openai(fake), on_chunk=cancel_after_first)
    release.set()
    assert result.status is RunStatus.CANCELLED and result.error == "operator said stop"
    assert result.output_tail == "first "  # what came before the cancel is kept
    assert fake.disconnected.wait(30)


def test_no_key_variable_and_none_configured_sends_no_auth(fake: FakeLLM,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake.queue(Reply(events=openai_stream(["local"])))
    result = run(OpenAIAgent("llama3", base_url=fake.url))  # e.g. Ollama on localhost
    assert result.ok and "Authorization" not in fake.requests[0].headers


def test_usage_and_cost_survive_state_toml(fake: FakeLLM) -> None:
    fake.queue(Reply(events=openai_stream(["x"], 1_000_000, 500_000)))
    result = run(openai(fake), price_in=2.5, price_out=10.0)
    assert result.cost == 2.5 + 5.0
    assert result.extra == {"tokens": 1_500_000, "cost_usd": 7.5}
    state = JobState("model", results=(result,), tokens_total=1_500_000, cost_total=7.5)
    back = job_state_from_toml("model", job_state_to_toml(state))
    assert back.results[0].usage == Usage(1_000_000, 500_000)
    assert back.results[0].cost == 7.5 and back.cost_total == 7.5


SHAPELESS = "Zq7Wm2Rt9Kx4Pv8Ln3Hs6Jd1Fg5Cb0Ty"  # a key with no known token shape


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_quoting_the_key_near_the_cut_is_redacted_before_it_is_cut(
        fake: FakeLLM, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LLM_KEY", SHAPELESS)
    fake.queue(Reply(400, body=error_body("x" * 290 + f" key {SHAPELESS} rejected",
                                          api=kind)))
    result = run(model(kind, fake))
    assert result.status is RunStatus.FAILED
    assert SHAPELESS[:6] not in result.error
    assert "[REDACTED" in result.error and result.error.endswith("…")


@pytest.mark.parametrize("kind", KINDS)
def test_a_malformed_line_quoting_the_key_near_the_cut_is_redacted_before_it_is_cut(
        fake: FakeLLM, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LLM_KEY", SHAPELESS)
    garbage = "{not json " + "x" * 185 + SHAPELESS + "y" * 500
    named = "event: content_block_delta\n" if kind == "anthropic" else ""
    fake.queue(Reply(events=[*partial_stream(kind, ["fine "]), f"{named}data: {garbage}\n\n"]))
    result = run(model(kind, fake))
    assert result.status is RunStatus.FAILED
    assert SHAPELESS[:4] not in result.error and "[REDACTED:TEST_LLM_KEY]" in result.error


def test_an_unexpected_event_quoting_the_key_is_redacted_before_it_is_cut(
        fake: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LLM_KEY", SHAPELESS)
    line = '{"choices": 7, "pad": "' + "x" * 170 + SHAPELESS + '"}'
    fake.queue(Reply(events=[*partial_stream("openai", ["fine "]), f"data: {line}\n\n"]))
    result = run(model("openai", fake))
    assert result.status is RunStatus.FAILED
    assert result.error.startswith("unexpected event")
    assert SHAPELESS[:4] not in result.error and "[REDACTED:TEST_LLM_KEY]" in result.error
