"""Small host apps for the editing screens (builder, editor, themes), so their tests do not
depend on the dashboard: each pushes one screen with a fixed clock and frozen blink."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from textual.app import App

from crondeck.tui.screens.cron_builder import CronBuilderScreen

NOW = datetime(2025, 3, 3, 8, 58, 30, tzinfo=UTC)  # a Monday
DST_NOW = datetime(2025, 3, 28, 12, 0, tzinfo=UTC)  # two days before Europe's spring change
SIZE = (120, 40)


class BuilderApp(App[None]):
    """Shows the cron builder; `results` collects what it dismissed with."""

    def __init__(self, expression: str = "", *, zone: str = "Europe/Berlin",
                 now: datetime = NOW, use: bool = False, **kw: Any) -> None:
        super().__init__()
        self.results: list[str | None] = []
        self._args = (expression, zone, now, use, kw)

    def on_mount(self) -> None:
        expression, zone, now, use, kw = self._args
        screen = CronBuilderScreen(expression, zone=zone, now=lambda: now, local=UTC,
                                   use=use, live=False, **kw)
        self.push_screen(screen, self.results.append)


JOBS_FILE = """\
[defaults]
timeout = "10m"

[agents.claude]
command = ["claude", "-p"]

[[jobs]]
name = "digest"
agent = "claude"
prompt = "Summarise the inbox."
schedule = "0 9 * * 1-5"
timezone = "UTC"

[[jobs]]
name = "disk"
command = "df -h"
schedule = "*/15 * * * *"
timezone = "UTC"
"""


def open_test_deck(tmp_path, text: str = JOBS_FILE):
    """A Runtime on a jobs file in tmp_path, on a FakeClock at NOW (scheduler not started)."""
    from crondeck.core.clock import FakeClock
    from crondeck.core.config import load_config
    from crondeck.core.runtime import open_runtime

    path = tmp_path / "crondeck.toml"
    path.write_text(text)
    return open_runtime(load_config(path), clock=FakeClock(NOW))


class EditorApp(App[None]):
    """Shows the job editor for `job` (None: a new job) on `runtime`."""

    def __init__(self, runtime, job: str | None = None) -> None:
        super().__init__()
        self.runtime = runtime
        self.job = job
        self.results: list = []

    def on_mount(self) -> None:
        from crondeck.tui.screens.job_editor import JobEditorScreen

        self.push_screen(JobEditorScreen(self.runtime, self.job, now=lambda: NOW, zone=UTC,
                                         live=False), self.results.append)
