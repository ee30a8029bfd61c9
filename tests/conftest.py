"""Set-up for the whole test session."""

from __future__ import annotations

import gc
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


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker collects once and freezes what is left before it reports finished.
    Its transport (execnet) interrupts a worker still busy 5 s after the run ends (SIGINT,
    shown as a KeyboardInterrupt ignored in whatever gc callback was running), and pytest's
    five full collections at unconfigure over a worker's ~300,000 objects took that long on
    a loaded machine; frozen, they walk nothing. This pass still reports unraisable errors."""
    if hasattr(session.config, "workerinput"):
        gc.collect()
        gc.freeze()


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
