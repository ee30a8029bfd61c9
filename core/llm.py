"""Model agents: a model behind an HTTP API, with nothing but configuration.

`OpenAIAgent` speaks the Chat Completions API that OpenAI, Ollama, vLLM, llama.cpp server,
LM Studio and OpenRouter share; `AnthropicAgent` the Messages API. Both stream (SSE): every
text delta goes through `ctx.emit` like a command's output, so the output pane, the run log
and the redaction see it as it arrives; the usage block is recorded with `ctx.add_usage`.

Failures are classified for an operator reading history at 9 am:
401/403 -> "authentication: check $VAR" (never the key); 429 and 5xx -> retried with
backoff honouring Retry-After while it fits in the run's timeout, then failed; refused or
unknown host -> failed with the URL; a connection closed before any answer -> retried like a
503; a stream cut mid-answer -> failed, the partial answer kept; malformed JSON -> failed with
the offending line, truncated; a 200 that is not an event stream -> read as a whole
(non-streamed) answer if it is one, else failed naming what came back. Standard library only.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from .agents import AgentFailed, RunContext
from .redaction import Redactor
from .sse import (
    ConnectFailed,
    HttpReply,
    NoAnswer,
    SseEvent,
    SseParser,
    StreamCut,
    post_stream,
)

__all__ = ["RETRY_STATUSES", "AnthropicAgent", "ModelAgent", "OpenAIAgent"]

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
LINE_SHOWN = 200  # characters of a malformed line quoted in the error
ERROR_SHOWN = 300  # characters of the API's error message quoted in the error
MAX_BACKOFF = 60.0


class ModelAgent:
    """Shared machinery: request, retries, streaming and error classification. Subclasses
    say how to build the request and read the events (`_body`, `_headers`, `_on_event`)."""

    kind: ClassVar[str] = "model"
    default_base_url: ClassVar[str] = ""
    default_key_env: ClassVar[str] = ""
    endpoint: ClassVar[str] = ""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str | None = None,
        system: str = "",
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout: float = 120.0,
        name: str | None = None,
        retry_base: float = 1.0,
        max_retries: int = 4,
    ) -> None:
        if not model:
            raise ValueError(f"{self.kind} agent needs a model name")
        base = (base_url or self.default_base_url).rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ValueError(f"base_url {base!r} must start with http:// or https://")
        self.model = model
        self.base_url = base
        self.url = base + self.endpoint
        self.api_key_env = api_key_env
        self.system = system
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.retry_base = retry_base
        self.max_retries = max_retries
        self.name = name or model
        # For the redactor: the key's value is masked in output and errors even when its
        # variable's name does not look secret.
        var = self.key_env
        self.env: dict[str, str] = {var: os.environ[var]} if os.environ.get(var) else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r}, base_url={self.base_url!r})"

    # -- what subclasses provide ---------------------------------------------------------

    def _headers(self, key: str | None) -> dict[str, str]:
        raise NotImplementedError

    def _body(self, prompt: str) -> dict[str, Any]:
        raise NotImplementedError

    def _on_event(self, event: SseEvent, data: Any, stream: _StreamState) -> None:
        """Handle one parsed event: emit text, record usage, set `stream.done`."""
        raise NotImplementedError

    def _on_answer(self, data: dict[str, Any], stream: _StreamState) -> bool:
        """Read a whole non-streamed answer (emit its text, record usage); False when `data`
        is not one."""
        raise NotImplementedError

    # -- running -------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """`text` with this agent's key and the environment's secrets masked: error text
        quoting the server is redacted here, before it is cut, since a cut secret no longer
        matches what the run's redactor would mask."""
        return Redactor.from_env(self.env)(text)

    @property
    def key_env(self) -> str:
        """The variable named in errors: the configured one, else the provider's usual."""
        return self.api_key_env or self.default_key_env

    def _key(self) -> str | None:
        if self.api_key_env:
            key = os.environ.get(self.api_key_env, "")
            if not key:
                raise AgentFailed(f"authentication: ${self.api_key_env} is not set "
                                  f"(api_key_env of agent {self.name!r})")
            self.env = {self.api_key_env: key}
            return key
        value = os.environ.get(self.default_key_env) or None  # local servers need none
        if value:
            self.env = {self.default_key_env: value}
        return value

    async def execute(self, ctx: RunContext) -> int | None:
        key = self._key()
        body = json.dumps(self._body(ctx.full_prompt)).encode()
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream",
                   **self._headers(key)}
        attempt = 0
        while True:
            attempt += 1
            stream = _StreamState(self, ctx)
            try:
                reply = await post_stream(self.url, body, headers, read_timeout=self.timeout,
                                          on_line=stream.line)
            except ConnectFailed as exc:
                raise AgentFailed(f"cannot connect to {self.url}: {exc}") from None
            except NoAnswer as exc:
                await self._after_no_answer(str(exc), attempt, ctx)
                continue
            except StreamCut as exc:
                stream.check()
                raise AgentFailed(stream.cut_message(str(exc))) from None
            except TimeoutError:
                stream.check()
                raise AgentFailed(f"no data from {self.url} for {self.timeout:g}s (the "
                                  f"agent's request timeout){stream.kept()}") from None
            stream.check()
            if 200 <= reply.status < 300:
                if not reply.streamed:
                    self._whole_body(reply, stream)
                stream.finish()
                return None
            await self._after_error(reply, attempt, ctx)

    async def _after_no_answer(self, why: str, attempt: int, ctx: RunContext) -> None:
        """Nothing came back, so nothing was spent: try again with backoff while the run's
        timeout allows, like a 503."""
        what = f"no answer from {self.url}: {why}"
        if attempt > self.max_retries:
            raise AgentFailed(f"{what}, still after {attempt} attempts")
        wait = min(self.retry_base * 2 ** (attempt - 1), MAX_BACKOFF)
        left = ctx.seconds_left()
        if left is not None and wait >= left:
            raise AgentFailed(f"{what}; the next try (in {wait:g}s) would be past the run's "
                              f"timeout ({left:.0f}s left)")
        if ctx.clock is not None:
            await ctx.clock.sleep(wait)
        else:
            await asyncio.sleep(wait)

    def _whole_body(self, reply: HttpReply, stream: _StreamState) -> None:
        """A 2xx that is not an event stream: a complete JSON answer (a server that ignores
        "stream": true), an event stream under another Content-Type, or else a failure that
        says what came back (a proxy's sign-in page, a job id)."""
        text = reply.body.decode("utf-8", "replace")
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            if isinstance(data.get("error"), dict | str):
                raise AgentFailed(f"the API reported an error: {_error_detail(reply.body)}")
            try:
                whole = self._on_answer(data, stream)
            except (AttributeError, KeyError, TypeError, IndexError, ValueError):
                whole = False
            if whole:
                stream.done = True
                stream.check()
                return
        elif data is None and text.lstrip().startswith(("data:", "event:", ":")):
            for line in text.splitlines(keepends=True):
                if stream.line(line):
                    break
            stream.check()
            return
        kind = (reply.headers.get("content-type") or "").split(";")[0].strip()
        nor = " nor a complete answer" if isinstance(data, dict) else ""
        raise AgentFailed(f"{self.url} answered HTTP {reply.status} with {kind or 'no type'}, "
                          f"not an event stream{nor}: {_error_detail(reply.body)}")

    async def _after_error(self, reply: HttpReply, attempt: int, ctx: RunContext) -> None:
        """Raise AgentFailed for a final error; sleep before the next try otherwise."""
        status = reply.status
        detail = _error_detail(reply.body, self.redact)
        if status in (401, 403):
            raise AgentFailed(f"authentication: check ${self.key_env} (HTTP {status} from "
                              f"{self.url})")
        if status not in RETRY_STATUSES:
            raise AgentFailed(f"HTTP {status} from {self.url}" + (f": {detail}" if detail else ""))
        what = "rate limited" if status == 429 else "server error"
        if attempt > self.max_retries:
            raise AgentFailed(f"{what} (HTTP {status}) from {self.url}, still after "
                              f"{attempt} attempts" + (f": {detail}" if detail else ""))
        wait = _retry_after(reply.headers.get("retry-after"), ctx.now())
        if wait is None:
            wait = min(self.retry_base * 2 ** (attempt - 1), MAX_BACKOFF)
        left = ctx.seconds_left()
        if left is not None and wait >= left:
            raise AgentFailed(f"{what} (HTTP {status}) from {self.url}; the next try (in "
                              f"{wait:g}s) would be past the run's timeout ({left:.0f}s left)"
                              + (f": {detail}" if detail else ""))
        if ctx.clock is not None:
            await ctx.clock.sleep(wait)
        else:
            await asyncio.sleep(wait)


