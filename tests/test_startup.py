"""What a start-up loads: `crondeck.core` hands out its names lazily, and each command imports
only what it uses. Checked on `sys.modules` in fresh interpreters, never by timing."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import types
from dataclasses import replace
from datetime import UTC, datetime

import pytest

import crondeck.core
from crondeck.cli.main import COMMAND_HELP, COMMANDS, build_parser, command_module

# Modules only some commands need: agents and model clients (run, exec), exporters (export),
# config validation (commands on a jobs file), the scheduler and its runtime.
HEAVY = [
    "crondeck.core.agents",
    "crondeck.core.llm",
    "crondeck.core.export",
    "crondeck.core.config",
    "crondeck.core.config_model",
    "crondeck.core.config_keys",
    "crondeck.core.jobs_file",
    "crondeck.core.scheduler",
    "crondeck.core.runtime",
    "crondeck.core.runner",
    "crondeck.core.metrics",
    "crondeck.core.notify",
    "tomlkit",
    "asyncio",
    "textual",
    "rich",
]


def _loaded_after(code: str) -> set[str]:
    """The modules of HEAVY (or under them) that running `code` in a fresh interpreter
    imported."""
    probe = (
        f"{code}\n"
        "import json, sys\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(h for h in heavy\n"
        "    if any(n == h or n.startswith(h + '.') for n in sys.modules))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=60)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_core_loads_none_of_its_modules():
    code = (
        "import sys, crondeck.core\n"
        "print(sorted(n for n in sys.modules if n.startswith('crondeck.core.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert out == "[]"


def test_importing_core_loads_nothing_heavy():
    assert _loaded_after("import crondeck.core") == set()


def test_crondeck_next_loads_no_agents_models_exporters_or_config():
    code = (
        "import contextlib, io\n"
        "from crondeck.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    assert main(['next', '*/15 9-17 * * 1-5', '-n', '3', '--tz', 'UTC']) == 0\n"
        "assert out.getvalue().count('\\n') == 4, out.getvalue()\n"
    )
    assert _loaded_after(code) == set()


def test_the_command_list_loads_no_command():
    code = (
        "import contextlib, io, sys\n"
        "from crondeck.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'export jobs as Kubernetes' in out.getvalue(), out.getvalue()\n"
        "assert not [n for n in sys.modules if n.startswith('crondeck.cli.commands.')]\n"
    )
    assert _loaded_after(code) == set()


def _eager(name: str) -> tuple[str, argparse.ArgumentParser]:
    """What the command's module registers, on a plain argparse: its help line and parser."""
    parser = argparse.ArgumentParser(prog="crondeck")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    importlib.import_module(f"crondeck.cli.commands.{command_module(name)}").register(sub)
    (choice,) = [c for c in sub._choices_actions if c.dest == name]
    return choice.help or "", sub.choices[name]


