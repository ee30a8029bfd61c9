"""The runtime state (`.crondeck/state.toml`), written with the crash-safe writes of
`atomic` (temp + fsync + rename: a SIGKILL leaves the old file or the new one). State
writes are coalesced by a background thread so a burst of thousands of events costs a few
writes per second, not thousands.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import toml_fast
from .atomic import (
    atomic_write_bytes,
    ensure_dir,
    fsync_dir,
    remove_stale_temps,
    to_toml_value,
)
from .jobs import JobState
from .process import instance_id
from .results import RunResult, last_run

__all__ = [
    "STATE_FORMAT",
    "StateFormatError",
    "StateStore",
    "ends_run",
    "job_state_from_toml",
    "job_state_to_toml",
    "last_run",
]

STATE_FORMAT = 1
# Jobs whose state holds nothing but their next fire, grouped by that instant (an ISO string
# key, UTC) as arrays of names: a 100,000-job file writes a few dozen lines, not 100,000
# tables. A job in neither this table nor `jobs` has never been saved.
NEXT_FIRES = "next_fires"
# What a stored result keeps of the output: the full output lives in the run's log file.
RECORD_OUTPUT_CHARS = 2000


# --- runtime state -----------------------------------------------------------------------

_JOB_TIMES = ("pause_until", "next_fire", "last_slot")
_RESULT_TIMES = ("scheduled_for", "started_at", "finished_at")


def ends_run(result: RunResult) -> bool:
    """Whether `result` is its run's last word: not an attempt that a retry follows (those
    are recorded too, marked `will_retry`, while the run goes on)."""
    return not result.extra.get("will_retry")


class StateFormatError(ValueError):
    """state.toml parsed as TOML but does not have the shape crondeck writes."""


def _when(value: Any) -> Any:
    """ISO strings from `to_dict()` back to datetimes, so the file holds TOML date-times."""
    return datetime.fromisoformat(value).astimezone(UTC) if isinstance(value, str) else value


def result_to_toml(result: RunResult) -> dict[str, Any]:
    """A RunResult as a TOML table; the output tail is trimmed (the run log has it all)."""
    out = result.to_dict()
    for key in _RESULT_TIMES:
        if key in out:
            out[key] = _when(out[key])
    tail = out.get("output_tail", "")
    if len(tail) > RECORD_OUTPUT_CHARS:
        out["output_tail"] = "…" + tail[-RECORD_OUTPUT_CHARS:]
    for key in ("output_tail", "error"):
        if not out.get(key):
            out.pop(key, None)
    if out.get("gate"):
        out["gate"] = {k: v for k, v in out["gate"].items() if v not in ("", None)}
    if "contract" in out:  # any JSON (nulls included) survives TOML as JSON text
        out["contract_json"] = json.dumps(out.pop("contract"), ensure_ascii=False)
    return out


def job_state_to_toml(state: JobState) -> dict[str, Any]:
    """A JobState as a TOML table, with a derived `last` summary for people reading it."""
    out = state.to_dict()
    out.pop("name", None)
    for key in _JOB_TIMES:
        if key in out:
            out[key] = _when(out[key])
    last = last_run(state)
    if last is not None:
        out["last"] = {
            "run_id": last.run_id,
            "status": last.status.value,
            "finished_at": last.finished_at,
            "exit_code": last.exit_code,
        }
    out["results"] = [result_to_toml(r) for r in state.results]
    return out


def waits_only(state: JobState) -> bool:
    """Whether `state` holds nothing but its next fire (what a job that never ran, was never
    paused or changed by an operator carries): it is saved in the `next_fires` table."""
    # Field by field (every field but name and next_fire at its default): this runs for
    # each job added, and building a blank JobState to compare with cost more.
    return (state.next_fire is not None and not state.results and not state.running
            and state.last_slot is None and not state.paused and not state.pause_note
            and state.pause_until is None and not state.skip_next and not state.run_count
            and not state.consecutive_failures and not state.exhausted
            and not state.tokens_day and not state.disabled and not state.tokens_today
            and not state.tokens_total and not state.cost_today and not state.cost_total)


_VERSIONS = itertools.count()


class JobStates(MutableMapping[str, JobState]):
    """Job states by name. A state holding only a next fire (`waits_only`: most of a big
    file's jobs, most of the time) is kept as that instant alone and made again when asked
    for: a hundred thousand such states would otherwise hold a JobState each."""

    __slots__ = ("full", "version", "waiting")

    def __init__(self, states: Mapping[str, JobState] | None = None) -> None:
        self.full: dict[str, JobState] = {}
        self.waiting: dict[str, datetime] = {}  # name -> next fire
        # Changes whenever `waiting` does (unique across instances): its text is reused
        # by the saves in between.
        self.version = next(_VERSIONS)
        if states:
            for st in states.values():
                self[st.name] = st

    def __getitem__(self, name: str) -> JobState:
        st = self.full.get(name)
        if st is not None:
            return st
        return JobState(name=name, next_fire=self.waiting[name])

    def get(self, name: str, default: JobState | None = None) -> JobState | None:  # type: ignore[override]
        st = self.full.get(name)
        if st is not None:
            return st
        when = self.waiting.get(name)
        return default if when is None else JobState(name=name, next_fire=when)

    def __setitem__(self, name: str, state: JobState) -> None:
        if waits_only(state) and state.name == name:
            self.full.pop(name, None)
            # Keyed by the caller's string (the job's own name), not the one read from disk.
            self.waiting.pop(name, None)
            self.waiting[name] = state.next_fire  # type: ignore[assignment]
            self.version = next(_VERSIONS)
        else:
            if self.waiting.pop(name, None) is not None:
                self.version = next(_VERSIONS)
            self.full[name] = state

    def wait(self, name: str, next_fire: datetime) -> None:
        """`self[name] = JobState(name=name, next_fire=next_fire)`, without the JobState."""
        self.full.pop(name, None)
        self.waiting.pop(name, None)
        self.waiting[name] = next_fire
        self.version = next(_VERSIONS)

    def __delitem__(self, name: str) -> None:
        if self.full.pop(name, None) is None:
            del self.waiting[name]
            self.version = next(_VERSIONS)

    def __contains__(self, name: object) -> bool:
        return name in self.full or name in self.waiting

    def __iter__(self) -> Iterator[str]:
        yield from self.full
        yield from self.waiting

    def __len__(self) -> int:
        return len(self.full) + len(self.waiting)

    def __repr__(self) -> str:
        return f"JobStates({dict(self)!r})"

    def copy(self) -> JobStates:
        """A shallow copy (the states are frozen: safe to read while this one changes)."""
        out = JobStates()
        out.full, out.waiting = self.full.copy(), self.waiting.copy()
        out.version = self.version
        return out


def _next_fires_text(waiting: Mapping[str, datetime]) -> str:
    """The `next_fires` table: names by next fire (empty when there are none)."""
    groups: dict[datetime, list[str]] = {}
    for name in sorted(waiting):
        groups.setdefault(waiting[name], []).append(name)
    lines = [f"\n[{NEXT_FIRES}]\n"] if groups else []
    for when in sorted(groups):
        names = json.dumps(groups[when], ensure_ascii=False).replace("\x7f", "\\u007f")
        lines.append(f'"{when.astimezone(UTC).isoformat()}" = {names}\n')
    return "".join(lines)


def _job_text(name: str, state: JobState) -> str:
    """One job's `[jobs.<name>]` tables, as they appear in state.toml."""
    return _dumps(to_toml_value({"jobs": {name: job_state_to_toml(state)}}))


def _next_fires_from_toml(doc: Mapping[str, Any], jobs: JobStates) -> None:
    """Add the states of the `next_fires` table to `jobs` (a job in `jobs` already wins)."""
    table = doc.get(NEXT_FIRES, {})
    if not isinstance(table, Mapping):
        raise StateFormatError(f"{NEXT_FIRES} is not a table")
    for when, names in table.items():
        try:
            instant = datetime.fromisoformat(when)
        except ValueError:
            raise StateFormatError(f"{NEXT_FIRES}: {when!r} is not a date-time") from None
        if instant.utcoffset() is None:
            raise StateFormatError(f"{NEXT_FIRES}: {when!r} has no time zone")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise StateFormatError(f"{NEXT_FIRES}.{when!r} is not an array of job names")
        instant = instant.astimezone(UTC)
        for name in names:
            if name not in jobs:
                jobs.waiting[name] = instant  # what JobStates keeps of such a state
        jobs.version = next(_VERSIONS)


def job_state_from_toml(name: str, data: Any) -> JobState:
    """Inverse of job_state_to_toml; raises StateFormatError on anything unexpected."""
    if not isinstance(data, Mapping):
        raise StateFormatError(f"jobs.{name} is {type(data).__name__}, expected a table")
    try:
        doc = {k: v for k, v in data.items() if k != "last"}
        results = doc.get("results", [])
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise StateFormatError(f"jobs.{name}.results is not an array of tables")
        for key in ("run_count", "consecutive_failures"):
            if not isinstance(doc.get(key, 0), int) or isinstance(doc.get(key), bool):
                raise StateFormatError(f"jobs.{name}.{key} is {doc[key]!r}, not an integer")
        running = doc.get("running", [])
        if not isinstance(running, list) or not all(isinstance(r, str) for r in running):
            raise StateFormatError(f"jobs.{name}.running is not an array of run ids")
        for result in results:
            _check_result(name, result)
        return JobState.from_dict({**doc, "name": name})
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, StateFormatError):
            raise
        raise StateFormatError(f"jobs.{name}: {exc!r}") from None


