"""Secrets never reach what is kept or shown."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crondeck.core.redaction import Redactor, redact, secret_env_values


def test_values_of_secret_looking_variables_are_replaced_by_name() -> None:
    env = {"OPENAI_API_KEY": "abc123xyz", "GH_TOKEN": "tok-999", "DB_PASSWORD": "hunter22",
           "HOME": "/home/me", "AUTH_HEADER": "Bearer qwerty", "SHORT_KEY": "ab"}
    values = secret_env_values(env)
    assert set(values.values()) == {"OPENAI_API_KEY", "GH_TOKEN", "DB_PASSWORD", "AUTH_HEADER"}
    r = Redactor(values)
    out = r("using abc123xyz and tok-999 at /home/me with Bearer qwerty; ab stays")
    assert out == ("using [REDACTED:OPENAI_API_KEY] and [REDACTED:GH_TOKEN] at /home/me with "
                   "[REDACTED:AUTH_HEADER]; ab stays")


def test_well_known_token_shapes() -> None:
    samples = [
        "sk-" + "a1B2" * 10,
        "sk-ant-api03-" + "x" * 30,
        "ghp_" + "A" * 36,
        "github_pat_" + "1" * 40,
        "xoxb-1234567890-abcdefghij",
        "AKIAIOSFODNN7EXAMPLE",
    ]
    for token in samples:
        assert redact(f"token={token} end") == "token=[REDACTED] end", token
    assert redact("a task-list and sketchy skis") == "a task-list and sketchy skis"


def test_pem_blocks_in_one_string_and_line_by_line() -> None:
    pem = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA\n-----END RSA PRIVATE KEY-----\n")
    assert redact(f"key:\n{pem}done") == "key:\n[REDACTED]\ndone"
    lines = Redactor().stream()
    out = [lines(line) for line in f"before\n{pem}after\n".splitlines(keepends=True)]
    assert "".join(out) == "before\n[REDACTED]\nafter\n" and lines.flush() == ""
    assert redact("-----BEGIN PRIVATE KEY-----\nunterminated") == "[REDACTED]"


def test_environment_is_read_at_call_time(monkeypatch) -> None:
    monkeypatch.setenv("MY_SECRET", "p4ssw0rd!")
    assert redact("the p4ssw0rd! leaked") == "the [REDACTED:MY_SECRET] leaked"
    assert redact("x", env={"EXTRA_TOKEN": "zzzz"}) == "x"
    assert redact("zzzz", env={"EXTRA_TOKEN": "zzzz"}) == "[REDACTED:EXTRA_TOKEN]"


# --- streams: a secret cut anywhere by the chunking never leaks -----------------------------

ENV = {"DB_PASSWORD": "hunter2-swordfish", "API_TOKEN": "tok:9f8e7d6c"}
SECRET_KINDS = {
    "sk": "sk-proj-" + "aB3_" * 6,
    "ghp": "ghp_" + "Zx9" * 8,
    "github_pat": "github_pat_" + "11AB_cd" * 4,
    "xox": "xoxb-1234567890-abcdefghij",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "pem": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\nAAAA==\n"
           "-----END OPENSSH PRIVATE KEY-----",
    "env": ENV["DB_PASSWORD"],
}
# Fillers rich in near misses: starts of token shapes, parts of the secret values, dashes.


def pieces(*words: str, chars: str, max_size: int) -> st.SearchStrategy[str]:
    """Text made of single characters and whole words (parts of secrets, markers)."""
    return st.lists(st.sampled_from([*chars, *words]), max_size=max_size).map("".join)


FILLER = pieces("hunter", "tok:", "-----", chars="ab sk-_gxoAKI\n.:SBEGIN", max_size=25)


def streamed(r: Redactor, text: str, cuts: list[int]) -> tuple[list[str], str]:
    """Feed `text` cut at `cuts`; returns what each feed released and the final flush."""
    stream = r.stream()
    bounds = [0, *sorted(set(cuts)), len(text)]
    released = [stream.feed(text[a:b]) for a, b in itertools.pairwise(bounds)]
    return released, stream.flush()


def test_a_secret_split_at_every_position_is_redacted_like_the_whole_text() -> None:
    r = Redactor(secret_env_values(ENV))
    for kind, secret in SECRET_KINDS.items():
        text = f"The key is {secret} (keep it safe).\n"
        whole = r(text)
        assert secret not in whole and "(keep it safe)" in whole, kind
        for cut in range(len(text)):
            released, rest = streamed(r, text, [cut])
            assert "".join(released) + rest == whole, (kind, cut)
        # One character at a time: a model streaming tiny deltas.
        released, rest = streamed(r, text, list(range(len(text))))
        assert "".join(released) + rest == whole, kind


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(SECRET_KINDS)), before=FILLER, after=FILLER,
       cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12))
def test_any_chunking_releases_exactly_the_redaction_of_the_whole_text(
        kind: str, before: str, after: str, cuts: list[int]) -> None:
    r = Redactor(secret_env_values(ENV))
    secret = SECRET_KINDS[kind]
    text = f"{before} {secret} {after}"
    released, rest = streamed(r, text, [c for c in cuts if c <= len(text)])
    out = "".join(released) + rest
    assert out == r(text)
    assert secret not in out
    assert all(secret not in piece for piece in released)


@settings(max_examples=200, deadline=None)
@given(text=pieces("hunter2", "-swordfish", "-----BEGIN A-----", "-----END A-----",
                   "tok:9f8e", "7d6c", "tok:", chars="ab sk-_ghpxoAKIS\n:", max_size=50),
       cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=15))
def test_arbitrary_text_in_arbitrary_chunks_matches_whole_text_redaction(
        text: str, cuts: list[int]) -> None:
    r = Redactor(secret_env_values(ENV))
    released, rest = streamed(r, text, [c for c in cuts if c <= len(text)])
    assert "".join(released) + rest == r(text)


def test_a_longer_secret_value_wins_over_a_shorter_one_it_starts_with() -> None:
    # An OpenAI key held in the environment looks like an sk- token too: the env name wins.
    r = Redactor({"abcd": "SHORT_KEY", "abcdefgh": "LONG_KEY", "sk-live.0123456789abcdefghij":
                  "OPENAI_API_KEY"})
    for text in ("x abcdefgh y", "x abcdefg y", "use sk-live.0123456789abcdefghij now"):
        for cut in range(len(text)):
            released, rest = streamed(r, text, [cut, cut + 3])
            assert "".join(released) + rest == r(text), (text, cut)
    assert r("use sk-live.0123456789abcdefghij now") == "use [REDACTED:OPENAI_API_KEY] now"


def test_model_deltas_are_released_at_once_and_only_a_possible_secret_start_is_held() -> None:
    stream = Redactor(secret_env_values(ENV)).stream()
    assert stream.feed("Hel") == "Hel"
    assert stream.feed("lo, world") == "lo, world"
    assert stream.feed("! Your key: sk-ab") == "! Your key: "  # "sk-ab" could be a key
    assert stream.feed("c") == ""
    assert stream.feed("1234567890abcdefgh") == "[REDACTED]"  # certain: shown at once
    assert stream.feed("ijk and the password hunter2") == " and the password "
    assert stream.feed("-swordfish.\n") == "[REDACTED:DB_PASSWORD].\n"
    assert stream.feed("it ends with hunt") == "it ends with "
    assert stream.flush() == "hunt"  # the end of the run: only a prefix, nothing to hide


def test_an_open_pem_block_is_masked_at_once_and_not_held_in_memory() -> None:
    stream = Redactor().stream()
    assert stream.feed("key:\n-----BEGIN RSA PRIVATE KEY-----\n") == "key:\n[REDACTED]"
    for _ in range(10_000):
        assert stream.feed("MIIEowIBAAKCAQEA" * 4 + "\n") == ""
    assert len(stream._pending) == 0
    assert stream.feed("-----END RSA PRI") == ""
    assert stream.feed("VATE KEY-----\ndone\n") == "\ndone\n"
    assert stream.flush() == ""
    unterminated = Redactor().stream()
    assert unterminated.feed("-----BEGIN PRIVATE KEY-----\nMII") == "[REDACTED]"
    assert unterminated.flush() == ""


def test_whole_lines_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command agent's whole lines are redacted one by one, never held or rescanned
    (speed itself is measured in `make bench`, not asserted here)."""
    r = Redactor(secret_env_values(ENV))
    stream = r.stream()

    def slow_path(*args: object, **kwargs: object) -> str:
        raise AssertionError("a whole line took the chunk-splitting path")

    monkeypatch.setattr(stream, "_advance", slow_path)
    line = "2025-01-06 12:00:00 INFO processed batch 42 of 100 in 0.31s\n"
    assert stream.feed(line) == line and stream._pending == "" and stream._ctx == "\n"
    secret_line = f"using {ENV['DB_PASSWORD']} now\n"
    assert stream.feed(secret_line) == "using [REDACTED:DB_PASSWORD] now\n"


