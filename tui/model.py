"""The dashboard's view-model: what the screen shows, kept current from the event stream.

Pure Python (no Textual): `DashboardModel.apply(events)` folds a batch of core events into
rows, history and output buffers and returns a `Changes` summary the screen uses to update
only what moved. Job rows are re-read from the scheduler's public `Job` attributes whenever an
event names the job, so the model never re-implements scheduling rules.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal

from crondeck.core import (
    ConfigRejected,
    ConfigReloaded,
    Event,
    JobAdded,
    JobRemoved,
    ObserverDropped,
    OutputChunk,
    RunFinished,
    RunMissed,
    RunResult,
    RunSkipped,
    RunStarted,
    RunStatus,
    SchedulerPaused,
    SchedulerResumed,
    SchedulerStarted,
    SchedulerStopped,
    budget_reason,
    last_run,
    uses_model,
)

if TYPE_CHECKING:
    from crondeck.core import Job, Scheduler

__all__ = [
    "LAST_GLYPH",
    "STATUS_CLASSES",
    "STATUS_GLYPH",
    "Changes",
    "DashboardModel",
    "JobRow",
    "OutputLine",
    "RunOutput",
    "budget_reset",
]

Status = Literal["idle", "running", "paused", "failing", "budget", "done", "disabled"]
STATUS_GLYPH: dict[str, str] = {
    "idle": "○",
    "running": "▶",
    "paused": "‖",
    "failing": "✗",
    "budget": "∅",  # the day's token budget is spent: scheduled slots skip until midnight
    "done": "■",
    "disabled": "◌",
}
LAST_GLYPH: dict[str, str] = {
    "ok": "✓",
    "failed": "✗",
    "timed_out": "⧗",
    "cancelled": "⊘",
    "skipped": "↷",
    "missed": "·",
    "abandoned": "?",
}
# Component classes coloured by the theme's job-status variables ($status-ok, ...; see
# tui/themes.py and dashboard.tcss), so every job-status colour follows the theme.
STATUS_CLASSES = frozenset({"status--ok", "status--failed", "status--skipped", "status--paused",
                            "status--running"})
MAX_RUNS_KEPT = 5  # runs of output kept per job (current + earlier ones)
MAX_LINES_PER_RUN = 5_000
MAX_HISTORY = 2_000
# Terminal escape sequences in agent output (colours, titles, cursor and screen control): the
# pane shows text, and a sequence shown as-is reads as garbage ("�[31mred�[0m").
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?"
                      r"|[PX^_][^\x1b]*(?:\x1b\\)?|[ -/]*[0-~])").sub


def _text(text: str) -> str:
    """Output as the pane shows it: without terminal escape sequences."""
    return _ESCAPES("", text) if "\x1b" in text else text


@dataclass(slots=True)
class JobRow:
    """One line of the jobs table, as plain values."""

    name: str
    schedule: str
    description: str
    agent: str
    status: Status = "idle"
    note: str = ""
    until: datetime | None = None
    # Paused, by itself or with every job (a running run goes on; no countdown then), and
    # when that ends (None: until resumed by hand).
    held: bool = False
    resumes: datetime | None = None
    next_fire: datetime | None = None
    running_since: datetime | None = None
    running_count: int = 0
    last_status: str = ""
    last_finished: datetime | None = None
    runs: int = 0
    ok_rate: float | None = None
    failures: int = 0
    skip_next: bool = False
    exhausted: str = ""
    # The day's token budget is spent: when it resets (the next local midnight in the job's
    # zone); None while tokens remain. Scheduled slots before then are skipped ("budget").
    budget_until: datetime | None = None
    # While held: its first slot at or after `budget_until` (the first that will run).
    budget_next: datetime | None = None
    # Model usage: today's figures count only while `usage_day` (the job's local
    # day, in `usage_zone`) is today, so a row read yesterday does not show yesterday's spend.
    priced: bool = False
    token_budget: int | None = None  # daily_token_budget: a budgeted job shows its tokens
    tokens_today: int = 0
    tokens_total: int = 0
    cost_today: float = 0.0
    cost_total: float = 0.0
    usage_day: str = ""
    usage_zone: tzinfo | None = None

    @property
    def held_by_budget(self) -> bool:
        """Its next slot comes before the budget resets, so that slot will be skipped."""
        return (self.budget_until is not None and self.next_fire is not None
                and self.next_fire < self.budget_until)

    @property
    def first_run(self) -> datetime | None:
        """The next slot that will actually run: past a spent budget's reset when held
        (the slots before it will be skipped), else `next_fire`."""
        return self.budget_next if self.held_by_budget else self.next_fire

    @property
    def uses_model(self) -> bool:
        """Has spent tokens, a price or a token budget: worth a COST column (as in
        `crondeck list`)."""
        return uses_model(priced=self.priced, budget=self.token_budget,
                          tokens=self.tokens_total, cost=self.cost_total)

    def matches(self, needle: str) -> bool:
        """The `/` filter: name, agent or status (case-insensitive substring)."""
        n = needle.lower()
        return n in self.name.lower() or n in self.agent.lower() or n in self.status


@dataclass(slots=True)
class OutputLine:
    at: datetime
    stream: str
    text: str


@dataclass(slots=True)
class RunOutput:
    """The live (or kept) output of one run of one job."""

    run_id: str
    job: str
    started_at: datetime | None
    lines: deque[OutputLine] = field(default_factory=lambda: deque(maxlen=MAX_LINES_PER_RUN))
    result: RunResult | None = None
    dropped: int = 0
    total: int = 0  # lines ever added (`lines` keeps the newest): how a viewer catches up

    @property
    def live(self) -> bool:
        return self.result is None


@dataclass(slots=True)
class Changes:
    """What one batch of events touched."""

    jobs: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    added: bool = False
    history: list[RunResult] = field(default_factory=list)
    output: dict[str, list[OutputLine]] = field(default_factory=dict)  # run id -> new lines
    started: list[str] = field(default_factory=list)  # run ids
    finished: list[RunResult] = field(default_factory=list)
    failures: list[RunResult] = field(default_factory=list)
    scheduler: bool = False
    dropped: int = 0
    # the scheduler's word on the jobs file changed on disk: the problems it refused it for
    # (without the file's path), () once it runs it (None: no word in this batch)
    file_problems: tuple[str, ...] | None = None

    def __bool__(self) -> bool:
        return bool(self.jobs or self.removed or self.history or self.output or self.started
                    or self.finished or self.scheduler or self.dropped
                    or self.file_problems is not None)


_DESCRIPTIONS: dict[tuple[type, str], str] = {}


def _describe(sched: object, text: str) -> str:
    """The schedule's plain English, once per distinct schedule: 10,000 jobs share a few
    hundred expressions, and describing each anew is a large part of the first screen's work.
    A plain dict, not Textual's LRUCache: this module stays free of Textual."""
    key = (type(sched), text)
    description = _DESCRIPTIONS.get(key)
    if description is None:
        try:
            description = sched.describe()  # type: ignore[attr-defined]
        except Exception:
            description = ""
        if len(_DESCRIPTIONS) > 4096:
            _DESCRIPTIONS.clear()
        _DESCRIPTIONS[key] = description
    return description


