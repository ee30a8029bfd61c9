"""The control socket: a scheduler served to consoles and the command line over a Unix domain
socket, newline-delimited JSON (docs/control.md is the protocol).

The scheduler's own path never waits for a client: the bus pushes into each connection's
bounded `Subscription` (O(1)), and a task per connection turns those events into lines with
`transport.write`. A client that stops reading is flow-controlled on its own task; its
subscription then drops output first (the client is told how much) and, should it fall so
far behind that state events would be lost, or its write buffer pass `write_limit`, it is
sent `bye` and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import heapq
import itertools
import json
import os
import socket
import stat
import struct
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime
from json.encoder import encode_basestring as _string
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .clock import utc
from .events import (
    ConfigRejected,
    ConfigReloaded,
    Event,
    GateStarted,
    JobAdded,
    JobRemoved,
    ObserverDropped,
    OutputChunk,
    RunFinished,
    SchedulerPaused,
    SchedulerResumed,
    SchedulerStarted,
    SchedulerStopped,
    Subscription,
)
from .jobs import Job, check_pause_note
from .results import last_run
from .wire import (
    agent_json,
    event_text,
    file_refused_json,
    job_capture,
    job_json,
    job_record,
    options_json,
    schedule_json,
    scheduler_json,
)

__all__ = [
    "CONTROL_SOCKET",
    "MAX_LINE",
    "PROTOCOL_VERSION",
    "ControlError",
    "ControlServer",
    "control_path",
]

PROTOCOL_VERSION = 1
CONTROL_SOCKET = "control.sock"
MAX_LINE = 4 * 1024 * 1024  # longest line a client may send
TAIL_BYTES = 64 * 1024  # output kept per run in flight for a snapshot
WRITE_LIMIT = 8 * 1024 * 1024  # a client this far behind (beyond a snapshot) is sent bye
HIGH_WATER = 1024 * 1024  # stop feeding a connection while this much waits for its socket
# Results a snapshot carries across all jobs (the newest; a console's History pane holds as
# many), besides each job's newest and newest that ran. A job's full history: `history`.
SNAPSHOT_RESULTS = 2_000
SNAPSHOT_BATCH = 500  # jobs encoded between yields to the loop
SUB_CHUNKS = 2_000  # lines of output a lagging connection may hold before dropping chunks
SUB_EVENTS = 50_000  # other events; beyond this it is too slow and is sent bye
STALL_CHECK = 0.5  # seconds between looks at a connection whose socket is backed up
HELLO_WAIT = 10.0  # seconds a new connection has to say hello
# AF_UNIX paths are limited by sockaddr_un.sun_path (108 bytes on Linux, 104 on BSD/macOS),
# one byte of which is the terminating NUL.
MAX_PATH = 107 if sys.platform.startswith("linux") else 103
# Linux reaches a longer path through a short alias of its directory (socket_address).
PROC_ALIAS = sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")
# Events about a job that are not preceded by the job's record.
NO_RECORD = (OutputChunk, GateStarted, JobRemoved)
SCHEDULER_EVENTS = (SchedulerPaused, SchedulerResumed, SchedulerStarted, SchedulerStopped)


class ControlError(Exception):
    """A command the scheduler refused or could not do: `code` is one of no_such_job,
    bad_request, not_supported, read_only, internal (or the client's own: protocol,
    disconnected, timeout); str() is the one-line message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def control_path(state_dir: str | os.PathLike[str]) -> Path:
    """The control socket of a state directory (`.crondeck/control.sock`). Raises ValueError
    when the path is too long for a Unix socket on this platform, naming it and the limit."""
    path = Path(os.path.abspath(state_dir)) / CONTROL_SOCKET
    check_path_length(path)
    return path


def _alias(path: Path, fd: int) -> str:
    return f"/proc/self/fd/{fd}/{path.name}"


def check_path_length(path: Path) -> None:
    """Raise ValueError unless `path` can be bound or reached (see `socket_address`)."""
    size = len(os.fsencode(path))
    if size <= MAX_PATH or (PROC_ALIAS and len(_alias(path, 99999)) <= MAX_PATH):
        return
    raise ValueError(
        f"control socket path {str(path)!r} is {size} bytes; Unix sockets allow at most "
        f"{MAX_PATH}: move the jobs file (and its .crondeck directory) to a shorter path")


