"""Where the jobs file and the runtime state live.

The jobs file is found by `--config PATH`, else `$CRONDECK_CONFIG`, else `./crondeck.toml`
if present, else `$XDG_CONFIG_HOME/crondeck/crondeck.toml` (created with a commented example
on first use). Runtime state sits beside it in `.crondeck/`, so each jobs file has its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .atomic import atomic_write_bytes, ensure_dir
from .lazyclass import dataclass

__all__ = [
    "CONFIG_ENV",
    "CONFIG_NAME",
    "EXAMPLE_CONFIG",
    "ConfigLocation",
    "file_stamp",
    "resolve_config",
    "state_dir",
]

CONFIG_ENV = "CRONDECK_CONFIG"
CONFIG_NAME = "crondeck.toml"
STATE_DIR_NAME = ".crondeck"

EXAMPLE_CONFIG = """\
# crondeck jobs file. Every key is documented in the README; `crondeck check` validates
# this file and `crondeck list` shows when each job fires next.
# Saving from the app edits this file in place (comments and layout are kept); the
# previous version is kept as crondeck.toml.bak.

[defaults]
# timezone = "Europe/Berlin"     # default: this machine's zone
timeout = "30m"                  # a run longer than this is terminated
overlap = "skip"                 # skip | queue_one | replace | allow
catchup = "latest"               # after downtime: latest | none | all

[scheduler]
max_concurrent_runs = 4
history = 50                     # results kept per job in .crondeck/state.toml

# An agent is any command (or Python callable) that takes a prompt.
# [agents.claude]
# kind = "command"
# command = ["claude", "-p"]
# prompt_via = "stdin"           # stdin | arg | env ($CRONDECK_PROMPT)

# [[jobs]]
# name = "inbox-watch"
# agent = "claude"
# prompt = "Summarise these new emails and flag anything important."
# schedule = "*/5 * * * *"       # or "@every 5m"
# pre_run = "scripts/new_mail.sh"  # runs first; non-zero exit skips this tick
# timeout = "10m"

# A job can also carry its command inline:
# [[jobs]]
# name = "disk-report"
# command = "df -h"
# schedule = "0 9 * * 1-5"
"""


@dataclass(frozen=True)
class ConfigLocation:
    """The resolved jobs file, how it was found, and whether it was just created."""

    path: Path
    source: str
    created: bool = False

    @property
    def state_dir(self) -> Path:
        return state_dir(self.path)


def state_dir(config_path: Path) -> Path:
    """`.crondeck/` beside the jobs file: state.toml, runs/, lock."""
    return Path(config_path).resolve().parent / STATE_DIR_NAME


def resolve_config(
    explicit: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    create: bool = True,
) -> ConfigLocation:
    """Find the jobs file in the documented order. Only the XDG default is ever created
    (with the commented example); an explicit path that does not exist is returned as-is
    so the caller can say so."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    if explicit:
        return ConfigLocation(_absolute(Path(explicit).expanduser(), cwd), "--config")
    if env.get(CONFIG_ENV):
        return ConfigLocation(_absolute(Path(env[CONFIG_ENV]).expanduser(), cwd), f"${CONFIG_ENV}")
    local = cwd / CONFIG_NAME
    if local.is_file():
        return ConfigLocation(local, f"./{CONFIG_NAME}")
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    path = _absolute(Path(base).expanduser(), cwd) / "crondeck" / CONFIG_NAME
    created = False
    if create and not path.exists():
        ensure_dir(path.parent)
        atomic_write_bytes(path, EXAMPLE_CONFIG.encode("utf-8"))
        created = True
    return ConfigLocation(path, "$XDG_CONFIG_HOME", created)


def _absolute(path: Path, cwd: Path) -> Path:
    return path if path.is_absolute() else cwd / path


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is replaced or written (mtime, size, inode); None while it
    does not exist. Watchers compare stamps instead of reading the file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
