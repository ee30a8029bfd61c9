"""Prompt templates: `{date}`, `{time}`, `{run_id}`, `{job}`, `{last_output}`, `{context}`.

Only `{name}` with an identifier inside is a placeholder, so prompts holding JSON examples
(`{"a": 1}`) need no escaping; `{{` and `}}` write literal braces (`{{date}}` is the text
`{date}`). At run time an unknown placeholder is left as written (a library prompt must never
crash a run); `crondeck check` reports it as a mistake, with the nearest name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from .lazyclass import dataclass

__all__ = ["PLACEHOLDERS", "TemplateValues", "render", "unknown_placeholders", "uses_context"]

PLACEHOLDERS: dict[str, str] = {
    "date": "the slot's date in the job's zone (2026-03-30)",
    "time": "the slot's time in the job's zone (09:00)",
    "run_id": "the run id (job@2026-03-30T07:00:00Z)",
    "job": "the job's name",
    "last_output": "the output of the previous successful run ('' if none)",
    "context": "the gate's stdout (otherwise it is appended after the prompt)",
}
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class TemplateValues:
    """What the placeholders of one run stand for."""

    scheduled_for: datetime  # aware, in the job's zone
    run_id: str
    job: str
    last_output: str = ""
    context: str = ""

    def as_map(self) -> Mapping[str, str]:
        return {
            "date": self.scheduled_for.date().isoformat(),
            "time": self.scheduled_for.strftime("%H:%M"),
            "run_id": self.run_id,
            "job": self.job,
            "last_output": self.last_output,
            "context": self.context,
        }


def render(template: str, values: TemplateValues) -> str:
    """The prompt with placeholders filled and `{{`/`}}` unescaped; unknown names stay."""
    if "{" not in template and "}}" not in template:
        return template
    table = values.as_map()

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = m.group(1)
        return table.get(name, token)

    return _TOKEN.sub(sub, template)


def uses_context(template: str) -> bool:
    """Does the template place the gate's output itself (so it is not appended)?"""
    return any(m.group(1) == "context" for m in _TOKEN.finditer(template))


def unknown_placeholders(template: str) -> list[str]:
    """One message per unknown placeholder, with a suggestion, for `crondeck check`."""
    out = []
    for m in _TOKEN.finditer(template):
        name = m.group(1)
        if name is None or name in PLACEHOLDERS:
            continue
        import difflib  # here: only a misspelt name needs it

        close = difflib.get_close_matches(name, list(PLACEHOLDERS), n=1, cutoff=0.6)
        hint = (f"did you mean {{{close[0]}}}?" if close
                else f"placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
        out.append(f"unknown placeholder {{{name}}} in prompt; {hint} (write {{{{{name}}}}} "
                   "for the literal text)")
    return out
