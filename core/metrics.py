"""Prometheus metrics and a health check for the headless scheduler (`crondeck run --listen`).

Counters come from the event stream (a scheduler listener, on the loop thread); gauges (next
fire, paused, consecutive failures, running) are snapshotted from the jobs by a heartbeat
task once a second. The HTTP server runs in its own thread and only reads those snapshots
under a lock, so a scrape never touches the scheduler's live structures, and it can still
answer 503 when the event loop itself is stuck.

Health: 200 while the loop is alive. 503 with a reason when the scheduler loop is not
running, when the event loop has not ticked for `stall_after` seconds, or when a job's slot
has been due for longer than that without being fired.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .events import Event, RunFinished, RunMissed, RunSkipped
from .results import RunResult, RunStatus
from .scheduler import Scheduler

__all__ = ["BUCKETS", "Metrics", "MetricsServer", "parse_listen"]

BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, math.inf)
STALL_AFTER = 90.0  # the loop wakes at least every 30 s; three misses is a stall
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def parse_listen(text: str) -> tuple[str, int]:
    """`9464`, `127.0.0.1:9464`, `[::1]:9464` -> (host, port); host defaults to loopback."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {text!r}: write PORT or HOST:PORT, like 127.0.0.1:9464")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.n += 1


@dataclass
class _JobGauges:
    next_fire: float | None = None
    paused: bool = False
    consecutive_failures: int = 0
    running: int = 0


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _le(bound: float) -> str:
    """Bucket bounds as Prometheus clients write them: "30.0", "+Inf"."""
    return "+Inf" if bound == math.inf else repr(float(bound))


def _usage(result: RunResult) -> tuple[float, float]:
    """Tokens and cost of a run, when its agent reported them (the runner puts them in
    `extra`)."""
    extra = result.extra or {}
    tokens = extra.get("tokens", 0)
    if isinstance(tokens, dict):
        tokens = sum(v for v in tokens.values() if isinstance(v, int | float))
    cost = extra.get("cost_usd", extra.get("cost", 0))
    ok = (int, float)
    return (float(tokens) if isinstance(tokens, ok) else 0.0,
            float(cost) if isinstance(cost, ok) else 0.0)


