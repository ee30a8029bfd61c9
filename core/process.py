"""Subprocesses in their own process group, read line by line, and torn down completely.

Agents and gates both run here. Every child gets a new session (so it leads its own process
group); ending it means SIGTERM to the whole group, a grace period, SIGKILL to the group,
and reaping the leader, so neither orphans nor zombies are left behind.

A process can leave the group (`setsid`), so every child also carries a tag in its
environment (`CRONDECK_PROCESS_TAG=<instance>.<n>`), which its descendants inherit. On Linux
the tag finds them in /proc: when a child is ended, so is everything carrying its tag; a
watchdog process ends everything carrying this process's tags once it exits, a crash
included; and a restart ends what a dead instance left running (`end_instances`).

A run prepared ahead of its instant can have its child started then and held (`hold`): the
child is a shell that waits for one line on its stdin and then execs the command, so at the
instant starting it is one write (`Launched.release`) instead of a fork/exec.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import itertools
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol, TypeVar

from .lazyclass import dataclass

__all__ = [
    "HOLD_LIMIT",
    "LINE_LIMIT",
    "TAG_VAR",
    "Child",
    "Launched",
    "SpawnPlan",
    "end_escaped",
    "end_instances",
    "group_alive",
    "hold",
    "hold_cost",
    "hold_room",
    "instance_id",
    "launch",
    "plan_spawn",
    "spawn",
    "start_watchdog",
    "terminate_group",
]

LINE_LIMIT = 1 << 20  # a longer "line" is delivered in pieces instead of failing the read
TAG_VAR = "CRONDECK_PROCESS_TAG"
TRACKING = sys.platform.startswith("linux") and os.path.isdir("/proc/self")
_T = TypeVar("_T")

_instance: tuple[str, int] | None = None  # (id, pid it was made in: a fork gets its own)
_spawned = itertools.count(1)
_watchdog: subprocess.Popen[bytes] | None = None


def instance_id() -> str:
    """This process's id in the tags of the processes it starts (unique across restarts,
    so a reused pid is never mistaken for one of ours)."""
    global _instance
    if _instance is None or _instance[1] != os.getpid():
        # os.urandom, not secrets: secrets would load OpenSSL (hashlib) for this alone.
        _instance = (f"{os.getpid()}-{os.urandom(6).hex()}", os.getpid())
    return _instance[0]


# Run by the watchdog: wait for the scheduler to go away (its end of the pipe closes, however
# it ends), then end every process still carrying one of its tags: SIGTERM, 2 s, SIGKILL.
_WATCHDOG = r"""
import os, signal, sys, time
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
prefix = ("CRONDECK_PROCESS_TAG=" + sys.argv[1] + ".").encode()
while os.read(0, 4096):
    pass
def tagged():
    found = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/" + e + "/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if env.startswith(prefix) or (b"\0" + prefix) in env:
            found.append(int(e))
    return found
for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 0.0)):
    pids = tagged()
    if not pids:
        break
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    end = time.monotonic() + grace
    while time.monotonic() < end and tagged():
        time.sleep(0.05)
"""


def start_watchdog() -> None:
    """Start (once per process; Linux only) the watchdog that ends this process's agents when
    it exits, even by SIGKILL. It waits on a pipe only this process holds, in a session of
    its own so that a terminal's Ctrl-C or hangup does not reach it."""
    global _watchdog
    if not TRACKING or (_watchdog is not None and _watchdog.poll() is None
                        and _instance is not None and _instance[1] == os.getpid()):
        return
    try:
        _watchdog = subprocess.Popen(
            [sys.executable, "-S", "-c", _WATCHDOG, instance_id()],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True, cwd="/")
    except OSError:
        _watchdog = None


