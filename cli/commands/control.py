"""`crondeck pause|resume|trigger|skip|cancel|reload`: the operator's verbs, sent to whichever
process runs the jobs file's schedule (`crondeck run`, or a console running it in-process)
over its control socket, `.crondeck/control.sock`.

With no scheduler running, pause, resume and skip are written to the saved state under the
state lock, so the next scheduler starts with them; trigger, cancel and reload say that
nothing runs the jobs file. A process that holds the lock but does not answer on the socket
(an older crondeck) is named, with its pid.

The jobs file is read only when needed (offline, or to place a clock time in its zone): a
running scheduler is reached even while the file on disk is mid-edit and invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from types import TracebackType
from typing import Any, TextIO

from crondeck.core import (
    Config,
    ConfigError,
    ControlClient,
    ControlError,
    CronError,
    DurationError,
    JobState,
    LockHeld,
    NoScheduler,
    RunResult,
    StateLock,
    StateStore,
    UnsafeDir,
    check_pause_note,
    control_call,
    control_path,
    escape_controls,
    get_zone,
    load_config,
    local_zone,
    parse,
    parse_duration,
)

from ._shared import EXIT_BAD_CONFIG, EXIT_ERROR, add_config_arg, known_job, locate, print_problems
from .exec import EXIT_INTERRUPTED, EXIT_SKIPPED, exit_code

EXIT_OK = 0
EXIT_USAGE = EXIT_BAD_CONFIG  # bad usage, an invalid jobs file, no such job
TIMEOUT = 5.0  # seconds a scheduler has to answer one command
# A scheduler takes the lock before it binds its socket: one found holding the lock without
# answering gets this long before it is reported as not answering.
START_GRACE = 1.0

EXIT_CODES = """\
exit status:
  0  done
  1  nothing runs this jobs file (where a scheduler is needed), or the scheduler
     did not answer or refused
  2  bad usage, an invalid jobs file, or no such job (the nearest name is suggested)
"""

TRIGGER_EXIT_CODES = """\
exit status (as `crondeck exec`):
  0  started (with --wait: the run ended ok)
  1  nothing runs this jobs file, the scheduler did not answer or refused, or
     (--wait) the run failed
  2  bad usage or no such job (the nearest name is suggested)
  3  skipped: the job's overlap policy refused it (still running), or (--wait) its
     gate or its daily token budget skipped it
  4  (--wait) the run timed out
  130  (--wait) the run was cancelled, or you stopped waiting (the run goes on)
"""


class NotAnswering(Exception):
    """A process holds the state lock but nothing answers on the control socket."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(pid)
        self.pid = pid


