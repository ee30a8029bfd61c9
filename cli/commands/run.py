"""`crondeck run`: the scheduler without a UI. One JSON object per line on stdout for every
event (for journald, docker and k8s logs), the core `FileWatcher`'s reloads and folded `exec`
results among them; SIGTERM/SIGINT stop it cleanly: running agents get their termination
grace period and their results are recorded before exit."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable
from typing import Any, TextIO

from crondeck.core import (
    ConfigError,
    ConfigRejected,
    ControlServer,
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
    parse_listen,
)

from ._shared import (
    EXIT_BAD_CONFIG,
    EXIT_ERROR,
    add_config_arg,
    load,
    print_problems,
    refuse_read_only,
    silence,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the scheduler headless, logging JSON lines",
        description="Run the jobs file's scheduler with no UI, printing one JSON object per "
        "event on stdout. SIGTERM or SIGINT stops it cleanly. Exits 2 if the jobs file is "
        "invalid, 1 if another crondeck already runs it.",
    )
    add_config_arg(p)
    p.add_argument("--listen", metavar="[HOST:]PORT",
                   help="serve Prometheus /metrics and /healthz here (HOST defaults to "
                        "127.0.0.1; give another host only to expose it)")
    p.set_defaults(func=run)


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

    def stop() -> None:
        runtime.scheduler.stop(terminate=True)

    def shutdown(signum: int) -> None:
        with contextlib.suppress(BrokenPipeError):
            emit(out, {"event": "shutdown_requested", "signal": signal.Signals(signum).name,
                       "running": runtime.scheduler.in_flight})
        stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, shutdown, signum)
    printer = asyncio.create_task(_print(sub, out, err, stop))
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
        if observer is not None:
            observer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await observer
        for signum in (signal.SIGTERM, signal.SIGINT):
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
    try:
        runtime = open_runtime(config)
    except ConfigError as exc:
        print_problems(exc, "run", err)
        return EXIT_BAD_CONFIG
    except (LockHeld, UnsafeDir) as exc:
        print(f"crondeck run: {exc}", file=err)
        return EXIT_ERROR
    try:
        emit(out, {"event": "config_loaded", "path": str(config.path), "jobs": len(config.jobs),
                   "state_dir": str(config.state_dir)})
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
    finally:
        runtime.close()
    return 0
