"""The theme list offers only themes crondeck's panes are readable in on a 256-colour
terminal: this measures, for every Textual theme, the share of text cells (job table,
upcoming, history, output, header) whose colours, at the terminal's nearest of 256, are
under 3:1 contrast, and checks `UNREADABLE_BUILTINS` is exactly the themes over the limit."""

import asyncio

import pytest
from conftest import START, build_scheduler, settle
from rich.color import Color, ColorSystem
from textual.theme import BUILTIN_THEMES

from crondeck.core.clock import FakeClock
from crondeck.tui.app import CrondeckApp
from crondeck.tui.themes import UNREADABLE_BUILTINS, ThemeChoices

LIMIT = 0.04  # under this share of text cells under 3:1 (the readable ones measure ≤ 3.1%)
PANES = "JobTable, UpcomingList, HistoryList, OutputPane, DeckHeader"


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _in_256(color: Color | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    if color is None:
        return default
    t = color.downgrade(ColorSystem.EIGHT_BIT).get_truecolor()
    return t.red, t.green, t.blue


def _unreadable_share(app) -> float:
    bad = total = 0
    for widget in app.dashboard.query(PANES):
        for y in range(widget.size.height):
            for seg in widget.render_line(y):
                cells = len(seg.text.strip())
                if not cells or seg.style is None:
                    continue
                fg, bg = seg.style.color, seg.style.bgcolor
                if seg.style.reverse:
                    fg, bg = bg, fg
                total += cells
                if _contrast(_in_256(fg, (255, 255, 255)), _in_256(bg, (0, 0, 0))) < 3:
                    bad += cells
    return bad / max(1, total)


@pytest.mark.slow
def test_only_themes_readable_in_256_colours_are_offered():
    clock = FakeClock(START)
    sched, streamer = build_scheduler(clock)
    app = CrondeckApp(sched, config_path="/srv/ops/crondeck.toml", clock=clock, start=False,
                      live=False, themes=True)
    shares: dict[str, float] = {}

    async def go():
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            sched.run_now("alpha")
            sched.run_now("beta")
            await settle(pilot)
            for name in sorted(app.available_themes):
                app.theme = name
                await settle(pilot, rounds=1)
                shares[name] = _unreadable_share(app)
            app.theme = "crondeck-dark"
            await settle(pilot, rounds=1)
            offered = {name for name, _ in ThemeChoices(app.screen).commands}
            assert not offered & UNREADABLE_BUILTINS
            assert set(BUILTIN_THEMES) - UNREADABLE_BUILTINS <= offered
            streamer.release.set()
            await settle(pilot)

    asyncio.run(go())
    report = {n: f"{s:.1%}" for n, s in sorted(shares.items())}
    over = {name for name, share in shares.items() if share >= LIMIT}
    assert over == set(UNREADABLE_BUILTINS), report
    assert not over & {"crondeck-dark", "crondeck-light", "crondeck-high-contrast"}