def _tagged(match: Callable[[str], bool]) -> list[tuple[int, str, str]]:
    """(pid, tag, run id) of every live process whose tag `match`es, from /proc."""
    found: list[tuple[int, str, str]] = []
    if not TRACKING:
        return found
    key, run_key, me = TAG_VAR.encode() + b"=", b"CRONDECK_RUN_ID=", os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    # A process in the middle of an exec reads as having no environment for a moment:
    # those (not kernel threads, which never have one) are read again shortly.
    unread: list[str] = []
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        env = _environ(entry)
        if not env:
            if env is not None and _user_process(entry):
                unread.append(entry)
            continue
        _add_tagged(found, entry, env, key, run_key, match)
    for wait in EXEC_REREAD:
        if not unread:
            break
        time.sleep(wait)
        still: list[str] = []
        for entry in unread:
            env = _environ(entry)
            if env:
                _add_tagged(found, entry, env, key, run_key, match)
            elif env is not None and _user_process(entry):
                still.append(entry)
        unread = still
    return found


EXEC_REREAD = (0.002, 0.01, 0.04)  # pauses before reading a process mid-exec again


def _environ(entry: str) -> bytes | None:
    """A process's environment block (None when it is gone or not readable)."""
    try:
        with open(f"/proc/{entry}/environ", "rb") as f:
            return f.read()
    except OSError:
        return None


def _user_process(entry: str) -> bool:
    """Whether the process is alive and not a kernel thread (PF_KTHREAD in its flags)."""
    try:
        with open(f"/proc/{entry}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return fields[0] not in (b"Z", b"X") and not int(fields[6]) & 0x00200000
    except (OSError, IndexError, ValueError):
        return False


def _add_tagged(found: list[tuple[int, str, str]], entry: str, env: bytes, key: bytes,
                run_key: bytes, match: Callable[[str], bool]) -> None:
    if key not in env:
        return
    tag = run_id = ""
    for item in env.split(b"\0"):
        if item.startswith(key):
            tag = item[len(key):].decode("utf-8", "replace")
        elif item.startswith(run_key):
            run_id = item[len(run_key):].decode("utf-8", "replace")
    if tag and match(tag):
        found.append((int(entry), tag, run_id))


def _end_tagged(match: Callable[[str], bool], grace: float,
                sig: int = signal.SIGTERM) -> list[tuple[int, str, str]]:
    """Signal every live process whose tag matches, wait up to `grace` seconds for them to
    go, then SIGKILL the rest. Returns what was found at first."""
    found = _tagged(match)
    if not found:
        return found
    for pid, _, _ in found:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)
    if sig != signal.SIGKILL:
        deadline = time.monotonic() + max(0.0, grace)
        while time.monotonic() < deadline and _tagged(match):
            time.sleep(0.02)
        for pid, _, _ in _tagged(match):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    return found


def end_instances(instances: Collection[str], grace: float = 3.0) -> dict[str, int]:
    """End every process still carrying a tag of one of `instances` (schedulers that died
    with runs in flight; never this process's own). Returns how many processes each run id
    had left."""
    mine = instance_id()
    wanted = {i for i in instances if i and i != mine}
    if not wanted:
        return {}
    ended: dict[str, int] = {}
    for _, _, run_id in _end_tagged(lambda tag: tag.rpartition(".")[0] in wanted, grace):
        ended[run_id] = ended.get(run_id, 0) + 1
    return ended


class _Protocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's protocol plus an event set when the process itself exits: Process.wait()
    also waits for the pipes to close, which a leftover grandchild can hold open forever."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


@dataclass(slots=True)
class Child:
    """A spawned process group leader, its transport, and an event for its own exit."""

    proc: asyncio.subprocess.Process
    transport: asyncio.SubprocessTransport
    exited: asyncio.Event
    tag: str = ""  # in its environment and its descendants' (see the module's docstring)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    async def wait_exit(self) -> int:
        """The exit code, as soon as the leader exits (pipes may still be open)."""
        await self.exited.wait()
        code = self.proc.returncode
        assert code is not None
        return code

    def kill(self) -> None:
        self.proc.kill()

    def close(self) -> None:
        """Release the pipes (the process is already gone or killed by now)."""
        self.transport.close()


