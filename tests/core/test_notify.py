"""Notifications to a loopback HTTP server and to a script: which results notify, payload
shapes, retries, and failures that are recorded but never fail a run or block the loop."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from llm_fake import free_port

from crondeck.core.agents import RunContext
from crondeck.core.clock import FakeClock
from crondeck.core.events import Event, NotificationFailed, NotificationSent
from crondeck.core.notify import NotifySpec
from crondeck.core.results import RunResult, RunStatus
from crondeck.core.scheduler import Scheduler

T0 = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


class Hook:
    """A webhook receiver; answers `fail_first` requests with 503 first."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                failing = hook.fail_first > 0
                hook.fail_first -= 1
                if not failing:
                    hook.received.append((dict(self.headers.items()), body))
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll: shutdown() waits for the serving loop to look (0.5 s by default).
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def results_of(*outcomes: str | None, spec: NotifySpec) -> list[Event]:
    """Run a job once per outcome ("fail" raises, else the answer) and wait for deliveries;
    returns the notification events."""
    events: list[Event] = []

    async def main() -> None:
        answers = iter(outcomes)

        async def agent(prompt: str) -> str | None:
            out = next(answers)
            if out == "fail":
                raise RuntimeError("the model said no")
            return out

        s = Scheduler(clock=FakeClock(T0))
        s.add_listener(lambda e: events.append(e)
                       if isinstance(e, NotificationSent | NotificationFailed) else None)
        job = s.add_job(agent, "go", "@yearly", name="inbox", tz="UTC", notify=spec,
                        fail_if_empty=True)
        for _ in outcomes:
            await s.run_now(job).wait()
        await s.notifier.drain(30)

    asyncio.run(main())
    return events


def test_failure_and_recovery_reach_the_webhook_but_plain_success_does_not(hook: Hook) -> None:
    spec = NotifySpec(webhook=hook.url)  # on = failure, timed_out, recovered
    events = results_of("fine", "fail", "back", "fine again", spec=spec)
    payloads = [json.loads(body) for _, body in hook.received]
    assert sorted(p["event"] for p in payloads) == ["failure", "recovered"]
    failure = next(p for p in payloads if p["event"] == "failure")
    assert failure["job"] == "inbox" and failure["status"] == "failed"
    assert failure["reason"].startswith("RuntimeError: the model said no")
    assert all(isinstance(e, NotificationSent) for e in events) and len(events) == 2


@pytest.mark.parametrize("fmt", ["slack", "discord", "ntfy"])
def test_chat_shaped_payloads(hook: Hook, fmt: str) -> None:
    results_of("", spec=NotifySpec(webhook=hook.url, format=fmt, on=("failure",)))
    [(headers, body)] = hook.received
    if fmt == "slack":
        text = json.loads(body)["text"]
        assert text.startswith("*crondeck: inbox failed*\nempty output")
    elif fmt == "discord":
        content = json.loads(body)["content"]
        assert content.startswith("**crondeck: inbox failed**\nempty output")
    else:
        assert headers["Title"] == "crondeck: inbox failed"
        assert headers["Priority"] == "high" and body.decode().startswith("empty output")


def test_a_flaky_webhook_is_retried(hook: Hook) -> None:
    hook.fail_first = 2
    events = results_of("fail", spec=NotifySpec(webhook=hook.url, backoff=0.01))
    assert len(hook.received) == 1
    [sent] = events
    assert isinstance(sent, NotificationSent) and sent.attempts == 3


def test_an_unreachable_webhook_is_recorded_and_the_run_is_unaffected() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    events: list[Event] = []
    results: list[RunResult] = []

    async def main() -> None:
        s = Scheduler(clock=FakeClock(T0))
        s.add_listener(events.append)
        job = s.add_job(lambda p: "answer", "go", "@yearly", name="j", tz="UTC",
                        notify=NotifySpec(webhook=url, on=("success",), backoff=0.01))
        results.append(await s.run_now(job).wait())
        assert s.notifier.pending == 1 or events  # the run ended before delivery did
        await s.notifier.drain(30)

    asyncio.run(main())
    assert results[0].status is RunStatus.OK
    [failed] = [e for e in events if isinstance(e, NotificationFailed)]
    assert failed.attempts == 3 and failed.target == f"webhook {url}"
    assert failed.error.startswith(f"cannot reach {url}")


