"""What every export target shares: the result shape, refusals, each job's options, the
command line that runs one slot, and the translation of a schedule into 5 cron fields.

Exports are pure functions from a Config to text. A target that cannot express a job's
schedule exactly refuses that job (with why and what to change) instead of exporting
something that fires at other times; everything it can express but with different
semantics (catch-up, overlap) becomes a warning, and a comment in the output. A job the
target would fire at other instants on DST days is refused too (see `dst.py`), unless the
caller allows DST differences: then each such day is a warning and a comment.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from ..config import Config, JobSpec
from ..cronexpr import CronExpr, CronFields, consecutive_runs, parse
from ..durations import format_duration
from ..interval import EPOCH, Every
from ..options import JobOptions

__all__ = [
    "DEFAULT_COMMAND",
    "ExportResult",
    "JobPlan",
    "Refusal",
    "ScheduleRefused",
    "cron_fields",
    "exec_argv",
    "plan_jobs",
    "run_budget",
    "unique_names",
]

DEFAULT_COMMAND: tuple[str, ...] = ("crondeck",)
MAX_BACKOFF = 3600.0  # the runner caps one retry delay at an hour


class ScheduleRefused(ValueError):
    """A schedule the target cannot express exactly: `why` and `fix` are for the operator."""

    def __init__(self, why: str, fix: str) -> None:
        super().__init__(f"{why}; {fix}")
        self.why = why
        self.fix = fix


@dataclass(frozen=True)
class Refusal:
    """A job left out of an export, and what to change so it can be exported."""

    job: str
    target: str
    why: str
    fix: str
    details: tuple[str, ...] = ()  # lines between why and fix (a DST refusal's days)
    dst: bool = False  # the target would fire at other instants on DST days

    def __str__(self) -> str:
        head = f"job {self.job!r} not exported to {self.target}: {self.why}"
        if not self.details:
            return f"{head}; {self.fix}"
        return "\n  ".join([f"{head}:", *self.details, *self.fix.splitlines()])


@dataclass
class ExportResult:
    """Files by name (relative to --out), warnings worth reading, refused jobs, and the
    jobs left out because they are switched off (`enabled = false`: crondeck never fires
    them, so neither should the target; not a refusal, nothing to fix)."""

    target: str
    files: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)

    def warn(self, job: str, message: str) -> str:
        """Record a warning about `job`; returns the message for a comment in the output."""
        self.warnings.append(f"job {job!r}: {message}")
        return message


@dataclass(frozen=True)
class JobPlan:
    """One job as the exporters see it: spec, parsed schedule, zone and effective options;
    `enabled` False for a job switched off (its own key or [defaults]')."""

    spec: JobSpec
    schedule: CronExpr | Every
    zone: ZoneInfo
    options: JobOptions
    enabled: bool = True

    @property
    def name(self) -> str:
        return self.spec.name


def plan_jobs(config: Config) -> list[JobPlan]:
    """Every job of the (validated) config with its schedule parsed in its zone and the
    options `crondeck run` gives it, so exported timeouts and deadlines match what it
    enforces."""
    plans = []
    for job in config.jobs:
        zone = config.zone(job)
        plans.append(JobPlan(job, parse(job.schedule, zone), zone, config.options(job),
                             config.enabled(job)))
    return plans


def run_budget(opts: JobOptions) -> float | None:
    """The longest one slot can take under `crondeck exec`: gate, every attempt with its
    kill grace, and the backoffs between attempts, plus a minute of slack. None when the job
    has no timeout (so neither may the target)."""
    if opts.timeout is None:
        return None
    attempts = opts.retries + 1
    backoff = sum(min(opts.retry_backoff * 2.0**i, MAX_BACKOFF) for i in range(opts.retries))
    gate = opts.gate_timeout if opts.pre_run is not None else 0.0
    return gate + attempts * (opts.timeout + opts.kill_grace) + backoff + 60.0


def exec_argv(command: Sequence[str], config_path: str, job: str,
              extra: Sequence[str] = ()) -> list[str]:
    """`crondeck --config PATH exec JOB [extra]`: how every target runs one slot."""
    return [*command, "--config", config_path, "exec", job, *extra]


def shell_line(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def unique_names(names: Sequence[str], slug: re.Pattern[str], *, lower: bool = False,
                 max_len: int = 200, replacement: str = "-") -> dict[str, str]:
    """Target-safe names for jobs: unsafe characters replaced; a short hash of the real
    name is appended when the safe form collides with another job's or had to be cut."""
    def base(name: str) -> str:
        text = name.lower() if lower else name
        text = slug.sub(replacement, text).strip(replacement)
        return re.sub(re.escape(replacement) + "+", replacement, text) or "job"

    bases = {n: base(n) for n in names}
    counts: dict[str, int] = {}
    for b in bases.values():
        counts[b] = counts.get(b, 0) + 1
    out = {}
    for name, b in bases.items():
        if counts[b] > 1 or len(b) > max_len:
            digest = hashlib.sha1(name.encode()).hexdigest()[:6]
            b = f"{b[: max_len - 7].rstrip(replacement)}{replacement}{digest}"
        out[name] = b
    return out


# --- schedules as 5 cron fields ---------------------------------------------------------

_FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def compress(values: Sequence[int], lo: int, hi: int) -> str:
    """Canonical text for a value set: `*`, `*/n`, `a-b/n`, or ranges and values."""
    vals = sorted(set(values))
    if vals == list(range(lo, hi + 1)):
        return "*"
    if len(vals) >= 3:
        step = vals[1] - vals[0]
        if step > 1 and vals == list(range(vals[0], hi + 1, step)):
            return f"*/{step}" if vals[0] == lo else f"{vals[0]}-{hi}/{step}"
    return join_runs(vals, str, lambda a, b: f"{a}-{b}")


def join_runs(
    vals: Sequence[int], one: Callable[[int], str], span: Callable[[int, int], str]
) -> str:
    """Sorted values as a comma list, three or more consecutive ones written as a span."""
    parts: list[str] = []
    for a, b in consecutive_runs(vals):
        parts.extend([span(a, b)] if b - a >= 2 else [one(v) for v in range(a, b + 1)])
    return ",".join(parts)


def _interval_fields(every: Every, target: str) -> tuple[str, ZoneInfo]:
    """`@every` as cron fields in UTC (the grid is anchored in UTC), or ScheduleRefused."""
    period = every.period.total_seconds()
    text = every.text or f"@every {every.period}"
    if every.anchor != EPOCH:
        raise ScheduleRefused(f"{text} is anchored at {every.anchor.isoformat()}, not on the "
                              "UTC clock grid", "use a cron expression instead")
    if period % 60:
        raise ScheduleRefused(
            f"{text} has seconds in it; {target} fires on whole minutes",
            "use whole minutes that divide an hour (1m, 2m, 5m, 10m, 15m, 20m, 30m) or whole "
            "hours that divide a day")
    minutes = int(period // 60)
    if minutes < 60 and 60 % minutes == 0:
        return ("* * * * *" if minutes == 1 else f"*/{minutes} * * * *"), ZoneInfo("UTC")
    if minutes % 60 == 0 and 24 % (minutes // 60) == 0:
        hours = minutes // 60
        text = {1: "0 * * * *", 24: "0 0 * * *"}.get(hours, f"0 */{hours} * * *")
        return text, ZoneInfo("UTC")
    raise ScheduleRefused(
        f"{text} does not divide an hour or a day, so no cron expression fires on its grid "
        "(it drifts across hour and day boundaries)",
        "use a period that divides 60 minutes (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, "
        "30m) or whole hours that divide 24 (1h, 2h, 3h, 4h, 6h, 8h, 12h, 24h), or a cron "
        "expression")


def cron_fields(schedule: CronExpr | Every, target: str, *, k8s: bool = False
                ) -> tuple[str, ZoneInfo]:
    """Five cron fields (numbers only, Sunday = 0, ascending ranges) meaning exactly what
    crondeck fires, and the zone to evaluate them in; ScheduleRefused when the target cannot
    say it.

    cronie (the crontab target) reads a field as unrestricted when its text starts with `*`:
    that decides the day fields' AND/OR and, for minute and hour, the DST rule (see
    `crondeck.core.cronexpr`), so each field keeps exactly the star-ness it was written with.
    `k8s`: robfig/cron ANDs the day fields only when one of them is a plain `*` (or `?`, or
    `*/1`), and its day-of-week runs 0-6 only."""
    if isinstance(schedule, Every):
        return _interval_fields(schedule, target)
    f = schedule.f
    where = f"{schedule.text!r}"
    if f.dom_last or f.dom_last_weekday:
        raise ScheduleRefused(
            f"{where}: {target} has no 'L' (last day of the month) in day-of-month",
            "export this job to systemd (it has last-day calendars), or schedule days 28-31 "
            "with pre_run = 'test \"$(date -d tomorrow +%d)\" = 01' to keep only the last one")
    if f.dom_nearest:
        raise ScheduleRefused(
            f"{where}: {target} has no 'W' (nearest weekday) in day-of-month",
            "list the days explicitly, or keep W and run this job with `crondeck run`")
    if f.dow_nth or f.dow_last:
        raise ScheduleRefused(
            f"{where}: {target} has no '#' (nth weekday) or 'L' (last weekday) in day-of-week",
            "export this job to systemd (it expresses both), or schedule the weekday range of "
            "days with a pre_run gate (for 1#2: '0 9 * * 1' with "
            "pre_run = 'test $(date +%d) -ge 8 -a $(date +%d) -le 14')")
    month = compress(f.months, *_FIELD_RANGES[3])
    if k8s:
        minute = compress(f.minutes, *_FIELD_RANGES[0])
        hour = compress(f.hours, *_FIELD_RANGES[1])
        dom, dow = _robfig_days(f, where)
    else:
        minute = _cronie_field(f.minutes, 0, f.texts[0][0] == "*")
        hour = _cronie_field(f.hours, 1, f.texts[1][0] == "*")
        dom = _cronie_field(f.dom, 2, f.dom_star)
        dow = _cronie_field(f.dow, 4, f.dow_star)
    return f"{minute} {hour} {dom} {month} {dow}", schedule.tz


def _cronie_field(values: Collection[int], k: int, star: bool) -> str:
    """One field for cronie with the given star-ness and exactly these values."""
    lo, hi = _FIELD_RANGES[k]
    text = compress(sorted(values), lo, hi)
    if not star:  # a full or stepped set written without a leading '*'
        return f"{lo}-{hi}" if text == "*" else (
            f"{lo}-{hi}/{text[2:]}" if text.startswith("*/") else text)
    if text.startswith("*"):
        return text
    # A '*'-led field always holds its first value (its first item is '*' or '*/n'): lead
    # with the widest '*/n' inside the set (for day-of-week, '*/7' is Sunday alone), then
    # list the rest.
    vals = set(values)
    step = next(n for n in range(2, hi - lo + 2)
                if set(range(lo, hi + 1, n)) <= vals)
    rest = sorted(vals - set(range(lo, hi + 1, step)))
    return ",".join([f"*/{step}", *([join_runs(rest, str, lambda a, b: f"{a}-{b}")]
                                    if rest else [])])


def _robfig_days(f: CronFields, where: str) -> tuple[str, str]:
    """Day-of-month and day-of-week for robfig/cron: it ORs them unless one is a plain `*`,
    where crondeck ANDs them whenever one starts with `*`."""
    full_dom = set(f.dom) == set(range(1, 32))
    full_dow = set(f.dow) == set(range(7))
    ored = not f.dom_star and not f.dow_star
    if (full_dom and full_dow) or (ored and (full_dom or full_dow)):
        return "*", "*"  # every day (an OR with a full field is every day too)
    if ored:  # neither may be a plain '*'
        dom = compress(sorted(f.dom), 1, 31)
        dow = compress(sorted(f.dow), 0, 6)
        return (f"1-31/{dom[2:]}" if dom.startswith("*/") else dom,
                f"0-6/{dow[2:]}" if dow.startswith("*/") else dow)
    if full_dom:  # AND with every day of the month: the weekdays decide
        return "*", compress(sorted(f.dow), 0, 6)
    if full_dow:
        return compress(sorted(f.dom), 1, 31), "*"
    star, name = (f.texts[2], "day-of-month") if f.dom_star else (f.texts[4], "day-of-week")
    raise ScheduleRefused(
        f"{where}: {name} {star!r} starts with '*', so crondeck ANDs it with the other day "
        "field, but Kubernetes ORs them (it ANDs only beside a plain *)",
        "restrict only one day field and move the other condition into a pre_run gate")


def human_seconds(value: float) -> str:
    """'90s', '5m', '1h30m' for unit comments."""
    return format_duration(timedelta(seconds=value))
