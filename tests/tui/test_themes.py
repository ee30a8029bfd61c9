"""Themes: bundled TOML themes load with the status colours as variables; user themes come
from $XDG_CONFIG_HOME/crondeck/themes; a broken one is reported by name and skipped; the
choice is remembered; Textual's built-in themes stay available."""

import asyncio
import tomllib

import pytest
from textual.app import App
from textual.widgets import Static

from crondeck.tui.themes import (
    DEFAULT_THEME,
    STATUS_KEYS,
    ThemeFileError,
    install_themes,
    load_choice,
    load_themes,
    prefs_path,
    save_choice,
    status_variable_defaults,
    theme_from_dict,
    user_themes_dir,
)
from crondeck.tui.widgets.history import _STATUS_STYLE as HISTORY_STYLE
from crondeck.tui.widgets.job_table import LAST_STYLE, STATUS_STYLE

SHIPPED = ("crondeck-dark", "crondeck-light", "crondeck-high-contrast")


class ThemedApp(App[None]):
    """Uses $status-* in its CSS: must parse under every theme, built-in ones included."""

    CSS = "#ok { color: $status-ok; } #failed { color: $status-failed; }"

    def __init__(self, user_dir, prefs):
        super().__init__()
        self.user_dir, self.prefs = user_dir, prefs
        self.problems: list[str] = []

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **status_variable_defaults()}

    def compose(self):
        yield Static("ok", id="ok")
        yield Static("failed", id="failed")

    def on_mount(self) -> None:
        self.problems = install_themes(self, user_dir=self.user_dir, prefs=self.prefs)


def test_shipped_themes_load_with_every_status_variable(tmp_path):
    loaded = load_themes(tmp_path / "none")
    assert loaded.problems == []
    for name in SHIPPED:
        theme = loaded.themes[name]
        assert {f"status-{k}" for k in STATUS_KEYS} <= set(theme.variables)
    assert loaded.themes["crondeck-light"].dark is False
    assert loaded.themes["crondeck-high-contrast"].variables["border"] == "#FFFFFF"


def test_missing_status_colours_fall_back_to_defaults():
    theme = theme_from_dict({"name": "mine", "colors": {"primary": "#123456"},
                             "status": {"ok": "#00FF00"}})
    assert theme.variables["status-ok"] == "#00FF00"
    assert theme.variables["status-failed"] == status_variable_defaults()["status-failed"]


@pytest.mark.parametrize(("doc", "message"), [
    ({"colors": {"primary": "#123456"}}, "name must be"),
    ({"name": "x", "colors": {}}, "needs at least primary"),
    ({"name": "x", "colors": {"primary": "blurple"}}, "is not a colour"),
    ({"name": "x", "colors": {"primary": "#123456", "primay": "#000"}}, "unknown key 'primay'"),
    ({"name": "x", "colors": {"primary": "#123456"}, "status": {"good": "#000"}},
     "unknown key 'good' in [status]"),
    ({"name": "x", "colour": {}}, "unknown key 'colour'"),
    ({"name": "x", "dark": "yes", "colors": {"primary": "#123456"}}, "dark must be"),
])
def test_bad_theme_documents_say_what_is_wrong(doc, message):
    with pytest.raises(ThemeFileError) as info:
        theme_from_dict(doc)
    assert message in str(info.value)


def test_user_themes_override_and_broken_ones_are_reported_by_name(tmp_path):
    user = tmp_path / "themes"
    user.mkdir()
    (user / "sunset.toml").write_text(
        'name = "sunset"\n[colors]\nprimary = "#FF7F50"\n[status]\nrunning = "#FF00FF"\n')
    (user / "broken.toml").write_text('name = "broken"\n[colors\nprimary = 1\n')
    (user / "bad-colour.toml").write_text('name = "badc"\n[colors]\nprimary = "nope"\n')
    loaded = load_themes(user)
    assert loaded.themes["sunset"].variables["status-running"] == "#FF00FF"
    assert "broken" not in loaded.themes and "badc" not in loaded.themes
    assert len(loaded.problems) == 2
    assert any("theme broken.toml: not valid TOML" in p for p in loaded.problems)
    assert any("theme bad-colour.toml: colors.primary" in p for p in loaded.problems)


