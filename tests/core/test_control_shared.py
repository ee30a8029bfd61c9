"""Snapshots that send the parts jobs share once (`"shared": true` in a client's hello), both
directions of the negotiation (an older client gets full records; the mirror works with an
older server's), and a big resync read lazily, announcing only what changed: real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import until

import crondeck.core.remote as remote
from crondeck.core import (
    ControlAttached,
    ControlClient,
    ControlServer,
    Event,
    JobAdded,
    JobChanged,
    JobRemoved,
    RemoteScheduler,
    RunHandle,
    Scheduler,
    Subscription,
    control_path,
    every,
    load_config,
    open_runtime,
    resolve_shared,
)
from crondeck.core.wire import job_json, scheduler_json

WAIT = 10.0


class Gate:
    """An agent that waits to be released (a run in flight)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self) -> AsyncIterator[str]:
        yield "working\n"
        await self.release.wait()


def run(main: Callable[[], Any]) -> None:
    asyncio.run(asyncio.wait_for(main(), 30))


def ok() -> str:
    return "ok"


def scheduler(gate: Gate) -> Scheduler:
    """Jobs of every shape, several alike: two schedules, two agents, paused and not, a run
    in flight, results."""
    s = Scheduler()
    for i in range(6):
        s.add_job(ok, f"prompt {i}", "*/5 * * * *" if i % 2 else every(hours=1),
                  name=f"job-{i}", tz="Europe/Paris" if i % 2 else None)
    s.add_job(gate, "p", every(hours=1), name="gated")
    s.pause_job("job-1", note="vacation ✓")
    s.jobs["job-2"].cost_total = 0.25
    return s


async def with_runs(gate: Gate) -> tuple[Scheduler, RunHandle]:
    """`scheduler(gate)` once job-3 has a result and `gated` a run in flight (its handle)."""
    s = scheduler(gate)
    await s.run_now("job-3")
    handle = s.run_now("gated")
    await asyncio.sleep(0.05)
    return s, handle


def test_a_client_that_reads_shared_parts_gets_each_once_and_the_same_jobs(
        short_dir: Path) -> None:
    async def main() -> None:
        gate = Gate()
        s, handle = await with_runs(gate)
        path = control_path(short_dir)
        async with ControlServer(s, path):
            newer = await ControlClient.connect(path, subscribe=True, shared=True)
            older = await ControlClient.connect(path, subscribe=True)
            try:
                assert newer.hello["shared"] is True and "shared" not in older.hello
                full, compact = older.snapshot, newer.snapshot
                assert full is not None and compact is not None
                assert "shared" not in full
                assert all(isinstance(j["schedule"], dict) and "paused" in j
                           for j in full["jobs"])
                shared = compact["shared"]
                # two schedules (hourly, */5 in Paris), one options set, two agents
                assert len(shared["schedule"]) == 2 and len(shared["options"]) == 1
                assert len(shared["agent"]) == 2
                assert len(shared["state"]) < len(compact["jobs"])  # most jobs at rest
                for rec in compact["jobs"]:
                    assert all(type(rec[k]) is int
                               for k in ("schedule", "agent", "options", "state"))
                    assert "paused" not in rec
                assert [dict(resolve_shared(r, shared)) for r in compact["jobs"]] == (
                    full["jobs"])
                gated = next(r for r in compact["jobs"] if r["name"] == "gated")
                assert gated["running"] and gated["running"][0]["run_id"] == handle.run_id
                # a resync on the connection is shared too; the stream's records are full
                await newer.call("snapshot")
                again = await asyncio.wait_for(newer._messages.get(), WAIT)
                assert again is not None and again["type"] == "snapshot"
                assert again["shared"] == shared
                await newer.call("pause", job="job-0")
                while True:
                    msg = await asyncio.wait_for(newer._messages.get(), WAIT)
                    assert msg is not None
                    if msg["type"] == "job":
                        assert msg["job"]["schedule"] == shared["schedule"][0]
                        assert msg["job"]["paused"] is True
                        break
            finally:
                await newer.close()
                await older.close()
        gate.release.set()
        await handle

    run(main)


