"""The control socket as `crondeck run` serves it, and a client that never reads: real
processes, real sockets, the system clock."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import socket
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from helpers import wait_until

from crondeck.cli.commands.run import serve
from crondeck.core import (
    CommandAgent,
    ControlClient,
    ControlServer,
    NoScheduler,
    RunStarted,
    Scheduler,
    control_call,
    control_path,
    every,
    load_config,
    open_runtime,
)
from crondeck.core.control import SUB_EVENTS

pytestmark = pytest.mark.slow
CALL_WAIT = 30.0  # one control exchange, on a machine others' work keeps busy


def test_crondeck_run_serves_status_and_commands_and_removes_its_socket(
        short_dir: Path) -> None:
    config = short_dir / "crondeck.toml"
    config.write_text('[[jobs]]\nname = "inbox-watch"\ncommand = "echo tick"\n'
                      'schedule = "@every 1s"\n\n[[jobs]]\nname = "digest"\n'
                      'command = "true"\nschedule = "@daily"\n')
    proc = subprocess.Popen([sys.executable, "-m", "crondeck.cli", "--config", str(config),
                             "run"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    path = control_path(short_dir / ".crondeck")
    # Each answer takes milliseconds; a niced test process (and its scheduler) starved of CPU
    # by other work on the machine took seconds, past control_call's default 5 s deadline.
    call = partial(control_call, path, timeout=CALL_WAIT)
    try:
        wait_until(path.exists, 30, "the control socket")
        status = call("status")
        hello = status["hello"]
        assert (hello["kind"], hello["pid"], hello["config"]) == (
            "crondeck run", proc.pid, str(config))
        assert hello["state_dir"] == str((short_dir / ".crondeck").resolve())
        assert [j["name"] for j in status["jobs"]] == ["inbox-watch", "digest"]
        assert status["jobs"][0]["schedule"]["expression"] == "@every 1s"
        assert status["scheduler"]["running_loop"] is True
        assert call("pause", job="digest", note="vacation")["paused"] is True
        assert call("status")["jobs"][1]["pause_note"] == "vacation"
        config.write_text(config.read_text() + '\n[[jobs]]\nname = "new"\ncommand = "true"\n'
                          'schedule = "@hourly"\n')
        assert call("reload") == {"applied": True, "changed": [], "added": ["new"],
                                  "removed": [], "problems": []}
        config.write_text(config.read_text() + '\n[[jobs]]\nname = "bad"\n')
        refused = call("reload")
        assert refused["applied"] is False and refused["problems"]
        assert all("crondeck.toml" in p for p in refused["problems"])
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not path.exists()
    with pytest.raises(NoScheduler):
        control_call(path, "status")
    state = (short_dir / ".crondeck" / "state.toml").read_text()
    assert "vacation" in state  # the pause given over the socket was saved


def test_the_stream_is_what_crondeck_run_prints(short_dir: Path) -> None:
    config = short_dir / "crondeck.toml"
    config.write_text('[[jobs]]\nname = "talker"\ncommand = "printf \'one\\\\ntwo\\\\n\'"\n'
                      'schedule = "@every 1s"\n')
    runtime = open_runtime(load_config(config))
    out, err = io.StringIO(), io.StringIO()
    path = control_path(short_dir / ".crondeck")
    got: list[dict[str, Any]] = []

    async def go() -> int:
        server = asyncio.create_task(serve(runtime, out, err))
        deadline = time.monotonic() + 30
        while not path.exists():
            assert time.monotonic() < deadline, "no control socket"
            await asyncio.sleep(0.02)
        client = await ControlClient.connect(path, subscribe=True)
        assert client.snapshot is not None
        finished = 0
        async for msg in client:
            got.append(msg)
            if msg["type"] == "event" and msg["event"]["event"] == "run_finished":
                finished += 1
                if finished == 2:
                    runtime.scheduler.stop()
        await asyncio.wait_for(server, 30)
        await client.close()
        return int(client.snapshot["seq"])

    try:
        seq = asyncio.run(asyncio.wait_for(go(), 60))
    finally:
        runtime.close()
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    printed = [e for e in printed if "seq" in e and e["seq"] > seq]
    streamed = [m["event"] for m in got if m["type"] == "event"]
    assert streamed == printed
    kinds = [e["event"] for e in streamed]
    assert "output_chunk" in kinds and kinds[-1] == "scheduler_stopped"
    chunks = [e for e in streamed if e["event"] == "output_chunk"]  # each: lines of a read
    assert "".join(e["text"] for e in chunks if e["run_id"] == chunks[0]["run_id"]) == (
        "one\ntwo\n")


def test_a_client_that_never_reads_does_not_delay_any_run(short_dir: Path) -> None:
    """A flood of output goes to a connected client that never reads; a job due every second
    still starts on time, and the connection's memory stays bounded (it is told bye)."""
    flood = ("import sys\nline = 'x' * 100 + '\\n'\nfor _ in range(150_000):\n"
             "    sys.stdout.write(line)\n")
    lateness: list[float] = []

    async def go() -> tuple[int, bool]:
        s = Scheduler(max_concurrent_runs=4)
        s.add_job(CommandAgent([sys.executable, "-c", flood]), "", every(hours=1),
                  name="flood")
        s.add_job(lambda: "tick", None, every(seconds=1), name="tick")

        def on_start(event: Any) -> None:
            if isinstance(event, RunStarted) and event.job == "tick":
                lateness.append((event.at - event.scheduled_for).total_seconds())

        s.add_listener(on_start)
        async with ControlServer(s, control_path(short_dir)) as server:
            stuck = socket.socket(socket.AF_UNIX)
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.connect(str(server.path))
            stuck.sendall(b'{"op": "hello", "version": 1, "subscribe": true}\n')
            loop = asyncio.create_task(s.astart())
            await asyncio.sleep(0.3)
            s.run_now("flood")
            peak = 0
            for _ in range(40):  # 4 s of flood and ticks
                await asyncio.sleep(0.1)
                for conn in server.connections:
                    assert conn.transport is not None
                    peak = max(peak, conn.transport.get_write_buffer_size())
                    assert conn.sub is not None and len(conn.sub) <= SUB_EVENTS + 2_000
            s.stop(terminate=True)
            await asyncio.wait_for(loop, 30)
            stuck.setblocking(False)
            data = b""
            try:
                while chunk := stuck.recv(1 << 20):
                    data += chunk
            except BlockingIOError:
                pass
            stuck.close()
            return peak, b'"type":"bye"' in data

    peak, _ = asyncio.run(asyncio.wait_for(go(), 60))
    assert len(lateness) >= 3, lateness
    assert max(lateness) < 0.5, lateness  # on time while the flood ran (not slowed)
    assert peak < 16 * 1024 * 1024
