"""Themes: TOML files turned into Textual `Theme`s, with the job-status colours as theme
variables (`$status-ok`, `$status-failed`, `$status-skipped`, `$status-paused`,
`$status-running`), and the operator's choice remembered between runs.

Bundled themes are `crondeck.themes/*.toml`; user themes are
`$XDG_CONFIG_HOME/crondeck/themes/*.toml` (default `~/.config/...`). A user theme with a
bundled theme's name replaces it. A broken user file is reported by name and skipped.
Textual's built-in themes stay available. The choice is kept in
`$XDG_CONFIG_HOME/crondeck/tui.toml` (`theme = "NAME"`).

A theme file:

    name = "my-theme"          # letters, digits and dashes
    dark = true                # optional, default true
    luminosity_spread = 0.15   # optional
    text_alpha = 0.95          # optional
    [colors]                   # primary is required; the rest optional
    primary = "#4F9DDE"        # secondary accent warning error success foreground
                               # background surface panel boost
    [status]                   # optional; unset ones use the defaults below
    ok = "#46A758"             # failed skipped paused running
    [variables]                # optional: any other Textual CSS variable
    border = "#FFFFFF"
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.color import Color, ColorParseError
from textual.command import DiscoveryHit, Hits
from textual.theme import BUILTIN_THEMES, Theme, ThemeProvider

from crondeck.core import atomic_write_toml, read_toml

if TYPE_CHECKING:
    from textual.app import App

__all__ = [
    "DEFAULT_THEME",
    "STATUS_KEYS",
    "UNREADABLE_BUILTINS",
    "LoadedThemes",
    "ThemeChoices",
    "ThemeFileError",
    "install_themes",
    "load_choice",
    "load_theme_file",
    "load_themes",
    "prefs_path",
    "save_choice",
    "status_variable_defaults",
    "theme_from_dict",
    "user_themes_dir",
]

DEFAULT_THEME = "crondeck-dark"
STATUS_KEYS = ("ok", "failed", "skipped", "paused", "running")
# Fallbacks for themes without a [status] table (Textual's built-ins): readable on dark and
# light backgrounds alike.
STATUS_DEFAULTS = {
    "ok": "#3FA45B",
    "failed": "#E0434B",
    "skipped": "#8B8D98",
    "paused": "#D98E2B",
    "running": "#3A8FD9",
}
# Textual themes crondeck's panes are hard to read in on a 256-colour terminal (too much
# text under 3:1: status colours, muted text, borders); not offered in the theme list,
# though one chosen before (or set by name) still works.
# tests/tui/test_theme_contrast.py measures every built-in theme to keep this list true.
UNREADABLE_BUILTINS = frozenset({
    "ansi-dark", "ansi-light", "atom-one-dark", "atom-one-light", "catppuccin-frappe",
    "catppuccin-latte", "catppuccin-macchiato", "catppuccin-mocha", "gruvbox", "nord",
    "rose-pine-dawn", "solarized-dark", "solarized-light", "textual-light",
})
COLOR_KEYS = ("primary", "secondary", "accent", "warning", "error", "success", "foreground",
              "background", "surface", "panel", "boost")
TOP_KEYS = ("name", "dark", "luminosity_spread", "text_alpha", "colors", "status", "variables")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file."""


@dataclass
class LoadedThemes:
    """Every theme found, and a message per file that was skipped."""

    themes: dict[str, Theme] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def status_variable_defaults() -> dict[str, str]:
    """`status-ok` ... `status-running` for themes that do not set them (the App's
    `get_theme_variable_defaults`), so `$status-*` works under every theme."""
    return {f"status-{k}": v for k, v in STATUS_DEFAULTS.items()}


def _color(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f"{where} must be a colour string like \"#4F9DDE\", got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{where}: {value!r} is not a colour (use \"#RRGGBB\")") from None
    return value


def _table(doc: Mapping[str, Any], key: str, allowed: Iterable[str] | None) -> dict[str, Any]:
    table = doc.get(key, {})
    if not isinstance(table, dict):
        raise ThemeFileError(f"[{key}] must be a table")
    if allowed is not None:
        allowed = tuple(allowed)
        for k in table:
            if k not in allowed:
                raise ThemeFileError(f"unknown key {k!r} in [{key}] (valid: {', '.join(allowed)})")
    return table