def test_an_older_client_that_says_nothing_of_shared_parts_gets_full_records(
        short_dir: Path) -> None:
    """The hello a protocol-1 client sent before this extension, on a raw socket."""
    async def main() -> None:
        s = scheduler(Gate())
        path = control_path(short_dir)
        async with ControlServer(s, path):
            def talk() -> list[dict[str, Any]]:
                with socket.socket(socket.AF_UNIX) as sock:
                    sock.settimeout(WAIT)
                    sock.connect(str(path))
                    sock.sendall(b'{"op": "hello", "version": 1, "subscribe": true}\n')
                    data = b""
                    while data.count(b"\n") < 2:
                        data += sock.recv(1 << 16)
                return [json.loads(line) for line in data.splitlines()[:2]]

            hello, snap = await asyncio.get_running_loop().run_in_executor(None, talk)
            assert hello["type"] == "hello" and "shared" not in hello
            assert "shared" not in snap
            assert [j["name"] for j in snap["jobs"]] == list(s.jobs)
            assert snap["jobs"][0] == job_json(s.jobs["job-0"], results=True)

    run(main)


async def older_server(path: Path, s: Scheduler) -> asyncio.AbstractServer:
    """A scheduler speaking protocol 1 as it was before shared parts: it ignores what it does
    not know in a hello and always sends full records."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = json.loads(await reader.readline())
        assert hello["shared"] is True  # what a newer mirror asks for
        lines = [{"type": "hello", "version": 1, "pid": os.getpid(), "kind": "crondeck run",
                  "started_at": "2026-12-05T04:00:00+00:00", "config": None,
                  "state_dir": None},
                 {"type": "snapshot", "seq": s.bus.last_seq, "scheduler": scheduler_json(s),
                  "output": [], "jobs": [job_json(j, results=True) for j in s.jobs.values()]}]
        writer.write("".join(json.dumps(m) + "\n" for m in lines).encode())
        await writer.drain()
        await reader.read()  # commands unanswered: this test sends none
        writer.close()

    return await asyncio.start_unix_server(serve, str(path))


@pytest.mark.parametrize("lazy", [False, True])
def test_the_mirror_reads_an_older_servers_full_records(
        short_dir: Path, monkeypatch: pytest.MonkeyPatch, lazy: bool) -> None:
    if lazy:
        monkeypatch.setattr(remote, "LARGE_SCHEDULE", 2)

    async def main() -> None:
        s = scheduler(Gate())
        path = short_dir / "control.sock"
        server = await older_server(path, s)
        os.chmod(path, 0o600)
        mirror = await RemoteScheduler.attach(path)
        try:
            assert mirror.hello is not None and "shared" not in mirror.hello
            assert set(mirror.jobs) == set(s.jobs)
            assert any(not j.filled for j in mirror.jobs.values()) == lazy
            one = mirror.jobs["job-1"]
            assert one.paused and one.pause_note == "vacation ✓"
            assert one.schedule.text == "*/5 * * * *" and str(one.schedule.tz) == "Europe/Paris"
            assert mirror.jobs["job-2"].cost_total == 0.25
            assert mirror.jobs["job-0"].prompt == "prompt 0"
        finally:
            await mirror.aclose()
            server.close()

    run(main)


@pytest.mark.parametrize("lazy", [False, True])
def test_the_mirror_on_a_newer_server_reads_the_jobs_as_they_are(
        short_dir: Path, monkeypatch: pytest.MonkeyPatch, lazy: bool) -> None:
    if lazy:
        monkeypatch.setattr(remote, "LARGE_SCHEDULE", 2)

    async def main() -> None:
        gate = Gate()
        s, handle = await with_runs(gate)
        path = control_path(short_dir)
        async with ControlServer(s, path):
            mirror = await RemoteScheduler.attach(path)
            try:
                assert mirror.hello is not None and mirror.hello["shared"] is True
                assert any(not j.filled for j in mirror.jobs.values()) == lazy
                for name, job in s.jobs.items():
                    mine = mirror.jobs[name]
                    assert (mine.paused, mine.pause_note, mine.next_fire, mine.cost_total,
                            mine.prompt, mine.schedule.describe(), mine.agent.name,
                            mine.options, list(mine.results)) == (
                        job.paused, job.pause_note, job.next_fire, job.cost_total, job.prompt,
                        job.schedule.describe(), job.agent.name, job.options,
                        list(job.results))
                assert list(mirror.jobs["gated"].running) == [handle.run_id]
            finally:
                await mirror.aclose()
        gate.release.set()
        await handle

    run(main)


def jobs_file(*jobs: tuple[str, str, str]) -> str:
    return "".join(f'[[jobs]]\nname = "{name}"\ncommand = "true"\nprompt = "{prompt}"\n'
                   f'schedule = "{schedule}"\n\n' for name, schedule, prompt in jobs)


BEFORE = [("gone", "@daily", ""), ("moved", "@daily", ""), ("reworded", "@daily", "before"),
          ("kept", "@daily", ""), ("untouched", "@daily", "")]
AFTER = [("moved", "@hourly", ""), ("reworded", "@daily", "after"), ("kept", "@daily", ""),
         ("untouched", "@daily", ""), ("fresh", "@weekly", "")]


async def events_until_attached(sub: Subscription) -> list[Event]:
    got: list[Event] = []
    while not any(isinstance(e, ControlAttached) for e in got):
        got.append(await asyncio.wait_for(sub.get(), WAIT))
    return got


def test_a_big_resync_reads_lazily_and_announces_what_changed_in_the_jobs_file(
        short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disconnected, the jobs file changes (a job removed, one added, two changed, two not);
    on reconnecting the mirror shows the new picture, its jobs read when needed, and the
    events name exactly the jobs removed, added and changed."""
    monkeypatch.setattr(remote, "LARGE_SCHEDULE", 2)
    config = short_dir / "crondeck.toml"
    config.write_text(jobs_file(*BEFORE))
    runtime = open_runtime(load_config(config))
    path = control_path(runtime.config.state_dir)

    def server() -> ControlServer:
        return ControlServer(runtime.scheduler, path, kind="crondeck run",
                             config_path=config, reload=runtime.reload)

    async def main() -> None:
        sched = runtime.scheduler
        loop_task = asyncio.create_task(sched.astart(stop_when_done=False))
        await until(lambda: sched.running_loop, WAIT)
        served = await server().start()
        mirror = await RemoteScheduler.attach(path, backoff=(0.05, 0.2))
        try:
            assert not any(j.filled for j in mirror.jobs.values())
            # the console has read two of them (one to change, one not)
            assert mirror.jobs["moved"].schedule.text == "@daily"
            assert mirror.jobs["kept"].prompt == ""
            await served.close()
            await until(lambda: not mirror.connected, WAIT)
            sub = mirror.subscribe()
            config.write_text(jobs_file(*AFTER))
            outcome = runtime.reload()
            assert not outcome.problems and outcome.removed == ["gone"]
            served = await server().start()
            got = await events_until_attached(sub)
            assert [e.job for e in got if isinstance(e, JobRemoved)] == ["gone"]
            added = [e for e in got if isinstance(e, JobAdded)]
            assert [(e.job, e.schedule, e.agent) for e in added] == [
                ("fresh", "@weekly", "true")]
            assert added[0].description == sched.jobs["fresh"].schedule.describe()
            assert sorted(e.job for e in got if isinstance(e, JobChanged)) == [
                "moved", "reworded"]
            assert set(mirror.jobs) == {"moved", "reworded", "kept", "untouched", "fresh"}
            # read only when needed, and then as the scheduler has them
            assert not any(mirror.jobs[n].filled for n in ("moved", "reworded", "fresh"))
            assert mirror.jobs["moved"].schedule.text == "@hourly"
            assert mirror.jobs["moved"].next_fire == sched.jobs["moved"].next_fire
            assert mirror.jobs["reworded"].prompt == "after"
            assert mirror.jobs["fresh"].schedule.text == "@weekly"
            assert mirror.jobs["kept"].filled and not mirror.jobs["untouched"].filled
            # and it follows the new connection
            mirror.pause_job("fresh")
            await until(lambda: mirror.jobs["fresh"].paused, WAIT)
        finally:
            await mirror.aclose()
            await served.close()
            sched.stop(terminate=True)
            await asyncio.wait_for(loop_task, WAIT)

    try:
        run(main)
    finally:
        runtime.close()
