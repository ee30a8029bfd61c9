"""Export a jobs file to the engines teams already run: crontab, systemd timers, and
Kubernetes CronJobs. Pure functions from a Config to text; each runs one slot with
`crondeck exec JOB`, so gates, timeouts, retries and redaction stay crondeck's."""

from .crontab import export_crontab
from .k8s import K8sOptions, export_k8s
from .model import ExportResult, Refusal, ScheduleRefused, cron_fields
from .service import export_service, service_unit_name
from .systemd import DstDifference, dst_differences, export_systemd, on_calendar

__all__ = [
    "DstDifference",
    "ExportResult",
    "K8sOptions",
    "Refusal",
    "ScheduleRefused",
    "cron_fields",
    "dst_differences",
    "export_crontab",
    "export_k8s",
    "export_service",
    "export_systemd",
    "on_calendar",
    "service_unit_name",
]