@contextlib.contextmanager
def socket_address(path: Path) -> Iterator[str]:
    """The address to bind or connect `path` by: the path itself, or, where it is longer
    than a Unix socket address may be, on Linux a short alias through /proc/self/fd of its
    directory (held open meanwhile). Raises ValueError where neither works."""
    raw = os.fspath(path)
    if len(os.fsencode(raw)) <= MAX_PATH:
        yield raw
        return
    check_path_length(path)
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield _alias(path, fd)
    finally:
        os.close(fd)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (None where the platform
    cannot tell: the socket's 0600 mode and the 0700 directory still guard it)."""
    try:
        if hasattr(socket, "SO_PEERCRED"):
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            return int(struct.unpack("3i", raw)[1])
        if hasattr(socket, "LOCAL_PEERCRED"):  # BSD/macOS: struct xucred {u_int version; uid}
            raw = sock.getsockopt(0, socket.LOCAL_PEERCRED, struct.calcsize("2I"))
            return int(struct.unpack("2I", raw)[1])
    except OSError:
        return None
    return None


class _FileWord:
    """The scheduler's last word on its jobs file changed on disk, from its events: refused
    (its problems, since the first refusal) until a reload applies the file again."""

    def __init__(self) -> None:
        self.refused: tuple[str, tuple[str, ...], datetime] | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, ConfigRejected):
            since = self.refused[2] if self.refused is not None else event.at
            self.refused = (event.path, tuple(event.problems), since)
        elif isinstance(event, ConfigReloaded):
            self.refused = None

    def json(self) -> dict[str, Any] | None:
        return file_refused_json(*self.refused) if self.refused is not None else None


class _Tails:
    """The last `limit` bytes each run in flight printed, fed from OutputChunk events."""

    def __init__(self, limit: int = TAIL_BYTES) -> None:
        self.limit = limit
        self.runs: dict[str, tuple[str, deque[tuple[str, str]], list[int]]] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, OutputChunk):
            entry = self.runs.get(event.run_id)
            if entry is None:
                entry = self.runs[event.run_id] = (event.job, deque(), [0])
            _job, parts, size = entry
            parts.append((event.stream, event.text))
            size[0] += len(event.text)
            while size[0] > self.limit and len(parts) > 1:
                size[0] -= len(parts.popleft()[1])
        elif isinstance(event, RunFinished):  # the next attempt (if any) starts afresh
            self.runs.pop(event.run_id, None)
        elif isinstance(event, JobRemoved):
            for run_id in [r for r, e in self.runs.items() if e[0] == event.job]:
                del self.runs[run_id]

    def output(self, jobs: dict[str, Job]) -> list[dict[str, str]]:
        """The tails of the runs in flight now (forgetting any other)."""
        live = {run_id: job for job in jobs.values() if job.is_running for run_id in job.running}
        for run_id in [r for r in self.runs if r not in live]:
            del self.runs[run_id]
        out: list[dict[str, str]] = []
        for run_id, job in live.items():
            entry = self.runs.get(run_id)
            if entry is not None:
                out.extend({"run_id": run_id, "job": job.name, "stream": s, "text": t}
                           for s, t in entry[1])
                continue
            handle = job.running[run_id]  # started before the server: the run's own tail
            text = handle.output.text() if handle.output is not None else ""
            if text:
                out.append({"run_id": run_id, "job": job.name, "stream": "stdout",
                            "text": text[-self.limit:]})
        return out


