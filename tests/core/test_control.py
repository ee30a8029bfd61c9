"""The control socket over real Unix sockets: hello, snapshot, the event stream, every
command and its errors, and the checks on both sides of the socket."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from helpers import Gate

import crondeck.core.control as control
import crondeck.core.control_client as control_client
from crondeck.core import (
    ControlClient,
    ControlError,
    ControlServer,
    NoScheduler,
    OutputChunk,
    Problem,
    Reload,
    Scheduler,
    control_call,
    control_path,
    event_json,
    every,
)
from crondeck.core.control import MAX_PATH
from crondeck.core.wire import job_capture, job_record


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def scheduler_with(*names: str) -> Scheduler:
    s = Scheduler()
    for name in names:
        s.add_job(lambda: "ok", None, every(hours=1), name=name)
    return s


async def next_of(client: ControlClient, kind: str, *, event: str | None = None
                  ) -> dict[str, Any]:
    async def look() -> dict[str, Any]:
        async for msg in client:
            if msg.get("type") == kind and (event is None or msg["event"]["event"] == event):
                return msg
        raise AssertionError(f"connection ended before a {kind} {event or ''}")
    return await asyncio.wait_for(look(), 10)


# --- hello and snapshot ---------------------------------------------------------------------


def test_hello_and_snapshot_describe_the_scheduler(short_dir: Path) -> None:
    real = os.path.realpath(short_dir)

    async def go() -> None:
        s = scheduler_with("inbox-watch", "digest")
        s.pause_all(note="lunch")
        async with ControlServer(s, control_path(short_dir), kind="crondeck run",
                                 config_path=short_dir / "crondeck.toml") as server:
            mode = await asyncio.to_thread(os.stat, server.path)
            assert mode.st_mode & 0o777 == 0o600
            client = await ControlClient.connect(server.path, subscribe=True, client="test")
            hello = client.hello
            config = short_dir / "crondeck.toml"
            assert (hello["type"], hello["version"], hello["pid"], hello["kind"]) == (
                "hello", 1, os.getpid(), "crondeck run")
            assert hello["config"] == str(config)
            assert hello["state_dir"] == real
            datetime.fromisoformat(hello["started_at"])
            snap = client.snapshot
            assert snap is not None and snap["seq"] == s.bus.last_seq
            assert [j["name"] for j in snap["jobs"]] == ["inbox-watch", "digest"]
            assert snap["scheduler"]["paused"] and snap["scheduler"]["pause_note"] == "lunch"
            assert snap["jobs"][0]["schedule"]["expression"] == "@every 1h"
            assert "results" in snap["jobs"][0] and snap["output"] == []
            await client.close()
        assert not await asyncio.to_thread(os.path.exists, server.path)

    run(go())


def test_a_command_only_connection_gets_no_snapshot_nor_stream(short_dir: Path) -> None:
    async def go() -> None:
        s = scheduler_with("a")
        async with ControlServer(s, control_path(short_dir)) as server:
            client = await ControlClient.connect(server.path)
            assert client.snapshot is None and client.hello["kind"] == "embedded"
            assert client.hello["config"] is None and client.hello["state_dir"] is None
            s.pause_job("a")
            result = await client.call("resume", job="a")
            assert result == {"job": "a", "paused": False}
            await asyncio.sleep(0.05)
            assert client._messages.empty()  # nothing streamed
            await client.close()

    run(go())


def test_snapshot_includes_the_output_of_a_run_in_flight(short_dir: Path) -> None:
    async def go() -> None:
        s = Scheduler()
        gate = Gate()
        s.add_job(gate, None, every(hours=1), name="talker")
        async with ControlServer(s, control_path(short_dir)) as server:
            watcher = await ControlClient.connect(server.path, subscribe=True)
            handle = s.run_now("talker")
            for _ in range(2):
                await next_of(watcher, "event", event="output_chunk")
            late = await ControlClient.connect(server.path, subscribe=True)
            snap = late.snapshot
            assert snap is not None
            assert [(o["job"], o["run_id"], o["stream"], o["text"]) for o in snap["output"]] == [
                ("talker", handle.run_id, "stdout", "first line\n"),
                ("talker", handle.run_id, "stdout", "second line\n")]
            [job] = snap["jobs"]
            assert [r["run_id"] for r in job["running"]] == [handle.run_id]
            assert job["running"][0]["manual"] is True
            gate.release.set()
            chunk = await next_of(late, "event", event="output_chunk")
            assert chunk["event"]["text"] == "last line\n"  # the stream continues the tail
            assert chunk["event"]["seq"] > snap["seq"]
            await handle
            again = await ControlClient.connect(server.path, subscribe=True)
            assert again.snapshot is not None and again.snapshot["output"] == []
            for c in (watcher, late, again):
                await c.close()

    run(go())


# --- the stream -----------------------------------------------------------------------------


def test_job_records_come_before_job_events_and_scheduler_records_after(short_dir: Path) -> None:
    async def go() -> None:
        s = scheduler_with("a")
        async with ControlServer(s, control_path(short_dir)) as server:
            client = await ControlClient.connect(server.path, subscribe=True)
            s.pause_job("a", note="why")
            s.pause_all(note="all")
            got = []
            async for msg in client:
                got.append(msg)
                if msg.get("type") == "scheduler":
                    s.remove_job("a")
                if msg.get("type") == "event" and msg["event"]["event"] == "job_removed":
                    break
            kinds = [(m["type"], m["event"]["event"] if m["type"] == "event" else None)
                     for m in got]
            assert kinds == [("job", None), ("event", "job_paused"),
                             ("job", None), ("event", "next_fire_computed"),
                             ("event", "scheduler_paused"), ("scheduler", None),
                             ("event", "job_removed")]
            assert got[0]["job"]["paused"] and got[0]["job"]["pause_note"] == "why"
            assert "results" not in got[0]["job"]
            assert got[5]["scheduler"]["paused"] and got[5]["scheduler"]["pause_note"] == "all"
            await client.close()

    run(go())


def test_a_resync_sends_a_fresh_snapshot_and_continues_after_it(short_dir: Path) -> None:
    async def go() -> None:
        s = scheduler_with("a")
        async with ControlServer(s, control_path(short_dir)) as server:
            client = await ControlClient.connect(server.path, subscribe=True)
            s.pause_job("a")
            reply = await client.call("snapshot")
            s.resume_job("a")
            snap = await next_of(client, "snapshot")
            assert snap["seq"] == reply["seq"] and snap["jobs"][0]["paused"]
            event = await next_of(client, "event", event="job_resumed")
            assert event["event"]["seq"] > snap["seq"]
            kinds = []
            while True:  # after the fresh snapshot, nothing it already holds comes again
                msg = await asyncio.wait_for(client._messages.get(), 0.2) if not \
                    client._messages.empty() else None
                if msg is None:
                    break
                kinds.append(msg.get("event", {}).get("event"))
            assert "job_paused" not in kinds
            await client.close()

    run(go())


# --- commands -------------------------------------------------------------------------------


def test_every_command_does_what_it_says(short_dir: Path) -> None:
    async def go() -> None:
        s = scheduler_with("inbox-watch")
        gate = Gate()
        s.add_job(gate, None, every(hours=1), name="digest")
        until = datetime(2030, 1, 1, tzinfo=UTC)
        async with ControlServer(s, control_path(short_dir)) as server:
            c = await ControlClient.connect(server.path)
            assert await c.call("pause", job="digest", note="vacation",
                                until=until.isoformat()) == {
                "job": "digest", "paused": True, "until": "2030-01-01T00:00:00+00:00"}
            job = s.jobs["digest"]
            assert (job.paused, job.pause_note, job.pause_until) == (True, "vacation", until)
            assert await c.call("resume", job="digest") == {"job": "digest", "paused": False}
            assert not job.paused
            assert await c.call("pause_all", note="n") == {"paused": True}
            assert s.paused and s.pause_note == "n"
            assert await c.call("resume_all") == {"paused": False}
            assert not s.paused
            skip = await c.call("skip_next", job="digest")
            assert skip["skip_next"] is True and job.skip_next_pending
            assert skip["next_fire"] == job.next_fire.isoformat()  # type: ignore[union-attr]
            assert (await c.call("skip_next", job="digest", skip=False))["skip_next"] is False
            assert await c.call("disable", job="digest") == {"job": "digest", "enabled": False}
            assert not job.enabled
            assert await c.call("enable", job="digest") == {"job": "digest", "enabled": True}
            ran = await c.call("run_now", job="digest")
            assert ran["job"] == "digest" and ran["run_id"] in job.running
            assert ran["skipped"] is False and ran["reason"] == ""
            again = await c.call("run_now", job="digest")  # overlap "skip" refuses it
            assert again["skipped"] is True and "running" in again["reason"]
            assert await c.call("cancel", job="inbox-watch") == {
                "job": "inbox-watch", "cancelled": 0}
            status = await c.call("status")
            assert status["hello"]["pid"] == os.getpid()
            assert status["scheduler"]["in_flight"] == s.in_flight
            assert [j["name"] for j in status["jobs"]] == ["inbox-watch", "digest"]
            assert all("results" not in j for j in status["jobs"])
            assert status["jobs"][1]["running"][0]["run_id"] == ran["run_id"]
            gate.release.set()
            await asyncio.wait_for(job.running[ran["run_id"]].wait(), 10)
            await c.close()

    run(go())


def test_cancel_stops_a_run_in_flight(short_dir: Path) -> None:
    async def go() -> None:
        s = Scheduler()
        s.add_job(Gate(), None, every(hours=1), name="long")
        async with ControlServer(s, control_path(short_dir)) as server:
            handle = s.run_now("long")
            await asyncio.sleep(0.05)
            result = await asyncio.to_thread(control_call, server.path, "cancel", job="long",
                                             reason="enough")
            assert result == {"job": "long", "cancelled": 1}
            final = await asyncio.wait_for(handle.wait(), 10)
            assert final.status.value == "cancelled"

    run(go())


def test_command_errors_are_one_line_with_a_code(short_dir: Path) -> None:
    async def go() -> None:
        s = scheduler_with("inbox-watch")
        async with ControlServer(s, control_path(short_dir)) as server:
            c = await ControlClient.connect(server.path)

            async def refused(op: str, **args: Any) -> ControlError:
                with pytest.raises(ControlError) as info:
                    await c.call(op, **args)
                assert "\n" not in str(info.value)
                return info.value

            err = await refused("pause", job="inbox-wach")
            assert (err.code, str(err)) == (
                "no_such_job", "no job named 'inbox-wach'; did you mean 'inbox-watch'?")
            err = await refused("resume", job="zzz")
            assert (err.code, str(err)) == ("no_such_job", "no job named 'zzz'")
            err = await refused("pause")
            assert err.code == "bad_request" and "missing 'job'" in str(err)
            err = await refused("paus", job="inbox-watch")
            assert err.code == "bad_request" and "did you mean 'pause'?" in str(err)
            err = await refused("pause", job="inbox-watch", until="tomorrow")
            assert err.code == "bad_request" and "ISO 8601" in str(err)
            err = await refused("pause", job="inbox-watch", until="2030-01-01T00:00:00")
            assert err.code == "bad_request" and "offset" in str(err)
            err = await refused("skip_next", job="inbox-watch", skip="yes")
            assert err.code == "bad_request" and "'skip' must be true or false" in str(err)
            err = await refused("reload")
            assert err.code == "not_supported"
            assert not s.jobs["inbox-watch"].paused
            await c.close()

    run(go())


def test_a_command_that_raises_is_an_internal_error_not_a_traceback(short_dir: Path) -> None:
    def broken() -> Reload:
        raise RuntimeError("disk on fire\nTraceback (most recent call last):")

    async def go() -> None:
        async with ControlServer(scheduler_with("a"), control_path(short_dir),
                                 reload=broken) as server:
            c = await ControlClient.connect(server.path)
            with pytest.raises(ControlError) as info:
                await c.call("reload")
            assert info.value.code == "internal"
            assert str(info.value) == "reload failed: RuntimeError: disk on fire"
            assert await c.call("resume", job="a") == {"job": "a", "paused": False}
            await c.close()

    run(go())


def test_reload_answers_applied_or_the_problems_and_says_so_on_the_stream(
        short_dir: Path) -> None:
    outcomes = [Reload(added=["new"], changed=["a"]),
                Reload(problems=[Problem(short_dir / "crondeck.toml", "bad schedule", 7,
                                         "a", "schedule")])]

    async def go() -> None:
        s = scheduler_with("a")
        async with ControlServer(s, control_path(short_dir), reload=lambda: outcomes.pop(0),
                                 config_path=short_dir / "crondeck.toml") as server:
            c = await ControlClient.connect(server.path, subscribe=True)
            assert await c.call("reload") == {"applied": True, "changed": ["a"],
                                              "added": ["new"], "removed": [], "problems": []}
            event = await next_of(c, "event")
            assert event["event"]["event"] == "config_reloaded"
            refused = await c.call("reload")
            assert refused["applied"] is False
            [problem] = refused["problems"]
            assert ":7:" in problem and "schedule" in problem and "bad schedule" in problem
            event = await next_of(c, "event")
            assert event["event"]["event"] == "config_rejected"
            assert event["event"]["problems"] == [problem]
            await c.close()

    run(go())


def test_protocol_errors(short_dir: Path) -> None:
    async def go() -> None:
        async with ControlServer(scheduler_with("a"), control_path(short_dir)) as server:
            reader, writer = await asyncio.open_unix_connection(str(server.path))
            writer.write(b'{"op": "hello", "version": 2}\n')
            line = json.loads(await asyncio.wait_for(reader.readline(), 5))
            assert line == {"type": "error", "code": "bad_request", "error":
                            "this scheduler speaks control protocol 1; the client asked for 2"}
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed
            writer.close()

            reader, writer = await asyncio.open_unix_connection(str(server.path))
            writer.write(b'{"op": "pause", "job": "a"}\n')
            line = json.loads(await asyncio.wait_for(reader.readline(), 5))
            assert line["type"] == "error" and "say hello first" in line["error"]
            writer.close()

            reader, writer = await asyncio.open_unix_connection(str(server.path))
            writer.write(b'{"op": "hello", "version": 1}\nnot json\n[1]\n{"id": 4}\n')
            replies = [json.loads(await asyncio.wait_for(reader.readline(), 5))
                       for _ in range(4)]
            assert replies[0]["type"] == "hello"
            assert [(r["ok"], r["code"]) for r in replies[1:]] == [(False, "bad_request")] * 3
            assert "not a JSON line" in replies[1]["error"]
            assert replies[3]["id"] == 4 and "missing 'op'" in replies[3]["error"]
            writer.close()

    run(go())


def test_a_line_over_the_limit_is_refused_and_closed(short_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crondeck.core.control.MAX_LINE", 1000)

    async def go() -> None:
        async with ControlServer(scheduler_with("a"), control_path(short_dir)) as server:
            reader, writer = await asyncio.open_unix_connection(str(server.path))
            writer.write(b'{"op": "hello", "version": 1}\n' + b"x" * 5000)
            assert json.loads(await reader.readline())["type"] == "hello"
            line = json.loads(await asyncio.wait_for(reader.readline(), 5))
            assert line["type"] == "error" and "longer than 1000 bytes" in line["error"]
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()

    run(go())


def test_a_version_mismatch_is_a_control_error_for_the_client(
        short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control_client, "PROTOCOL_VERSION", 2)

    async def go() -> None:
        async with ControlServer(scheduler_with("a"), control_path(short_dir)) as server:
            with pytest.raises(ControlError, match="speaks control protocol 1; the client "
                                                   "asked for 2"):
                await ControlClient.connect(server.path)
            with pytest.raises(ControlError, match="asked for 2"):
                await asyncio.to_thread(control_call, server.path, "status")

    run(go())


# --- the blocking call, and nobody home ------------------------------------------------------


def test_control_call_blocking(short_dir: Path) -> None:
    async def go() -> None:
        s = scheduler_with("inbox-watch")
        async with ControlServer(s, control_path(short_dir)) as server:
            result = await asyncio.to_thread(control_call, server.path, "pause",
                                             job="inbox-watch", note="n")
            assert result == {"job": "inbox-watch", "paused": True, "until": None}
            with pytest.raises(ControlError) as info:
                await asyncio.to_thread(control_call, server.path, "resume", job="inbox")
            assert info.value.code == "no_such_job"
            assert "did you mean 'inbox-watch'?" in str(info.value)

    run(go())


def test_no_scheduler_when_nothing_listens(short_dir: Path) -> None:
    path = control_path(short_dir)
    with pytest.raises(NoScheduler, match="no socket file"):
        control_call(path, "status")
    stale = socket.socket(socket.AF_UNIX)  # a socket file nobody listens on (a crash)
    stale.bind(str(path))
    stale.close()
    os.chmod(path, 0o600)
    with pytest.raises(NoScheduler, match="nothing listens"):
        control_call(path, "status")
    with pytest.raises(NoScheduler):
        run(ControlClient.connect(path))
    assert issubclass(NoScheduler, ControlError)

    async def go() -> None:  # the next server replaces the stale file
        async with ControlServer(scheduler_with("a"), path) as server:
            result = await asyncio.to_thread(control_call, server.path, "status")
            assert result["jobs"][0]["name"] == "a"

    run(go())


def test_a_second_server_does_not_take_a_live_socket(short_dir: Path) -> None:
    async def go() -> None:
        async with ControlServer(scheduler_with("a"), control_path(short_dir)) as first:
            with pytest.raises(OSError, match="another process serves it already"):
                await ControlServer(scheduler_with("b"), control_path(short_dir)).start()
            result = await asyncio.to_thread(control_call, first.path, "status")
            assert result["jobs"][0]["name"] == "a"

    run(go())


def test_the_server_refuses_to_replace_a_file_that_is_not_a_socket(short_dir: Path) -> None:
    path = control_path(short_dir)
    path.write_text("mine")

    async def go() -> None:
        with pytest.raises(OSError, match="not a socket is in the way"):
            await ControlServer(scheduler_with("a"), path).start()

    run(go())
    assert path.read_text() == "mine"


# --- security ----------------------------------------------------------------------------


def test_the_client_refuses_a_socket_open_to_others(short_dir: Path) -> None:
    async def go() -> None:
        async with ControlServer(scheduler_with("a"), control_path(short_dir)) as server:
            os.chmod(server.path, 0o666)
            with pytest.raises(ControlError) as info:
                await asyncio.to_thread(control_call, server.path, "status")
            assert info.value.code == "unsafe_socket"
            assert str(server.path) in str(info.value) and "0666" in str(info.value)
            assert "must be 0600" in str(info.value)
            with pytest.raises(ControlError, match="0666"):
                await ControlClient.connect(server.path)

    run(go())


def test_the_client_refuses_a_socket_of_another_owner(short_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    async def go() -> None:
        async with ControlServer(scheduler_with("a"), control_path(short_dir)) as server:
            me = os.geteuid()
            monkeypatch.setattr(control_client.os, "geteuid", lambda: me + 1)
            with pytest.raises(ControlError) as info:
                await asyncio.to_thread(control_call, server.path, "status")
            assert info.value.code == "unsafe_socket"
            assert f"belongs to uid {me}" in str(info.value)
            assert str(server.path) in str(info.value)

    run(go())


def test_the_client_refuses_a_path_that_is_not_a_socket(short_dir: Path) -> None:
    path = control_path(short_dir)
    path.write_text("")
    os.chmod(path, 0o600)
    with pytest.raises(ControlError, match="is not a socket") as info:
        control_call(path, "status")
    assert info.value.code == "unsafe_socket"


def test_the_server_refuses_a_peer_of_another_uid(short_dir: Path) -> None:
    async def go() -> None:
        async with ControlServer(scheduler_with("a"), control_path(short_dir)) as server:
            server.uid = os.geteuid() + 1  # as if we were another user
            with pytest.raises(ControlError, match="another user") as info:
                await ControlClient.connect(server.path)
            assert info.value.code == "permission"
            with pytest.raises(ControlError, match="another user"):
                await asyncio.to_thread(control_call, server.path, "status")
            assert not server.connections

    run(go())


def test_a_path_too_long_for_a_unix_socket_is_a_clear_error(
        short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = short_dir / ("d" * (MAX_PATH - len(str(short_dir))))
    monkeypatch.setattr(control, "PROC_ALIAS", False)  # as on macOS
    with pytest.raises(ValueError, match="Unix sockets allow at most") as info:
        control_path(deep)
    assert "shorter path" in str(info.value) and str(deep) in str(info.value)

    async def go() -> None:
        with pytest.raises(ValueError, match="at most"):
            await ControlServer(scheduler_with("a"), deep / "control.sock").start()

    run(go())


def test_a_long_path_is_served_through_a_short_alias_on_linux(short_dir: Path) -> None:
    deep = short_dir / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True, mode=0o700)
    path = control_path(deep)
    assert len(str(path)) > MAX_PATH and control.PROC_ALIAS

    async def go() -> None:
        async with ControlServer(scheduler_with("a"), path) as server:
            assert server.path == path
            status = await asyncio.to_thread(control_call, path, "status")
            assert status["jobs"][0]["name"] == "a"
            client = await ControlClient.connect(path, subscribe=True)
            assert client.snapshot is not None
            await client.close()
            mode = await asyncio.to_thread(os.stat, path)
            assert mode.st_mode & 0o777 == 0o600

    run(go())
    assert not path.exists()


def test_close_unlinks_the_socket_and_ends_connections(short_dir: Path) -> None:
    async def go() -> None:
        server = await ControlServer(scheduler_with("a"), control_path(short_dir)).start()
        client = await ControlClient.connect(server.path, subscribe=True)
        await server.close()
        assert not await asyncio.to_thread(os.path.exists, server.path)
        rest = [m async for m in client]  # iteration ends with the connection
        assert rest == []
        with pytest.raises(ControlError, match=r"closed|went away"):
            await client.call("status")
        await client.close()

    run(go())


def test_until_in_the_pause_reply_is_utc(short_dir: Path) -> None:
    async def go() -> None:
        async with ControlServer(scheduler_with("a"), control_path(short_dir)) as server:
            c = await ControlClient.connect(server.path)
            later = datetime.now(UTC) + timedelta(hours=2)
            paris = later.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
            result = await c.call("pause", job="a", until=paris.isoformat())
            assert result["until"] == later.isoformat()
            await c.close()

    run(go())


# --- slow clients ---------------------------------------------------------------------------


def _stuck_client(path: Path) -> socket.socket:
    """Subscribes, then never reads."""
    stuck = socket.socket(socket.AF_UNIX)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(str(path))
    stuck.sendall(b'{"op": "hello", "version": 1, "subscribe": true}\n')
    return stuck


async def subscribed(server: ControlServer) -> None:
    """Wait until the server has taken the stuck client's subscription."""
    for _ in range(500):
        if any(conn.sub is not None for conn in server.connections):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the client never subscribed")


