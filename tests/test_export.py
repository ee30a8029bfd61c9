"""`crondeck export`: golden files for a representative jobs file, every refusal, YAML that a
real parser reads back, and the systemd calendars checked fire by fire against the real
`systemd-analyze calendar` in several zones, DST days included."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from systemd_analyze import calendar_fires, expected_fires, union_fires

from crondeck.cli.main import main
from crondeck.core import parse
from crondeck.core.config import load_config, parse_config
from crondeck.core.export import (
    K8sOptions,
    ScheduleRefused,
    cron_fields,
    export_crontab,
    export_k8s,
    export_systemd,
    on_calendar,
)

GOLDEN = Path(__file__).parent / "golden" / "export"
JOBS = GOLDEN / "crondeck.toml"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
UPDATE = bool(os.environ.get("CRONDECK_UPDATE_GOLDEN"))


def _exports(allow_dst_differences: bool = True) -> dict[str, object]:
    """The goldens allow DST differences, so each such day is stated (inbox-watch's in
    Berlin for systemd); by default that job is refused (see the DST refusal tests)."""
    config = load_config(JOBS)
    dst = {"allow_dst_differences": allow_dst_differences}
    return {
        "crontab": export_crontab(config, command=["/usr/bin/crondeck"],
                                  config_path="/srv/agents/crondeck.toml",
                                  paused={"heartbeat"}),
        "systemd": export_systemd(config, command=["/usr/bin/crondeck"],
                                  config_path="/srv/agents/crondeck.toml", now=NOW,
                                  paused={"heartbeat"}, **dst),
        "k8s": export_k8s(config, K8sOptions(namespace="agents", image="ghcr.io/acme/crondeck:1",
                                             secret_env=["ANTHROPIC_API_KEY"],
                                             requests={"cpu": "100m", "memory": "128Mi"},
                                             limits={"memory": "512Mi"}),
                          now=NOW, paused={"heartbeat"}, **dst),
    }


def _report(result) -> str:
    lines = [f"warning: {w}" for w in result.warnings]
    lines += [f"refused: {r}" for r in result.refused]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("target", ["crontab", "systemd", "k8s"])
def test_golden_exports(target: str) -> None:
    result = _exports()[target]
    files = {**result.files, "_report.txt": _report(result)}
    directory = GOLDEN / target
    if UPDATE:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (directory / name).write_text(text)
    expected = {p.name: p.read_text() for p in directory.iterdir()}
    assert files == expected


def test_refused_jobs_are_named_with_why_and_what_to_change() -> None:
    results = _exports()
    refused = {t: {r.job: r for r in res.refused} for t, res in results.items()}
    assert set(refused["crontab"]) == {"month-end", "second-monday", "odd-cadence", "payday"}
    assert set(refused["k8s"]) == {"month-end", "second-monday", "odd-cadence", "payday"}
    assert set(refused["systemd"]) == {"odd-cadence", "payday"}
    assert "'L' (last day of the month)" in refused["crontab"]["month-end"].why
    assert "systemd" in refused["crontab"]["month-end"].fix
    assert "does not divide an hour or a day" in refused["k8s"]["odd-cadence"].why
    assert "15m" in refused["k8s"]["odd-cadence"].fix
    assert "'W'" in refused["systemd"]["payday"].why
    crontab = results["crontab"].files["crontab"]
    assert "exec month-end" not in crontab and "exec odd-cadence" not in crontab


@pytest.mark.parametrize(("expr", "message"), [
    ("0 9 L * *", "'L' (last day of the month)"),
    ("0 9 LW * *", "'L' (last day of the month)"),
    ("0 9 15W * *", "'W' (nearest weekday)"),
    ("0 9 * * 1#2", "'#' (nth weekday)"),
    ("0 9 * * 5L", "'L' (last weekday)"),
    ("@every 7m", "does not divide an hour or a day"),
    ("@every 90m", "does not divide an hour or a day"),
    ("@every 5h", "does not divide an hour or a day"),
    ("@every 90s", "has seconds in it"),
])
@pytest.mark.parametrize("target", ["crontab", "Kubernetes"])
def test_cron_targets_refuse_what_they_cannot_say(expr: str, message: str, target: str) -> None:
    with pytest.raises(ScheduleRefused) as info:
        cron_fields(parse(expr, "Europe/Berlin"), target, k8s=target == "Kubernetes")
    assert message in info.value.why
    assert info.value.fix


def test_kubernetes_refuses_a_star_step_day_field_beside_a_restricted_one() -> None:
    """cronie/crondeck AND `*/2` with MON; Kubernetes (robfig/cron) would OR them."""
    schedule = parse("0 0 */2 * MON", "UTC")
    assert cron_fields(schedule, "crontab") == ("0 0 */2 * 1", schedule.tz)
    with pytest.raises(ScheduleRefused, match="Kubernetes ORs them"):
        cron_fields(schedule, "Kubernetes", k8s=True)


@pytest.mark.parametrize(("expr", "fields", "zone"), [
    ("@every 5m", "*/5 * * * *", "UTC"),
    ("@every 1h", "0 * * * *", "UTC"),
    ("@every 6h", "0 */6 * * *", "UTC"),
    ("@every 1d", "0 0 * * *", "UTC"),
    ("@daily", "0 0 * * *", "Asia/Kolkata"),
    ("0 9 * * MON-FRI", "0 9 * * 1-5", "Asia/Kolkata"),
    ("0 9 * * 7", "0 9 * * 0", "Asia/Kolkata"),
    ("0 0 1,15 * MON", "0 0 1,15 * 1", "Asia/Kolkata"),
    ("0 0 1-31 * MON", "0 0 1-31 * 1", "Asia/Kolkata"),
])
def test_cron_fields_mean_the_same_slots(expr: str, fields: str, zone: str) -> None:
    """`@every` runs on the UTC grid, so it is exported in UTC; names become numbers; a
    restricted day field keeps being restricted (so the DOM/DOW OR survives)."""
    assert cron_fields(parse(expr, "Asia/Kolkata"), "crontab") == (fields, parse("@daily",
                                                                                  zone).tz)


def test_systemd_refuses_every_that_does_not_divide_a_day() -> None:
    with pytest.raises(ScheduleRefused, match="does not divide a day"):
        on_calendar(parse("@every 7m", "UTC"))
    with pytest.raises(ScheduleRefused, match="has no systemd calendar"):
        on_calendar(parse("0 0 */2 * 5L", "UTC"))
    assert on_calendar(parse("@every 90m", "UTC")) == ["*-*-* 00/3:00:00 UTC",
                                                       "*-*-* 01/3:30:00 UTC"]


def test_k8s_yaml_reads_back_with_a_real_parser() -> None:
    result = _exports()["k8s"]
    docs = list(yaml.safe_load_all(result.files["crondeck.yaml"]))
    configmap, *cronjobs = docs
    assert configmap["kind"] == "ConfigMap"
    assert configmap["data"]["crondeck.toml"] == JOBS.read_text()
    by_job = {d["metadata"]["annotations"]["crondeck/job"]: d for d in cronjobs}
    assert set(by_job) == {"inbox-watch", "Morning digest", "heartbeat"}
    digest = by_job["Morning digest"]
    spec = digest["spec"]
    assert digest["metadata"]["name"] == "morning-digest"
    assert spec["schedule"] == "30 2 * * 1-5"
    assert spec["timeZone"] == "America/New_York"
    assert spec["concurrencyPolicy"] == "Forbid"  # queue_one, with a warning
    assert spec["startingDeadlineSeconds"] == 300  # misfire_grace 5m
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 2
    container = job["template"]["spec"]["containers"][0]
    assert container["args"][:4] == ["--config", "/etc/crondeck/crondeck.toml", "exec",
                                     "Morning digest"]
    secrets = {e["name"]: e["valueFrom"] for e in container["env"]}
    assert secrets["ANTHROPIC_API_KEY"] == {
        "secretKeyRef": {"name": "crondeck-secrets", "key": "ANTHROPIC_API_KEY"}}
    assert "sonnet" not in str(container["env"])
    assert by_job["heartbeat"]["spec"]["suspend"] is True
    assert by_job["heartbeat"]["spec"]["concurrencyPolicy"] == "Allow"
    assert by_job["heartbeat"]["spec"]["timeZone"] == "UTC"
    assert by_job["inbox-watch"]["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert any("queue_one" in w for w in result.warnings)


def test_yaml_emitter_round_trips_awkward_text() -> None:
    from crondeck.core.export.yamltext import dump_yaml

    value = {"a": ["no", "yes", "1.0", "*/5 * * * *", " lead", "x: y", "#c", "", "~", "null"],
             "b": "line 1\n  indented\n\nlast\n", "c": "no newline\nat end", "d": "two\n\n",
             "e": {"nested": [{"k": 1, "l": True}, []], "empty": {}}, "f": "tab\there",
             "g": "  starts indented\nsecond\n", "h": "ünïcode ✓\n"}
    assert yaml.safe_load(dump_yaml(value)) == value


def test_api_key_env_of_the_agent_becomes_a_secret_ref(tmp_path: Path) -> None:
    config = parse_config('[[jobs]]\nname = "x"\ncommand = "true"\nschedule = "@hourly"\n',
                          tmp_path / "crondeck.toml")
    config.jobs[0].api_key_env = "OPENAI_API_KEY"  # as the file would set it on the job
    text = export_k8s(config, config_text="").files["crondeck.yaml"]
    env = yaml.safe_load_all(text)
    cronjob = list(env)[1]
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "OPENAI_API_KEY", "valueFrom": {"secretKeyRef": {
        "name": "crondeck-secrets", "key": "OPENAI_API_KEY"}}} in container["env"]


# --- the command line ---------------------------------------------------------------------


def test_cli_writes_files_and_exits_1_when_jobs_were_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "units"
    code = main(["--config", str(JOBS), "export", "systemd", "--out", str(out),
                 "--crondeck", "/usr/bin/crondeck", "--allow-dst-differences"])
    captured = capsys.readouterr()
    assert code == 1
    assert "refused: job 'payday' not exported to systemd" in captured.err
    assert "warning: job 'inbox-watch': " in captured.err  # its DST day, with the opt-in
    assert "happens twice (DST ends): crondeck runs both times" in captured.err
    assert (out / "crondeck-inbox-watch.timer").read_text().count("OnCalendar=") == 1
    assert "exec inbox-watch" in (out / "crondeck-inbox-watch.service").read_text()


def test_cli_prints_a_crontab_and_exits_0_when_all_jobs_fit(tmp_path: Path, capsys) -> None:
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text('[[jobs]]\nname = "a b"\ncommand = "true"\nschedule = "0 9 * * 1-5"\n'
                    'timezone = "Europe/Berlin"\n')
    assert main(["--config", str(jobs), "export", "crontab", "--crondeck", "crondeck"]) == 0
    text = capsys.readouterr().out
    assert "CRON_TZ=Europe/Berlin\n" in text
    assert f"0 9 * * 1-5 crondeck --config {jobs.resolve()} exec 'a b'\n" in text


def test_cli_bad_jobs_file_exits_2(tmp_path: Path) -> None:
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text('[[jobs]]\nname = "x"\n')
    err = io.StringIO()
    from crondeck.cli.commands import export

    args = type("A", (), {"config": str(jobs), "target": "crontab"})()
    assert export.run(args, io.StringIO(), err) == 2
    assert "no schedule" in err.getvalue()


# --- systemd-analyze against crondeck's engine ----------------------------------------------

CASES = [
    # (expression, zone, base time UTC): DST days in several zones, each calendar shape
    ("30 2 * * *", "America/New_York", "2026-03-01 00:00:00"),  # spring gap: moved by cron
    ("*/15 1 * * *", "America/New_York", "2026-10-25 00:00:00"),  # repeated hour: both passes
    ("*/20 * * * *", "America/New_York", "2026-11-01 03:00:00"),
    ("0 1-3 * * *", "Europe/Berlin", "2026-03-25 00:00:00"),
    ("30 2 * * 0", "Europe/Berlin", "2026-03-01 00:00:00"),
    ("0 9 * * 1-5", "Europe/Berlin", "2026-03-20 00:00:00"),
    ("0 0 1,15 * MON", "Europe/Berlin", "2026-01-01 00:00:00"),
    ("0 0 */2 * MON", "Europe/Berlin", "2026-01-01 00:00:00"),
    ("0 18 L * *", "Europe/Berlin", "2026-01-01 00:00:00"),
    ("0 9 * * 5L", "Europe/Berlin", "2026-01-01 00:00:00"),
    ("0 9 * * 1#2", "Europe/Berlin", "2026-01-01 00:00:00"),
    ("15 10 * 3-9 *", "Europe/Berlin", "2026-01-01 00:00:00"),
    ("30 2 * * *", "Australia/Sydney", "2026-09-20 00:00:00"),
    ("15 2 * * *", "Australia/Lord_Howe", "2026-09-25 00:00:00"),  # 30-minute shift
    ("*/10 1 * * *", "Australia/Lord_Howe", "2026-04-01 00:00:00"),
    ("0 0 * * *", "America/Santiago", "2026-08-30 00:00:00"),  # midnight shift
    ("*/30 * * * *", "America/Santiago", "2026-04-04 20:00:00"),
    ("@every 90m", "UTC", "2026-03-01 00:00:00"),
    ("@every 15m", "Asia/Kolkata", "2026-03-01 00:00:00"),
]


@pytest.mark.parametrize(("expr", "zone", "base"), CASES)
def test_systemd_calendar_fires_like_crondeck(expr: str, zone: str, base: str) -> None:
    """The next 50 fires of the exported OnCalendar= lines (ORed) equal crondeck's, except
    exactly the DST differences the export states."""
    schedule = parse(expr, zone)
    start = datetime.fromisoformat(base).replace(tzinfo=UTC)
    lines = on_calendar(schedule)
    systemd = union_fires(lines, calendar_fires(lines, start, 50), 50)
    systemd, ours, differences = expected_fires(schedule, start, systemd)
    assert not [t for d in differences for t in d.systemd_only]
    assert systemd == ours
    dropped = {t for d in differences for t in d.crondeck_only}
    if any(start <= t <= systemd[-1] for t in dropped):
        assert all(d.message for d in differences)


def test_dst_differences_are_stated_in_the_timer() -> None:
    config = parse_config('[[jobs]]\nname = "nightly"\ncommand = "true"\n'
                          'schedule = "30 2 * * *"\ntimezone = "America/New_York"\n',
                          "/srv/crondeck.toml")
    result = export_systemd(config, now=NOW, allow_dst_differences=True)
    timer = result.files["crondeck-nightly.timer"]
    stated = ("2026-03-08 (America/New_York): 02:30 does not exist (DST change): crondeck "
              "runs it at 03:00, the systemd timer skips it")
    assert f"# NOTE: {stated}" in timer
    assert f"job 'nightly': {stated}" in result.warnings
    wild = export_systemd(parse_config(
        '[[jobs]]\nname = "w"\ncommand = "true"\nschedule = "*/30 1 * * *"\n'
        'timezone = "America/New_York"\n', "/srv/crondeck.toml"), now=NOW,
        allow_dst_differences=True)
    assert ("2026-11-01 (America/New_York): 01:00, 01:30 happen twice (DST ends): crondeck "
            "runs both times, the systemd timer only the first time") in wild.warnings[0]


# --- disabled jobs ---------------------------------------------------------------------------

_WITH_DISABLED = """\
[[jobs]]
name = "on"
command = "true"
schedule = "0 9 * * *"
timezone = "UTC"