class ControlServer:
    """Serves `scheduler` on the Unix socket `path` (see docs/control.md).

    `kind` is what hello says runs here ("crondeck run", "crondeck console", "embedded");
    `config_path` the jobs file it runs, if any; `reload` a callable returning a
    `runtime.Reload` for the `reload` command (without it `reload` is not_supported).
    `await start()` binds (a stale socket file is replaced; run it only while holding the
    state's lock) and `await close()` closes every connection and unlinks the socket.
    """

    def __init__(self, scheduler: Any, path: str | os.PathLike[str], *,
                 kind: str = "embedded", config_path: str | os.PathLike[str] | None = None,
                 reload: Callable[[], Any] | None = None, write_limit: int = WRITE_LIMIT,
                 tail_bytes: int = TAIL_BYTES,
                 snapshot_results: int = SNAPSHOT_RESULTS) -> None:
        self.scheduler = scheduler
        self.snapshot_results = snapshot_results
        self.path = Path(os.path.abspath(path))
        self.kind = kind
        self.config_path = Path(os.path.abspath(config_path)) if config_path else None
        self.reload = reload
        self.write_limit = write_limit
        self.uid = os.geteuid()  # peers of another uid are refused
        self.started_at = datetime.now(UTC)
        self.connections: set[_Connection] = set()
        self._tails = _Tails(tail_bytes)
        self._file = _FileWord()
        self._unlisten: Callable[[], None] | None = None
        self._unlisten_file: Callable[[], None] | None = None
        self._server: asyncio.AbstractServer | None = None
        self._inode: tuple[int, int] | None = None

    # -- life ----------------------------------------------------------------------------

    async def start(self) -> ControlServer:
        check_path_length(self.path)
        sock = _bind(self.path)
        st = os.stat(self.path)
        self._inode = (st.st_dev, st.st_ino)
        try:
            self._server = await asyncio.get_running_loop().create_unix_server(
                lambda: _Connection(self), sock=sock)
        except BaseException:
            sock.close()
            self._unlink()
            raise
        self._unlisten = self.scheduler.add_listener(self._tails)
        self._unlisten_file = self.scheduler.add_listener(self._file)
        self.started_at = datetime.now(UTC)
        return self

    async def close(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        if self._unlisten_file is not None:
            self._unlisten_file()
            self._unlisten_file = None
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self.connections):
            conn.flush()  # the last events (scheduler_stopped) reach those following
            conn.close()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._unlink()

    def _unlink(self) -> None:
        """Remove our socket file (not one a successor bound at the same path since)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return
        if (st.st_dev, st.st_ino) == self._inode:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    async def __aenter__(self) -> ControlServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- what the protocol shows ---------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        state_dir = getattr(self.scheduler, "state_dir", None)
        if state_dir is None and self.config_path is not None:
            state_dir = self.path.parent
        return {"type": "hello", "version": PROTOCOL_VERSION, "pid": os.getpid(),
                "kind": self.kind, "started_at": _iso(self.started_at),
                "config": str(self.config_path) if self.config_path else None,
                "state_dir": str(Path(state_dir).resolve()) if state_dir else None}

    def snapshot_head(self) -> dict[str, Any]:
        """The snapshot line as of now, without its jobs."""
        sched = self.scheduler
        # `file_refused` null: the file runs (a client that predates it ignores it)
        return {"type": "snapshot", "seq": sched.bus.last_seq,
                "scheduler": scheduler_json(sched), "output": self._tails.output(sched.jobs),
                "file_refused": self._file.json()}

    def capture(self, *, results: bool) -> list[tuple[Any, ...]]:
        """Every job's state as of now, cheaply (`job_capture`): rendered later in pieces.
        With `results`, each job's as a snapshot carries them (`snapshot_results`)."""
        jobs = self.scheduler.jobs.values()
        if not results:
            return [job_capture(job) for job in jobs]
        kept = snapshot_results(jobs, self.snapshot_results)
        return [(*job_capture(job)[:-1], kept.get(job.name, ())) for job in jobs]

    def status(self) -> dict[str, Any]:
        """The `status` result, at once (the socket renders it in pieces instead)."""
        cache: dict[int, dict[str, Any]] = {}
        return {**self.status_head(),
                "jobs": [job_record(j, cache) for j in self.capture(results=False)]}

    def status_head(self) -> dict[str, Any]:
        hello = {k: v for k, v in self.hello().items() if k != "type"}
        stopping = bool(getattr(self.scheduler, "stopping", False))
        return {"hello": hello, "scheduler": {**scheduler_json(self.scheduler),
                                              "stopping": stopping}}

    # -- commands --------------------------------------------------------------------------

    def command(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Do one command; raises ControlError."""
        if op == "status":
            return self.status()
        handler = _COMMANDS.get(op)
        if handler is None:
            close = difflib.get_close_matches(op, OPS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; the ops are {', '.join(OPS)}"
            raise ControlError("bad_request", f"unknown op {op!r}{hint}")
        return handler(self, args)

    def job(self, args: dict[str, Any]) -> Job:
        name = args.get("job")
        if not isinstance(name, str) or not name:
            raise ControlError("bad_request", "missing 'job': the name of a job (a string)")
        job = self.scheduler.jobs.get(name)
        if job is None:
            close = difflib.get_close_matches(name, list(self.scheduler.jobs), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ControlError("no_such_job", f"no job named {name!r}{hint}")
        return job  # type: ignore[no-any-return]

    def do_reload(self) -> dict[str, Any]:
        if self.reload is None:
            raise ControlError("not_supported",
                               "this scheduler has no jobs file to reload (it is embedded)")
        outcome = self.reload()
        problems = [str(p) for p in outcome.problems]
        path = str(self.config_path or "")
        bus = self.scheduler.bus
        if problems:
            bus.emit(ConfigRejected, path=path, problems=tuple(problems))
        else:
            bus.emit(ConfigReloaded, path=path, added=tuple(outcome.added),
                     removed=tuple(outcome.removed), changed=tuple(outcome.changed))
        return {"applied": not problems, "changed": list(outcome.changed),
                "added": list(outcome.added), "removed": list(outcome.removed),
                "problems": problems}


def _text(args: dict[str, Any], key: str) -> str:
    value = args.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ControlError("bad_request", f"{key!r} must be a string, not {value!r}")
    return value


def _note(args: dict[str, Any]) -> str:
    try:
        return check_pause_note(_text(args, "note"))
    except ValueError as exc:
        raise ControlError("bad_request", str(exc)) from None


def _until(args: dict[str, Any]) -> datetime | None:
    value = args.get("until")
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        dt = None
    if dt is None or dt.tzinfo is None:
        raise ControlError("bad_request", f"'until' must be an ISO 8601 time with an offset "
                                          f"(2026-12-05T04:15:00+00:00) or null, not {value!r}")
    return dt.astimezone(UTC)


def _bool(args: dict[str, Any], key: str, default: bool) -> bool:
    value = args.get(key, default)
    if not isinstance(value, bool):
        raise ControlError("bad_request", f"{key!r} must be true or false, not {value!r}")
    return value


def _finished(result: Any) -> float:
    when = result.finished_at or result.scheduled_for
    return float(when.timestamp())


def snapshot_results(jobs: Iterable[Job], limit: int) -> dict[str, tuple[Any, ...]]:
    """The results a snapshot carries, by job (oldest first, as the job holds them): those
    among the newest `limit` across all jobs, and each job's newest and newest that ran
    (what LAST and PASSED show). Each job's history is in finishing order, so the newest
    overall are the first `limit` of a merge of the histories read backwards."""
    jobs = list(jobs)
    # `last_result` first: reading `results` would make an empty history for every job.
    newest = heapq.merge(*(reversed(job.results) for job in jobs
                           if job.last_result is not None),
                         key=_finished, reverse=True)
    chosen = {id(r) for r in itertools.islice(newest, limit)}
    out: dict[str, tuple[Any, ...]] = {}
    for job in jobs:
        if job.last_result is None:
            continue
        results = job.results
        last = results[-1]
        ran = last_run(job)
        out[job.name] = tuple(r for r in results
                              if r is last or r is ran or id(r) in chosen)
    return out


def _history(server: ControlServer, args: dict[str, Any]) -> dict[str, Any]:
    job = server.job(args)
    return {"job": job.name, "results": [r.to_dict() for r in job.results]}


def _pause(server: ControlServer, args: dict[str, Any]) -> dict[str, Any]:
    job = server.job(args)
    note, until = _note(args), _until(args)
    server.scheduler.pause_job(job, note=note, until=until)
    return {"job": job.name, "paused": True,
            "until": _iso(job.pause_until) if job.pause_until else None}


def _resume(server: ControlServer, args: dict[str, Any]) -> dict[str, Any]:
    job = server.job(args)
    server.scheduler.resume_job(job)
    return {"job": job.name, "paused": job.paused}


def _pause_all(server: ControlServer, args: dict[str, Any]) -> dict[str, Any]:
    note, until = _note(args), _until(args)
    server.scheduler.pause_all(note=note, until=until)
    return {"paused": True}


def _resume_all(server: ControlServer, args: dict[str, Any]) -> dict[str, Any]:
    server.scheduler.resume_all()
    return {"paused": bool(server.scheduler.paused)}


def _run_now(server: ControlServer, args: dict[str, Any]) -> dict[str, Any]:
    job = server.job(args)
    # a run started now would be cut short by the shutdown
    if getattr(server.scheduler, "stopping", False):
        raise ControlError("read_only", f"not started: the scheduler is stopping (its runs in "
                           f"flight are finishing); run {job.name!r} once it is back, or "
                           f"`crondeck exec {job.name}` here")
    handle = server.scheduler.run_now(job)
    reason = handle.result().reason if handle.done() else ""
    return {"job": job.name, "run_id": handle.run_id, "skipped": handle.skipped,
            "reason": reason}


def _skip_next(server: ControlServer, args: dict[str, Any]) -> dict[str, Any]:
    job = server.job(args)
    server.scheduler.skip_next(job, _bool(args, "skip", True))
    return {"job": job.name, "skip_next": job.skip_next_pending,
            "next_fire": _iso(job.next_fire) if job.next_fire else None}


def _cancel(server: ControlServer, args: dict[str, Any]) -> dict[str, Any]:
    job = server.job(args)
    reason = _text(args, "reason") or "cancelled by operator"
    return {"job": job.name, "cancelled": server.scheduler.cancel(job, reason)}


def _enable(server: ControlServer, args: dict[str, Any]) -> dict[str, Any]:
    job = server.job(args)
    job.enabled = True
    return {"job": job.name, "enabled": job.enabled}


def _disable(server: ControlServer, args: dict[str, Any]) -> dict[str, Any]:
    job = server.job(args)
    job.enabled = False
    return {"job": job.name, "enabled": job.enabled}


def _reload(server: ControlServer, args: dict[str, Any]) -> dict[str, Any]:
    return server.do_reload()


_COMMANDS: dict[str, Callable[[ControlServer, dict[str, Any]], dict[str, Any]]] = {
    "pause": _pause, "resume": _resume, "pause_all": _pause_all, "resume_all": _resume_all,
    "run_now": _run_now, "skip_next": _skip_next, "cancel": _cancel, "enable": _enable,
    "disable": _disable, "reload": _reload, "history": _history,
}
OPS = sorted([*_COMMANDS, "snapshot", "status"])


def _answers(path: Path) -> bool:
    """Does something listen on the socket file at `path`?"""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            with socket_address(path) as address:
                probe.connect(address)
        except OSError:
            return False
    return True


def _bind(path: Path) -> socket.socket:
    """A listening socket at `path`, mode 0600 from the start (bound under umask 0o177); a
    stale socket file there is replaced, anything else there is an error."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(st.st_mode):
            raise OSError(f"cannot serve the control socket at {path}: a file that is not a "
                          "socket is in the way (remove it)")
        if _answers(path):
            raise OSError(f"cannot serve the control socket at {path}: another process "
                          "serves it already")
        os.unlink(path)  # left by a scheduler that died
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old = os.umask(0o177)
        try:
            with socket_address(path) as address:
                sock.bind(address)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        sock.listen(64)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _ChunkLines:
    """Stream lines of output chunks, `event_text`'s form, with the part that is the same for
    every line of one run (job, run id, stream) encoded once per batch."""

    def __init__(self) -> None:
        self.middles: dict[tuple[str, str, str], str] = {}

    def __call__(self, e: OutputChunk) -> str:
        key = (e.job, e.run_id, e.stream)
        middle = self.middles.get(key)
        if middle is None:
            middle = self.middles[key] = (
                f'","job":{_string(e.job)},"run_id":{_string(e.run_id)},'
                f'"stream":{_string(e.stream)},"text":')
        return (f'{{"type":"event","event":{{"event":"output_chunk","seq":{e.seq},'
                f'"at":"{e.at.isoformat()}{middle}{_string(e.text)}}}}}')


def _open(head: dict[str, Any], depth: int) -> str:
    """`head` as JSON text left open to add a "jobs" list at `depth` (1: the line itself,
    2: its last member, the result of a reply)."""
    return json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-depth] + ',"jobs":['


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_INFINITE = (float("inf"), float("-inf"))