def test_xdg_paths():
    env = {"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/u"}
    assert str(user_themes_dir(env)) == "/x/cfg/crondeck/themes"
    assert str(prefs_path(env)) == "/x/cfg/crondeck/tui.toml"
    assert str(prefs_path({"HOME": "/home/u"})) == "/home/u/.config/crondeck/tui.toml"


def test_choice_is_saved_atomically_and_keeps_other_keys(tmp_path):
    prefs = tmp_path / "crondeck" / "tui.toml"
    assert load_choice(prefs) is None
    save_choice("crondeck-light", prefs)
    assert load_choice(prefs) == "crondeck-light"
    prefs.write_text('theme = "crondeck-light"\nother = 1\n')
    save_choice("nord", prefs)
    assert tomllib.loads(prefs.read_text()) == {"theme": "nord", "other": 1}
    prefs.write_text("not toml [")
    assert load_choice(prefs) is None


def test_app_starts_on_default_remembers_changes_and_builtins_stay(tmp_path):
    user = tmp_path / "themes"
    user.mkdir()
    (user / "broken.toml").write_text("name = 3\n")
    prefs = tmp_path / "tui.toml"

    async def first():
        app = ThemedApp(user, prefs)
        async with app.run_test() as pilot:
            await pilot.pause()
            assert app.theme == DEFAULT_THEME
            assert app.problems == [
                f"theme broken.toml: name must be lower-case letters, digits and dashes, "
                f"like \"my-theme\" (got 3) (in {user}; skipped)"]
            assert "textual-dark" in app.available_themes
            assert set(SHIPPED) <= set(app.available_themes)
            ok = app.query_one("#ok").styles.color
            assert ok.hex.upper() == "#46A758"
            app.theme = "crondeck-high-contrast"
            await pilot.pause()
            assert app.query_one("#ok").styles.color.hex.upper() == "#00FF66"
            app.theme = "nord"  # a built-in: status colours fall back to the defaults
            await pilot.pause()
            assert app.query_one("#failed").styles.color.hex.upper() == "#E0434B"
            app.theme = "crondeck-light"
            await pilot.pause()
        assert load_choice(prefs) == "crondeck-light"

    async def second():
        app = ThemedApp(user, prefs)
        async with app.run_test() as pilot:
            await pilot.pause()
            assert app.theme == "crondeck-light"

    asyncio.run(first())
    asyncio.run(second())


def test_remembered_theme_that_vanished_falls_back(tmp_path):
    prefs = tmp_path / "tui.toml"
    save_choice("gone-theme", prefs)

    async def go():
        app = ThemedApp(tmp_path / "none", prefs)
        async with app.run_test() as pilot:
            await pilot.pause()
            assert app.theme == DEFAULT_THEME
            assert "'gone-theme'" in app.problems[0]

    asyncio.run(go())


PROBE = {"name": "probe", "colors": {"primary": "#4F9DDE"},
         "status": {"ok": "#010203", "failed": "#A00001", "skipped": "#0000B0",
                    "paused": "#C0C000", "running": "#00D000"}}


def test_every_job_status_colour_on_the_dashboard_comes_from_the_theme(make_app):
    """Jobs pane (status and last result), history and header counts use $status-*."""
    app, *_ = make_app()

    async def go():
        async with app.run_test(size=(120, 36)) as pilot:
            app.register_theme(theme_from_dict(PROBE))
            app.theme = "probe"
            await pilot.pause()
            dash = app.dashboard
            table, history = dash.table, dash.query_one("HistoryList")
            header = dash.query_one("DeckHeader")

            def hex_of(widget, component):
                style = (widget.style_of(component) if hasattr(widget, "style_of")
                         else widget.get_component_rich_style(component, partial=False))
                return style.color.triplet.hex.upper()

            expected = {"running": "#00D000", "paused": "#C0C000", "failing": "#A00001"}
            for status, colour in expected.items():
                assert hex_of(table, STATUS_STYLE[status]) == colour, status
            assert hex_of(table, LAST_STYLE["ok"]) == "#010203"
            assert hex_of(table, LAST_STYLE["timed_out"]) == "#A00001"
            for status, colour in {"ok": "#010203", "failed": "#A00001",
                                   "skipped": "#0000B0", "missed": "#0000B0"}.items():
                assert hex_of(history, HISTORY_STYLE[status]) == colour, status
            for component, colour in {"status--running": "#00D000",
                                      "status--paused": "#C0C000",
                                      "status--failed": "#A00001"}.items():
                assert hex_of(header, component) == colour
            # and what is drawn: the paused job's status cell
            row = table.order.index("gamma")
            line = table.render_row(row, 120)
            assert line.plain.startswith("‖ paused")
            assert line.get_style_at_offset(app.console, 0).color.triplet.hex.upper() == "#C0C000"

    asyncio.run(go())


