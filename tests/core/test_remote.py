"""RemoteScheduler against a scripted message source: the mirror's picture, the order in which
it republishes events, commands and their answers, and losing and regaining the connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import until

import crondeck.core.remote as remote
from crondeck.core import (
    ControlAttached,
    ControlDisconnected,
    ControlError,
    ControlRefused,
    Event,
    FakeClock,
    JobAdded,
    JobOptions,
    JobPaused,
    JobRemoved,
    NotifySpec,
    OutputChunk,
    RemoteScheduler,
    RunFinished,
    RunResult,
    RunStarted,
    RunStatus,
    SchedulerError,
    SchedulerPaused,
    attached_line,
)
from crondeck.core.remote import options_from_json
from crondeck.core.wire import event_json, options_json

T0 = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
WAIT = 5.0


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def job_rec(name: str, **over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "name": name, "paused": False, "pause_note": "", "pause_until": None,
        "skip_next": False, "next_fire": iso(T0 + timedelta(minutes=5)), "last_slot": None,
        "run_count": 0, "consecutive_failures": 0, "exhausted": "", "disabled": False,
        "tokens_day": "", "tokens_today": 0, "tokens_total": 0, "cost_today": 0.0,
        "cost_total": 0.0, "running": [],
        "schedule": {"expression": "*/5 * * * *", "zone": "Europe/Paris",
                     "describe": "Every 5 minutes"},
        "prompt": "summarise", "agent": {"kind": "command", "name": "claude",
                                         "program": "claude", "describe": "claude -p"},
        "options": options_json(JobOptions(overlap="queue_one", history=3)),
    }
    rec.update(over)
    return rec


def sched_rec(**over: Any) -> dict[str, Any]:
    return {"paused": False, "pause_note": "", "pause_until": None, "running_loop": True,
            "in_flight": 0, "seq": 10} | over


def result(job: str, run_id: str, status: RunStatus = RunStatus.OK) -> RunResult:
    return RunResult(run_id=run_id, job=job, scheduled_for=T0, status=status,
                     started_at=T0, finished_at=T0 + timedelta(seconds=3),
                     error="boom" if status is RunStatus.FAILED else "")


def ev(event: Event) -> dict[str, Any]:
    return {"type": "event", "event": event_json(event)}


HELLO = {"type": "hello", "version": 1, "pid": 4121, "kind": "crondeck run",
         "started_at": iso(T0 - timedelta(days=3, hours=2)), "config": None, "state_dir": None}


class FakeError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class FakeLink:
    """One connection: the hello and snapshot, then whatever the test feeds it."""

    def __init__(self, snapshot: dict[str, Any],
                 answer: Callable[[str, dict[str, Any]], Any] | None = None) -> None:
        self.hello = HELLO
        self.snapshot = snapshot
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answer = answer or (lambda op, args: {"ok": op})
        self.closed = False

    def feed(self, *messages: Any) -> None:
        for m in messages:
            self.queue.put_nowait(m)

    def hang_up(self, error: BaseException | None = None) -> None:
        self.queue.put_nowait(error or EOFError)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            item = await self.queue.get()
            if item is EOFError:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        self.calls.append((op, args))
        await asyncio.sleep(0)
        out = self.answer(op, args)
        if isinstance(out, BaseException):
            raise out
        return dict(out)

    async def close(self) -> None:
        self.closed = True


class Server:
    """Hands out the links in order; raises ConnectionRefusedError while it has none."""

    def __init__(self, *links: FakeLink) -> None:
        self.links = list(links)
        self.attempts = 0

    async def connect(self) -> FakeLink:
        self.attempts += 1
        if not self.links:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        return self.links.pop(0)


def snapshot(*jobs: dict[str, Any], seq: int = 10, output: list[Any] | None = None,
             **sched: Any) -> dict[str, Any]:
    return {"type": "snapshot", "seq": seq, "scheduler": sched_rec(seq=seq, **sched),
            "jobs": list(jobs), "output": output or []}


def run(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro(), WAIT)

    asyncio.run(bounded())


def test_the_snapshot_is_the_picture() -> None:
    async def main() -> None:
        done = result("digest", "digest@1", RunStatus.FAILED)
        link = FakeLink(snapshot(
            job_rec("digest", paused=True, pause_note="vacation", consecutive_failures=2,
                    results=[done.to_dict()], cost_total=0.5, tokens_total=1200,
                    running=[{"run_id": "digest@2", "scheduled_for": iso(T0),
                              "started_at": iso(T0), "manual": True, "attempt": 2}]),
            job_rec("off", disabled=True, next_fire=None),
            paused=True, pause_note="freeze", pause_until=iso(T0 + timedelta(hours=1))))
        mirror = await RemoteScheduler.attach(connect=Server(link).connect,
                                              clock=FakeClock(T0))
        assert mirror.connected and mirror.hello is not None and mirror.hello["pid"] == 4121
        assert (mirror.paused, mirror.pause_note) == (True, "freeze")
        assert mirror.pause_until == T0 + timedelta(hours=1)
        assert mirror.running_loop and mirror.in_flight == 1 and mirror.seq == 10
        job = mirror.jobs["digest"]
        assert job.paused and job.pause_note == "vacation" and job.consecutive_failures == 2
        assert job.options.overlap == "queue_one" and isinstance(job.options, JobOptions)
        assert list(job.results) == [done] and job.last_result == done
        assert job.cost_total == 0.5 and job.tokens_total == 1200
        assert job.agent.name == "claude" and job.agent.command == "claude -p"
        handle = job.running["digest@2"]
        assert (handle.manual, handle.attempt, handle.started_at) == (True, 2, T0)
        # the schedule is core's own, in the job's zone: Upcoming and details compute fires
        assert job.schedule.text == "*/5 * * * *" and str(job.schedule.tz) == "Europe/Paris"
        assert job.schedule.next_after(T0) == T0 + timedelta(minutes=5)
        off = mirror.jobs["off"]
        assert not off.enabled and off.exhausted == "disabled" and off.next_fire is None
        await mirror.aclose()
        assert link.closed

    run(main)


def test_an_observer_sees_each_job_as_of_its_event() -> None:
    async def main() -> None:
        link = FakeLink(snapshot(job_rec("digest")))
        mirror = await RemoteScheduler.attach(connect=Server(link).connect)
        seen: list[tuple[str, Any]] = []

        def look(event: Event) -> None:
            if isinstance(event, JobPaused):
                seen.append(("job paused", mirror.jobs["digest"].paused))
            elif isinstance(event, SchedulerPaused):
                seen.append(("all paused", mirror.paused))
            elif isinstance(event, JobAdded):
                seen.append(("added", event.job in mirror.jobs))
            elif isinstance(event, JobRemoved):
                seen.append(("removed", event.job in mirror.jobs))

        mirror.add_listener(look)
        sub = mirror.subscribe()
        link.feed(
            {"type": "job", "job": job_rec("digest", paused=True, pause_note="x")},
            ev(JobPaused(seq=11, at=T0, job="digest", note="x", until=None)),
            ev(SchedulerPaused(seq=12, at=T0, note="freeze", until=None)),
            {"type": "scheduler", "scheduler": sched_rec(paused=True, pause_note="freeze")},
            {"type": "job", "job": job_rec("inbox")},
            ev(JobAdded(seq=13, at=T0, job="inbox", schedule="*/5 * * * *",
                        description="Every 5 minutes", agent="claude")),
            ev(JobRemoved(seq=14, at=T0, job="digest")),
            {"type": "event", "event": {"event": "from_the_future", "seq": 15, "at": iso(T0)}},
        )
        got = [await sub.get() for _ in range(4)]
        assert [e.seq for e in got] == [11, 12, 13, 14]  # the remote numbering, kept
        assert seen == [("job paused", True), ("all paused", True), ("added", True),
                        ("removed", False)]
        assert set(mirror.jobs) == {"inbox"} and mirror.pause_note == "freeze"
        await mirror.aclose()

    run(main)


def test_runs_output_and_results_follow_the_stream() -> None:
    async def main() -> None:
        running = [{"run_id": "digest@1", "scheduled_for": iso(T0), "started_at": iso(T0),
                    "manual": False, "attempt": 1}]
        link = FakeLink(snapshot(job_rec("digest", running=running), output=[
            {"run_id": "digest@1", "job": "digest", "stream": "stdout", "text": "early\n"}]))
        mirror = await RemoteScheduler.attach(connect=Server(link).connect)
        # a subscriber that joins late gets what the run in flight printed so far
        sub = mirror.subscribe()
        first = sub.get_nowait()
        assert isinstance(first, OutputChunk) and first.text == "early\n"
        waiter = asyncio.ensure_future(mirror.jobs["digest"].running["digest@1"].wait())
        final = result("digest", "digest@1")
        link.feed(
            ev(OutputChunk(seq=11, at=T0, job="digest", run_id="digest@1", stream="stderr",
                           text="late\n")),
            {"type": "job", "job": job_rec("digest", running=running, run_count=1)},
            ev(RunFinished(seq=12, at=T0, job="digest", run_id="digest@1", result=final)),
        )
        chunk, finished = await sub.get(), await sub.get()
        assert isinstance(chunk, OutputChunk) and chunk.stream == "stderr"
        assert isinstance(finished, RunFinished)
        job = mirror.jobs["digest"]
        assert list(job.results) == [final] and not job.running and mirror.in_flight == 0
        assert await waiter == final
        # the history is bounded as the job's own (history = 3)
        for n in range(2, 7):
            link.feed(ev(RunFinished(seq=20 + n, at=T0, job="digest", run_id=f"digest@{n}",
                                     result=result("digest", f"digest@{n}"))))
        await until(lambda: mirror.seq == 26, WAIT)
        assert [r.run_id for r in job.results] == ["digest@4", "digest@5", "digest@6"]
        await mirror.aclose()

    run(main)


def test_commands_are_sent_and_answered_without_blocking() -> None:
    async def main() -> None:
        def answer(op: str, args: dict[str, Any]) -> Any:
            if args.get("job") == "nope":
                return FakeError("no_such_job", "no job named 'nope'; did you mean 'digest'?")
            if op == "run_now":
                return {"job": args["job"], "run_id": "digest@9", "skipped": False,
                        "reason": ""}
            if op == "reload":
                return {"applied": True, "changed": ["digest"], "added": [], "removed": [],
                        "problems": []}
            return {"job": args.get("job"), "done": op}

        link = FakeLink(snapshot(job_rec("digest")), answer)
        mirror = await RemoteScheduler.attach(connect=Server(link).connect,
                                              clock=FakeClock(T0))
        sub = mirror.subscribe()
        until_t = T0 + timedelta(hours=2)
        pause = mirror.pause_job("digest", note="vacation", until=until_t)
        assert not pause.done()  # returned at once
        assert (await pause)["done"] == "pause"
        assert link.calls[-1] == ("pause", {"job": "digest", "note": "vacation",
                                            "until": until_t.isoformat()})
        await mirror.skip_next(mirror.jobs["digest"], False)
        assert link.calls[-1] == ("skip_next", {"job": "digest", "skip": False})
        await mirror.pause_all(note="freeze")
        await mirror.resume_all()
        await mirror.disable("digest")
        assert [c[0] for c in link.calls][-3:] == ["pause_all", "resume_all", "disable"]
        assert (await mirror.reload())["changed"] == ["digest"]
        assert mirror.cancel("digest") == 0 and mirror.last_call is not None
        await mirror.last_call
        assert link.calls[-1] == ("cancel", {"job": "digest", "reason": "cancelled by operator"})

        # a refusal: raised to whoever awaits, and published for the console to show
        refused = mirror.resume_job("nope")
        with pytest.raises(ControlError, match="did you mean 'digest'") as info:
            await refused
        assert info.value.code == "no_such_job" and refused.code == "no_such_job"
        notice = await sub.get()
        assert isinstance(notice, ControlRefused) and notice.op == "resume"
        assert notice.job == "nope" and "did you mean" in notice.error

        # run now: the handle gets its id from the answer and its result from the stream
        handle = mirror.run_now("digest")
        assert handle.run_id == "" and not handle.done() and not handle.skipped
        await until(lambda: handle.run_id == "digest@9", WAIT)
        final = result("digest", "digest@9")
        link.feed(ev(RunStarted(seq=11, at=T0, job="digest", run_id="digest@9",
                                scheduled_for=T0, attempt=1, manual=True)),
                  ev(RunFinished(seq=12, at=T0, job="digest", run_id="digest@9",
                                 result=final)))
        assert await handle == final
        await mirror.aclose()

    run(main)


def test_run_now_refused_by_the_overlap_policy_reads_as_a_skip() -> None:
    async def main() -> None:
        link = FakeLink(snapshot(job_rec("digest")), lambda op, args: {
            "job": "digest", "run_id": "digest@3", "skipped": True, "reason": "still running"})
        mirror = await RemoteScheduler.attach(connect=Server(link).connect)
        handle = mirror.run_now("digest")
        told: list[str] = []
        handle.add_done_callback(lambda h: told.append(h.result().reason))
        got = await handle
        assert handle.skipped and got.status is RunStatus.SKIPPED and got.manual
        assert told == ["still running"] and handle.run_id == "digest@3"
        await mirror.aclose()

    run(main)


def test_a_run_that_ends_before_its_answer_still_settles_the_handle() -> None:
    async def main() -> None:
        final = result("digest", "digest@5", RunStatus.FAILED)
        link: FakeLink

        def answer(op: str, args: dict[str, Any]) -> Any:
            # the run's whole life reaches the mirror before the reply does
            link.feed(ev(RunFinished(seq=11, at=T0, job="digest", run_id="digest@5",
                                     result=final)))
            return {"job": "digest", "run_id": "digest@5", "skipped": False, "reason": ""}

        link = FakeLink(snapshot(job_rec("digest")), answer)

        async def slow_call(op: str, **args: Any) -> dict[str, Any]:
            out = answer(op, args)
            await until(lambda: mirror.seq == 11, WAIT)
            return dict(out)

        link.call = slow_call  # type: ignore[method-assign]
        mirror = await RemoteScheduler.attach(connect=Server(link).connect)
        assert await mirror.run_now("digest") == final
        await mirror.aclose()

    run(main)


def test_losing_the_scheduler_keeps_the_picture_and_resyncs_on_return() -> None:
    async def main() -> None:
        running = [{"run_id": "digest@1", "scheduled_for": iso(T0), "started_at": iso(T0),
                    "manual": False, "attempt": 1}]
        first = FakeLink(snapshot(job_rec("digest", running=running), job_rec("gone"),
                                  output=[{"run_id": "digest@1", "job": "digest",
                                           "stream": "stdout", "text": "one\ntwo\n"}]))
        server = Server(first)
        mirror = await RemoteScheduler.attach(connect=server.connect, backoff=(0.01, 0.05))
        sub = mirror.subscribe()
        assert [e.text for e in sub.drain() if isinstance(e, OutputChunk)] == ["one\ntwo\n"]
        waiter = asyncio.ensure_future(mirror.jobs["digest"].running["digest@1"].wait())

        first.hang_up(ConnectionResetError("[Errno 104] Connection reset by peer"))
        lost = await sub.get()
        assert isinstance(lost, ControlDisconnected) and "reset by peer" in lost.reason
        assert not mirror.connected and mirror.disconnected_reason  # the latest failure's
        assert set(mirror.jobs) == {"digest", "gone"}  # the last picture stays
        refused = mirror.pause_job("digest")
        assert refused.code == "disconnected" and "not connected" in refused.error
        assert isinstance(await sub.get(), ControlRefused)
        await until(lambda: server.attempts >= 3, WAIT)  # refused meanwhile: it keeps trying

        # back: digest's run ended meanwhile, "gone" went, "new" came
        final = result("digest", "digest@1")
        second = FakeLink(snapshot(
            job_rec("digest", results=[final.to_dict()], running=[
                {"run_id": "digest@2", "scheduled_for": iso(T0), "started_at": iso(T0),
                 "manual": False, "attempt": 1}]),
            job_rec("new"), seq=3,
            output=[{"run_id": "digest@2", "job": "digest", "stream": "stdout",
                     "text": "fresh\n"}]))
        server.links.append(second)
        got: list[Event] = []
        while not any(isinstance(e, ControlAttached) for e in got):
            got.append(await sub.get())
        kinds = {type(e).__name__: e for e in got}
        assert kinds["JobRemoved"].job == "gone"  # type: ignore[attr-defined]
        assert kinds["JobAdded"].job == "new"  # type: ignore[attr-defined]
        assert kinds["RunFinished"].result == final  # type: ignore[attr-defined]
        assert kinds["OutputChunk"].text == "fresh\n"  # type: ignore[attr-defined]
        attached = kinds["ControlAttached"]
        assert isinstance(attached, ControlAttached) and attached.resync
        assert attached.pid == 4121 and attached.what == "crondeck run"
        assert mirror.connected and mirror.seq == 3 and set(mirror.jobs) == {"digest", "new"}
        assert list(mirror.jobs["digest"].running) == ["digest@2"]
        assert await waiter == final
        await (mirror.resume_job("digest"))
        assert second.calls == [("resume", {"job": "digest"})]
        await mirror.aclose()

    run(main)


def test_a_resync_shows_only_the_output_the_mirror_had_not_seen() -> None:
    async def main() -> None:
        running = [{"run_id": "r@1", "scheduled_for": iso(T0), "started_at": iso(T0),
                    "manual": False, "attempt": 1}]
        first = FakeLink(snapshot(job_rec("r", running=running)))
        server = Server(first)
        mirror = await RemoteScheduler.attach(connect=server.connect, backoff=(0.01, 0.05))
        first.feed(*(ev(OutputChunk(seq=11 + n, at=T0, job="r", run_id="r@1", stream="stdout",
                                    text=f"line {n}\n")) for n in range(3)))
        await until(lambda: mirror.seq == 13, WAIT)
        sub = mirror.subscribe()
        sub.drain()
        second = FakeLink(snapshot(job_rec("r", running=running), seq=20, output=[
            {"run_id": "r@1", "job": "r", "stream": "stdout",
             "text": "line 1\nline 2\nline 3\nline 4\n"}]))
        server.links.append(second)
        first.hang_up()
        got: list[Event] = []
        while not any(isinstance(e, ControlAttached) for e in got):
            got.append(await sub.get())
        assert "".join(e.text for e in got if isinstance(e, OutputChunk)) == "line 3\nline 4\n"
        await mirror.aclose()

    run(main)


def test_a_server_that_says_bye_is_the_reason_shown() -> None:
    async def main() -> None:
        link = FakeLink(snapshot(job_rec("digest")))
        mirror = await RemoteScheduler.attach(connect=Server(link).connect, backoff=(5, 5))
        sub = mirror.subscribe()
        link.feed({"type": "bye", "reason": "client too slow (9000 events behind); reconnect "
                   "for a new snapshot"})
        link.hang_up()
        lost = await sub.get()
        assert isinstance(lost, ControlDisconnected) and "too slow" in lost.reason
        assert lost.retry_in == 5
        await mirror.aclose()

    run(main)


def test_attach_raises_when_nothing_listens() -> None:
    async def main() -> None:
        with pytest.raises(ConnectionRefusedError):
            await RemoteScheduler.attach(connect=Server().connect)

    run(main)


def test_options_round_trip_through_their_record() -> None:
    opts = JobOptions(timeout=600.0, overlap="replace", until=T0, retries=2,
                      pre_run=["scripts/gate.sh", "--quick"], expect=r"^ok",
                      notify=NotifySpec(on=("failure",), command=["notify-send", "x"]),
                      daily_token_budget=5000, price_in=3.0)
    back = options_from_json(options_json(opts))
    assert back.timeout == 600.0 and back.overlap == "replace" and back.until == T0
    assert back.notify == opts.notify and back.pre_run == ("scripts/gate.sh", "--quick")
    assert back.daily_token_budget == 5000 and back.expect == r"^ok"
    # what this version cannot read is left at its default, the rest kept
    odd = options_json(opts) | {"retries": -4, "brand_new_option": 1}
    assert options_from_json(odd).retries == 0 and options_from_json(odd).overlap == "replace"


def test_an_interval_fires_on_the_scheduler_grid() -> None:
    async def main() -> None:
        nf = T0 + timedelta(minutes=7, seconds=13)  # anchored when the job was added
        link = FakeLink(snapshot(job_rec("tick", next_fire=iso(nf), schedule={
            "expression": "@every 10m", "zone": "UTC", "describe": "Every 10 minutes"})))
        mirror = await RemoteScheduler.attach(connect=Server(link).connect)
        sched = mirror.jobs["tick"].schedule
        assert sched.next_after(nf) == nf + timedelta(minutes=10)
        await mirror.aclose()

    run(main)


def test_a_schedule_it_cannot_rebuild_is_shown_as_written() -> None:
    async def main() -> None:
        link = FakeLink(snapshot(job_rec("py", schedule={
            "expression": "custom(weekdays)", "zone": "UTC", "describe": "Weekdays at noon"})))
        mirror = await RemoteScheduler.attach(connect=Server(link).connect)
        sched = mirror.jobs["py"].schedule
        assert sched.text == "custom(weekdays)" and sched.describe() == "Weekdays at noon"
        with pytest.raises(ValueError, match="known only to the scheduler"):
            sched.next_after(T0)
        await mirror.aclose()

    run(main)


def test_the_attached_line() -> None:
    now = T0
    assert attached_line(HELLO, now) == "attached to crondeck run, pid 4121, up 3d 2h"
    assert attached_line({"kind": "embedded"}, now) == "attached to embedded"
    assert attached_line(None, now) == "attached to a scheduler"


def test_a_record_written_after_the_run_ended_still_gives_the_waiter_its_result() -> None:
    async def main() -> None:
        running = [{"run_id": "digest@1", "scheduled_for": iso(T0), "started_at": iso(T0),
                    "manual": False, "attempt": 1}]
        link = FakeLink(snapshot(job_rec("digest", running=running)))
        mirror = await RemoteScheduler.attach(connect=Server(link).connect)
        waiter = asyncio.ensure_future(mirror.jobs["digest"].running["digest@1"].wait())
        final = result("digest", "digest@1", RunStatus.FAILED)
        # the server writes a job's record when it sends the batch: the run is gone from it
        link.feed({"type": "job", "job": job_rec("digest", consecutive_failures=1)},
                  ev(RunFinished(seq=11, at=T0, job="digest", run_id="digest@1",
                                 result=final)))
        assert await waiter == final
        job = mirror.jobs["digest"]
        assert not job.running and job.consecutive_failures == 1 and job.last_result == final
        await mirror.aclose()

    run(main)


def test_switching_a_job_off_in_the_mirror_asks_the_scheduler() -> None:
    async def main() -> None:
        link = FakeLink(snapshot(job_rec("digest")))
        mirror = await RemoteScheduler.attach(connect=Server(link).connect)
        job = mirror.jobs["digest"]
        job.enabled = False
        assert not job.enabled and job.exhausted == "disabled"
        await until(lambda: len(link.calls) == 1, WAIT)
        job.enabled = True
        await until(lambda: len(link.calls) == 2, WAIT)
        assert link.calls == [("disable", {"job": "digest"}), ("enable", {"job": "digest"})]
        await mirror.aclose()

    run(main)


def test_a_message_it_cannot_apply_is_reported_and_the_stream_goes_on() -> None:
    async def main() -> None:
        link = FakeLink(snapshot(job_rec("digest")))
        mirror = await RemoteScheduler.attach(connect=Server(link).connect)
        sub = mirror.subscribe()
        link.feed({"type": "job", "job": job_rec("digest", run_count="many")},
                  {"type": "job", "job": job_rec("digest", run_count=3)},
                  ev(JobPaused(seq=11, at=T0, job="digest", note="", until=None)))
        problem = await sub.get()
        assert isinstance(problem, SchedulerError) and "run_count" not in problem.where
        assert "'job' message" in problem.message and "ValueError" in problem.message
        assert isinstance(await sub.get(), JobPaused)
        assert mirror.connected and mirror.jobs["digest"].run_count == 3
        await mirror.aclose()

    run(main)


def test_a_run_asked_for_that_ended_while_disconnected_settles_from_the_new_snapshot() -> None:
    async def main() -> None:
        first = FakeLink(snapshot(job_rec("digest")), lambda op, args: {
            "job": "digest", "run_id": "digest@7", "skipped": False, "reason": ""})
        server = Server(first)
        mirror = await RemoteScheduler.attach(connect=server.connect, backoff=(0.01, 0.05))
        handle = mirror.run_now("digest")
        await until(lambda: handle.run_id == "digest@7", WAIT)
        final = result("digest", "digest@7", RunStatus.TIMED_OUT)
        server.links.append(FakeLink(snapshot(job_rec("digest", results=[final.to_dict()]))))
        first.hang_up()
        assert await handle == final
        await mirror.aclose()

    run(main)


def test_a_server_that_hangs_up_at_once_is_retried_with_backoff_not_in_a_loop() -> None:
    async def main() -> None:
        made = 0

        async def connect() -> FakeLink:
            nonlocal made
            made += 1
            link = FakeLink(snapshot(job_rec("digest")))
            if made > 1:
                link.feed({"type": "bye", "reason": "not today"})
                link.hang_up()
            return link

        mirror = await RemoteScheduler.attach(connect=connect, backoff=(0.05, 0.05))
        sub = mirror.subscribe()
        mirror._link.hang_up()  # type: ignore[union-attr]
        await asyncio.sleep(0.3)
        await mirror.aclose()
        lost = [e for e in sub.drain() if isinstance(e, ControlDisconnected)]
        assert 2 <= len(lost) <= 8 and made <= 9  # about one try per 0.05 s, not thousands
        assert lost[-1].reason == "not today" and lost[-1].retry_in == 0.05

    run(main)


def test_output_lines_read_on_the_short_path_are_the_events_sent() -> None:
    """The mirror reads output chunks without the generic reader: the same event comes out,
    and a chunk whose fields do not fit goes to the generic reader (which refuses it)."""
    import json
    from zoneinfo import ZoneInfo

    from crondeck.core import OutputChunk
    from crondeck.core.remote import _chunk_from_json
    from crondeck.core.wire import event_from_json, event_text

    paris = datetime(2026, 12, 5, 5, 0, 0, 123456, tzinfo=UTC).astimezone(
        ZoneInfo("Europe/Paris"))
    for chunk in (OutputChunk(seq=7, at=T0, job="digest", run_id="digest@x", stream="stderr",
                              text="é \"quoted\"\n\t\x00"),
                  OutputChunk(seq=8, at=paris, job="d", run_id="r", stream="stdout", text="")):
        data = json.loads(event_text(chunk))
        read = _chunk_from_json(data)
        assert read == event_from_json(data) == chunk
        assert read is not None and read.at.tzinfo is UTC
    good = json.loads(event_text(OutputChunk(seq=1, at=T0, job="d", run_id="r",
                                             stream="stdout", text="x")))
    for bad in ({**good, "stream": "both"}, {**good, "at": "2026-12-05T04:00:00"},
                {**good, "seq": "1"}, {k: v for k, v in good.items() if k != "text"}):
        assert _chunk_from_json(bad) is None


def test_a_snapshot_job_is_read_in_full_when_first_needed_and_reads_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The first snapshot's jobs are read when something needs them (a console on 100,000
    jobs shows its first screen from a few hundred): what each shows is the record's."""
    monkeypatch.setattr(remote, "LARGE_SCHEDULE", 3)

    async def main() -> None:
        done = result("digest", "digest@1", RunStatus.FAILED)
        recs = [job_rec("digest", paused=True, pause_note="vacation", cost_total=0.5,
                        results=[done.to_dict()], consecutive_failures=2),
                job_rec("quiet"), job_rec("off", disabled=True, next_fire=None)]
        lazy = await RemoteScheduler.attach(connect=Server(FakeLink(snapshot(*recs))).connect,
                                            clock=FakeClock(T0))
        eager = RemoteScheduler(connect=Server(FakeLink(snapshot(*recs))).connect,
                                clock=FakeClock(T0))
        eager.add_listener(lambda e: None)  # watched: each job is read as it comes
        eager._attach(await eager._connect(), resync=False)
        assert not any(job.filled for job in lazy.jobs.values())
        assert all(job.filled for job in eager.jobs.values())
        # what sorting by next fire, in-flight counts and a first screen's history read
        quiet = lazy.jobs["quiet"]
        assert quiet.next_fire == T0 + timedelta(minutes=5) and not quiet.paused
        assert quiet.last_result is None and not quiet.running and lazy.in_flight == 0
        assert not quiet.filled
        for name in ("digest", "quiet", "off"):
            a, b = lazy.jobs[name], eager.jobs[name]
            seen = [(j.paused, j.pause_note, j.next_fire, j.consecutive_failures, j.cost_total,
                     j.enabled, j.exhausted, j.prompt, j.agent, j.options,
                     j.schedule.describe(), list(j.results), j.last_result) for j in (a, b)]
            assert seen[0] == seen[1]
            assert a.filled
        with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
            _ = lazy.jobs["quiet"].nonsense
        await lazy.aclose()
        await eager.aclose()

    run(main)


