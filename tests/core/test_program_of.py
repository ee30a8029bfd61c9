"""One rule for the program a command runs, shared by the jobs file's checks, the runtime's
agent names and CommandAgent."""

from __future__ import annotations

from pathlib import Path

from crondeck.core.agents import CommandAgent, program_name, program_of
from crondeck.core.config import load_config
from crondeck.core.runtime import make_agent


def test_the_program_as_written_and_as_shown() -> None:
    assert program_of("FOO=1 BAR=2 ./bin/crawl.sh --all") == "./bin/crawl.sh"
    assert program_of('"/opt/my tools/run" x  # note') == "/opt/my tools/run"
    assert program_of(["/usr/bin/claude", "-p"]) == "/usr/bin/claude"
    assert program_of('echo "unbalanced') is None and program_of("   ") is None
    assert program_name("FOO=1 ./bin/crawl.sh --all") == "crawl.sh"
    assert program_name(["/usr/bin/claude", "-p"]) == "claude"
    assert program_name("df -h | head") == "df"
    assert program_name('echo "unbalanced') == 'echo "unbalanced'  # as written


def test_every_user_names_a_command_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text('[[jobs]]\nname = "c"\nschedule = "@hourly"\n'
                    'command = "LANG=C /usr/bin/env true"\n')
    config = load_config(path)
    assert make_agent(config, config.jobs[0]).name == "env"
    assert CommandAgent("LANG=C /usr/bin/env true").name == "env"


def test_an_argv_is_looked_up_even_when_a_shell_would_run_it_itself(tmp_path: Path) -> None:
    path = tmp_path / "crondeck.toml"
    path.write_text('[[jobs]]\nname = "a"\nschedule = "@hourly"\ncommand = "exit 0"\n'
                    '[[jobs]]\nname = "b"\nschedule = "@hourly"\ncommand = ["exit", "0"]\n')
    warned = {w.job for w in load_config(path).warnings}
    assert warned == {"b"}
