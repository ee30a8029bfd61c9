"""Secret redaction applied to output, errors and gate reasons before anything is kept or shown.

Three sources of secrets: the values of environment variables whose names look secret
(KEY, TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL, AUTH); every value of a job's or agent's
own `env` whatever its name (bar well-known plain settings such as PATH, LANG or TZ, and
`true`/`false` or a short number), plus the password of a URL among them; and well-known
shapes (sk-…, ghp_…, xox…, AKIA…, PEM blocks, the password in `scheme://user:pass@host`, an
AWS secret access key printed after its name). One compiled pattern does all of it, so
redacting a flood of output line by line stays cheap.

Output arrives in chunks that can cut a secret anywhere (a model streams deltas of a few
characters), so runs go through a `StreamRedactor`: it holds back only the shortest tail
that could still become a secret and releases the rest at once, and its concatenated
output is exactly what redacting the whole text in one go would give.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache

__all__ = [
    "SECRET_NAME_PARTS",
    "Redactor",
    "StreamRedactor",
    "own_env_values",
    "redact",
    "refresh_env",
    "secret_env_values",
]

SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
MIN_SECRET_LEN = 4  # shorter values ("1", "yes") would redact ordinary words everywhere
MASK = "[REDACTED]"
ENV_TTL = 1.0
HOLD_LIMIT = 8192  # beyond the longest secret value: only a pathological PEM label gets here
_env_cache: tuple[float, tuple[tuple[str, str], ...]] | None = None

# How an AWS secret access key is introduced when printed (config files, env, the AWS CLI's
# JSON); a bare 40-character string is not masked (it could be a git commit or a path).
_AWS_NAMES = ("secret_access_key", "SECRET_ACCESS_KEY", "SecretAccessKey", "secretAccessKey",
              "Secret_Access_Key")
_AWS_REST = r"""["']?\s*(?:[:=]\s*["']?[A-Za-z0-9/+]{0,40})?"""
_SHAPES = [
    r"-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|\Z)",
    r"\bsk-[A-Za-z0-9_\-]{16,}",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    # Only the password is masked (the named group is kept): `https://bob:[REDACTED]@host`.
    r"(?P<url>(?<=:)//[^\s/?#@:]*:)[^\s/?#@]+@",
    r"(?P<aws>(?=[sS])(?:" + "|".join(_AWS_NAMES) + r")[\"']?\s*[:=]\s*[\"']?)"
    r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
]
# Literals every match of a shape contains: a text holding none of them (nor any secret
# value) cannot match, and `in` finds that far faster than the regex can.
_SHAPE_LITERALS = (
    "-----BEGIN ", "sk-", *(f"gh{c}_" for c in "pousr"), "github_pat_",
    *(f"xox{c}-" for c in "abposr"), "AKIA", "ASIA", "://", "ccess", "CCESS",
)
# The same as (first look, exact literals): one scan of a long text for `gh` rules out five
# literals, and only a text holding `gh` is scanned for each of them.
_SHAPE_CHECKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("-----BEGIN ", ()), ("sk-", ()), ("gh", tuple(f"gh{c}_" for c in "pousr")),
    ("github_pat_", ()), ("xox", tuple(f"xox{c}-" for c in "abposr")), ("AKIA", ()),
    ("ASIA", ()), ("://", ()), ("ccess", ()), ("CCESS", ()),
)
_AWS_LITERALS = ("ccess", "CCESS")
# A text longer than this with several lines is redacted line by line around the literals
# it holds (the regex costs far more per character than finding them).
WINDOW_MIN = 2048


# The patterns below serve only output that could hold a secret split across chunks; they
# are compiled on first use, not at import (`crondeck exec` loads this module every start).
@cache
def _pem_begin() -> re.Pattern[str]:
    return re.compile(r"-----BEGIN [A-Z0-9 ]+-----")


@cache
def _pem_end() -> re.Pattern[str]:
    return re.compile(r"-----END [A-Z0-9 ]+-----")


def _prefixes(literal: str, rest: str = "") -> str:
    """A pattern for every non-empty prefix of `literal`, continued by `rest` once complete."""
    tail = f"(?:{rest})?" if rest else ""
    for ch in reversed(literal[1:]):
        tail = f"(?:{re.escape(ch)}{tail})?"
    return re.escape(literal[0]) + tail


