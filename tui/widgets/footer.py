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

if TYPE_CHECKING:
    from textual.screen import Screen

__all__ = ["DeckFooter"]


class DeckFooter(Footer):
    """A `Footer` that recomposes only when what it shows would change."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[object, ...] | None = None  # what the last compose showed
        self._pending = False  # a rebuild is asked for after the next frame
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
        self._shown = self.shown_keys() if self._bindings_ready else None
        self.rebuilds += 1
        yield from super().compose()

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._pending = False
        if self.is_attached and self.shown_keys() != self._shown:
            await self.recompose()
