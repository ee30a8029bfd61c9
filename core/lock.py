"""One scheduler per state directory: an fcntl advisory lock on `.crondeck/lock`.

The lock file holds the holder's pid so a second copy can say who is in the way. The kernel
drops the lock when the holder dies (even by SIGKILL), so a stale file never blocks a restart.
Observers (`--read-only`) never take it.

An flock belongs to the file, not to its name: if someone deletes or replaces `lock`, a second
scheduler locks the new file and gets in. So the holder checks (`lost()`) that the path still
names the file it locked, and stops firing once it does not.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType

from .atomic import FILE_MODE, UnsafeDir, ensure_private_dir

__all__ = ["LockHeld", "LockLostError", "StateLock"]

_ATTEMPTS = 20  # the file replaced between open and flock each time: give up after this


class LockHeld(RuntimeError):
    """Another crondeck holds the lock; `pid` is its process id when known."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        who = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"another crondeck ({who}) is already running the jobs in {path.parent.parent}; "
            f"stop it first, or watch it with --read-only (lock: {path})"
        )


class LockLostError(RuntimeError):
    """The lock file this process locked was deleted or replaced: it is no longer the only
    scheduler of its state directory."""


class StateLock:
    """`with StateLock(state_dir / "lock"):` runs the body as the only scheduler there."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self.notes: list[str] = []  # what was done to make the state directory safe

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> int | None:
        """The pid written by the current (or last) holder, if any."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def acquire(self) -> StateLock:
        """Take the lock or raise LockHeld naming the holder's pid. Never waits."""
        if self._fd is not None:
            return self
        note = ensure_private_dir(self.path.parent)  # raises UnsafeDir if not ours
        if note:
            self.notes.append(note)
        for _ in range(_ATTEMPTS):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise LockHeld(self.path, self.holder()) from None
            except BaseException:
                os.close(fd)
                raise
            if _same_file(fd, self.path):
                break
            os.close(fd)  # deleted or replaced between open and flock: lock the new file
        else:
            raise LockHeld(self.path, None)
        # Not fsynced: the pid only names the live holder to whoever finds the lock taken,
        # and the lock itself does not outlive the machine's crash.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def in_use(self) -> bool:
        """Whether another process holds the lock now. A probe: it takes the lock for an
        instant only if it is free, and writes nothing (no pid, no fsync)."""
        if self._fd is not None:
            return False
        ensure_private_dir(self.path.parent)  # as `acquire`: raises UnsafeDir if not ours
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing the file drops the flock taken on it
        return False

    def _open(self) -> int:
        try:  # a link planted at the lock's path would have its target truncated
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafeDir(f"{self.path} is a symlink; crondeck does not follow symlinks "
                                "in its state directory (remove the link)") from None
            raise

    def lost(self) -> str | None:
        """Why the lock no longer guards the state directory (its file deleted or replaced,
        so another scheduler can lock the new one), or None while it still does."""
        fd = self._fd
        if fd is None:
            return None
        try:
            st = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return f"the lock file {self.path} was deleted"
        except OSError:  # unreadable for a moment is not proof of a second scheduler
            return None
        mine = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (mine.st_dev, mine.st_ino):
            return f"the lock file {self.path} was replaced by another file"
        return None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