# What the end of a chunk may be the start of. A superset is fine (it only delays text);
# missing a case would let a secret out in two halves. Token runs that already reached their
# minimum length are included: they may still grow.
@cache
def _partial() -> re.Pattern[str]:
    return re.compile("(?:" + "|".join([
        _prefixes("-----BEGIN ", r"[A-Z0-9 ]*-{0,4}"),
        r"\b" + _prefixes("sk-", r"[A-Za-z0-9_\-]*"),
        r"\bg(?:h(?:[pousr](?:_[A-Za-z0-9]*)?)?)?",
        r"\b" + _prefixes("github_pat_", r"[A-Za-z0-9_]*"),
        r"\bx(?:o(?:x(?:[abposr](?:-[A-Za-z0-9\-]*)?)?)?)?",
        r"\bA(?:[KS](?:I(?:A[0-9A-Z]{0,16})?)?)?",
        r"(?<=:)/(?:/[^\s/?#@:]*(?::[^\s/?#@]*)?)?",
        r"(?=[sS])(?:" + "|".join(_prefixes(name, _AWS_REST) for name in _AWS_NAMES) + ")",
    ]) + r")\Z")


@cache
def _pem_end_partial() -> re.Pattern[str]:
    return re.compile(_prefixes("-----END ", r"[A-Z0-9 ]*-{0,4}") + r"\Z")


# Once one of these tokens is long enough it is certainly masked, whatever follows: its
# mask is released at once and the rest of the run of token characters is swallowed.
@cache
def _token_runs() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return (
        ("sk-", re.compile(r"[A-Za-z0-9_\-]*")),
        ("github_pat_", re.compile(r"[A-Za-z0-9_]*")),
        ("gh", re.compile(r"[A-Za-z0-9]*")),
        ("xox", re.compile(r"[A-Za-z0-9\-]*")),
    )


def _is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(part in upper for part in SECRET_NAME_PARTS)


# A job's own env is secret whatever the names, except these plain settings...
_PLAIN_NAMES = frozenset({
    "PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TERM", "SHELL", "USER", "LOGNAME", "PWD",
    "TMPDIR", "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONIOENCODING", "NO_COLOR",
})
# ...and values that cannot be worth hiding but would mask ordinary output everywhere.
_PLAIN_VALUE = re.compile(r"(?i:true|false)|\d{1,5}")
_URL_PASSWORD = re.compile(r"//[^\s/?#@:]*:([^\s/?#@]+)@")


def own_env_values(env: Mapping[str, str]) -> dict[str, str]:
    """The secrets of a job's or agent's own `env` (value -> name): every value of at least
    MIN_SECRET_LEN characters whatever its name, except well-known plain settings (PATH,
    LANG, LC_*, TZ…) and `true`/`false` or a short number under a name that does not look
    secret; a URL value's password counts on its own too."""
    out: dict[str, str] = {}
    for name, value in env.items():
        if not value or len(value) < MIN_SECRET_LEN:
            continue
        if not _is_secret_name(name) and (
                name.upper() in _PLAIN_NAMES or name.upper().startswith("LC_")
                or _PLAIN_VALUE.fullmatch(value)):
            continue
        out.setdefault(value, name)
        m = _URL_PASSWORD.search(value)
        if m and len(m.group(1)) >= MIN_SECRET_LEN:
            out.setdefault(m.group(1), name)
    return out


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
        self._compiled: re.Pattern[str] | None = None
        self._literals = (*_SHAPE_LITERALS, *self.values)
        self._checks = (*_SHAPE_CHECKS, *((v, ()) for v in self.values))
        self._multiline = any("\n" in v for v in self.values)
        self._value_prefixes: dict[str, list[str]] | None = None

    @property
    def _pattern(self) -> re.Pattern[str]:
        """The one pattern of every secret, compiled on first use: most output holds none of
        the literals a secret needs, and a run of such output never needs it."""
        if self._compiled is None:
            self._compiled = _compile(tuple(sorted(self.values, key=len, reverse=True)))
        return self._compiled

    @classmethod
    def from_env(cls, *extra: Mapping[str, str] | None) -> Redactor:
        """A redactor for os.environ plus any job/agent-specific environments (all of whose
        values are secrets, see `own_env_values`).

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
                    for value, name in own_env_values(env).items():
                        values.setdefault(value, name)
            items = tuple(sorted(values.items()))
        return _cached(items)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        if len(text) > WINDOW_MIN:
            return self._long(text)
        for literal in self._literals:
            if literal in text and (literal != "://" or "@" in text):  # URLs: only with a user
                return self._pattern.sub(self._replace, text)
        return text  # the usual line: nothing that could start a secret

    def _long(self, text: str) -> str:
        """`__call__` for a long text (many lines of output at once): the same result, with
        the regex run only over the lines holding a literal. Every match contains one and,
        but for a PEM block, a secret value with a newline in it, or an AWS key printed on
        a line after its name, lies within that literal's line."""
        found: list[str] = []
        for first, exact in self._checks:
            if first in text:
                if not exact:
                    found.append(first)
                else:
                    found.extend(e for e in exact if e in text)
        if "://" in found and "@" not in text:  # URLs: only with a user
            found.remove("://")
        if not found:
            return text
        if "-----BEGIN " in found or self._multiline:
            return self._pattern.sub(self._replace, text)
        n = len(text)
        spans: list[tuple[int, int]] = []
        for literal in found:
            aws = literal in _AWS_LITERALS  # its key may follow on a later line
            i = text.find(literal)
            while i != -1:
                start = text.rfind("\n", 0, i) + 1
                line_end = text.find("\n", i + len(literal)) + 1 or n
                spans.append((start, _aws_reach(text, line_end) if aws else line_end))
                i = text.find(literal, line_end) if line_end < n else -1
        spans.sort()
        out: list[str] = []
        done = 0
        sub, replace = self._pattern.sub, self._replace
        k = 0
        while k < len(spans):
            start, end = spans[k]
            k += 1
            while k < len(spans) and spans[k][0] <= end:  # overlapping: one window
                end = max(end, spans[k][1])
                k += 1
            out.append(text[done:start])
            out.append(sub(replace, text[start:end]))
            done = end
        out.append(text[done:])
        return "".join(out)

    def _replace(self, m: re.Match[str]) -> str:
        name = self.values.get(m.group(0))
        if name:
            return f"[REDACTED:{name}]"
        kept = m.lastgroup  # a shape whose lead-in stays readable (URL user, key's name)
        if kept is not None:
            return m.group(kept) + MASK + ("@" if kept == "url" else "")
        return MASK

    def stream(self) -> StreamRedactor:
        """A redactor for one stream of output arriving in arbitrary chunks."""
        return StreamRedactor(self)

    def value_prefixes(self) -> dict[str, list[str]]:
        """Proper prefixes of the secret values, keyed by their last character, longest
        first: how a chunk's end is matched against every value in a dict lookup. Built on
        first use and kept (redactors are cached per environment)."""
        if self._value_prefixes is None:
            index: dict[str, list[str]] = {}
            for value in self.values:
                for k in range(1, len(value)):
                    index.setdefault(value[k - 1], []).append(value[:k])
            for prefixes in index.values():
                prefixes.sort(key=len, reverse=True)
            self._value_prefixes = index
        return self._value_prefixes


