"""Prompt templates: placeholders filled per slot in the job's zone, {last_output} for digests
that must not repeat themselves, {context} from the gate, literal braces, and check errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from crondeck.core.clock import FakeClock
from crondeck.core.config import ConfigError, parse_config
from crondeck.core.scheduler import Scheduler
from crondeck.core.templates import (
    TemplateValues,
    render,
    unknown_placeholders,
    uses_context,
)

SLOT = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 in Berlin


def test_placeholders_and_escapes() -> None:
    values = TemplateValues(SLOT, "j@x", "j", last_output="before", context="ctx")
    text = render("{job} {run_id} {date} {time} [{last_output}] <{context}> {{date}} {x}",
                  values)
    assert text == "j j@x 2026-03-30 07:00 [before] <ctx> {date} {x}"
    assert render('Reply as {"ok": true}', values) == 'Reply as {"ok": true}'
    assert uses_context("a {context}") and not uses_context("a {{context}}")


def test_unknown_placeholders_are_reported_with_the_nearest_name() -> None:
    assert unknown_placeholders("{date} {{literal}} {\"json\": 1}") == []
    [msg] = unknown_placeholders("Since {last_ouput}:")
    assert msg.startswith("unknown placeholder {last_ouput} in prompt; did you mean "
                          "{last_output}?")
    assert "{{last_ouput}}" in msg


def test_a_scheduled_run_sees_its_slot_in_the_job_zone_and_the_last_output() -> None:
    prompts: list[str] = []

    async def agent(prompt: str) -> str:
        prompts.append(prompt)
        return f"digest #{len(prompts)}\n"

    async def main() -> None:
        clock = FakeClock(datetime(2026, 3, 30, 6, 59, tzinfo=UTC))
        s = Scheduler(clock=clock)
        s.add_job(agent, "{job} {date} {time}; already said: {last_output}", "0 9 * * *",
                  name="digest", tz="Europe/Berlin")
        task = asyncio.create_task(s.astart(stop_when_done=False))
        await clock.run_for(24 * 3600 + 120)
        s.stop()
        await task

    asyncio.run(main())
    assert prompts == ["digest 2026-03-30 09:00; already said: ",
                       "digest 2026-03-31 09:00; already said: digest #1"]


def test_context_placeholder_places_the_gate_output_instead_of_appending_it() -> None:
    prompts: list[str] = []

    async def agent(prompt: str) -> str:
        prompts.append(prompt)
        return "ok"

    async def main() -> None:
        s = Scheduler(clock=FakeClock(SLOT))
        placed = s.add_job(agent, "New mail:\n{context}\nSummarise.", "@yearly", name="a",
                           tz="UTC", pre_run=lambda: "from: boss")
        appended = s.add_job(agent, "Summarise.", "@yearly", name="b", tz="UTC",
                             pre_run=lambda: "from: boss")
        await s.run_now(placed).wait()
        await s.run_now(appended).wait()

    asyncio.run(main())
    assert prompts == ["New mail:\nfrom: boss\nSummarise.", "Summarise.\n\nfrom: boss"]


def test_crondeck_check_reports_an_unknown_placeholder() -> None:
    text = ('[[jobs]]\nname = "d"\ncommand = "cat"\nschedule = "@daily"\n'
            'prompt = "Since {yesterday}: {last_output}"\n')
    try:
        parse_config(text)
    except ConfigError as exc:
        [problem] = exc.problems
        assert problem.key == "prompt" and problem.line == 5
        assert "unknown placeholder {yesterday}" in problem.message
    else:
        raise AssertionError("an unknown placeholder must be a config error")
