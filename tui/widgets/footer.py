"""`DeckFooter`: Textual's footer, rebuilt only when the keys it shows change.

Textual's `Footer` recomposes (unmounts and mounts a widget per key, re-applies CSS to each
and lays the screen out again) every time the screen's bindings may have changed: on every
focus change, every `refresh_bindings()`, and once per call even when several arrive before
the next frame. With 10,000 jobs on the dashboard that cost more than the frame it delays
(closing a dialog, pausing a job). This footer rebuilds once per burst of such calls, after
the frame that was due, and only if the keys, their labels or their dimmed state differ from
what it shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.widgets import Footer

from ..textual_compat import footer_keys, relabel_footer_key

if TYPE_CHECKING:
    from textual.screen import Screen

__all__ = ["DeckFooter"]


class DeckFooter(Footer):
    """A `Footer` that recomposes only when what it shows would change."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[object, ...] | None = None  # what the last compose showed
        self._pending = False  # a rebuild is asked for after the next frame
        self._ready = False  # Textual's own handler has seen the bindings once
        self._entries: list[Any] | None = None  # see `compose`
        self.rebuilds = 0  # compositions that found the keys changed (read by tests)

    def shown_keys(self) -> tuple[object, ...]:
        """What a compose would show now: each shown binding, dimmed or not, its tooltip
        and how its key displays, in order; and the footer's own switches."""
        if not self.is_attached:
            return ()
        app = self.app
        palette = app.COMMAND_PALETTE_BINDING if (self.show_command_palette and
                                                  app.ENABLE_COMMAND_PALETTE) else None
        return (self.compact, self.combine_groups, palette,
                *((binding, enabled, tooltip, app.get_key_display(binding))
                  for key, (_node, binding, enabled, tooltip)
                  in self.screen.active_bindings.items()
                  if binding.show or key == palette))

    def compose(self) -> ComposeResult:
        self._shown = self.shown_keys() if self._ready else None
        # each key widget's entry (binding, enabled, tooltip, key display), when compose
        # makes one key per action (no groups, no palette key): what `_update` can edit
        entries = _per_action(self._shown[3:]) if self._shown else []
        plain = self._shown is not None and self._shown[2] is None and all(
            e[0].group is None for e in entries)
        self._entries = entries if plain else None
        self.rebuilds += 1
        yield from super().compose()

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if not self._ready:  # the first time, Textual's own: it marks the bindings ready
            self._ready = True
            super().bindings_changed(screen)
            return
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        shown = self.shown_keys()
        if shown == self._shown:
            return
        if self._update(shown):
            self._shown = shown
            return
        await self.recompose()

    def _update(self, shown: tuple[object, ...]) -> bool:
        """Edit the keys in place where that gives what a rebuild would show: keys taken
        away are hidden and keys given back shown again (a dialog on top hides the app's
        own keys), a key whose action and words changed is relabelled (Pause <-> Resume),
        without mounting a widget per key. False where a rebuild is needed."""
        old, entries = self._shown, self._entries
        if old is None or entries is None or old[:3] != shown[:3]:
            return False
        target = _per_action(shown[3:])
        if any(e[0].group is not None for e in target):
            return False
        keys = footer_keys(self)
        if len(keys) != len(entries) or len(keys) != len(self.children):
            return False
        plan: list[tuple[bool, Any]] = []  # per key: shown?, entry it is to show
        at = 0
        for entry in entries:
            want = target[at] if at < len(target) else None
            if want == entry:
                plan.append((True, entry))
                at += 1
            elif (want is not None and want[1:2] == entry[1:2] and want[3] == entry[3]
                  and entry not in target[at:]):
                plan.append((True, want))  # same key, same dimming: new action and words
                at += 1
            else:
                plan.append((False, entry))
        if at != len(target):
            return False  # a key with no widget to show it: rebuild
        for key, entry, (show, want) in zip(keys, entries, plan, strict=True):
            if want is not entry:
                relabel_footer_key(key, want[0], want[2])
            if key.display != show:
                key.display = show
        self._entries = [want for _show, want in plan]
        return True

def _per_action(items: tuple[object, ...]) -> list[Any]:
    """One entry per action, as `Footer.compose` shows them (the first binding of each)."""
    first: dict[str, Any] = {}
    for item in items:
        binding = item[0]  # type: ignore[index]
        first.setdefault(binding.action, item)
    return list(first.values())