class Metrics:
    """Everything `/metrics` shows, kept up to date from the scheduler's events."""

    def __init__(self, scheduler: Scheduler, *, stall_after: float = STALL_AFTER) -> None:
        self.scheduler = scheduler
        self.stall_after = stall_after
        self._lock = threading.Lock()
        self.runs: dict[tuple[str, str], int] = {}
        self.durations: dict[str, _Histogram] = {}
        self.last_success: dict[str, float] = {}
        self.tokens: dict[str, float] = {}
        self.cost: dict[str, float] = {}
        self.gauges: dict[str, _JobGauges] = {}
        self.loop_running = False
        self.beat: float | None = None  # monotonic time of the last heartbeat
        self.started = time.time()
        self._remove = scheduler.add_listener(self.observe)
        for job in scheduler.jobs.values():  # restored history: last success survives restarts
            # (`job.results` would make a history for each of 100,000 jobs that have none)
            for result in job.results if job.last_result is not None else ():
                if result.status is RunStatus.OK and result.finished_at is not None:
                    self.last_success[job.name] = max(self.last_success.get(job.name, 0.0),
                                                      result.finished_at.timestamp())
        self.snapshot()

    def close(self) -> None:
        self._remove()

    # -- on the loop thread ---------------------------------------------------------------

    def observe(self, event: Event) -> None:
        """Scheduler listener: count every final result."""
        if isinstance(event, RunFinished):
            if event.will_retry:
                return
            self.record(event.result)
        elif isinstance(event, RunSkipped | RunMissed):
            self.record(event.result)

    def record(self, result: RunResult) -> None:
        with self._lock:
            key = (result.job, result.status.value)
            self.runs[key] = self.runs.get(key, 0) + 1
            if result.duration is not None:
                self.durations.setdefault(result.job, _Histogram()).observe(result.duration)
            if result.status is RunStatus.OK and result.finished_at is not None:
                self.last_success[result.job] = result.finished_at.timestamp()
            tokens, cost = _usage(result)
            self.tokens[result.job] = self.tokens.get(result.job, 0.0) + tokens
            self.cost[result.job] = self.cost.get(result.job, 0.0) + cost

    def snapshot(self) -> None:
        """Copy the per-job gauges and the loop's liveness (call on the loop thread)."""
        gauges = {
            job.name: _JobGauges(
                next_fire=job.next_fire.timestamp() if job.next_fire is not None else None,
                paused=job.paused or self.scheduler.paused,
                consecutive_failures=job.consecutive_failures,
                running=len(job.running) if job.is_running else 0,
            )
            for job in list(self.scheduler.jobs.values())
        }
        with self._lock:
            self.gauges = gauges
            self.loop_running = self.scheduler.running_loop
            self.beat = time.monotonic()

    async def heartbeat(self, every: float = 1.0) -> None:
        """Snapshot forever (run it as a task on the scheduler's loop)."""
        while True:
            self.snapshot()
            await asyncio.sleep(every)

    # -- on any thread ---------------------------------------------------------------------

    def health(self, now: float | None = None) -> tuple[bool, str]:
        """(healthy, reason) from the last snapshot."""
        now = time.time() if now is None else now
        with self._lock:
            beat, running, gauges = self.beat, self.loop_running, dict(self.gauges)
        if not running:
            return False, "the scheduler loop is not running"
        if beat is not None and time.monotonic() - beat > self.stall_after:
            return False, (f"the event loop has not run for {time.monotonic() - beat:.0f}s "
                           "(blocked or stalled)")
        for name, g in sorted(gauges.items()):
            if g.next_fire is not None and not g.paused and now - g.next_fire > self.stall_after:
                due = datetime.fromtimestamp(g.next_fire).astimezone().isoformat()
                return False, (f"job {name!r} was due at {due} and has not been fired "
                               f"({now - g.next_fire:.0f}s late): the scheduler loop stalled")
        return True, "ok"

    def render(self) -> str:
        """The Prometheus text exposition format (0.0.4)."""
        with self._lock:
            runs = dict(self.runs)
            durations = {k: (list(h.counts), h.total, h.n) for k, h in self.durations.items()}
            last_success, tokens, cost = (dict(self.last_success), dict(self.tokens),
                                          dict(self.cost))
            gauges = dict(self.gauges)
        ok, _ = self.health()
        out: list[str] = []

        def family(name: str, kind: str, help_text: str, samples: Iterable[str]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(samples)

        family("crondeck_up", "gauge", "1 while the scheduler loop is alive (see /healthz).",
               [f"crondeck_up {1 if ok else 0}"])
        family("crondeck_runs", "counter", "Slots that ended, by job and status "
               "(ok, failed, timed_out, cancelled, skipped, missed).",
               [f'crondeck_runs_total{{job="{_label(j)}",status="{s}"}} {n}'
                for (j, s), n in sorted(runs.items())])
        hist = []
        for job, (counts, total, n) in sorted(durations.items()):
            for bound, count in zip(BUCKETS, counts, strict=True):
                hist.append(f'crondeck_run_duration_seconds_bucket{{job="{_label(job)}",'
                            f'le="{_le(bound)}"}} {count}')
            hist.append(f'crondeck_run_duration_seconds_sum{{job="{_label(job)}"}} {_num(total)}')
            hist.append(f'crondeck_run_duration_seconds_count{{job="{_label(job)}"}} {n}')
        family("crondeck_run_duration_seconds", "histogram",
               "How long runs took (gate and retries excluded).", hist)

        def per_job(name: str, kind: str, help_text: str, values: dict[str, float]) -> None:
            family(name, kind, help_text,
                   [f'{name}{{job="{_label(j)}"}} {_num(v)}' for j, v in sorted(values.items())])

        per_job("crondeck_next_fire_timestamp_seconds", "gauge",
                "When the job fires next (Unix time).",
                {j: g.next_fire for j, g in gauges.items() if g.next_fire is not None})
        per_job("crondeck_last_success_timestamp_seconds", "gauge",
                "When the job last finished ok (Unix time).", last_success)
        per_job("crondeck_job_paused", "gauge", "1 if the job (or the scheduler) is paused.",
                {j: float(g.paused) for j, g in gauges.items()})
        per_job("crondeck_consecutive_failures", "gauge",
                "Failed or timed-out runs in a row.",
                {j: g.consecutive_failures for j, g in gauges.items()})
        per_job("crondeck_runs_in_flight", "gauge", "Runs going now.",
                {j: g.running for j, g in gauges.items()})
        family("crondeck_tokens", "counter", "Model tokens used by runs, when the agent "
               "reports them.", [f'crondeck_tokens_total{{job="{_label(j)}"}} {_num(v)}'
                                 for j, v in sorted(tokens.items())])
        family("crondeck_cost_usd", "counter", "Model cost of runs in US dollars, when the "
               "agent reports it.", [f'crondeck_cost_usd_total{{job="{_label(j)}"}} {_num(v)}'
                                     for j, v in sorted(cost.items())])
        return "\n".join(out) + "\n"


IDLE_TIMEOUT = 10.0  # seconds a connection may sit without sending (or reading) anything
MAX_CONNECTIONS = 32  # connections served at once; more are closed at once


class _Handler(BaseHTTPRequestHandler):
    metrics: Metrics
    timeout = IDLE_TIMEOUT  # socket timeout: an idle or trickling client cannot hold a thread

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, self.metrics.render(), CONTENT_TYPE)
        elif path == "/healthz":
            ok, reason = self.metrics.health()
            self._send(200 if ok else 503, reason + "\n", "text/plain; charset=utf-8")
        else:
            self._send(404, "not found: try /metrics or /healthz\n", "text/plain")

    def _send(self, code: int, body: str, content_type: str) -> None:
        data = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
        pass


class _Server(ThreadingHTTPServer):
    """One thread per connection, but at most `max_connections` of them: beyond that a new
    connection is closed at once, so a flood of idle sockets cannot exhaust threads."""

    max_connections = MAX_CONNECTIONS

    def server_activate(self) -> None:
        super().server_activate()
        self._slots = threading.BoundedSemaphore(self.max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _Server6(_Server):
    address_family = socket.AF_INET6


class MetricsServer:
    """`/metrics` and `/healthz` over HTTP in a daemon thread. Binds loopback unless a
    host is given; `port` 0 picks a free port (see `address`)."""

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 9464, *,
                 idle_timeout: float = IDLE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        handler = type("Handler", (_Handler,), {"metrics": metrics, "timeout": idle_timeout})
        self.metrics = metrics
        base = _Server6 if ":" in host else _Server
        server_cls = type("Server", (base,), {"max_connections": max_connections})
        self.httpd = server_cls((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        name="crondeck-metrics", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()
