"""Notifications: tell someone when an unattended run fails, times out, recovers (or succeeds,
or is skipped), through a command (`notify-send`, `mail`, a script) or a webhook (JSON, or a
Slack-, Discord- or ntfy-shaped payload).

Delivery never blocks the scheduler and never fails the run: each one goes to a small thread
pool of its own, is retried a few times with backoff, and its outcome is reported back to
the loop (as `NotificationSent` / `NotificationFailed` events).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any

from .lazyclass import dataclass

# The config reads NotifySpec; what sending needs (results, asyncio, threads, subprocess) is
# imported where a notification is made.
if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future, ThreadPoolExecutor

    from .results import RunResult

__all__ = ["EVENTS", "FORMATS", "Notifier", "NotifySpec", "deliver", "event_for", "payload"]

EVENTS = ("failure", "timed_out", "recovered", "success", "skipped")
FORMATS = ("json", "slack", "discord", "ntfy")
DEFAULT_ON = ("failure", "timed_out", "recovered")
OUTPUT_SHOWN = 1_500  # characters of output in a chat message
_WORDS = {"failure": "failed", "timed_out": "timed out", "recovered": "recovered",
          "success": "succeeded", "skipped": "skipped"}


@dataclass(frozen=True, slots=True)
class NotifySpec:
    """Where and when to notify. `command` is a shell string or an argv list; it gets the
    payload as JSON on stdin and CRONDECK_* variables. `webhook` is POSTed the payload in
    `format`. `attempts` tries with `backoff` seconds doubling between them."""

    on: tuple[str, ...] = DEFAULT_ON
    command: str | tuple[str, ...] | None = None
    webhook: str | None = None
    format: str = "json"
    timeout: float = 10.0
    attempts: int = 3
    backoff: float = 2.0
    cwd: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        bad = [e for e in self.on if e not in EVENTS]
        if bad:
            raise ValueError(f"notify on: {bad[0]!r} is not one of {', '.join(EVENTS)}")
        if self.format not in FORMATS:
            raise ValueError(f"notify format {self.format!r} is not one of {', '.join(FORMATS)}")
        if self.command is None and self.webhook is None:
            raise ValueError("notify needs a command or a webhook")
        if isinstance(self.command, list):
            object.__setattr__(self, "command", tuple(self.command))

    def wants(self, event: str) -> bool:
        """Is `event` asked for? A recovery is also a success."""
        return event in self.on or (event == "recovered" and "success" in self.on)

    @property
    def targets(self) -> list[str]:
        out = []
        if self.command is not None:
            cmd = self.command
            out.append("command " + (cmd if isinstance(cmd, str) else " ".join(cmd)))
        if self.webhook is not None:
            out.append(f"webhook {self.webhook}")
        return out


def event_for(result: RunResult, was_failing: bool) -> str | None:
    """The notification event a final result is, or None (cancelled, missed...)."""
    from .results import RunStatus

    if result.status is RunStatus.OK:
        return "recovered" if was_failing else "success"
    return {RunStatus.FAILED: "failure", RunStatus.TIMED_OUT: "timed_out",
            RunStatus.SKIPPED: "skipped"}.get(result.status)


def payload(result: RunResult, event: str) -> dict[str, Any]:
    """The JSON given to commands and `format = "json"` webhooks (already redacted: it is
    built from the recorded result)."""
    out = result.to_dict()
    out["event"] = event
    out["reason"] = result.reason
    out["duration"] = result.duration
    return out


def _message(data: dict[str, Any]) -> tuple[str, str]:
    title = f"crondeck: {data['job']} {_WORDS.get(data['event'], data['event'])}"
    lines = [data["reason"]] if data.get("reason") else []
    tail = (data.get("output_tail") or "").strip()
    if tail:
        lines.append(tail[-OUTPUT_SHOWN:])
    return title, "\n".join(lines) or data["run_id"]


def webhook_request(spec: NotifySpec, data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """Body and headers for the webhook in the chosen format."""
    title, text = _message(data)
    if spec.format == "slack":
        return json.dumps({"text": f"*{title}*\n{text}"}).encode(), _JSON
    if spec.format == "discord":
        content = f"**{title}**\n{text}"
        return json.dumps({"content": content[:2000], "username": "crondeck"}).encode(), _JSON
    if spec.format == "ntfy":  # publish as text: ntfy reads the title and tags from headers
        bad = data["event"] in ("failure", "timed_out")
        headers = {"Content-Type": "text/plain; charset=utf-8", "Title": title,
                   "Priority": "high" if bad else "default",
                   "Tags": "warning" if bad else "white_check_mark"}
        return text.encode(), headers
    return json.dumps(data, default=str).encode(), _JSON


_JSON = {"Content-Type": "application/json"}


def _post(spec: NotifySpec, data: dict[str, Any]) -> None:
    # urllib.request pulls in http.client, ssl and email: loaded only to send a webhook.
    import urllib.error
    import urllib.request

    assert spec.webhook is not None
    body, headers = webhook_request(spec, data)
    req = urllib.request.Request(spec.webhook, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=spec.timeout) as resp:
            resp.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code} from {spec.webhook}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RuntimeError(f"cannot reach {spec.webhook}: {reason}") from None


_POLL_MAX = 2**31 / 1000 - 1


def _run_command(spec: NotifySpec, data: dict[str, Any]) -> None:
    import subprocess  # loaded when a notification is sent, not when a file is read

    cmd = spec.command
    assert cmd is not None
    argv: str | Sequence[str] = cmd if isinstance(cmd, str) else list(cmd)
    env = {**os.environ, "CRONDECK_NOTIFY_EVENT": data["event"], "CRONDECK_JOB": data["job"],
           "CRONDECK_RUN_ID": data["run_id"], "CRONDECK_STATUS": data["status"],
           "CRONDECK_REASON": data.get("reason", "")}
    # subprocess waits with poll(), which takes at most 2**31 ms: a longer timeout is that.
    timeout = min(spec.timeout, _POLL_MAX)
    try:
        proc = subprocess.run(argv, shell=isinstance(argv, str), input=json.dumps(data,
                              default=str).encode(), env=env, cwd=spec.cwd,
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"notify command timed out after {timeout:g}s") from None
    except OSError as exc:
        raise RuntimeError(f"cannot run the notify command: {exc}") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"notify command exited {proc.returncode}"
                           + (f": {err[-1]}" if err else ""))


def deliver(spec: NotifySpec, data: dict[str, Any],
            sleep: Callable[[float], None] = time.sleep) -> list[tuple[str, int, str]]:
    """Deliver to every target, retrying each; returns (target, attempts, error) per target
    ("" when delivered). Blocking: call it off the event loop."""
    outcomes = []
    for target, send in ((t, _run_command if t.startswith("command") else _post)
                         for t in spec.targets):
        error = ""
        attempt = 0
        for attempt in range(1, max(1, spec.attempts) + 1):
            try:
                send(spec, data)
                error = ""
                break
            except Exception as exc:
                error = str(exc)
                if attempt < spec.attempts:
                    sleep(spec.backoff * 2 ** (attempt - 1))
        outcomes.append((target, attempt, error))
    return outcomes


Report = Callable[["RunResult", str, str, int, str], None]


class Notifier:
    """Runs deliveries on its own threads and reports each outcome on the loop through
    `report(result, event, target, attempts, error)`."""

    def __init__(self, report: Report, workers: int = 4) -> None:
        self.report = report
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._pending: set[Future[Any]] = set()

    def submit(self, spec: NotifySpec, result: RunResult, event: str) -> None:
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="crondeck-notify")
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        data = payload(result, event)

        def done(fut: Future[list[tuple[str, int, str]]]) -> None:
            self._pending.discard(fut)
            if loop is None or fut.cancelled():
                return
            outcomes = fut.result() if fut.exception() is None else [
                ("notify", 0, f"{type(fut.exception()).__name__}: {fut.exception()}")]
            for target, attempts, error in outcomes:
                with contextlib.suppress(RuntimeError):  # the loop may have closed
                    loop.call_soon_threadsafe(self.report, result, event, target, attempts,
                                              error)

        fut = self._pool.submit(deliver, spec, data)
        self._pending.add(fut)
        fut.add_done_callback(done)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def drain(self, limit: float) -> None:
        """Wait (up to `limit` seconds) for deliveries in flight, e.g. before exiting."""
        if not self._pending:
            return
        import asyncio

        waiting = [asyncio.wrap_future(f) for f in list(self._pending)]
        await asyncio.wait(waiting, timeout=limit)
        await asyncio.sleep(0)  # let their reports run