# What each field of a stored result must be: the loader converts leniently (str(), int()),
# so a hand-edited `job = []` would load and then fail every view that looks the job up.
_RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "run_id": (str,), "job": (str,), "status": (str,), "exit_code": (int,),
    "output_tail": (str,), "error": (str,), "attempt": (int,), "output_bytes": (int,),
    "manual": (bool,), "truncated": (bool,), "scheduled_for": (datetime, str),
    "started_at": (datetime, str), "finished_at": (datetime, str), "cost": (int, float),
    "will_retry": (bool,),
}


def _check_result(name: str, result: Mapping[str, Any]) -> None:
    for key, types in _RESULT_TYPES.items():
        value = result.get(key)
        if value is None:
            continue
        bad = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        if bad:
            raise StateFormatError(f"jobs.{name}.results: {key} is {type(value).__name__} "
                                   f"{str(value)[:40]!r}")
    if result.get("job") != name:
        raise StateFormatError(f"jobs.{name}.results: a result of job {result.get('job')!r}")


def _toml_loads(text: str) -> dict[str, Any]:
    import tomllib  # only for a state file outside what toml_fast reads

    return tomllib.loads(text)


def _dumps(doc: Mapping[str, Any]) -> str:
    """tomli-w's text for `doc`, by the fast writer when it is in the forms crondeck writes
    (a job's fifty results, re-rendered after every `crondeck exec`)."""
    text = toml_fast.dumps(doc)
    if text is None:
        import tomli_w  # here: toml_fast writes the forms crondeck keeps

        return tomli_w.dumps(doc)
    return text


