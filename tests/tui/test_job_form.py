"""The editor's check (`check_form`) parses only the edited job, yet must accept, reject and
warn exactly as `crondeck check` does on the whole file as it would be written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import tomli_w

from crondeck.core.atomic import to_toml_value
from crondeck.core.config import Config, ConfigError, load_config, parse_config
from crondeck.tui import job_form
from crondeck.tui.job_form import JobForm, check_form, without_job

FILE = """\
[defaults]
timeout = "10m"
timezone = "UTC"

[agents.claude]
command = ["claude", "-p"]

[[jobs]]
name = "digest"
agent = "claude"
prompt = "Summarise the inbox."
schedule = "0 9 * * 1-5"

[[jobs]]
name = "disk"
command = "df -h"
schedule = "*/15 * * * *"

[[jobs]]
name = "odd"
command = "no-such-program-here --now"
schedule = "*/7 * * * *"
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "crondeck.toml"
    path.write_text(FILE)
    return load_config(path)


def whole_file(config: Config, form: JobForm, original: str | None) -> Config:
    """What `crondeck check` makes of the file with this job written into it."""
    doc = replace(config, jobs=[]).to_dict()
    entries = [j for j in config.to_dict().get("jobs", [])]
    if original is None:
        entries.append(form.to_entry())
    else:
        entries = [form.to_entry() if e["name"] == original else e for e in entries]
    doc["jobs"] = entries
    return parse_config(tomli_w.dumps(to_toml_value(doc)), Path(config.path))


def edited(config: Config, job: str, **changes: object) -> JobForm:
    form = JobForm.from_config(config, job)
    for key, value in changes.items():
        setattr(form, key, value)
    return form


CASES = [
    ("new job", None, {"name": "fresh", "command": "echo hi", "schedule": "0 * * * *"}),
    ("new job on an agent", None, {"name": "fresh", "source": "claude", "prompt": "Hi."}),
    ("new job with a warned pre_run", None,
     {"name": "fresh", "command": "echo hi", "pre_run": "no-such-gate-either"}),
    ("edited schedule", "disk", {"schedule": "*/5 * * * *"}),
    ("renamed", "disk", {"name": "disk-usage"}),
    ("edited zone", "digest", {"timezone": "Asia/Tokyo"}),
    ("warned job fixed", "odd", {"command": "echo fixed"}),
]


@pytest.mark.parametrize(("what", "original", "changes"), CASES, ids=[c[0] for c in CASES])
def test_a_valid_form_gives_the_config_the_whole_file_would(config: Config, what: str,
                                                            original: str | None,
                                                            changes: dict) -> None:
    form = JobForm.from_config(config, original) if original else JobForm.new(config)
    for key, value in changes.items():
        setattr(form, key, value)
    checked = check_form(config, form, original)
    expected = whole_file(config, form, original)
    assert checked.ok, (checked.problems, checked.other)
    assert checked.config == expected
    assert ([(w.job, w.key, w.message) for w in checked.config.warnings]
            == [(w.job, w.key, w.message) for w in expected.warnings])


REJECTED = [
    ("bad schedule", "disk", {"schedule": "0 24 * * *"}, "schedule"),
    ("bad zone", "disk", {"timezone": "Mars/Olympus"}, "timezone"),
    ("bad timeout", None, {"name": "fresh", "command": "echo", "timeout": "soon"}, "timeout"),
    ("taken name", None, {"name": "digest", "command": "echo"}, "name"),
]


@pytest.mark.parametrize(("what", "original", "changes", "field"), REJECTED,
                         ids=[c[0] for c in REJECTED])
def test_an_invalid_form_is_refused_with_the_files_own_message(config: Config, what: str,
                                                               original: str | None,
                                                               changes: dict,
                                                               field: str) -> None:
    form = JobForm.from_config(config, original) if original else JobForm.new(config)
    for key, value in changes.items():
        setattr(form, key, value)
    checked = check_form(config, form, original)
    assert not checked.ok
    with pytest.raises(ConfigError) as whole:
        whole_file(config, form, original)
    messages = [p.message for p in whole.value.problems]
    assert checked.problems[field] and set(checked.problems[field]) <= set(messages)


def test_renaming_onto_another_jobs_name_points_at_that_job(config: Config) -> None:
    checked = check_form(config, edited(config, "disk", name="odd"), "disk")
    assert checked.problems == {"name": ["duplicate job name 'odd' (job #3 has it too); "
                                         "job names must be unique"]}


def test_keeping_a_jobs_own_name_is_no_duplicate(config: Config) -> None:
    checked = check_form(config, edited(config, "disk", prompt="Report."), "disk")
    assert checked.ok and [j.name for j in checked.config.jobs] == ["digest", "disk", "odd"]


def test_the_other_jobs_are_not_parsed_again_on_each_keystroke(config: Config,
                                                              monkeypatch) -> None:
    """Each change in the editor is checked: with 10,000 jobs, re-reading them all each time
    would lag behind the typing. Only the edited job goes through the parser."""
    seen: list[int] = []
    real = job_form.parse_config

    def counting(text: str, path: Path) -> Config:
        parsed = real(text, path)
        seen.append(len(parsed.jobs))
        return parsed

    monkeypatch.setattr(job_form, "parse_config", counting)
    checked = check_form(config, edited(config, "disk", schedule="0 * * * *"), "disk")
    assert checked.ok and seen == [1]


def test_deleting_a_job_drops_it_and_its_warnings(config: Config) -> None:
    assert any(w.job == "odd" for w in config.warnings)
    rest = without_job(config, "odd")
    assert [j.name for j in rest.jobs] == ["digest", "disk"]
    assert not any(w.job == "odd" for w in rest.warnings)
    assert rest == parse_config(rest.dumps(), Path(config.path))
