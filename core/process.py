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

__all__ = ["LINE_LIMIT", "group_alive", "pump_lines", "spawn", "terminate_group"]

LINE_LIMIT = 1 << 20  # a longer "line" is delivered in pieces instead of failing the read


async def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
    stdin: bool,
) -> asyncio.subprocess.Process:
    """Start `argv` as the leader of a new session/process group with piped output."""
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        start_new_session=True,
        limit=LINE_LIMIT,
    )


async def pump_lines(reader: asyncio.StreamReader, emit: Callable[[str], None]) -> None:
    """Deliver each line (newline kept) as soon as it arrives; decode UTF-8 leniently."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        try:
            data = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:  # EOF: whatever is left, then stop
            text = decoder.decode(e.partial, final=True)
            if text:
                emit(text)
            return
        except asyncio.LimitOverrunError as e:
            data = await reader.read(max(e.consumed, 1))
        text = decoder.decode(data)
        if text:
            emit(text)


def group_alive(pgid: int) -> bool:
    """Whether any process (zombies included) is still in process group `pgid`."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


async def terminate_group(
    proc: asyncio.subprocess.Process, grace: float, *, sig: int = signal.SIGTERM
) -> None:
    """SIGTERM (or `sig`) the process group led by `proc`, wait up to `grace` seconds for it
    to empty, SIGKILL whatever is left, and reap the leader. Uses real time on purpose: it
    is about real processes, whatever clock the scheduler runs on."""
    pgid = proc.pid
    if sig != signal.SIGKILL and _signal_group(pgid, sig):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, grace)
        while loop.time() < deadline:
            if proc.returncode is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(proc.wait()), 0.02)
            else:
                await asyncio.sleep(0.02)
            if proc.returncode is not None and not group_alive(pgid):
                return
    _signal_group(pgid, signal.SIGKILL)
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    await proc.wait()
