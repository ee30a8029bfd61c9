"""A command agent's run prepared ahead of its instant starts its child then, held by a shell
before any of the command (`process.hold`), and releases it at the instant: the command
never runs early, runs exactly as it would have been started at the instant, and a held
child whose run ends before its instant (or whose scheduler dies) is ended unrun."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from helpers import alive, until, wait_until

from crondeck.core import FakeClock, RunStatus, Scheduler, every, process
from crondeck.core.agents import CommandAgent
from crondeck.core.events import RunQueued
from crondeck.core.jobs import Job, NullStateSink, RunHandle
from crondeck.core.results import RunResult

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
MARK = "CRONDECK_TEST_MARK"
ROOT = Path(__file__).resolve().parents[2]
FULL = process.hold_room()  # nothing held: every test must leave it so

# Writes what the command saw to $REPORT, reads its stdin, exits 3.
REPORTER = r"""
import json, os, sys
with open("/proc/self/cmdline", "rb") as f:
    argv = [a.decode() for a in f.read().split(b"\0")[:-1]]
report = {"pid": os.getpid(), "argv": argv, "cwd": os.getcwd(),
          "fd0": os.readlink("/proc/self/fd/0").split(":")[0], "stdin": sys.stdin.read(),
          "env": dict(os.environ)}
with open(os.environ["REPORT"], "w") as f:
    json.dump(report, f)
