"""The pre-run gate decision table, row by row, with real shell scripts."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import alive, wait_until

from crondeck.core.agents import RunContext
from crondeck.core.clock import SystemClock
from crondeck.core.gates import CONTEXT_LIMIT, GateSkip, run_gate
from crondeck.core.redaction import Redactor
from crondeck.core.results import GateResult, RunResult, RunStatus, SkipReason
from crondeck.core.schedule import every
from crondeck.core.scheduler import Scheduler

CTX = RunContext(run_id="mail@2025-01-01T00:00:00Z", job="mail",
                 scheduled_for=datetime(2025, 1, 1, tzinfo=UTC), attempt=1, prompt="p")


def gate_script(tmp_path: Path, body: str, name: str = "gate.sh") -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def decide(gate: object, limit: float = 5.0, on_error: str = "run") -> GateResult:
    return asyncio.run(run_gate(gate, CTX, limit=limit, clock=SystemClock(),  # type: ignore[arg-type]
                                on_error=on_error))  # type: ignore[arg-type]


def test_exit_0_with_stdout_runs_with_the_output_as_context(tmp_path: Path) -> None:
    g = decide(gate_script(tmp_path, 'echo "2 new mails from $CRONDECK_JOB"\n'))
    assert g.run and g.exit_code == 0 and g.context == "2 new mails from mail"


def test_context_is_capped_at_8000_chars(tmp_path: Path) -> None:
    g = decide(gate_script(tmp_path, "head -c 20000 /dev/zero | tr '\\0' x\n"))
    assert g.run and len(g.context) == CONTEXT_LIMIT == 8000


def test_exit_0_with_empty_stdout_runs_with_the_prompt_alone(tmp_path: Path) -> None:
    g = decide(gate_script(tmp_path, "exit 0\n"))
    assert g.run and g.context == "" and not g.error


def test_nonzero_exit_skips_with_first_500_chars_of_stderr(tmp_path: Path) -> None:
    body = "echo 'no new mail' >&2; head -c 2000 /dev/zero | tr '\\0' y >&2; exit 1\n"
    g = decide(gate_script(tmp_path, body))
    assert not g.run and g.exit_code == 1
    assert g.reason.startswith("no new mail\n") and len(g.reason) == 500


def test_nonzero_exit_without_stderr_still_says_why(tmp_path: Path) -> None:
    g = decide(gate_script(tmp_path, "exit 4\n"))
    assert not g.run and g.reason == "gate exited with code 4"


def test_timeout_skips_and_kills_the_gate_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = gate_script(tmp_path, f"sleep 300 & echo $! > {pidfile}; sleep 300\n")
    t0 = time.monotonic()
    g = decide(script, limit=0.5)
    assert not g.run and g.timed_out and g.reason == "gate timed out after 0.5s"
    assert time.monotonic() - t0 < 5
    pid = int(pidfile.read_text())
    wait_until(lambda: not alive(pid), 2, "the gate's background child to be ended")


def test_gate_that_cannot_be_started_runs_by_default_or_skips_when_asked(tmp_path: Path) -> None:
    for gate in (["/nonexistent/gate"], "/nonexistent/gate.sh"):
        ran = decide(gate)
        assert ran.run and "could not be started" in ran.error
        skipped = decide(gate, on_error="skip")
        assert not skipped.run and "could not be started" in skipped.reason


def test_python_gates_follow_the_same_table() -> None:
    def nothing() -> None:
        return None

    def busy() -> str:
        raise GateSkip("calendar is busy")

    def broken() -> str:
        raise RuntimeError("imap down")

    assert decide(lambda: "context") == GateResult(run=True, context="context")
    assert decide(nothing).run and decide(nothing).context == ""
    assert decide(lambda: False).reason == "gate returned False"
    assert decide(busy).reason == "calendar is busy" and not decide(busy).run
    assert decide(broken).run and "imap down" in decide(broken).error
    assert not decide(broken, on_error="skip").run
    assert decide(lambda ctx: ctx.job).context == "mail"


def test_gate_reasons_are_redacted_before_cutting(tmp_path: Path) -> None:
    secret = "sk-" + "A" * 40
    script = gate_script(tmp_path, f"echo 'auth failed for {secret}' >&2; exit 1\n")
    g = asyncio.run(run_gate(script, CTX, limit=5, clock=SystemClock(), redact=Redactor()))
    assert secret not in g.reason and "[REDACTED]" in g.reason


@pytest.mark.slow
def test_a_slow_gate_does_not_block_other_jobs(tmp_path: Path) -> None:
    slow_gate = gate_script(tmp_path, "sleep 5\n", "slow.sh")

    async def main() -> tuple[list[RunResult], list[RunResult]]:
        s = Scheduler()
        gated: list[RunResult] = []
        fast: list[RunResult] = []

        async def agent(prompt: str) -> str:
            return "ok"

        s.add_job(agent, "p", every(seconds=1), name="gated", pre_run=slow_gate,
                  gate_timeout=0.5, on_result=gated.append)
        s.add_job(agent, "p", every(seconds=1), name="fast", on_result=fast.append)
        await s.astart(until=datetime.now(UTC) + timedelta(seconds=2))
        return gated, fast

    gated, fast = asyncio.run(main())
    assert len(fast) >= 1 and all(r.ok for r in fast)
    assert gated and all(r.status is RunStatus.SKIPPED for r in gated)
    assert all(r.skip_reason is SkipReason.GATE and r.gate and r.gate.timed_out for r in gated)


def test_gate_env_includes_run_context(tmp_path: Path) -> None:
    g = decide(gate_script(tmp_path, 'echo "$CRONDECK_RUN_ID|$CRONDECK_ATTEMPT"\n'))
    assert g.context == "mail@2025-01-01T00:00:00Z|1"
    assert os.environ.get("CRONDECK_RUN_ID") is None
