"""Agents: what a job runs. A command (any CLI agent, any program) or Python code.

Both stream: output reaches observers line by line (commands) or chunk by chunk (Python
iterators) while the run is going, never only at the end. An agent receives a `RunContext`
with the prompt (plus gate context), the run id, job name, scheduled time and attempt.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import shlex
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path
from types import CoroutineType
from typing import Any, Literal, Protocol, cast, runtime_checkable

from .clock import Clock, in_thread
from .lazyclass import dataclass
from .process import Launched, SpawnPlan, hold, launch, plan_spawn, terminate_group
from .programs import program_name, program_of
from .results import Usage

__all__ = [
    "Agent",
    "AgentFailed",
    "AgentLike",
    "CommandAgent",
    "PythonAgent",
    "RunContext",
    "as_agent",
    "load_target",
    "program_name",
    "program_of",
]

Stream = Literal["stdout", "stderr"]
PromptVia = Literal["stdin", "arg", "env"]


@dataclass(slots=True)
class RunContext:
    """Everything one attempt of one slot needs to know, and where its output goes."""

    run_id: str
    job: str
    scheduled_for: datetime
    attempt: int
    prompt: str
    gate_context: str = ""
    manual: bool = False
    kill_grace: float = 5.0
    emit: Callable[[str, Stream], None] = field(default=lambda text, stream: None, repr=False)
    cancelled: bool = False
    # The run's deadline (timeout) on `clock`, so an agent retrying a rate-limited API knows
    # whether a wait still fits; None means no timeout.
    deadline: datetime | None = None
    clock: Clock | None = field(default=None, repr=False)
    usage: Usage | None = None
    context_in_prompt: bool = False  # the prompt template placed {context} itself
    # A command agent's spawn built ahead of the slot's instant (`CommandAgent.prepare`), so
    # that only the fork/exec is left for the instant.
    prepared: Any = field(default=None, repr=False, compare=False)

    @property
    def full_prompt(self) -> str:
        """The prompt with the gate's stdout appended as context, when there is any (and the
        prompt template did not place it with `{context}`)."""
        if not self.gate_context or self.context_in_prompt:
            return self.prompt
        return f"{self.prompt}\n\n{self.gate_context}"

    def add_usage(self, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        """Record tokens consumed by this attempt (summed; budgets and cost read them)."""
        old = self.usage or Usage()
        self.usage = Usage(old.prompt_tokens + max(0, int(prompt_tokens)),
                           old.completion_tokens + max(0, int(completion_tokens)))

    def now(self) -> datetime:
        """The current instant on the scheduler's clock (the system clock without one)."""
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    def seconds_left(self) -> float | None:
        """Seconds until the run's timeout, or None without one."""
        if self.deadline is None:
            return None
        return (self.deadline - self.now()).total_seconds()

    def env(self) -> dict[str, str]:
        """CRONDECK_* variables every command agent and gate sees."""
        return {
            "CRONDECK_RUN_ID": self.run_id,
            "CRONDECK_JOB": self.job,
            "CRONDECK_SCHEDULED_FOR": self.scheduled_for.astimezone(UTC).isoformat(),
            "CRONDECK_ATTEMPT": str(self.attempt),
        }


def _not_started(exc: Exception, program: str, cwd: Path | None) -> str:
    """Why a command could not start, in one line: the working directory or the program."""
    if cwd is not None and not cwd.is_dir():
        what = "is not a directory" if cwd.exists() else "does not exist"
        return f"cannot start the command: the working directory {cwd} {what}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot start {program!r}: {exc.strerror} ({type(exc).__name__})"
    return f"cannot start {program!r}: {exc} ({type(exc).__name__})"


class AgentFailed(Exception):
    """A failure the agent has already explained in one clear message (an HTTP 401, a cut
    stream): recorded as the run's error as is, without a traceback."""


@runtime_checkable
class Agent(Protocol):
    """Runs one attempt; returns an exit code (None when not a process) or raises."""

    name: str

    async def execute(self, ctx: RunContext) -> int | None: ...


class _Runs(Protocol):
    """An agent framework's object: `.run(prompt)` (sync or async)."""

    def run(self, *args: Any, **kwargs: Any) -> object: ...