sys.exit(3)
"""
PER_RUN = {"CRONDECK_RUN_ID", "CRONDECK_SCHEDULED_FOR", "CRONDECK_PROCESS_TAG", "REPORT"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _proc(pid: str, what: str) -> bytes:
    with open(f"/proc/{pid}/{what}", "rb") as f:
        return f.read()


def marked(mark: str) -> dict[int, list[bytes]]:
    """Live (not zombie) processes whose environment carries MARK=mark, with their argv."""
    needle = f"{MARK}={mark}".encode()
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = _proc(entry, "environ").split(b"\0")
            state = _proc(entry, "stat").rsplit(b")", 1)[1].split()[0]
            argv = _proc(entry, "cmdline").split(b"\0")[:-1]
        except OSError:
            continue
        if needle in env and state not in (b"Z", b"X"):
            found[int(entry)] = argv
    return found


def held_shells(mark: str) -> list[int]:
    return [pid for pid, argv in marked(mark).items() if b"crondeck-held" in argv]


class Held:
    """A scheduler on a fake clock whose jobs' first runs are prepared, 0.3 s before their
    instant at 10 s (their command agents' children held)."""

    def __init__(self, clock: FakeClock, s: Scheduler, jobs: list[Job]) -> None:
        self.clock, self.s, self.jobs = clock, s, jobs

    def handle(self, i: int = 0) -> RunHandle:
        """The prepared run of the i-th job."""
        return next(iter(self.jobs[i].running.values()))


@contextlib.asynccontextmanager
async def prepared(agent: CommandAgent, prompt: str | None = None, *, jobs: int = 1,
                   max_runs: int | None = None, **scheduler: Any) -> AsyncIterator[Held]:
    """`jobs` jobs of `agent` every 10 s (named "j", or "j0", "j1"... when more), started at
    3 s and taken to 9.7 s; the scheduler stopped on leaving."""
    clock = FakeClock(at(3))
    s = Scheduler(clock=clock, lead=0.5, **scheduler)
    names = ["j"] if jobs == 1 else [f"j{i}" for i in range(jobs)]
    added = [s.add_job(agent, prompt, every(seconds=10), name=name, max_runs=max_runs)
             for name in names]
    task = asyncio.create_task(s.astart(stop_when_done=False))
    await clock.run_for(6.7)  # 9.7: prepared, their children held
    try:
        yield Held(clock, s, added)
    finally:
        s.stop()
        await asyncio.wait_for(task, 10)


def reporter(tmp_path: Path, mark: str, prompt_via: str = "stdin") -> CommandAgent:
    """The reporter, started by a name found on $PATH, with awkward arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "py-report").exists():
        (bin_dir / "py-report").symlink_to(sys.executable)
    work = tmp_path / "work dir"
    work.mkdir(exist_ok=True)
    return CommandAgent(
        ["py-report", "-S", "-c", REPORTER, "a b", "it's \"q\" $HOME", "ünïcødé", ""],
        prompt_via=prompt_via,  # type: ignore[arg-type]
        cwd=work,
        env={MARK: mark, "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
             "REPORT": str(tmp_path / "report.json")})


@pytest.mark.parametrize("prompt_via", ["stdin", "arg"])
@pytest.mark.parametrize("pwd", ["/", None])
def test_a_held_command_runs_only_at_its_instant_exactly_as_if_started_then(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prompt_via: str,
        pwd: str | None) -> None:
    # A stale $PWD (or none) must reach the command as it is: the shell would fix it up.
    if pwd is None:
        monkeypatch.delenv("PWD", raising=False)
    else:
        monkeypatch.setenv("PWD", pwd)
    mark = uuid.uuid4().hex
    report = tmp_path / "report.json"
    agent = reporter(tmp_path, mark, prompt_via)

    async def held() -> tuple[RunResult, int]:
        async with prepared(agent, "the prompt ✓", max_runs=1) as h:
            pids = await until(lambda: held_shells(mark), 10)
            assert len(pids) == 1, marked(mark)
            handle = h.handle()
            await asyncio.sleep(0.3)  # real time the command would have had to write
            assert not report.exists(), "the command ran before its instant"
            await h.clock.run_for(0.3)  # 10: released
            result = await asyncio.wait_for(handle.wait(), 20)
        return result, pids[0]

    result, held_pid = asyncio.run(held())
    assert result.status is RunStatus.FAILED and result.exit_code == 3
    assert result.started_at == at(10)
    seen = json.loads(report.read_text())
    report.unlink()
    assert seen["pid"] == held_pid  # the held shell became the command: no extra level
    assert process.hold_room() == FULL

    async def launched() -> RunResult:
        s = Scheduler()
        job = s.add_job(agent, "the prompt ✓", every(hours=24), name="j")
        return await asyncio.wait_for(s.run_now(job).wait(), 20)

    plain = asyncio.run(launched())
    assert plain.status is RunStatus.FAILED and plain.exit_code == 3
    assert result.error == plain.error
    want = json.loads(report.read_text())
    assert seen["argv"] == want["argv"]
    args = ["a b", "it's \"q\" $HOME", "ünïcødé", ""]
    assert seen["argv"][0] == "py-report"  # as given, not the path it was found at
    assert seen["argv"][4:] == args + (["the prompt ✓"] if prompt_via == "arg" else [])
    assert seen["cwd"] == want["cwd"] == str(tmp_path / "work dir")
    assert seen["fd0"] == want["fd0"] == ("pipe" if prompt_via == "stdin" else "/dev/null")
    assert seen["stdin"] == want["stdin"] == ("the prompt ✓" if prompt_via == "stdin" else "")
    env_seen = {k: v for k, v in seen["env"].items() if k not in PER_RUN}
    env_want = {k: v for k, v in want["env"].items() if k not in PER_RUN}
    assert env_seen == env_want
    assert env_seen.get("PWD") == pwd and env_seen["CRONDECK_JOB"] == "j"
    assert seen["env"]["CRONDECK_SCHEDULED_FOR"] == at(10).isoformat()


class Parked:
    """A shell-string command that notes each time it ran (in `ran`) and prints its job's
    name; its processes carry MARK=`mark`."""

    def __init__(self, tmp_path: Path) -> None:
        self.mark = uuid.uuid4().hex
        self.ran = tmp_path / "ran"
        self.agent = CommandAgent('echo ran >> "$RAN"; echo "$CRONDECK_JOB"',
                                  env={MARK: self.mark, "RAN": str(self.ran)})


@pytest.fixture
def parked(tmp_path: Path) -> Parked:
    return Parked(tmp_path)


@pytest.mark.parametrize("end", ["cancel", "remove", "stop"])
def test_a_run_ended_while_its_child_is_held_ends_the_child_unrun(
        parked: Parked, end: str) -> None:
    async def main() -> RunResult:
        async with prepared(parked.agent) as h:
            (pid,) = await until(lambda: held_shells(parked.mark), 10)
            handle, job, s = h.handle(), h.jobs[0], h.s
            if end == "cancel":
                s.cancel(job)
            elif end == "remove":
                s.remove_job(job)
            else:
                s.stop(terminate=True)
            result = await asyncio.wait_for(handle.wait(), 10)
            wait_until(lambda: not alive(pid), 5, "the held child outlived its run")
            await h.clock.run_for(0.5)  # past the instant
            await asyncio.sleep(0.3)
        return result

    result = asyncio.run(main())
    assert result.status is RunStatus.CANCELLED and result.started_at is None
    assert wait_until(lambda: marked(parked.mark) == {}, 5) and not parked.ran.exists()
    assert process.hold_room() == FULL


def test_a_held_run_whose_claim_is_refused_at_its_instant_ends_its_child_unrun(
        parked: Parked) -> None:
    class Refusing(NullStateSink):
        def run_claimed(self, job: str, run_id: str, scheduled_for: datetime) -> None:
            raise OSError("disk full")

    async def main() -> RunResult:
        async with prepared(parked.agent, state_sink=Refusing()) as h:
            (pid,) = await until(lambda: held_shells(parked.mark), 10)
            handle = h.handle()
            await h.clock.run_for(0.3)
            result = await asyncio.wait_for(handle.wait(), 10)
            wait_until(lambda: not alive(pid), 5, "the held child outlived its refused run")
            await asyncio.sleep(0.2)
        return result

    result = asyncio.run(main())
    assert result.status is RunStatus.SKIPPED and "could not be recorded" in result.error
    assert wait_until(lambda: marked(parked.mark) == {}, 5) and not parked.ran.exists()
    assert process.hold_room() == FULL


def test_a_pause_while_held_skips_that_slot_and_ends_the_held_child_unrun(
        parked: Parked) -> None:
    async def main() -> RunResult:
        async with prepared(parked.agent) as h:
            assert await until(lambda: held_shells(parked.mark), 10)
            handle = h.handle()
            h.s.pause_job(h.jobs[0], "later")
            await h.clock.run_for(0.3)
            return await asyncio.wait_for(handle.wait(), 10)

    result = asyncio.run(main())
    # as if it had been dispatched at its instant: the slot is skipped, its command never ran
    assert result.status is RunStatus.SKIPPED and result.error == "paused: later"
    assert wait_until(lambda: marked(parked.mark) == {}, 5) and not parked.ran.exists()
    assert process.hold_room() == FULL


def test_a_held_child_that_dies_before_its_instant_is_started_afresh(parked: Parked) -> None:
    async def main() -> RunResult:
        async with prepared(parked.agent) as h:
            (pid,) = await until(lambda: held_shells(parked.mark), 10)
            os.kill(pid, signal.SIGKILL)
            await until(lambda: not held_shells(parked.mark), 10)
            handle = h.handle()
            await h.clock.run_for(0.3)
            return await asyncio.wait_for(handle.wait(), 10)

    result = asyncio.run(main())
    assert result.ok and result.output_tail == "j\n" and parked.ran.read_text() == "ran\n"
    assert process.hold_room() == FULL


@pytest.mark.parametrize("case", ["not found", "no shebang", "no interpreter", "no cwd"])
def test_a_command_that_cannot_start_fails_as_it_did_when_started_at_the_instant(
        tmp_path: Path, case: str) -> None:
    cwd: Path | None = None
    if case == "not found":
        argv = ["no-such-program-crondeck-test"]
    elif case == "no cwd":
        argv, cwd = ["/bin/echo", "hi"], tmp_path / "missing"
    else:
        path = tmp_path / "prog"
        path.write_text("echo ran > ran\n" if case == "no shebang"
                        else "#!/no/such/interpreter\necho ran\n")
        path.chmod(0o755)
        argv = [str(path)]
    agent = CommandAgent(argv, cwd=cwd)

    async def held() -> RunResult:
        async with prepared(agent, max_runs=1) as h:
            handle = h.handle()
            await h.clock.run_for(0.3)
            return await asyncio.wait_for(handle.wait(), 10)

    async def launched() -> RunResult:
        s = Scheduler()
        job = s.add_job(agent, None, every(hours=24), name="j")
        return await asyncio.wait_for(s.run_now(job).wait(), 10)

    result, plain = asyncio.run(held()), asyncio.run(launched())
    assert result.status is plain.status is RunStatus.FAILED
    assert result.error == plain.error and result.error.startswith("cannot start")
    assert result.exit_code is plain.exit_code is None
    assert not (tmp_path / "ran").exists()
    assert process.hold_room() == FULL


def test_runs_past_the_hold_limit_start_at_the_instant_and_all_run(
        parked: Parked, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "HOLD_LIMIT", 3)

    async def main() -> list[RunResult]:
        async with prepared(parked.agent, jobs=8, max_runs=1, max_concurrent_runs=20) as h:
            assert await until(lambda: len(held_shells(parked.mark)) >= 3, 10)
            await asyncio.sleep(0.1)
            assert len(held_shells(parked.mark)) == 3
            handles = [h.handle(i) for i in range(8)]
            await h.clock.run_for(0.3)
            return [await asyncio.wait_for(handle.wait(), 20) for handle in handles]

    results = asyncio.run(main())
    assert [r.output_tail for r in results] == [f"j{i}\n" for i in range(8)]
    assert all(r.ok and r.started_at == at(10) for r in results)
    assert parked.ran.read_text() == "ran\n" * 8
    assert process.hold_room() == 3


def test_a_held_run_that_has_to_queue_is_started_afresh_when_its_turn_comes(
        parked: Parked) -> None:
    async def main() -> tuple[list[RunResult], list[str]]:
        async with prepared(parked.agent, jobs=2, max_runs=1, max_concurrent_runs=1) as h:
            sub = h.s.subscribe()  # before the instant, where a run queues
            assert await until(lambda: len(held_shells(parked.mark)) >= 2, 10)
            handles = [h.handle(i) for i in range(2)]
            await h.clock.run_for(0.3)
            # the queued run's held child is ended at once: it waits without one
            assert await until(lambda: len(held_shells(parked.mark)) == 0, 5) is True
            results = [await asyncio.wait_for(handle.wait(), 20) for handle in handles]
        return results, [e.job for e in sub.drain() if isinstance(e, RunQueued)]

    results, queued = asyncio.run(main())
    assert queued == ["j1"]
    assert [(r.ok, r.output_tail) for r in results] == [(True, "j0\n"), (True, "j1\n")]
    assert parked.ran.read_text() == "ran\n" * 2
    assert process.hold_room() == FULL


SCHEDULER_CHILD = r"""
import asyncio, os, sys
from datetime import datetime
from crondeck.core import CommandAgent, Scheduler, every
due = datetime.fromisoformat(sys.argv[1])
s = Scheduler(lead=1.0)
s.add_job(CommandAgent(["/bin/sh", "-c", 'echo ran > "$RAN"'],
                       env={"CRONDECK_TEST_MARK": sys.argv[2], "RAN": sys.argv[3]}),
          None, every(hours=1, start=due), name="j")
asyncio.run(s.astart())
"""

HOLDER_CHILD = r"""
import asyncio, os, sys
from crondeck.core import process
async def main():
    env = {**os.environ, "CRONDECK_TEST_MARK": sys.argv[1], "RAN": sys.argv[2]}
    plan = process.plan_spawn(["/bin/sh", "-c", 'echo ran > "$RAN"'], env=env, cwd=None,
                              stdin=False)
    child = process.hold(plan, print, print)
    print(child.pid, flush=True)
    await asyncio.sleep(60)
asyncio.run(main())
"""


@pytest.mark.slow
def test_a_scheduler_killed_while_a_child_is_held_leaves_the_command_unrun(
        tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    ran = tmp_path / "ran"
    due = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
    proc = subprocess.Popen([sys.executable, "-c", SCHEDULER_CHILD, due.isoformat(), mark,
                             str(ran)], cwd=ROOT)
    try:
        deadline = due.timestamp() - 0.2
        pids: list[int] = []
        while not pids and time.time() < deadline:
            pids = held_shells(mark)
            time.sleep(0.02)
        assert pids, "no child was held ahead of the instant"
        proc.kill()
        proc.wait(10)
        wait_until(lambda: not alive(pids[0]), 5, "the held child outlived its scheduler")
        time.sleep(max(0.0, due.timestamp() + 1.0 - time.time()))
        assert wait_until(lambda: marked(mark) == {}, 5) and not ran.exists()
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.slow
def test_a_held_child_whose_parent_dies_exits_at_the_end_of_its_input_unrun(
        tmp_path: Path) -> None:
    """Without the watchdog: the held shell reads end of input once its parent is gone."""
    mark = uuid.uuid4().hex
    ran = tmp_path / "ran"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER_CHILD, mark, str(ran)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pid = int(proc.stdout.readline())
        assert wait_until(lambda: held_shells(mark) == [pid], 5)  # its exec may still be under way
        proc.kill()
        proc.wait(10)
        wait_until(lambda: not alive(pid), 5, "the held child outlived its parent")
        time.sleep(0.3)
        assert not ran.exists()
    finally:
        proc.kill()
        proc.wait(10)


def test_fewer_children_are_held_under_a_low_limit_of_open_files(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process.resource, "getrlimit", lambda what: (1024, 4096))
    assert process.hold_room() == 64  # four descriptors each, and room for the runs going
    monkeypatch.setattr(process.resource, "getrlimit",
                        lambda what: (process.resource.RLIM_INFINITY,) * 2)
    assert process.hold_room() == process.HOLD_LIMIT


def test_a_script_whose_interpreter_line_changes_is_read_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The verdict on a program's head is kept while the file is unchanged (a job that fires
    every minute reads it once), and read again once the file changes."""
    mark = uuid.uuid4().hex
    script = tmp_path / "prog"
    script.write_text("#!/no/such/interpreter\necho ran\n")
    script.chmod(0o755)
    agent = CommandAgent([str(script)], env={MARK: mark})
    opened: list[str] = []
    real_open = open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if file == str(script):
            opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(process, "open", counting_open, raising=False)
    # Each run's preparation as it returns, with the child it holds (None: not held).
    holds: list[process.Launched | None] = []
    real_prepare = CommandAgent.prepare

    def noting_prepare(self: CommandAgent, ctx: Any) -> None:
        real_prepare(self, ctx)
        holds.append(ctx.prepared.held)

    monkeypatch.setattr(CommandAgent, "prepare", noting_prepare)

    async def main() -> list[RunResult]:
        results = []
        async with prepared(agent, max_runs=3) as h:
            for n, slot in enumerate((10, 20, 30), 1):
                await h.clock.run_for((at(slot - 0.3) - h.clock.now()).total_seconds())
                await until(lambda n=n: len(holds) >= n, 10, f"the run of slot {slot} prepared")
                child = holds[n - 1]
                if slot == 10:  # a shell would run it as its own script: not held
                    assert child is None and not held_shells(mark)
                else:  # the fixed script is seen: held again, before the instant
                    assert child is not None, f"not held; room for {process.hold_room()}"
                    # polled: /proc shows a new child's argv and environment only once its
                    # exec is through, which can be after Popen has returned
                    assert await until(lambda: held_shells(mark), 10,
                                       f"the held shell of slot {slot}") == [child.pid]
                handle = h.handle()
                await h.clock.run_for(0.3)
                results.append(await asyncio.wait_for(handle.wait(), 10))
                if slot == 10:
                    script.write_text("#!/bin/sh\necho \"ran $CRONDECK_JOB\"\n")
        return results

    first, second, third = asyncio.run(main())
    assert first.status is RunStatus.FAILED and first.error.startswith("cannot start")
    assert second.ok and second.output_tail == "ran j\n"
    assert third.ok and third.output_tail == "ran j\n"
    assert len(opened) == 2  # once for each version of the file, not once a run
    assert process.hold_room() == FULL


def test_the_start_line_starts_held_children_before_it_wakes_any_run() -> None:
    """At an instant, what each claimed run must start first (its held child) is started
    for all of them in one pass, before any run goes on; a refused run's is not; one that
    fails fails only its own run."""
    from crondeck.core.runner import StartLine

    clock = FakeClock(at(0))
    order: list[str] = []
    refused = RunResult(run_id="r1", job="j1", scheduled_for=at(10),
                        status=RunStatus.SKIPPED, error="could not be recorded")

    def claim(batch: list[Any]) -> list[RunResult | None]:
        order.append("claim")
        return [refused if handle == "h1" else None for _, handle in batch]

    def first(i: int) -> Callable[[], None]:
        def start() -> None:
            order.append(f"first {i}")
            if i == 3:
                raise OSError("no more processes")
        return start

    async def main() -> list[Any]:
        line = StartLine(clock, claim)

        async def run(i: int) -> Any:
            try:
                got = await line.wait(at(10), cast(Job, f"j{i}"), cast(RunHandle, f"h{i}"),
                                      first(i))
            except OSError as exc:
                got = exc
            order.append(f"woke {i}")
            return got

        tasks = [asyncio.create_task(run(i)) for i in range(4)]
        await clock.run_for(10)
        return await asyncio.wait_for(asyncio.gather(*tasks), 5)

    got = asyncio.run(main())
    assert order == ["claim", "first 0", "first 2", "first 3",
                     "woke 0", "woke 1", "woke 2", "woke 3"]
    assert got[0] == got[2] == (at(10), None) and got[1] == (at(10), refused)
    assert isinstance(got[3], OSError)


def test_a_run_cancelled_as_its_child_starts_at_the_instant_ends_it_and_frees_its_place(
        parked: Parked, monkeypatch: pytest.MonkeyPatch) -> None:
    """The held child starts at the instant before its run goes on; a run cancelled in
    between never takes it over: the child is ended, and its place in the concurrency
    limit goes to the next run."""
    real = CommandAgent.start_prepared
    box: dict[str, Scheduler] = {}
    cancelled: list[int] = []

    def start_then_cancel(self: CommandAgent, ctx: Any) -> bool:
        started = real(self, ctx)
        if ctx.job == "j0":
            cancelled.append(box["s"].cancel("j0"))
        return started

    monkeypatch.setattr(CommandAgent, "start_prepared", start_then_cancel)

    async def main() -> list[RunResult]:
        async with prepared(parked.agent, jobs=2, max_runs=1, max_concurrent_runs=1) as h:
            box["s"] = h.s
            assert await until(lambda: len(held_shells(parked.mark)) >= 2, 10)
            handles = [h.handle(i) for i in range(2)]
            await h.clock.run_for(0.3)
            return [await asyncio.wait_for(handle.wait(), 20) for handle in handles]

    first, second = asyncio.run(main())
    assert cancelled == [1]
    assert first.status is RunStatus.CANCELLED and first.started_at is None
    assert second.ok and second.output_tail == "j1\n"
    assert wait_until(lambda: marked(parked.mark) == {}, 5)
    assert parked.ran.read_text() in ("ran\n", "ran\nran\n")  # j0's may have got that far
    assert process.hold_room() == FULL


def test_a_program_changed_while_its_head_is_read_is_read_again_next_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The verdict on a program's head is kept only under the version it was read from."""
    script = tmp_path / "prog"
    script.write_text("#!/no/such/interpreter\n")
    opened: list[str] = []
    real_open = open

    def changing_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if file == str(script):
            opened.append(file)
            if len(opened) == 1:  # changed between the look-up and the read
                script.write_text("#!/bin/sh\necho changed\n")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(process, "open", changing_open, raising=False)
    assert process._head_of(str(script)) == b"/bin/sh"  # judged as read
    assert process._head_of(str(script)) == b"/bin/sh"
    assert process._head_of(str(script)) == b"/bin/sh"
    assert len(opened) == 2  # not kept under the older version's look-up: read again, once
