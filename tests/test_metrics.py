"""Metrics and health for `crondeck run --listen`: scraped over real HTTP and parsed with
the reference parser (prometheus_client); /healthz 200 while alive, 503 with a reason."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import wait_until
from prometheus_client.parser import text_string_to_metric_families

from crondeck.core import FakeClock, Scheduler
from crondeck.core.metrics import Metrics, MetricsServer, parse_listen
from crondeck.core.results import RunResult, RunStatus


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.mark.slow
def test_crondeck_run_listen_serves_metrics_and_health(tmp_path: Path) -> None:
    config = tmp_path / "crondeck.toml"
    config.write_text('[[jobs]]\nname = "tick"\ncommand = "echo tick"\nschedule = "@every 1s"\n'
                      '\n[[jobs]]\nname = "broken"\ncommand = "exit 3"\nschedule = "@every 1s"\n'
                      '\n[[jobs]]\nname = "later"\ncommand = "true"\nschedule = "@yearly"\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "crondeck.cli", "--config", str(config), "run",
         "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = None
        finished: set[str] = set()
        for line in proc.stdout:  # wait for the address, then one result of each job
            event = json.loads(line)
            if event["event"] == "listening":
                url = event["url"]
            if event["event"] == "run_finished":
                finished.add(event["job"])
            if url and finished >= {"tick", "broken"}:
                break
        assert url is not None and url.startswith("http://127.0.0.1:")
        deadline = time.monotonic() + 60
        while True:  # the next heartbeat snapshot marks the loop alive
            status, body = _get(f"{url}/healthz")
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (status, body) == (200, "ok\n")
        failures = ("crondeck_consecutive_failures", (("job", "broken"),))
        while True:  # gauges are snapshots taken each second on the scheduler's loop
            status, text = _get(f"{url}/metrics")
            samples = _samples(text)
            if samples.get(failures, 0) >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 200
        assert samples[("crondeck_up", ())] == 1
        assert samples[("crondeck_runs_total", (("job", "tick"), ("status", "ok")))] >= 1
        assert samples[("crondeck_runs_total", (("job", "broken"), ("status", "failed")))] >= 1
        assert samples[("crondeck_run_duration_seconds_count", (("job", "tick"),))] >= 1
        assert samples[("crondeck_run_duration_seconds_bucket",
                        (("job", "tick"), ("le", "+Inf")))] >= 1
        assert samples[("crondeck_consecutive_failures", (("job", "broken"),))] >= 1
        assert samples[("crondeck_job_paused", (("job", "later"),))] == 0
        next_later = samples[("crondeck_next_fire_timestamp_seconds", (("job", "later"),))]
        assert datetime.fromtimestamp(next_later, UTC).strftime("%m-%d %H:%M") == "01-01 00:00"
        assert samples[("crondeck_last_success_timestamp_seconds", (("job", "tick"),))] > 0
        assert ("crondeck_last_success_timestamp_seconds", (("job", "broken"),)) not in samples
        assert _get(f"{url}/nope")[0] == 404
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_health_is_503_with_a_reason_when_the_loop_is_not_running() -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    scheduler = Scheduler(clock=clock)
    scheduler.add_job(["true"], "", "*/5 * * * *", name="five", tz="UTC")
    metrics = Metrics(scheduler)
    server = MetricsServer(metrics, "127.0.0.1", 0).start()
    try:
        status, body = _get(f"{server.url}/healthz")
        assert status == 503
        assert body == "the scheduler loop is not running\n"
        samples = _samples(_get(f"{server.url}/metrics")[1])
        assert samples[("crondeck_up", ())] == 0
    finally:
        server.close()


def test_health_names_a_job_whose_slot_was_never_fired() -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    scheduler = Scheduler(clock=clock)
    scheduler.add_job(["true"], "", "*/5 * * * *", name="five", tz="UTC")

    async def alive_but_stuck() -> tuple[bool, str]:
        task = asyncio.create_task(scheduler.astart(stop_when_done=False))
        await asyncio.sleep(0)  # the loop starts (and fires nothing: nothing is due yet)
        metrics = Metrics(scheduler)
        due = scheduler.jobs["five"].next_fire
        assert due is not None
        ok_now = metrics.health(now=due.timestamp())
        late = metrics.health(now=(due + timedelta(minutes=3)).timestamp())
        scheduler.stop()
        await task
        assert ok_now == (True, "ok")
        return late

    ok, reason = asyncio.run(alive_but_stuck())
    assert not ok
    assert reason.startswith("job 'five' was due at") and "has not been fired (180s late)" in reason


def test_tokens_and_cost_count_what_agents_report() -> None:
    scheduler = Scheduler(clock=FakeClock(datetime(2026, 3, 1, tzinfo=UTC)))
    scheduler.add_job(["true"], "", "@hourly", name='quote"job', tz="UTC")
    metrics = Metrics(scheduler)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    for tokens in (1200, {"input": 100, "output": 50}):
        metrics.record(RunResult(run_id="r", job='quote"job', scheduled_for=at,
                                 status=RunStatus.OK, started_at=at,
                                 finished_at=at + timedelta(seconds=42),
                                 extra={"tokens": tokens, "cost_usd": 0.25}))
    samples = _samples(metrics.render())
    assert samples[("crondeck_tokens_total", (("job", 'quote"job'),))] == 1350
    assert samples[("crondeck_cost_usd_total", (("job", 'quote"job'),))] == 0.5
    assert samples[("crondeck_run_duration_seconds_bucket",
                    (("job", 'quote"job'), ("le", "30.0")))] == 0
    assert samples[("crondeck_run_duration_seconds_bucket",
                    (("job", 'quote"job'), ("le", "60.0")))] == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("9464", ("127.0.0.1", 9464)),
    ("127.0.0.1:9464", ("127.0.0.1", 9464)),
    ("0.0.0.0:9100", ("0.0.0.0", 9100)),
    ("[::1]:9464", ("::1", 9464)),
])
def test_listen_defaults_to_loopback(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


def test_bad_listen_address_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "crondeck.toml"
    config.write_text('[[jobs]]\nname = "x"\ncommand = "true"\nschedule = "@daily"\n')
    proc = subprocess.run([sys.executable, "-m", "crondeck.cli", "--config", str(config),
                           "run", "--listen", "localhost:http"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 2
    assert "write PORT or HOST:PORT" in proc.stderr


@pytest.mark.slow
def test_idle_connections_time_out_and_are_capped() -> None:
    import socket
    import threading

    metrics = Metrics(Scheduler(clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC))))
    server = MetricsServer(metrics, "127.0.0.1", 0, idle_timeout=0.5, max_connections=4).start()
    before = threading.active_count()
    idle = [socket.create_connection(server.address, timeout=5) for _ in range(20)]
    try:
        time.sleep(0.2)
        assert threading.active_count() <= before + 4  # not one thread per connection
        for sock in idle:  # turned away at once, or closed after the idle timeout
            assert sock.recv(1024) == b""
        assert _get(server.url + "/metrics")[0] == 200  # and a scrape is served again
        wait_until(lambda: threading.active_count() <= before, 5,
                   "the idle connections' threads to end")
    finally:
        for sock in idle:
            sock.close()
        server.close()
