"""Every rejection names the field, shows the text and its column, and says what is valid."""

from __future__ import annotations

import pytest

from crondeck.core import CronError, parse


def err(expr: str) -> CronError:
    with pytest.raises(CronError) as info:
        parse(expr, "UTC")
    return info.value


@pytest.mark.parametrize(
    ("expr", "field", "column", "words"),
    [
        ("60 * * * *", "minute", 0, ["60 is out of range 0–59"]),
        ("0 24 * * *", "hour", 2, ["24 is out of range 0–23"]),
        ("0 0 32 * *", "day-of-month", 4, ["32 is out of range 1–31"]),
        ("0 0 0 * *", "day-of-month", 4, ["0 is out of range 1–31"]),
        ("0 0 * 13 *", "month", 6, ["13 is out of range 1–12"]),
        ("0 0 * * 8", "day-of-week", 8, ["8 is out of range 0–7"]),
        ("*/0 * * * *", "minute", 2, ["at least 1"]),
        ("1,,2 * * * *", "minute", 2, ["empty list item"]),
        ("1, * * * *", "minute", 2, ["empty list item"]),
        ("0 0 * * 1,", "day-of-week", 10, ["empty list item"]),
        ("0 22-2 * * *", "hour", 2, ["reversed", "do not wrap", "22-23,0-2"]),
        ("0 0 * * FRI-MON", "day-of-week", 8, ["reversed", "FRI-SAT,SUN-MON"]),
        ("5/15 * * * *", "minute", 0, ["5-59/15"]),
        ("0 0 * * MONDAY", "day-of-week", 8, ["three-letter", "MON"]),
        ("0 0 * January *", "month", 6, ["three-letter", "JAN"]),
        ("0 0 * * JAN", "day-of-week", 8, ["month name", "SUN–SAT"]),
        ("0 0 * MON *", "month", 6, ["weekday name", "JAN–DEC"]),
        ("٣ * * * *", "minute", 0, ["non-ASCII digit"]),
        ("0 ١٢ * * *", "hour", 2, ["non-ASCII"]),
        ("H * * * *", "minute", 0, ["H", "not supported"]),
        ("H/15 * * * *", "minute", 0, ["H", "not supported"]),
        ("0 0 * * 1#6", "day-of-week", 10, ["1–5"]),
        ("0 0 * * L", "day-of-week", 8, ["5L"]),
        ("0 0 ? * ?", None, None, []),  # accepted: checked below
        ("0 0 1#2 * *", "day-of-month", 4, ["day-of-week"]),
        ("0 0 32W * *", "day-of-month", 4, ["1–31"]),
        ("? * * * *", "minute", 0, ["only allowed in day-of-month and day-of-week"]),
        ("0 L * * *", "hour", 2, ["only allowed in day-of-month"]),
        ("0 0 30 2 *", "day-of-month", 4, ["never fire", "February"]),
        ("0 0 31 4,6,9,11 *", "day-of-month", 4, ["never fire"]),
        ("0 0 */20 * 1#2", "day-of-month", 4, ["never fire"]),
        ("0 0 LW * SAT,SUN", None, None, []),  # ORed with weekends: accepted
        ("0 0 15W * */6", "day-of-month", 4, ["never fire"]),
        ("*/ * * * *", "minute", 1, ["needs a number"]),
        ("-5 * * * *", "minute", 0, ["missing value"]),
        ("1- * * * *", "minute", 0, ["no end"]),
        ("0 0 * * MON-", "day-of-week", 8, ["no end"]),
        ("1.5 * * * *", "minute", 1, ["unexpected character '.'"]),
    ],
)
def test_rejections_point_at_the_field_and_column(expr, field, column, words):
    if not words:
        parse(expr, "UTC")  # these are valid; kept in the table to show the boundary
        return
    e = err(expr)
    assert e.field == field
    if column is not None:
        assert e.column == column, e.caret()
    for w in words:
        assert w in str(e), str(e)


def test_field_name_prefixes_the_message_exactly():
    assert str(err("60 * * * *")) == "minute: 60 is out of range 0–59"


def test_caret_is_under_the_offending_text():
    lines = err("0 9 * * MONDAY").caret().splitlines()
    assert lines[1].strip() == "0 9 * * MONDAY"
    assert lines[2].index("^") == lines[1].index("MONDAY")
    assert lines[2].count("^") == len("MONDAY")


@pytest.mark.parametrize("expr", ["* * * * * *", "0 0 12 * * ?", "0 0 12 * * ? 2026"])
def test_six_or_seven_fields_explain_that_seconds_are_not_supported(expr):
    msg = str(err(expr))
    assert "expected 5 fields" in msg and "seconds" in msg and "@every 30s" in msg


def test_too_few_fields_names_what_is_missing():
    assert "missing day-of-month, month, day-of-week" in str(err("0 9"))
    assert "empty expression" in str(err("   "))


def test_macros_and_every_errors():
    assert "valid macros" in str(err("@dailly"))
    assert "start_immediately" in str(err("@reboot"))
    assert "takes no fields" in str(err("@daily 5"))
    assert "needs a unit" in str(err("@every 90"))
    assert "needs a duration" in str(err("@every"))
    assert "largest to smallest" in str(err("@every 30m1h"))
    assert "at least 1s" in str(err("@every 0s"))


def test_unknown_time_zone_is_a_cron_error_with_suggestions():
    with pytest.raises(CronError, match="Europe/Berlin"):
        parse("0 9 * * *", "Europe/Berlín")
    with pytest.raises(CronError, match="unknown time zone"):
        parse("0 9 * * *", "Mars/Olympus")


def test_non_string_input_is_a_cron_error():
    with pytest.raises(CronError):
        parse(None, "UTC")  # type: ignore[arg-type]
    with pytest.raises(CronError):
        parse(5, "UTC")  # type: ignore[arg-type]
