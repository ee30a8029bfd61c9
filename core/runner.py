"""Running one dispatched slot: the start line, gate, concurrency limit, attempts with timeout
and retries, output collection, and the result, reported to a `RunHost` (see `abc.py`).

Runs prepared ahead of their slot wait on the start line for its instant. Dispatching a slot
(policies, run id, handle, task) costs tens of microseconds; when a thousand jobs fall due in
the same second, doing that work *at* the instant makes the last run start tens of
milliseconds late. The scheduler therefore wakes `lead` seconds early, prepares every slot due
by then, and parks each run on the start line; one clock timer per instant then releases them
all at once, so what remains at the instant is only resuming the tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from .abc import RunHost
from .agents import AgentFailed, RunContext
from .budget import account, cost_of
from .clock import CLOCK_JUMP, Clock
from .contracts import ANSWER_LIMIT, verify_output
from .events import (
    Event,
    GateDecided,
    GateStarted,
    OutputChunk,
    RunFinished,
    RunQueued,
    RunStarted,
)
from .gates import run_gate
from .jobs import Job, RunHandle
from .redaction import Redactor, StreamRedactor, refresh_env
from .results import GateResult, RunResult, RunStatus
from .templates import TemplateValues, render, uses_context

__all__ = ["Limiter", "OutputTail", "Runner", "StartLine", "call_later"]

STDERR_TAIL = 2_000
MAX_BACKOFF = 3600.0


class OutputTail:
    """Keeps the last `limit` bytes of interleaved output (and a short stderr tail for error
    messages), counting everything so the truncation note can say how much was dropped.
    Trimming is amortised (done when twice the limit is held) so a flood stays cheap."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self._parts: deque[tuple[str, int]] = deque()
        self._kept = 0
        self.total = 0
        self._stderr: deque[str] = deque()
        self._stderr_len = 0

    def add(self, text: str, stream: str) -> None:
        size = len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
        self.total += size
        self._parts.append((text, size))
        self._kept += size
        if self._kept > 2 * self.limit + 4096:
            self._trim()
        if stream == "stderr":
            self._stderr.append(text)
            self._stderr_len += len(text)
            while self._stderr_len > STDERR_TAIL and len(self._stderr) > 1:
                self._stderr_len -= len(self._stderr.popleft())

    def _trim(self) -> None:
        parts = self._parts
        while parts and self._kept - parts[0][1] >= self.limit:
            self._kept -= parts.popleft()[1]
        if self._kept > self.limit and parts:  # cut the front of the oldest piece
            head, size = parts[0]
            cut = head.encode("utf-8", "replace")[self._kept - self.limit :]
            text = cut.decode("utf-8", "ignore")
            new_size = len(text.encode())
            parts[0] = (text, new_size)
            self._kept -= size - new_size

    @property
    def dropped(self) -> int:
        self._trim()
        return self.total - self._kept

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    def text(self) -> str:
        self._trim()
        body = "".join(t for t, _ in self._parts)
        if self.dropped:
            return f"[… {self.dropped:,} earlier bytes not kept; {self.total:,} in all …]\n{body}"
        return body

    def stderr_tail(self) -> str:
        return "".join(self._stderr)[-STDERR_TAIL:].strip()


class Limiter:
    """FIFO concurrency limit (max_concurrent_runs). Unlike asyncio.Semaphore, taking a free
    slot never awaits, which matters when 1,000 runs start in the same instant."""

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_acquire(self) -> bool:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        return False

    async def acquire(self) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # the slot was handed to us just as we were cancelled
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
            raise

    def release(self) -> None:
        """Hand the slot to the longest waiter, else return it to the pool."""
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1


class _Cancellable(Protocol):
    def cancel(self) -> Any: ...


def call_later(clock: Clock, delay: float, fn: Callable[[], None]) -> _Cancellable:
    """Call `fn` after `delay` seconds of the clock's time (cheap for clocks that offer
    call_later; otherwise a task sleeping on the clock)."""
    method = getattr(clock, "call_later", None)
    if method is not None:
        return method(delay, fn)  # type: ignore[no-any-return]

    async def later() -> None:
        await clock.sleep(delay)
        fn()

    return asyncio.ensure_future(later())