def test_a_script_gets_the_result_as_json_on_stdin_and_in_env(tmp_path: Path) -> None:
    out = tmp_path / "got"
    script = tmp_path / "notify.sh"
    script.write_text('#!/bin/sh\n{ echo "$CRONDECK_NOTIFY_EVENT $CRONDECK_JOB '
                      '$CRONDECK_STATUS"; cat; } > "$1.$CRONDECK_NOTIFY_EVENT"\n')
    script.chmod(0o755)
    events = results_of("fine", "fail", spec=NotifySpec(command=(str(script), str(out)),
                                                        on=("success", "failure")))
    assert len(events) == 2 and all(isinstance(e, NotificationSent) for e in events)
    first, body = Path(f"{out}.failure").read_text().split("\n", 1)
    assert first == "failure inbox failed"
    assert json.loads(body)["error"].startswith("RuntimeError: the model said no")
    first, body = Path(f"{out}.success").read_text().split("\n", 1)
    assert first == "success inbox ok" and json.loads(body)["output_tail"] == "fine"


def test_a_failing_script_is_reported_with_its_stderr(tmp_path: Path) -> None:
    events = results_of("fail", spec=NotifySpec(command="echo mail server down >&2; exit 3",
                                                backoff=0.01, attempts=2))
    [failed] = events
    assert isinstance(failed, NotificationFailed)
    assert failed.error == "notify command exited 3: mail server down" and failed.attempts == 2


def test_skips_notify_when_asked(hook: Hook) -> None:
    async def main() -> None:
        s = Scheduler(clock=FakeClock(T0))
        job = s.add_job(lambda p: "x", "go", "@yearly", name="g", tz="UTC",
                        pre_run=lambda: False,
                        notify=NotifySpec(webhook=hook.url, on=("skipped",)))
        await s.run_now(job).wait()
        await s.notifier.drain(30)

    asyncio.run(main())
    [(_, body)] = hook.received
    assert json.loads(body)["event"] == "skipped"


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="not one of"):
        NotifySpec(webhook="http://x", on=("failed",))
    with pytest.raises(ValueError, match="needs a command or a webhook"):
        NotifySpec()


def timed_out_run(spec: NotifySpec) -> tuple[RunResult, list[Event]]:
    """A job that prints a line and then hangs past its 5 s timeout (fake time), once;
    returns its result and the notification events once deliveries are done."""
    events: list[Event] = []

    async def main() -> RunResult:
        async def hangs(prompt: str, ctx: RunContext) -> None:
            ctx.emit("fetched 3 feeds, summarising\n", "stdout")
            await asyncio.Event().wait()

        clock = FakeClock(T0)
        s = Scheduler(clock=clock)
        s.add_listener(lambda e: events.append(e)
                       if isinstance(e, NotificationSent | NotificationFailed) else None)
        job = s.add_job(hangs, "go", "@yearly", name="digest", tz="UTC", timeout=5,
                        notify=spec)
        handle = s.run_now(job)
        await clock.run_for(6)
        result = await asyncio.wait_for(handle.wait(), 30)
        await s.notifier.drain(30)
        return result

    return asyncio.run(main()), events


def test_a_timed_out_run_reaches_the_webhook_as_timed_out_by_default(hook: Hook) -> None:
    result, events = timed_out_run(NotifySpec(webhook=hook.url))  # default `on`
    assert result.status is RunStatus.TIMED_OUT
    [(headers, body)] = hook.received
    assert headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert data["event"] == "timed_out" and data["status"] == "timed_out"
    assert data["job"] == "digest" and data["run_id"] == result.run_id
    assert data["reason"] == "timed out after 5s"
    assert data["duration"] == 5.0
    assert data["output_tail"] == "fetched 3 feeds, summarising\n"
    [sent] = events
    assert isinstance(sent, NotificationSent) and sent.notify_event == "timed_out"


def test_a_timed_out_run_reads_as_timed_out_in_chat_payloads(hook: Hook) -> None:
    timed_out_run(NotifySpec(webhook=hook.url, format="ntfy"))
    [(headers, body)] = hook.received
    assert headers["Title"] == "crondeck: digest timed out"
    assert headers["Priority"] == "high"
    assert body.decode().startswith("timed out after 5s\nfetched 3 feeds")


def test_a_timeout_is_not_a_failure_for_on(hook: Hook) -> None:
    result, events = timed_out_run(NotifySpec(webhook=hook.url, on=("failure",)))
    assert result.status is RunStatus.TIMED_OUT
    assert hook.received == [] and events == []
