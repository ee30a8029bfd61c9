"""docs/api.md is the Python API's reference: every public name of crondeck.core is in it
(as code), and the README links it."""

from __future__ import annotations

import re
from pathlib import Path

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
