"""`crondeck export k8s`: a ConfigMap holding the jobs file and one CronJob per job whose
container runs `crondeck exec JOB` with the ConfigMap mounted.

How a slot keeps its run id across pod retries: the CronJob controller names each Job
`<cronjob>-<scheduled time in minutes since the epoch>` and labels its pods `job-name`; the
container reads that label through the downward API and passes it to `crondeck exec
--k8s-job`, which derives the scheduled slot from it. Retries are Kubernetes' (backoffLimit
from `retries`), so exec runs with `--no-retries`; a gate skip exits 0 so it is not retried;
a bad jobs file (exit 2) fails the Job at once (podFailurePolicy).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import Config
from ..cronexpr import CronExpr
from ..interval import Every
from .dst import DayDiff, dst_refusal
from .model import (
    ExportResult,
    JobPlan,
    Refusal,
    ScheduleRefused,
    cron_fields,
    plan_jobs,
    run_budget,
    unique_names,
)
from .robfig import differences
from .yamltext import dump_documents

__all__ = ["K8sOptions", "export_k8s"]

TARGET = "Kubernetes"
MOUNT = "/etc/crondeck"
_DNS_UNSAFE = re.compile(r"[^a-z0-9-]")
OVERLAP = {"skip": "Forbid", "queue_one": "Forbid", "replace": "Replace", "allow": "Allow"}


@dataclass
class K8sOptions:
    """What the cluster side needs that the jobs file does not say."""

    image: str = "crondeck:latest"
    namespace: str | None = None
    configmap: str = "crondeck-jobs"
    secret: str = "crondeck-secrets"  # holds every api_key_env / --secret-env by its name
    secret_env: list[str] = field(default_factory=list)
    requests: dict[str, str] = field(default_factory=dict)  # {"cpu": "100m", ...}
    limits: dict[str, str] = field(default_factory=dict)
    successful_history: int = 3
    failed_history: int = 3
    command: list[str] = field(default_factory=lambda: ["crondeck"])


def _metadata(name: str, opts: K8sOptions, job: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if opts.namespace:
        meta["namespace"] = opts.namespace
    meta["labels"] = {"app.kubernetes.io/name": "crondeck",
                      "app.kubernetes.io/managed-by": "crondeck-export"}
    if job is not None:
        meta["annotations"] = {"crondeck/job": job}
    return meta


def _api_key_envs(config: Config, plan: JobPlan) -> list[str]:
    """Environment variable names holding API keys the job's agent uses (`api_key_env`,
    on the job or its agent, when present)."""
    names = []
    agent = config.agents.get(plan.spec.agent) if plan.spec.agent else None
    for source in (plan.spec, agent):
        value = getattr(source, "api_key_env", None) if source is not None else None
        if isinstance(value, str) and value:
            names.append(value)
    return names


def _cronjob(config: Config, plan: JobPlan, name: str, schedule: str, zone: str,
             opts: K8sOptions, paused: bool, notes: list[str]) -> dict[str, Any]:
    jopts = plan.options
    args = ["--config", f"{MOUNT}/{Path(config.path).name}", "exec", plan.name,
            "--k8s-job", "$(CRONDECK_K8S_JOB)", "--no-retries", "--skipped-exit-code", "0"]
    env: list[dict[str, Any]] = [{
        "name": "CRONDECK_K8S_JOB",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}},
    }]
    for var in dict.fromkeys([*_api_key_envs(config, plan), *opts.secret_env]):
        env.append({"name": var, "valueFrom": {"secretKeyRef": {"name": opts.secret,
                                                                "key": var}}})
    container: dict[str, Any] = {"name": "crondeck", "image": opts.image,
                                 "command": list(opts.command), "args": args, "env": env}
    resources = {k: v for k, v in (("requests", opts.requests), ("limits", opts.limits)) if v}
    if resources:
        container["resources"] = resources
    container["volumeMounts"] = [{"name": "jobs-file", "mountPath": MOUNT, "readOnly": True}]
    job_spec: dict[str, Any] = {"backoffLimit": jopts.retries}
    budget = run_budget(jopts.merged(retries=0))
    if budget is not None:
        job_spec["activeDeadlineSeconds"] = math.ceil(budget) * (jopts.retries + 1)
    job_spec["podFailurePolicy"] = {"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "crondeck",
                                              "operator": "In", "values": [2]}},
    ]}
    job_spec["template"] = {
        "metadata": {"labels": {"app.kubernetes.io/name": "crondeck"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [container],
            "volumes": [{"name": "jobs-file", "configMap": {"name": opts.configmap}}],
        },
    }
    spec: dict[str, Any] = {"schedule": schedule, "timeZone": zone, "suspend": paused,
                            "concurrencyPolicy": OVERLAP[jopts.overlap]}
    if jopts.misfire_grace is not None:
        spec["startingDeadlineSeconds"] = max(10, math.ceil(jopts.misfire_grace))
    spec["successfulJobsHistoryLimit"] = opts.successful_history
    spec["failedJobsHistoryLimit"] = opts.failed_history
    spec["jobTemplate"] = {"spec": job_spec}
    meta = _metadata(name, opts, plan.name)
    if notes:
        meta["annotations"]["crondeck/notes"] = "\n".join(notes)
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta, "spec": spec}


def _fires_like_crondeck(schedule: CronExpr, now: datetime) -> bool:
    """Whether `schedule` is exported and Kubernetes fires it at crondeck's instants on
    every DST day of the coming year."""
    try:
        fields, _ = cron_fields(schedule, TARGET, k8s=True)
    except ScheduleRefused:
        return False
    return not differences(fields, schedule, now)


def export_k8s(config: Config, options: K8sOptions | None = None, *,
               config_text: str | None = None, paused: Collection[str] = (),
               now: datetime | None = None, allow_dst_differences: bool = False
               ) -> ExportResult:
    """`crondeck.yaml`: the ConfigMap and the CronJobs (none for a disabled job: listed in
    `disabled`). `config_text` is the jobs file as it should appear in the ConfigMap
    (default: read from `config.path`). A job Kubernetes would fire at other instants on
    a DST day of the coming year (from `now`) is refused, unless `allow_dst_differences`:
    then each such day is a warning and a line of its `crondeck/notes` annotation."""
    opts = options or K8sOptions()
    result = ExportResult(TARGET)
    now = now or datetime.now(UTC)
    text = config_text if config_text is not None else Path(config.path).read_text("utf-8")
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": _metadata(opts.configmap, opts),
                 "data": {Path(config.path).name: text}}
    docs: list[dict[str, Any]] = [configmap]
    names = unique_names([j.name for j in config.jobs], _DNS_UNSAFE, lower=True, max_len=52)
    for plan in plan_jobs(config):
        if not plan.enabled:  # crondeck never fires it: no CronJob (listed in the summary)
            result.disabled.append(plan.name)
            continue
        try:
            schedule, tz = cron_fields(plan.schedule, TARGET, k8s=True)
        except ScheduleRefused as exc:
            result.refused.append(Refusal(plan.name, TARGET, exc.why, exc.fix))
            continue
        diffs = [] if isinstance(plan.schedule, Every) else differences(
            schedule, plan.schedule, now)
        stuck = [d for d in diffs if d.stuck is not None]
        if stuck:
            result.refused.append(Refusal(
                plan.name, TARGET, stuck[0].message,
                "give the job timezone = 'UTC' (with its times converted) or a time of day "
                "that no DST change of its zone passes through, or run it with systemd or "
                "`crondeck run`"))
            continue
        if diffs and not allow_dst_differences:
            assert isinstance(plan.schedule, CronExpr)  # an @every has no DST differences
            result.refused.append(dst_refusal(
                plan.name, TARGET, plan.schedule,
                [DayDiff(d.day, d.crondeck_only, d.kubernetes_only) for d in diffs],
                lambda expr: _fires_like_crondeck(expr, now), "Kubernetes"))
            continue
        notes: list[str] = []
        jopts = plan.options
        if jopts.overlap == "queue_one":
            notes.append(result.warn(plan.name, "overlap = 'queue_one' becomes "
                                     "concurrencyPolicy Forbid: a slot due while a run is "
                                     "going is skipped, not queued"))
        if jopts.catchup == "all":
            notes.append(result.warn(plan.name, "catchup = 'all' is not expressible: the "
                                     "CronJob controller starts only the latest missed slot"))
        if jopts.max_runs is not None or jopts.until is not None:
            notes.append(result.warn(plan.name, "max_runs/until are not enforced; suspend "
                                     "the CronJob when the job is done"))
        if plan.spec.pre_run and not Path(plan.spec.pre_run.split()[0]).is_absolute():
            notes.append(result.warn(plan.name, f"pre_run {plan.spec.pre_run!r} is relative "
                                     f"to the jobs file ({MOUNT} in the pod): ship it in the "
                                     "image at that path or give an absolute path"))
        for diff in diffs:
            notes.append(result.warn(plan.name, diff.message))
        docs.append(_cronjob(config, plan, names[plan.name], schedule, tz.key, opts,
                             plan.name in paused, notes))
    header = (f"Generated by `crondeck export k8s` from {Path(config.path).name}\n"
              "Needs Kubernetes 1.27+ (timeZone, podFailurePolicy). Create the Secret "
              f"{opts.secret!r} with every variable\nreferenced by secretKeyRef before "
              "applying: kubectl apply -f crondeck.yaml")
    result.files["crondeck.yaml"] = dump_documents(docs, header)
    return result
