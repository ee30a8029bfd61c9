"""`crondeck run`: the scheduler without a UI. One JSON object per line on stdout for every
event (for journald, docker and k8s logs), the core `FileWatcher`'s reloads and folded `exec`
results among them. SIGTERM/SIGINT (and SIGHUP: its terminal went away) stop it cleanly:
nothing new starts, runs in flight get `shutdown_grace` to finish, then (or at a second
signal) are cancelled, their results and output recorded before it exits 0."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import signal
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, cast

from crondeck.core import (
    Config,
    ConfigError,
    ConfigRejected,
    ControlServer,
    DurationError,
    FileWatcher,
    LockHeld,
    Metrics,
    MetricsServer,
    Runtime,
    Subscription,
    UnsafeDir,
    control_path,
    event_json,
    open_runtime,
    parse_duration,
    parse_listen,
)

from ._shared import (
    EXIT_BAD_CONFIG,
    EXIT_ERROR,
    add_config_arg,
    load,
    print_problems,
    reader_gone,
    refuse_read_only,
    silence,
)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the scheduler headless, logging JSON lines",
        description="Run the jobs file's scheduler with no UI, printing one JSON object per "
        "event on stdout. SIGTERM, SIGINT or SIGHUP stops it: runs in flight get the "
        "[scheduler] shutdown_grace (30s) to finish, a second signal cancels them. "
        "Exits 2 if the jobs file is invalid, 1 if another crondeck already runs it.",
    )
    add_config_arg(p)
    p.add_argument("--listen", metavar="[HOST:]PORT",
                   help="serve Prometheus /metrics and /healthz here (HOST defaults to "
                        "127.0.0.1; give another host only to expose it)")
    p.add_argument("--log", metavar="FILE",
                   help="write the JSON lines to FILE instead of stdout, appending; at "
                        f"{LOG_MAX_BYTES // 2**20} MiB it becomes FILE.1 (the {LOG_KEEP} "
                        "newest old files are kept)")
    p.add_argument("--wait-for-lock", metavar="DURATION", type=_seconds,
                   help="if another crondeck runs these jobs, wait up to DURATION (e.g. 30s) "
                        "for it to stop, then take over, instead of exiting 1")
    p.set_defaults(func=run)


def _seconds(text: str) -> float:
    """An argparse type: a duration such as 30s or 2m (a bare number is seconds)."""
    if text.startswith("-") and len(text) > 1:
        try:
            positive = text[1:] if _seconds(text[1:]) else "30s"
        except argparse.ArgumentTypeError:
            positive = "30s"
        raise argparse.ArgumentTypeError(
            f"{text!r} is negative: give how long to wait, e.g. --wait-for-lock {positive} "
            "(0 does not wait)")
    try:
        return float(text) if text.replace(".", "", 1).isdigit() else \
            parse_duration(text).total_seconds()
    except DurationError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (e.g. 30s, 2m)") from None


LOG_MAX_BYTES = 10 * 2**20  # --log rotates at this size
LOG_KEEP = 3  # --log keeps FILE.1 … FILE.3
READER_POLL = 1.0  # how often a piped `crondeck run` looks whether its reader is gone
LOCK_POLL = 0.05  # --wait-for-lock looks this often: a hand-over leaves no slot behind
# Without --wait-for-lock, how long a lock held by someone else is waited for all the same:
# `crondeck pause` (no scheduler running) and `crondeck exec` hold it while they write the
# saved state, and a start at that moment must not be refused as a second scheduler.
BRIEF_HOLD = 1.5


class RotatingLog(io.TextIOBase):
    """Appends to `path`; a write that would take it past `max_bytes` first renames it to
    `path.1` (and `path.1` to `path.2`, …, keeping `keep`). Private to the user (0600)."""

    def __init__(self, path: Path, max_bytes: int = LOG_MAX_BYTES, keep: int = LOG_KEEP) -> None:
        super().__init__()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._fh = self._open()
        self._size = self._fh.tell()

    def _open(self) -> TextIO:
        return open(self.path, "a", encoding="utf-8",
                    opener=lambda name, flags: os.open(name, flags, 0o600))

    def write(self, text: str) -> int:
        size = len(text.encode("utf-8"))
        if self._size and self._size + size > self.max_bytes:
            self._rotate()
        self._fh.write(text)
        self._size += size
        return len(text)

    def _rotate(self) -> None:
        self._fh.close()
        for n in range(self.keep, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n - 1}") if n > 1 else self.path
            with contextlib.suppress(FileNotFoundError):
                os.replace(older, self.path.with_name(f"{self.path.name}.{n}"))
        self._fh = self._open()
        self._size = 0

    def flush(self) -> None:
        self._fh.flush()

    def fileno(self) -> int:
        return self._fh.fileno()

    def close(self) -> None:
        super().close()  # flushes first
        self._fh.close()


class LossyOut(io.TextIOBase):
    """The event lines' destination (stdout or --log) for a scheduler that must go on when
    it refuses them (a full disk, a quota, an I/O error): the first refusal is said once on
    stderr, the lines are dropped until a write works again, and that is said too with how
    many were lost. A reader gone away (EPIPE) still raises: `crondeck run` stops then."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        super().__init__()
        self._out = out
        self._err = err
        self._pending = 0  # lines written since the last flush
        self.lost = 0  # lines dropped since the last flush that worked

    def write(self, text: str) -> int:
        try:
            self._out.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            self._refused(exc, text.count("\n"))
        else:
            self._pending += text.count("\n")
        return len(text)

    def flush(self) -> None:
        pending, self._pending = self._pending, 0
        try:
            self._out.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            self._refused(exc, pending)
            return
        if self.lost and pending:  # a line went out
            self._say(f"event lines written again ({self.lost} dropped)")
            self.lost = 0

    def _refused(self, exc: OSError, lines: int) -> None:
        if not self.lost:
            self._say(f"cannot write the event lines: {exc.strerror or exc}; the jobs go on, "
                      "their lines are dropped until it can")
        self.lost += max(lines, 1)

    def _say(self, text: str) -> None:
        with contextlib.suppress(OSError):
            print(f"crondeck run: {text}", file=self._err, flush=True)

    def fileno(self) -> int:
        return self._out.fileno()


