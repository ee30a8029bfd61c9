"""Set-up for the whole test session."""

from __future__ import annotations

import signal

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C must reach the programs the tests start: several tests send SIGINT and expect it
    to stop them. A shell starts a background job (`make test &`, nohup, CI runners) with
    SIGINT ignored, which every child inherits; take the default back for this process (and
    so for its children)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