# --- many lines at once: what one read of a command's output delivers -----------------------

LINE_WORDS = ["INFO", "done", "success", "access", "https://example.com/x", "a@b",
              "high", "ghost", "xo", "-----", "ASI", "AKI", "key", "=", "sk", "-", "_",
              "secret_access_key =", "hunter", "tok:"]
LINE_SECRETS = [*SECRET_KINDS.values(), "https://bob:pa55word@host/x",
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_access_key =\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]


def whole_text(r: Redactor, text: str) -> str:
    """The reference: the one regex over the whole text, however long."""
    return r._pattern.sub(r._replace, text)


lines_of_output = st.lists(
    st.lists(st.sampled_from([*LINE_WORDS, *LINE_SECRETS]), max_size=8).map(" ".join),
    min_size=1, max_size=60).map(lambda lines: "".join(f"{line}\n" for line in lines))


@settings(max_examples=200, deadline=None)
@given(text=lines_of_output, filler=st.integers(min_value=0, max_value=80))
def test_a_chunk_of_many_lines_is_redacted_like_the_whole_text(text: str, filler: int) -> None:
    r = Redactor(secret_env_values(ENV))
    text = "plain output line of no interest\n" * filler + text  # long: redacted by windows
    assert r(text) == whole_text(r, text)