class Target:
    """The jobs file a verb acts on, and the scheduler serving it if one runs.

    `call()` returns the scheduler's answer, or None when no scheduler runs the file; with
    `keep_lock` the state lock is then held (released on exit) so the verb can write the
    saved state without another scheduler starting in between."""

    def __init__(self, args: argparse.Namespace, command: str, err: TextIO) -> None:
        self.args = args
        self.command = command
        self.err = err
        self.loc = locate(args, err)
        self.state_dir = self.loc.state_dir
        self.socket = control_path(self.state_dir)  # ValueError: path too long for a socket
        self.lock: StateLock | None = None
        self._config: Config | None = None
        self._config_failed = False
        self._zones: dict[str, tzinfo] | None = None
        self._default_zone: tzinfo = local_zone()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def release(self) -> None:
        lock, self.lock = self.lock, None
        if lock is not None:
            lock.release()

    def call(self, op: str, *, keep_lock: bool = False, **args: Any) -> dict[str, Any] | None:
        for attempt in range(2):
            if attempt:
                # A scheduler that is starting binds its socket in a moment; `crondeck exec`
                # holds the lock only while it records a result.
                time.sleep(START_GRACE)
            try:
                return control_call(self.socket, op, timeout=TIMEOUT, **args)
            except NoScheduler:
                pass
            except ControlError as exc:
                # Something not to trust at the socket's path: stale, when nothing holds the
                # lock (a stray file, a dead scheduler's socket owned by another user)
                if exc.code != "unsafe_socket" or self._take_lock(keep_lock) is not False:
                    raise
                return None
            pid = self._take_lock(keep_lock)
            if pid is False:
                return None
        raise NotAnswering(pid if isinstance(pid, int) else None)

    def _take_lock(self, keep: bool) -> int | bool | None:
        """False when no process holds the lock (then it is ours if `keep`), else the
        holder's pid (None when it did not write one)."""
        if not keep and not self.state_dir.exists():
            return False  # no state directory: nothing has ever locked it
        lock = StateLock(self.state_dir / "lock")
        try:
            lock.acquire()
        except LockHeld as exc:
            return exc.pid
        if keep:
            self.lock = lock
        else:
            lock.release()
        return False

    def config(self, quiet: bool = False) -> Config | None:
        """The validated jobs file (read once), or None after saying what is wrong."""
        if self._config is None and not self._config_failed:
            try:
                self._config = load_config(self.loc.path)
            except ConfigError as exc:
                self._config_failed = True
                if not quiet:
                    print_problems(exc, self.command, self.err)
        return self._config

    def zone(self, job: str | None) -> tzinfo:
        """The zone a job's times are read and shown in: its own `timezone`, else
        [defaults]'; without a job (or one the file lacks) [defaults]', else this
        machine's."""
        if self._zones is None:
            config = self.config(quiet=True)
            self._zones = {}
            if config is not None:
                self._zones = {j.name: config.zone(j) for j in config.jobs}
                name = config.defaults.timezone
                self._default_zone = get_zone(name) if name else local_zone()
        if job is not None and job in self._zones:
            return self._zones[job]
        return self._default_zone

    def not_running(self, what: str) -> str:
        return (f"crondeck {self.command}: no scheduler runs {self.loc.path} (nothing holds "
                f"{self.state_dir / 'lock'}){what}")


def not_answering(target: Target, exc: NotAnswering) -> int:
    who = f"pid {exc.pid}" if exc.pid else "a process whose pid it did not write"
    print(f"crondeck {target.command}: a crondeck ({who}) holds the lock on "
          f"{target.state_dir} but does not answer on {target.socket}: an older crondeck, "
          "without the control socket? Nothing was changed. Stop it and start `crondeck run` "
          "again to control it from the command line.", file=target.err)
    return EXIT_ERROR


def refused(target: Target, exc: ControlError) -> int:
    """Say what the scheduler answered; no such job and bad requests are usage errors."""
    print(f"crondeck {target.command}: {exc.message}", file=target.err)
    return EXIT_USAGE if exc.code in ("no_such_job", "bad_request") else EXIT_ERROR


def verb(command: str, body: Callable[[Target, argparse.Namespace, TextIO], int]
          ) -> Callable[..., int]:
    """The common frame of a verb: --read-only refused, the target found, the errors every
    verb can meet said in one line."""

    def run(args: argparse.Namespace, out: TextIO | None = None,
            err: TextIO | None = None) -> int:
        out = out or sys.stdout
        err = err or sys.stderr
        if getattr(args, "read_only", False) and command != "status":
            print(f"crondeck {command}: --read-only only observes, and `crondeck {command}` "
                  "changes what the scheduler does; nothing was changed. Drop --read-only.",
                  file=err)
            return EXIT_USAGE
        try:
            with Target(args, command, err) as target:
                try:
                    return body(target, args, out)
                except NotAnswering as exc:
                    return not_answering(target, exc)
                except ControlError as exc:
                    return refused(target, exc)
        except BrokenPipeError:
            raise  # the reader went away: main() ends quietly
        except (ValueError, UnsafeDir, OSError) as exc:
            # a socket path too long, a state directory that is not ours, a state file
            # that cannot be written: each says what and where
            print(f"crondeck {command}: {exc}", file=err)
            return EXIT_ERROR

    return run