class _StreamState:
    """One response being read: SSE parsing, JSON decoding, text emitted so far."""

    def __init__(self, agent: ModelAgent, ctx: RunContext) -> None:
        self.agent = agent
        self.ctx = ctx
        self.parser = SseParser()
        self.chars = 0
        self.last = ""
        self.done = False
        self.error: AgentFailed | None = None
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.usage_seen = False  # the server reported usage (maybe zero) at all
        self.ended = False  # a finish_reason came: the answer is whole, end marker or not

    def line(self, text: str) -> bool:
        """Called on the loop for each body line while the response streams; True once
        nothing more is wanted (the end marker, or an error)."""
        if self.error is None and not self.done:
            event = self.parser.feed(text)
            if event is not None:
                self._event(event)
        return self.error is not None or self.done

    def _event(self, event: SseEvent) -> None:
        if event.data.strip() == "[DONE]":
            self.done = True
            return
        try:
            data = json.loads(event.data)
        except ValueError:
            shown = _cut(self.agent.redact(event.data), LINE_SHOWN)
            if len(event.data) > LINE_SHOWN:
                shown += f" ({len(event.data):,} characters)"
            self.error = AgentFailed(f"malformed JSON in the stream from {self.agent.url} "
                                     f"(line {event.line}): {shown}{self.kept()}")
            return
        if isinstance(data, dict) and isinstance(data.get("error"), dict | str):
            detail = _error_detail(json.dumps(data).encode(), self.agent.redact)
            self.error = AgentFailed(f"the API reported an error mid-stream: "
                                     f"{detail}{self.kept()}")
            return
        try:
            self.agent._on_event(event, data, self)
        except (AttributeError, KeyError, TypeError, IndexError, ValueError) as exc:
            why = self.agent.redact(f"{type(exc).__name__}: {exc}")
            line = _cut(self.agent.redact(event.data), LINE_SHOWN, mark="")
            self.error = AgentFailed(f"unexpected event from {self.agent.url} (line "
                                     f"{event.line}, {why}): {line}{self.kept()}")

    def text(self, delta: Any) -> None:
        if isinstance(delta, str) and delta:
            self.chars += len(delta)
            self.last = delta
            self.ctx.emit(delta, "stdout")

    def check(self) -> None:
        """Raise what the stream found wrong, recording usage seen so far first."""
        if self.prompt_tokens or self.completion_tokens:
            self.ctx.add_usage(self.prompt_tokens, self.completion_tokens)
            self.prompt_tokens = self.completion_tokens = 0
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        if (event := self.parser.flush()) is not None and not self.done:
            self._event(event)
            self.check()
        if not self.done and self.ended and self.usage_seen:
            self.done = True  # finish_reason, then usage: only the [DONE] line is missing
        if not self.done:
            raise AgentFailed(self.cut_message("the body ended before the answer's end marker"))
        if self.chars and not self.last.endswith("\n"):
            self.ctx.emit("\n", "stdout")
        if not self.usage_seen:
            self.ctx.emit(f"crondeck: {self.agent.url} reported no token usage: this run's "
                          "tokens are not counted, so daily_token_budget cannot be enforced "
                          "and no cost is known\n", "stderr")

    def kept(self) -> str:
        return f" ({self.chars:,} characters of partial answer kept)" if self.chars else ""

    def cut_message(self, why: str) -> str:
        return (f"stream cut mid-answer from {self.agent.url}: {why}"
                f"{self.kept() or ' (nothing had arrived)'}")


