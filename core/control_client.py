"""Clients of the control socket (docs/control.md): `ControlClient` for asyncio programs that
follow the stream (the console), and the blocking `control_call` for one command (the CLI,
which starts fast and never loads asyncio for it).

Both check the socket before connecting: it must be a socket owned by this user with no
group or other permission bits, or they refuse it (`ControlError`, code "unsafe_socket").
Nothing listening (no socket file, or one a dead scheduler left) is `NoScheduler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .collector import collector_paused
from .control import PROTOCOL_VERSION, ControlError, socket_address

__all__ = ["ControlClient", "NoScheduler", "check_socket", "control_call"]

READ_LIMIT = 1 << 30  # a snapshot of many jobs is one long line


class NoScheduler(ControlError):
    """No scheduler serves this socket (no socket file, or nobody listening on it)."""

    def __init__(self, path: str | os.PathLike[str], why: str = "") -> None:
        super().__init__("no_scheduler", f"no scheduler is running on {os.fspath(path)}"
                         + (f" ({why})" if why else ""))
        self.path = Path(path)


def check_socket(path: str | os.PathLike[str]) -> None:
    """Refuse a control socket another user could have put there or could reach: it must be
    a socket, owned by us, without group/other permission bits. No file: NoScheduler."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise NoScheduler(path, "no socket file") from None
    except OSError as exc:
        raise ControlError("unsafe_socket",
                           f"cannot look at the control socket {os.fspath(path)}: "
                           f"{exc.strerror or exc}") from None
    mode = stat.S_IMODE(st.st_mode)
    if not stat.S_ISSOCK(st.st_mode):
        raise ControlError("unsafe_socket", f"{os.fspath(path)} is not a socket (mode "
                           f"{stat.filemode(st.st_mode)}); a scheduler's control socket is a "
                           "Unix socket: remove the file and restart the scheduler")
    if st.st_uid != os.geteuid():
        raise ControlError("unsafe_socket", f"refusing the control socket {os.fspath(path)}: "
                           f"it belongs to uid {st.st_uid}, not to you (uid {os.geteuid()}); "
                           "only your own scheduler's socket is trusted")
    if mode & 0o077:
        raise ControlError("unsafe_socket", f"refusing the control socket {os.fspath(path)}: "
                           f"its mode is {mode:04o}, open to other users; it must be 0600 "
                           "(only the owner): restart the scheduler, or chmod 600 it")


def _connect_error(path: str | os.PathLike[str], exc: OSError) -> ControlError:
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return NoScheduler(path, "nothing listens on it" if
                           isinstance(exc, ConnectionRefusedError) else "no socket file")
    return ControlError("disconnected", f"cannot connect to {os.fspath(path)}: "
                                        f"{exc.strerror or exc}")


def _raise_for(msg: dict[str, Any]) -> dict[str, Any]:
    """A reply's result, or the ControlError it carries."""
    if msg.get("type") == "error":
        raise ControlError(str(msg.get("code") or "protocol"), str(msg.get("error", "")))
    if not msg.get("ok"):
        raise ControlError(str(msg.get("code") or "internal"), str(msg.get("error", "")))
    result = msg.get("result")
    return result if isinstance(result, dict) else {}


def _hello(client: str, subscribe: bool, shared: bool = False) -> dict[str, Any]:
    hello = {"op": "hello", "version": PROTOCOL_VERSION, "client": client,
             "subscribe": subscribe}
    if shared:
        hello["shared"] = True
    return hello


# --- blocking, one command ----------------------------------------------------------------


def control_call(path: str | os.PathLike[str], op: str, timeout: float = 5.0,
                 **args: Any) -> dict[str, Any]:
    """Say hello, send one command, return its result; blocking, with a deadline of
    `timeout` seconds for the whole exchange. Raises NoScheduler when no scheduler serves
    `path`, ControlError for a refused command (`.code`, one-line message)."""
    check_socket(path)
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            with socket_address(Path(path)) as address:
                sock.connect(address)
        except OSError as exc:
            raise _connect_error(path, exc) from None
        request = {"op": op, "id": 1, **args}
        payload = (json.dumps(_hello("crondeck cli", False)) + "\n"
                   + json.dumps(request, ensure_ascii=False) + "\n").encode()
        buffer = b""
        try:
            try:
                sock.sendall(payload)
            except OSError:  # refused mid-write (another user, a bad version): read why
                pass
            while True:
                while b"\n" not in buffer:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError
                    sock.settimeout(left)
                    data = sock.recv(65536)
                    if not data:
                        raise ControlError("disconnected", f"the scheduler on {os.fspath(path)} "
                                           f"closed the connection before answering {op!r}")
                    buffer += data
                line, _, buffer = buffer.partition(b"\n")
                msg = json.loads(line)
                if not isinstance(msg, dict):
                    continue
                if msg.get("type") == "error" or (msg.get("type") == "reply"
                                                  and msg.get("id") == 1):
                    return _raise_for(msg)
        except TimeoutError:
            raise ControlError("timeout", f"the scheduler on {os.fspath(path)} did not answer "
                               f"{op!r} within {timeout:g}s") from None
        except ValueError as exc:
            raise ControlError("protocol", f"the scheduler on {os.fspath(path)} sent a line "
                               f"that is not JSON: {exc}") from None
        except OSError as exc:
            raise ControlError("disconnected", f"lost the scheduler on {os.fspath(path)}: "
                               f"{exc.strerror or exc}") from None


