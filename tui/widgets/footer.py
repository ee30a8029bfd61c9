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
        if self._relabel(shown):
            self._shown = shown
            return
        await self.recompose()

    def _relabel(self, shown: tuple[object, ...]) -> bool:
        """Where only what keys do and say changed (Pause <-> Resume on the same key, none
        dimmed or undimmed, none added or taken away), relabel the keys shown instead of
        rebuilding them: the same look as a rebuild, without mounting a widget per key.
        False where a rebuild is needed."""
        old = self._shown
        if old is None or old[:3] != shown[:3] or shown[2] is not None:
            return False
        before, after = _per_action(old[3:]), _per_action(shown[3:])
        keys = footer_keys(self)
        if not (len(before) == len(after) == len(keys) == len(self.children)):
            return False
        for (b0, on0, _t0, shown0), (b1, on1, _t1, shown1) in zip(before, after, strict=True):
            if on0 != on1 or shown0 != shown1 or b0.group is not None or b1.group is not None:
                return False
        for key, (binding, _on, tooltip, _display) in zip(keys, after, strict=True):
            relabel_footer_key(key, binding, tooltip)
        return True


def _per_action(items: tuple[object, ...]) -> list[Any]:
    """One entry per action, as `Footer.compose` shows them (the first binding of each)."""
    first: dict[str, Any] = {}
    for item in items:
        binding = item[0]  # type: ignore[index]
        first.setdefault(binding.action, item)
    return list(first.values())