def test_a_job_not_yet_read_takes_commands_records_and_results(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "LARGE_SCHEDULE", 3)

    async def main() -> None:
        done = result("digest", "digest@1")
        link = FakeLink(snapshot(job_rec("digest", results=[done.to_dict()]),
                                 job_rec("inbox"), job_rec("other")))
        mirror = await RemoteScheduler.attach(connect=Server(link).connect,
                                              clock=FakeClock(T0))
        assert not mirror.jobs["inbox"].filled
        # a key on it: the command goes out as for any job
        call = mirror.jobs["inbox"].pause(note="x")
        assert (await call.wait()) == {"ok": "pause"}
        assert link.calls[-1] == ("pause", {"job": "inbox", "note": "x", "until": None})
        # a record that leaves out its prompt and results: the snapshot's are kept
        rec = job_rec("digest", paused=True)
        del rec["prompt"]
        skipped = result("digest", "digest@2", RunStatus.SKIPPED)
        link.feed({"type": "job", "job": rec},
                  ev(RunFinished(seq=11, at=T0, job="other", run_id="other@1",
                                 result=result("other", "other@1"))))
        await until(lambda: mirror.seq == 11, WAIT)
        digest = mirror.jobs["digest"]
        assert digest.paused and digest.prompt == "summarise" and list(digest.results) == [done]
        assert list(mirror.jobs["other"].results) == [result("other", "other@1")]
        digest.add_result(skipped)
        assert list(digest.results) == [done, skipped]
        await mirror.aclose()

    run(main)


def test_a_small_snapshot_is_read_at_once() -> None:
    async def main() -> None:
        link = FakeLink(snapshot(*(job_rec(f"job-{i}") for i in range(50))))
        mirror = await RemoteScheduler.attach(connect=Server(link).connect)
        assert all(job.filled for job in mirror.jobs.values())
        await mirror.aclose()

    run(main)