def theme_from_dict(doc: Mapping[str, Any]) -> Theme:
    """A Theme from a parsed theme file; raises ThemeFileError saying what is wrong."""
    for key in doc:
        if key not in TOP_KEYS:
            raise ThemeFileError(f"unknown key {key!r} (valid: {', '.join(TOP_KEYS)})")
    name = doc.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ThemeFileError("name must be lower-case letters, digits and dashes, like "
                             f"\"my-theme\" (got {name!r})")
    dark = doc.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeFileError(f"dark must be true or false, got {dark!r}")
    numbers: dict[str, Any] = {}  # Any: Theme's keywords have several types
    for key in ("luminosity_spread", "text_alpha"):
        if key in doc:
            value = doc[key]
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ThemeFileError(f"{key} must be a number from 0 to 1, got {value!r}")
            numbers[key] = float(value)
    colors: dict[str, Any] = {k: _color(v, f"colors.{k}")
                              for k, v in _table(doc, "colors", COLOR_KEYS).items()}
    if "primary" not in colors:
        raise ThemeFileError("[colors] needs at least primary = \"#RRGGBB\"")
    status = {k: _color(v, f"status.{k}") for k, v in _table(doc, "status", STATUS_KEYS).items()}
    extra = _table(doc, "variables", None)
    variables = {str(k): _color(v, f"variables.{k}") if str(v).startswith("#") else str(v)
                 for k, v in extra.items()}
    for key in STATUS_KEYS:
        variables[f"status-{key}"] = status.get(key, STATUS_DEFAULTS[key])
    return Theme(name=name, dark=dark, variables=variables, **colors, **numbers)


def load_theme_file(path: Path | Any) -> Theme:
    """Read one theme file (a Path or an importlib resource)."""
    label = getattr(path, "name", str(path))
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"theme {label}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"theme {label}: not valid TOML: {exc}") from None
    try:
        return theme_from_dict(doc)
    except ThemeFileError as exc:
        raise ThemeFileError(f"theme {label}: {exc}") from None


def config_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "crondeck"


def user_themes_dir(env: Mapping[str, str] | None = None) -> Path:
    return config_home(env) / "themes"


def prefs_path(env: Mapping[str, str] | None = None) -> Path:
    return config_home(env) / "tui.toml"


def load_themes(user_dir: Path | None = None) -> LoadedThemes:
    """The bundled themes, then the user's (which may replace a bundled one by name)."""
    out = LoadedThemes()
    bundled = sorted((p for p in files("crondeck.themes").iterdir()
                      if p.name.endswith(".toml")), key=lambda p: p.name)
    for resource in bundled:
        theme = load_theme_file(resource)  # a broken bundled theme is a bug: let it raise
        out.themes[theme.name] = theme
    directory = user_dir if user_dir is not None else user_themes_dir()
    try:
        user_files = sorted(directory.glob("*.toml"))
    except OSError:
        user_files = []
    for path in user_files:
        try:
            theme = load_theme_file(path)
        except ThemeFileError as exc:
            out.problems.append(f"{exc} (in {path.parent}; skipped)")
            continue
        out.themes[theme.name] = theme
    return out


def load_choice(path: Path | None = None) -> str | None:
    """The theme chosen last time, or None (no file, or a file that cannot be read)."""
    try:
        value = read_toml(path or prefs_path()).get("theme")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return value if isinstance(value, str) else None


def save_choice(name: str, path: Path | None = None) -> None:
    """Remember the theme (atomic write; other keys in the file are kept)."""
    path = path or prefs_path()
    try:
        data = dict(read_toml(path))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}
    data["theme"] = name
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_toml(path, data)


def install_themes(app: App[Any], *, user_dir: Path | None = None,
                   prefs: Path | None = None, remember: bool = True) -> list[str]:
    """Register every theme with `app`, switch to the remembered (else the default) theme,
    and remember each later change. Returns the problems to show (broken user themes, a
    remembered theme that no longer exists). Call from `on_mount` (the app must be running
    to subscribe to its theme changes), before the first screen is pushed."""
    loaded = load_themes(user_dir)
    for theme in loaded.themes.values():
        app.register_theme(theme)
    problems = list(loaded.problems)
    chosen = load_choice(prefs) if remember else None
    if chosen and chosen not in app.available_themes:
        problems.append(f"theme {chosen!r} (remembered from last time) is not available; "
                        f"using {DEFAULT_THEME}")
        chosen = None
    app.theme = chosen or DEFAULT_THEME
    if remember:
        saved = [chosen]

        def changed(theme: Theme) -> None:
            if theme.name == saved[0]:
                return
            saved[0] = theme.name
            try:
                save_choice(theme.name, prefs)
            except OSError as exc:
                app.notify(f"could not remember the theme: {exc}", severity="warning")

        app.theme_changed_signal.subscribe(app, changed)
    return problems


class ThemeChoices(ThemeProvider):
    """The theme list `t` opens: the theme in use first (highlighted, so enter keeps it),
    then crondeck's own (bundled and user themes), then Textual's. Alphabetical, it opened
    on "ansi-dark" with the current theme unmarked among ~25."""

    @property
    def commands(self) -> list[tuple[str, Callable[[], None]]]:
        current = self.app.theme
        rank = {name: (name != current, name in BUILTIN_THEMES)
                for name in self.app.available_themes}
        offered = [c for c in super().commands
                   if c[0] == current or c[0] not in UNREADABLE_BUILTINS]
        return sorted(offered, key=lambda c: (*rank.get(c[0], (True, True)), c[0]))

    async def discover(self) -> Hits:
        current = self.app.theme
        for name, choose in self.commands:
            yield DiscoveryHit(name, choose, help="in use now" if name == current else None)