# --- asyncio, following the stream ------------------------------------------------------


BIG_LINE = 1024 * 1024  # a line this long is read with the cyclic collector paused
READ_SLICE = 0.005  # seconds of reading buffered lines before other tasks get the loop


class ControlClient:
    """A connection to a scheduler's control socket. `connect()` says hello (and with
    `subscribe=True` waits for the first snapshot: `.snapshot`); then `async for message in
    client` yields every line that is not a reply (event, job, scheduler, snapshot after a
    resync, bye, error) as a dict, and `await call(op, **args)` sends a command and returns
    its result or raises ControlError. Iteration ends when the connection does.
    `timeout` bounds connecting (hello and the first snapshot) and each command's reply.
    With `shared=True` the client says it reads shared parts: a scheduler that offers them
    (`hello["shared"]`) sends each schedule, agent, options and state part once per
    snapshot, in its `shared` lists, and the records' `schedule`, `agent`, `options` and
    `state` are their numbers there (`resolve_shared` turns such a record back into the
    full one); an older scheduler sends full records as ever."""

    timeout = 10.0

    def __init__(self, path: Path, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.path = path
        self.hello: dict[str, Any] = {}
        self.snapshot: dict[str, Any] | None = None
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._calls: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._messages: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        self.close_reason = ""

    @classmethod
    async def connect(cls, path: str | os.PathLike[str], *, subscribe: bool = False,
                      client: str = "crondeck", shared: bool = False) -> ControlClient:
        check_socket(path)
        timeout = cls.timeout
        try:
            with socket_address(Path(path)) as address:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_unix_connection(address, limit=READ_LIMIT), timeout)
        except TimeoutError:
            raise ControlError("timeout", f"connecting to {os.fspath(path)} took over "
                                          f"{timeout:g}s") from None
        except OSError as exc:
            raise _connect_error(path, exc) from None
        self = cls(Path(path), reader, writer)
        try:
            writer.write((json.dumps(_hello(client, subscribe, shared)) + "\n").encode())
            self.hello = await asyncio.wait_for(self._first("hello"), timeout)
            if subscribe:
                self.snapshot = await asyncio.wait_for(self._first("snapshot"), timeout)
        except TimeoutError:
            await self.close()
            raise ControlError("timeout", f"the scheduler on {os.fspath(path)} did not "
                                          f"answer hello within {timeout:g}s") from None
        except BaseException:
            await self.close()
            raise
        self._task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _line(self) -> dict[str, Any] | None:
        try:
            raw = await self._reader.readline()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        if not raw:
            return None
        try:
            if len(raw) > BIG_LINE:  # a snapshot: its objects hold no cycles to look for
                with collector_paused():
                    msg = json.loads(raw)
            else:
                msg = json.loads(raw)
        except ValueError as exc:
            raise ControlError("protocol", f"the scheduler sent a line that is not JSON: "
                                           f"{exc}") from None
        return msg if isinstance(msg, dict) else {}

    async def _first(self, kind: str) -> dict[str, Any]:
        while True:
            msg = await self._line()
            if msg is None:
                raise ControlError("disconnected", f"the scheduler on {self.path} closed the "
                                                   f"connection before its {kind}")
            if msg.get("type") == "error":
                _raise_for(msg)
            if msg.get("type") == kind:
                return msg

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        turn = loop.time()
        try:
            while True:
                if loop.time() - turn > READ_SLICE:  # lines already buffered do not yield
                    await asyncio.sleep(0)
                    turn = loop.time()
                asked = loop.time()
                msg = await self._line()
                if loop.time() - asked > READ_SLICE:
                    # it waited for the scheduler: a burst starts here and is taken whole
                    # (a reload's lines applied in one turn, not its first line alone)
                    turn = loop.time()
                if msg is None:
                    break
                if msg.get("type") == "reply":
                    fut = self._calls.pop(msg.get("id"), None)  # type: ignore[arg-type]
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                    continue
                if msg.get("type") in ("bye", "error"):
                    self.close_reason = str(msg.get("reason") or msg.get("error") or "")
                self._messages.put_nowait(msg)
        except ControlError as exc:
            self.close_reason = str(exc)
        finally:
            self.closed = True
            for fut in self._calls.values():
                if not fut.done():
                    fut.set_exception(ControlError(
                        "disconnected", f"the scheduler on {self.path} went away"
                        + (f": {self.close_reason}" if self.close_reason else "")))
            self._calls.clear()
            self._messages.put_nowait(None)

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Send one command and wait for its reply's result (ControlError if refused)."""
        timeout = self.timeout
        if self.closed:
            raise ControlError("disconnected", f"the connection to {self.path} is closed")
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._calls[rid] = fut
        try:
            self._writer.write((json.dumps({"op": op, "id": rid, **args},
                                           ensure_ascii=False) + "\n").encode())
            msg = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise ControlError("timeout", f"the scheduler on {self.path} did not answer "
                                          f"{op!r} within {timeout:g}s") from None
        except OSError as exc:
            raise ControlError("disconnected", f"lost the scheduler on {self.path}: "
                                               f"{exc.strerror or exc}") from None
        finally:
            self._calls.pop(rid, None)
        return _raise_for(msg)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            msg = await self._messages.get()
            if msg is None:
                self._messages.put_nowait(None)  # later iterations end at once too
                return
            yield msg

    async def close(self) -> None:
        self.closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
