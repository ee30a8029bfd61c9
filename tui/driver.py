"""The terminal driver: Textual's own, made safe against a terminal that goes away.

Textual's writer thread dies on the first write to a closed pty (EIO); every later write
then waits on its 30-slot queue, so once that queue fills the event loop blocks for good,
and a crondeck whose tmux session was killed could neither record its runs nor exit. Here,
writes are dropped once the terminal is known to be lost (SIGHUP) or the writer is dead.

A lost terminal does not always mean a SIGHUP: under `make demo` the hangup goes to make
(the session leader), and crondeck's input thread then spins on a terminal that reads as
end-of-file, at a full core, for good. So the driver watches the terminal itself and, once
it hangs up, stops reading it and signals SIGHUP to its own process: the app's one path
for a lost terminal (record the runs, exit).
"""

from __future__ import annotations

import os
import select
import signal
import threading

from textual.drivers.linux_driver import LinuxDriver

from .textual_compat import writer_thread

__all__ = ["HangupSafeDriver"]

_HUNG_UP = select.POLLHUP | select.POLLERR | select.POLLNVAL


class HangupSafeDriver(LinuxDriver):
    """LinuxDriver whose output goes nowhere, instead of blocking, without a terminal."""

    terminal_lost = False
    _watch_done: threading.Event | None = None

    def _writer_gone(self) -> bool:
        thread = writer_thread(self)
        return thread is not None and (self.terminal_lost or not thread.is_alive())

    def write(self, data: str) -> None:
        if self._writer_gone():
            return
        super().write(data)

    def close(self) -> None:
        thread = writer_thread(self)
        if thread is not None and not thread.is_alive():
            return  # nothing left to stop (and its queue may be full)
        super().close()

    def start_application_mode(self) -> None:
        super().start_application_mode()
        self._watch_done = done = threading.Event()
        threading.Thread(target=self._watch_terminal, args=(done,),
                         name="crondeck-hangup-watch", daemon=True).start()

    def stop_application_mode(self) -> None:
        if self._watch_done is not None:
            self._watch_done.set()
        super().stop_application_mode()

    def _watch_terminal(self, done: threading.Event) -> None:
        """Sleep until the terminal hangs up (poll wakes only for that: no events asked)."""
        poller = select.poll()
        poller.register(self.fileno, 0)
        while not done.is_set():
            if any(mask & _HUNG_UP for _fd, mask in poller.poll(500)):
                break
        else:
            return
        self.terminal_lost = True
        self.exit_event.set()  # the input thread would spin on the dead terminal
        os.kill(os.getpid(), signal.SIGHUP)
