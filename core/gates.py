"""Pre-run gates: a shell command or Python callable that decides, before each tick, whether
the agent runs and with what extra context. Decision table, exactly:

| gate                               | decision                                               |
|------------------------------------|--------------------------------------------------------|
| exit 0 with stdout                 | run; stdout (capped at 8,000 chars) appended to prompt |
| exit 0, empty stdout               | run with the prompt alone                              |
| non-zero exit                      | skipped; reason = first 500 chars of stderr, code kept |
| timeout (default 30 s, per job)    | skipped; the gate's process group is killed            |
| raises / cannot be started         | run (defensive), error recorded                        |

(`on_gate_error="skip"` per job turns the last row into a skip.)

A Python gate maps onto the same table: returning a non-empty string = stdout; None, True or
"" = empty stdout; False or raising `GateSkip(reason)` = non-zero exit; any other exception
= "raises". Sync callables run in a thread, subprocesses in their own process group, so a
slow gate never blocks other jobs. A shell gate that exits 126/127 (the shell could not
find or execute it) counts as "cannot be started".
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from .agents import RunContext
from .clock import Clock, in_thread
from .process import spawn, terminate_group
from .results import GateResult

__all__ = ["CONTEXT_LIMIT", "REASON_LIMIT", "Gate", "GateSkip", "run_gate"]

CONTEXT_LIMIT = 8_000
REASON_LIMIT = 500
_READ_CAP = 256 * 1024  # bytes kept from a gate stream; the rest is read and discarded

Gate = str | Sequence[str] | Callable[..., Any]
OnGateError = Literal["run", "skip"]


class GateSkip(Exception):
    """Raised by a Python gate to skip this tick with a reason (like a non-zero exit)."""


async def run_gate(
    gate: Gate,
    ctx: RunContext,
    *,
    limit: float,
    clock: Clock,
    on_error: OnGateError = "run",
    redact: Callable[[str], str] = lambda s: s,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> GateResult:
    """Run `gate` for one tick and apply the decision table. Never raises (but propagates
    cancellation after killing the gate)."""
    started = time.monotonic()
    if callable(gate):
        result = await _callable_gate(gate, ctx, limit, clock, on_error, redact)
    else:
        result = await _command_gate(gate, ctx, limit, clock, on_error, redact, env, cwd)
    return GateResult(
        run=result.run,
        exit_code=result.exit_code,
        context=result.context,
        reason=result.reason,
        error=result.error,
        timed_out=result.timed_out,
        duration=round(time.monotonic() - started, 6),
    )


def _ran(stdout: str, redact: Callable[[str], str], exit_code: int | None) -> GateResult:
    context = redact(stdout.strip())[:CONTEXT_LIMIT]
    return GateResult(run=True, exit_code=exit_code, context=context)


def _errored(message: str, on_error: OnGateError, exit_code: int | None = None) -> GateResult:
    if on_error == "skip":
        return GateResult(run=False, exit_code=exit_code, reason=message, error=message)
    return GateResult(run=True, exit_code=exit_code, error=message)


def _timed_out(timeout: float) -> GateResult:
    return GateResult(run=False, reason=f"gate timed out after {timeout:g}s", timed_out=True)


async def _race(coro: Any, clock: Clock, limit: float) -> tuple[bool, Any]:
    """Await `coro` against the clock; (True, value) if it finished, (False, None) on timeout.
    Uses the scheduler's clock so a FakeClock can time gates out in tests."""
    task = asyncio.ensure_future(coro)
    timer = asyncio.ensure_future(clock.sleep(limit))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        timer.cancel()
        raise
    timer.cancel()
    if task.done():
        return True, task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False, None


async def _callable_gate(
    gate: Callable[..., Any],
    ctx: RunContext,
    limit: float,
    clock: Clock,
    on_error: OnGateError,
    redact: Callable[[str], str],
) -> GateResult:
    args: tuple[Any, ...] = (ctx,) if _takes_arg(gate) else ()
    try:
        if inspect.iscoroutinefunction(gate):
            finished, value = await _race(gate(*args), clock, limit)
        else:
            with in_thread():  # (a FakeClock waits for it)
                finished, value = await _race(asyncio.to_thread(gate, *args), clock, limit)
        if finished and inspect.isawaitable(value):
            finished, value = await _race(value, clock, limit)
    except GateSkip as skip:
        return GateResult(run=False, reason=redact(str(skip))[:REASON_LIMIT] or "gate skipped")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return _errored(redact(f"gate raised {type(exc).__name__}: {exc}"), on_error)
    if not finished:
        return _timed_out(limit)
    if value is False:
        return GateResult(run=False, reason="gate returned False")
    if value is None or value is True:
        return GateResult(run=True)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return _ran(str(value), redact, None)


def _takes_arg(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params
    )


async def _read_capped(reader: asyncio.StreamReader) -> bytes:
    kept = bytearray()
    while chunk := await reader.read(65536):
        if len(kept) < _READ_CAP:
            kept += chunk[: _READ_CAP - len(kept)]
    return bytes(kept)


async def _command_gate(
    gate: str | Sequence[str],
    ctx: RunContext,
    limit: float,
    clock: Clock,
    on_error: OnGateError,
    redact: Callable[[str], str],
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
) -> GateResult:
    shell = isinstance(gate, str)
    argv = ["/bin/sh", "-c", gate] if isinstance(gate, str) else list(gate)
    full_env = {**os.environ, **(env or {}), **ctx.env()}
    try:
        child = await spawn(argv, env=full_env, cwd=cwd, stdin=False)
    except (OSError, ValueError) as exc:
        return _errored(redact(f"gate could not be started: {exc}"), on_error)
    proc = child.proc
    assert proc.stdout is not None and proc.stderr is not None
    out_task = asyncio.ensure_future(_read_capped(proc.stdout))
    err_task = asyncio.ensure_future(_read_capped(proc.stderr))

    async def finish() -> int:
        code = await child.wait_exit()
        # Children left in the gate's group would hold the pipes open: end them.
        await terminate_group(child, 0.5)
        await asyncio.wait({out_task, err_task}, timeout=1.0)
        return code

    try:
        try:
            finished, code = await _race(finish(), clock, limit)
        except asyncio.CancelledError:
            await asyncio.shield(terminate_group(child, 0, sig=signal.SIGKILL))
            raise
        if not finished:
            await terminate_group(child, 0, sig=signal.SIGKILL)
            return _timed_out(limit)
    finally:
        for t in (out_task, err_task):
            if not t.done():
                t.cancel()
        child.close()
    if not (out_task.done() and err_task.done()) or out_task.cancelled() or err_task.cancelled():
        return GateResult(run=False, exit_code=code, reason="gate output could not be read")
    stdout = out_task.result().decode("utf-8", "replace")
    stderr = err_task.result().decode("utf-8", "replace")
    if code == 0:
        return _ran(stdout, redact, 0)
    if shell and code in (126, 127):
        detail = redact(stderr.strip())[:REASON_LIMIT] or f"exit code {code}"
        return _errored(f"gate could not be started: {detail}", on_error, code)
    # Redact before cutting, so a secret straddling the cut cannot leak half of itself.
    reason = redact(stderr.strip())[:REASON_LIMIT] or f"gate exited with code {code}"
    return GateResult(run=False, exit_code=code, reason=reason)