def _fire_keys(jobs: Mapping[str, Job], all_paused: bool
               ) -> Iterator[tuple[bool, float, str]]:
    """Each job's place when sorted by next fire (as the jobs table sorts by default: jobs
    that will not fire, with no next fire or paused, after the others), from the job."""
    for name, job in jobs.items():
        nf = job.next_fire
        yield (nf is None or job.paused or all_paused,
               nf.timestamp() if nf is not None else 0.0, name)


def budget_reset(job: Job, now: datetime) -> datetime:
    """The next local midnight in the job's zone: when `core.budget` starts a new budget day
    (its `local_day` changes), so the instant the row stops saying "budget"."""
    zone = getattr(job.schedule, "tz", None) or UTC
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=zone).astimezone(UTC)


def _first_fire_from(sched: object, at: datetime) -> datetime | None:
    """The schedule's first fire at or after `at` (a slot exactly at the reset runs: its
    local day is already the new one); None if the schedule cannot say."""
    try:
        return sched.next_after(at - timedelta(microseconds=1))  # type: ignore[attr-defined]
    except Exception:
        return None


def _resumes(job: Job, all_paused: bool, all_until: datetime | None) -> datetime | None:
    """When a paused job fires again: the later of its own and the global pause's ends."""
    ends = ([job.pause_until] if job.paused else []) + ([all_until] if all_paused else [])
    return None if not ends or None in ends else max(e for e in ends if e is not None)


