"""The attached dashboard against a stand-in mirror: a real Scheduler on a FakeClock whose
operator methods answer as `RemoteScheduler`'s do (a call to await, refused or not), and
whose connection the test drops and restores. The real socket is in test_attach_live.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta

import pytest
from conftest import SIZE, START, build_scheduler, settle, text_of
from textual.widgets._footer import FooterKey

from crondeck.core.clock import FakeClock
from crondeck.core.config import load_config
from crondeck.core.results import RunResult, RunStatus
from crondeck.core.runtime import open_runtime
from crondeck.tui.app import CrondeckApp
from crondeck.tui.attached import AttachedDashboard, ObserveDashboard
from crondeck.tui.job_actions import reload_report
from crondeck.tui.screens.pause_dialog import PauseDialog
from crondeck.tui.textual_compat import dismiss_notification, shown_notifications
from crondeck.tui.widgets.header import DeckHeader


class Call:
    """A command's answer, already given, as a `RemoteCall` holds it."""

    def __init__(self, result: dict | None = None, error: str = "") -> None:
        self.result, self.error = result or {}, error
        self.code = "refused" if error else ""
        self.reply = None if error else self.result

    async def wait(self) -> dict:
        if self.error:
            raise RuntimeError(self.error)
        return self.result

    def add_done_callback(self, fn) -> None:
        fn(self)


class Handle:
    def __init__(self, call: Call) -> None:
        self.call = call


def mirror_of(sched):
    """Give `sched` the mirror's surface: connection state, hello, commands answered."""
    sched.connected = True
    sched.hello = {"kind": "crondeck run", "pid": 4121,
                   "started_at": (START - timedelta(days=3, hours=2)).isoformat()}
    sched.attached_at = START
    sched.refuse = ""  # an error every command answers with
    sched.sent = []
    local = {name: getattr(sched, name) for name in (
        "pause_job", "resume_job", "run_now", "skip_next", "cancel", "pause_all", "resume_all")}

    def command(name, result):
        def send(*args, **kw):
            sched.sent.append(name)
            if sched.refuse:
                return Call(error=sched.refuse)
            out = local[name](*args, **kw)
            return Call(result(out, *args))
        return send

    sched.pause_job = command("pause_job", lambda _, job, *a: {"job": job, "paused": True})
    sched.resume_job = command("resume_job", lambda _, job: {"job": job, "paused": False})
    sched.skip_next = command("skip_next", lambda _, job, skip=True: {
        "job": job, "skip_next": skip, "next_fire": sched.jobs[job].next_fire.isoformat()})
    sched.pause_all = command("pause_all", lambda *_: {"paused": True})
    sched.resume_all = command("resume_all", lambda *_: {"paused": False})
    run = command("run_now", lambda h, job: {"job": job, "run_id": h.run_id,
                                              "skipped": h.skipped, "reason": "overlap"})
    sched.run_now = lambda job, **kw: Handle(run(job))
    cancel = command("cancel", lambda n, job: {"job": job, "cancelled": n})

    def cancel_job(job, reason="cancelled by operator"):
        sched.last_call = cancel(job)
        return 0

    sched.cancel = cancel_job
    return sched


def attached_app():
    clock = FakeClock(START)
    sched, streamer = build_scheduler(clock)
    mirror_of(sched)
    app = CrondeckApp(sched, config_path="/srv/ops/crondeck.toml", clock=clock,
                      zone=clock.now().tzinfo, live=False)
    app.dashboard_class = AttachedDashboard
    return app, sched, clock, streamer


def notes(app) -> str:
    return "\n".join(n.message for n in shown_notifications(app))


async def answered(pilot) -> None:
    """Let the workers awaiting the answers finish (bounded)."""
    for _ in range(5):
        await pilot.pause()
        await asyncio.sleep(0)
    await settle(pilot)


def test_header_says_what_it_is_attached_to():
    app, *_ = attached_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            header = text_of(app.dashboard.query_one(DeckHeader))
            assert "⇄ attached to crondeck run, pid 4121, up 3d 2h" in header
            assert "scheduling" in header

    asyncio.run(go())