async def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
    stdin: bool,
) -> Child:
    """Start `argv` as the leader of a new session/process group with piped output."""
    loop = asyncio.get_running_loop()
    protocol: _Protocol | None = None
    tag = f"{instance_id()}.{next(_spawned)}"
    env = {**(env if env is not None else os.environ), TAG_VAR: tag}
    start_watchdog()

    def factory() -> _Protocol:
        nonlocal protocol
        protocol = _Protocol(LINE_LIMIT, loop)
        return protocol

    transport, _ = await loop.subprocess_exec(
        factory,
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    assert protocol is not None
    proc = asyncio.subprocess.Process(transport, protocol, loop)
    return Child(proc, transport, protocol.exited, tag)


class Leader(Protocol):
    """What `terminate_group` needs of a started process group leader."""

    tag: str

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def exited(self) -> asyncio.Event: ...

    def kill(self) -> None: ...


@dataclass(slots=True, frozen=True)
class SpawnPlan:
    """A spawn built ahead of its instant (`plan_spawn`): the argv and the whole environment,
    encoded, with its process tag, so that starting it (`launch`) is only the fork/exec."""

    argv: tuple[str, ...]
    env: dict[bytes, bytes]
    cwd: str | os.PathLike[str] | None
    stdin: bool
    tag: str


def plan_spawn(argv: Sequence[str], *, env: Mapping[str, str] | None,
               cwd: str | os.PathLike[str] | None, stdin: bool) -> SpawnPlan:
    """Everything `launch` needs for `argv`, `env` (os.environ when None) plus the process
    tag, and `cwd`; `stdin`: a pipe to write to (else /dev/null)."""
    tag = f"{instance_id()}.{next(_spawned)}"
    fsencode = os.fsencode
    # Bytes throughout: Popen passes them on as they are instead of encoding each spawn.
    encoded = {fsencode(k): fsencode(v)
               for k, v in (env if env is not None else os.environ).items()}
    encoded[TAG_VAR.encode()] = tag.encode()
    return SpawnPlan(tuple(argv), encoded, cwd, stdin, tag)


# Exits are watched with a pidfd on the loop where the kernel has them (Linux 5.3), else with
# a thread per child blocked in waitpid, as asyncio's own default watcher does.
_PIDFD = hasattr(os, "pidfd_open")


def launch(plan: SpawnPlan, on_stdout: Callable[[str], None],
           on_stderr: Callable[[str], None], stdin_text: str = "") -> Launched:
    """Start `plan` as the leader of a new session/process group, at once: no await between
    the call and the child existing. Its stdout and stderr are delivered line by line to
    the callbacks as they arrive (see `_Pump`); with a stdin pipe, `stdin_text` is
    written to it, then it is closed. Raises OSError/ValueError when it cannot start."""
    child, in_w = _start(plan, plan.argv, plan.env, plan.stdin, on_stdout, on_stderr)
    if in_w >= 0:
        child.feeder = _Feeder(child._loop, in_w, stdin_text.encode())
    return child


def _start(plan: SpawnPlan, argv: Sequence[str], env: Mapping[bytes, bytes], stdin: bool,
           on_stdout: Callable[[str], None], on_stderr: Callable[[str], None],
           ) -> tuple[Launched, int]:
    """The one Popen of `launch` and `hold`: `argv` with `env` in `plan`'s directory, a new
    session, stdout/stderr pumped to the callbacks, exits watched; with `stdin`, a pipe whose
    write end is returned (else /dev/null and -1)."""
    loop = asyncio.get_running_loop()
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r = err_w = in_r = in_w = -1
    try:
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        if stdin:
            in_r, in_w = os.pipe2(os.O_CLOEXEC)
        popen = subprocess.Popen(
            argv, stdin=in_r if stdin else subprocess.DEVNULL, stdout=out_w,
            stderr=err_w, cwd=plan.cwd, env=env, start_new_session=True)
    except BaseException:
        for fd in (out_r, out_w, err_r, err_w, in_r, in_w):
            if fd >= 0:
                os.close(fd)
        raise
    for fd in (out_w, err_w, in_r):
        if fd >= 0:
            os.close(fd)
    child = Launched(popen, loop, plan.tag)
    child.pumps = (_Pump(loop, out_r, on_stdout), _Pump(loop, err_r, on_stderr))
    child.watch()
    return child, in_w


# Children held at once (each is a waiting shell and three pipes): bounded so that a huge
# instant cannot exhaust processes or file descriptors; the runs past it spawn at the instant.
HOLD_LIMIT = 256
HOLD_GUESS = 5e-3  # seconds one held spawn takes before any was measured (a loaded machine)
_held = 0
_hold_cost = HOLD_GUESS
# The held shell: wait for the release line (EOF, when the scheduler is gone: never run the
# command), put back the variables the shell itself sets, then become the command.
_HOLD_SCRIPT = 'IFS= read -r CRONDECK_HELD_LINE || exit 125; {pwd}; exec "$@"{stdin}'
_HOLD_PWD_VAR = b"CRONDECK_HELD_PWD"
_KEEP_PWD = f'export PWD="${_HOLD_PWD_VAR.decode()}"; unset {_HOLD_PWD_VAR.decode()}'
_SH = "/bin/sh"
# The shell drops variables whose names are not names to it, and sets these itself.
_SH_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*\Z")
_SH_SETS = frozenset((b"IFS", b"OPTIND", b"PPID", b"CRONDECK_HELD_LINE", _HOLD_PWD_VAR))


def hold_cost() -> float:
    """Seconds one held spawn takes (an average of the recent ones), for waking early enough."""
    return _hold_cost


def _hold_limit() -> int:
    """`HOLD_LIMIT`, or fewer under a low limit of open files (1024 is common): a held child
    keeps four open (three pipes and its pidfd), and the runs going meanwhile need theirs."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return HOLD_LIMIT
    return min(HOLD_LIMIT, soft // 16)


def hold_room() -> int:
    """How many more children can be held now (`HOLD_LIMIT`, fewer with few open files)."""
    return max(0, _hold_limit() - _held)


def hold(plan: SpawnPlan, on_stdout: Callable[[str], None],
         on_stderr: Callable[[str], None]) -> Launched | None:
    """Start `plan`'s child ahead of its instant, held before it runs any of the command:
    `release` lets it exec the command (same pid, group, environment, directory and pipes
    as `launch` would give it); `discard` ends it unrun. None when it cannot be held exactly
    as `launch` would start it (the program not found or not directly executable, a name
    the shell would drop, too many held already): `launch` it at the instant then, which
    reports whatever is wrong as it always has. Raises OSError/ValueError as `launch`."""
    global _held, _hold_cost
    if _held >= _hold_limit():
        return None
    t0 = time.perf_counter()
    argv = _held_argv(plan)
    if argv is None:
        return None
    env = dict(plan.env)
    pwd = env.pop(b"PWD", None)  # the shell would set it to the directory: given back later
    if pwd is not None:
        env[_HOLD_PWD_VAR] = pwd
    script = _HOLD_SCRIPT.format(pwd=_KEEP_PWD if pwd is not None else "unset PWD",
                                 stdin="" if plan.stdin else " </dev/null")
    child, in_w = _start(plan, [_SH, "-c", script, "crondeck-held", *argv], env, True,
                         on_stdout, on_stderr)
    _hold_cost += (time.perf_counter() - t0 - _hold_cost) / 8
    os.set_blocking(in_w, False)  # now, so that releasing it at the instant is one write
    child._hold_fd = in_w
    _held += 1
    return child


def _held_argv(plan: SpawnPlan) -> tuple[str, ...] | None:
    """`plan.argv` when the held shell would exec exactly what `launch` would (same program,
    found the same way, same environment), else None."""
    if not plan.argv or not os.access(_SH, os.X_OK):
        return None
    for name in plan.env:
        if name in _SH_SETS or not _SH_NAME.match(name):
            return None
    prog = plan.argv[0]
    if "/" in prog:
        path: str | None = os.path.join(os.fspath(plan.cwd) if plan.cwd is not None
                                        else os.getcwd(), prog)
    else:
        # The shell searches $PATH as Popen does; without one, or with a relative or
        # special (dash's "%") entry, the two could differ.
        search = plan.env.get(b"PATH")
        if search is None:
            return None
        dirs = os.fsdecode(search)
        if any(not d.startswith("/") or "%" in d for d in dirs.split(":")):
            return None
        import shutil  # here: it loads bz2 and lzma, which `crondeck exec` never needs

        path = shutil.which(prog, path=dirs)
    if path is None or not _direct(path):
        return None
    return plan.argv


# What a file's head said (its interpreter, b"" for ELF, None for neither), by the file's
# identity and version: a job that fires every minute reads its program's head only once.
_HEADS: dict[tuple[str, int, int, int, int], bytes | None] = {}
HEADS_KEPT = 256


def _version(path: str, st: os.stat_result) -> tuple[str, int, int, int, int]:
    """Which file `path` is and which version of it: (path, device, inode, mtime, size)."""
    return (path, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _head_of(path: str) -> bytes | None:
    """The interpreter a script's `#!` line names (b"" for an ELF file, None for anything
    else or a file that cannot be read), kept by the file's `_version`. A verdict is kept
    only under the version it was read from: a file changed between the look-up and the
    read is judged as read, and read again next time."""
    try:
        key = _version(path, os.stat(path))
    except OSError:
        return None
    if key in _HEADS:
        return _HEADS[key]
    try:
        with open(path, "rb") as f:
            head = f.read(256)
            read = _version(path, os.fstat(f.fileno()))
    except OSError:
        return None
    found: bytes | None = None
    if head.startswith(b"\x7fELF"):
        found = b""
    elif head.startswith(b"#!"):
        line = head[2:].split(b"\n", 1)[0].split()
        found = line[0] if line and line[0].startswith(b"/") else None
    if read == key:
        if len(_HEADS) >= HEADS_KEPT:
            del _HEADS[next(iter(_HEADS))]  # the oldest entry
        _HEADS[key] = found
    return found


def _direct(path: str) -> bool:
    """Whether the kernel execs `path` itself: an executable ELF file or a script whose
    interpreter exists (a shell would run anything else as a script of its own)."""
    head = _head_of(path)
    if head is None or not os.access(path, os.X_OK):
        return False
    return not head or (os.path.isfile(head) and os.access(head, os.X_OK))


class Launched:
    """A process group leader started by `launch`: its exit, its output pumps and its
    stdin, all driven by loop callbacks (no task, no thread per child with pidfds)."""

    __slots__ = ("_hold_fd", "_loop", "_pidfd", "exited", "feeder", "popen", "pumps", "tag")

    def __init__(self, popen: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop,
                 tag: str) -> None:
        self.popen = popen
        self.tag = tag
        self.exited = asyncio.Event()
        self.pumps: tuple[_Pump, ...] = ()
        self.feeder: _Feeder | None = None
        self._loop = loop
        self._pidfd = -1
        self._hold_fd = -1  # a held child's stdin, until `release` or `discard`

    @property
    def pid(self) -> int:
        return self.popen.pid

    def release(self, stdin_text: str = "") -> bool:
        """Let a held child exec its command now: one line releases it, `stdin_text`
        follows (the command's stdin, with a stdin pipe), then stdin is closed. False when
        the child has gone meanwhile: it is discarded, and the caller starts afresh. One
        write when it all fits the pipe (the release line always does); the rest, if any,
        is fed on the loop."""
        global _held
        fd, self._hold_fd = self._hold_fd, -1
        if fd < 0:
            return False
        _held -= 1
        data = b"\n" + stdin_text.encode() if stdin_text else b"\n"
        try:
            if self.popen.poll() is not None:
                raise BrokenPipeError
            written = os.write(fd, data)  # non-blocking since `hold`
        except BlockingIOError:  # a full pipe: nothing of the line went in yet
            written = 0
        except OSError:  # the child has gone: the pipe has no reader left
            os.close(fd)
            self.close()
            return False
        if written == len(data):
            os.close(fd)
        else:
            self.feeder = _Feeder(self._loop, fd, data[written:])
        return True

    def discard(self) -> None:
        """End a held child before it ran anything: SIGKILL, its pipes closed; it is reaped
        on the loop when it has gone (at once, without a loop left to do it)."""
        global _held
        fd, self._hold_fd = self._hold_fd, -1
        if fd < 0:
            return
        _held -= 1
        os.close(fd)  # alone, this ends it too: the shell exits at end of input
        self.abandon()

    def abandon(self) -> None:
        """End a child released at its instant that no run took over after all (its run
        was cancelled in between): SIGKILL to its group, pipes closed, reaped as `discard`
        does."""
        if self.popen.returncode is None:  # not reaped: the pid is still this child's
            with contextlib.suppress(OSError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        self.close()
        if self._loop.is_closed():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self.popen.wait(5)
            if self._pidfd >= 0:
                os.close(self._pidfd)
                self._pidfd = -1

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def watch(self) -> None:
        if _PIDFD:
            try:
                self._pidfd = os.pidfd_open(self.popen.pid)
            except OSError:
                pass
            else:
                self._loop.add_reader(self._pidfd, self._reap)
                return
        threading.Thread(target=self._wait_in_thread, daemon=True).start()

    def _reap(self) -> None:
        if self.popen.poll() is None:
            return  # not yet reapable: the pidfd stays registered
        self._unwatch()
        self.exited.set()

    def _unwatch(self) -> None:
        if self._pidfd >= 0:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1

    def _wait_in_thread(self) -> None:
        self.popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(self.exited.set)

    async def wait_exit(self) -> int:
        """The exit code, as soon as the leader exits (pipes may still be open)."""
        await self.exited.wait()
        code = self.popen.returncode
        assert code is not None
        return code

    def output_done(self) -> list[asyncio.Future[None]]:
        """Futures done when each output pipe has reached its end."""
        return [p.done for p in self.pumps]

    def kill(self) -> None:
        if self.popen.returncode is None:
            self.popen.kill()

    def close(self) -> None:
        """Stop reading and writing, and release the pipes (the process is gone or killed by
        now; a leader still running stays watched, and is reaped when it exits)."""
        for pump in self.pumps:
            pump.close()
        if self.feeder is not None:
            self.feeder.close()


class _Pump:
    """Reads a pipe on the loop and delivers its complete lines (newlines kept) as soon as
    they arrive, decoding UTF-8 leniently: all the lines one read brings as one text, so a
    flood costs one delivery per read, not per line. Text without a newline yet (a progress
    bar, a prompt) is delivered on its own after `partial_after` seconds of silence."""

    __slots__ = ("_decoder", "_emit", "_fd", "_loop", "_partial_after", "_pending", "_timer",
                 "done")

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, emit: Callable[[str], None],
                 partial_after: float = 0.1) -> None:
        os.set_blocking(fd, False)
        self._loop = loop
        self._fd = fd
        self._emit = emit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._partial_after = partial_after
        self._timer: asyncio.TimerHandle | None = None
        self.done: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not data:
            pending = self._pending + self._decoder.decode(b"", final=True)
            self._pending = ""
            self.close()
            if pending:
                self._emit(pending)
            return
        text = self._pending + self._decoder.decode(data)
        end = text.rfind("\n") + 1
        if end == len(text):
            pending = ""
            if text:  # empty: the read ended inside a character the decoder holds
                self._emit(text)
        else:
            pending = text[end:]
            if end:
                self._emit(text[:end])
            if len(pending) >= LINE_LIMIT:
                self._emit(pending)
                pending = ""
        self._pending = pending
        if pending and self._fd >= 0:
            self._timer = self._loop.call_later(self._partial_after, self._flush)

    def _flush(self) -> None:
        self._timer = None
        pending, self._pending = self._pending, ""
        if pending:
            self._emit(pending)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        if not self.done.done():
            self.done.set_result(None)


class _Feeder:
    """Writes a child's stdin without blocking the loop, then closes it."""

    __slots__ = ("_data", "_fd", "_loop", "_registered")

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, data: bytes) -> None:
        self._loop = loop
        self._fd = fd
        self._data = memoryview(data)
        self._registered = False
        os.set_blocking(fd, False)
        self._write()

    def _write(self) -> None:
        while self._data:
            try:
                n = os.write(self._fd, self._data)
            except (BlockingIOError, InterruptedError):
                if not self._registered:
                    self._loop.add_writer(self._fd, self._write)
                    self._registered = True
                return
            except OSError:  # the child closed its stdin or exited: nothing more to deliver
                break
            self._data = self._data[n:]
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            if self._registered:
                self._loop.remove_writer(self._fd)
                self._registered = False
            os.close(self._fd)
            self._fd = -1


