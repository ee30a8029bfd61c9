"""Agents against real processes: streaming, exit codes, timeouts that leave nothing behind."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import alive, wait_until

from crondeck.core.agents import CommandAgent, PythonAgent, RunContext
from crondeck.core.events import OutputChunk, RunStarted
from crondeck.core.results import RunResult, RunStatus
from crondeck.core.schedule import every
from crondeck.core.scheduler import Scheduler


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def run_one(agent: object, prompt: str = "hello", **opts: object) -> tuple[RunResult, list]:
    """Run `agent` once via run_now on a real clock; return its result and events."""

    async def main() -> tuple[RunResult, list]:
        s = Scheduler()
        sub = s.subscribe(max_chunks=1_000_000)
        job = s.add_job(agent, prompt, every(hours=24), name="t", **opts)
        result = await s.run_now(job)
        return result, sub.drain()

    return asyncio.run(main())


def test_command_streams_stdout_and_stderr_tagged_in_order(tmp_path: Path) -> None:
    # Two pipes have no common order; lines written a moment apart arrive in that order.
    body = 'read p; echo "got: $p"; sleep 0.05; echo oops >&2; sleep 0.05; echo "$CRONDECK_JOB"\n'
    result, events = run_one(CommandAgent([script(tmp_path, "a.sh", body)]))
    chunks = [(e.stream, e.text) for e in events if isinstance(e, OutputChunk)]
    assert chunks == [("stdout", "got: hello\n"), ("stderr", "oops\n"), ("stdout", "t\n")]
    assert result.ok and result.exit_code == 0
    assert "got: hello" in result.output_tail and "oops" in result.output_tail


def test_the_lines_of_one_read_come_as_one_chunk_in_order_with_a_partial_line_after(
        tmp_path: Path) -> None:
    # One write of 2,000 lines reaches the pipe at once; the prompt without a newline
    # after it comes on its own once the command is quiet.
    body = ('python3 -c \'import sys; sys.stdout.write("".join(f"row {i}\\n" for i in '
            'range(2000)) + "more? "); sys.stdout.flush()\'\nsleep 0.3\necho yes\n')
    result, events = run_one(CommandAgent([script(tmp_path, "many.sh", body)]))
    chunks = [e.text for e in events if isinstance(e, OutputChunk)]
    assert "".join(chunks) == "".join(f"row {i}\n" for i in range(2000)) + "more? yes\n"
    assert len(chunks) < 20 and any(c.count("\n") > 100 for c in chunks)
    assert chunks[-2:] == ["more? ", "yes\n"]  # the partial line waited for no newline
    assert all(c.endswith("\n") for c in chunks[:-2])
    assert result.ok and result.output_tail.endswith("row 1999\nmore? yes\n")


@pytest.mark.slow
def test_output_arrives_while_the_command_is_still_running(tmp_path: Path) -> None:
    cmd = script(tmp_path, "slow.sh", "echo first; sleep 1; echo second\n")

    async def main() -> float:
        s = Scheduler()
        sub = s.subscribe()
        job = s.add_job(CommandAgent([cmd]), "p", every(hours=24), name="t")
        t0 = time.monotonic()
        handle = s.run_now(job)
        while True:
            ev = await sub.get()
            if isinstance(ev, OutputChunk):
                assert ev.text == "first\n"
                first_at = time.monotonic() - t0
                break
        assert not handle.done()  # "second" has not been printed yet
        await handle
        return first_at

    asyncio.run(main())


def test_nonzero_exit_fails_with_code_and_stderr_tail(tmp_path: Path) -> None:
    cmd = script(tmp_path, "f.sh", "echo working; echo 'fatal: quota exceeded' >&2; exit 3\n")
    result, _ = run_one(CommandAgent([cmd]))
    assert result.status is RunStatus.FAILED and result.exit_code == 3
    assert result.error.startswith("exit code 3: fatal: quota exceeded")


def test_prompt_via_arg_and_env_and_shell_strings(tmp_path: Path) -> None:
    r1, _ = run_one(CommandAgent(["printf", "%s|"], prompt_via="arg"), prompt="a b")
    assert r1.output_tail == "a b|"
    r2, _ = run_one(CommandAgent('echo "[$CRONDECK_PROMPT]"', prompt_via="env"), prompt="x y")
    assert r2.output_tail == "[x y]\n"
    r3, _ = run_one(CommandAgent("tr a-z A-Z"), prompt="shout")
    assert r3.output_tail == "SHOUT"


@pytest.mark.slow
def test_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    cmd = script(tmp_path, "tree.sh", f"""
sleep 300 & echo $! >> {pids}
(sleep 300; echo never) & echo $! >> {pids}
sh -c 'trap "" TERM; sleep 300' & echo $! >> {pids}
echo $$ >> {pids}
echo started
wait
""")
    result, _ = run_one(CommandAgent([cmd], kill_grace=0.3), timeout=1)
    assert result.status is RunStatus.TIMED_OUT and result.error == "timed out after 1s"
    assert "started" in result.output_tail
    listed = [int(p) for p in pids.read_text().split()]
    assert len(listed) == 4
    wait_until(lambda: not any(alive(p) for p in listed), 2, "every process of the group to end")


def test_background_children_left_by_a_finished_command_are_ended(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    cmd = script(tmp_path, "leak.sh", f"sleep 300 & echo $! > {pidfile}; echo bye\n")
    result, _ = run_one(CommandAgent([cmd], kill_grace=0.5))
    assert result.ok and result.output_tail == "bye\n"
    pid = int(pidfile.read_text())
    wait_until(lambda: not alive(pid), 2, "the background child to be ended")


@pytest.mark.slow
def test_a_flood_of_output_is_capped_in_the_result_but_fully_streamed(tmp_path: Path) -> None:
    cmd = script(tmp_path, "flood.sh", "seq 1 100000\n")
    result, events = run_one(CommandAgent([cmd]), output_tail=1000)
    chunks = [e.text for e in events if isinstance(e, OutputChunk)]  # each: lines of a read
    assert "".join(chunks) == "".join(f"{i}\n" for i in range(1, 100_001))
    assert result.truncated and result.output_bytes == sum(len(x) for x in chunks)
    assert result.output_tail.startswith("[… ") and result.output_tail.endswith("99999\n100000\n")
    assert len(result.output_tail.split("\n", 1)[1]) <= 1000


def test_missing_command_fails_loudly() -> None:
    result, _ = run_one(CommandAgent(["/nonexistent/agent"]))
    assert result.status is RunStatus.FAILED
    assert "FileNotFoundError" in result.error


def test_python_agents_in_every_shape() -> None:
    def sync_fn(prompt: str) -> str:
        return prompt.upper()

    async def async_fn(prompt: str, ctx: RunContext) -> str:
        return f"{ctx.job}:{ctx.attempt}:{prompt}"

    def sync_gen(prompt: str):
        yield "a"
        yield "b"

    async def async_gen(prompt: str):
        for c in "xyz":
            await asyncio.sleep(0)
            yield c

    class Framework:
        def run(self, prompt: str) -> str:
            return "framework " + prompt

    class AsyncFramework:
        async def arun(self, prompt: str) -> str:
            return "async framework " + prompt

    cases = {
        "HELLO": sync_fn,
        "t:1:hello": async_fn,
        "ab": sync_gen,
        "xyz": async_gen,
        "framework hello": Framework(),
        "async framework hello": AsyncFramework(),
        "hello": PythonAgent("crondeck.core.redaction:redact"),
    }
    for expected, agent in cases.items():
        result, _ = run_one(agent)
        assert result.ok and result.output_tail == expected, (agent, result)


def test_run_context_env_reaches_commands(tmp_path: Path) -> None:
    result, events = run_one(CommandAgent('echo "$CRONDECK_RUN_ID $CRONDECK_ATTEMPT"'))
    started = next(e for e in events if isinstance(e, RunStarted))
    assert result.output_tail == f"{started.run_id} 1\n"


def test_secrets_in_output_are_redacted_before_anyone_sees_them(tmp_path: Path) -> None:
    os.environ["CRONDECK_TEST_API_KEY"] = "s3cr3t-value-123"
    try:
        result, events = run_one(
            CommandAgent('echo "key=$CRONDECK_TEST_API_KEY token=ghp_' + "a" * 36 + '" >&2; exit 1')
        )
    finally:
        del os.environ["CRONDECK_TEST_API_KEY"]
    text = "".join(e.text for e in events if isinstance(e, OutputChunk))
    for seen in (text, result.output_tail, result.error):
        assert "s3cr3t" not in seen and "ghp_aaaa" not in seen
    assert "[REDACTED:CRONDECK_TEST_API_KEY]" in text


@pytest.mark.slow
def test_two_hundred_interval_jobs_in_real_time_fire_each_slot_exactly_once() -> None:
    async def main() -> tuple[list[RunResult], dict[str, datetime], datetime]:
        s = Scheduler(max_concurrent_runs=200)
        results: list[RunResult] = []

        async def agent(prompt: str) -> str:
            return prompt

        firsts: dict[str, datetime] = {}
        for i in range(200):
            job = s.add_job(agent, f"job {i}", every(seconds=1), name=f"j{i}",
                            on_result=results.append)
            assert job.next_fire is not None
            firsts[job.name] = job.next_fire  # adding 200 jobs may straddle a second
        deadline = datetime.now(UTC) + timedelta(seconds=3.2)
        await s.astart(until=deadline)
        return results, firsts, deadline

    results, firsts, deadline = asyncio.run(main())
    ids = [r.run_id for r in results]
    assert len(ids) == len(set(ids))  # no slot fired twice
    assert all(r.ok for r in results)
    # runs are prepared ahead of their slot (Scheduler.lead) but never start before it
    assert all(r.started_at is not None and r.started_at >= r.scheduled_for for r in results)
    # every whole second from each job's first slot to the deadline fired (none lost)
    for name, first in firsts.items():
        expected = [first + timedelta(seconds=k) for k in range(5)
                    if first + timedelta(seconds=k) <= deadline]
        got = sorted(r.scheduled_for for r in results if r.job == name)
        assert len(expected) >= 3
        assert got == expected, (name, got)


def test_a_spawn_prepared_ahead_serves_only_the_attempt_and_prompt_it_was_made_for(
        tmp_path: Path) -> None:
    agent = CommandAgent([script(tmp_path, "p.sh", 'cat; echo " #$CRONDECK_ATTEMPT"\n')])

    async def attempt(change: str) -> str:
        out: list[str] = []
        ctx = RunContext(run_id="r1", job="j", scheduled_for=datetime.now(UTC), attempt=1,
                         prompt="task", emit=lambda text, stream: out.append(text))
        agent.prepare(ctx)  # as the runner does ahead of the slot's instant
        if change == "gate":
            ctx.gate_context = "from the gate"
        elif change == "retry":
            ctx.attempt = 2
        assert await asyncio.wait_for(agent.execute(ctx), 10) == 0
        return "".join(out)

    assert asyncio.run(attempt("")) == "task #1\n"
    assert asyncio.run(attempt("gate")) == "task\n\nfrom the gate #1\n"
    assert asyncio.run(attempt("retry")) == "task #2\n"