def row_from_job(job: Job, all_paused: bool, now: datetime | None = None, *,
                 all_until: datetime | None = None) -> JobRow:
    """Read a job's public attributes into a row (status words are presentation only).

    With `now`, a job whose daily token budget is spent (`core.budget.budget_reason`, the
    very test the scheduler skips slots by) reads "budget" until its local midnight."""
    sched = job.schedule
    text: str = getattr(sched, "text", None) or str(sched)
    description = _describe(sched, text)
    options = job.options
    enabled = job.enabled
    # A job that has never run, runs nothing now and has no token budget (most of a big
    # file's) skips the reading of results, runs and budget: none of it says anything.
    if job.last_result is not None:
        results = list(job.results)
        last = last_run(job)
        finished = [r for r in results
                    if r.status not in (RunStatus.SKIPPED, RunStatus.MISSED, RunStatus.RUNNING)]
        ok_rate = (sum(r.ok for r in finished) / len(finished)) if finished else None
    else:
        last, ok_rate = None, None
    running = list(job.running.values()) if job.is_running else []
    budget = getattr(options, "daily_token_budget", None)
    reset = None
    spent = False
    if budget is not None and now is not None and enabled \
            and budget_reason(job, now) is not None:
        spent = True
        reset = budget_reset(job, now)
    next_fire = job.next_fire
    held = reset is not None and next_fire is not None and next_fire < reset
    paused = job.paused
    if running:
        status: Status = "running"
    elif not enabled:
        status = "disabled"
    elif paused or all_paused:
        status = "paused"
    elif job.exhausted:
        status = "done"
    elif spent:
        status = "budget"  # says why slots skip; failures still show in LAST and OK%
    elif job.consecutive_failures:
        status = "failing"
    else:
        status = "idle"
    started = [h.started_at for h in running if h.started_at is not None]
    return JobRow(
        name=job.name,
        schedule=text,
        description=description,
        agent=getattr(job.agent, "name", "agent"),
        status=status,
        note=job.pause_note if paused else "",
        until=job.pause_until if paused else None,
        held=enabled and (paused or all_paused),
        resumes=_resumes(job, all_paused, all_until) if paused or all_paused else None,
        next_fire=next_fire,
        running_since=min(started) if started else None,
        running_count=len(running),
        last_status=last.status.value if last else "",
        last_finished=(last.finished_at or last.started_at) if last else None,
        runs=job.run_count,
        ok_rate=ok_rate,
        failures=job.consecutive_failures,
        skip_next=job.skip_next_pending,
        exhausted=job.exhausted if enabled else "",  # the status says "disabled"
        budget_until=reset,
        budget_next=_first_fire_from(sched, reset) if held and reset is not None else None,
        priced=(getattr(options, "price_in", None) is not None
                or getattr(options, "price_out", None) is not None),
        token_budget=budget,
        tokens_today=getattr(job, "tokens_today", 0),
        tokens_total=getattr(job, "tokens_total", 0),
        cost_today=getattr(job, "cost_today", 0.0),
        cost_total=getattr(job, "cost_total", 0.0),
        usage_day=getattr(job, "tokens_day", ""),
        usage_zone=getattr(sched, "tz", None),
    )


