"""The library used wrongly, as an application developer might: each mistake is a clear error
at the call that was wrong, and none leaves the scheduler wedged (stop() returns)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crondeck.core import FakeClock, LockHeld, RunStatus, Scheduler, cron, every

T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def noop() -> None:
    return None


async def serve(s: Scheduler) -> asyncio.Task[None]:
    task = asyncio.create_task(s.astart())
    await asyncio.sleep(0)
    return task


# ------------------------------------------------------------------ threads and event loops


def test_stop_from_another_thread_ends_a_sleeping_loop() -> None:
    """A web server's or a signal handler's thread stops the scheduler: the loop, asleep
    until its next slot, wakes for it. Before, the loop slept on until something else woke
    it (up to 30 s; never with a fake clock)."""
    s = Scheduler(clock=FakeClock(T0))
    s.add_job(noop, None, every(hours=1), name="a")
    asked: list[float] = []
    ended: list[float] = []

    def stop_later() -> None:
        time.sleep(0.1)  # the loop is asleep by now
        asked.append(time.monotonic())
        s.stop()

    async def go() -> None:
        task = await serve(s)
        task.add_done_callback(lambda _t: ended.append(time.monotonic()))
        threading.Thread(target=stop_later).start()
        await asyncio.wait({task}, timeout=3)  # nothing else wakes the loop meanwhile
        s.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    assert ended[0] - asked[0] < 1.5  # woken by that stop, not by the fallback after 3 s


@pytest.mark.parametrize("call", [
    lambda s: s.pause_job("a"),
    lambda s: s.update_job("a", timeout=5),
    lambda s: s.add_job(noop, None, every(hours=1), name="b"),
    lambda s: s.remove_job("a"),
    lambda s: s.run_now("a"),
    lambda s: s.pause_all(),
    lambda s: s.cancel("a"),
], ids=["pause_job", "update_job", "add_job", "remove_job", "run_now", "pause_all", "cancel"])
def test_changing_a_running_scheduler_from_another_thread_is_refused_by_name(
        call: Callable[[Scheduler], Any]) -> None:
    s = Scheduler(clock=FakeClock(T0))
    s.add_job(noop, None, every(hours=1), name="a")
    errors: list[BaseException] = []

    def other() -> None:
        try:
            call(s)
        except BaseException as exc:
            errors.append(exc)

    async def go() -> None:
        task = await serve(s)
        thread = threading.Thread(target=other)
        thread.start()
        await asyncio.to_thread(thread.join, 5)
        s.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError), errors
    assert "called from another thread than the one its loop runs on" in str(errors[0])
    assert "call_soon_threadsafe" in str(errors[0])
    assert set(s.jobs) == {"a"} and not s.jobs["a"].paused and not s.paused
    assert s.jobs["a"].options.timeout != 5


def test_run_now_from_another_event_loop_is_refused_and_the_scheduler_still_stops() -> None:
    """A second event loop (another thread's asyncio.run) took the scheduler's asyncio
    primitives over, ran the job there, and the scheduler's own loop then slept through
    stop()."""
    s = Scheduler(clock=FakeClock(T0))
    s.add_job(lambda: "ran", None, every(hours=1), name="a")
    errors: list[BaseException] = []

    async def from_other_loop() -> None:
        try:
            s.run_now("a")
        except RuntimeError as exc:
            errors.append(exc)

    async def go() -> None:
        task = await serve(s)
        await asyncio.to_thread(asyncio.run, from_other_loop())
        s.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    assert errors and "another thread than the one its loop runs on" in str(errors[0])
    assert not s.jobs["a"].results


def test_run_now_without_an_event_loop_says_how_to_call_it() -> None:
    s = Scheduler(clock=FakeClock(T0))
    s.add_job(noop, None, every(hours=1), name="a")
    with pytest.raises(RuntimeError, match=r"run_now\(\) needs a running event loop: call it "
                                           r"from async code .*run_pending\(\)"):
        s.run_now("a")


def test_a_scheduler_runs_again_on_a_second_event_loop_after_the_first_ended() -> None:
    s = Scheduler(clock=FakeClock(T0))
    s.add_job(lambda: "hi", None, every(hours=1), name="a")

    async def once() -> RunStatus:
        task = await serve(s)
        result = await asyncio.wait_for(s.run_now("a").wait(), 5)
        s.stop()
        await asyncio.wait_for(task, 5)
        return result.status

    assert asyncio.run(once()) is RunStatus.OK
    assert asyncio.run(once()) is RunStatus.OK


# ---------------------------------------------------------------------------- removed jobs


@pytest.mark.parametrize("call", [
    lambda s, j: s.run_now(j),
    lambda s, j: j.run_now(),
    lambda s, j: j.pause("x"),
    lambda s, j: s.update_job(j, timeout=5),
    lambda s, j: j.reschedule("@daily"),
], ids=["run_now", "job.run_now", "job.pause", "update_job", "job.reschedule"])
def test_a_removed_job_is_refused_by_name(call: Callable[[Scheduler, Any], Any]) -> None:
    """Before, a removed Job still ran (and was paused, changed) as if it were scheduled."""
    s = Scheduler(clock=FakeClock(T0))
    job = s.add_job(lambda: "ran", None, every(hours=1), name="a")
    s.remove_job("a")

    async def go() -> None:
        with pytest.raises(KeyError, match="job 'a' is not in this scheduler"):
            call(s, job)

    asyncio.run(go())
    assert not job.results and not job.paused


def test_a_job_of_another_scheduler_is_refused() -> None:
    mine, theirs = Scheduler(clock=FakeClock(T0)), Scheduler(clock=FakeClock(T0))
    mine.add_job(noop, None, every(hours=1), name="a")
    other = theirs.add_job(noop, None, every(hours=1), name="a")
    with pytest.raises(KeyError, match="not in this scheduler"):
        mine.pause_job(other)
    assert not mine.jobs["a"].paused and not other.paused


# ------------------------------------------------------------------------ agents misbehaving


@pytest.mark.slow
def test_stop_gives_up_on_an_agent_that_swallows_its_cancellation() -> None:
    """stop(terminate=True) returns within the run's kill grace and CANCEL_SLACK; the run is
    recorded as cancelled, saying why it was left running."""
    from crondeck.core.scheduler import CANCEL_SLACK

    s = Scheduler()
    finished: list[bool] = []

    async def stubborn() -> None:
        for _ in range(400):  # bounded: the test's loop must end too
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                pass
        finished.append(True)

    s.add_job(stubborn, None, every(hours=1), name="a", timeout=None, kill_grace=0.2)

    async def go() -> tuple[float, RunStatus, str]:
        task = await serve(s)
        handle = s.run_now("a")
        await asyncio.sleep(0.1)
        began = time.monotonic()
        s.stop(terminate=True)
        await asyncio.wait_for(task, CANCEL_SLACK + 5)
        took = time.monotonic() - began
        result = handle.result()
        return took, result.status, result.error

    took, status, error = asyncio.run(go())
    assert took < CANCEL_SLACK + 2
    assert status is RunStatus.CANCELLED
    assert "does not give way to cancellation" in error
    assert s.jobs["a"].results[-1].status is RunStatus.CANCELLED  # booked once
    assert len(s.jobs["a"].results) == 1


@pytest.mark.parametrize(("raised", "is_async", "status", "exit_code", "error"), [
    (SystemExit(0), False, RunStatus.OK, 0, ""),
    (SystemExit(None), True, RunStatus.OK, 0, ""),
    (SystemExit(3), False, RunStatus.FAILED, 3, "exit code 3 (the agent raised SystemExit)"),
    (SystemExit("bye"), True, RunStatus.FAILED, 1, "SystemExit: bye"),
    (KeyboardInterrupt(), False, RunStatus.FAILED, None,
     "RuntimeError: KeyboardInterrupt raised by the job's function"),
], ids=["exit0-sync", "exitNone-async", "exit3-sync", "exit-message-async", "ctrl-c-in-thread"])
def test_an_agent_raising_systemexit_or_keyboardinterrupt_ends_its_run_not_the_program(
        raised: BaseException, is_async: bool, status: RunStatus, exit_code: int | None,
        error: str) -> None:
    """A job's `main()` ending in sys.exit(code) is that run's exit code; a KeyboardInterrupt
    a sync function raises in its thread cannot be Ctrl-C. Before, either one escaped the
    event loop and ended the whole application."""
    def sync_agent() -> None:
        raise raised

    async def async_agent() -> None:
        raise raised

    s = Scheduler(clock=FakeClock(T0))
    s.add_job(async_agent if is_async else sync_agent, None, every(hours=1), name="a")
    s.add_job(lambda: "fine", None, every(hours=1), name="b")

    async def go() -> tuple[Any, Any]:
        task = await serve(s)
        first = await asyncio.wait_for(s.run_now("a").wait(), 5)
        after = await asyncio.wait_for(s.run_now("b").wait(), 5)
        s.stop()
        await asyncio.wait_for(task, 5)
        return first, after

    result, after = asyncio.run(go())
    assert (result.status, result.exit_code) == (status, exit_code)
    assert (result.error.splitlines()[0] if result.error else "") == error
    assert after.ok  # the scheduler went on


INTERRUPTED = """
import asyncio, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from crondeck.core import FakeClock, Scheduler, every

s = Scheduler(clock=FakeClock(datetime(2025, 1, 6, tzinfo=UTC)))

async def interrupted() -> None:
    raise KeyboardInterrupt

job = s.add_job(interrupted, None, every(hours=1), name="a")

async def go() -> None:
    asyncio.create_task(s.astart())
    await asyncio.sleep(0)
    s.run_now("a")
    await asyncio.sleep(5)  # the interrupt ends asyncio.run before this

began = time.monotonic()
try:
    asyncio.run(go())
except KeyboardInterrupt:
    print("interrupted after", round(time.monotonic() - began))
print(job.results[-1].status.value, job.results[-1].error, sep="|")
"""


@pytest.mark.slow
def test_keyboardinterrupt_on_the_loop_is_booked_and_passed_on_like_ctrl_c() -> None:
    """Raised by code on the event loop it may be Ctrl-C: the run is booked as failed and
    the interrupt ends asyncio.run, as it would without crondeck. (In a child process: an
    interrupt out of asyncio.run upsets the interpreter pytest runs in.)"""
    done = subprocess.run([sys.executable, "-c", INTERRUPTED], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stdout.splitlines() == [
        "interrupted after 0",
        "failed|KeyboardInterrupt: interrupted while its agent ran on the event loop"], done.stderr


# ------------------------------------------------------------------ arguments of the wrong kind


@pytest.mark.parametrize(("call", "message"), [
    (lambda s: s.add_job(noop, None, 5, name="a"),
     "add_job: schedule must be a cron string like '0 9 * * *' or '@every 5m', cron(...) or "
     "every(...), not int 5"),
    (lambda s: s.add_job(noop, None, timedelta(minutes=5), name="a"),
     "add_job: schedule must be a cron string"),
    (lambda s: s.add_job(noop, None, None, name="a"), "add_job: a schedule is required"),
    (lambda s: s.add_job(noop, 42, "@hourly", name="a"),
     "add_job: prompt must be a string or None, not int 42"),
    (lambda s: s.add_job(noop, None, "@hourly", name="a", options={"timeout": 5}),
     "add_job: options must be a JobOptions, not dict (single options go as keywords"),
    (lambda s: s.add_job(noop, None, "@hourly", name="a", on_result=5),
     "add_job: on_result must be a function taking the RunResult, not int 5"),
    (lambda s: s.add_job(noop, None, "@hourly", name="a", paused="yes"),
     "add_job: paused must be True or False, not 'yes'"),
    (lambda s: s.add_job(noop, None, "@hourly", name="a", retries="2"),
     "retries must be a whole number, not str '2'"),
    (lambda s: s.add_job(noop, None, "@hourly", name="a", max_runs=1.5),
     "max_runs must be a whole number, not float 1.5"),
    (lambda s: s.add_job(noop, None, "@hourly", name="a", fail_if_empty="yes"),
     "fail_if_empty must be True or False, not 'yes'"),
    (lambda s: s.add_job(noop, None, "@hourly", name="a", notify={"webhook": "https://x"}),
     "notify must be a NotifySpec(...), not dict"),
    (lambda s: s.update_job(s.add_job(noop, None, "@hourly", name="a"), enabled="no"),
     "update_job: enabled must be True or False, not 'no'"),
    (lambda s: s.update_job(s.add_job(noop, None, "@hourly", name="a"), prompt=5),
     "update_job: prompt must be a string or None, not int 5"),
    (lambda s: setattr(s.add_job(noop, None, "@hourly", name="a"), "enabled", "no"),
     "enabled must be True or False, not 'no'"),
    (lambda s: s.add_job(noop, None, "@hourly", name="a").reschedule(5),
     "a schedule is a cron string like '0 9 * * *' or '@every 5m', cron(...) or every(...), "
     "not int 5"),
    (lambda s: every(minutes="5"), "every(minutes=...) takes a number, not str '5'"),
    (lambda s: Scheduler(defaults={"timeout": 5}), "defaults must be a JobOptions, not dict"),
], ids=["schedule-int", "schedule-timedelta", "schedule-none", "prompt-int", "options-dict",
        "on_result-int", "paused-str", "retries-str", "max_runs-float", "fail_if_empty-str",
        "notify-dict", "update-enabled-str", "update-prompt-int", "job.enabled-str",
        "reschedule-int", "every-str", "defaults-dict"])
def test_an_argument_of_the_wrong_kind_is_a_typeerror_at_the_call(
        call: Callable[[Scheduler], Any], message: str) -> None:
    """Each of these was taken before: a job that never fired (schedule=5), a prompt or an
    option that failed each run, a truthy "no", or a TypeError from deep inside."""
    s = Scheduler(clock=FakeClock(T0))
    with pytest.raises(TypeError) as caught:
        call(s)
    assert str(caught.value).startswith(message)
    assert "a" not in s.jobs or s.jobs["a"].enabled  # nothing half-made


@pytest.mark.parametrize(("call", "message"), [
    (lambda: Scheduler(shutdown_grace=-1), "shutdown_grace must not be negative, got -1"),
    (lambda: cron("0 9 * * *", tz=123),  # type: ignore[arg-type]
     "a time zone is an IANA name like 'Europe/Berlin' or 'UTC' (or a ZoneInfo), not int 123"),
    (lambda: cron("0 9 * * *", tz=UTC),  # type: ignore[arg-type]
     "a time zone is an IANA name like 'Europe/Berlin' or 'UTC' (or a ZoneInfo), not "
     "timezone"),
], ids=["shutdown_grace", "tz-int", "tz-timezone.utc"])
def test_a_bad_value_says_what_would_be_right(call: Callable[[], Any], message: str) -> None:
    """Before: a negative shutdown grace was taken, and a zone that was not a string was
    called an "empty time zone"."""
    with pytest.raises((ValueError, TypeError)) as caught:
        call()
    assert str(caught.value).startswith(message)


# ----------------------------------------------------------------- names, and closing early


def test_a_misspelt_job_name_suggests_the_nearest_and_a_duplicate_says_what_to_do() -> None:
    s = Scheduler(clock=FakeClock(T0))
    s.add_job(noop, None, every(hours=1), name="digest")
    with pytest.raises(KeyError, match="no job named 'digst'; did you mean 'digest'"):
        s.pause_job("digst")
    with pytest.raises(ValueError, match=r"a job named 'digest' already exists: change it "
                                         r"with update_job\('digest', ...\), or remove_job"):
        s.add_job(noop, None, every(hours=1), name="digest")


def test_close_while_the_loop_runs_is_refused_and_keeps_the_lock(tmp_path: Path) -> None:
    """close() released the state directory's lock under a running loop: a second scheduler
    could then take it, and both fire the same slots."""
    s = Scheduler(clock=FakeClock(T0), state_dir=tmp_path / "state")
    s.add_job(noop, None, every(hours=1), name="a")

    async def go() -> None:
        task = await serve(s)
        with pytest.raises(RuntimeError, match="stop\\(\\) and await astart\\(\\) first"):
            s.close()
        with pytest.raises(LockHeld):
            Scheduler(state_dir=tmp_path / "state")
        s.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    s.close()
    Scheduler(state_dir=tmp_path / "state").close()  # released now


def test_run_pending_on_a_running_loop_says_to_await_arun_pending() -> None:
    """It was asyncio's "cannot be called from a running event loop", with a coroutine
    never awaited."""
    s = Scheduler(clock=FakeClock(T0))

    async def go() -> None:
        with pytest.raises(RuntimeError, match=r"run_pending\(\) is for sync code: on a "
                                               r"running event loop, await arun_pending\(\)"):
            s.run_pending()

    asyncio.run(go())
