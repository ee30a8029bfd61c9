"""Set-up for the whole test session."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C must reach the programs the tests start: several tests send SIGINT and expect it
    to stop them. A shell starts a background job (`make test &`, nohup, CI runners) with
    SIGINT ignored, which every child inherits; take the default back for this process (and
    so for its children)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A private directory with a short path, for control sockets: AF_UNIX paths are limited
    to ~107 bytes, and pytest's tmp_path can be longer."""
    path = Path(tempfile.mkdtemp(prefix="cd", dir="/tmp"))
    os.chmod(path, 0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