def _scalar(value: Any) -> str:
    """`value` as `_dumps` writes it, the common kinds without its machinery."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is str:
        return str(_string(value))
    if kind is int:
        return int.__repr__(value)
    if kind is float and value == value and value not in _INFINITE:
        return float.__repr__(value)
    return _dumps(value)


_ZONE_UTC = ZoneInfo("UTC")  # a job's times in its zone: UTC's needs no conversion either


def _when_text(dt: datetime | None) -> str:
    if dt is None:
        return "null"
    zone = dt.tzinfo
    return f'"{dt.isoformat() if zone is UTC or zone is _ZONE_UTC else utc(dt).isoformat()}"'


# Texts of record parts many jobs have alike (see `record_text`), by their values; bounded.
_FRONTS: dict[tuple[Any, ...], str] = {}
_COUNTS: dict[tuple[Any, ...], str] = {}
FRAGMENTS_KEPT = 4096


def _kept(cache: dict[tuple[Any, ...], str], key: tuple[Any, ...], text: str) -> str:
    if len(cache) >= FRAGMENTS_KEPT:
        cache.clear()
    cache[key] = text
    return text


class SharedParts:
    """The parts a snapshot's jobs have in common (schedule, agent, options, and the state
    fields most jobs have alike), for a client that said it reads them (`"shared": true`
    in its hello): each distinct part is encoded once, numbered in the order first met, and
    a record carries its number. Parts equal in JSON share a number even when they are
    different objects."""

    KINDS = ("schedule", "agent", "options", "state")

    def __init__(self) -> None:
        self.numbers: tuple[dict[str, int], ...] = ({}, {}, {}, {})
        self.texts: tuple[list[str], ...] = ([], [], [], [])
        self.states: dict[tuple[str, str], str] = {}  # (front, counts) -> its number

    def refer(self, parts: tuple[str, str, str]) -> tuple[str, str, str]:
        """The numbers of three encoded parts (each numbered when first met)."""
        out = []
        for numbers, texts, text in zip(self.numbers[:3], self.texts[:3], parts, strict=True):
            number = numbers.get(text)
            if number is None:
                number = numbers[text] = len(texts)
                texts.append(text)
            out.append(str(number))
        return out[0], out[1], out[2]

    def state(self, front: str, counts: str) -> str:
        """The number of a state part (`record_text`'s two cached texts, joined)."""
        key = (front, counts)
        number = self.states.get(key)
        if number is None:
            text = "{" + front + "," + counts + "}"
            numbers, texts = self.numbers[3], self.texts[3]
            found = numbers.get(text)
            if found is None:
                found = numbers[text] = len(texts)
                texts.append(text)
            number = self.states[key] = str(found)
        return number

    def text(self) -> str:
        """The snapshot's `shared` member: `{"schedule": [...], "agent": [...], ...}`."""
        return "{" + ",".join(f'"{kind}":[{",".join(texts)}]'
                              for kind, texts in zip(self.KINDS, self.texts, strict=True)) + "}"


def record_text(captured: tuple[Any, ...], shared: dict[Any, tuple[str, str, str]],
                numbered: SharedParts | None = None) -> str:
    """`_dumps(job_record(captured))`, written directly: a snapshot of 100,000 jobs spends
    most of its time here. The parts jobs have in common (schedule, agent, options) are
    encoded once each (`shared`, by the object's id, for one snapshot's captures); with
    `numbered` the record carries their numbers in its `SharedParts` instead."""
    (name, paused, pause_note, pause_until, skip_next, next_fire, last_slot, run_count,
     failures, exhausted, enabled, tokens_day, tokens_today, tokens_total, cost_today,
     cost_total, running, schedule, prompt, agent, options, results) = captured
    key = (id(schedule), id(agent), id(options))
    parts = shared.get(key)
    if parts is None:
        parts = (_dumps(schedule_json(schedule)), _dumps(agent_json(agent)),
                 _dumps(options_json(options)))
        parts = shared[key] = numbered.refer(parts) if numbered is not None else parts
    runs = ",".join(
        f'{{"run_id":{_scalar(run_id)},"scheduled_for":{_when_text(slot)},'
        f'"started_at":{_when_text(started)},"manual":{_scalar(manual)},'
        f'"attempt":{_scalar(attempt)}}}'
        for run_id, slot, started, manual, attempt in running) if running else ""
    # Most jobs' pause state and counters are alike (all at rest): their text is made once.
    # The key tells apart values equal as numbers but written differently (1, 1.0, -0.0).
    front_key = (paused, type(paused), pause_note, pause_until, skip_next, type(skip_next))
    front = _FRONTS.get(front_key)
    if front is None:
        front = _kept(_FRONTS, front_key, (
            f'"paused":{_scalar(paused)},"pause_note":{_scalar(pause_note)},'
            f'"pause_until":{_when_text(pause_until)},"skip_next":{_scalar(skip_next)}'))
    counts_key = (run_count, type(run_count), failures, type(failures), exhausted, enabled,
                  tokens_day, tokens_today, type(tokens_today), tokens_total,
                  type(tokens_total), cost_today or str(cost_today), type(cost_today),
                  cost_total or str(cost_total), type(cost_total))
    counts = _COUNTS.get(counts_key)
    if counts is None:
        counts = _kept(_COUNTS, counts_key, (
            f'"run_count":{_scalar(run_count)},"consecutive_failures":{_scalar(failures)},'
            f'"exhausted":{_scalar(exhausted)},"disabled":{_scalar(not enabled)},'
            f'"tokens_day":{_scalar(tokens_day)},"tokens_today":{_scalar(tokens_today)},'
            f'"tokens_total":{_scalar(tokens_total)},"cost_today":{_scalar(cost_today)},'
            f'"cost_total":{_scalar(cost_total)}'))
    # the common kinds written inline (a function call each is a fair share of a record)
    name_text = _string(name) if type(name) is str else _scalar(name)
    prompt_text = _string(prompt) if type(prompt) is str else _scalar(prompt)
    fire_text = _when_text(next_fire)
    slot_text = "null" if last_slot is None else _when_text(last_slot)
    if numbered is not None:
        text = (f'{{"name":{name_text},"next_fire":{fire_text},"last_slot":{slot_text},'
                f'"state":{numbered.state(front, counts)},"running":[{runs}],'
                f'"schedule":{parts[0]},"prompt":{prompt_text},'
                f'"agent":{parts[1]},"options":{parts[2]}')
    else:
        text = (f'{{"name":{name_text},{front},"next_fire":{fire_text},'
                f'"last_slot":{slot_text},{counts},"running":[{runs}],'
                f'"schedule":{parts[0]},"prompt":{prompt_text},'
                f'"agent":{parts[1]},"options":{parts[2]}')
    if results is not None:
        text += ',"results":' + (_dumps([r.to_dict() for r in results]) if results else "[]")
    return text + "}"


async def _render(prefix: str, jobs: list[tuple[Any, ...]], suffix: str,
                  numbered: SharedParts | None = None) -> AsyncIterator[bytes]:
    """A line with many jobs, in pieces of SNAPSHOT_BATCH jobs, letting the loop go between
    them: 10,000 jobs do not hold up the scheduler. With `numbered`, the records refer to
    their shared parts, which follow the jobs (`,"shared":{...}` before `suffix`)."""
    shared: dict[Any, tuple[str, str, str]] = {}
    for i in range(0, len(jobs), SNAPSHOT_BATCH):
        piece = ",".join(record_text(j, shared, numbered) for j in jobs[i:i + SNAPSHOT_BATCH])
        yield ((prefix if i == 0 else ",") + piece).encode()
        await asyncio.sleep(0)
    if numbered is not None:
        suffix = '],"shared":' + numbered.text() + suffix[1:]
    yield ((prefix if not jobs else "") + suffix).encode()


class _Connection(asyncio.Protocol):
    """One client: lines in (hello, commands), lines out (replies, snapshot, stream)."""

    def __init__(self, server: ControlServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.greeted = False
        self.shared = False  # the client reads shared parts (see SharedParts)
        self.sub: Subscription | None = None
        self.floor = 0  # events up to this seq are in the snapshot last sent
        self.pending_snapshot: tuple[dict[str, Any], list[tuple[Any, ...]]] | None = None
        self.task: asyncio.Task[None] | None = None
        self.replies: set[asyncio.Task[None]] = set()
        self.writable = asyncio.Event()
        self.writable.set()
        self.closing = False
        # While a long line (a snapshot, a status) is being written in pieces, other lines
        # wait here; `long_lock` lets one long line out at a time.
        self.hold: list[bytes] | None = None
        self.held = 0
        self.long_lock = asyncio.Lock()
        self.hello_timer: asyncio.TimerHandle | None = None

    # -- transport callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.add(self)
        transport.set_write_buffer_limits(high=HIGH_WATER)
        sock = transport.get_extra_info("socket")
        uid = peer_uid(sock) if sock is not None else None
        if uid is not None and uid != self.server.uid:
            self.fail("permission", f"refused: the peer runs as another user (uid {uid}); "
                                    f"this scheduler serves only uid {self.server.uid}")
            return
        self.hello_timer = asyncio.get_running_loop().call_later(HELLO_WAIT, self.no_hello)

    def no_hello(self) -> None:
        if not self.greeted:
            self.fail("bad_request", f"no hello within {HELLO_WAIT:g}s: say "
                                     f'{{"op": "hello", "version": {PROTOCOL_VERSION}}} first')

    def connection_lost(self, exc: Exception | None) -> None:
        if self.hello_timer is not None:
            self.hello_timer.cancel()
        self.closing = True
        self.server.connections.discard(self)
        if self.sub is not None:
            self.sub.close()
        self.writable.set()
        if self.task is not None:
            self.task.cancel()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.buffer += data
        while not self.closing:
            end = self.buffer.find(b"\n")
            if end < 0:
                if len(self.buffer) > MAX_LINE:
                    self.fail("bad_request", f"line longer than {MAX_LINE} bytes")
                break
            raw = bytes(self.buffer[:end])
            del self.buffer[:end + 1]
            if end > MAX_LINE:
                self.fail("bad_request", f"line longer than {MAX_LINE} bytes")
                break
            if raw.strip():
                self.line(raw)

    # -- lines -----------------------------------------------------------------------------

    def send(self, obj: dict[str, Any]) -> None:
        self.write(_line(obj))

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or self.closing or transport.is_closing():
            return
        if self.hold is not None:
            self.hold.append(data)
            self.held += len(data)
            if self.held > self.server.write_limit:
                self.bye()
            return
        transport.write(data)
        if transport.get_write_buffer_size() > self.server.write_limit:
            self.bye()

    def last_word(self, obj: dict[str, Any]) -> None:
        """Write `obj` at once (ending a long line cut short), then close."""
        transport = self.transport
        if transport is not None and not self.closing and not transport.is_closing():
            transport.write((b"\n" if self.hold is not None else b"") + _line(obj))
        self.close()

    def bye(self) -> None:
        behind = len(self.sub) if self.sub is not None else 0
        self.last_word({"type": "bye", "reason": f"client too slow ({behind} events "
                                                 "behind); reconnect for a new snapshot"})

    def fail(self, code: str, message: str) -> None:
        """A protocol error: say it, then close."""
        self.last_word({"type": "error", "code": code, "error": message})

    async def write_long(self, pieces: AsyncIterator[bytes]) -> None:
        """Write one long line piece by piece as it is rendered (the client has its first
        bytes at once), holding other lines back until it is complete."""
        async with self.long_lock:
            transport = self.transport
            if transport is None or self.closing:
                return
            if self.hold is None:
                self.hold, self.held = [], 0
            try:
                async for piece in pieces:
                    if self.closing:
                        return
                    transport.write(piece)
                    await self.wait_writable()
            finally:
                held, self.hold = self.hold, None
                if not self.closing:
                    for data in held or ():
                        self.write(data)

    def flush(self) -> None:
        """Write what the subscription still holds (not after a resync not yet sent)."""
        sub = self.sub
        if sub is None or self.closing or self.pending_snapshot is not None:
            return
        if self.hold is not None:
            return
        data = self.encode(sub.drain())
        if data:
            self.write(data)

    def close(self) -> None:
        if self.hello_timer is not None:
            self.hello_timer.cancel()
        if self.closing:
            return
        self.closing = True
        if self.sub is not None:
            self.sub.close()
        if self.task is not None:
            self.task.cancel()
        for task in list(self.replies):
            task.cancel()
        if self.transport is not None:
            self.transport.close()  # flushes what is buffered first
        self.server.connections.discard(self)

    def line(self, raw: bytes) -> None:
        try:
            msg = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            self.reply_error(None, "bad_request", f"not a JSON line: {exc}")
            return
        if not isinstance(msg, dict):
            self.reply_error(None, "bad_request", "each line must be a JSON object")
            return
        op = msg.get("op")
        if not self.greeted:
            self.hello(msg)
            return
        rid = msg.get("id")
        if not isinstance(op, str):
            self.reply_error(rid, "bad_request", "missing 'op' (a string such as \"pause\")")
            return
        if op == "hello":
            self.reply_error(rid, "bad_request", "hello was already said on this connection")
            return
        if op == "status":
            self.status(rid)
            return
        if op == "snapshot":
            self.subscribe()
            self.send({"type": "reply", "id": rid, "ok": True, "result": {"seq": self.floor}})
            return
        try:
            result = self.server.command(op, msg)
        except ControlError as exc:
            self.reply_error(rid, exc.code, exc.message)
            return
        except Exception as exc:  # a bug or user code: one line, never a traceback
            first = (str(exc).strip().splitlines() or [""])[0]
            self.reply_error(rid, "internal", f"{op} failed: {type(exc).__name__}: {first}")
            return
        self.send({"type": "reply", "id": rid, "ok": True, "result": result})

    def reply_error(self, rid: Any, code: str, message: str) -> None:
        self.send({"type": "reply", "id": rid, "ok": False, "code": code, "error": message})

    def hello(self, msg: dict[str, Any]) -> None:
        if msg.get("op") != "hello":
            self.fail("bad_request", "say hello first: {\"op\": \"hello\", \"version\": "
                                     f"{PROTOCOL_VERSION}}}")
            return
        version = msg.get("version")
        if version != PROTOCOL_VERSION:
            self.fail("bad_request", f"this scheduler speaks control protocol "
                                     f"{PROTOCOL_VERSION}; the client asked for {version}")
            return
        self.greeted = True
        # A client that reads shared parts (a newer console) gets snapshots that send them
        # once; any other gets full records, as protocol 1 always had them.
        self.shared = msg.get("shared") is True
        hello = self.server.hello()
        if self.shared:
            hello["shared"] = True
        self.send(hello)
        if msg.get("subscribe"):
            self.subscribe()

    # -- the stream ------------------------------------------------------------------------

    def subscribe(self) -> None:
        """Start (or restart) the stream: a snapshot as of now, then every later event.
        The subscription is taken in the same step as the snapshot, so nothing falls
        between them; the snapshot is rendered on this connection's task, in pieces."""
        if self.sub is not None:
            self.sub.close()
        server = self.server
        self.sub = server.scheduler.subscribe(max_chunks=SUB_CHUNKS, max_events=SUB_EVENTS)
        head = server.snapshot_head()
        self.pending_snapshot = (head, server.capture(results=True))
        if self.hold is None:  # what is said from now on follows the snapshot
            self.hold, self.held = [], 0
        self.floor = head["seq"]
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.pump())
        else:
            self.sub._wake()

    def status(self, rid: Any) -> None:
        """Answer `status`: the state is taken now, the reply rendered in pieces."""
        head = {"type": "reply", "id": rid, "ok": True, "result": self.server.status_head()}
        jobs = self.server.capture(results=False)
        task = asyncio.get_running_loop().create_task(
            self.write_long(_render(_open(head, 2), jobs, "]}}\n")))
        self.replies.add(task)
        task.add_done_callback(self.replies.discard)

    async def pump(self) -> None:
        try:
            while not self.closing:
                if self.pending_snapshot is not None:
                    await self.write_snapshot()
                    continue
                sub = self.sub
                if sub is None:
                    return
                try:
                    first = await sub.get()
                except EOFError:
                    if sub is self.sub:
                        return
                    continue  # replaced by a resync
                if self.pending_snapshot is not None:
                    continue  # a resync came while we waited: its snapshot first
                async with self.long_lock:  # not inside a status reply being written
                    data = self.encode([first, *sub.drain()])
                    if data:
                        self.write(data)
                await self.wait_writable()
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # never let one client's trouble go unnoticed or spread
            if not self.closing:
                self.fail("internal", f"stream failed: {type(exc).__name__}: {exc}")

    async def wait_writable(self) -> None:
        """Wait while the client's socket is backed up; meanwhile its subscription absorbs
        the stream (dropping output first). One so far behind that it would start losing
        state events is sent bye."""
        while not self.writable.is_set() and not self.closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.writable.wait(), STALL_CHECK)
            sub = self.sub
            if sub is not None and len(sub) >= SUB_EVENTS:
                self.bye()

    async def write_snapshot(self) -> None:
        parts = self.pending_snapshot
        assert parts is not None
        head, jobs = parts
        await self.write_long(_render(_open(head, 1), jobs, "]}\n",
                                      SharedParts() if self.shared else None))
        if self.pending_snapshot is parts:  # else a resync came meanwhile: that one next
            self.pending_snapshot = None

    def encode(self, batch: list[Event]) -> bytes:
        """The lines for a batch of events: job records before job events, the scheduler's
        record after its own events, a bye if the subscription lost state events."""
        sched = self.server.scheduler
        records: dict[str, str] = {}  # one record per job per batch: its state now
        out: list[str] = []
        dumps = json.dumps
        floor = self.floor
        chunk_line = _ChunkLines()
        for event in batch:
            if type(event) is OutputChunk:  # the flood: the shortest path
                if event.seq > floor:
                    out.append(chunk_line(event))
                continue
            if event.seq <= floor and not isinstance(event, ObserverDropped):
                continue  # already in the snapshot
            if isinstance(event, ObserverDropped) and event.dropped_events:
                self.bye()
                return b""
            name = getattr(event, "job", None)
            if isinstance(name, str) and not isinstance(event, NO_RECORD):
                # A job added (a new name, or one back under a name a reload removed) is new
                # to the client: its record carries the results the scheduler holds.
                added = isinstance(event, JobAdded)
                key = ("+" if added else "") + name
                record = records.get(key)
                if record is None:
                    job = sched.jobs.get(name)
                    if job is not None:
                        record = records[key] = dumps(
                            {"type": "job", "job": job_json(job, results=added)},
                            ensure_ascii=False, separators=(",", ":"))
                if record is not None:
                    out.append(record)
            out.append('{"type":"event","event":' + event_text(event) + "}")
            if isinstance(event, SCHEDULER_EVENTS):
                out.append(dumps({"type": "scheduler", "scheduler": scheduler_json(sched)},
                                 ensure_ascii=False, separators=(",", ":")))
        if not out:
            return b""
        out.append("")
        return "\n".join(out).encode()