def emit(out: TextIO, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


async def _print(sub: Subscription, out: TextIO, err: TextIO,
                 on_closed: Callable[[], None]) -> None:
    try:
        async for event in sub:
            emit(out, event_json(event))
            if isinstance(event, ConfigRejected):  # an operator tailing stderr hears it too
                for problem in event.problems:
                    print(f"crondeck run: jobs file not reloaded: {problem}", file=err)
    except BrokenPipeError:
        # Whoever read the log went away (`crondeck run | head -1`, a dead log shipper):
        # stop as on SIGTERM rather than schedule on with nobody told.
        silence(out)
        with contextlib.suppress(OSError):
            print("crondeck run: stdout was closed (its reader went away): stopping",
                  file=err)
        on_closed()



async def _watch_reader(out: TextIO, err: TextIO, on_closed: Callable[[], None]) -> None:
    """`crondeck run | head -1` with nothing due for hours: stop once the pipe's reader has
    gone, as at the next event, rather than scheduling on until then with nobody told."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        if not stat.S_ISFIFO(os.fstat(out.fileno()).st_mode):  # a pipe (a file: none goes)
            return
    while True:  # polled: the loop has no event for a pipe's reader going away
        await asyncio.sleep(READER_POLL)
        if reader_gone(out):
            break
    silence(out)
    with contextlib.suppress(OSError):
        print("crondeck run: stdout was closed (its reader went away): stopping", file=err)
    on_closed()


class ListenError(OSError):
    """--listen could not bind its address."""


def _metrics_server(runtime: Runtime, out: TextIO, listen: tuple[str, int] | None
                    ) -> MetricsServer | None:
    if listen is None:
        return None
    try:
        server = MetricsServer(Metrics(runtime.scheduler), *listen).start()
    except OSError as exc:
        raise ListenError(f"cannot listen on {listen[0]}:{listen[1]}: {exc.strerror or exc}")
    emit(out, {"event": "listening", "url": server.url, "paths": ["/metrics", "/healthz"]})
    return server


async def _observe(server: MetricsServer) -> None:
    """Keep the metrics current while the scheduler runs."""
    try:
        while True:
            server.metrics.snapshot()
            await asyncio.sleep(1.0)
    finally:
        server.close()
        server.metrics.close()


async def _control(runtime: Runtime, err: TextIO) -> ControlServer | None:
    """Serve the control socket (consoles and CLI verbs attach to it); a scheduler that
    cannot serve it still schedules, and says why."""
    try:
        return await ControlServer(
            runtime.scheduler, control_path(runtime.config.state_dir), kind="crondeck run",
            config_path=runtime.config.path, reload=runtime.reload).start()
    except (OSError, ValueError) as exc:
        with contextlib.suppress(OSError):
            print(f"crondeck run: control socket not served: {exc}", file=err)
        return None


async def serve(runtime: Runtime, out: TextIO, err: TextIO,
                listen: tuple[str, int] | None = None) -> None:
    """Run until a signal (or stop()); every event goes to `out` as a JSON line."""
    server = _metrics_server(runtime, out, listen)  # first: a port in use ends it cleanly
    # Before any task or signal handler exists: a stop() they gave while this awaits would
    # be lost when astart() begins.
    control = await _control(runtime, err)
    sub = runtime.scheduler.subscribe()
    loop = asyncio.get_running_loop()

    signals = 0

    def stop() -> None:
        # Nothing new starts; runs in flight get the grace, then are cancelled.
        runtime.scheduler.stop(grace=runtime.scheduler.shutdown_grace)

    def shutdown(signum: int) -> None:
        nonlocal signals
        signals += 1
        terminate = signals > 1  # a second signal: the operator will not wait
        with contextlib.suppress(OSError):
            emit(out, {"event": "shutdown_requested", "signal": signal.Signals(signum).name,
                       "running": runtime.scheduler.in_flight,
                       "grace": 0.0 if terminate else runtime.scheduler.shutdown_grace})
        if terminate:
            runtime.scheduler.stop(terminate=True)
        else:
            stop()

    # SIGHUP: the terminal it ran in went away; its runs are drained and recorded as on
    # SIGTERM rather than left for the next start to find abandoned.
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, shutdown, signum)
    printer = asyncio.create_task(_print(sub, out, err, stop))
    reader = asyncio.create_task(_watch_reader(out, err, stop))
    watcher = asyncio.create_task(FileWatcher(runtime).watch())
    lock_watch = asyncio.create_task(runtime.watch_lock())
    observer = asyncio.create_task(_observe(server)) if server is not None else None
    try:
        await runtime.scheduler.astart(stop_when_done=False)
    finally:
        if control is not None:
            await control.close()
        watcher.cancel()
        lock_watch.cancel()
        reader.cancel()
        if observer is not None:
            observer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await observer
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await asyncio.sleep(0)
        sub.close()
        await printer


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if refuse_read_only(args, "run", err):
        return EXIT_BAD_CONFIG
    config = load(args, "run", err)
    if config is None:
        return EXIT_BAD_CONFIG
    try:
        listen = parse_listen(args.listen) if getattr(args, "listen", None) else None
    except ValueError as exc:
        print(f"crondeck run: {exc}", file=err)
        return EXIT_BAD_CONFIG
    log = None
    if getattr(args, "log", None):
        try:
            log = RotatingLog(Path(args.log).absolute())
        except OSError as exc:
            print(f"crondeck run: --log {args.log}: cannot write it: {exc.strerror or exc}",
                  file=err)
            return EXIT_ERROR
        out = cast(TextIO, log)
    try:
        return _run(config, cast(TextIO, LossyOut(out, err)), err, listen,
                    getattr(args, "wait_for_lock", None))
    finally:
        if log is not None:
            with contextlib.suppress(OSError):  # a last flush refused: said already
                log.close()


def _open_waiting(config: Config, out: TextIO, wait: float | None) -> Runtime:
    """open_runtime, waiting up to `wait` seconds (BRIEF_HOLD without one) for the lock's
    holder to let go (raises LockHeld once the wait is over)."""
    deadline = time.monotonic() + (BRIEF_HOLD if wait is None else wait)
    said = False
    while True:
        try:
            # never edits the file, nor reads the jobs' specs once they are scheduled
            return open_runtime(config, keep_source=False, keep_jobs=False)
        except LockHeld as exc:
            if time.monotonic() >= deadline:
                raise
            if wait is not None and not said:  # a hand-over waits on this line to let go
                emit(out, {"event": "waiting_for_lock", "pid": os.getpid(), "holder": exc.pid,
                           "timeout": wait})
                said = True
            time.sleep(LOCK_POLL)


def _run(config: Config, out: TextIO, err: TextIO, listen: tuple[str, int] | None,
         wait: float | None) -> int:
    try:
        runtime = _open_waiting(config, out, wait)
    except ConfigError as exc:
        print_problems(exc, "run", err)
        return EXIT_BAD_CONFIG
    except (LockHeld, UnsafeDir) as exc:
        print(f"crondeck run: {exc}", file=err)
        return EXIT_ERROR
    except OSError as exc:  # a read-only disk, no permission
        print(f"crondeck run: cannot keep its state in {config.state_dir}: "
              f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=err)
        return EXIT_ERROR
    try:
        code = _serve_logged(runtime, config, out, err, listen)
    finally:
        saved = _close(runtime, err)
    return code if saved else EXIT_ERROR


def _close(runtime: Runtime, err: TextIO) -> bool:
    """Close the runtime (the state saved, the lock released); a save refused (a full disk)
    is said in one line, and False."""
    try:
        runtime.close()
    except OSError as exc:
        with contextlib.suppress(OSError):
            print(f"crondeck run: the state in {runtime.config.state_dir} could not be saved on "
                  f"stopping: {exc.strerror or exc}", file=err)
        return False
    return True


def _serve_logged(runtime: Runtime, config: Config, out: TextIO, err: TextIO,
                  listen: tuple[str, int] | None) -> int:
    try:
        emit(out, {"event": "config_loaded", "path": str(config.path),
                   "jobs": len(runtime.scheduler.jobs), "state_dir": str(config.state_dir)})
        for warning in config.warnings:
            emit(out, {"event": "config_warning", "job": warning.job, "message": warning.message})
        for problem in runtime.problems:
            print(f"crondeck run: {problem}", file=err)
            emit(out, {"event": "state_problem", "message": problem})
        for result in runtime.abandoned:
            emit(out, {"event": "run_abandoned", "job": result.job, "run_id": result.run_id,
                       "result": result.to_dict()})
        asyncio.run(serve(runtime, out, err, listen))
        if runtime.lock_lost:
            print(f"crondeck run: {runtime.lock_lost}", file=err)
            return EXIT_ERROR
    except ListenError as exc:
        print(f"crondeck run: {exc}", file=err)
        return EXIT_ERROR
    return 0
