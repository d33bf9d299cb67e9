"""The regex rewrites kept for speed (monitor/rules/patterns.py) keep each pattern's meaning."""

from __future__ import annotations

import json
import re

import pytest
from shared import shared_path

from monitor import rules
from monitor.rules.patterns import (
    compile_lc,
    factor,
    first,
    flatten,
    hits,
    lower_outside_escapes,
    strip_leading_b,
)


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


@pytest.mark.parametrize(
    ("pattern", "factored"),
    [
        (r"revenue|sales|revenues", r"revenue(?:|s)|sales"),
        (r"ab|\wc|ad", r"ab|\wc|ad"),  # a branch without a literal head keeps the others apart
        (r"prices?\b|price\s+tier", r"price(?:s?\b|\s+tier)"),  # an optional last letter is not part of the head
        (r"(a)b|ac", r"(a)b|ac"),  # capturing groups: left alone
    ],
)
def test_factor(pattern: str, factored: str) -> None:
    assert factor(pattern) == factored


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"ab|a\w+|abc", "abc abd"),  # the first branch that matches still wins
        (r"abc|\w+|abd", "abd abc"),
        (r"net\s+profit|net\s+income|net", "net income, net profit, net"),
        (r"x|xy|xyz|\d|xyzw", "xyzw x1"),
    ],
)
def test_factor_keeps_matches(pattern: str, text: str) -> None:
    spans = [(m.start(), m.end()) for m in re.finditer(pattern, text)]
    assert [(m.start(), m.end()) for m in re.finditer(factor(pattern), text)] == spans


def _vocabulary_patterns() -> list[str]:
    concepts = {k for data in rules.languages().values() for k, v in data.get("facts", {}).items() if isinstance(v, list)}
    out = []
    for c in sorted(concepts):
        items = sorted(dict.fromkeys(rules.words("facts", c)), key=len, reverse=True)
        out.append(strip_leading_b(lower_outside_escapes("(?:" + "|".join(items) + ")")))
    return out


def test_factored_vocabularies_find_the_same_cues() -> None:
    """Every [facts] vocabulary, merged or not, finds the same (start, end) everywhere in the seeds and the
    development set (the texts the rules were written on)."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(shared_path("seeds", "articles").glob("*.txt"))]
    devset = shared_path("devset", "articles.jsonl")
    if devset.is_file():
        texts += [json.loads(line)["text"] for line in devset.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        pytest.skip("no shared texts")
    low = "\n".join(texts).lower()
    for p in _vocabulary_patterns():
        plain, merged = re.compile(flatten(p)), re.compile(factor(flatten(p)))
        assert [m.span() for m in merged.finditer(low)] == [m.span() for m in plain.finditer(low)], p