class OpenAIAgent(ModelAgent):
    """Any OpenAI-compatible Chat Completions endpoint (`base_url` ends before
    `/chat/completions`, e.g. "http://localhost:11434/v1" for Ollama)."""

    kind = "openai"
    default_base_url = "https://api.openai.com/v1"
    default_key_env = "OPENAI_API_KEY"
    endpoint = "/chat/completions"

    def _headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _body(self, prompt: str) -> dict[str, Any]:
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": prompt})
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True,
                                "stream_options": {"include_usage": True}}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        return body

    def _on_event(self, event: SseEvent, data: Any, stream: _StreamState) -> None:
        for choice in data.get("choices") or ():
            stream.text((choice.get("delta") or {}).get("content"))
            if choice.get("finish_reason"):
                stream.ended = True
        _openai_usage(data.get("usage"), stream)

    def _on_answer(self, data: dict[str, Any], stream: _StreamState) -> bool:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            return False
        for choice in choices:
            stream.text((choice.get("message") or {}).get("content"))
        _openai_usage(data.get("usage"), stream)
        return True


class AnthropicAgent(ModelAgent):
    """The Anthropic Messages API (`max_tokens` is required there: default 1024)."""

    kind = "anthropic"
    default_base_url = "https://api.anthropic.com/v1"
    default_key_env = "ANTHROPIC_API_KEY"
    endpoint = "/messages"
    version = "2023-06-01"

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": self.version}
        if key:
            headers["x-api-key"] = key
        return headers

    def _body(self, prompt: str) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens or 1024,
                                "messages": [{"role": "user", "content": prompt}],
                                "stream": True}
        if self.system:
            body["system"] = self.system
        if self.temperature is not None:
            body["temperature"] = self.temperature
        return body

    def _on_event(self, event: SseEvent, data: Any, stream: _StreamState) -> None:
        kind = data.get("type", event.event)
        if kind == "message_start":
            usage = data["message"].get("usage")
            stream.usage_seen = isinstance(usage, dict)
            usage = usage or {}
            stream.prompt_tokens = _input_tokens(usage)
            stream.completion_tokens = int(usage.get("output_tokens") or 0)
        elif kind == "content_block_delta":
            delta = data["delta"]
            if delta.get("type", "text_delta") == "text_delta":
                stream.text(delta.get("text"))
        elif kind == "message_delta":
            usage = data.get("usage") or {}
            stream.usage_seen = stream.usage_seen or bool(usage)
            if "output_tokens" in usage:  # cumulative
                stream.completion_tokens = int(usage["output_tokens"] or 0)
            if any(k in usage for k in ("input_tokens", "cache_read_input_tokens")):
                stream.prompt_tokens = max(stream.prompt_tokens, _input_tokens(usage))
        elif kind == "message_stop":
            stream.done = True


    def _on_answer(self, data: dict[str, Any], stream: _StreamState) -> bool:
        content = data.get("content")
        if data.get("type") != "message" or not isinstance(content, list):
            return False
        for block in content:
            if block.get("type") == "text":
                stream.text(block.get("text"))
        usage = data.get("usage")
        if isinstance(usage, dict):
            stream.usage_seen = True
            stream.prompt_tokens = _input_tokens(usage)
            stream.completion_tokens = int(usage.get("output_tokens") or 0)
        return True