# -- times ------------------------------------------------------------------------------

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def parse_until(text: str, zone: tzinfo, now: datetime) -> datetime:
    """`--until`: a clock time (`14:30`, the next one to come, in `zone`), a date (its
    midnight in `zone`) or an ISO date-time (in `zone` unless it has an offset). Raises
    ValueError saying what would be right."""
    s = text.strip()
    m = _CLOCK.fullmatch(s)
    if m:
        hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"--until {text!r} is not a clock time: hours go to 23, minutes "
                             "and seconds to 59")
        day = now.astimezone(zone).date()
        for _ in range(3):  # today, else tomorrow (a time in a DST gap: the day after)
            at = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)
            if at.astimezone(UTC) > now:
                return at.astimezone(UTC)
            day += timedelta(days=1)
    try:
        at = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"--until {text!r} is not a time: write a clock time (14:30, in "
                         f"{zone}), a date (2026-12-24) or an ISO date-time "
                         "(2026-12-24T09:00, 2026-12-24T08:00:00Z)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    if at <= now:
        raise ValueError(f"--until {text!r} has passed (it is {shown(now, zone)}); give a "
                         "time to come")
    return at.astimezone(UTC)


def zoneless(text: str) -> bool:
    """Whether `--until` text is read in a zone (a clock time, a date, a time without
    offset) rather than carrying its own."""
    try:
        return datetime.fromisoformat(text.strip()).tzinfo is None
    except ValueError:
        return True


def duration_arg(text: str) -> timedelta:
    """argparse type of --for."""
    if text.startswith("-") and len(text) > 1:
        try:
            positive = text[1:] if parse_duration(text[1:]) else "30m"
        except DurationError:
            positive = "30m"
        raise argparse.ArgumentTypeError(
            f"{text!r} is negative, and a pause lasts forward from now: give how long, e.g. "
            f"--for {positive}, or a time to resume at with --until")
    try:
        value = parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not value:
        raise argparse.ArgumentTypeError(f"{text!r} is no time at all; give e.g. 30m or 2h")
    return value


