"""Crash-safe files: every write goes to a temp file in the same directory, is fsynced,
renamed over the old file, and the directory is fsynced, so a SIGKILL at any instant leaves
either the complete old file or the complete new one, never a torn mix.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "UnsafeDir",
    "atomic_write_bytes",
    "atomic_write_toml",
    "ensure_dir",
    "ensure_private_dir",
    "ensure_real_dir",
    "fsync_dir",
    "pid_alive",
    "read_toml",
    "remove_stale_temps",
    "save_with_backup",
    "to_toml_value",
]

FILE_MODE = 0o600
DIR_MODE = 0o700
_TMP_INFIX = ".tmp-"


def ensure_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing; the leaf gets mode 0700."""
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=DIR_MODE)
    return path


class UnsafeDir(OSError):
    """A directory crondeck keeps state in that others could plant files or links in."""


def ensure_real_dir(path: Path) -> Path:
    """`ensure_dir`, refusing a symlink or a non-directory at `path`: a link planted under
    `.crondeck/` must not send writes (or rotation's deletes) somewhere else."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        ensure_dir(path)
        st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeDir(f"{path} is a symlink; crondeck does not follow symlinks in its "
                        "state directory (remove the link)")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeDir(f"{path} is not a directory (move it away)")
    return path


def ensure_private_dir(path: Path) -> str | None:
    """Create `path` if missing; if other users may write in it, tighten it to 0700 when it
    is ours (returning a note saying so) or raise UnsafeDir when it is not."""
    path = ensure_dir(path)
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):  # ensure_dir leaves a file of that name in place
        raise UnsafeDir(f"{path} is not a directory (move it away)")
    if not st.st_mode & stat.S_IWOTH:
        return None
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.geteuid():
        raise UnsafeDir(f"{path} is writable by every user (mode {mode:04o}) and owned by uid "
                        f"{st.st_uid}, not by you: anyone could plant files or links in it, "
                        "so crondeck keeps no state there; make it yours with mode 0700")
    os.chmod(path, DIR_MODE)
    return (f"{path} was writable by every user (mode {mode:04o}); tightened to "
            f"{DIR_MODE:04o}")


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_temp(directory: Path, prefix: str) -> tuple[int, str]:
    """A new file `prefix` + random hex digits in `directory`, mode 0600, as `tempfile.mkstemp`
    makes it (which costs `crondeck exec` the import of tempfile and random)."""
    flags = (os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0))
    for _ in range(100):
        name = os.path.join(directory, prefix + os.urandom(6).hex())
        try:
            return os.open(name, flags, FILE_MODE), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for {prefix}* in {directory}")


def atomic_write_bytes(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace `path` with `data` so that readers (and a crash) see the old or the new file whole.

    Temp file in the same directory (same filesystem, so rename is atomic), fsync it, rename
    over the target, fsync the directory so the rename itself is durable.
    """
    path = Path(path)
    directory = path.parent
    fd, tmp = _create_temp(directory, f".{path.name}{_TMP_INFIX}{os.getpid()}-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode != FILE_MODE:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def to_toml_value(value: Any) -> Any:
    """Recursively drop None (TOML has no null) and normalise aware datetimes to UTC."""
    if isinstance(value, Mapping):
        return {str(k): to_toml_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [to_toml_value(v) for v in value if v is not None]
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def atomic_write_toml(path: Path, data: Mapping[str, Any], mode: int = FILE_MODE) -> None:
    """Serialise with tomli-w and write atomically."""
    import tomli_w  # here: crondeck's own files have faster writers (toml_fast)

    atomic_write_bytes(path, tomli_w.dumps(to_toml_value(data)).encode("utf-8"), mode)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file with tomllib (raises OSError, UnicodeDecodeError or TOMLDecodeError)."""
    import tomllib  # not needed to read a plain jobs file (toml_fast.py does)

    with open(path, "rb") as fh:
        return tomllib.load(fh)


def save_with_backup(path: Path, data: bytes) -> Path | None:
    """Atomically replace a file the operator owns, first keeping its current bytes as `.bak`.

    Returns the backup path (None when there was no previous file). The file keeps its mode.
    """
    path = Path(path)
    backup: Path | None = None
    mode = FILE_MODE
    remove_stale_temps(path)
    remove_stale_temps(path.with_name(path.name + ".bak"))
    try:
        old = path.read_bytes()
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        old = None
    if old is not None:
        backup = path.with_name(path.name + ".bak")
        atomic_write_bytes(backup, old, mode)
    atomic_write_bytes(path, data, mode)
    return backup


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (signal 0 probes without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(path: Path) -> int:
    """Delete temp files left beside `path` by writers that were killed mid-save."""
    removed = 0
    prefix = f".{path.name}{_TMP_INFIX}"  # then the writer's pid and "-"
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if not entry.name.startswith(prefix):
                continue
            pid, dash, _ = entry.name[len(prefix):].partition("-")
            if dash and pid.isdecimal() and not pid_alive(int(pid)):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
    return removed