class DashboardModel:
    """Rows by job name, newest-last history, and per-job output of recent runs.

    With `first`, a big scheduler's rows are made in two goes: at once only for the `first`
    jobs that fire soonest (what a first screen shows: the top of the jobs sorted by next
    fire, and Upcoming), the others (`pending`) by `fill`, a step at a time."""

    def __init__(self, scheduler: Scheduler, *, first: int | None = None) -> None:
        self.scheduler = scheduler
        self.rows: dict[str, JobRow] = {}
        # jobs whose row is not made yet (see `fill`); a row made meanwhile leaves it
        self.pending: dict[str, None] = {}
        self.history: deque[RunResult] = deque(maxlen=MAX_HISTORY)
        self.outputs: dict[str, deque[RunOutput]] = {}
        self._by_run: dict[str, RunOutput] = {}
        self.loop_running = False
        self.dropped = 0
        # name -> when its spent budget resets: no event marks midnight, so the screen's
        # 1 s tick asks `expire_budgets` which rows to re-read (usually none; never all).
        self._budgets: dict[str, datetime] = {}
        # The pause of every job (paused, until) the rows were all last made with: a mirror's
        # new snapshot can change it without an event, and then every row must be re-read.
        self.made_with: tuple[bool, datetime | None] = (False, None)
        self.reload(first)

    # -- reading ---------------------------------------------------------------------

    @property
    def total(self) -> int:
        """How many jobs there are: rows made and still to make."""
        return len(self.rows) + len(self.pending)

    def reload(self, first: int | None = None) -> None:
        """Rebuild every row (and seed history/output from results the jobs already hold);
        with `first`, only the rows of the `first` jobs that fire soonest, the rest left
        `pending` for `fill`."""
        now = self.scheduler.clock.now()
        jobs = self.scheduler.jobs
        all_paused, until = self.scheduler.paused, self._all_until()
        names: Iterable[str] = jobs
        self.pending = {}
        if first is not None and len(jobs) > first:
            names = [name for *_, name in heapq.nsmallest(first, _fire_keys(jobs, all_paused))]
            self.pending = dict.fromkeys(jobs)
            for name in names:
                del self.pending[name]
        self.rows = {name: row_from_job(jobs[name], all_paused, now, all_until=until)
                     for name in names}
        self._budgets = {name: row.budget_until for name, row in self.rows.items()
                         if row.budget_until is not None}
        self.made_with = (all_paused, until)
        self.reseed_history()

    def reseed_history(self) -> None:
        """History anew from the results the jobs hold (what `reload` shows)."""
        seeded = sorted((r for job in self.scheduler.jobs.values() if job.last_result is not None
                         for r in job.results),
                        key=lambda r: r.finished_at or r.scheduled_for)
        self.history.clear()
        self.history.extend(seeded)

    def fill(self, count: int) -> bool:
        """Make up to `count` of the `pending` rows; True once none is pending."""
        pending = self.pending
        jobs, rows, budgets = self.scheduler.jobs, self.rows, self._budgets
        now = self.scheduler.clock.now()
        all_paused, until = self.scheduler.paused, self._all_until()
        for _ in range(min(count, len(pending))):
            name = pending.popitem()[0]
            job = jobs.get(name)
            if job is None:  # removed meanwhile, and its removal already applied
                continue
            row = rows[name] = row_from_job(job, all_paused, now, all_until=until)
            if row.budget_until is not None:
                budgets[name] = row.budget_until
        return not pending

    def _all_until(self) -> datetime | None:
        return getattr(self.scheduler, "pause_until", None) if self.scheduler.paused else None

    def pause_of_all(self) -> tuple[bool, datetime | None]:
        """The scheduler's pause of every job now (paused, until), as rows are made with it."""
        return self.scheduler.paused, self._all_until()

    def refresh_row(self, name: str) -> bool:
        self.pending.pop(name, None)
        job = self.scheduler.jobs.get(name)
        if job is None:
            self._budgets.pop(name, None)
            return self.rows.pop(name, None) is not None
        row = self.rows[name] = row_from_job(job, self.scheduler.paused,
                                             self.scheduler.clock.now(),
                                             all_until=self._all_until())
        if row.budget_until is not None:
            self._budgets[name] = row.budget_until
        else:
            self._budgets.pop(name, None)
        return True

    def expire_budgets(self, now: datetime) -> set[str]:
        """Re-read the rows whose spent budget has reset by `now` (their local midnight
        passed with no event to say so); returns the names re-read."""
        due = {name for name, until in self._budgets.items() if until <= now}
        for name in due:
            self.refresh_row(name)
        return due

    def run(self, run_id: str) -> RunOutput | None:
        return self._by_run.get(run_id)

    def current_output(self, job: str) -> RunOutput | None:
        """The job's live run, else its most recent one seen (or seeded from its last result)."""
        runs = self.outputs.get(job)
        if runs:
            for out in reversed(runs):
                if out.live:
                    return out
            return runs[-1]
        job_obj = self.scheduler.jobs.get(job)
        last = last_run(job_obj) if job_obj is not None else None
        return self.output_for_result(last) if last is not None else None

    def output_for_result(self, result: RunResult) -> RunOutput:
        """The kept output of a finished run (live capture if we saw it, else its tail)."""
        seen = self._by_run.get(result.run_id)
        if seen is not None:
            return seen
        out = RunOutput(result.run_id, result.job, result.started_at, result=result)
        at = result.started_at or result.scheduled_for
        for line in _text(result.output_tail).splitlines():
            out.lines.append(OutputLine(at, "stdout", line))
        out.total = len(out.lines)
        return out

    # -- folding events -----------------------------------------------------------------

    def apply(self, events: Iterable[Event]) -> Changes:
        ch = Changes()
        every = False  # every row re-read (the scheduler paused or resumed)
        for ev in events:
            if isinstance(ev, OutputChunk):  # every line one read delivered: split once
                out = self._by_run.get(ev.run_id) or self._open(ev.job, ev.run_id, None)
                at, stream = ev.at, ev.stream
                new = [OutputLine(at, stream, text)
                       for text in _text(ev.text).splitlines() or [""]]
                out.lines.extend(new)
                out.total += len(new)
                seen = ch.output.get(ev.run_id)
                if seen is None:
                    ch.output[ev.run_id] = new
                else:
                    seen.extend(new)
                continue
            job = getattr(ev, "job", None)
            if isinstance(ev, RunStarted):
                started = self._by_run.get(ev.run_id)
                if started is None or not started.live:
                    started = self._open(ev.job, ev.run_id, ev.at)
                started.started_at = started.started_at or ev.at
                ch.started.append(ev.run_id)
            elif isinstance(ev, RunFinished):
                out = self._by_run.get(ev.run_id) or self._open(ev.job, ev.run_id, None)
                out.result = ev.result
                if not ev.will_retry:
                    self._record(ev.result, ch)
                    ch.finished.append(ev.result)
                if ev.result.failed:
                    ch.failures.append(ev.result)
            elif isinstance(ev, RunSkipped | RunMissed):
                self._record(ev.result, ch)
            elif isinstance(ev, JobAdded):
                ch.added = True
            elif isinstance(ev, JobRemoved):
                ch.removed.add(ev.job)
                self.outputs.pop(ev.job, None)
            elif isinstance(ev, SchedulerPaused | SchedulerResumed):
                ch.scheduler = every = True
                ch.jobs.update(self.scheduler.jobs)
            elif isinstance(ev, SchedulerStarted):
                self.loop_running = True
                ch.scheduler = True
            elif isinstance(ev, SchedulerStopped):
                self.loop_running = False
                ch.scheduler = True
            elif isinstance(ev, ConfigRejected):  # each "path:line: …": the path said once
                ch.file_problems = tuple(p.removeprefix(f"{ev.path}:") for p in ev.problems)
            elif isinstance(ev, ConfigReloaded):
                ch.file_problems = ()
            elif isinstance(ev, ObserverDropped):
                self.dropped += ev.dropped
                ch.dropped += ev.dropped
            if isinstance(job, str):
                ch.jobs.add(job)
        for name in ch.jobs | ch.removed:
            self.refresh_row(name)
        if every:
            self.made_with = self.pause_of_all()
        ch.jobs -= ch.removed
        return ch

    def _open(self, job: str, run_id: str, at: datetime | None) -> RunOutput:
        if at is None:  # its start came before us (a snapshot's run in flight): the job knows it
            owner = self.scheduler.jobs.get(job)
            handle = owner.running.get(run_id) if owner is not None and owner.is_running \
                else None
            at = handle.started_at if handle is not None else None
        out = RunOutput(run_id, job, at)
        runs = self.outputs.setdefault(job, deque())
        runs.append(out)
        self._by_run[run_id] = out
        while len(runs) > MAX_RUNS_KEPT:
            old = runs.popleft()
            if self._by_run.get(old.run_id) is old:
                del self._by_run[old.run_id]
        return out

    def _record(self, result: RunResult, ch: Changes) -> None:
        self.history.append(result)
        ch.history.append(result)