[[jobs]]
name = "off"
command = "true"
schedule = "30 8 * * *"
timezone = "UTC"
enabled = false
catchup = "all"

[[jobs]]
name = "off-odd"
command = "true"
schedule = "@every 7m"
enabled = false
"""


def _disabled_config(tmp_path: Path):
    path = tmp_path / "crondeck.toml"
    path.write_text(_WITH_DISABLED)
    return load_config(path)


def test_crontab_comments_disabled_jobs_out_and_says_why(tmp_path: Path) -> None:
    result = export_crontab(_disabled_config(tmp_path), command=["crondeck"],
                            config_path="/j.toml")
    text = result.files["crontab"]
    live = [ln for ln in text.splitlines() if ln and not ln.startswith(("#", "SHELL", "CRON"))]
    assert live == ["0 9 * * * crondeck --config /j.toml exec on"]
    assert "# disabled in crondeck (enabled = false), not run: 30 8 * * * crondeck " \
           "--config /j.toml exec off" in text
    # a schedule cron cannot say is no refusal when the job never runs
    assert "# off-odd: disabled (enabled = false), not exported" in text
    assert result.refused == [] and result.disabled == ["off", "off-odd"]
    assert not any("'off'" in w for w in result.warnings)  # its catchup does not matter


@pytest.mark.parametrize("target", ["systemd", "k8s"])
def test_systemd_and_k8s_generate_nothing_for_disabled_jobs(tmp_path: Path, target: str) -> None:
    config = _disabled_config(tmp_path)
    if target == "systemd":
        result = export_systemd(config, command=["/usr/bin/crondeck"], now=NOW)
        assert sorted(result.files) == ["crondeck-on.service", "crondeck-on.timer"]
    else:
        result = export_k8s(config, now=NOW)
        docs = list(yaml.safe_load_all(result.files["crondeck.yaml"]))
        assert [d["metadata"]["name"] for d in docs if d["kind"] == "CronJob"] == ["on"]
    assert result.disabled == ["off", "off-odd"] and result.refused == []


def test_cli_summary_lists_disabled_jobs_and_exits_0(tmp_path: Path, capsys) -> None:
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text(_WITH_DISABLED)
    out = tmp_path / "units"
    assert main(["--config", str(jobs), "export", "systemd", "--out", str(out),
                 "--crondeck", "/usr/bin/crondeck"]) == 0
    err = capsys.readouterr().err
    assert "disabled: job 'off' is switched off (enabled = false): not exported" in err
    assert "disabled: job 'off-odd' is switched off" in err
    assert not (out / "crondeck-off.timer").exists()
    assert main(["--config", str(jobs), "export", "crontab", "--crondeck", "crondeck"]) == 0
    assert "job 'off' is switched off (enabled = false): written commented out" in \
        capsys.readouterr().err
