"""The import contracts that keep the layout readable (harlequin-style), checked on the
sources: no import circles (TYPE_CHECKING and function-local imports count), core imports
neither the console nor the command line, and both of those reach core only through
`crondeck.core`'s public names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import crondeck.core

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"core": "crondeck.core", "cli": "crondeck.cli", "tui": "crondeck.tui",
            "themes": "crondeck.themes"}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts
                     if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module imported, names imported from it) for every import in the file,
    relative imports resolved to absolute names."""
    out = []
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join(here + ([base] if base else []))
            out.append((node.lineno, base, [alias.name for alias in node.names]))
    return out


def _own(target: str) -> str | None:
    """The crondeck module `target` names (a module, or a name inside one)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets: set[str] = set()
        for _, module, names in _imports(name, path):
            for target in [module, *(f"{module}.{n}" for n in names)]:
                own = _own(target)
                if own and own != name and not name.startswith(own + "."):
                    targets.add(own)
        edges[name] = targets
    return edges


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_sources_were_found():
    assert "crondeck.core.scheduler" in MODULES
    assert "crondeck.cli.main" in MODULES
    assert "crondeck.tui.app" in MODULES


@pytest.mark.slow
def test_no_import_circles():
    assert _circles(_edges()) == []


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_core_imports_neither_the_console_nor_the_command_line():
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for name, path in MODULES.items() if name.startswith("crondeck.core")
        for line, module, _ in _imports(name, path)
        if module.startswith(("crondeck.tui", "crondeck.cli", "crondeck.themes"))
    ]
    assert offenders == []


def test_console_and_command_line_use_core_through_its_public_names():
    public = set(crondeck.core.__all__)
    offenders = []
    for name, path in MODULES.items():
        if not name.startswith(("crondeck.tui", "crondeck.cli")):
            continue
        for line, module, names in _imports(name, path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module.startswith("crondeck.core."):
                offenders.append(f"{where} imports {module}: import from crondeck.core")
            elif module == "crondeck.core":
                offenders.extend(f"{where} imports {n}, not in crondeck.core.__all__"
                                 for n in names if n not in public)
    assert offenders == []


def test_public_names_of_core_all_exist():
    assert [n for n in crondeck.core.__all__ if not hasattr(crondeck.core, n)] == []


def test_the_console_does_not_import_the_command_line():
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for name, path in MODULES.items() if name.startswith("crondeck.tui")
        for line, module, _ in _imports(name, path) if module.startswith("crondeck.cli")
    ]
    assert offenders == []


def test_headless_commands_load_no_textual(tmp_path: Path):
    jobs = tmp_path / "crondeck.toml"
    jobs.write_text('[[jobs]]\nname = "a"\ncommand = "true"\nschedule = "@daily"\n')
    code = (
        "import contextlib, importlib, io, sys\n"
        "from crondeck.cli.main import COMMANDS, build_parser, command_module, main\n"
        "build_parser()\n"
        "for c in COMMANDS:\n"
        "    importlib.import_module('crondeck.cli.commands.' + command_module(c))\n"
        # the operator's verbs, run (no scheduler: the saved state, or 'nothing runs')
        "codes = []\n"
        "for argv in (['status'], ['pause', 'a'], ['skip', 'a'], ['resume', 'a'],\n"
        "             ['trigger', 'a'], ['cancel', 'a'], ['reload']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), \\\n"
        "            contextlib.redirect_stderr(io.StringIO()):\n"
        f"        codes.append(main([*argv, '--config', {str(jobs)!r}]))\n"
        "print(codes)\n"
        "print(','.join(sorted(n for n in sys.modules if n.split('.')[0] in "
        "('textual', 'rich'))))\n"
    )
    ran, loaded = (subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True, timeout=60).stdout + "\n").split("\n")[:2]
    assert ran == "[1, 0, 0, 0, 1, 1, 1]"  # status, pause, skip, resume: the saved state
    assert loaded == ""