def group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process is still in process group `pgid`. Zombies are
    ignored: orphans are reaped by init, which may be slow (or absent in containers)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


async def terminate_group(child: Leader, grace: float, *, sig: int = signal.SIGTERM) -> None:
    """SIGTERM (or `sig`) the process group led by `child`, wait up to `grace` seconds for
    it to empty, then SIGKILL whatever is left; returns once the leader has exited (asyncio
    reaps it) and the processes that left the group are ended too (`end_escaped`). Real time
    on purpose: this is about real processes, whatever the clock."""
    await _terminate_group(child, grace, sig)
    await end_escaped(child, grace, sig=sig)


async def _terminate_group(child: Leader, grace: float, sig: int) -> None:
    pgid = child.pid
    loop = asyncio.get_running_loop()
    if sig != signal.SIGKILL and _signal_group(pgid, sig):
        deadline = loop.time() + max(0.0, grace)
        while loop.time() < deadline:
            if child.returncode is not None and not group_alive(pgid):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.exited.wait(), 0.02)
    _signal_group(pgid, signal.SIGKILL)
    if child.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
    await child.exited.wait()


# Children ended meanwhile, per loop, waiting for the next /proc scan: when a hundred runs
# end together, one scan in a thread of its own serves them all.
_sweeps: dict[asyncio.AbstractEventLoop, list[tuple[str, float, int, asyncio.Future[None]]]] = {}
_sweepers: set[asyncio.Task[None]] = set()


