"""A form screen keeps the app's `q` (quit, a priority key) for itself."""

from __future__ import annotations

from typing import Any

__all__ = ["KeepsQuitKey"]


class KeepsQuitKey:
    """Mixin for Screens with a half-made change (the job editor, the cron builder): from a
    checkbox or a button, `q` quit crondeck and dropped it unsaved. Here it is consumed;
    esc leaves the screen, then q quits, and ctrl+q still quits from anywhere."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        parent: Any = super()
        return key == "q" or bool(parent.check_consume_key(key, character))