@settings(max_examples=200, deadline=None)
@given(text=lines_of_output, at=st.lists(st.integers(min_value=0, max_value=60), max_size=6))
def test_whole_line_chunks_release_exactly_the_redaction_of_the_whole_text(
        text: str, at: list[int]) -> None:
    """Chunks as a command's reads deliver them: several whole lines each, cut anywhere
    between lines (a secret's name and value on two lines may fall in two chunks)."""
    r = Redactor(secret_env_values(ENV))
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    cuts = [starts[k] for k in at if k < len(starts)]
    released, rest = streamed(r, text, cuts)
    assert "".join(released) + rest == whole_text(r, text)
    for secret in (*SECRET_KINDS.values(), "pa55word", "wJalrXUtnFEMI"):
        assert all(secret not in piece for piece in released)


def test_a_secret_anywhere_in_a_read_of_thousands_of_lines_is_redacted() -> None:
    r = Redactor(secret_env_values(ENV))
    for kind, secret in SECRET_KINDS.items():
        for where in (0, 500, 999):
            lines = [f"line {i}: processed the access log with success\n" for i in range(1000)]
            lines[where] = f"line {where}: the key is {secret} (keep it safe)\n"
            chunk = "".join(lines)
            stream = r.stream()
            out = stream.feed(chunk) + stream.flush()
            assert secret not in out and out == whole_text(r, chunk), (kind, where)
            assert out.count("\n") == chunk.count("\n") - secret.count("\n")


def test_an_aws_key_on_the_line_after_its_name_in_the_next_read_is_held_then_masked() -> None:
    stream = Redactor().stream()
    first = "".join(f"row {i}\n" for i in range(300)) + "aws_secret_access_key =\n"
    released = stream.feed(first)
    assert released == "".join(f"row {i}\n" for i in range(300)) + "aws_"  # the name waits
    key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    out = released + stream.feed(f"{key}\nnext\n") + stream.flush()
    assert key not in out and out.endswith("[REDACTED]\nnext\n")
