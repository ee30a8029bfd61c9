"""docs/api.md is the Python API's reference: every public name of crondeck.core is in it
(as code), and the README links it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import crondeck.core

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_is_in_the_api_reference() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    missing = [name for name in crondeck.core.__all__
               if not re.search(rf"`{re.escape(name)}[`(\[]", text)]
    assert not missing, f"docs/api.md does not mention: {', '.join(missing)}"


def test_the_readme_links_the_api_reference() -> None:
    assert "(docs/api.md)" in (ROOT / "README.md").read_text()


def test_the_installed_package_carries_its_type_hints_for_a_users_mypy() -> None:
    """PEP 561: without `py.typed` in the installed crondeck/core, a user's `mypy --strict`
    says the module has no type hints and every crondeck name is Any."""
    import tomllib

    assert (ROOT / "core" / "py.typed").is_file()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["crondeck.core"]


# ---------------------------------------------------------------- the code samples, executed

SAMPLE_DOCS = ["README.md", "docs/api.md", "docs/control.md"]


def samples() -> list[tuple[str, str]]:
    """(where, code) of every ```python block of the README and docs/."""
    out = []
    for name in SAMPLE_DOCS:
        text = (ROOT / name).read_text()
        for m in re.finditer(r"```python\n(.*?)```", text, re.S):
            out.append((f"{name}:{text[:m.start()].count(chr(10)) + 1}", m.group(1)))
    return out


def _run(code: str, ns: dict[str, object]) -> object:
    """`code` compiled as a notebook cell (top-level await allowed), as an awaitable."""
    import ast
    import types

    compiled = compile(code, "<sample>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    return types.FunctionType(compiled, ns)()


def _namespace() -> dict[str, object]:
    import asyncio
    from datetime import UTC, datetime

    import crondeck.core as core

    ns: dict[str, object] = {name: getattr(core, name) for name in core.__all__}
    ns.update(asyncio=asyncio, datetime=datetime, UTC=UTC)
    return ns


async def _awaited(value: object) -> None:
    import inspect

    if inspect.isawaitable(value):
        await value


def _serving(state_dir: str, job: object = None):  # type: ignore[no-untyped-def]
    """A scheduler with a job "digest", served on `state_dir`'s control socket while the
    block runs."""
    import contextlib

    from crondeck.core import ControlServer, Scheduler, control_path, every

    @contextlib.asynccontextmanager
    async def serving():  # type: ignore[no-untyped-def]
        import asyncio

        scheduler = Scheduler(state_dir=state_dir)
        scheduler.add_job(job or (lambda: "digest done"), None, every(hours=1), name="digest")
        async with ControlServer(scheduler, control_path(state_dir), kind="embedded"):
            task = asyncio.create_task(scheduler.astart())
            try:
                yield scheduler
            finally:
                scheduler.stop(terminate=True)
                await asyncio.wait_for(task, 10)
        scheduler.close()

    return serving()


def test_every_python_sample_of_the_docs_has_a_runner_here() -> None:
    """A sample added to the docs must be run by `test_the_docs_python_samples_run`."""
    kinds = [_kind(code) for _where, code in samples()]
    assert None not in kinds, [w for (w, c), k in zip(samples(), kinds, strict=True) if k is None]


def _kind(code: str) -> str | None:
    first = code.lstrip().splitlines()[0]
    for key, kind in [
        ("import subprocess", "apscheduler"),  # the peer's program, for comparison
        ("import asyncio", "program"),
        ("from datetime import datetime, UTC", "script"),
        ("handle = scheduler.run_now", "handle"),
        ("expr = parse(", "script"),
        ("class Echo", "echo"),
        ("scheduler.add_job(agent", "add_job"),
        ("async for event in scheduler.subscribe()", "subscribe"),
        ("clock = FakeClock", "fakeclock"),
        ("async with ControlServer", "server"),
        ("mirror = await RemoteScheduler.attach", "mirror"),
        ("from crondeck.core import ControlClient", "client"),
    ]:
        if first.startswith(key):
            return kind
    return None


@pytest.mark.slow
@pytest.mark.parametrize(("where", "code"), samples(), ids=[w for w, _c in samples()])
def test_the_docs_python_samples_run(where: str, code: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Each sample runs as written (fragments in the context the docs give them: a
    scheduler with a job "digest", a running loop, a served state directory), and prints
    or returns what its comments say."""
    import asyncio

    kind = _kind(code)
    if kind == "apscheduler":  # not crondeck's: the README's comparison with the peer
        return
    monkeypatch.chdir(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "claude").write_text("#!/bin/sh\ncat >/dev/null; echo 'incidents: none'\n")
    (bin_dir / "claude").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    ns = _namespace()
    from crondeck.core import RunStatus, Scheduler, every

    async def go() -> None:
        if kind == "program":
            await _awaited(_run(code, ns))
            await asyncio.wait_for(ns["main"](), 30)  # type: ignore[operator]
            scheduler = ns["scheduler"]
            job = scheduler.jobs["digest"]  # type: ignore[attr-defined]
            assert job.results[-1].status is RunStatus.OK, job.results[-1].error
        elif kind == "script":
            await _awaited(_run(code, ns))
        elif kind == "handle":
            scheduler = ns["scheduler"] = Scheduler()
            scheduler.add_job(lambda: "digest done", None, every(hours=1), name="digest")
            await _awaited(_run(code, ns))
            assert capsys.readouterr().out == "ok digest done\n"
        elif kind == "echo":
            await _awaited(_run(code, ns))
            scheduler = Scheduler()
            scheduler.add_job(ns["Echo"](), "hello", every(hours=1), name="e")  # type: ignore[operator]
            result = await scheduler.run_now("e")
            assert result.ok and result.output_tail == "hello"
        elif kind == "add_job":
            ns["scheduler"] = scheduler = Scheduler()
            ns["agent"] = lambda: None
            await _awaited(_run(code, ns))
            assert scheduler.jobs["job-1"].options.overlap == "queue_one"
        elif kind == "subscribe":
            scheduler = ns["scheduler"] = Scheduler()

            def broken() -> None:
                raise RuntimeError("out of tokens")

            scheduler.add_job(broken, None, every(hours=1), name="digest")
            loop = asyncio.create_task(_awaited(_run(code, ns)))
            await asyncio.sleep(0.05)
            await scheduler.run_now("digest")
            await asyncio.sleep(0.05)
            loop.cancel()
            assert capsys.readouterr().out.startswith("digest RuntimeError: out of tokens")
        elif kind == "fakeclock":
            await asyncio.wait_for(_awaited(_run(code, ns)), 10)
            s = ns["s"]
            s.stop()  # type: ignore[attr-defined]
            await asyncio.wait_for(ns["task"], 5)  # type: ignore[arg-type]
        elif kind == "server":
            server, _sep, client = code.partition("\n\n")
            scheduler = ns["scheduler"] = Scheduler(state_dir=".crondeck")
            scheduler.add_job(lambda: None, None, every(hours=1), name="digest")
            served = asyncio.create_task(_awaited(_run(server, ns)))
            await asyncio.sleep(0.3)
            if client:
                await asyncio.to_thread(_run, client, ns)
                assert "'paused': True" in capsys.readouterr().out
                assert scheduler.jobs["digest"].paused
            scheduler.stop()
            await asyncio.wait_for(served, 10)
            scheduler.close()
        elif kind == "mirror":
            ns["state_dir"] = ".crondeck"
            async with _serving(".crondeck") as scheduler:
                await asyncio.wait_for(_awaited(_run(code, ns)), 10)
                assert scheduler.jobs["digest"].paused
                for _ in range(1000):  # the run asked for (the mirror was closed meanwhile)
                    if scheduler.jobs["digest"].last_result is not None:
                        break
                    await asyncio.sleep(0.01)
                assert scheduler.jobs["digest"].last_result.status is RunStatus.OK  # type: ignore[union-attr]
        elif kind == "client":
            blocking, _sep, rest = code.partition("\n\nclient = ")
            await asyncio.to_thread(_run, blocking, ns)  # nothing serves it yet
            assert capsys.readouterr().out == "no scheduler is running\n"
            async with _serving(".crondeck") as scheduler:
                await asyncio.to_thread(_run, blocking, ns)
                assert scheduler.jobs["digest"].paused
                client = asyncio.create_task(_awaited(_run("client = " + rest, ns)))
                await asyncio.sleep(0.5)
            await asyncio.wait_for(client, 10)  # the server closed: the stream ended
            out = capsys.readouterr().out.splitlines()
            assert out[1] == "1" and "'run_id': 'digest@" in out[2] and "event" in out

    asyncio.run(go())


@pytest.mark.slow
def test_the_docs_whole_programs_pass_a_users_mypy_strict(tmp_path: Path) -> None:
    """The samples a user copies whole (the README's and api.md's programs, parse) type-check
    under `mypy --strict` against crondeck's hints."""
    import subprocess
    import sys

    tree = tmp_path / "path" / "crondeck"  # crondeck.* as imported (as test_api_types does)
    tree.mkdir(parents=True)
    for folder in ("core", "cli", "tui"):
        (tree / folder).symlink_to(ROOT / folder)
    files = []
    for n, (_where, code) in enumerate(samples()):
        if _kind(code) in ("program", "script") and code.startswith(("import", "from")):
            path = tmp_path / f"sample_{n}.py"
            path.write_text(code)
            files.append(str(path))
    assert len(files) >= 3
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--python-version", "3.11",
         "--no-incremental", "--follow-imports=silent", "--config-file", "/dev/null", *files],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={"MYPYPATH": str(tmp_path / "path"), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stdout