class _ARuns(Protocol):
    """An agent framework's object: `.arun(prompt)` (async)."""

    def arun(self, *args: Any, **kwargs: Any) -> object: ...


# What a job accepts as its agent (`as_agent` turns it into an Agent): an Agent, an argv list
# (a command), a function taking (), (prompt) or (prompt, ctx), or an object with .run/.arun.
AgentLike = Agent | Sequence[str] | Callable[..., object] | _Runs | _ARuns


class CommandAgent:
    """A subprocess per run, in its own process group.

    `command` is an argv list (exec'd directly) or a shell string (run by /bin/sh -c).
    The prompt goes to stdin (default), as the last argument, or in $CRONDECK_PROMPT.
    Exit 0 is success; anything else fails with the exit code and the tail of stderr.
    When the command exits, anything it left running in its group is ended too.
    """

    def __init__(
        self,
        command: Sequence[str] | str,
        prompt_via: PromptVia = "stdin",
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
        kill_grace: float | None = None,
    ) -> None:
        if prompt_via not in ("stdin", "arg", "env"):
            raise ValueError(f"prompt_via must be 'stdin', 'arg' or 'env', not {prompt_via!r}")
        if isinstance(command, str):
            if not command.strip():
                raise ValueError("empty command")
        elif not command or not all(isinstance(a, str) for a in command):
            raise ValueError("command must be a non-empty list of strings or a shell string")
        self.command: Sequence[str] | str = command if isinstance(command, str) else list(command)
        self.prompt_via: PromptVia = prompt_via
        # a Path as it is: 10,000 jobs share the jobs file's directory, parsed once
        self.cwd = cwd if isinstance(cwd, Path) or cwd is None else Path(cwd)
        self.env = dict(env or {})
        self.kill_grace = kill_grace
        self.name = name or program_name(self.command)

    def __repr__(self) -> str:
        return f"CommandAgent({self.command!r}, prompt_via={self.prompt_via!r})"

    def argv(self, prompt: str) -> list[str]:
        """The argv actually executed for `prompt`."""
        if isinstance(self.command, str):
            script = self.command
            if self.prompt_via == "arg":
                script = f"{script} {shlex.quote(prompt)}"
            return ["/bin/sh", "-c", script]
        argv = list(self.command)
        if self.prompt_via == "arg":
            argv.append(prompt)
        return argv

    def prepare(self, ctx: RunContext) -> None:
        """Build the spawn of `ctx`'s attempt now (argv, environment, process tag), ahead of
        its instant, and start its child held before the command (`process.hold`), so that
        the instant only releases it; `execute` uses them if the attempt is still the same
        one. The runner discards what `execute` did not use (`discard_prepared`)."""
        discard_prepared(ctx)
        prompt = ctx.full_prompt
        plan = self._plan(ctx, prompt)
        held: Launched | None = None
        try:
            held = hold(plan, lambda t: ctx.emit(t, "stdout"), lambda t: ctx.emit(t, "stderr"))
        except (OSError, ValueError, RuntimeError):
            held = None  # started at the instant instead, which reports what is wrong
        ctx.prepared = _Prepared(self, ctx, ctx.run_id, ctx.attempt, prompt, plan, held)

    def start_prepared(self, ctx: RunContext) -> bool:
        """At `ctx`'s instant, before its run goes on: let the child held for this very
        attempt (`prepare`) exec its command now, so that the children of runs released
        together start in one pass instead of each after its run's bookkeeping. True when
        it started: `execute` takes it over (or `discard_prepared` ends it)."""
        prepared = ctx.prepared
        if not isinstance(prepared, _Prepared) or prepared.held is None \
                or not prepared.fits(self, ctx) or prepared.ctx is not ctx:
            return False
        held = prepared.held
        if held.release(prepared.prompt if self.prompt_via == "stdin" else ""):
            prepared.started = True
            return True
        prepared.held = None  # gone meanwhile: `execute` starts it afresh
        return False

    def _plan(self, ctx: RunContext, prompt: str) -> SpawnPlan:
        env = {**os.environ, **self.env, **ctx.env()}
        if self.prompt_via == "env":
            env["CRONDECK_PROMPT"] = prompt
        return plan_spawn(self.argv(prompt), env=env, cwd=self.cwd,
                          stdin=self.prompt_via == "stdin")

    async def execute(self, ctx: RunContext) -> int | None:
        prompt = ctx.full_prompt
        stdin_text = prompt if self.prompt_via == "stdin" else ""
        prepared, ctx.prepared = ctx.prepared, None
        child: Launched | None = None
        if isinstance(prepared, _Prepared) and prepared.fits(self, ctx, prompt):
            plan = prepared.plan
            held, prepared.held = prepared.held, None
            if held is not None:
                if prepared.started or (prepared.ctx is ctx and held.release(stdin_text)):
                    child = held
                else:
                    held.discard()
        else:
            if isinstance(prepared, _Prepared):
                prepared.discard()
            plan = self._plan(ctx, prompt)
        grace = self.kill_grace if self.kill_grace is not None else ctx.kill_grace
        if child is None:
            try:
                child = launch(plan, lambda t: ctx.emit(t, "stdout"),
                               lambda t: ctx.emit(t, "stderr"), stdin_text)
            except (OSError, ValueError) as exc:
                raise AgentFailed(_not_started(exc, plan.argv[0], self.cwd)) from None
        try:
            code = await child.wait_exit()
            # The leader is gone; background children still holding the pipes would keep
            # the readers waiting and become orphans: end the rest of the group.
            await terminate_group(child, grace)
            # Pipes close once the group is gone; a process that left the group (setsid)
            # could hold them forever, so give the readers a moment, then stop reading.
            await asyncio.wait(child.output_done(), timeout=1.0)
            return code
        except BaseException:
            await asyncio.shield(terminate_group(child, grace))
            raise
        finally:
            child.close()


