"""examples/: every config passes `crondeck check`, the Python agent runs, the inbox gate
script decides as documented, and the daily digest's contract holds against a fake model."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crondeck.cli.main import main
from crondeck.core.config import load_config
from crondeck.core.runtime import build_scheduler

sys.path.insert(0, str(Path(__file__).parent / "core"))
from llm_fake import FakeLLM, Reply, openai_stream

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONFIGS = sorted(EXAMPLES.glob("*.toml"))


def test_there_is_an_example_for_each_agent_kind() -> None:
    kinds = set()
    for path in CONFIGS:
        config = load_config(path)
        kinds |= {a.kind for a in config.agents.values()}
        kinds |= {"python" for j in config.jobs if j.python}
    assert kinds == {"command", "python", "openai", "anthropic"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_crondeck_check_passes(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(path)]) == 0
    assert ": OK, " in capsys.readouterr().out
    assert not (EXAMPLES / ".crondeck").exists()  # check never writes


def test_crondeck_check_examples_glob_as_ci_writes_it() -> None:
    """The literal `crondeck check examples/*.toml`: the shell expands the glob, one OK line
    per file comes back and the exit status is 0."""
    done = subprocess.run(["sh", "-c", '"$0" -m crondeck.cli check examples/*.toml',
                           sys.executable],
                          cwd=EXAMPLES.parent, capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(": OK, ")[0] for line in lines] == [
        f"examples/{p.name}" for p in CONFIGS]
    assert "problem" not in done.stderr
    assert not (EXAMPLES / ".crondeck").exists()


def test_the_python_agent_example_runs() -> None:
    scheduler = build_scheduler(load_config(EXAMPLES / "python-agent.toml"))

    async def go() -> str:
        job = scheduler.jobs["hello-python"]
        result = await scheduler.run_now(job).wait()
        assert result.ok, result.error
        return result.output_tail

    out = asyncio.run(go())
    assert out.startswith("Hello from a Python agent.\nI was asked: Job hello-python, slot ")


def test_the_inbox_gate_skips_without_new_mail_and_prints_it_otherwise(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    (maildir / "new").mkdir(parents=True)
    env = {**os.environ, "MAILDIR": str(maildir), "XDG_STATE_HOME": str(tmp_path / "state")}
    script = str(EXAMPLES / "scripts" / "new_mail.sh")
    empty = subprocess.run([script], env=env, capture_output=True, text=True, check=False)
    assert empty.returncode == 1 and empty.stderr.strip() == "no new mail"
    (maildir / "new" / "1").write_text("From: boss@example.com\nSubject: Budget\n\nBody\n")
    mail = subprocess.run([script], env=env, capture_output=True, text=True, check=False)
    assert mail.returncode == 0
    assert mail.stdout == "From: boss@example.com\nSubject: Budget\n---\n"
    again = subprocess.run([script], env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 1  # already shown


@pytest.mark.slow
def test_the_daily_digest_contract_against_a_fake_model(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-example-0123456789abcdef")
    text = (EXAMPLES / "daily-digest.toml").read_text()
    with FakeLLM() as fake:
        path = tmp_path / "digest.toml"
        path.write_text(text.replace('model = "gpt-4o-mini"',
                                     f'model = "gpt-4o-mini"\nbase_url = "{fake.url}"')
                        .replace('pre_run = "scripts/new_mail.sh"\n', "")
                        # the retry is what matters here, not the default 10 s wait before it
                        .replace("retries = 1\n", 'retries = 1\nretry_backoff = "1s"\n'))
        scheduler = build_scheduler(load_config(path))
        job = scheduler.jobs["daily-digest"]
        fake.queue(Reply(events=openai_stream(["- one\n", 'RESULT: {"items": 1, ',
                                               '"urgent": false}\n'], 900, 40)),
                   Reply(events=openai_stream(["Sorry, nothing today."])),
                   Reply(events=openai_stream(["Still nothing."])))

        async def go() -> tuple[object, object]:
            good = await scheduler.run_now(job).wait()
            bad = await scheduler.run_now(job).wait()  # retries = 1: two answers used
            return good, bad

        good, bad = asyncio.run(go())
    assert good.ok and good.contract == {"items": 1, "urgent": False}  # type: ignore[attr-defined]
    assert good.cost == round((900 * 0.15 + 40 * 0.60) / 1e6, 8)  # type: ignore[attr-defined]
    assert bad.reason.startswith("output contract: no match")  # type: ignore[attr-defined]
    prompt = fake.requests[1].json["messages"][0]["content"]
    assert "- one" in prompt  # {last_output}: yesterday's digest
    assert 'RESULT: {"items": <number of bullets>' in prompt  # {{ }} became literal braces
