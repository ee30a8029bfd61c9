"""The terminal driver: Textual's own, made safe against a terminal that goes away.

Textual's writer thread dies on the first write to a closed pty (EIO); every later write
then waits on its 30-slot queue, so once that queue fills the event loop blocks for good,
and a crondeck whose tmux session was killed could neither record its runs nor exit. Here,
writes are dropped once the terminal is known to be lost (SIGHUP) or the writer is dead.
"""

from __future__ import annotations

from textual.drivers.linux_driver import LinuxDriver

__all__ = ["HangupSafeDriver"]


class HangupSafeDriver(LinuxDriver):
    """LinuxDriver whose output goes nowhere, instead of blocking, without a terminal."""

    terminal_lost = False

    def _writer_gone(self) -> bool:
        thread = self._writer_thread
        return thread is not None and (self.terminal_lost or not thread.is_alive())

    def write(self, data: str) -> None:
        if self._writer_gone():
            return
        super().write(data)

    def close(self) -> None:
        thread = self._writer_thread
        if thread is not None and not thread.is_alive():
            return  # nothing left to stop (and its queue may be full)
        super().close()
