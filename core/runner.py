"""Running one dispatched slot: gate, concurrency limit, attempts with timeout and retries,
output collection, and the result. Kept apart from the loop so each reads on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .agents import AgentFailed, RunContext
from .clock import Clock
from .events import GateDecided, GateStarted, OutputChunk, RunFinished, RunQueued, RunStarted
from .gates import run_gate
from .guards import ANSWER_LIMIT, account, check_output, cost_of
from .redact import Redactor, StreamRedactor
from .results import GateResult, RunResult, RunStatus, SkipReason
from .templates import TemplateValues, render, uses_context

if TYPE_CHECKING:
    from .jobs import Job, RunHandle
    from .scheduler import Scheduler

__all__ = ["Limiter", "OutputTail", "call_later", "execute_slot"]

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


async def execute_slot(sched: Scheduler, job: Job, handle: RunHandle,
                       not_before: datetime | None = None) -> None:
    """The body of a run task. Always ends by handing exactly one final result to the
    scheduler (`_finish`), whatever happens, including cancellation. A run prepared ahead
    of its slot (`not_before`) waits on the scheduler's start line first."""
    opts = job.options
    redactor = sched._redactor_for(job)
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
    ctx.context_in_prompt = uses_context(job.prompt)
    if opts.pre_run is None:  # nothing the slot's instant could change: render it now
        ctx.prompt = _render_prompt(job, handle, "")
    try:
        if not_before is not None:
            if sched._start_line is not None:
                await sched._start_line.wait(not_before)
            sched._claim(job, handle)  # not before: a crash meanwhile leaves the slot owed
        if opts.pre_run is not None:
            sched._emit(GateStarted, job=job.name, run_id=handle.run_id,
                        scheduled_for=handle.scheduled_for)
            agent_env = getattr(job.agent, "env", None)
            gate = await run_gate(
                opts.pre_run,
                ctx,
                limit=opts.gate_timeout,
                clock=sched.clock,
                on_error=opts.on_gate_error,
                redact=redactor,
                env=agent_env,
                cwd=getattr(job.agent, "cwd", None),
            )
            sched._emit(GateDecided, job=job.name, run_id=handle.run_id, gate=gate)
            if not gate.run:
                result = sched._skip_result(
                    job, handle.scheduled_for, SkipReason.GATE, gate.reason, handle.run_id,
                    exit_code=gate.exit_code, gate=gate, manual=handle.manual,
                )
                return
            ctx.gate_context = gate.context
            ctx.prompt = _render_prompt(job, handle, ctx.gate_context)
        while True:
            result = await _attempt(sched, job, handle, ctx, redactor, gate)
            handle.output = None  # this attempt is over: a cancel now keeps nothing of it
            account(job, result, sched.clock.now())
            failed = result.status in (RunStatus.FAILED, RunStatus.TIMED_OUT)
            will_retry = failed and handle.attempt <= opts.retries
            sched._emit(RunFinished, job=job.name, run_id=handle.run_id, result=result,
                        will_retry=will_retry)
            if not will_retry:
                break
            sched._sink_result(result)
            delay = min(opts.retry_backoff * (2 ** (handle.attempt - 1)), MAX_BACKOFF)
            await sched.clock.sleep(delay)
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
            finished_at=sched.clock.now(),
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
        account(job, result, sched.clock.now())  # tokens spent before the cancel count
        sched._emit(RunFinished, job=job.name, run_id=handle.run_id, result=result)
    except Exception as exc:  # a bug in a gate/agent wrapper must not kill the loop
        result = RunResult(
            run_id=handle.run_id, job=job.name, scheduled_for=handle.scheduled_for,
            status=RunStatus.FAILED, started_at=handle.started_at,
            finished_at=sched.clock.now(), error=redactor(f"{type(exc).__name__}: {exc}"),
            gate=gate, attempt=handle.attempt, manual=handle.manual,
        )
    finally:
        if result is None:  # pragma: no cover - defensive
            result = RunResult(run_id=handle.run_id, job=job.name,
                               scheduled_for=handle.scheduled_for, status=RunStatus.CANCELLED,
                               error="run ended unexpectedly")
        sched._finish(job, handle, result)


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


async def _attempt(
    sched: Scheduler,
    job: Job,
    handle: RunHandle,
    ctx: RunContext,
    redactor: Redactor,
    gate: GateResult | None,
) -> RunResult:
    """One attempt under the concurrency limit, with its timeout, as a RunResult."""
    opts = job.options
    limiter = sched._limiter
    assert limiter is not None
    if not limiter.try_acquire():
        sched._emit(RunQueued, job=job.name, run_id=handle.run_id,
                    scheduled_for=handle.scheduled_for, why="max_concurrent_runs")
        await limiter.acquire()
    try:
        tail = handle.output = OutputTail(opts.output_tail)
        answer: list[str] = []  # stdout for the guard rails (bounded below)
        answer_len = 0
        streams: dict[Literal["stdout", "stderr"], StreamRedactor] = {}
        bus = sched.bus
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
        ctx.clock = sched.clock
        started = sched.clock.now()
        ctx.deadline = started + timedelta(seconds=opts.timeout) if opts.timeout else None
        handle.started_at = started
        sched._run_started(job, handle)
        sched._emit(RunStarted, job=name, run_id=run_id, scheduled_for=handle.scheduled_for,
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

        timer = call_later(sched.clock, opts.timeout, on_timeout) if opts.timeout else None
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
                if guarded:
                    verdict = check_output("".join(answer), expect=opts.expect,
                                           fail_if_empty=opts.fail_if_empty)
                    contract = verdict.contract
                    if not verdict.ok:
                        status, error = RunStatus.FAILED, redactor(verdict.error)
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
        usage = ctx.usage
        cost = cost_of(usage, opts.price_in, opts.price_out)
        extra = _usage_extra(usage, cost)
        return RunResult(
            run_id=run_id,
            job=name,
            scheduled_for=handle.scheduled_for,
            status=status,
            started_at=started,
            finished_at=sched.clock.now(),
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
