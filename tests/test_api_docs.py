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