@pytest.mark.slow
def test_keys_are_commands_to_the_scheduler_and_refusals_are_shown():
    app, sched, _clock, _streamer = attached_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.dashboard.table.select("gamma")  # paused: the footer offers Resume
            await settle(pilot)
            keys = [k.description for k in app.screen.query(FooterKey)]
            assert "Resume" in keys and "Pause" not in keys
            app.dashboard.table.select("beta")
            await settle(pilot)
            assert "Pause" in [k.description for k in app.screen.query(FooterKey)]
            await pilot.press("p")
            await pilot.pause()
            assert isinstance(app.screen, PauseDialog)
            await pilot.press(*"deploy", "enter")
            await answered(pilot)
            assert sched.jobs["beta"].paused and sched.jobs["beta"].pause_note == "deploy"
            assert "beta paused" in notes(app)
            await pilot.press("s")
            await answered(pilot)
            assert sched.jobs["beta"].skip_next_pending
            assert "beta: the run at" in notes(app)
            sched.refuse = "no job named 'beta'; did you mean 'beta2'?"
            await pilot.press("r")
            await answered(pilot)
            assert "run beta now: no job named 'beta'; did you mean 'beta2'?" in notes(app)
            sched.refuse = ""
            await pilot.press("P", "enter")
            await answered(pilot)
            assert sched.paused
            assert "resume_all" in {b.binding.action for b in
                                    app.screen.active_bindings.values()}

    asyncio.run(go())


@pytest.mark.slow
def test_gone_scheduler_greys_the_screen_and_a_new_one_is_picked_up():
    app, sched, clock, _ = attached_app()

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            sched.connected = False
            screen._watch_connection()
            await pilot.pause()
            assert screen.has_class("-disconnected")
            header = text_of(screen.query_one(DeckHeader))
            assert "DISCONNECTED (pid 4121 went away at" in header
            assert "Scheduler disconnected" in {n.title for n in shown_notifications(app)}
            bindings = {b.binding.action: b.enabled for b in screen.active_bindings.values()}
            assert "run_now" not in bindings  # hidden until it is back
            # nor new / edit / delete: the editor's save asks the scheduler to reload
            assert not bindings.keys() & {"new_job", "edit_job", "delete_job"}
            # it comes back (another process): a fresh picture
            sched.hello = {**sched.hello, "pid": 5555}
            sched.attached_at = clock.now() + timedelta(seconds=1)
            sched.pause_job("delta", note="from the new one")
            sched.connected = True
            screen._watch_connection()
            await settle(pilot)
            assert not screen.has_class("-disconnected")
            header = text_of(screen.query_one(DeckHeader))
            assert "attached to crondeck run, pid 5555" in header
            assert screen.model.rows["delta"].status == "paused"
            assert "attached again to crondeck run, pid 5555" in notes(app)
            bindings = {b.binding.action for b in screen.active_bindings.values()}
            assert {"run_now", "new_job", "edit_job", "delete_job"} <= bindings

    asyncio.run(go())


@pytest.mark.slow
def test_attached_header_snapshot(snap_compare):
    app, *_ = attached_app()

    async def before(pilot):
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


OBSERVED = """
[[jobs]]
name = "a"
schedule = "*/5 * * * *"
command = "echo a"

[[jobs]]
name = "b"
schedule = "@every 1h"
command = "echo b"
"""


@pytest.mark.slow
def test_observing_follows_the_state_files_and_hides_what_cannot_work(tmp_path):
    """Another process holds the lock and cannot be asked: the console follows what it
    writes (pauses, results, a run's log as it grows) and offers no key that acts."""
    path = tmp_path / "crondeck.toml"
    path.write_text(OBSERVED)
    holder = open_runtime(load_config(path))  # the process that schedules (it never loops)
    watcher = open_runtime(load_config(path), read_only=True)
    app = CrondeckApp(watcher.scheduler, config_path=path, clock=watcher.scheduler.clock,
                      zone=UTC, read_only=True, read_only_reason="locked by pid 4242",
                      live=False)
    app.runtime = watcher
    app.dashboard_class = ObserveDashboard

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.dashboard
            shown = {b.binding.action for b in screen.active_bindings.values()}
            assert not shown & {"pause", "resume", "run_now", "skip_next", "cancel_run",
                                "pause_all", "resume_all", "new_job", "edit_job"}
            assert "help" in shown and "filter" in shown
            assert "observing (locked by pid 4242)" in text_of(screen.query_one(DeckHeader))
            # the holder pauses a job and records a result
            holder.scheduler.pause_job("a", note="freeze")
            now = holder.scheduler.clock.now()
            result = RunResult(run_id="b@1", job="b", scheduled_for=now, status=RunStatus.OK,
                               started_at=now, finished_at=now, output_tail="b says hi\n")
            holder.store.record(result)
            holder.store.flush()
            screen.follow()
            await settle(pilot)
            assert screen.model.rows["a"].status == "paused"
            assert any(r.run_id == "b@1" for r in screen.model.history)
            # a run in flight: its log grows, the output pane shows it
            holder.store.claim("a", "a@2", now)
            log = holder.logs.open("a", "a@2")
            log.write("first line\n")
            screen.follow()
            await settle(pilot)
            screen.table.select("a")
            await settle(pilot)
            assert "first line" in "\n".join(screen.output.lines)
            assert screen.model.rows["a"].status == "running"
            log.write("second line\n")
            screen.follow()
            await settle(pilot)
            assert "second line" in "\n".join(screen.output.lines)
            log.write("last line\n")
            log.close()
            holder.store.record(RunResult(run_id="a@2", job="a", scheduled_for=now,
                                          status=RunStatus.OK, started_at=now, finished_at=now))
            holder.store.flush()
            screen.follow()
            await settle(pilot)
            assert screen.model.rows["a"].status == "paused"  # not running any more
            assert "last line" in "\n".join(screen.output.lines)
            assert any(r.run_id == "a@2" for r in screen.model.history)

    try:
        asyncio.run(go())
    finally:
        watcher.close()
        holder.close()