def _read_all(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    data = b""
    while chunk := sock.recv(1 << 20):
        data += chunk
    return data


def test_a_client_too_far_behind_is_told_bye(short_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "SUB_EVENTS", 200)
    monkeypatch.setattr(control, "STALL_CHECK", 0.02)
    monkeypatch.setattr(control, "HIGH_WATER", 4096)

    async def go() -> bytes:
        s = scheduler_with("a")
        async with ControlServer(s, control_path(short_dir)) as server:
            stuck = await asyncio.to_thread(_stuck_client, server.path)
            await subscribed(server)
            for _ in range(2000):  # state events, not output: none may be dropped
                s.pause_job("a", note="x" * 200)
                s.resume_job("a")
            for _ in range(200):
                if not server.connections:
                    break
                await asyncio.sleep(0.02)
            assert not server.connections  # closed by the server
            data = await asyncio.to_thread(_read_all, stuck)
            stuck.close()
            return data

    data = run(go())
    last = json.loads(data.splitlines()[-1])
    assert last["type"] == "bye"
    assert last["reason"].startswith("client too slow (")
    assert "reconnect for a new snapshot" in last["reason"]


def test_a_write_buffer_past_its_bound_is_told_bye(short_dir: Path) -> None:
    async def go() -> bytes:
        s = scheduler_with("a")
        async with ControlServer(s, control_path(short_dir), write_limit=20_000) as server:
            stuck = await asyncio.to_thread(_stuck_client, server.path)
            await subscribed(server)
            for _ in range(400):
                s.pause_job("a", note="x" * 200)
                s.resume_job("a")
                await asyncio.sleep(0)
                if not server.connections:
                    break
            for _ in range(200):
                if not server.connections:
                    break
                await asyncio.sleep(0.02)
            assert not server.connections
            data = await asyncio.to_thread(_read_all, stuck)
            stuck.close()
            return data

    data = run(go())
    assert json.loads(data.splitlines()[-1])["type"] == "bye"


def test_a_slow_reader_loses_output_first_and_is_told_how_much(
        short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "SUB_CHUNKS", 10)

    async def go() -> list[dict[str, Any]]:
        s = scheduler_with("a")
        async with ControlServer(s, control_path(short_dir)) as server:
            client = await ControlClient.connect(server.path, subscribe=True)
            for i in range(100):  # all at once: the connection's queue holds 10 chunks
                s.bus.emit(OutputChunk, job="a", run_id="a@x", stream="stdout", text=f"{i}\n")
            s.pause_job("a")
            got = []
            async for msg in client:
                got.append(msg)
                if msg["type"] == "event" and msg["event"]["event"] == "job_paused":
                    break
            await client.close()
            return [m["event"] for m in got if m["type"] == "event"]

    events = run(go())
    chunks = [e["text"] for e in events if e["event"] == "output_chunk"]
    [dropped] = [e for e in events if e["event"] == "observer_dropped"]
    assert chunks == [f"{i}\n" for i in range(10)]
    assert dropped["dropped"] == 90 and dropped["dropped_events"] == 0
    assert events[-1]["event"] == "job_paused"  # state events are never dropped for output


# --- long lines -----------------------------------------------------------------------------


def test_a_snapshot_written_in_pieces_is_never_cut_by_other_lines(short_dir: Path) -> None:
    """A snapshot of many jobs goes out piece by piece while the scheduler runs; a reply, a
    status and events that come meanwhile follow it, each line whole."""
    n = control.SNAPSHOT_BATCH * 3 + 7

    async def go() -> list[dict[str, Any]]:
        s = scheduler_with(*(f"job-{i}" for i in range(n)))
        async with ControlServer(s, control_path(short_dir)) as server:
            reader, writer = await asyncio.open_unix_connection(str(server.path), limit=1 << 26)
            writer.write(b'{"op": "hello", "version": 1, "subscribe": true}\n'
                         b'{"op": "status", "id": 1}\n{"op": "pause", "id": 2, "job": "job-3"}\n')
            await writer.drain()
            lines = []
            for _ in range(200):
                raw = await asyncio.wait_for(reader.readline(), 10)
                lines.append(json.loads(raw))
                replies = [m for m in lines if m["type"] == "reply"]
                if len(replies) == 2 and any(m["type"] == "event" for m in lines):
                    break
            writer.close()
            return lines

    lines = run(go())
    kinds = [m["type"] for m in lines]
    assert kinds[:2] == ["hello", "snapshot"]
    snap = lines[1]
    assert [j["name"] for j in snap["jobs"]] == [f"job-{i}" for i in range(n)]
    assert not snap["jobs"][3]["paused"]  # the pause came after the snapshot was taken
    [status] = [m for m in lines if m.get("id") == 1]
    assert len(status["result"]["jobs"]) == n and status["result"]["hello"]["version"] == 1
    [paused] = [m for m in lines if m.get("id") == 2]
    assert paused["result"] == {"job": "job-3", "paused": True, "until": None}
    assert any(m["type"] == "event" and m["event"]["event"] == "job_paused" for m in lines)


def test_output_lines_are_written_exactly_as_event_json(short_dir: Path) -> None:
    texts = ["plain\n", 'quote " and \\ backslash\n', "tab\t\x00\x1b[31mred\n",
             "unicode é ✓ 𝄞 \u2028 line sep\n", ""]

    async def go() -> list[dict[str, Any]]:
        s = scheduler_with("a")
        async with ControlServer(s, control_path(short_dir)) as server:
            client = await ControlClient.connect(server.path, subscribe=True)
            sent = [s.bus.emit(OutputChunk, job="a", run_id='a@"x"', stream="stderr", text=t)
                    for t in texts]
            got = [(await next_of(client, "event", event="output_chunk"))["event"]
                   for _ in texts]
            await client.close()
            return [{"sent": event_json(e), "got": g} for e, g in zip(sent, got, strict=True)]

    for pair in run(go()):
        assert pair["got"] == pair["sent"]


def test_a_connection_that_never_says_hello_is_closed(short_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "HELLO_WAIT", 0.1)

    async def go() -> None:
        async with ControlServer(scheduler_with("a"), control_path(short_dir)) as server:
            reader, writer = await asyncio.open_unix_connection(str(server.path))
            line = json.loads(await asyncio.wait_for(reader.readline(), 5))
            assert line["type"] == "error" and "no hello within 0.1s" in line["error"]
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()
            assert not server.connections

    run(go())


def test_a_snapshot_record_is_written_as_json_would_write_it() -> None:
    """The snapshot writes each job's record directly: the same text as its JSON, for jobs of
    every shape (paused with a note, a run in flight, results, unusual numbers)."""
    async def main() -> None:
        s = Scheduler()
        gate = Gate()
        s.add_job(gate, "p", "*/5 * * * *", name="ünïcode \"quoted\"", tz="Europe/Paris")
        s.add_job(lambda: "ok", None, every(hours=1), name="plain")
        s.add_job(lambda: "ok", "a ✓ prompt\n", every(hours=1), name="held")
        s.pause_job("held", note="tab\there ✓",
                    until=datetime(2026, 12, 6, 1, 0, tzinfo=timezone(timedelta(hours=2))))
        s.jobs["plain"].cost_total = float("inf")
        s.jobs["plain"].tokens_total = 10**20
        handle = s.run_now("ünïcode \"quoted\"")
        await asyncio.sleep(0.05)
        await s.run_now("plain")
        assert not handle.done()
        shared: dict[Any, tuple[str, str, str]] = {}
        for results in (True, False):
            for job in s.jobs.values():
                captured = job_capture(job, results=results)
                assert control.record_text(captured, shared) == json.dumps(
                    job_record(captured), ensure_ascii=False, separators=(",", ":"))
        gate.release.set()
        await handle

    run(main())


# --- the jobs file's state in the snapshot -------------------------------------------------


def test_a_snapshot_says_the_jobs_file_is_refused_until_it_runs_again(short_dir: Path) -> None:
    """A console attaching after the scheduler refused an edit of its jobs file learns it
    from the snapshot (what, since when); once a reload applies the file, the snapshot says
    null. A mirror told so by a later snapshot says it as the events would have."""
    from crondeck.core import ConfigRejected, ConfigReloaded, RemoteScheduler

    config = str(short_dir / "crondeck.toml")
    problem = f"{config}:4: job 'a', schedule: bad schedule"

    async def go() -> None:
        s = scheduler_with("a")
        async with ControlServer(s, control_path(short_dir), config_path=config) as server:
            c = await ControlClient.connect(server.path, subscribe=True)
            assert c.snapshot is not None and c.snapshot["file_refused"] is None
            await c.close()
            first = s.bus.emit(ConfigRejected, path=config, problems=(problem,))
            s.bus.emit(ConfigRejected, path=config, problems=(problem, problem + " again"))
            c = await ControlClient.connect(server.path, subscribe=True)
            word = c.snapshot["file_refused"]
            assert word["path"] == config and word["problems"] == [problem, problem + " again"]
            assert datetime.fromisoformat(word["since"]) == first.at  # the first refusal's
            await c.close()
            mirror = await RemoteScheduler.attach(server.path)
            try:
                assert mirror.file_refused == (config, (problem, problem + " again"), first.at)
                s.bus.emit(ConfigReloaded, path=config, added=(), removed=(), changed=())
                for _ in range(100):
                    if mirror.file_refused is None:
                        break
                    await asyncio.sleep(0.02)
                assert mirror.file_refused is None  # the stream said it runs again
                c = await ControlClient.connect(server.path, subscribe=True)
                assert c.snapshot["file_refused"] is None
                await c.close()
                # a resync's snapshot that says otherwise is told as the event would be
                heard: list[Any] = []
                mirror.bus.add_listener(heard.append)
                mirror._apply_file_word({"file_refused": word})
                assert [type(e) for e in heard] == [ConfigRejected]
                assert heard[0].problems == (problem, problem + " again")
                mirror._apply_file_word({"file_refused": word})  # the same: said once
                mirror._apply_file_word({})  # an older server says nothing: it stands
                assert len(heard) == 1 and mirror.file_refused is not None
                mirror._apply_file_word({"file_refused": None})
                assert [type(e) for e in heard] == [ConfigRejected, ConfigReloaded]
            finally:
                await mirror.aclose()

    run(go())