class StartLine:
    """Parks coroutines until an instant of the clock's (wall) time; one timer per instant."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._waiting: dict[datetime, list[asyncio.Future[None]]] = {}

    async def wait(self, instant: datetime) -> None:
        """Return at `instant` (at once if it has passed). Cancelling one waiter leaves the
        others parked."""
        if self.clock.now() >= instant:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.get(instant)
        if waiting is None:
            waiting = self._waiting[instant] = []
            self._arm(instant)
        waiting.append(fut)
        await fut

    def _arm(self, instant: datetime) -> None:
        delay = (instant - self.clock.now()).total_seconds()
        call_later(self.clock, delay, lambda: self._release(instant))

    def _release(self, instant: datetime) -> None:
        # The system clock's timers run on the monotonic clock; if wall time is still short
        # of the instant (a slewing clock), wait for the rest rather than start early. Short
        # by more than a step: the clock was set back after the slot was decided, within the
        # lead; start it now rather than park it until the wall clock comes round again.
        short = (instant - self.clock.now()).total_seconds()
        if 0 < short <= CLOCK_JUMP:
            self._arm(instant)
            return
        for fut in self._waiting.pop(instant, ()):
            if not fut.done():
                fut.set_result(None)


class Runner:
    """Executes dispatched slots against a `RunHost`: one task per run, under the concurrency
    limit, with the start line for runs prepared ahead of their instant."""

    def __init__(self, host: RunHost) -> None:
        self.host = host
        self._limiter: Limiter | None = None
        self._start_line: StartLine | None = None
        self._redactor: Redactor | None = None

    def bind(self, max_concurrent_runs: int) -> None:
        """Fresh asyncio primitives for the running loop (they belong to one loop)."""
        self._limiter = Limiter(max_concurrent_runs)
        self._start_line = StartLine(self.host.clock)

    def refresh_env(self) -> None:
        """Re-read os.environ's secrets for the runs about to start (once per wake-up, shared
        by every run it starts)."""
        refresh_env()
        self._redactor = None

    def start(self, job: Job, handle: RunHandle,
              not_before: datetime | None = None) -> asyncio.Task[None]:
        """The task running `handle`'s slot (waiting for `not_before` first, if given)."""
        return asyncio.get_running_loop().create_task(self.run(job, handle, not_before))

    def _redactor_for(self, job: Job) -> Redactor:
        """The redactor for a run: os.environ's secrets (scanned once per wake-up) plus the
        agent's own environment."""
        env = getattr(job.agent, "env", None)
        if env:
            return Redactor.from_env(env)
        if self._redactor is None:
            self._redactor = Redactor.from_env()
        return self._redactor

    def _emit(self, cls: type[Event], **fields: Any) -> None:
        bus = self.host.bus
        if bus.active:
            bus.emit(cls, **fields)

    async def run(self, job: Job, handle: RunHandle, not_before: datetime | None = None) -> None:
        """The body of a run task. Always ends by handing exactly one final result to the
        host (`finish_run`), whatever happens, including cancellation. A run prepared ahead
        of its slot (`not_before`) waits on the start line first."""
        host = self.host
        opts = job.options
        try:
            redactor = self._redactor_for(job)
        except Exception:  # an agent whose `env` cannot be read: os.environ's secrets at least
            redactor = Redactor.from_env()
        ctx = RunContext(
            run_id=handle.run_id,
            job=job.name,
            scheduled_for=handle.scheduled_for,
            attempt=1,
            prompt=job.prompt,
            manual=handle.manual,
            kill_grace=opts.kill_grace,
        )
        gate: GateResult | None = None
        result: RunResult | None = None
        try:
            # Inside the try: whatever goes wrong preparing the run is that run's failure.
            ctx.context_in_prompt = uses_context(job.prompt)
            if opts.pre_run is None:  # nothing the slot's instant could change: render it now
                ctx.prompt = _render_prompt(job, handle, "")
            if not_before is not None:
                if self._start_line is not None:
                    await self._start_line.wait(not_before)
                # not before: a crash meanwhile leaves the slot owed
                result = host.claim_run(job, handle)
                if result is not None:
                    return
            if opts.pre_run is not None:
                self._emit(GateStarted, job=job.name, run_id=handle.run_id,
                           scheduled_for=handle.scheduled_for)
                agent_env = getattr(job.agent, "env", None)
                gate = await run_gate(
                    opts.pre_run,
                    ctx,
                    limit=opts.gate_timeout,
                    clock=host.clock,
                    on_error=opts.on_gate_error,
                    redact=redactor,
                    env=agent_env,
                    cwd=getattr(job.agent, "cwd", None),
                )
                self._emit(GateDecided, job=job.name, run_id=handle.run_id, gate=gate)
                if not gate.run:
                    result = host.skip_gated(job, handle, gate)
                    return
                ctx.gate_context = gate.context
                ctx.prompt = _render_prompt(job, handle, ctx.gate_context)
            while True:
                result = await self._attempt(job, handle, ctx, redactor, gate)
                handle.output = None  # this attempt is over: a cancel now keeps nothing of it
                account(job, result, host.clock.now())
                will_retry = result.failed and handle.attempt <= opts.retries
                self._emit(RunFinished, job=job.name, run_id=handle.run_id, result=result,
                           will_retry=will_retry)
                if not will_retry:
                    break
                host.record_attempt(result)
                delay = min(opts.retry_backoff * (2 ** (handle.attempt - 1)), MAX_BACKOFF)
                await host.clock.sleep(delay)
                handle.attempt += 1
                ctx.attempt = handle.attempt
        except asyncio.CancelledError:
            ctx.cancelled = True
            tail: OutputTail | None = handle.output
            usage = ctx.usage if tail is not None else None  # an attempt was under way
            cost = cost_of(usage, opts.price_in, opts.price_out)
            result = RunResult(
                run_id=handle.run_id,
                job=job.name,
                scheduled_for=handle.scheduled_for,
                status=RunStatus.CANCELLED,
                started_at=handle.started_at,
                finished_at=host.clock.now(),
                error=handle.cancel_reason or "cancelled",
                gate=gate,
                attempt=handle.attempt,
                manual=handle.manual,
                output_tail=tail.text() if tail is not None else "",
                output_bytes=tail.total if tail is not None else 0,
                truncated=tail.truncated if tail is not None else False,
                usage=usage,
                cost=cost,
                extra=_usage_extra(usage, cost),
            )
            account(job, result, host.clock.now())  # tokens spent before the cancel count
            self._emit(RunFinished, job=job.name, run_id=handle.run_id, result=result)
        except Exception as exc:  # a bug in a gate/agent wrapper must not kill the loop
            result = RunResult(
                run_id=handle.run_id, job=job.name, scheduled_for=handle.scheduled_for,
                status=RunStatus.FAILED, started_at=handle.started_at,
                finished_at=host.clock.now(), error=redactor(f"{type(exc).__name__}: {exc}"),
                gate=gate, attempt=handle.attempt, manual=handle.manual,
            )
        finally:
            if result is None:  # pragma: no cover - defensive
                result = RunResult(run_id=handle.run_id, job=job.name,
                                   scheduled_for=handle.scheduled_for, status=RunStatus.CANCELLED,
                                   error="run ended unexpectedly")
            try:
                host.finish_run(job, handle, result)
            except Exception as exc:  # booking failed: the handle must settle all the same
                host.abandon_run(job, handle, result, exc)

    async def _attempt(
        self,
        job: Job,
        handle: RunHandle,
        ctx: RunContext,
        redactor: Redactor,
        gate: GateResult | None,
    ) -> RunResult:
        """One attempt under the concurrency limit, with its timeout, as a RunResult."""
        host = self.host
        opts = job.options
        limiter = self._limiter
        assert limiter is not None
        if not limiter.try_acquire():
            self._emit(RunQueued, job=job.name, run_id=handle.run_id,
                       scheduled_for=handle.scheduled_for, why="max_concurrent_runs")
            await limiter.acquire()
        try:
            tail = handle.output = OutputTail(opts.output_tail)
            answer: list[str] = []  # stdout for the guard rails (bounded below)
            answer_len = 0
            streams: dict[Literal["stdout", "stderr"], StreamRedactor] = {}
            bus = host.bus
            name, run_id = job.name, handle.run_id

            def emit(text: str, stream: Literal["stdout", "stderr"]) -> None:
                if ctx.cancelled or not text:
                    return
                stream_redactor = streams.get(stream)
                if stream_redactor is None:
                    stream_redactor = streams[stream] = redactor.stream()
                clean = stream_redactor(text)  # may hold back the start of a secret
                if clean:
                    deliver(clean, stream)

            def deliver(clean: str, stream: Literal["stdout", "stderr"]) -> None:
                nonlocal answer_len
                tail.add(clean, stream)
                if stream == "stdout" and guarded:
                    answer.append(clean)
                    answer_len += len(clean)
                    if answer_len > 2 * ANSWER_LIMIT:
                        joined = "".join(answer)[-ANSWER_LIMIT:]
                        answer[:] = [joined]
                        answer_len = len(joined)
                if bus.active:
                    bus.emit(OutputChunk, job=name, run_id=run_id, stream=stream, text=clean)

            def release_held() -> None:
                """What the redactors held back, once the agent is done however it ended."""
                for stream, stream_redactor in streams.items():
                    clean = stream_redactor.flush()
                    if clean:
                        deliver(clean, stream)

            guarded = opts.fail_if_empty or opts.expect is not None
            ctx.emit = emit
            ctx.usage = None
            ctx.clock = host.clock
            started = host.clock.now()
            ctx.deadline = started + timedelta(seconds=opts.timeout) if opts.timeout else None
            handle.started_at = started
            host.count_run(job, handle)
            self._emit(RunStarted, job=name, run_id=run_id, scheduled_for=handle.scheduled_for,
                       attempt=handle.attempt, manual=handle.manual)
            # Let every other run due now start too before this agent's own code gets the loop
            # (an agent that computes before its first await would otherwise delay them all).
            await asyncio.sleep(0)
            # The agent runs inline in this task; a clock timer cancels it on timeout. No extra
            # tasks per run: 1,000 runs falling due together must start within milliseconds.
            me = asyncio.current_task()
            assert me is not None
            timed_out = False

            def on_timeout() -> None:
                nonlocal timed_out
                timed_out = True
                me.cancel()

            timer = call_later(host.clock, opts.timeout, on_timeout) if opts.timeout else None
            exit_code: int | None = None
            error = ""
            contract: Any = None
            try:
                try:
                    exit_code = await job.agent.execute(ctx)
                finally:
                    release_held()
            except asyncio.CancelledError:
                if not timed_out or handle.cancel_reason:
                    ctx.cancelled = True
                    raise
                me.uncancel()
                ctx.cancelled = True
                status = RunStatus.TIMED_OUT
                error = f"timed out after {opts.timeout:g}s"
            except AgentFailed as exc:  # already explained: no traceback
                status = RunStatus.FAILED
                error = redactor(str(exc))
            except Exception as exc:
                status = RunStatus.FAILED
                tb = "".join(traceback.format_exception(exc)[-12:])
                error = redactor(f"{type(exc).__name__}: {exc}\n{tb}".strip())
            else:
                if exit_code in (0, None):
                    status = RunStatus.OK
                else:
                    status = RunStatus.FAILED
                    err_tail = tail.stderr_tail()
                    last = err_tail.splitlines()[-1] if err_tail else ""
                    error = f"exit code {exit_code}" + (f": {last}" if last else "")
                    if err_tail and err_tail != last:
                        error += f"\n{err_tail}"
            finally:
                if timer is not None:
                    timer.cancel()
            if timed_out and status is not RunStatus.TIMED_OUT:
                # The agent swallowed the cancellation and ended on its own after the deadline.
                me.uncancel()
                ctx.cancelled = True
                status = RunStatus.TIMED_OUT
                error = f"timed out after {opts.timeout:g}s"
            if guarded and status is RunStatus.OK:
                # Off the loop with its own time budget: a backtracking pattern fails this run
                # instead of freezing every other job.
                verdict = await verify_output("".join(answer), expect=opts.expect,
                                              fail_if_empty=opts.fail_if_empty)
                contract = verdict.contract
                if not verdict.ok:
                    status, error = RunStatus.FAILED, redactor(verdict.error)
            usage = ctx.usage
            cost = cost_of(usage, opts.price_in, opts.price_out)
            extra = _usage_extra(usage, cost)
            return RunResult(
                run_id=run_id,
                job=name,
                scheduled_for=handle.scheduled_for,
                status=status,
                started_at=started,
                finished_at=host.clock.now(),
                exit_code=exit_code,
                output_tail=tail.text(),
                error=error,
                gate=gate,
                attempt=handle.attempt,
                manual=handle.manual,
                output_bytes=tail.total,
                truncated=tail.truncated,
                usage=usage,
                cost=cost,
                contract=contract,
                extra=extra,
            )
        finally:
            limiter.release()


def _usage_extra(usage: Any, cost: float | None) -> dict[str, Any]:
    """Tokens and cost in the shape core/metrics.py reads from `RunResult.extra`."""
    extra: dict[str, Any] = {}
    if usage is not None:
        extra["tokens"] = usage.total
    if cost is not None:
        extra["cost_usd"] = cost
    return extra


def _render_prompt(job: Job, handle: RunHandle, context: str) -> str:
    """The job's prompt template filled for this slot (times in the job's zone)."""
    if "{" not in job.prompt and "}}" not in job.prompt:
        return job.prompt
    zone = getattr(job.schedule, "tz", None)
    last = next((r.output_tail for r in reversed(job.results) if r.ok), "")
    return render(job.prompt, TemplateValues(
        scheduled_for=handle.scheduled_for.astimezone(zone) if zone else handle.scheduled_for,
        run_id=handle.run_id, job=job.name, last_output=last.strip(), context=context))
