"""The regex rewriting that monitor/names.py does for speed keeps what a cue list matches.

Cue lists are lower-cased, their entries' leading groups expanded and their literal heads merged into a
trie; the result must match wherever the plain case-insensitive alternation of the entries matches.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from shared import shared_path

from monitor import names, rules
from monitor.rules import patterns

DEVSET = shared_path("devset", "articles.jsonl")
DATA = Path(__file__).parent / "data" / "names"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("(?:co-)?led\\s+by", ["led\\s+by", "co-led\\s+by"]),
        ("(?:cut|cuts)\\s+prices", ["cut\\s+prices", "cuts\\s+prices"]),
        ("[üu]ber\\s+die\\s+api", ["über\\s+die\\s+api", "uber\\s+die\\s+api"]),
        ("(?:a|b(?:c|d))x", ["ax", "b(?:c|d)x"]),  # only the leading group is expanded
        ("(?:a|b)*x", ["(?:a|b)*x"]),  # a repeated group stays as it is
        ("launch(?:ed|es)", ["launch(?:ed|es)"]),
    ],
)
def test_expand(entry: str, expected: list[str]) -> None:
    assert patterns.expand(entry) == expected


def test_lower_pattern_keeps_escapes() -> None:
    assert patterns.lower_outside_escapes(r"In\S+\W[A-Z]") == r"in\S+\W[a-z]"


def test_split_alts_respects_groups_and_classes() -> None:
    assert patterns.split_alts(r"a(?:b|c)|[|]d|e") == ["a(?:b|c)", "[|]d", "e"]


def test_trie_merges_heads() -> None:
    pat = patterns.trie_alternation(["launch(?:ed|es)", "leads", "led", "x"])
    assert pat.startswith("(?:l(?:")
    rx = re.compile(pat)
    for word in ("launched", "launches", "leads", "led", "x"):
        assert rx.fullmatch(word), word
    assert not rx.fullmatch("launch")


def _texts() -> list[str]:
    out = []
    if DEVSET.exists():
        out += [json.loads(ln)["text"] for ln in DEVSET.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for path in DATA.glob("*.toml"):
        for rows in tomllib.loads(path.read_text(encoding="utf-8")).values():
            out += [r["text"] for r in rows]
    return [t.lower() for t in out]


@pytest.mark.parametrize("concept", names.CUE_CONCEPTS)
def test_trie_matches_where_the_plain_alternation_does(concept: str) -> None:
    entries = rules.words("names", concept, names._LATIN)
    plain = re.compile("(?:" + "|".join(entries) + r")(?![a-zà-ÿа-яё])", re.IGNORECASE)
    fast = names.CUE_RX[concept]
    for low in _texts():
        for w in re.finditer(r"\b\w", low):
            assert bool(plain.match(low, w.start())) == bool(fast.match(low, w.start())), (concept, low[w.start():][:60])


def test_one_scan_finds_every_cue() -> None:
    for low in _texts():
        found = names.find_cues(low)
        for concept in names.CUE_CONCEPTS:
            direct = [m.start() for w in re.finditer(r"\b\w", low)
                      if (m := names.CUE_RX[concept].match(low, w.start()))]
            assert direct == [m.start() for m in found[concept] if m.re is names.CUE_RX[concept]], concept
