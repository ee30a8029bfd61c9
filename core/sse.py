"""Server-sent events over a blocking `http.client` connection, read in a thread.

Model APIs stream answers as SSE. `http.client` is blocking, so each request runs in its own
thread (never the default executor, which in-process Python agents use) and hands lines back
to the event loop; cancelling the awaiting task closes the socket, which ends the thread at
once. Nothing here knows about a particular API: `llm.py` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["ConnectFailed", "HttpReply", "NoAnswer", "SseEvent", "SseParser", "StreamCut",
           "post_stream"]

BODY_LIMIT = 16 * 1024 * 1024  # a whole (non-streamed) answer is read up to this size


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched event: its `event:` name ("message" by default) and joined `data:`."""

    event: str
    data: str
    line: int  # line number (1-based) of its last data line, for error messages


class SseParser:
    """Incremental SSE parser (the WHATWG rules that matter for model APIs): `data:` lines
    join with newlines, a blank line dispatches, `:` starts a comment, `event:` names it."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event = ""
        self._line = 0
        self._data_line = 0

    def feed(self, line: str) -> SseEvent | None:
        """Feed one line (with or without its newline); returns an event when one ends."""
        self._line += 1
        line = line.rstrip("\r\n")
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
            self._data_line = self._line
        elif name == "event":
            self._event = value
        return None

    def flush(self) -> SseEvent | None:
        """Dispatch what is pending (also used at end of stream)."""
        if not self._data:
            self._event = ""
            return None
        event = SseEvent(self._event or "message", "\n".join(self._data), self._data_line)
        self._data, self._event = [], ""
        return event


class ConnectFailed(Exception):
    """The server could not be reached (refused, DNS, TLS): nothing was sent."""


class StreamCut(Exception):
    """The connection ended in the middle of the body."""


class NoAnswer(Exception):
    """The request went out but the connection ended before any reply (a server restarting,
    a proxy dropping it): transient, like a 503."""


@dataclass
class HttpReply:
    """What one request came to: the status and headers, and the body when not streamed."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    # False when a 2xx came with another Content-Type than text/event-stream: `body` holds
    # it whole (a non-streamed JSON answer, an HTML page) and `on_line` saw none of it.
    streamed: bool = True


@dataclass
class _Exchange:
    conn: http.client.HTTPConnection | None = None
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        """Called from the loop on cancel: shutting the socket down wakes a blocked read."""
        with self.lock:
            self.closed = True
            conn = self.conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


async def post_stream(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    read_timeout: float,
    on_line: Callable[[str], bool],
) -> HttpReply:
    """POST `body` to `url`; with a 2xx reply, call `on_line` (on the loop) for each body
    line as it arrives and return once the body ends, or as soon as `on_line` returns True
    (the reader has seen enough: the end marker, or a malformed event). Other statuses
    return with the body read (error bodies are small). Raises ConnectFailed, StreamCut, or
    TimeoutError when no data came for `read_timeout` seconds. Cancelling closes the
    connection."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[HttpReply] = loop.create_future()
    exchange = _Exchange()

    def settle(result: HttpReply | None, exc: BaseException | None) -> None:
        if done.done():
            return
        if exc is not None:
            done.set_exception(exc)
        else:
            assert result is not None
            done.set_result(result)

    def deliver(line: str) -> None:
        if done.done() or exchange.closed:
            return
        if on_line(line):
            exchange.close()
            settle(HttpReply(200, {}), None)

    def work() -> None:
        try:
            reply = _blocking_post(url, body, headers, read_timeout, exchange,
                                   lambda line: loop.call_soon_threadsafe(deliver, line))
        except BaseException as exc:
            if not exchange.closed:
                with contextlib.suppress(RuntimeError):  # the loop may be gone
                    loop.call_soon_threadsafe(settle, None, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, reply, None)

    threading.Thread(target=work, name=f"crondeck-http {url}", daemon=True).start()
    try:
        return await done
    finally:
        if not done.done():
            exchange.close()
        elif exchange.conn is not None:
            exchange.conn.close()


def _blocking_post(url: str, body: bytes, headers: Mapping[str, str], timeout: float,
                   exchange: _Exchange, on_line: Callable[[str], object]) -> HttpReply:
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=timeout)
    with exchange.lock:
        if exchange.closed:
            raise ConnectionAbortedError("cancelled")
        exchange.conn = conn
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.connect()
    except (OSError, http.client.HTTPException) as exc:
        raise ConnectFailed(_os_reason(exc)) from None
    try:
        conn.request("POST", path, body=body, headers=dict(headers))
        resp = conn.getresponse()
    except http.client.RemoteDisconnected:
        if exchange.closed:
            raise
        raise NoAnswer("the server closed the connection without answering") from None
    except ConnectionError as exc:
        if exchange.closed:
            raise
        raise NoAnswer(_os_reason(exc)) from None
    except http.client.HTTPException as exc:  # a status line that is not HTTP, say
        if exchange.closed:
            raise
        raise NoAnswer(f"the reply is not HTTP ({type(exc).__name__}: {str(exc)[:80]!r})"
                       ) from None
    reply = HttpReply(resp.status, {k.lower(): v for k, v in resp.getheaders()})
    if not 200 <= resp.status < 300:
        with contextlib.suppress(OSError, http.client.HTTPException):
            reply.body = resp.read(64 * 1024)
        return reply
    kind = reply.headers.get("content-type")
    try:
        if kind is not None and not kind.lower().startswith("text/event-stream"):
            reply.streamed = False
            reply.body = resp.read(BODY_LIMIT)
            return reply
        while True:
            raw = resp.readline(1024 * 1024)
            if not raw:
                break
            on_line(raw.decode("utf-8", "replace"))
    except http.client.IncompleteRead:
        raise StreamCut("the connection closed in the middle of a chunk") from None
    except TimeoutError:
        raise
    except OSError as exc:  # reset mid-body, a TLS error
        if exchange.closed:
            raise
        raise StreamCut(_os_reason(exc)) from None
    return reply


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return f"name not found ({exc.strerror or exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