class StreamRedactor:
    """Redacts one stream given in arbitrary chunks; `feed` returns what is safe to show now,
    `flush` the rest when the stream ends.

    The released text, joined, equals redacting the whole stream at once. Held back is only
    a tail that could still turn into a secret (`sk-ab`, the first characters of a secret
    value, `-----BEG`); an open PEM block is masked at once and swallowed up to its END line.
    A line ending in a newline with nothing pending, the usual case for command agents, is
    redacted on its own, as cheaply as a single regex substitution."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._prefixes = redactor.value_prefixes()
        self._newline_in_values = "\n" in self._prefixes
        self._pending = ""  # raw text not released yet
        self._ctx = ""  # the last raw character released (for the `\b` before a token)
        self._mode: re.Pattern[str] | None = None  # inside a masked PEM block or token run

    def __call__(self, chunk: str) -> str:
        return self.feed(chunk)

    def feed(self, chunk: str) -> str:
        """The redacted text that `chunk` makes final (possibly empty, possibly including
        text held back from earlier chunks)."""
        if not chunk:
            return ""
        if (chunk[-1] == "\n" and not self._pending and self._mode is None
                and self._ctx in ("", "\n") and "-----BEGIN " not in chunk
                and not self._newline_in_values):
            # Whole lines: only an AWS key printed on a line after its name could span the
            # end, so all but a tail holding such a name is final at once.
            cut = _aws_tail(chunk)
            if cut is None:
                self._ctx = "\n"
                return self._redactor(chunk)
            head = ""
            if cut:
                head = self._redactor(chunk[:cut])
                self._ctx = "\n"
            return head + self._advance(chunk[cut:], final=False)
        return self._advance(self._pending + chunk, final=False)

    def flush(self) -> str:
        """Everything still held back, redacted as the end of the stream; resets the state."""
        out = self._advance(self._pending, final=True)
        self._pending, self._ctx, self._mode = "", "", None
        return out

    def _advance(self, text: str, final: bool) -> str:
        """Redact the pending text plus `text`, keep the tail that may still change and
        return the rest. The last released character is put in front so a `\\b` before
        a token sees what really preceded it."""
        s = self._ctx + text
        n = len(s)
        pos = len(self._ctx)
        out: list[str] = []
        hold = n
        while True:
            mode = self._mode
            if mode is _pem_end():  # inside a masked block: drop text up to its END line
                m = _pem_end().search(s, pos)
                if m is not None:
                    pos, self._mode = m.end(), None
                    continue
                if not final:
                    p = _pem_end_partial().search(s, pos)
                    hold = p.start() if p is not None else n
                break
            if mode is not None:  # inside a masked token: drop its remaining characters
                pos = mode.match(s, pos).end()  # type: ignore[union-attr]
                if pos == n:
                    break
                self._mode = None
                continue
            pos, hold = self._normal(s, pos, final, out)
            if self._mode is None:
                break
        self._pending = s[hold:]
        self._ctx = s[hold - 1] if hold > 0 else ""
        if len(self._pending) > HOLD_LIMIT:  # never hold without bound
            if self._mode is None:
                out.append(self._redactor(self._pending))
                self._ctx = self._pending[-1]
            self._pending = ""
        return "".join(out)

    def _normal(self, s: str, pos: int, final: bool, out: list[str]) -> tuple[int, int]:
        """Redact `s` from `pos` outside any masked block, appending what is final to `out`.
        Returns (where to resume, where the held-back tail starts); resuming before the
        end means a PEM block or token run was entered (`self._mode`)."""
        n = len(s)
        if final and pos >= n:  # nothing left to scan (a stream that ended with a newline)
            return n, n
        prev = pos
        env_starts = [] if final else self._value_starts(s, pos)
        shape_start = -1  # leftmost partial token shape at or after `prev`; -1: not looked up
        for m in self._redactor._pattern.finditer(s, pos):
            start, end = m.span()
            if not final:
                if shape_start < prev:
                    p = _partial().search(s, prev)
                    shape_start = p.start() if p is not None else n + 1
                q = min([shape_start, *(e for e in env_starts if e >= prev)])
                if q < start or start in env_starts:
                    # More text could make a match start here (or a longer value win).
                    out.append(s[prev:q if q < start else start])
                    return n, min(q, start)
                if end == n and m.group(0) not in self._redactor.values:
                    mode = self._certain(m)
                    out.append(s[prev:start])
                    if mode is None:  # e.g. AKIA…: the next character decides
                        return n, start
                    out.append(MASK)
                    self._mode = mode
                    if mode is _pem_end():
                        begin = _pem_begin().match(s, start)
                        assert begin is not None
                        return begin.end(), n
                    return end, n
            out.append(s[prev:start])
            out.append(self._redactor._replace(m))
            prev = end
        if final:
            out.append(s[prev:])
            return n, n
        p = _partial().search(s, prev)
        q = min([p.start() if p is not None else n, *(e for e in env_starts if e >= prev)])
        out.append(s[prev:q])
        return n, q

    def _value_starts(self, s: str, pos: int) -> list[int]:
        """Positions (>= pos) from which the rest of `s` is a proper prefix of a secret value."""
        prefixes = self._prefixes.get(s[-1]) if s else None
        if not prefixes:
            return []
        n = len(s)
        return sorted(n - len(p) for p in prefixes if n - len(p) >= pos and s.endswith(p))

    def _certain(self, m: re.Match[str]) -> re.Pattern[str] | None:
        """How to swallow the rest of a token match that reached the end of the text, if its
        mask is certain whatever follows (None when the next characters could undo it)."""
        text = m.group(0)
        if text.startswith("-----"):
            return _pem_end()
        for prefix, run in _token_runs():
            if text.startswith(prefix):
                return run
        return None


@cache
def _key_char() -> re.Pattern[str]:
    return re.compile(r"[A-Za-z0-9/+]")


def _aws_tail(chunk: str) -> int | None:
    """Where the lines start that may hold an AWS secret key's name whose value is still to
    come (a later read may bring it), in a chunk of whole lines; None when none may. Such a
    match runs from the name over lines of nothing but `=`, `:`, quotes and spaces to the
    key, so going back from the end over those lines and name lines finds where it could
    begin."""
    cut = None
    pos = len(chunk)
    while pos > 0:
        start = chunk.rfind("\n", 0, pos - 1) + 1
        line = chunk[start:pos]
        if "ccess" in line or "CCESS" in line:
            cut = start
        elif _key_char().search(line) is not None:
            break
        pos = start
    return cut


def _aws_reach(text: str, end: int) -> int:
    """The end of the lines after `end` an AWS key's match begun before it may reach: over
    lines of nothing but `=`, `:`, quotes and spaces, to the next line (the key's)."""
    n = len(text)
    while end < n:
        nxt = text.find("\n", end) + 1 or n
        if _key_char().search(text, end, nxt) is not None:
            return nxt
        end = nxt
    return n


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
