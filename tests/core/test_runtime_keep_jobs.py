"""`open_runtime(keep_jobs=False)` (what `crondeck run` uses) lets go of the jobs' specs,
keeping one per kind of job for reloads: every reload still finds exactly the jobs the file
edit added, removed, replaced or switched, as a runtime keeping every spec does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crondeck.core.clock import FakeClock
from crondeck.core.config import load_config, parse_config
from crondeck.core.runtime import Reload, open_runtime

T0 = datetime(2025, 3, 1, 9, 0, 30, tzinfo=UTC)

HEAD = """
[defaults]
timezone = "UTC"
timeout = "10m"

[agents.writer]
command = ["cat"]
"""


def _job(name: str, extra: str = "", schedule: str = "*/5 * * * *") -> str:
    return f'\n[[jobs]]\nname = "{name}"\nschedule = "{schedule}"\ncommand = "true"\n{extra}'


# Twelve jobs alike (as a generated file has), two of another kind, two on a named agent.
FILE = (HEAD + "".join(_job(f"w{i:02d}") for i in range(12))
        + _job("h1", 'timeout = "1m"\n', "@hourly") + _job("h2", 'timeout = "1m"\n', "@hourly")
        + '\n[[jobs]]\nname = "a1"\nagent = "writer"\nschedule = "@daily"\n'
        + '\n[[jobs]]\nname = "a2"\nagent = "writer"\nschedule = "@daily"\n')

EDITS = [
    ('name = "w03"\nschedule = "*/5 * * * *"', 'name = "w03"\nschedule = "*/10 * * * *"'),
    ('name = "h2"\nschedule = "@hourly"\ncommand = "true"\ntimeout = "1m"',
     'name = "h2"\nschedule = "@hourly"\ncommand = "true"\ntimeout = "60s"'),  # same value
    ('name = "h2"\nschedule = "@hourly"\ncommand = "true"\ntimeout = "1m"',
     'name = "h2"\nschedule = "@hourly"\ncommand = "true"\ntimeout = "2m"'),
    ('command = ["cat"]', 'command = ["tac"]'),  # the agent: the jobs that use it
    ('timeout = "10m"', 'timeout = "20m"'),  # the defaults: the jobs without their own
    ('timezone = "UTC"', 'timezone = "Asia/Tokyo"'),  # every job's zone
    ('timeout = "10m"', 'timeout = "10m"\nenabled = false'),  # every job switched off
    ('name = "w07"\nschedule = "*/5 * * * *"\ncommand = "true"\n',
     'name = "w07"\nschedule = "*/5 * * * *"\ncommand = "true"\nenabled = false\n'),
    ('name = "w05"', 'name = "w99"'),  # one removed, one added
    ('name = "a2"\nagent = "writer"', 'name = "a2"\ncommand = "true"'),
]


def _apply(tmp_path: Path, keep_jobs: bool, texts: list[str]
           ) -> list[tuple[Reload, dict[str, object]]]:
    """A runtime of FILE (in a directory of its own) given each text in turn: what each
    reload did, which jobs it left as they were, and the jobs' schedules and options."""
    path = tmp_path / str(keep_jobs) / "crondeck.toml"
    path.parent.mkdir()
    path.write_text(FILE)
    out = []
    with open_runtime(load_config(path), clock=FakeClock(T0), keep_jobs=keep_jobs) as runtime:
        assert (runtime.config.jobs == []) is not keep_jobs
        for text in texts:
            before = dict(runtime.scheduler.jobs)
            new = parse_config(text, path)
            replaced = sorted(runtime.replaced_by(new))
            result = runtime.apply(new)
            jobs = runtime.scheduler.jobs
            out.append((result, {
                "replaced_by": replaced,
                "kept": sorted(n for n, j in jobs.items() if before.get(n) is j),
                "next": {n: (j.next_fire, j.enabled, j.options) for n, j in jobs.items()}}))
            assert (runtime.config.jobs == []) is not keep_jobs
    return out


@pytest.mark.parametrize("edit", EDITS)
def test_a_reload_without_the_specs_finds_the_same_changes(tmp_path: Path,
                                                           edit: tuple[str, str]) -> None:
    assert edit[0] in FILE
    kept = _apply(tmp_path, True, [FILE.replace(*edit)])
    assert _apply(tmp_path, False, [FILE.replace(*edit)]) == kept
    result = kept[0][0]
    assert result.ok and bool(result.changed or result.added) is not edit[1].endswith('"60s"')


def test_jobs_alike_share_one_kept_spec(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(FILE)
    with open_runtime(load_config(path), clock=FakeClock(T0), keep_jobs=False) as runtime:
        kept = runtime._kept
        assert kept is not None and len(kept) == 16
        assert len({id(spec) for spec in kept.values()}) == 3  # w.., h1/h2, a1/a2


def test_reloads_one_after_another_without_the_specs(tmp_path: Path) -> None:
    texts = [text for edit in EDITS for text in (FILE.replace(*edit), FILE)]  # and back
    assert _apply(tmp_path, False, texts) == _apply(tmp_path, True, texts)


def test_a_restart_gives_the_same_schedule_and_keeps_the_state_of_a_job_gone_from_the_file(
        tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text(FILE)
    with open_runtime(load_config(path), clock=FakeClock(T0), keep_jobs=False) as runtime:
        runtime.scheduler.pause_job("h1", note="looking into it")
        first = {n: (j.next_fire, j.paused) for n, j in runtime.scheduler.jobs.items()}
        saved = dict(runtime.store.jobs)
    assert len(saved) == 16 and len(runtime.store.jobs.waiting) == 15
    for keep_jobs in (False, True):  # the first slots (09:05) not yet due, then passed
        for now in (T0, datetime(2025, 3, 1, 9, 7, tzinfo=UTC)):
            with open_runtime(load_config(path), clock=FakeClock(now),
                              keep_jobs=keep_jobs) as runtime:
                again = {n: (j.next_fire, j.paused) for n, j in runtime.scheduler.jobs.items()}
                assert again == first  # 09:05 is still owed (the catch-up policy decides)
                assert dict(runtime.store.jobs) == saved
    path.write_text(FILE.replace('name = "w05"', 'name = "w99"'))
    with open_runtime(load_config(path), clock=FakeClock(T0), keep_jobs=False) as runtime:
        assert runtime.store.jobs["w05"] == saved["w05"]  # gone from the file: kept
        assert "w05" not in runtime.scheduler.jobs and "w99" in runtime.store.jobs
    with open_runtime(load_config(path), clock=FakeClock(T0), keep_jobs=False) as runtime:
        assert runtime.store.jobs["w05"] == saved["w05"]  # and saved again


def test_a_runtime_that_cannot_open_leaves_the_config_whole_for_another_try(
        tmp_path: Path) -> None:
    from crondeck.core import ConfigError, LockHeld

    path = tmp_path / "crondeck.toml"
    path.write_text(FILE)
    config = load_config(path)
    jobs = list(config.jobs)
    with open_runtime(load_config(path), clock=FakeClock(T0)):
        with pytest.raises(LockHeld):  # another holds the lock: `crondeck run` waits, tries again
            open_runtime(config, clock=FakeClock(T0), keep_jobs=False)
        assert config.jobs == jobs
    path.write_text(FILE + '\n[[jobs]]\nname = "py"\nschedule = "@daily"\n'
                    'python = "no_such_module_crondeck:main"\n')
    config = load_config(path)
    jobs = list(config.jobs)
    with pytest.raises(ConfigError):
        open_runtime(config, clock=FakeClock(T0), keep_jobs=False)
    assert config.jobs == jobs
