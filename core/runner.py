"""Running one dispatched slot: the start line, gate, concurrency limit, attempts with timeout
and retries, output collection, and the result, reported to a `RunHost` (see `abc.py`).

Runs prepared ahead of their slot wait on the start line for its instant. Dispatching a slot
(policies, run id, handle, task) costs tens of microseconds; when a thousand jobs fall due in
the same second, doing that work *at* the instant makes the last run start tens of
milliseconds late. The scheduler therefore wakes early, prepares every slot due by then
(context, prompt, output objects), and parks each run on the start line; one clock timer per
instant, armed a little early, queues their wake-ups and claims them at the instant, and what
remains for each then is its start booking and entering its agent. Runs begun together share
one timeout timer and book their results only after all of them have entered their agents.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import time
import traceback
import types
from collections import deque
from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from .abc import RunHost
from .agents import Agent, AgentFailed, CommandAgent, RunContext, discard_prepared
from .budget import account, cost_of
from .clock import CLOCK_JUMP, Clock, SystemClock
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
from .options import JobOptions
from .process import start_watchdog
from .redaction import Redactor, StreamRedactor, refresh_env
from .results import GateResult, RunResult, RunStatus
from .templates import TemplateValues, render, uses_context

__all__ = ["Limiter", "OutputTail", "Runner", "StartLine", "call_later"]

STDERR_TAIL = 2_000
MAX_BACKOFF = 3600.0
# How far ahead of its instant the start line's system-clock timer is armed: first
# `MAX_EARLY`, then, knowing how many runs wait, `EARLY` plus `WAKE_COST` a run.
EARLY = 0.005
WAKE_COST = 2e-6
MAX_EARLY = 0.05


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


# What the start line hands a run at its instant: when, and its claim (see `StartLine.wait`).
_Released = tuple[datetime, RunResult | None]
_Waiter = tuple[asyncio.Future[_Released], Job, RunHandle, Callable[[], None] | None]


def spawns_ahead(job: Job) -> bool:
    """Whether a run of `job` prepared ahead starts its child then (held until its instant):
    a command agent with no gate, whose output the prompt would wait for."""
    return isinstance(job.agent, CommandAgent) and job.options.pre_run is None


class _Parked:
    """The runs waiting for one instant, in the order they were parked: their futures,
    (job, handle) pairs ready to be claimed in one call, and once released, the wall time of
    the release and the claims (or what the claim raised); what to start first for each run
    at the instant (`StartLine.wait`'s `first`) and what that raised, by run."""

    __slots__ = ("claims", "failed", "firsts", "futures", "now", "runs")

    def __init__(self) -> None:
        self.futures: list[asyncio.Future[tuple[_Parked, int]]] = []
        self.runs: list[tuple[Job, RunHandle]] = []
        self.firsts: list[Callable[[], None] | None] = []
        self.failed: dict[int, Exception] = {}
        self.now: datetime | None = None
        self.claims: list[RunResult | None] | BaseException = []


class StartLine:
    """Parks runs until an instant of the clock's (wall) time; one timer per instant.

    At the instant the parked runs are claimed together (`claim`: one durable write for all
    of them, before any starts), then woken in the order they were parked; each books itself
    as started and enters its agent in the same step, so the first agent's code runs after
    one run's bookkeeping rather than after all of them.

    With the system clock the timer is armed early: asyncio's timers fire up to a couple of
    milliseconds late (the selector rounds its timeout up to whole milliseconds), and
    queueing a thousand wake-ups takes about a millisecond more. Both are done before the
    instant; the release then finishes the wait with a precise sleep of the thread (the loop
    has nothing more urgent that close to an instant its runs wait for) and claims the runs.
    None of them can run before that callback returns, so none starts before its instant
    or before its claim."""

    def __init__(self, clock: Clock, claim: Callable[[list[tuple[Job, RunHandle]]],
                                                      list[RunResult | None]]) -> None:
        self.clock = clock
        self.claim = claim
        self._waiting: dict[datetime, _Parked] = {}
        self._precise = isinstance(clock, SystemClock)

    async def wait(self, instant: datetime, job: Job, handle: RunHandle,
                   first: Callable[[], None] | None = None) -> _Released | None:
        """Return at `instant` the wall time it was released at and the run's claim (a
        refused claim's skipped result, or None); None at once if the instant has passed
        (the run is not claimed then). Cancelling one waiter leaves the others parked.
        `first` is called at the instant once the run is claimed, before any run parked
        there is woken (what must not wait for the others' bookkeeping: a held child)."""
        if self.clock.now() >= instant:
            return None
        fut: asyncio.Future[tuple[_Parked, int]] = asyncio.get_running_loop().create_future()
        parked = self._waiting.get(instant)
        if parked is None:
            parked = self._waiting[instant] = _Parked()
            self._arm(instant, MAX_EARLY if self._precise else 0.0)
        parked.futures.append(fut)
        parked.runs.append((job, handle))
        parked.firsts.append(first)
        batch, index = await fut
        claims = batch.claims
        if isinstance(claims, BaseException):
            raise claims
        if index in batch.failed:  # what was started first for it failed
            raise batch.failed[index]
        assert batch.now is not None
        return batch.now, claims[index]

    def _arm(self, instant: datetime, early: float) -> None:
        delay = (instant - self.clock.now()).total_seconds() - early
        call_later(self.clock, delay, lambda: self._release(instant))

    def _release(self, instant: datetime) -> None:
        # Still short of the instant by more than its runs need to be woken (armed early
        # before their number was known; a slewing clock: the timers run on the monotonic
        # clock): wait again. Short by more than a step: the clock was set back after the
        # slot was decided, within the lead; start it now rather than park it until the
        # wall clock comes round again.
        short = (instant - self.clock.now()).total_seconds()
        parked = self._waiting.get(instant)
        if parked is None:
            return
        early = margin = 0.0
        if self._precise:
            early, margin = min(MAX_EARLY, EARLY + WAKE_COST * len(parked.futures)), EARLY / 2
        if early + margin < short <= CLOCK_JUMP:
            self._arm(instant, early)
            return
        del self._waiting[instant]
        futures, runs = parked.futures, parked.runs
        # A run cancelled while it waited is not claimed: it has been booked already.
        if True in map(_cancelled, futures):
            kept = [i for i, fut in enumerate(futures) if not fut.cancelled()]
            futures, runs = [futures[i] for i in kept], [runs[i] for i in kept]
            if not futures:
                return
            parked.runs = runs
            parked.firsts = [parked.firsts[i] for i in kept]
        # The runs released together make many short-lived objects as they start: a pass of
        # the cyclic collector meanwhile would hold up every run still waiting its turn. It
        # is back on once each has entered its agent (queued after their wake-ups).
        paused = len(futures) > 1 and gc.isenabled()
        if paused:
            gc.disable()
        try:
            # Their wake-ups are queued now; they run once this callback has returned.
            for index, fut in enumerate(futures):
                fut.set_result((parked, index))
            parked.futures = []  # (each holds the batch: no cycle left for the collector)
            now = self.clock.now()
            short = (instant - now).total_seconds()
            if self._precise and short > 0:  # none may start before it
                # Blocking the loop at most as long as the timer was armed early: short by
                # more, the clock was set back meanwhile, and the runs start now as after
                # any step back.
                until = time.monotonic() + MAX_EARLY
                while short > 0 and (left := until - time.monotonic()) > 0:
                    time.sleep(min(short, left))
                    now = self.clock.now()
                    short = (instant - now).total_seconds()
            parked.now = now
            try:
                parked.claims = self.claim(runs)
            except BaseException as exc:  # each run ends with it as its own failure
                parked.claims = exc
            else:
                for i, (first, claimed) in enumerate(zip(parked.firsts, parked.claims,
                                                         strict=True)):
                    if first is not None and claimed is None:
                        try:
                            first()
                        except Exception as exc:  # that run's own failure
                            parked.failed[i] = exc
            parked.runs = []
            parked.firsts = []
        finally:
            if paused:
                asyncio.get_running_loop().call_soon(gc.enable)


_cancelled = asyncio.Future.cancelled


@types.coroutine
def _next_round() -> Generator[None, None, None]:
    """Give the loop one round (what `asyncio.sleep(0)` does, for less)."""
    yield


class Runner:
    """Executes dispatched slots against a `RunHost`: one task per run, under the concurrency
    limit, with the start line for runs prepared ahead of their instant."""

    def __init__(self, host: RunHost) -> None:
        self.host = host
        self._limiter: Limiter | None = None
        self._start_line: StartLine | None = None
        self._redactor: Redactor | None = None
        self._timeouts: dict[tuple[datetime, float], _TimeLimit] = {}
        self._last_deadline: tuple[tuple[datetime, float] | None, datetime | None] = (None, None)

    def bind(self, max_concurrent_runs: int) -> None:
        """Fresh asyncio primitives for the running loop (they belong to one loop)."""
        self._limiter = Limiter(max_concurrent_runs)
        self._start_line = StartLine(self.host.clock, self.host.claim_runs)

    def refresh_env(self) -> None:
        """Re-read os.environ's secrets for the runs about to start (once per wake-up, shared
        by every run it starts)."""
        refresh_env()
        self._redactor = None

    def start(self, job: Job, handle: RunHandle,
              not_before: datetime | None = None) -> asyncio.Task[None]:
        """The task running `handle`'s slot (waiting for `not_before` first, if given)."""
        task = asyncio.get_running_loop().create_task(self.run(job, handle, not_before))
        task.add_done_callback(functools.partial(self._ended, job, handle))
        return task

    def _ended(self, job: Job, handle: RunHandle, task: asyncio.Task[None]) -> None:
        """A run task is done. Cancelled before its first step (in the step that started
        it), `run` never began: its cancelled result is booked here, as `run` would have."""
        if handle.done():
            return
        result = RunResult(
            run_id=handle.run_id, job=job.name, scheduled_for=handle.scheduled_for,
            status=RunStatus.CANCELLED, finished_at=self.host.clock.now(),
            error=handle.cancel_reason or "cancelled", attempt=handle.attempt,
            manual=handle.manual)
        self._emit(RunFinished, job=job.name, run_id=handle.run_id, result=result)
        try:
            self.host.finish_run(job, handle, result)
        except Exception as exc:
            self.host.abandon_run(job, handle, result, exc)

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
        # The run goes on as it started, retries too: a job changed meanwhile (`update_job`,
        # a reload) gives its new agent, prompt and options to its next run.
        opts, agent, prompt = job.options, job.agent, job.prompt
        try:
            redactor = self._redactor_for(job)
        except Exception:  # an agent whose `env` cannot be read: os.environ's secrets at least
            redactor = Redactor.from_env()
        ctx = RunContext(
            run_id=handle.run_id,
            job=job.name,
            scheduled_for=handle.scheduled_for,
            attempt=1,
            prompt=prompt,
            manual=handle.manual,
            kill_grace=opts.kill_grace,
        )
        gate: GateResult | None = None
        result: RunResult | None = None
        try:
            # Inside the try: whatever goes wrong preparing the run is that run's failure.
            ctx.context_in_prompt = uses_context(prompt)
            if opts.pre_run is None:  # nothing the slot's instant could change: render it now
                ctx.prompt = _render_prompt(job, prompt, handle, "")
            begun: _Output | None = None
            if not_before is not None:
                if self._start_line is not None:
                    outcome = await self._wait_for(not_before, job, handle, ctx, redactor,
                                                   opts)
                else:
                    outcome = self._at_instant(job, handle, ctx, redactor, None, opts)
                if isinstance(outcome, RunResult):  # the claim was refused
                    result = outcome
                    return
                begun = outcome
            if opts.pre_run is not None:
                self._emit(GateStarted, job=job.name, run_id=handle.run_id,
                           scheduled_for=handle.scheduled_for)
                agent_env = getattr(agent, "env", None)
                gate = await run_gate(
                    opts.pre_run,
                    ctx,
                    limit=opts.gate_timeout,
                    clock=host.clock,
                    on_error=opts.on_gate_error,
                    redact=redactor,
                    env=agent_env,
                    cwd=getattr(agent, "cwd", None),
                )
                self._emit(GateDecided, job=job.name, run_id=handle.run_id, gate=gate)
                if not gate.run:
                    result = host.skip_gated(job, handle, gate)
                    return
                ctx.gate_context = gate.context
                ctx.prompt = _render_prompt(job, prompt, handle, ctx.gate_context)
            while True:
                result = await self._attempt(job, handle, ctx, redactor, gate, opts, agent,
                                             begun)
                begun = None
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
        except KeyboardInterrupt:  # the run is booked failed; the interrupt goes on, as Ctrl-C
            tail = handle.output
            result = RunResult(
                run_id=handle.run_id, job=job.name, scheduled_for=handle.scheduled_for,
                status=RunStatus.FAILED, started_at=handle.started_at,
                finished_at=host.clock.now(), gate=gate, attempt=handle.attempt,
                manual=handle.manual, output_tail=tail.text() if tail is not None else "",
                error="KeyboardInterrupt: interrupted while its agent ran on the event loop")
            raise
        finally:
            discard_prepared(ctx)  # prepared ahead, never used: its held child must not stay
            if result is None:  # pragma: no cover - defensive
                result = RunResult(run_id=handle.run_id, job=job.name,
                                   scheduled_for=handle.scheduled_for, status=RunStatus.CANCELLED,
                                   error="run ended unexpectedly")
            try:
                host.finish_run(job, handle, result)
            except Exception as exc:  # booking failed: the handle must settle all the same
                host.abandon_run(job, handle, result, exc)

    async def _wait_for(self, instant: datetime, job: Job, handle: RunHandle, ctx: RunContext,
                        redactor: Redactor, opts: JobOptions) -> RunResult | _Output | None:
        """Park the run on the start line; at the instant claim it and, when nothing stands
        between it and its agent, begin its first attempt (see `_at_instant`)."""
        assert self._start_line is not None
        out = _Output(job, handle, ctx, redactor, self.host.bus, opts)  # now, not at the instant
        out.together = True
        first: Callable[[], None] | None = None
        if isinstance(job.agent, CommandAgent):
            start_watchdog()  # once per process: not at the instant, ahead of the first spawn
            if spawns_ahead(job):
                job.agent.prepare(ctx)
                first = functools.partial(self._start_held, job.agent, ctx, out)
        if opts.pre_run is None:  # what its start booking sets that the instant cannot change
            out.bind(ctx, self.host.clock)
        try:
            released = await self._start_line.wait(instant, job, handle, first)
        except BaseException:
            if out.placed and self._limiter is not None:  # ended before it could begin
                out.placed = False
                self._limiter.release()
            raise
        if released is None:  # the instant had passed: claimed on its own
            return self._at_instant(job, handle, ctx, redactor, None, opts, out)
        now, refused = released
        if refused is not None:
            return refused
        limiter = self._limiter
        # Its place in the limit: taken as its held child started, or free now.
        if out.bound and limiter is not None and (out.placed or limiter.try_acquire()):
            try:
                return self._begin(job, handle, ctx, redactor, now, opts, out)
            except BaseException:
                limiter.release()
                raise
        return self._at_instant(job, handle, ctx, redactor, now, opts, out, claimed=True)

    def _start_held(self, agent: CommandAgent, ctx: RunContext, out: _Output) -> None:
        """At the instant, before any run released with it goes on: start the child held
        for the run, taking its place in the concurrency limit now (no place: it stays held,
        and the run queues as it would have)."""
        limiter = self._limiter
        if limiter is not None and limiter.try_acquire():
            started = False
            try:
                started = agent.start_prepared(ctx)
            finally:
                if started:
                    out.placed = True
                else:
                    limiter.release()

    def _at_instant(self, job: Job, handle: RunHandle, ctx: RunContext, redactor: Redactor,
                    now: datetime | None, opts: JobOptions, out: _Output | None = None, *,
                    claimed: bool = False) -> RunResult | _Output | None:
        """A prepared run reached its instant: claim it (a refused claim's result ends it);
        then, released by the start line at `now`, with no gate to run first and a free
        place in the concurrency limit, begin its first attempt at once (None: the run goes
        on through its gate or the queue)."""
        if not claimed:  # not before: a crash meanwhile leaves the slot owed
            result = self.host.claim_run(job, handle)
            if result is not None:
                return result
        limiter = self._limiter
        placed = out is not None and out.placed  # taken as its held child started
        if now is None or opts.pre_run is not None or limiter is None \
                or not (placed or limiter.try_acquire()):
            return None
        try:
            return self._begin(job, handle, ctx, redactor, now, opts, out)
        except BaseException:
            limiter.release()
            raise

    def _begin(self, job: Job, handle: RunHandle, ctx: RunContext, redactor: Redactor,
               started: datetime, opts: JobOptions, out: _Output | None = None) -> _Output:
        """Book an attempt as started (the place in the limit is taken): its output, the
        run count, `RunStarted`."""
        host = self.host
        timeout = opts.timeout
        if out is None:
            out = _Output(job, handle, ctx, redactor, host.bus, opts)
        if not out.bound:
            out.bind(ctx, host.clock)
        handle.output = out.tail
        if timeout:
            key = (started, timeout)  # the runs begun together mostly share their deadline
            if self._last_deadline[0] != key:
                self._last_deadline = (key, started + timedelta(seconds=timeout))
            ctx.deadline = self._last_deadline[1]
        else:
            ctx.deadline = None
        handle.started_at = started
        host.count_run(job, handle)
        if host.bus.active:
            host.bus.emit(RunStarted, job=job.name, run_id=handle.run_id,
                          scheduled_for=handle.scheduled_for, attempt=handle.attempt,
                          manual=handle.manual)
        return out

    def _time_limit(self, out: _Output, timeout: float, started: datetime) -> _Cancellable:
        """The attempt's timeout, as something to cancel once it ends. Attempts begun together
        with the same timeout share one clock timer: 1,000 runs of an instant need one."""
        if not out.together:
            return call_later(self.host.clock, timeout, out.time_out)
        key = (started, timeout)
        group = self._timeouts.get(key)
        if group is None:
            group = self._timeouts[key] = _TimeLimit(self._timeouts, key)
            group.timer = call_later(self.host.clock, timeout, group.expire)
        group.members[out] = None
        out.limit = group
        return out

    async def _attempt(
        self,
        job: Job,
        handle: RunHandle,
        ctx: RunContext,
        redactor: Redactor,
        gate: GateResult | None,
        opts: JobOptions,
        agent: Agent,
        begun: _Output | None = None,
    ) -> RunResult:
        """One attempt under the concurrency limit, with its timeout, as a RunResult, by the
        `agent` and `opts` the run started with (`begun`: already booked as started at its
        instant, its place in the limit taken)."""
        host = self.host
        limiter = self._limiter
        assert limiter is not None
        if begun is None and not limiter.try_acquire():
            self._emit(RunQueued, job=job.name, run_id=handle.run_id,
                       scheduled_for=handle.scheduled_for, why="max_concurrent_runs")
            # Its start is now anyone's guess: no child is held for it meanwhile.
            discard_prepared(ctx)
            await limiter.acquire()
        try:
            if begun is None:
                begun = self._begin(job, handle, ctx, redactor, host.clock.now(), opts)
                # Let every other run due now start too before this agent's own code gets
                # the loop (an agent that computes before its first await would otherwise
                # delay them all). Runs begun at their instant had that done together.
                await asyncio.sleep(0)
            out = begun
            tail = out.tail
            guarded = out.guarded
            started = handle.started_at
            assert started is not None
            name, run_id = job.name, handle.run_id
            # The agent runs inline in this task; a clock timer cancels it on timeout. No extra
            # tasks per run: 1,000 runs falling due together must start within milliseconds.
            me = handle.task if out.together else None  # the run's own task (no lookup)
            if me is None:
                me = asyncio.current_task()
            assert me is not None
            out.task = me
            timer = self._time_limit(out, opts.timeout, started) if opts.timeout else None
            exit_code: int | None = None
            error = ""
            contract: Any = None
            try:
                try:
                    exit_code = await agent.execute(ctx)
                finally:
                    out.release_held()
            except asyncio.CancelledError:
                if not out.timed_out or handle.cancel_reason:
                    ctx.cancelled = True
                    raise
                me.uncancel()
                ctx.cancelled = True
                status = RunStatus.TIMED_OUT
                error = f"timed out after {opts.timeout:g}s"
            except AgentFailed as exc:  # already explained: no traceback
                status = RunStatus.FAILED
                error = redactor(str(exc))
            except SystemExit as exc:  # sys.exit() in an agent ends its run, not the scheduler
                exit_code, status, error = _exited(exc)
            except KeyboardInterrupt:
                raise  # on the loop's thread it may be Ctrl-C: `run` books it and passes it on
            except BaseException as exc:  # an Exception, or a BaseException of the agent's own
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
            if out.together:
                # Its agent is done: let the runs released with it enter theirs before this
                # result is booked. A cancel now comes after the end and changes nothing.
                try:
                    await _next_round()
                except asyncio.CancelledError:
                    me.uncancel()
            if out.timed_out and status is not RunStatus.TIMED_OUT:
                # The agent swallowed the cancellation and ended on its own after the deadline.
                me.uncancel()
                ctx.cancelled = True
                status = RunStatus.TIMED_OUT
                error = f"timed out after {opts.timeout:g}s"
            if guarded and status is RunStatus.OK:
                # Off the loop with its own time budget: a backtracking pattern fails this run
                # instead of freezing every other job.
                verdict = await verify_output("".join(out.answer), expect=opts.expect,
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


def _exited(exc: SystemExit) -> tuple[int | None, RunStatus, str]:
    """The exit code, status and error of a run whose agent raised SystemExit, read as
    Python reads it at exit: None or 0 succeeds, another int is the exit code, anything
    else is a message (exit code 1)."""
    code = exc.code
    if code is None or code == 0:
        return 0, RunStatus.OK, ""
    if isinstance(code, int) and not isinstance(code, bool):
        return code, RunStatus.FAILED, f"exit code {code} (the agent raised SystemExit)"
    return 1, RunStatus.FAILED, f"SystemExit: {code}"


class _Output:
    """Where one attempt's output goes: through the redactors (one per stream, made when it
    first speaks) into the tail, the guard rails' copy of stdout, and `OutputChunk` events."""

    __slots__ = ("answer", "answer_len", "bound", "bus", "ctx", "guarded", "handle", "job",
                 "limit", "placed", "redactor", "streams", "tail", "task", "timed_out",
                 "together")

    def __init__(self, job: Job, handle: RunHandle, ctx: RunContext, redactor: Redactor,
                 bus: Any, opts: JobOptions) -> None:
        self.job = job.name
        self.handle = handle
        self.ctx = ctx
        self.redactor = redactor
        self.bus = bus
        self.tail = OutputTail(opts.output_tail)
        self.answer: list[str] = []  # stdout for the guard rails (bounded below)
        self.answer_len = 0
        self.streams: dict[Literal["stdout", "stderr"], StreamRedactor] = {}
        self.guarded = opts.fail_if_empty or opts.expect is not None
        self.together = False  # begun by the start line with the other runs of its instant
        self.placed = False  # its place in the concurrency limit taken at the instant
        self.task: asyncio.Task[Any] | None = None  # the run's task, while its agent runs
        self.timed_out = False
        self.limit: _TimeLimit | None = None  # the timer shared with the runs begun with it
        self.bound = False  # the attempt's context writes here (see `bind`)

    def bind(self, ctx: RunContext, clock: Clock) -> None:
        """Point the attempt's context at this output (and a fresh attempt's usage)."""
        ctx.emit = self.emit
        ctx.usage = None
        ctx.clock = clock
        self.bound = True

    def time_out(self) -> None:
        """The attempt's time is up: cancel its agent."""
        self.timed_out = True
        if self.task is not None:
            self.task.cancel()

    def cancel(self) -> None:
        """The attempt ended before its time was up."""
        limit, self.limit = self.limit, None
        if limit is not None:
            limit.leave(self)

    def emit(self, text: str, stream: Literal["stdout", "stderr"]) -> None:
        if self.ctx.cancelled or not text:
            return
        stream_redactor = self.streams.get(stream)
        if stream_redactor is None:
            stream_redactor = self.streams[stream] = self.redactor.stream()
        clean = stream_redactor(text)  # may hold back the start of a secret
        if clean:
            self.deliver(clean, stream)

    def deliver(self, clean: str, stream: Literal["stdout", "stderr"]) -> None:
        self.tail.add(clean, stream)
        if stream == "stdout" and self.guarded:
            answer = self.answer
            answer.append(clean)
            self.answer_len += len(clean)
            if self.answer_len > 2 * ANSWER_LIMIT:
                joined = "".join(answer)[-ANSWER_LIMIT:]
                answer[:] = [joined]
                self.answer_len = len(joined)
        if self.bus.active:
            self.bus.emit(OutputChunk, job=self.job, run_id=self.handle.run_id, stream=stream,
                          text=clean)

    def release_held(self) -> None:
        """What the redactors held back, once the agent is done however it ended."""
        for stream, stream_redactor in self.streams.items():
            clean = stream_redactor.flush()
            if clean:
                self.deliver(clean, stream)


class _TimeLimit:
    """One clock timer for the attempts begun at one instant with the same timeout."""

    __slots__ = ("key", "members", "owner", "timer")

    def __init__(self, owner: dict[tuple[datetime, float], _TimeLimit],
                 key: tuple[datetime, float]) -> None:
        self.owner = owner
        self.key = key
        self.members: dict[_Output, None] = {}  # ordered: timed out in the order begun
        self.timer: _Cancellable | None = None

    def leave(self, out: _Output) -> None:
        # The timer stays when the last one leaves: the runs of an instant come and go one
        # by one, and a timer per run is what this saves. Expiring empty, it does nothing.
        self.members.pop(out, None)

    def expire(self) -> None:
        if self.owner.get(self.key) is self:
            del self.owner[self.key]
        members, self.members = self.members, {}
        for out in members:
            out.limit = None
            out.time_out()


def _usage_extra(usage: Any, cost: float | None) -> dict[str, Any]:
    """Tokens and cost in the shape core/metrics.py reads from `RunResult.extra`."""
    extra: dict[str, Any] = {}
    if usage is not None:
        extra["tokens"] = usage.total
    if cost is not None:
        extra["cost_usd"] = cost
    return extra


def _render_prompt(job: Job, prompt: str, handle: RunHandle, context: str) -> str:
    """The job's prompt template (as the run started) filled for this slot (times in the
    job's zone)."""
    if "{" not in prompt and "}}" not in prompt:
        return prompt
    zone = getattr(job.schedule, "tz", None)
    last = next((r.output_tail for r in reversed(job.results) if r.ok), "")
    return render(prompt, TemplateValues(
        scheduled_for=handle.scheduled_for.astimezone(zone) if zone else handle.scheduled_for,
        run_id=handle.run_id, job=job.name, last_output=last.strip(), context=context))
