"""A job that systemd or Kubernetes would fire at other instants than crondeck on a DST day
is refused by default: which job and target, the first days with each side's fires (local
and UTC), and what would be right, including a nearby time checked to fire alike. With
`--allow-dst-differences` it is exported as before, each day stated; a job with no
difference exports the same either way."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from export_gen import jobs_toml, schedules

from crondeck.cli.main import main
from crondeck.core.config import load_config, parse_config
from crondeck.core.export import export_k8s, export_systemd

NOW = datetime(2026, 1, 1, tzinfo=UTC)
GOLDEN_JOBS = Path(__file__).parent / "golden" / "export" / "crondeck.toml"


def _config(pairs: list[tuple[str, str]]):
    return parse_config(jobs_toml(pairs), "/srv/crondeck.toml")


def _export(target: str, pairs: list[tuple[str, str]], allow: bool = False, now=NOW):
    config = _config(pairs)
    if target == "systemd":
        return export_systemd(config, command=["/usr/bin/crondeck"], now=now,
                              allow_dst_differences=allow)
    return export_k8s(config, config_text="", now=now, allow_dst_differences=allow)


def test_systemd_refuses_a_time_in_the_spring_gap_with_days_instants_and_fix() -> None:
    result = _export("systemd", [("30 2 * * *", "America/New_York")])
    assert result.files == {} and result.warnings == []
    [refusal] = result.refused
    assert refusal.dst and refusal.job == "j0" and refusal.target == "systemd"
    assert str(refusal).splitlines() == [
        "job 'j0' not exported to systemd: the systemd timer would fire at other instants "
        "than crondeck on 1 DST day of the coming year ('30 2 * * *' in America/New_York):",
        "  2026-03-08: crondeck runs it at 03:00 local (07:00 UTC); the systemd timer does "
        "not run it",
        "  what would be right (any one of):",
        "  - schedule = '0 3 * * *' (30 minutes later) fires like crondeck on every DST day "
        "of the coming year",
        "  - timezone = 'UTC' with its times converted (UTC has no DST)",
        "  - export it as crontab (cron follows crondeck's DST rules), or keep crondeck as "
        "the scheduler (`crondeck export service`)",
        "  - or pass --allow-dst-differences to export it anyway, each such day stated as a "
        "warning and a note",
    ]


def test_kubernetes_refusal_shows_the_repeated_run_on_its_side() -> None:
    [refusal] = _export("k8s", [("30 1 * * *", "America/New_York")]).refused
    assert refusal.dst and refusal.target == "Kubernetes"
    assert refusal.details == (
        "2026-11-01: crondeck runs it at 01:30 local (05:30 UTC); Kubernetes at 01:30 local "
        "(05:30 UTC), 01:30 local (06:30 UTC)",)
    assert "schedule = '59 0 * * *' (31 minutes earlier)" in refusal.fix


def test_systemd_either_pass_from_midnight_is_named_as_such() -> None:
    [refusal] = _export("systemd", [("0 0 * * *", "America/Havana")]).refused
    assert refusal.details[1] == (
        "2026-11-01: crondeck runs it at 00:00 local (04:00 UTC); the systemd timer at 00:00 "
        "local (04:00 UTC) or 00:00 local (05:00 UTC) (one of them, depending on when it last "
        "ran)")


@pytest.mark.parametrize(("target", "expr", "zone", "suggested"), [
    ("systemd", "30 2 * * *", "America/New_York", "0 3 * * *"),
    ("systemd", "15 2 * * SAT,SUN", "Europe/Berlin", "59 1 * * SAT,SUN"),
    ("k8s", "30 1 * * *", "America/New_York", "59 0 * * *"),
    ("k8s", "0 0 * * *", "Australia/Lord_Howe", "30 0 * * *"),
])
def test_the_suggested_time_exports_with_no_difference(target: str, expr: str, zone: str,
                                                       suggested: str) -> None:
    """The nearby time keeps the day fields as written, and exporting it is neither refused
    nor warned about for DST, this year or next."""
    [refusal] = _export(target, [(expr, zone)]).refused
    assert f"schedule = {suggested!r}" in refusal.fix
    for now in (NOW, datetime(2027, 1, 1, tzinfo=UTC)):
        again = _export(target, [(suggested, zone)], now=now)
        assert again.refused == [] and not [w for w in again.warnings if "DST" in w]


def test_no_suggestion_when_no_time_within_the_hour_fires_alike() -> None:
    [refusal] = _export("systemd", [("*/5 * * * *", "Europe/Berlin")]).refused
    assert "schedule =" not in refusal.fix
    assert "no time within an hour of them fires like crondeck" in refusal.fix
    assert refusal.details == (
        "2026-10-25: crondeck runs it at 02:00 local (00:00 UTC) to 02:55 local (01:55 UTC), "
        "24 runs; the systemd timer at 02:00 local (00:00 UTC) to 02:55 local (00:55 UTC), "
        "12 runs",)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["systemd", "k8s"])
def test_only_jobs_with_differences_are_refused_and_the_rest_export_as_with_opt_in(
        target: str) -> None:
    """The refusal is per job: the export of every other job is exactly the opt-in one
    (which is the export as it was before refusing), warnings included."""
    pairs = [(e, z) for e, z in schedules(7, 120) if not e.startswith("@every")]
    refused = _export(target, pairs)
    allowed = _export(target, pairs, allow=True)
    dst = {r.job for r in refused.refused if r.dst}
    assert dst and len(dst) < len(pairs) / 2
    assert {r.job for r in refused.refused if not r.dst} == {r.job for r in allowed.refused}
    differing = {w.removeprefix("job '").partition("'")[0] for w in allowed.warnings
                 if "DST" in w}
    assert dst == differing  # refused exactly where the opt-in states a DST day
    assert [w for w in allowed.warnings
            if w.removeprefix("job '").partition("'")[0] not in dst] == refused.warnings
    if target == "systemd":
        assert {n: t for n, t in allowed.files.items()
                if n.removeprefix("crondeck-").rpartition(".")[0] not in dst} == refused.files
    else:
        def cronjobs(result):
            return {d["metadata"]["annotations"]["crondeck/job"]: d
                    for d in list(yaml.safe_load_all(result.files["crondeck.yaml"]))[1:]}

        kept = cronjobs(allowed)
        assert {j: d for j, d in kept.items() if j not in dst} == cronjobs(refused)


def test_the_golden_jobs_file_differs_only_in_its_dst_job() -> None:
    config = load_config(GOLDEN_JOBS)
    args = {"command": ["/usr/bin/crondeck"], "config_path": "/srv/c.toml", "now": NOW}
    default = export_systemd(config, **args)
    allowed = export_systemd(config, **args, allow_dst_differences=True)
    assert [r.job for r in default.refused if r.dst] == ["inbox-watch"]
    assert sorted(default.files) == sorted(n for n in allowed.files if "inbox-watch" not in n)
    k8s = export_k8s(config, config_text="", now=NOW)  # no DST difference under robfig
    assert k8s.files == export_k8s(config, config_text="", now=NOW,
                                   allow_dst_differences=True).files


# --- the command line ---------------------------------------------------------------------

_MIXED = ('[[jobs]]\nname = "fine"\ncommand = "true"\nschedule = "0 9 * * *"\n'
          'timezone = "America/New_York"\n\n'
          '[[jobs]]\nname = "nightly"\ncommand = "true"\nschedule = "30 2 * * *"\n'
          'timezone = "America/New_York"\n')


def test_cli_refuses_and_writes_nothing_then_the_opt_in_exports(tmp_path: Path,
                                                                capsys) -> None:
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text(_MIXED)
    units = tmp_path / "units"
    base = ["--config", str(jobs), "export", "systemd", "--crondeck", "/usr/bin/crondeck"]
    assert main([*base, "--out", str(units)]) == 1
    err = capsys.readouterr().err
    assert "refused: job 'nightly' not exported to systemd: the systemd timer would fire " \
           "at other instants than crondeck on 1 DST day" in err
    assert "crondeck runs it at 03:00 local" in err and "schedule = '0 3 * * *'" in err
    assert "crondeck export: nothing written: 'nightly' would fire at other instants" in err
    assert "--allow-dst-differences" in err
    assert not units.exists()  # not even the fine job: no partial unit directory

    assert main([*base, "--out", str(units), "--allow-dst-differences"]) == 0
    err = capsys.readouterr().err
    assert "warning: job 'nightly': " in err and "does not exist (DST change)" in err
    timer = (units / "crondeck-nightly.timer").read_text()
    assert "# NOTE: " in timer and "the systemd timer skips it" in timer
    assert (units / "crondeck-fine.timer").exists()


def test_cli_k8s_prints_no_partial_yaml(tmp_path: Path, capsys) -> None:
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text(_MIXED.replace("30 2 * * *", "30 1 * * *"))
    base = ["--config", str(jobs), "export", "k8s", "--image", "x:1"]
    assert main(base) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # `| kubectl apply -f -` gets no objects, not half of them
    assert "refused: job 'nightly' not exported to Kubernetes" in captured.err
    assert "Kubernetes at 01:30 local" in captured.err
    assert main([*base, "--allow-dst-differences"]) == 0
    captured = capsys.readouterr()
    docs = list(yaml.safe_load_all(captured.out))
    notes = docs[2]["metadata"]["annotations"]["crondeck/notes"]
    assert "Kubernetes also runs it at 01:30" in notes and "warning: job 'nightly'" in \
        captured.err


def test_cli_a_job_with_no_difference_exports_as_before(tmp_path: Path, capsys) -> None:
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text(_MIXED.split("\n\n")[0] + "\n")
    base = ["--config", str(jobs), "export", "systemd", "--crondeck", "/usr/bin/crondeck"]
    assert main(base) == 0
    plain = capsys.readouterr()
    assert main([*base, "--allow-dst-differences"]) == 0
    assert capsys.readouterr() == plain and "OnCalendar=*-*-* 09:00:00 America/New_York" \
        in plain.out


def test_help_names_the_opt_in(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--allow-dst-differences" in out
    assert "nothing is written" in out