def _toml_string(text: str) -> str:
    # JSON's escapes are TOML's too; TOML also wants DEL escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _claim_toml(run_id: str, job: str, slot: datetime, instance: str) -> str:
    """One claim as a `[[claims]]` table, written by hand: a thousand runs starting at once
    are claimed on the loop, and a generic TOML writer cost more than the write itself."""
    return (f"[[claims]]\nrun_id = {_toml_string(run_id)}\njob = {_toml_string(job)}\n"
            f"scheduled_for = {slot.astimezone(UTC).isoformat()}\n"
            f"instance = {_toml_string(instance)}\n\n")


def _result_toml(result: RunResult) -> str:
    """One result as a `[[results]]` table of claims.toml (a catch-up after downtime books
    thousands of misses, each carried by the next claim): one array item, without the
    whole-document writer's inline-or-not question."""
    table = to_toml_value(result_to_toml(result))
    text = toml_fast.dumps_item("results", table)
    return text if text is not None else _dumps({"results": [table]})


class StateStore:
    """The runtime state of every job, in memory, saved to state.toml atomically and coalesced.

    Change it with `put` / `record` / `remove`; the background writer saves at most once per
    `min_interval`. `claim()` is durable before it returns (a small `claims.toml` beside the
    state, folded into state.toml by the next save), so a slot recorded as started is never
    fired again after a crash. In `read_only` mode nothing is written or moved.
    """

    def __init__(
        self,
        path: Path,
        *,
        history: int = 50,
        min_interval: float = 0.25,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.claims_path = self.path.with_name("claims.toml")
        self.history = history
        self.min_interval = min_interval
        self.read_only = read_only
        self.jobs: JobStates = JobStates()
        self.problems: list[str] = []  # what went wrong loading (shown to the operator)
        self.moved_aside: list[Path] = []
        # The instances (`process.instance_id`) of the schedulers that saved runs still in
        # flight: their processes may have outlived them (`process.end_instances`).
        self.previous_instances: set[str] = set()
        self.write_count = 0
        self.last_write_seconds = 0.0
        self.write_errors: list[str] = []
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._claims_lock = threading.Lock()
        self._claims: dict[str, tuple[str, datetime, int]] = {}  # run id -> job, slot, gen
        # Results not yet in state.toml, by run id (with the generation that added them):
        # each claim writes them into claims.toml too, so a result is durable at the latest
        # when the next run starts, without a write of its own.
        # Rendered only when a claim must carry them: most reach state.toml first.
        self._unsaved: dict[str, tuple[RunResult | str, int]] = {}  # key -> result/text, gen
        # Each claim's TOML text, rendered once: with a thousand runs starting together the
        # file is rewritten a thousand times, and rendering all of it each time dominated.
        self._claim_text: dict[str, str] = {}
        self._claims_file_stale = False
        # Each saved job's `[jobs.<name>]` text with the state it renders: a save renders
        # only the jobs whose state changed since (states are frozen, replaced on change).
        self._job_text: dict[str, tuple[JobState, str]] = {}
        self._waiting_text: tuple[int, str] = (-1, "")  # JobStates.version, its text
        self._wake = threading.Condition(threading.Lock())
        self._urgent = False  # a claimed run's result waits to be made durable
        self._generation = 0
        self._written = 0
        self._thread: threading.Thread | None = None
        self._closing = False

    # -- loading ------------------------------------------------------------------------

    def load(self) -> StateStore:
        """Read state.toml, then fold in claims.toml. A file that is unreadable, not TOML, or
        not shaped like crondeck's state is moved aside to `<name>.corrupt-<time>` (unless
        read-only), reported in `problems`, and the store starts without it."""
        if not self.read_only:
            remove_stale_temps(self.path)
            remove_stale_temps(self.claims_path)
        doc = self._read(self.path)
        if doc is not None:
            try:
                fmt = doc.get("format", STATE_FORMAT)
                if fmt != STATE_FORMAT:
                    raise StateFormatError(f"format {fmt!r}, this crondeck reads {STATE_FORMAT}")
                jobs = doc.get("jobs", {})
                if not isinstance(jobs, Mapping):
                    raise StateFormatError("jobs is not a table")
                loaded = JobStates({name: job_state_from_toml(name, data)
                                    for name, data in jobs.items()})
                _next_fires_from_toml(doc, loaded)
                with self._lock:
                    self.jobs = loaded
                if isinstance(doc.get("instance"), str) and any(
                        st.running for st in loaded.full.values()):
                    self.previous_instances.add(doc["instance"])
            except StateFormatError as exc:
                self._corrupt(self.path, str(exc))
        claims = self._read(self.claims_path)
        if claims is not None:
            self._claims_file_stale = True  # folded in below; the next save removes it
            try:
                self._merge_claims(claims)
            except (StateFormatError, KeyError, TypeError, ValueError) as exc:
                why = f"a claim lacks {exc}" if isinstance(exc, KeyError) else str(exc)
                self._corrupt(self.claims_path, why)
        return self

    def take_over(self, read: StateStore) -> StateStore:
        """Start from `read`, a read-only store loaded from the same files, instead of parsing
        them again (the caller has checked with `file_stamp` that they have not changed
        since); what `load` does besides parsing is done here. A read that found a problem
        (a file to move aside) or a claims file to fold in is loaded again in full."""
        if read.problems or read._claims_file_stale or read.path != self.path:
            return self.load()
        if not self.read_only:
            remove_stale_temps(self.path)
            remove_stale_temps(self.claims_path)
        with self._lock:
            self.jobs = read.jobs.copy()
        self.previous_instances |= read.previous_instances
        return self

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            with open(path, "rb") as fh:
                text = fh.read().decode("utf-8")
            # The forms crondeck writes, read line by line; tomllib reads anything else.
            doc = toml_fast.loads(text)
            return doc if doc is not None else _toml_loads(text)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # UnicodeDecodeError, TOMLDecodeError
            self._corrupt(path, f"cannot read it: {exc}")
            return None

    def _merge_claims(self, doc: dict[str, Any]) -> None:
        entries = doc.get("claims", [])
        if not isinstance(entries, list):
            raise StateFormatError("claims is not an array of tables")
        finished = doc.get("results", [])
        if not isinstance(finished, list) or not all(isinstance(r, dict) for r in finished):
            raise StateFormatError("results is not an array of tables")
        with self._lock:
            for data in finished:  # results that had not reached state.toml yet
                name = data.get("job")
                if not isinstance(name, str):
                    raise StateFormatError("a result has no job")
                _check_result(name, data)
                result = RunResult.from_dict(data)
                st = self.jobs.get(name) or JobState(name=name)
                if any(r.run_id == result.run_id and (r.attempt, r.status) ==
                       (result.attempt, result.status) for r in st.results):
                    continue
                running = (st.running if not ends_run(result) else
                           tuple(r for r in st.running if r != result.run_id))
                self.jobs[name] = replace(st, running=running,
                                          results=(*st.results, result)[-self.history:])
                self._generation += 1
            for entry in entries:
                if not isinstance(entry, Mapping):
                    raise StateFormatError("a claim is not a table")
                job, run_id, slot = entry["job"], entry["run_id"], _when(entry["scheduled_for"])
                if not (isinstance(job, str) and isinstance(run_id, str)):
                    raise StateFormatError("a claim has no job or run_id")
                if not isinstance(slot, datetime):
                    raise StateFormatError(f"claim {run_id}: scheduled_for is not a date-time")
                if slot.utcoffset() is None:  # would fail every comparison with aware times
                    raise StateFormatError(f"claim {run_id}: scheduled_for {slot.isoformat()} "
                                           "has no time zone")
                if isinstance(entry.get("instance"), str):
                    self.previous_instances.add(entry["instance"])
                st = self.jobs.get(job) or JobState(name=job)
                ended = any(r.run_id == run_id and ends_run(r) for r in st.results)
                if ended or run_id in st.running:
                    continue
                last = st.last_slot if st.last_slot and st.last_slot > slot else slot
                self.jobs[job] = replace(st, running=(*st.running, run_id), last_slot=last)
                self._generation += 1

    def _corrupt(self, path: Path, why: str) -> None:
        if self.read_only:
            self.problems.append(f"{path}: {why}; ignoring it (read-only, left in place)")
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        try:
            os.replace(path, aside)
            self.moved_aside.append(aside)
            self.problems.append(
                f"{path}: {why}; moved it aside to {aside.name} and started from the jobs "
                "file alone"
            )
        except OSError as exc:
            self.problems.append(
                f"{path}: {why}; could not move it aside ({exc}); starting from the jobs "
                "file alone"
            )

    # -- changing -----------------------------------------------------------------------

    def get(self, name: str) -> JobState | None:
        with self._lock:
            return self.jobs.get(name)

    def put(self, state: JobState) -> None:
        """Replace one job's state (results capped at `history`); saved soon."""
        if len(state.results) > self.history:
            state = replace(state, results=state.results[-self.history :])
        with self._lock:
            old = self.jobs.get(state.name) if state.running else None
            if old is not None:
                # The attempts of runs still going live only here (a job's own history
                # has final results): keep them, so a crash names the attempt it ended.
                attempts = tuple(r for r in old.results if not ends_run(r)
                                 and r.run_id in state.running and r not in state.results)
                if attempts:
                    state = replace(state, results=(*state.results, *attempts)[-self.history:])
            self.jobs[state.name] = state
            self._generation += 1
        self._schedule()

    def take_states(self) -> JobStates:
        """The states as loaded, the store starting empty: a scheduler built on it reports
        its jobs' states afresh (see `put_back` for the others)."""
        with self._lock:
            states, self.jobs = self.jobs, JobStates()
            self._generation += 1
        return states

    def put_back(self, states: JobStates, known: Mapping[str, object]) -> None:
        """Put back the states of `take_states` whose names are not `known` (jobs no longer
        in the jobs file keep their saved state, as if never taken)."""
        with self._lock:
            jobs = self.jobs
            for name, st in states.full.items():
                if name not in known and name not in jobs:
                    jobs[name] = st
            for name, when in states.waiting.items():
                if name not in known and name not in jobs:
                    jobs.wait(name, when)
            self._generation += 1

    def put_waiting_many(self, waiting: Iterator[tuple[str, datetime]]) -> None:
        """`put_waiting` of many jobs (name, next fire) at once."""
        with self._lock:
            jobs = self.jobs
            if not jobs.full and not jobs.waiting:  # a store started empty for the jobs
                jobs.waiting.update(waiting)
                jobs.version = next(_VERSIONS)
            else:
                for name, when in waiting:
                    jobs.wait(name, when)
            self._generation += 1
        self._schedule()

    def put_waiting(self, name: str, next_fire: datetime) -> None:
        """`put` of a state holding nothing but its next fire (a job just added)."""
        with self._lock:
            self.jobs.wait(name, next_fire)
            self._generation += 1
        self._schedule()

    def remove(self, name: str) -> None:
        with self._lock:
            if self.jobs.pop(name, None) is not None:
                self._generation += 1
        self._schedule()

    def record(self, result: RunResult) -> None:
        """Add a result to its job's history (unless already there) and end its claim."""
        with self._lock:
            st = self.jobs.get(result.job) or JobState(name=result.job)
            if result in st.results:
                return
            running = st.running
            claimed = result.run_id in running
            if ends_run(result):  # an attempt that a retry follows leaves the run running
                running = tuple(r for r in st.running if r != result.run_id)
            results = (*st.results, result)[-self.history :]
            self.jobs[result.job] = replace(st, running=running, results=results)
            self._generation += 1
            self._unsaved[f"{result.run_id}#{result.attempt}"] = (result, self._generation)
        # A claimed run's result is saved at once, not with the next batch: until it is on
        # disk a crash would record a run that finished as abandoned.
        self._schedule(urgent=claimed)

    def claim(self, job: str, run_id: str, scheduled_for: datetime) -> None:
        """Record, durably before returning, that `run_id` is starting: a restart will not
        fire its slot again, and marks it abandoned if it never finished."""
        self.claim_many([(job, run_id, scheduled_for)])

    def claim_many(self, claims: Sequence[tuple[str, str, datetime]]) -> None:
        """`claim` for several runs (job, run id, slot) with one durable write: all of them
        are recorded, or (the write failed) none is and the error is raised."""
        if not claims:
            return
        stamp = instance_id()
        with self._lock:
            # What was running before: a failed write must not end a claim made earlier.
            before = {run_id for job, _, _ in claims
                      for run_id in (self.jobs.get(job) or JobState(name=job)).running}
            for job, run_id, scheduled_for in claims:
                slot = scheduled_for.astimezone(UTC)
                st = self.jobs.get(job) or JobState(name=job)
                last = st.last_slot if st.last_slot and st.last_slot > slot else slot
                running = st.running if run_id in st.running else (*st.running, run_id)
                self.jobs[job] = replace(st, running=running, last_slot=last)
                self._generation += 1
                self._claims[run_id] = (job, slot, self._generation)
                self._claim_text[run_id] = _claim_toml(run_id, job, slot, stamp)
        try:
            self._write_claims()
        except BaseException:
            # Not durable, so the runs will not start: nothing may say they are running, or
            # a later save would have the next start record them abandoned.
            with self._lock:
                for job, run_id, _ in claims:
                    self._claims.pop(run_id, None)
                    self._claim_text.pop(run_id, None)
                    now = self.jobs.get(job)
                    if now is not None and run_id not in before:
                        self.jobs[job] = replace(
                            now, running=tuple(r for r in now.running if r != run_id))
                self._generation += 1
            raise
        self._schedule()

    # -- saving -------------------------------------------------------------------------

    def flush(self) -> None:
        """Save now, synchronously, if anything changed since the last save."""
        if self.read_only:
            return
        with self._write_lock:
            with self._lock:
                gen = self._generation
                if gen == self._written and self.path.exists():
                    return
                states = self.jobs.copy()  # frozen values: safe to serialise without the lock
            started = time.monotonic()
            data = self._render(states).encode("utf-8")
            ensure_dir(self.path.parent)
            atomic_write_bytes(self.path, data)
            self._written = gen
            self.write_count += 1
            self.last_write_seconds = time.monotonic() - started
            with self._lock:
                settled = [k for k, (_, _, g) in self._claims.items() if g <= gen]
                for run_id in settled:
                    del self._claims[run_id]
                    self._claim_text.pop(run_id, None)
                saved = [k for k, (_, g) in self._unsaved.items() if g <= gen]
                for key in saved:
                    del self._unsaved[key]
            if settled or saved or self._claims_file_stale:
                self._claims_file_stale = False
                self._write_claims()

    def _render(self, states: JobStates) -> str:
        """state.toml's text for `states`. Jobs holding only a next fire are grouped in the
        `next_fires` table; the others' tables are rendered once per state and reused."""
        head = {
            "format": STATE_FORMAT,
            "saved_at": datetime.now(UTC).replace(microsecond=0),
            "pid": os.getpid(),  # who wrote it (the lock file names the live holder)
            "instance": instance_id(),  # the tag of the processes it starts
        }
        parts = [_dumps(head)]
        cache = self._job_text
        full = states.full
        for name in sorted(full):
            st = full[name]
            seen = cache.get(name)
            if seen is None or seen[0] is not st:
                seen = cache[name] = (st, _job_text(name, st))
            parts.append("\n" + seen[1])
        for name in [n for n in cache if n not in full]:
            del cache[name]
        if self._waiting_text[0] != states.version:
            self._waiting_text = (states.version, _next_fires_text(states.waiting))
        parts.append(self._waiting_text[1])
        return "".join(parts)

    def _write_claims(self) -> None:
        """Rewrite claims.toml: the claims not yet in state.toml, with the results not yet
        there either (removed when there are none)."""
        if self.read_only:
            return
        with self._claims_lock:
            with self._lock:
                claims = [self._claim_text[run_id] for run_id in self._claims]
                results = [self._unsaved_text(key) for key in self._unsaved]
            ensure_dir(self.path.parent)
            if claims or results:
                atomic_write_bytes(self.claims_path, "".join(claims + results).encode("utf-8"))
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.claims_path)
                    fsync_dir(self.claims_path.parent)

    def _unsaved_text(self, key: str) -> str:
        result, gen = self._unsaved[key]
        if isinstance(result, str):
            return result
        text = _result_toml(result)
        self._unsaved[key] = (text, gen)
        return text

    def start(self) -> None:
        """Start the background writer that coalesces saves."""
        if self.read_only or self._thread is not None:
            return
        self._closing = False
        self._thread = threading.Thread(target=self._writer, name="crondeck-state", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the writer and save whatever is pending."""
        thread = self._thread
        if thread is not None:
            with self._wake:
                self._closing = True
                self._wake.notify_all()
            thread.join()
            self._thread = None
        self.flush()

    def _schedule(self, *, urgent: bool = False) -> None:
        if self._thread is None:
            return
        with self._wake:
            self._urgent = self._urgent or urgent
            self._wake.notify_all()

    def _writer(self) -> None:
        deadline = 0.0  # when the next save of state.toml may start
        while True:
            with self._wake:
                while not self._closing and not self._urgent and (
                        self._generation == self._written or time.monotonic() < deadline):
                    waiting = self._generation == self._written
                    self._wake.wait(None if waiting else deadline - time.monotonic())
                if self._closing:
                    return
                urgent, self._urgent = self._urgent, False
            try:
                if self._generation != self._written and time.monotonic() >= deadline:
                    try:
                        self.flush()  # the whole state, finished results included
                    finally:
                        # Coalesce: whatever changes during the next interval goes out in one
                        # write. A huge state that takes long to write waits longer, so saving
                        # stays under ~20% of a core.
                        deadline = time.monotonic() + max(self.min_interval,
                                                          4 * self.last_write_seconds)
                elif urgent:
                    # Between saves: finished results go to the small claims file now, in one
                    # write with whatever else finished meanwhile (off the event loop).
                    self._write_claims()
            except OSError as exc:  # disk full, permissions: keep running, report
                self.write_errors.append(f"saving {self.path} failed: {exc}")
                del self.write_errors[:-10]
