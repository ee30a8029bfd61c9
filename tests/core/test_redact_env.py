"""What counts as a secret beyond secret-looking variable names: every value of a job's or
agent's own `env` (whatever its name), passwords in URLs (`scheme://user:pass@host`) and AWS
secret access keys printed with their name, in whole text and in any chunking."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from crondeck.core.agents import CommandAgent
from crondeck.core.redaction import Redactor, redact
from crondeck.core.scheduler import Scheduler

JOB_ENV = {"DB_PASS": "hunter2x", "DATABASE_URL": "postgres://app:S3cr3t@db/app",
           "REGION": "eu-central-1"}
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_a_jobs_own_env_values_are_secrets_whatever_their_names() -> None:
    r = Redactor.from_env(JOB_ENV)
    out = r("db postgres://app:S3cr3t@db/app as hunter2x in eu-central-1; pw S3cr3t")
    assert out == ("db [REDACTED:DATABASE_URL] as [REDACTED:DB_PASS] in [REDACTED:REGION]; "
                   "pw [REDACTED:DATABASE_URL]")
    assert redact("hunter2x", env=JOB_ENV) == "[REDACTED:DB_PASS]"


def test_well_known_plain_settings_in_env_are_not_masked() -> None:
    env = {"PATH": "/usr/local/bin:/usr/bin", "LANG": "en_US.UTF-8", "LC_ALL": "C.UTF-8",
           "TZ": "Europe/Berlin", "DEBUG": "true", "VERBOSE": "False", "PORT": "8080",
           "HOME": "/home/me"}
    text = "PATH=/usr/local/bin:/usr/bin en_US.UTF-8 C.UTF-8 Europe/Berlin true False 8080 /home/me"
    assert Redactor.from_env(env)(text) == text


def test_passwords_in_urls_are_masked_and_the_rest_kept() -> None:
    assert redact("git clone https://bob:tok3n-x@github.com/o/r.git") == \
        "git clone https://bob:[REDACTED]@github.com/o/r.git"
    assert redact("redis://:pw1234@cache:6379/0 up") == "redis://:[REDACTED]@cache:6379/0 up"
    assert redact("amqp://guest:p%40ss:w@rabbit/") == "amqp://guest:[REDACTED]@rabbit/"
    for plain in ("http://host:8080/path?a=b@c", "mail bob@example.com", "see https://x.org/a:b",
                  "ssh://git@github.com:22/o/r", "C:\\dir and //comment: x@y"):
        assert redact(plain) == plain, plain


def test_aws_secret_access_keys_printed_with_their_name_are_masked() -> None:
    for line, kept in [
        (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = "),
        (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", "AWS_SECRET_ACCESS_KEY="),
        (f'    "SecretAccessKey": "{AWS_SECRET}",', '    "SecretAccessKey": "'),
        (f"secretAccessKey: '{AWS_SECRET}'", "secretAccessKey: '"),
    ]:
        out = redact(line)
        assert AWS_SECRET[:8] not in out and out.startswith(kept + "[REDACTED]"), line
    sha = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    assert redact(f"commit {sha}") == f"commit {sha}"


def _streamed(r: Redactor, text: str, cuts: list[int]) -> str:
    stream = r.stream()
    bounds = [0, *sorted({c for c in cuts if c <= len(text)}), len(text)]
    out = [stream.feed(text[a:b]) for a, b in itertools.pairwise(bounds)]
    return "".join(out) + stream.flush()


SAMPLES = [
    "clone https://bob:tok3n-x@github.com/o/r.git now\n",
    "redis://:pw1234@cache:6379/0",
    f'{{"SecretAccessKey": "{AWS_SECRET}", "x": 1}}',
    f"aws_secret_access_key={AWS_SECRET}",
    "db postgres://app:S3cr3t@db/app as hunter2x",
]


def test_url_and_aws_secrets_cut_anywhere_are_redacted_like_the_whole_text() -> None:
    r = Redactor.from_env(JOB_ENV)
    for text in SAMPLES:
        whole = r(text)
        for cut in range(len(text)):
            assert _streamed(r, text, [cut]) == whole, (text, cut)
        assert _streamed(r, text, list(range(len(text)))) == whole, text


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from([*"ab :/@=\"' \nsS", "://", "secret_access_key",
                                      "SecretAccessKey", AWS_SECRET[:20], AWS_SECRET[20:],
                                      "S3cr3t", "hunter2x", "u:", "@h"]),
                     max_size=40).map("".join),
       cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=15))
def test_arbitrary_chunking_of_url_and_key_text_matches_whole_text(text: str,
                                                                     cuts: list[int]) -> None:
    r = Redactor.from_env(JOB_ENV)
    assert _streamed(r, text, cuts) == r(text)


def test_a_command_jobs_env_values_never_reach_its_output() -> None:
    agent = CommandAgent("echo $DB_PASS $DATABASE_URL; echo pw=S3cr3t", env=JOB_ENV)

    async def main() -> str:
        s = Scheduler()
        job = s.add_job(agent, "", "@yearly", name="j", tz="UTC", timeout=20)
        result = await asyncio.wait_for(s.run_now(job).wait(), 60)
        return result.output_tail

    out = asyncio.run(main())
    assert "hunter2x" not in out and "S3cr3t" not in out, out
    assert "[REDACTED:DB_PASS] [REDACTED:DATABASE_URL]" in out