def _openai_usage(usage: Any, stream: _StreamState) -> None:
    if isinstance(usage, dict):
        stream.usage_seen = True
        stream.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        stream.completion_tokens = int(usage.get("completion_tokens") or 0)


def _input_tokens(usage: Mapping[str, Any]) -> int:
    return sum(int(usage.get(k) or 0) for k in
               ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (seconds, or an HTTP date measured from `now`, the
    scheduler's clock), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _cut(text: str, limit: int, mark: str = "…") -> str:
    """`text` cut to `limit` characters (then `mark`), never inside a `[REDACTED…]` mask:
    callers redact first, so a cut can only shorten a mask, never reveal part of a secret."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    start = head.rfind("[")
    if start != -1 and text.startswith("[REDACTED", start) and "]" not in head[start:]:
        end = text.find("]", start)
        head = text[:end + 1] if end != -1 else head[:start]
    return head + mark


def _error_detail(body: bytes, redact: Callable[[str], str] = lambda s: s) -> str:
    """The API's own error message (OpenAI and Anthropic shapes), one line, redacted with
    `redact` and then truncated."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            text = str(err.get("message") or err.get("type") or text)
        elif isinstance(err, str):
            text = err
    text = redact(" ".join(text.split()))
    return _cut(text, ERROR_SHOWN)
