"""The jobs file's keys for model agents, guard rails and notify, each mistake reported
with its line and what would be right; a key is never accepted in the file."""

from __future__ import annotations

import asyncio

import pytest

from crondeck.core.config import ConfigError, parse_config
from crondeck.core.llm import AnthropicAgent, OpenAIAgent
from crondeck.core.notify import NotifySpec
from crondeck.core.runtime import build_scheduler

JOB = '\n[[jobs]]\nname = "j"\nagent = "m"\nschedule = "@daily"\nprompt = "hi"\n'


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return [f"{p.line}: {p.key}: {p.message}" for p in info.value.problems]


def test_model_agents_and_guard_rails_reach_the_scheduler() -> None:
    config = parse_config(
        '[defaults]\ndaily_token_budget = 5000\n'
        'notify = { on = ["failure"], webhook = "https://ntfy.sh/x", format = "ntfy" }\n'
        '[agents.m]\nkind = "openai"\nmodel = "llama3"\nbase_url = "http://localhost:11434/v1"'
        '\ntimeout = "30s"\nprice_in = 1\nprice_out = 2\n' + JOB + 'expect = "^OK"\n'
        'max_tokens = 99\n'
        '[[jobs]]\nname = "c"\nagent = "a"\nschedule = "@daily"\nfail_if_empty = false\n'
        '[agents.a]\nkind = "anthropic"\nmodel = "claude"\n')
    scheduler = build_scheduler(config)
    j, c = scheduler.jobs["j"], scheduler.jobs["c"]
    assert isinstance(j.agent, OpenAIAgent) and j.agent.max_tokens == 99
    assert j.agent.url == "http://localhost:11434/v1/chat/completions" and j.agent.timeout == 30
    assert isinstance(c.agent, AnthropicAgent)
    assert j.options.expect == "^OK" and j.options.fail_if_empty
    assert (j.options.price_in, j.options.price_out) == (1.0, 2.0)
    assert j.options.daily_token_budget == 5000
    assert j.options.notify == NotifySpec(on=("failure",), webhook="https://ntfy.sh/x",
                                          format="ntfy")
    assert not c.options.fail_if_empty
    again = parse_config(config.dumps())  # the app's save keeps every new key
    assert again.agents == config.agents and again.jobs == config.jobs
    assert again.defaults == config.defaults


def test_a_key_in_the_file_is_refused_with_the_right_way() -> None:
    [msg] = problems('[agents.m]\nkind = "openai"\nmodel = "x"\napi_key = "sk-abc"\n' + JOB)
    assert msg.startswith("4: api_key: keys are never stored in the jobs file")
    assert 'api_key_env = "OPENAI_API_KEY"' in msg
    [msg] = problems('[agents.m]\nkind = "openai"\nmodel = "x"\n'
                     'api_key_env = "sk-proj-abcdef123"\n' + JOB)
    assert "names an environment variable" in msg and "abcdef123" not in msg


def test_model_agent_mistakes() -> None:
    assert problems('[agents.m]\nkind = "openai"\n' + JOB) == [
        "1: agents.m: agent 'm' needs model = \"...\" (kind = 'openai')"]
    [msg] = problems('[agents.m]\nmodel = "gpt"\n' + JOB)
    assert "has model but no kind" in msg
    [msg] = problems('[agents.m]\nkind = "anthropic"\nmodel = "c"\ncommand = "x"\n' + JOB)
    assert msg.startswith("4: command: command does not apply to a anthropic model agent")
    [msg] = problems('[agents.m]\nkind = "openai"\nmodel = "c"\nbase_url = "localhost"\n' + JOB)
    assert msg.startswith("4: base_url: 'localhost' is not a URL")
    [msg] = problems('[agents.m]\ncommand = "x"\n' + JOB + "max_tokens = 5\n")
    assert "max_tokens applies to model agents" in msg


def test_guard_rail_and_notify_mistakes() -> None:
    base = '[agents.m]\ncommand = "cat"\n' + JOB
    [msg] = problems(base + 'expect = "RESULT: ({"\n')
    assert msg.startswith("9: expect: not a valid regular expression: missing )")
    [msg] = problems(base + "daily_token_budget = 0\n")
    assert "0 is too small" in msg
    [msg] = problems(base + 'notify = { on = ["failed"], command = "x" }\n')
    assert "notify.on: 'failed' is not an event; did you mean 'failure'?" in msg
    [msg] = problems(base + 'notify = { on = ["failure"] }\n')
    assert "notify needs a target" in msg
    [msg] = problems(base + 'notify = { webhok = "https://x" }\n')
    assert "unknown key 'webhok' in notify; did you mean 'webhook'?" in msg
    [msg] = problems(base + 'notify = { webhook = "https://x", format = "teams" }\n')
    assert "notify.format: 'teams' is not one of" in msg
    [msg] = problems('[defaults]\nfail_if_empty = "yes"\n' + base)
    assert msg.startswith("2: fail_if_empty: expected true or false")


def test_empty_output_fails_by_default_in_the_jobs_file() -> None:
    config = parse_config('[[jobs]]\nname = "quiet"\ncommand = "true"\nschedule = "@daily"\n'
                          '[[jobs]]\nname = "ok"\ncommand = "true"\nschedule = "@daily"\n'
                          'fail_if_empty = false\n')
    scheduler = build_scheduler(config)

    async def go() -> list[str]:
        out = []
        for name in ("quiet", "ok"):
            out.append((await scheduler.run_now(scheduler.jobs[name]).wait()).status.value)
        return out

    assert asyncio.run(go()) == ["failed", "ok"]