async def end_escaped(child: Leader, grace: float, *, sig: int = signal.SIGTERM) -> None:
    """End the processes that carry `child`'s tag but left its group (`setsid`, a daemon's
    double fork): `sig`, up to `grace` seconds, then SIGKILL. The /proc scan runs in a
    thread, off the loop, shared by every child ended meanwhile."""
    if not (TRACKING and child.tag):
        return
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    pending = _sweeps.get(loop)
    if pending is None:
        pending = _sweeps[loop] = []
        task = loop.create_task(_sweep(loop, pending))
        _sweepers.add(task)
        task.add_done_callback(_sweepers.discard)
    pending.append((child.tag, grace, sig, fut))
    await asyncio.shield(fut)


async def _sweep(loop: asyncio.AbstractEventLoop,
                 pending: list[tuple[str, float, int, asyncio.Future[None]]]) -> None:
    try:
        while pending:
            batch = pending[:]
            del pending[:]
            try:
                await _in_thread(loop, _end_batch, [(tag, grace, sig) for tag, grace, sig, _ in
                                                    batch])
            finally:
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_result(None)
    finally:
        _sweeps.pop(loop, None)
        for *_, fut in pending:
            if not fut.done():
                fut.set_result(None)


def _in_thread(loop: asyncio.AbstractEventLoop, work: Callable[[_T], object],
               arg: _T) -> asyncio.Future[None]:
    """`work(arg)` on a thread started for it, done when it returns (its exception goes to
    the thread's excepthook). Not the loop's default executor: for a process that ends one
    run and exits (`crondeck exec`), a pool and, at `asyncio.run`'s end, a second thread to
    shut it down cost more than the scan. Not a daemon: exiting waits for the kills."""
    done: asyncio.Future[None] = loop.create_future()

    def settle() -> None:
        if not done.done():
            done.set_result(None)

    def body() -> None:
        try:
            work(arg)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle)

    threading.Thread(target=body, name="crondeck-sweep").start()
    return done


def _end_batch(batch: list[tuple[str, float, int]]) -> None:
    """One scan for every tag of `batch`; each found process gets its tag's signal, and
    SIGKILL once the longest grace of the batch has passed."""
    sigs = {tag: sig for tag, _, sig in batch}
    found = _tagged(lambda t: t in sigs)
    if not found:
        return
    for pid, tag, _ in found:
        with contextlib.suppress(OSError):
            os.kill(pid, sigs[tag])
    grace = max((g for tag, g, sig in batch if sig != signal.SIGKILL), default=0.0)
    deadline = time.monotonic() + max(0.0, grace)
    while time.monotonic() < deadline and _tagged(lambda t: t in sigs):
        time.sleep(0.02)
    for pid, _, _ in _tagged(lambda t: t in sigs):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
