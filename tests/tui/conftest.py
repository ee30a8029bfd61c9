"""Shared set-up for the TUI tests: a scheduler on a FakeClock with agents the tests steer."""

from __future__ import annotations

import asyncio
import unicodedata
from datetime import UTC, datetime

import pytest
from helpers import until
from textual import events
from textual.command import CommandInput, CommandPalette
from textual.keys import KEY_NAME_REPLACEMENTS

from crondeck.core.agents import RunContext
from crondeck.core.clock import FakeClock
from crondeck.core.gates import GateSkip
from crondeck.core.scheduler import Scheduler
from crondeck.tui.app import CrondeckApp

START = datetime(2025, 3, 3, 8, 58, 30, tzinfo=UTC)  # a Monday
SIZE = (120, 36)


class Streamer:
    """Prints a few stdout lines and one stderr line, then waits to be released."""

    name = "streamer"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.lines = ["line 1", "line 2", "line 3"]

    async def execute(self, ctx: RunContext) -> int | None:
        for line in self.lines:
            ctx.emit(line + "\n", "stdout")
        ctx.emit("warning: disk 91% full\n", "stderr")
        await self.release.wait()
        self.release = asyncio.Event()
        ctx.emit("all done\n", "stdout")
        return 0


class Failer:
    name = "failer"

    async def execute(self, ctx: RunContext) -> int | None:
        ctx.emit("checking staging\n", "stdout")
        ctx.emit("boom: staging is down\n", "stderr")
        return 2


async def quick(prompt: str) -> str:
    return "done\n"


def no_mail() -> None:
    raise GateSkip("no new mail")


@pytest.fixture(autouse=True)
def _own_config_home(tmp_path_factory, monkeypatch):
    """Each test its own $XDG_CONFIG_HOME: a live console reads and saves the theme choice
    there, and tests run in parallel (and beside other users of the machine), so a choice
    saved by one must not paint another's screen."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-home")))


def build_scheduler(clock: FakeClock) -> tuple[Scheduler, Streamer]:
    s = Scheduler(clock=clock)
    streamer = Streamer()
    s.add_job(streamer, "stream please", "@every 10s", name="alpha", tz="UTC")
    s.add_job(Failer(), "check", "*/5 * * * *", name="beta", tz="UTC")
    s.add_job(quick, "weekly", "0 9 * * 1", name="gamma", tz="UTC")
    s.add_job(quick, "hourly", "@every 1h", name="delta", tz="UTC")
    s.add_job(quick, "mail", "*/15 * * * *", name="epsilon", tz="UTC", pre_run=no_mail)
    s.pause_job("gamma", note="waiting for keys")
    return s, streamer


@pytest.fixture
def make_app():
    """make_app(**kw) -> (app, scheduler, clock, streamer); frozen (live=False)."""

    def make(*, read_only: bool = False, start: bool = True):
        clock = FakeClock(START)
        sched, streamer = build_scheduler(clock)
        app = CrondeckApp(sched, config_path="/srv/ops/crondeck.toml", clock=clock, zone=UTC,
                          read_only=read_only,
                          read_only_reason="locked by pid 4242" if read_only else "",
                          start=start, live=False)
        return app, sched, clock, streamer

    return make


async def settle(pilot, rounds: int = 3) -> None:
    """Let runs progress and fold their events into the screen."""
    for _ in range(rounds):
        await pilot.pause()
        pilot.app.dashboard.observer.pump()
    await pilot.pause()


def text_of(widget) -> str:
    """What a widget shows right now, as plain text."""
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


def refresh_spy(widget) -> list:
    """Records the regions `widget.refresh` is asked to repaint (None: all of it)."""
    asked: list = []
    refresh = widget.refresh

    def spy(*regions, **kwargs):
        asked.extend(regions or [None])
        return refresh(*regions, **kwargs)

    widget.refresh = spy
    return asked


def shown_lines(widget) -> list[str]:
    """The text of every line `widget` renders in its current size (line API widgets)."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


async def search_palette(pilot, query: str) -> None:
    """Put `query` in the open command palette's search box and wait for its hits. Setting
    the box is one search instead of one per typed key, each waited for."""
    pilot.app.screen.query_one(CommandInput).value = query
    await palette_searched(pilot)


async def palette_searched(pilot) -> None:
    """Wait, bounded, until the open command palette's search (it runs in a worker) has
    listed its hits."""
    await pilot.pause()
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    await until(lambda: not any(w.node is palette and not w.is_finished
                                for w in pilot.app.workers),
                10, "the palette's search to end", pilot=pilot, every=0.01)
    await pilot.pause()


async def type_text(pilot, text: str) -> None:
    """Type `text` key by key into the focused widget, as `pilot.press(*text)` does, but let
    the app settle once at the end instead of after every key (at least 40 ms of waiting
    a key): each key still goes through the app's bindings and the widget's key handling,
    in order."""
    for char in text:
        if char.isalnum():
            key = char
        else:  # the key name Textual gives a typed character ("space", "slash", ...)
            key = unicodedata.name(char).lower().replace("-", "_").replace(" ", "_")
            key = KEY_NAME_REPLACEMENTS.get(key, key)
        pilot.app.post_message(events.Key(key, char))
    await pilot.pause()
