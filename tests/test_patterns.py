"""The regex rewrites kept for speed (monitor/rules/patterns.py) keep each pattern's meaning."""

from __future__ import annotations

import pytest

from monitor.rules.patterns import compile_lc, first, flatten, hits, lower_outside_escapes, strip_leading_b


@pytest.mark.parametrize(
    ("pattern", "flat"),
    [
        (r"(?:a|b)x|c", r"ax|bx|c"),
        (r"(?:a)?x", r"ax|x"),
        (r"(?:ab|cd)(?:e|f)", r"ab(?:e|f)|cd(?:e|f)"),  # only the leading group
        (r"(?:a|b)*x", r"(?:a|b)*x"),  # a repeated group stays
    ],
)
def test_flatten(pattern: str, flat: str) -> None:
    assert flatten(pattern) == flat


@pytest.mark.parametrize(
    ("pattern", "stripped"),
    [
        (r"\bfoo\b|\bbar", r"foo\b|bar"),
        (r"(?:\bfoo|x\bbar)", r"(?:foo|x\bbar)"),
        (r"(?<!\bx)y", r"(?<!\bx)y"),  # inside a look-behind the \b stays
        (r"[\b]x", r"[\b]x"),
    ],
)
def test_strip_leading_b(pattern: str, stripped: str) -> None:
    assert strip_leading_b(pattern) == stripped


def test_lowering_keeps_escapes() -> None:
    assert lower_outside_escapes(r"Chiffre\s+d\WAffaires\S") == r"chiffre\s+d\Waffaires\S"


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        (r"\brevenue\b", "total revenue rose", ["revenue"]),
        (r"\brevenue\b", "prerevenue rose", []),  # the dropped \b is re-checked
        (r"\b(?:ARR|run[- ]rate)\b", "its arr and run-rate", ["arr", "run-rate"]),
        (r"收入", "快手收入为", ["收入"]),
        (r"d\Waffaires", "chiffre d’affaires", ["d’affaires"]),
    ],
)
def test_compiled_pattern_meaning(pattern: str, text: str, found: list[str]) -> None:
    rx = compile_lc(pattern)
    assert [m.group(0) for m in hits(rx, text.lower())] == found
    assert (first(rx, text.lower()) is not None) == bool(found)