@dataclass(slots=True)
class _Prepared:
    """A spawn planned ahead, the attempt it was planned for, and its held child if any."""

    agent: CommandAgent
    ctx: RunContext  # the held child's output goes to this context's `emit`
    run_id: str
    attempt: int
    prompt: str
    plan: SpawnPlan
    held: Launched | None = None
    started: bool = False  # `held` was released at the instant (`start_prepared`)

    def fits(self, agent: CommandAgent, ctx: RunContext, prompt: str | None = None) -> bool:
        """Whether this was prepared for `ctx`'s current attempt of `agent`, with `prompt`
        (its full prompt when not given)."""
        return self.agent is agent and self.run_id == ctx.run_id \
            and self.attempt == ctx.attempt \
            and self.prompt == (ctx.full_prompt if prompt is None else prompt)

    def discard(self) -> None:
        """End the held child, unrun (the run ended or changed before it started), or
        the child released for it that its run did not take over."""
        held, self.held = self.held, None
        if held is not None:
            if self.started:
                held.abandon()
            else:
                held.discard()


def discard_prepared(ctx: RunContext) -> None:
    """Drop what an agent prepared for `ctx` ahead of its instant and did not use, ending a
    child held for it: the run was cancelled, refused, queued or ended before its agent."""
    prepared, ctx.prepared = ctx.prepared, None
    if isinstance(prepared, _Prepared):
        prepared.discard()


