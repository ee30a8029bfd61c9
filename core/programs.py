"""What program a command starts, read from the command as written (no process, no asyncio):
the config validation asks it of every command without loading the agents that run them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["program_name", "program_of"]


def program_of(command: str | Sequence[str]) -> str | None:
    """The program `command` starts, as written: an argv's first item; a shell line's first
    word after any `VAR=value`. None when there is none (empty, unbalanced quotes)."""
    if isinstance(command, str):
        return _shell_program(command)
    return command[0] if command and command[0] else None


@lru_cache(maxsize=1024)
def _shell_program(command: str) -> str | None:
    # cached: shlex is slow and the jobs of a 10,000-job file share a few commands
    if any(ch in command for ch in "'\"\\#"):
        import shlex  # only quoted commands need it

        try:
            words = shlex.split(command, comments=True)
        except ValueError:
            return None  # unbalanced quotes: the shell will say
    else:
        words = command.split()  # the same words, without shlex's cost
    while words and "=" in words[0] and not words[0].startswith("="):
        words = words[1:]  # FOO=1 cmd
    return words[0] if words else None


def program_name(command: str | Sequence[str]) -> str:
    """What a command is called in lists and the app ("df", "crawl.sh"): its program's file
    name, else the command as written."""
    program = program_of(command)
    if program is None:
        return command if isinstance(command, str) else " ".join(command)
    return os.path.basename(program) or program