@pytest.mark.slow
def test_disconnected_snapshot(snap_compare):
    """The scheduler gone: the header says so, the panes are greyed, the keys that would act
    on it are not offered."""
    app, sched, *_ = attached_app()

    async def before(pilot):
        await settle(pilot)
        sched.connected = False
        pilot.app.dashboard._watch_connection()
        for note in list(shown_notifications(pilot.app)):
            dismiss_notification(pilot.app, note)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_the_schedulers_answer_to_reload_is_shown():
    """After the editor saved, the scheduler's answer: applied (what changed), refused (its
    problems, kept on the header's line), or the request never delivered."""
    class App:
        config_path = "/srv/ops/crondeck.toml"

        def __init__(self):
            self.notes, self.file = [], "unset"

        def notify(self, message, **kw):
            self.notes.append((message, kw))

        def file_state(self, problems):
            self.file = problems

    app = App()
    report = reload_report(app)
    report({"applied": True, "added": [], "removed": [], "changed": ["digest"],
            "problems": []}, "")
    assert app.notes[-1][0] == "changed digest" and app.file is None
    report({"applied": False, "problems": ["crondeck.toml:4: job 'x', python: cannot import "
                                           "'pkg.mod'"]}, "")
    message, kw = app.notes[-1]
    assert "cannot import 'pkg.mod'" in message and kw["severity"] == "error"
    assert "refused" in kw["title"] and [p.message for p in app.file] == [
        "crondeck.toml:4: job 'x', python: cannot import 'pkg.mod'"]
    report(None, "not connected to the scheduler")
    assert "not connected to the scheduler" in app.notes[-1][0]
    assert app.notes[-1][1]["severity"] == "warning"


class HistoryCall:
    """`RemoteScheduler.history`'s answer, settled when the test says."""

    def __init__(self) -> None:
        self.callbacks: list = []

    def add_done_callback(self, fn) -> None:
        self.callbacks.append(fn)

    def settle(self) -> None:
        for fn in self.callbacks:
            fn(self)


@pytest.mark.slow
def test_details_open_with_the_jobs_whole_history_asked_of_the_scheduler():
    """A snapshot carries only a job's newest results: the details screen asks for the rest
    and opens with them."""
    from crondeck.tui.screens.details import JobDetailsScreen

    app, sched, _clock, _ = attached_app()
    asked: list[str] = []
    call = HistoryCall()

    def history(job):
        asked.append(job)
        return call

    sched.history = history
    whole = [RunResult(run_id=f"alpha@{i}", job="alpha", scheduled_for=START,
                       status=RunStatus.OK if i % 4 else RunStatus.FAILED,
                       started_at=START, finished_at=START) for i in range(12)]

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.dashboard.table.select("alpha")
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert asked == ["alpha"] and not isinstance(app.screen, JobDetailsScreen)
            sched.jobs["alpha"].results.clear()
            sched.jobs["alpha"].results.extend(whole)  # what the mirror does on the answer
            call.settle()
            await settle(pilot)
            assert isinstance(app.screen, JobDetailsScreen)
            from textual.widgets import Static
            shown = "\n".join(text_of(w) for w in app.screen.query(Static))
            assert "9/12 recent ok" in shown

    asyncio.run(go())


@pytest.mark.slow
def test_a_refusal_from_before_attaching_is_shown_as_a_live_one():
    """The scheduler refused its jobs file before this console attached (its snapshot says
    so; the file may read fine here): the header's lasting line, since the scheduler's
    refusal, and the notification, as when the refusal comes while attached."""
    app, sched, _clock, _ = attached_app()
    path = "/srv/ops/crondeck.toml"
    sched.file_refused = (path, (f"{path}:4: job 'beta', python: no module named 'nope'",),
                          START - timedelta(hours=1, minutes=3))

    async def go():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(pilot)
            header = text_of(app.dashboard.query_one(DeckHeader))
            assert "⚠ crondeck.toml: 1 problem since 07:55" in header
            assert "line 4, job 'beta', python: no module na" in header
            assert "/srv/ops" not in header.split("\n")[1]
            assert "Jobs file not reloaded" in {n.title for n in shown_notifications(app)}

    asyncio.run(go())