def _contrast(a, b) -> float:
    """WCAG contrast ratio of two opaque colours."""
    def lum(c):
        ch = [v / 255 for v in c.rgb]
        ch = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.slow
@pytest.mark.parametrize("theme", SHIPPED)
def test_every_pane_is_clearly_delimited_in_every_shipped_theme(theme, make_app, tmp_path):
    """Unfocused pane borders stand out from the pane (they vanished in crondeck-light)."""
    app, *_ = make_app()

    async def go():
        async with app.run_test(size=(120, 36)) as pilot:
            install_themes(app, user_dir=tmp_path / "none", remember=False)
            app.theme = theme
            await pilot.pause()
            dash = app.dashboard
            for name in ("JobTable", "UpcomingList", "OutputPane", "HistoryList"):
                pane = dash.query_one(name)
                pane.blur()
            await pilot.pause()
            for name in ("UpcomingList", "OutputPane", "HistoryList", "JobTable"):
                pane = dash.query_one(name)
                background = pane.styles.background
                edge, colour = pane.styles.border_top
                assert edge == "round"
                border = background + colour  # the faded line over the pane
                assert _contrast(border, background) >= 2.0, (theme, name, border.hex)

    asyncio.run(go())


# -- the real app: `t` and the command palette ----------------------------------------------


def _real_app(themes: bool = True):
    """The crondeck app on the tests' fake clock, with its themes installed (as when live)."""
    from conftest import START, build_scheduler

    from crondeck.core.clock import FakeClock
    from crondeck.tui.app import CrondeckApp

    clock = FakeClock(START)
    sched, _ = build_scheduler(clock)
    return CrondeckApp(sched, clock=clock, start=False, live=False, themes=themes)


async def _pick_theme(pilot, name: str) -> None:
    """In the theme list Textual's palette shows: type the name, take the top hit."""
    from conftest import search_palette
    from textual.command import CommandPalette

    await pilot.pause()
    assert isinstance(pilot.app.screen, CommandPalette)
    await search_palette(pilot, name)
    await pilot.press("enter")
    await pilot.pause()


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    """$XDG_CONFIG_HOME in tmp_path: where the app looks for user themes and its choice."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return tmp_path / "cfg" / "crondeck" / "tui.toml"


@pytest.mark.slow
def test_t_in_the_app_switches_theme_and_the_next_start_remembers_it(xdg):
    async def first():
        app = _real_app()
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            assert app.theme == DEFAULT_THEME
            await pilot.press("t")
            await _pick_theme(pilot, "crondeck-light")
            assert app.screen is app.dashboard  # the picker closed
            assert app.theme == "crondeck-light"
            assert app.current_theme.dark is False
            # what the operator sees: the dashboard is painted with the light background
            assert app.screen.styles.background.hex.upper() == \
                app.available_themes["crondeck-light"].background.upper()
        assert tomllib.loads(xdg.read_text()) == {"theme": "crondeck-light"}

    async def second():
        app = _real_app()
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            assert app.theme == "crondeck-light"

    asyncio.run(first())
    asyncio.run(second())


@pytest.mark.slow
def test_the_command_palette_changes_theme_in_the_app(xdg):
    async def go():
        app = _real_app()
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            await pilot.press("ctrl+p")
            await _pick_theme(pilot, "Change theme")
            await _pick_theme(pilot, "crondeck-high-contrast")
            assert app.theme == "crondeck-high-contrast"
            assert app.screen is app.dashboard
        assert load_choice(xdg) == "crondeck-high-contrast"

    asyncio.run(go())


@pytest.mark.slow
def test_the_palette_offers_one_theme_command_not_two(xdg):
    """Textual's own "Theme" entry and crondeck's "Change theme" did the same thing."""
    async def go():
        app = _real_app()
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert titles.count("Change theme") == 1
            assert "Theme" not in titles

    asyncio.run(go())
