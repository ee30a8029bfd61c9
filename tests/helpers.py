"""Helpers shared by the tests, above all for waiting, bounded: poll a check until it holds
(or take the next event of a kind), and fail the test once the bound has passed. Importable
from any test as `from helpers import until` (pytest puts tests/ on sys.path with the conftest
beside this file)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def _failed(what: str, within: float) -> AssertionError:
    return AssertionError(f"not within {within:g}s: {what}")


async def until(check: Callable[[], T], within: float, what: str = "the condition", *,
                pilot: Any = None, every: float | None = None) -> T:
    """`check()`'s first truthy value, polled in real time while the loop runs; after
    `within` seconds (checked once more at the bound) an AssertionError naming `what`.
    Between checks it sleeps `every` seconds (0.02; 0.05 with a Textual `pilot`, as each
    check may render the screen). With a `pilot`, each check comes after `pilot.pause()`:
    a screen that has just come up has mounted what it shows."""
    step = every if every is not None else 0.05 if pilot is not None else 0.02
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while True:
        if pilot is not None:
            await pilot.pause()
        got = check()
        if got:
            return got
        if loop.time() >= end:
            raise _failed(what, within)
        await asyncio.sleep(step)


def wait_until(check: Callable[[], T], within: float, what: str = "the condition", *,
               every: float = 0.02) -> T:
    """`until` for code outside an event loop: blocks, sleeping `every` seconds between
    checks."""
    end = time.monotonic() + within
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() >= end:
            raise _failed(what, within)
        time.sleep(every)


def alive(pid: int) -> bool:
    """Whether process `pid` is running (Linux /proc; a zombie or a vanished process is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


async def next_event(events: AsyncIterable[Any], cls: type[T], within: float,
                     pred: Callable[[T], bool] = lambda e: True) -> T:
    """The next event of type `cls` (for which `pred` holds) from a subscription, within
    `within` seconds."""
    async def look() -> T:
        async for event in events:
            if isinstance(event, cls) and pred(event):
                return event
        raise AssertionError(f"stream ended before a {cls.__name__}")

    return await asyncio.wait_for(look(), within)


class Gate:
    """An agent that prints two lines, then waits to be released (a run in flight)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self) -> AsyncIterator[str]:
        yield "first line\n"
        yield "second line\n"
        await self.release.wait()
        yield "last line\n"


def crondeck_cli(config: Path, *args: str,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`crondeck --config CONFIG ARGS…` in a process of its own, its output captured (bounded
    by `timeout` seconds)."""
    return subprocess.run([sys.executable, "-m", "crondeck.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


class ScriptedLink:
    """A scheduler's control connection, for a RemoteScheduler under test (`connect=`): its
    hello and first snapshot, then the messages the test puts on `queue` (None ends it)."""

    def __init__(self, snapshot: dict[str, Any], started_at: datetime) -> None:
        self.hello = {"type": "hello", "version": 1, "pid": 4121, "kind": "crondeck run",
                      "started_at": started_at.isoformat()}
        self.snapshot = snapshot
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[dict[str, Any]]:
        while (message := await self.queue.get()) is not None:
            yield message

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        self.queue.put_nowait(None)
