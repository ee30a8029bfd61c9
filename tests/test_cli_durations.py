"""Spans read the same in the console, `crondeck list` and `crondeck check`."""

from crondeck.cli.commands._shared import span
from crondeck.core import short_span


def test_the_command_line_spans_are_the_console_s():
    for seconds, text in ((42, "42s"), (7 * 3600 + 7 * 60, "7h 07m"),
                          (9 * 86400 + 8 * 3600, "9d 8h"), (2 * 86400 + 9 * 3600, "2d 9h")):
        assert span(seconds) == short_span(seconds) == text
