"""Secret redaction applied to output, errors and gate reasons before anything is kept or shown.

Two sources of secrets: the values of environment variables whose names look secret
(KEY, TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL, AUTH), and well-known token shapes
(sk-…, ghp_…, xox…, AKIA…, PEM blocks). One compiled pattern does both, so redacting a
flood of output line by line stays cheap.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache

__all__ = [
    "SECRET_NAME_PARTS",
    "LineRedactor",
    "Redactor",
    "redact",
    "refresh_env",
    "secret_env_values",
]

SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
MIN_SECRET_LEN = 4  # shorter values ("1", "yes") would redact ordinary words everywhere
MASK = "[REDACTED]"
ENV_TTL = 1.0
_env_cache: tuple[float, tuple[tuple[str, str], ...]] | None = None

_SHAPES = [
    r"-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|\Z)",
    r"\bsk-[A-Za-z0-9_\-]{16,}",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
]
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]+-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]+-----")


def _is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(part in upper for part in SECRET_NAME_PARTS)


def secret_env_values(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Secret-looking variables of `env` (default os.environ): value -> name."""
    source = os.environ if env is None else env
    out: dict[str, str] = {}
    for name, value in source.items():
        if value and len(value) >= MIN_SECRET_LEN and _is_secret_name(name):
            out.setdefault(value, name)
    return out


class Redactor:
    """Replaces secret values (as `[REDACTED:NAME]`) and token shapes (as `[REDACTED]`)."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self._pattern = _compile(tuple(sorted(self.values, key=len, reverse=True)))

    @classmethod
    def from_env(cls, *extra: Mapping[str, str] | None) -> Redactor:
        """A redactor for os.environ plus any job/agent-specific environments.

        os.environ is rescanned at most every ENV_TTL seconds: a burst of 1,000 runs
        starting together must not scan and decode the environment 1,000 times."""
        global _env_cache
        now = time.monotonic()
        if _env_cache is None or now - _env_cache[0] > ENV_TTL:
            _env_cache = (now, tuple(sorted(secret_env_values().items())))
        items = _env_cache[1]
        if any(extra):
            values = dict(items)
            for env in extra:
                if env:
                    for value, name in secret_env_values(env).items():
                        values.setdefault(value, name)
            items = tuple(sorted(values.items()))
        return _cached(items)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        return self._pattern.sub(self._replace, text)

    def _replace(self, m: re.Match[str]) -> str:
        name = self.values.get(m.group(0))
        return f"[REDACTED:{name}]" if name else MASK

    def lines(self) -> LineRedactor:
        return LineRedactor(self)


class LineRedactor:
    """Redacts a stream one line at a time, remembering an open PEM block across lines so a
    key printed line by line is masked whole."""

    def __init__(self, redactor: Redactor) -> None:
        self._redact = redactor
        self._in_pem = False

    def __call__(self, line: str) -> str:
        if self._in_pem:
            if _PEM_END.search(line):
                self._in_pem = False
                rest = _PEM_END.split(line, maxsplit=1)[1]
                return self._redact(rest) if rest.strip() else ""
            return ""
        m = _PEM_BEGIN.search(line)
        if m and not _PEM_END.search(line, m.end()):
            self._in_pem = True
            return self._redact(line[: m.start()]) + MASK + ("\n" if line.endswith("\n") else "")
        return self._redact(line)


def refresh_env() -> None:
    """Forget the cached scan of os.environ (the scheduler calls this once per wake-up, so
    a secret exported a moment ago is redacted from the next run on)."""
    global _env_cache
    _env_cache = None


def _compile(values: Iterable[str]) -> re.Pattern[str]:
    parts = [re.escape(v) for v in values] + _SHAPES
    return re.compile("|".join(f"(?:{p})" for p in parts))


@lru_cache(maxsize=64)
def _cached(items: tuple[tuple[str, str], ...]) -> Redactor:
    return Redactor(dict(items))


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """Redact `text` with the secrets of os.environ (read now, plus `env`) and token shapes."""
    refresh_env()
    return Redactor.from_env(env)(text)
