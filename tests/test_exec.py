"""`crondeck exec JOB`: one slot, in the foreground, through the real command line: each
outcome's exit code, streaming, --json, run ids from --scheduled-for / a Kubernetes Job name,
and where the result is recorded (state file, inbox beside a running scheduler, nowhere)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from crondeck.core.inbox import read_inbox
from crondeck.core.lock import StateLock

HEADER = '[defaults]\ntimezone = "Europe/Berlin"\nkill_grace = "1s"\n\n'


def _jobs(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "crondeck.toml"
    path.write_text(HEADER + body)
    return path


def _job(name: str, command: str, **keys: object) -> str:
    def toml(v: object) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {json.dumps(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    extra = "".join(f"{k} = {toml(v)}\n" for k, v in keys.items())
    return (f'[[jobs]]\nname = "{name}"\ncommand = {json.dumps(command)}\n'
            f'schedule = "0 9 * * *"\n{extra}\n')


def _exec(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crondeck.cli", "--config", str(config), "exec", *args],
        capture_output=True, text=True, timeout=120, check=False)


def _state(config: Path) -> dict:
    return tomllib.loads((config.parent / ".crondeck" / "state.toml").read_text())


def test_ok_streams_output_ends_with_json_and_records_history(tmp_path: Path) -> None:
    config = _jobs(tmp_path, _job("greet", "echo hello; echo warn >&2; echo key=$API_TOKEN",
                                  env={"API_TOKEN": "sk-live-0123456789abcdefghij"}))
    proc = _exec(config, "greet", "--scheduled-for", "2026-03-01T09:00", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "hello"
    assert "sk-live" not in proc.stdout and "key=[REDACTED:API_TOKEN]" in lines
    assert "warn" in proc.stderr
    summary = json.loads(lines[-1])
    # 09:00 in the job's zone (Berlin, UTC+1 in March) is the slot: the run id says so
    assert summary["run_id"] == "greet@2026-03-01T08:00:00Z"
    assert summary["status"] == "ok" and summary["exit_code"] == 0
    results = _state(config)["jobs"]["greet"]["results"]
    assert [r["run_id"] for r in results] == ["greet@2026-03-01T08:00:00Z"]
    log = config.parent / ".crondeck" / "runs" / "greet" / "greet@2026-03-01T08-00-00Z.log"
    assert "hello" in log.read_text()


@pytest.mark.slow
def test_exit_codes_say_what_happened(tmp_path: Path) -> None:
    config = _jobs(tmp_path, "".join([
        _job("fails", "echo broken >&2; exit 5"),
        _job("gated", "echo never", pre_run="echo 'no new mail'; exit 1"),
        _job("slow", "sleep 30", timeout="1s"),
    ]))
    failed = _exec(config, "fails", "--json")
    assert failed.returncode == 1
    assert json.loads(failed.stdout.splitlines()[-1])["error"].startswith("exit code 5")
    skipped = _exec(config, "gated", "--json")
    assert skipped.returncode == 3
    assert "never" not in skipped.stdout
    assert json.loads(skipped.stdout.splitlines()[-1])["status"] == "skipped"
    assert _exec(config, "gated", "--skipped-exit-code", "0").returncode == 0
    timed_out = _exec(config, "slow", "--json")
    assert timed_out.returncode == 4
    assert json.loads(timed_out.stdout.splitlines()[-1])["status"] == "timed_out"
    statuses = [r["status"] for j in _state(config)["jobs"].values() for r in j["results"]]
    assert sorted(statuses) == ["failed", "skipped", "skipped", "timed_out"]


@pytest.mark.slow
def test_bad_configuration_exits_2(tmp_path: Path) -> None:
    config = _jobs(tmp_path, _job("ok", "true"))
    unknown = _exec(config, "okk")
    assert unknown.returncode == 2 and "did you mean 'ok'" in unknown.stderr
    assert _exec(config, "ok", "--scheduled-for", "tomorrow").returncode == 2
    broken = tmp_path / "broken.toml"
    broken.write_text('[[jobs]]\nname = "x"\ncommand = "true"\nschedule = "61 * * * *"\n')
    assert _exec(broken, "x").returncode == 2
    py = _jobs(tmp_path, '[[jobs]]\nname = "py"\npython = "no_such_module_xyz:run"\n'
                         'schedule = "@daily"\n')
    proc = _exec(py, "py")
    assert proc.returncode == 2 and "cannot set up this job" in proc.stderr


def test_interrupt_ends_the_agent_and_exits_130(tmp_path: Path) -> None:
    config = _jobs(tmp_path, _job("long", "echo started; exec sleep 60"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "crondeck.cli", "--config", str(config), "exec", "long",
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    result = json.loads(out.splitlines()[-1])
    assert result["status"] == "cancelled" and "SIGINT" in result["error"]


@pytest.mark.slow
def test_retries_as_configured_unless_the_engine_retries(tmp_path: Path) -> None:
    flaky = "test -f marker || { touch marker; exit 1; }; echo second try"
    config = _jobs(tmp_path, _job("flaky", flaky, retries=1, retry_backoff="1s"))
    proc = _exec(config, "flaky", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout.splitlines()[-1])["attempt"] == 2
    (tmp_path / "marker").unlink()
    assert _exec(config, "flaky", "--no-retries").returncode == 1


@pytest.mark.slow
def test_run_id_from_a_kubernetes_job_name_survives_pod_retries(tmp_path: Path) -> None:
    config = _jobs(tmp_path, _job("k", "true"))
    # the CronJob controller names Jobs <cronjob>-<scheduled minutes since the epoch>
    minutes = 1772352000 // 60  # 2026-03-01T08:00:00Z
    first = _exec(config, "k", "--k8s-job", f"k-{minutes}", "--json")
    again = _exec(config, "k", "--k8s-job", f"k-{minutes}", "--json")
    ids = {json.loads(p.stdout.splitlines()[-1])["run_id"] for p in (first, again)}
    assert ids == {"k@2026-03-01T08:00:00Z"}


@pytest.mark.slow
def test_beside_a_running_scheduler_the_result_waits_in_the_inbox(tmp_path: Path) -> None:
    config = _jobs(tmp_path, _job("side", "echo hi"))
    state_dir = tmp_path / ".crondeck"
    with StateLock(state_dir / "lock"):  # a scheduler holds it
        proc = _exec(config, "side", "--scheduled-for", "2026-03-01T09:00")
    assert proc.returncode == 0
    assert "recorded for the running scheduler" in proc.stderr
    assert not (state_dir / "state.toml").exists()  # the scheduler's file is never touched
    [(_path, result)] = read_inbox(state_dir)
    assert result is not None and result.run_id == "side@2026-03-01T08:00:00Z"
    # with no scheduler running, the next exec folds the waiting result in as well
    assert _exec(config, "side", "--scheduled-for", "2026-03-02T09:00").returncode == 0
    ids = [r["run_id"] for r in _state(config)["jobs"]["side"]["results"]]
    assert ids == ["side@2026-03-02T08:00:00Z", "side@2026-03-01T08:00:00Z"]
    assert read_inbox(state_dir) == []


def test_read_only_state_directory_only_prints(tmp_path: Path) -> None:
    config = _jobs(tmp_path, _job("ro", "echo fine"))
    (tmp_path / ".crondeck").write_text("not a directory (like a read-only ConfigMap mount)")
    proc = _exec(config, "ro", "--json")
    assert proc.returncode == 0
    assert "not recorded" in proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["status"] == "ok"


@pytest.mark.slow
def test_a_running_scheduler_folds_exec_results_into_its_history(tmp_path: Path) -> None:
    config = _jobs(tmp_path, _job("shared", "echo from exec"))
    run = subprocess.Popen(
        [sys.executable, "-m", "crondeck.cli", "--config", str(config), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert run.stdout is not None
        for line in run.stdout:
            if json.loads(line)["event"] == "scheduler_started":
                break
        proc = _exec(config, "shared", "--scheduled-for", "2026-03-01T09:00")
        assert proc.returncode == 0 and "recorded for the running scheduler" in proc.stderr
        for line in run.stdout:
            event = json.loads(line)
            if event["event"] == "exec_result_recorded":
                assert event["run_id"] == "shared@2026-03-01T08:00:00Z"
                break
    finally:
        run.terminate()
        run.communicate(timeout=60)
    assert run.returncode == 0
    ids = [r["run_id"] for r in _state(config)["jobs"]["shared"]["results"]]
    assert ids == ["shared@2026-03-01T08:00:00Z"]
    assert read_inbox(tmp_path / ".crondeck") == []
