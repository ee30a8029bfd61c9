"""A small OpenAI-compatible and Anthropic-compatible HTTP server on 127.0.0.1 for tests.

Each test queues the replies it wants (`FakeLLM.queue(...)`): a streamed answer (chunked
transfer encoding, like the real APIs), an error status with headers and body, a stream cut
in the middle of a chunk, a slow stream, one that waits for the test to release it, a
hang-up without any answer, or a body of any Content-Type. The server records every request
(path, headers, JSON body, when it arrived) and notices clients that hang up.
`answer_stream`/`partial_stream` give either API's event sequence, so one test can be
parametrized over both kinds of agent.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One response. `events` are written one HTTP chunk each (flushed), after `delay`
    seconds; `hold` (an Event) is waited on after `hold_after` pieces; `cut` closes the
    connection in the middle of a chunk instead of ending the body."""

    status: int = 200
    events: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    hold: threading.Event | None = None
    hold_after: int = 2  # pieces sent before waiting on `hold` (role delta + first text)
    cut: bool = False
    hang_up: bool = False  # read the request, then close the connection without a word
    content_type: str | None = None  # instead of text/event-stream or application/json
    raw: bytes = b""  # written as the whole reply, status line and all, then hang up


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    json: Any
    at: float = 0.0  # time.monotonic() when the server had read it: retry gaps as it sees them


def sse(data: Any, event: str | None = None) -> str:
    """One server-sent event holding `data` as JSON (or as is, for a string)."""
    text = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "") + f"data: {text}\n\n"


def openai_stream(pieces: Iterable[str], prompt_tokens: int = 0, completion_tokens: int = 0,
                  *, done: bool = True) -> list[str]:
    """The event sequence of a streamed Chat Completion, with a final usage chunk."""
    out = [sse({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})]
    out += [sse({"choices": [{"index": 0, "delta": {"content": p}}]}) for p in pieces]
    out.append(sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    if prompt_tokens or completion_tokens:
        out.append(sse({"choices": [], "usage": {
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}}))
    if done:
        out.append("data: [DONE]\n\n")
    return out


def anthropic_stream(pieces: Iterable[str], input_tokens: int = 0,
                     output_tokens: int = 0) -> list[str]:
    """The event sequence of a streamed Messages API answer."""
    out = [sse({"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "content": [],
        "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}, "message_start"),
        sse({"type": "content_block_start", "index": 0,
             "content_block": {"type": "text", "text": ""}}, "content_block_start"),
        sse({"type": "ping"}, "ping")]
    out += [sse({"type": "content_block_delta", "index": 0,
                 "delta": {"type": "text_delta", "text": p}}, "content_block_delta")
            for p in pieces]
    out += [sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            sse({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                 "usage": {"output_tokens": output_tokens}}, "message_delta"),
            sse({"type": "message_stop"}, "message_stop")]
    return out


def error_body(message: str, kind: str = "invalid_request_error", api: str = "openai") -> bytes:
    """An error response body the way each API shapes it (Anthropic adds `"type": "error"`)."""
    error = {"error": {"message": message, "type": kind}}
    return json.dumps({"type": "error", **error} if api == "anthropic" else error).encode()


KINDS = ("openai", "anthropic")
ENDPOINTS = {"openai": "/chat/completions", "anthropic": "/messages"}


def answer_stream(kind: str, pieces: Iterable[str], prompt_tokens: int = 0,
                  completion_tokens: int = 0, *, end: bool = True) -> list[str]:
    """A whole streamed answer in `kind`'s API; `end=False` leaves out its end marker
    (`[DONE]`, `message_stop`), as a body that stops early would."""
    if kind == "openai":
        return openai_stream(pieces, prompt_tokens, completion_tokens, done=end)
    events = anthropic_stream(pieces, prompt_tokens, completion_tokens)
    return events if end else events[:-1]


def partial_stream(kind: str, pieces: Iterable[str]) -> list[str]:
    """The start of a streamed answer up to and including the text `pieces`, nothing after:
    what has arrived when a stream is cut mid-answer."""
    pieces = list(pieces)
    if kind == "openai":
        return openai_stream(pieces, done=False)[: 1 + len(pieces)]
    return anthropic_stream(pieces)[: 3 + len(pieces)]


class FakeLLM:
    """The server. Use as a context manager; `url` is the base_url to configure."""

    def __init__(self) -> None:
        self.replies: queue.Queue[Reply] = queue.Queue()
        self.requests: list[Request] = []
        self.disconnected = threading.Event()  # a client hung up while we were writing
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                fake.requests.append(Request(self.path, dict(self.headers.items()),
                                             json.loads(raw or b"null"), time.monotonic()))
                try:
                    reply = fake.replies.get_nowait()
                except queue.Empty:
                    reply = Reply(500, body=error_body("no reply queued in the fake"))
                try:
                    self._send(reply)
                except (BrokenPipeError, ConnectionResetError):
                    fake.disconnected.set()

            def _send(self, reply: Reply) -> None:
                if reply.raw:
                    self.wfile.write(reply.raw)
                    self.wfile.flush()
                if reply.hang_up or reply.raw:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.status != 200 or not reply.events:
                    self.send_header("Content-Type", reply.content_type or "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Content-Type", reply.content_type or "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i, piece in enumerate(reply.events):
                    if reply.delay:
                        time.sleep(reply.delay)
                    data = piece.encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                    if i + 1 == reply.hold_after and reply.hold is not None:
                        reply.hold.wait(30)
                if reply.cut:  # announce a chunk, send half of it, hang up
                    self.wfile.write(b"40\r\n" + b'data: {"choi')
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def queue(self, *replies: Reply) -> FakeLLM:
        for r in replies:
            self.replies.put(r)
        return self

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
