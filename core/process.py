"""Subprocesses in their own process group, read line by line, and torn down completely.

Agents and gates both run here. Every child gets a new session (so it leads its own process
group); ending it means SIGTERM to the whole group, a grace period, SIGKILL to the group,
and reaping the leader, so neither orphans nor zombies are left behind.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["LINE_LIMIT", "Child", "group_alive", "pump_lines", "spawn", "terminate_group"]

LINE_LIMIT = 1 << 20  # a longer "line" is delivered in pieces instead of failing the read


class _Protocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's protocol plus an event set when the process itself exits: Process.wait()
    also waits for the pipes to close, which a leftover grandchild can hold open forever."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


@dataclass(slots=True)
class Child:
    """A spawned process group leader, its transport, and an event for its own exit."""

    proc: asyncio.subprocess.Process
    transport: asyncio.SubprocessTransport
    exited: asyncio.Event

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    async def wait_exit(self) -> int:
        """The exit code, as soon as the leader exits (pipes may still be open)."""
        await self.exited.wait()
        code = self.proc.returncode
        assert code is not None
        return code

    def close(self) -> None:
        """Release the pipes (the process is already gone or killed by now)."""
        self.transport.close()


async def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
    stdin: bool,
) -> Child:
    """Start `argv` as the leader of a new session/process group with piped output."""
    loop = asyncio.get_running_loop()
    protocol: _Protocol | None = None

    def factory() -> _Protocol:
        nonlocal protocol
        protocol = _Protocol(LINE_LIMIT, loop)
        return protocol

    transport, _ = await loop.subprocess_exec(
        factory,
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        start_new_session=True,
    )
    assert protocol is not None
    proc = asyncio.subprocess.Process(transport, protocol, loop)
    return Child(proc, transport, protocol.exited)


async def pump_lines(
    reader: asyncio.StreamReader, emit: Callable[[str], None], partial_after: float = 0.1
) -> None:
    """Deliver each line (newline kept) as soon as it arrives, decoding UTF-8 leniently.

    Reads whatever is available and splits it, which is several times cheaper than one
    readuntil() per line under a flood. Text without a newline yet (a progress bar, a
    prompt) is delivered on its own after `partial_after` seconds of silence.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while True:
        try:
            if pending:
                data = await asyncio.wait_for(reader.read(65536), partial_after)
            else:
                data = await reader.read(65536)
        except TimeoutError:
            emit(pending)
            pending = ""
            continue
        if not data:
            pending += decoder.decode(b"", final=True)
            if pending:
                emit(pending)
            return
        text = pending + decoder.decode(data)
        start = 0
        while (end := text.find("\n", start)) != -1:
            emit(text[start : end + 1])
            start = end + 1
        pending = text[start:]
        if len(pending) >= LINE_LIMIT:
            emit(pending)
            pending = ""


def group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process is still in process group `pgid`. Zombies are
    ignored: orphans are reaped by init, which may be slow (or absent in containers)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


async def terminate_group(child: Child, grace: float, *, sig: int = signal.SIGTERM) -> None:
    """SIGTERM (or `sig`) the process group led by `child`, wait up to `grace` seconds for
    it to empty, then SIGKILL whatever is left; returns once the leader has exited (asyncio
    reaps it). Real time on purpose: this is about real processes, whatever the clock."""
    pgid = child.pid
    loop = asyncio.get_running_loop()
    if sig != signal.SIGKILL and _signal_group(pgid, sig):
        deadline = loop.time() + max(0.0, grace)
        while loop.time() < deadline:
            if child.returncode is not None and not group_alive(pgid):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.exited.wait(), 0.02)
    _signal_group(pgid, signal.SIGKILL)
    if child.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            child.proc.kill()
    await child.exited.wait()