def load_target(spec: str) -> Any:
    """Import "package.module:attr.path" and return the object it names."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{spec!r}: expected 'package.module:callable'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class PythonAgent:
    """In-process Python: "pkg.mod:callable", a callable, or an object with `.arun(prompt)` /
    `.run(prompt)` (the shape of common agent frameworks).

    The callable takes `()`, `(prompt)` or `(prompt, ctx)` (checked when the agent is made:
    any other signature is a TypeError at once, not a failure of every run); may be sync
    (run in a thread so it cannot stall the loop) or async; may return a string, None, or a
    (async) iterator of text chunks that stream as they come. A sync callable cannot be
    interrupted: on timeout or cancel the run ends at once but the thread finishes in the
    background, its output ignored.
    """

    def __init__(self, target: Any, *, name: str | None = None) -> None:
        self.spec = target if isinstance(target, str) else None
        obj = load_target(target) if isinstance(target, str) else target
        self.target = obj
        fn = getattr(obj, "arun", None) or getattr(obj, "run", None)
        if fn is None or not callable(fn) or (inspect.isfunction(obj) or inspect.ismethod(obj)):
            fn = obj
        if not callable(fn):
            raise TypeError(f"{target!r} is not callable and has no .run/.arun")
        self._fn: Callable[..., Any] = fn
        self._arity = _arity(fn, target)
        self._async = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        label: str = getattr(obj, "__name__", type(obj).__name__)
        self.name = name or self.spec or label

    def __repr__(self) -> str:
        return f"PythonAgent({self.spec or self.target!r})"

    async def execute(self, ctx: RunContext) -> int | None:
        arity = self._arity
        args: tuple[Any, ...] = (ctx.full_prompt, ctx)[:arity] if arity else ()
        if self._async:
            result = self._fn(*args)
        else:
            loop = asyncio.get_running_loop()

            def call() -> Any:
                try:
                    out = self._fn(*args)
                    if isinstance(out, Iterator | Sequence) and not isinstance(out, str | bytes):
                        for chunk in out:
                            if ctx.cancelled:
                                break
                            loop.call_soon_threadsafe(_emit_unless_cancelled, ctx, chunk)
                        return None
                    return out
                except KeyboardInterrupt as exc:  # its own: Ctrl-C never reaches this thread
                    raise RuntimeError("KeyboardInterrupt raised by the job's function") from exc

            with in_thread():  # (a FakeClock waits for it)
                result = await asyncio.to_thread(call)
        if type(result) is CoroutineType or inspect.isawaitable(result):
            result = await result
        if result is None:  # the common case, spared the iterator checks
            return None
        if isinstance(result, AsyncIterator):
            async for chunk in result:
                ctx.emit(_text(chunk), "stdout")
        elif isinstance(result, Iterator):
            for chunk in result:
                ctx.emit(_text(chunk), "stdout")
        elif result is not None:
            ctx.emit(_text(result), "stdout")
        return None


def _emit_unless_cancelled(ctx: RunContext, chunk: Any) -> None:
    if not ctx.cancelled:
        ctx.emit(_text(chunk), "stdout")


def _text(chunk: Any) -> str:
    if isinstance(chunk, bytes):
        return chunk.decode("utf-8", "replace")
    return chunk if isinstance(chunk, str) else str(chunk)


def _arity(fn: Callable[..., Any], target: object) -> int:
    """How many of (prompt, ctx) to pass `fn`: 2 when it takes two positional arguments or
    *args, 0 when it takes none, else 1. A signature it cannot be called with (three required
    arguments, a required keyword-only one) is a TypeError naming `target`."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return 1
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    keyword_only = [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if keyword_only or len(required) > 2:
        extra = keyword_only or [p.name for p in required[2:]]
        raise TypeError(
            f"{target!r} cannot be a job's function: it requires {', '.join(extra)}; a job "
            "calls it with (), (prompt) or (prompt, ctx)")
    if len(required) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params):
        return 2
    return 1 if positional else 0


def as_agent(obj: Any) -> Agent:
    """Accept an Agent, an argv list (a command), a callable or an object with .run/.arun."""
    if isinstance(obj, CommandAgent | PythonAgent):
        return obj
    if hasattr(obj, "execute") and hasattr(obj, "name"):
        # Duck-typed as before: isinstance(obj, Agent) would also refuse an execute of None.
        return cast(Agent, obj)
    if isinstance(obj, str):
        raise TypeError(
            f"ambiguous agent {obj!r}: use CommandAgent({obj!r}) for a command or "
            f"PythonAgent({obj!r}) for 'package.module:callable'"
        )
    if isinstance(obj, list | tuple) and obj and all(isinstance(a, str) for a in obj):
        return CommandAgent(list(obj))
    if not inspect.isfunction(obj):
        return PythonAgent(obj)
    # One wrapper per function (compared by identity): adding 10,000 jobs with the same
    # function must not inspect its signature 10,000 times.
    cached = _WRAPPED.get(obj)
    if cached is None:
        cached = _WRAPPED[obj] = PythonAgent(obj)
    return cached


_WRAPPED: weakref.WeakKeyDictionary[Any, PythonAgent] = weakref.WeakKeyDictionary()