@pytest.mark.parametrize("name", COMMANDS)
def test_a_lazily_registered_command_has_the_help_its_module_gives(name):
    help_line, parser = _eager(name)
    assert COMMAND_HELP[name] == help_line
    top = build_parser()
    (lazy,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    # `crondeck NAME --help` shows what the module registered, arguments and all.
    assert lazy.load(name).format_help() == parser.format_help()
    assert help_line in " ".join(top.format_help().split())


def test_a_lazily_registered_command_parses_its_arguments():
    parser = build_parser()
    args = parser.parse_args(["next", "@daily", "-n", "2", "--json"])
    assert (args.command, args.expr, args.n, args.json) == ("next", ["@daily"], 2, True)
    assert args.func is importlib.import_module("crondeck.cli.commands.next").run
    # Only the command given has a parser made; the others are listed by name and help.
    (lazy,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert [n for n, p in lazy.choices.items() if p is not None] == ["next"]
    assert list(lazy.choices) == COMMANDS


def test_an_unknown_command_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["nxt"])
    listed = ", ".join(f"'{name}'" for name in COMMANDS)
    assert f"invalid choice: 'nxt' (choose from {listed})" in capsys.readouterr().err


@pytest.mark.parametrize("columns", [None, "50", "0", "wide"])
def test_help_is_as_wide_as_shutil_says(monkeypatch, columns):
    """The help formatter finds the width without shutil, as shutil would find it."""
    import shutil

    from crondeck.cli.main import _columns

    monkeypatch.delenv("LINES", raising=False)
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert _columns() == shutil.get_terminal_size().columns
    plain = argparse.ArgumentParser(prog="crondeck exec")
    _, module_parser = _eager("exec")
    made = build_parser()
    (lazy,) = [a for a in made._actions if isinstance(a, argparse._SubParsersAction)]
    assert lazy.load("exec").format_help() == module_parser.format_help()
    assert plain._get_formatter()._width == made._get_formatter()._width


def test_every_public_name_is_its_object_after_every_module_is_loaded():
    """A module named like a public name (the cron engine vs `cron`) would, once imported,
    replace that name on the package with itself."""
    code = (
        "import importlib, pkgutil, types, crondeck.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'crondeck.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in core.__all__\n"
        "    if isinstance(getattr(core, n), types.ModuleType)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert out == "[]"
    assert callable(crondeck.core.cron) and callable(crondeck.core.redact)


def test_dir_lists_every_public_name():
    assert set(crondeck.core.__all__) <= set(dir(crondeck.core))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        crondeck.core.no_such_name  # noqa: B018
    assert not isinstance(crondeck.core.parse, types.ModuleType)


# What the commands cron, systemd and Kubernetes start once per slot must not load: `check`
# reads and validates a file of commands (no loop, no scheduler, no run machinery).
NOT_FOR_CHECK = [
    "asyncio",
    "ssl",
    "socket",
    "subprocess",
    "concurrent.futures",
    "crondeck.core.agents",
    "crondeck.core.process",
    "crondeck.core.scheduler",
    "crondeck.core.runtime",
    "crondeck.core.runner",
    "crondeck.core.events",
    "crondeck.core.jobs",
    "crondeck.core.store",
    "crondeck.core.redaction",
    "crondeck.core.results",
    "crondeck.core.llm",
    "crondeck.core.export",
    "tomllib",
    "tomlkit",
    # Only a misspelt name's suggestion needs difflib; shutil (which loads zlib, bz2 and
    # lzma) only a program looked up on PATH, and argparse's own help formatter.
    "difflib",
    "shutil",
    "tomli_w",  # writing TOML: the state has a faster writer, and check writes nothing
]

JOBS = """\
[[jobs]]
name = "hello"
schedule = "*/5 * * * *"
command = "echo ok"

[[jobs]]
name = "digest"
schedule = "0 9 * * 1-5"
timezone = "Europe/Berlin"
command = "echo digest"
"""


def _modules_after(code: str, names: list[str], cwd) -> tuple[set[str], str]:
    """Which of `names` (or modules under them) running `code` in a fresh interpreter in
    `cwd` imported, and what it printed before."""
    probe = (
        f"{code}\n"
        "import json, sys\n"
        f"names = {names!r}\n"
        "print(json.dumps(sorted(h for h in names\n"
        "    if any(n == h or n.startswith(h + '.') for n in sys.modules))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=60, cwd=cwd)
    *before, last = done.stdout.strip().splitlines()
    return set(json.loads(last)), "\n".join(before)


def _command(argv: list[str]) -> str:
    return (
        "import contextlib, io\n"
        "from crondeck.cli.main import main\n"
        "with contextlib.redirect_stderr(io.StringIO()):\n"
        f"    code = main({argv!r})\n"
        "print('exit', code)\n"
    )


def test_crondeck_check_loads_no_loop_scheduler_agents_or_events(tmp_path):
    (tmp_path / "crondeck.toml").write_text(JOBS)
    loaded, out = _modules_after(_command(["--config", "crondeck.toml", "check"]),
                                 NOT_FOR_CHECK, tmp_path)
    assert "OK, 2 jobs, 0 agents; next: hello at" in out and out.endswith("exit 0"), out
    assert loaded == set()


# `exec` runs one slot through the scheduler's own path, so it loads asyncio and the run
# machinery, but not the model clients, exporters, the control socket or the console.
NOT_FOR_EXEC = [
    "ssl",  # a command's slot opens no TLS stream in this process
    # The loop's default executor: the end-of-run sweep for escaped processes has a thread
    # of its own, so no pool is made, nor a thread to shut it down.
    "concurrent.futures.thread",
    "tempfile",  # an atomic write's temporary file is made without it (and random)
    "random",
    "difflib",  # only a misspelt name's suggestion needs it
    "shutil",  # a shell's own command (echo) is not looked up on PATH
    "tomli_w",  # the state file is written by toml_fast's writer

    "tomllib",
    "crondeck.core.llm",
    "crondeck.core.sse",
    "crondeck.core.export",
    "crondeck.core.metrics",
    "crondeck.core.control",
    "crondeck.core.control_client",
    "crondeck.core.remote",
    "crondeck.core.watch",
    "crondeck.core.jobs_file",
    "tomlkit",
    "textual",
    "rich",
]


def test_crondeck_exec_of_a_command_job_loads_no_models_exporters_or_console(tmp_path):
    (tmp_path / "crondeck.toml").write_text(JOBS)
    loaded, out = _modules_after(_command(["--config", "crondeck.toml", "exec", "hello",
                                           "--json"]), NOT_FOR_EXEC, tmp_path)
    printed = out.splitlines()
    assert printed[0] == "ok" and json.loads(printed[1])["status"] == "ok", out
    assert printed[2] == "exit 0"
    assert loaded == set()


def test_crondeck_exec_of_python_keeps_asyncio_tls_and_https_after_a_command(tmp_path):
    """Python run in the process (a target, a model client) may open TLS streams on the loop:
    asyncio keeps its ssl then. After a command's slot, ssl still imports for whoever needs
    it (a notification's HTTPS request)."""
    (tmp_path / "crondeck.toml").write_text(
        JOBS + '\n[[jobs]]\nname = "py"\nschedule = "@daily"\npython = "json:dumps"\n')
    probe = ("import asyncio.base_events, ssl\n"
             "print('tls', asyncio.base_events.ssl is ssl, ssl.SSLContext is not None)\n")
    for job, tls in (("py", "True"), ("hello", "False")):
        code = _command(["--config", "crondeck.toml", "exec", job]) + probe
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, timeout=60, cwd=tmp_path).stdout
        assert "exit 0" in out and f"tls {tls} True" in out, out


def test_crondeck_exec_reads_and_saves_its_state_without_tomllib(tmp_path):
    """The state file is in the forms crondeck writes: its fast reader takes it, and the
    inbox (folded in when the result is saved) imports tomllib only to read a result."""
    (tmp_path / "crondeck.toml").write_text(JOBS)
    twice = _command(["--config", "crondeck.toml", "exec", "hello"]).replace(
        "print('exit', code)", "code += main(['--config', 'crondeck.toml', 'exec', 'hello', "
        "'--scheduled-for', '2026-03-01T09:00Z'])\nprint('exit', code)")
    loaded, out = _modules_after(twice, ["tomllib"], tmp_path)
    assert out.splitlines()[-1] == "exit 0", out
    assert loaded == set()
    state = (tmp_path / ".crondeck" / "state.toml").read_text()
    assert state.count("[[jobs.hello.results]]") == 2


def test_check_names_the_first_fire_the_scheduler_would(tmp_path):
    """`check` works out a file of commands' next fire without a scheduler: the same job and
    instant as the scheduler built from the file, whatever switches a job off or ends it."""
    from crondeck.cli.commands.check import first_fire

    (tmp_path / "crondeck.toml").write_text(
        "[agents.shell]\ncommand = \"sh -c 'echo hi'\"\n\n"
        "[[jobs]]\nname = \"off\"\nschedule = \"* * * * *\"\ncommand = \"true\"\n"
        "enabled = false\n\n"
        "[[jobs]]\nname = \"ended\"\nschedule = \"* * * * *\"\ncommand = \"true\"\n"
        "until = 2020-01-01T00:00:00Z\n\n"
        "[[jobs]]\nname = \"berlin\"\nschedule = \"*/2 * * * *\"\nagent = \"shell\"\n"
        "timezone = \"Europe/Berlin\"\n\n"
        "[[jobs]]\nname = \"interval\"\nschedule = \"@every 7s\"\ncommand = \"true\"\n")
    config = crondeck.core.load_config(tmp_path / "crondeck.toml")
    now = datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC)  # Berlin springs forward at 01:00 UTC

    def scheduled(config):
        scheduler = crondeck.core.build_scheduler(config, clock=crondeck.core.FakeClock(now))
        return [(at, job.name, job.schedule.tz) for at, job in scheduler.upcoming(1)]

    def fire(config):
        return [(at, name, schedule.tz) for at, name, schedule in first_fire(config, now)]

    assert fire(config) == scheduled(config)
    assert [name for _, name, _ in fire(config)] == ["interval"]
    # Without the interval, the zoned job: the disabled and the ended jobs never come first.
    config = replace(config, jobs=[j for j in config.jobs if j.name != "interval"])
    assert fire(config) == scheduled(config)
    assert [name for _, name, _ in fire(config)] == ["berlin"]
    config = replace(config, jobs=[j for j in config.jobs if j.name != "berlin"])
    assert fire(config) == [] == scheduled(config)


def test_events_compare_hash_and_print_as_their_dataclasses_would():
    """Event classes share one __repr__, __eq__ and __hash__ (generating them per class is
    most of what importing the events costs): each behaves as the generated one would."""
    import dataclasses

    from crondeck.core import events

    classes = [getattr(events, n) for n in events.__all__]
    classes = [c for c in classes if isinstance(c, type) and issubclass(c, events.Event)]
    assert len(classes) > 30
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for cls in classes:
        names = [f.name for f in dataclasses.fields(cls)]
        values = {n: (7 if n == "seq" else at if n == "at" else f"{n}!") for n in names}
        event = cls(**values)
        shown = ", ".join(f"{n}={values[n]!r}" for n in names)
        assert repr(event) == f"{cls.__qualname__}({shown})"
        assert event == cls(**values) and hash(event) == hash(tuple(values.values()))
        assert event != dataclasses.replace(event, seq=8) and event != object()
        assert len({event, cls(**values)}) == 1
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.seq = 9  # type: ignore[misc]
    # Another class with the same fields and values is never equal.
    started = events.JobResumed(seq=1, at=at, job="a")
    assert started != events.JobRemoved(seq=1, at=at, job="a")
    assert started == events.JobResumed(seq=1, at=at, job="a")


def test_a_program_is_found_on_path_as_shutil_finds_it(tmp_path, monkeypatch):
    """`check` and `exec` look a command's program up on PATH without importing shutil."""
    import os
    import shutil

    from crondeck.core.config import on_path

    bin_dir, other = tmp_path / "bin", tmp_path / "other"
    bin_dir.mkdir()
    other.mkdir()
    (bin_dir / "tool").write_text("#!/bin/sh\n")
    (bin_dir / "tool").chmod(0o755)
    (bin_dir / "plain").write_text("not executable\n")
    (bin_dir / "adir").mkdir()
    (other / "here").write_text("#!/bin/sh\n")
    (other / "here").chmod(0o755)
    monkeypatch.chdir(other)
    paths = [None, str(bin_dir), f"{other}:{bin_dir}", f":{bin_dir}", f"{bin_dir}:{bin_dir}",
             "", "/nonexistent", os.environ.get("PATH", "")]
    for env_path in (None, str(bin_dir)):  # PATH unset: the system's default path
        if env_path is None:
            monkeypatch.delenv("PATH", raising=False)
        else:
            monkeypatch.setenv("PATH", env_path)
        for path in paths:
            for program in ("tool", "plain", "adir", "here", "missing", "sh", "ls"):
                assert on_path(program, path) == (shutil.which(program, path=path) is not None), (
                    program, path, env_path)


def test_checking_a_command_that_starts_a_program_loads_no_shutil(tmp_path):
    (tmp_path / "crondeck.toml").write_text(
        JOBS + '\n[[jobs]]\nname = "ls"\nschedule = "@daily"\ncommand = "ls -l"\n')
    loaded, out = _modules_after(_command(["--config", "crondeck.toml", "check"]),
                                 ["shutil", "zlib"], tmp_path)
    assert "OK, 3 jobs, 0 agents; next" in out and out.endswith("exit 0"), out
    assert loaded == set()
    (tmp_path / "crondeck.toml").write_text(
        JOBS + '\n[[jobs]]\nname = "ls"\nschedule = "@daily"\ncommand = "no-such-program-x"\n')
    loaded, out = _modules_after(_command(["--config", "crondeck.toml", "check"]),
                                 ["shutil"], tmp_path)
    assert "OK, 3 jobs, 0 agents, 1 warning" in out and loaded == set(), out  # not on PATH
