"""Secrets never reach what is kept or shown."""

from __future__ import annotations

from crondeck.core.redact import Redactor, redact, secret_env_values


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
    lines = Redactor().lines()
    out = [lines(line) for line in f"before\n{pem}after\n".splitlines(keepends=True)]
    assert "".join(out) == "before\n[REDACTED]\nafter\n"
    assert redact("-----BEGIN PRIVATE KEY-----\nunterminated") == "[REDACTED]"


def test_environment_is_read_at_call_time(monkeypatch) -> None:
    monkeypatch.setenv("MY_SECRET", "p4ssw0rd!")
    assert redact("the p4ssw0rd! leaked") == "the [REDACTED:MY_SECRET] leaked"
    assert redact("x", env={"EXTRA_TOKEN": "zzzz"}) == "x"
    assert redact("zzzz", env={"EXTRA_TOKEN": "zzzz"}) == "[REDACTED:EXTRA_TOKEN]"