def note_arg(text: str) -> str:
    """argparse type of --note: the one check every way of pausing makes."""
    try:
        return check_pause_note(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def shown(at: datetime | str | None, zone: tzinfo | None = None) -> str:
    """`Sat 2026-12-05 14:30:00 CET`, in `zone` (else this machine's)."""
    if at is None:
        return "-"
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M:%S %Z")


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


# -- the saved state, with no scheduler running ----------------------------------------

def _offline_names(target: Target, job: str | None) -> list[str] | None:
    """The jobs an offline change applies to (one, checked against the file, or all), or
    None after saying what is wrong."""
    config = target.config()
    if config is None:
        return None
    if job is None:
        return [j.name for j in config.jobs]
    if not known_job(config, job, target.command, target.err):
        return None
    return [job]


@contextlib.contextmanager
def saved_state(target: Target) -> Iterator[StateStore]:
    """The saved state, under the lock `target` holds; saved atomically on leaving."""
    config = target.config()
    assert config is not None and target.lock is not None
    store = StateStore(target.state_dir / "state.toml",
                       history=config.base_options().history).load()
    for problem in store.problems:
        print(f"crondeck {target.command}: {problem}", file=target.err)
    yield store
    store.flush()


def update(target: Target, names: list[str],
           change: Callable[[JobState], JobState]) -> list[JobState]:
    """Apply `change` to each job's saved state; the states that changed, as now saved."""
    changed = []
    with saved_state(target) as store:
        for name in names:
            old = store.get(name) or JobState(name=name)
            new = change(old)
            if new != old:
                store.put(new)
                changed.append(new)
    return changed


def saved_where(target: Target) -> str:
    return (f"in the saved state ({target.state_dir / 'state.toml'}); the next scheduler "
            "starts with it")


# -- pause / resume ---------------------------------------------------------------------

def _pause(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    job = None if args.all else args.job
    now = datetime.now(UTC)
    # the jobs file is read for its zone only when a time is given
    zone = target.zone(job) if args.for_ is not None or args.until is not None else None
    until = None
    if args.for_ is not None:
        until = now + args.for_
    elif args.until is not None:
        assert zone is not None
        try:
            until = parse_until(args.until, zone, now)
        except ValueError as exc:
            print(f"crondeck pause: {exc}", file=target.err)
            return EXIT_USAGE
        if target.config(quiet=True) is None and zoneless(args.until):
            print(f"crondeck pause: the jobs file has problems (`crondeck check`), so "
                  f"{args.until!r} was read in this machine's zone, {zone}", file=target.err)
    note = args.note or ""
    till = f" until {shown(until, zone)}" if until is not None else " until resumed"
    noted = f" ({note})" if note else ""
    if job is None:
        answer = target.call("pause_all", keep_lock=True, note=note, until=_iso(until))
        if answer is not None:
            print(f"paused every job{noted}{till} on the running scheduler; `crondeck resume "
                  "--all` undoes it", file=out)
            return EXIT_OK
    else:
        answer = target.call("pause", keep_lock=True, job=job, note=note, until=_iso(until))
        if answer is not None:
            print(f"paused {answer['job']!r}{noted}{till}", file=out)
            return EXIT_OK
    names = _offline_names(target, job)
    if names is None:
        return EXIT_USAGE

    def pause(st: JobState) -> JobState:
        if job is None and st.paused:
            return st  # paused on its own already: keeps its own note and end
        return replace(st, paused=True, pause_note=note, pause_until=until)

    changed = update(target, names, pause)
    what = (f"{job!r}" if job is not None else
            f"every job ({len(changed)} newly paused, each on its own)")
    print(f"no scheduler runs {target.loc.path}: paused {what}{noted}{till} "
          f"{saved_where(target)}", file=out)
    return EXIT_OK


def _resume(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    job = None if args.all else args.job
    if job is None:
        answer = target.call("resume_all", keep_lock=True)
        if answer is not None:
            print("resumed the scheduler (paused with --all)", file=out)
            still = target.call("status") or {}
            alone = [j["name"] for j in still.get("jobs", []) if j.get("paused")]
            if alone:
                one = len(alone) == 1
                print(f"{len(alone)} job{'' if one else 's'} stay{'s' if one else ''} paused "
                      f"on {'its' if one else 'their'} own: {', '.join(alone[:10])}"
                      f"{' …' if len(alone) > 10 else ''} (`crondeck resume JOB`)", file=out)
            return EXIT_OK
    else:
        answer = target.call("resume", keep_lock=True, job=job)
        if answer is not None:
            print(f"resumed {answer['job']!r}", file=out)
            return EXIT_OK
    names = _offline_names(target, job)
    if names is None:
        return EXIT_USAGE
    now = datetime.now(UTC)

    def resume(st: JobState) -> JobState:
        if not st.paused:
            return st
        # Resumed live, a job continues from now; resumed here, the slots that fell while
        # it was paused must not be caught up by the next start either.
        last = st.last_slot if st.last_slot is not None and st.last_slot > now else now
        return replace(st, paused=False, pause_note="", pause_until=None, last_slot=last)

    changed = update(target, names, resume)
    where = f"no scheduler runs {target.loc.path}:"
    if job is not None and not changed:
        print(f"{where} {job!r} was not paused; nothing changed", file=out)
    elif job is not None:
        print(f"{where} resumed {job!r} {saved_where(target)}", file=out)
    else:
        print(f"{where} resumed {len(changed)} paused job{'s' if len(changed) != 1 else ''} "
              f"{saved_where(target)}", file=out)
    return EXIT_OK


# -- skip -------------------------------------------------------------------------------

def _skip(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    skip = not args.undo
    answer = target.call("skip_next", keep_lock=True, job=args.job, skip=skip)
    if answer is not None:
        zone = target.zone(args.job) if answer.get("next_fire") else None
        if not skip:
            print(f"{answer['job']!r} will fire its next slot again", file=out)
        elif answer.get("next_fire"):
            print(f"{answer['job']!r} skips its next slot, {shown(answer['next_fire'], zone)}",
                  file=out)
        else:
            print(f"{answer['job']!r} skips its next slot (it has none planned now)", file=out)
        return EXIT_OK
    names = _offline_names(target, args.job)
    if names is None:
        return EXIT_USAGE
    update(target, names, lambda st: replace(st, skip_next=skip))
    where = f"no scheduler runs {target.loc.path}:"
    if not skip:
        print(f"{where} {args.job!r} will fire its next slot again {saved_where(target)}",
              file=out)
        return EXIT_OK
    config = target.config()
    assert config is not None
    spec = config.job(args.job)
    zone = config.zone(spec)
    try:
        nxt = parse(spec.schedule, zone).next_after(datetime.now(UTC))
    except CronError:  # pragma: no cover - validated on load
        nxt = None
    when = (f"{shown(nxt, zone)} if a scheduler runs by then, else the first slot after "
            "it starts" if nxt is not None else "the first slot after a scheduler starts")
    print(f"{where} {args.job!r} skips its next slot ({when}) {saved_where(target)}",
          file=out)
    return EXIT_OK


# -- trigger ----------------------------------------------------------------------------

def _trigger(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    if args.wait:
        try:
            return asyncio.run(_trigger_and_wait(target, args.job, out))
        except NoScheduler:
            # nothing listens: say so, or name a lock holder that does not answer
            if target.call("status") is None:
                return _nothing_runs(target, args.job)
            return asyncio.run(_trigger_and_wait(target, args.job, out))
        except KeyboardInterrupt:
            print(f"crondeck trigger: stopped waiting; the run of {args.job!r} goes on "
                  f"(`crondeck cancel {args.job}` stops it)", file=target.err)
            return EXIT_INTERRUPTED
    answer = target.call("run_now", job=args.job)
    if answer is None:
        return _nothing_runs(target, args.job)
    if answer.get("skipped"):
        return _not_started(target, answer)
    print(f"started {answer['run_id']} (`crondeck logs {answer['job']} -f` follows it)",
          file=out)
    return EXIT_OK


def _not_started(target: Target, answer: dict[str, Any]) -> int:
    print(f"crondeck trigger: {answer['job']!r} not started: "
          f"{answer.get('reason') or 'skipped'}", file=target.err)
    return EXIT_SKIPPED


def _unknown_offline(target: Target, job: str) -> bool:
    """With no scheduler to ask, whether the jobs file lacks `job` (said, with the nearest
    name): a misspelt name is bad input, exit 2, whether or not a scheduler runs."""
    config = target.config(quiet=True)
    return config is not None and not known_job(config, job, target.command, target.err)


def _nothing_runs(target: Target, job: str) -> int:
    if _unknown_offline(target, job):
        return EXIT_USAGE
    print(target.not_running(f"; nothing was started. `crondeck exec {job}` runs it once "
                             "here, in the foreground; `crondeck run` starts the scheduler."),
          file=target.err)
    return EXIT_ERROR


async def _trigger_and_wait(target: Target, job: str, out: TextIO) -> int:
    """Run now and follow that run on the event stream to its end: its output is printed
    as it comes (terminal controls escaped, as `crondeck logs` does) and the exit status
    is its status's, as `crondeck exec` gives."""
    err = target.err
    # The snapshot that comes first is not read here: the short one (shared parts) suffices.
    client = await ControlClient.connect(target.socket, subscribe=True,
                                         client="crondeck trigger", shared=True)
    try:
        answer = await asyncio.wait_for(client.call("run_now", job=job), TIMEOUT)
        if answer.get("skipped"):
            return _not_started(target, answer)
        run_id = answer["run_id"]
        print(f"crondeck trigger: started {run_id}; waiting for it to end", file=err)
        mid_line = False
        async for message in client:
            if message.get("type") != "event":
                continue
            event = message.get("event") or {}
            if event.get("run_id") != run_id:
                continue
            kind = event.get("event")
            if kind == "output_chunk" and event.get("text"):
                stream = err if event.get("stream") == "stderr" else out
                stream.write(escape_controls(event["text"]))
                stream.flush()
                if stream is out:
                    mid_line = not event["text"].endswith("\n")
            elif (kind == "run_finished" and not event.get("will_retry")) or (
                    kind in ("run_skipped", "run_missed")):
                result = RunResult.from_dict(event["result"])
                if mid_line:
                    out.write("\n")
                    out.flush()
                code = exit_code(result)
                line = f"crondeck trigger: {run_id}: {result.status.value}"
                if result.reason:
                    line += f" ({result.reason})"
                print(f"{line}; exit {code}", file=err)
                return code
        why = f" ({client.close_reason})" if client.close_reason else ""
        print(f"crondeck trigger: the connection to the scheduler ended before {run_id} "
              f"did{why}; `crondeck history {job}` shows how it ends", file=err)
        return EXIT_ERROR
    finally:
        await client.close()


# -- cancel -----------------------------------------------------------------------------

def _cancel(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    if args.all:
        status = target.call("status")
        if status is None:
            print(target.not_running("; nothing is running to cancel"), file=target.err)
            return EXIT_ERROR
        names = [j["name"] for j in status.get("jobs", []) if j.get("running")]
        done = []
        for name in names:
            try:
                answer = target.call("cancel", job=name)
            except ControlError as exc:
                if exc.code != "no_such_job":  # removed since: its runs went with it
                    raise
                continue
            if answer and answer.get("cancelled"):
                done.append(f"{name} ({answer['cancelled']})")
        if not done:
            print("nothing was running; nothing cancelled", file=out)
        else:
            print(f"cancelled the runs of {len(done)} job{'s' if len(done) != 1 else ''}: "
                  f"{', '.join(done)}", file=out)
        return EXIT_OK
    answer = target.call("cancel", job=args.job)
    if answer is None:
        if _unknown_offline(target, args.job):
            return EXIT_USAGE
        print(target.not_running(f"; no run of {args.job!r} is going on to cancel"),
              file=target.err)
        return EXIT_ERROR
    n = answer.get("cancelled", 0)
    if n:
        print(f"cancelled {n} run{'s' if n != 1 else ''} of {answer['job']!r} (recorded as "
              f"cancelled, with the output {'it' if n == 1 else 'they'} printed)", file=out)
    else:
        print(f"{answer['job']!r} had no run going on or queued; nothing cancelled", file=out)
    return EXIT_OK


# -- reload -----------------------------------------------------------------------------

def _reload(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    answer = target.call("reload")
    if answer is None:
        print(target.not_running("; nothing to reload: the next `crondeck run` reads the "
                                 "file as it is (`crondeck check` validates it)"),
              file=target.err)
        return EXIT_ERROR
    if not answer.get("applied"):
        problems = answer.get("problems", [])
        n = len(problems)
        print(f"crondeck reload: not applied, {n} problem{'s' if n != 1 else ''} in "
              f"{target.loc.path} (the running schedule is kept):", file=target.err)
        for problem in problems:
            print(f"  {problem}".replace("\n", "\n  "), file=target.err)
        return EXIT_USAGE
    parts = [f"{len(answer.get(k, []))} {k}" + (f" ({', '.join(answer[k])})"
                                                if answer.get(k) else "")
             for k in ("added", "changed", "removed")]
    print(f"reloaded {target.loc.path}: {', '.join(parts)}", file=out)
    return EXIT_OK


# -- registration -----------------------------------------------------------------------

class _Help(argparse.HelpFormatter):
    """Descriptions wrapped to the terminal; the exit status tables kept as laid out."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def parser_for(sub: argparse._SubParsersAction, name: str, help_: str, description: str,
               epilog: str = EXIT_CODES) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help_, description=description, epilog=epilog, formatter_class=_Help)
    add_config_arg(p)
    return p


JOB_HELP = "the job's name, as in the jobs file"


def _job_or_all(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("job", metavar="JOB", nargs="?", help=JOB_HELP)
    p.add_argument("--all", action="store_true", help=what)


def _need_job(func: Callable[..., int]) -> Callable[..., int]:
    def run(args: argparse.Namespace, out: TextIO | None = None,
            err: TextIO | None = None) -> int:
        if (args.job is None) == (not getattr(args, "all", False)):
            print(f"crondeck {args.command}: give a JOB or --all (not both)",
                  file=err or sys.stderr)
            return EXIT_USAGE
        return func(args, out, err)
    return run


_OFFLINE = ("With no scheduler running, it is written to the saved state "
            "(.crondeck/state.toml, under the state lock), so the next scheduler starts with it.")


def register(sub: argparse._SubParsersAction) -> None:
    p = parser_for(sub, "pause", "pause a job (or every job) on the running scheduler",
                "Pause JOB: its slots are recorded as skipped (\"paused: NOTE\") until "
                "resumed, or until --for/--until runs out. --all pauses the whole scheduler "
                "while it runs (each job keeps its own pause underneath; a restart ends it). "
                + _OFFLINE + " (--all then pauses each job on its own.)")
    _job_or_all(p, "pause every job")
    p.add_argument("--note", metavar="TEXT", type=note_arg,
                   help="why (shown in the console and history; at most 500 characters)")
    span = p.add_mutually_exclusive_group()
    span.add_argument("--for", dest="for_", metavar="DURATION", type=duration_arg,
                      help="resume by itself after this long: 30m, 2h, 1d")
    span.add_argument("--until", metavar="TIME",
                      help="resume by itself at TIME: 14:30 (the next one, in the job's zone), "
                           "2026-12-24, or an ISO date-time such as 2026-12-24T08:00:00Z")
    p.set_defaults(func=_need_job(verb("pause", _pause)))

    p = parser_for(sub, "resume", "resume a paused job (or the whole scheduler)",
                "Resume JOB: it continues from now (the slots it missed while paused are not "
                "caught up). --all lifts a `pause --all`; jobs paused on their own stay "
                "paused. " + _OFFLINE + " (--all then resumes every paused job.)")
    _job_or_all(p, "resume the scheduler paused with --all")
    p.set_defaults(func=_need_job(verb("resume", _resume)))

    p = parser_for(sub, "trigger", "run a job now on the running scheduler",
                "Run JOB now, outside its schedule, on the running scheduler (its overlap "
                "policy still applies). With --wait, print its output as it comes and exit "
                "with its status. With no scheduler running nothing is started: `crondeck "
                "exec JOB` runs one slot here instead.", TRIGGER_EXIT_CODES)
    p.add_argument("job", metavar="JOB", help=JOB_HELP)
    p.add_argument("--wait", action="store_true",
                   help="wait for the run to end, showing its output; exit with its status")
    p.set_defaults(func=verb("trigger", _trigger))

    p = parser_for(sub, "skip", "skip a job's next slot",
                "Skip JOB's next slot (recorded as skipped by operator); says which one. "
                "--undo takes the skip back. " + _OFFLINE)
    p.add_argument("job", metavar="JOB", help=JOB_HELP)
    p.add_argument("--undo", action="store_true", help="fire the next slot after all")
    p.set_defaults(func=verb("skip", _skip))

    p = parser_for(sub, "cancel", "cancel a job's runs in flight (or every run)",
                "Cancel JOB's runs in flight and its queued slot on the running scheduler: "
                "they are recorded as cancelled with the output they printed. --all cancels "
                "every run in flight. With no scheduler running, nothing runs to cancel.")
    _job_or_all(p, "cancel every run in flight")
    p.set_defaults(func=_need_job(verb("cancel", _cancel)))

    p = parser_for(sub, "reload", "make the running scheduler re-read the jobs file now",
                "Ask the running scheduler to re-read the jobs file now (it also does by "
                "itself within two seconds of a change). Prints what was added, changed and "
                "removed, or the file's problems (line and key): an invalid file is not "
                "applied, the running schedule is kept, and the exit status is 2.")
    p.set_defaults(func=verb("reload", _reload))

