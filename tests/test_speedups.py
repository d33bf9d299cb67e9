"""The fast paths kept for speed give what the plain ones give: each is compared with its plain twin over the
texts the rules were written on (the facts tables, the seeds, the development set when present) and over
cases picked to defeat it (upper case, accents, letters IGNORECASE folds, non-Latin scripts)."""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path

import pytest
from shared import shared_path

from monitor import figures

TABLES = Path(__file__).resolve().parent / "data" / "extract"


@cache
def texts() -> tuple[str, ...]:
    out = [case["text"] for path in sorted(TABLES.glob("*.toml"))
           for case in tomllib.loads(path.read_text(encoding="utf-8"))["case"]]
    out += [p.read_text(encoding="utf-8") for p in sorted(shared_path("seeds", "articles").glob("*.txt"))]
    devset = shared_path("devset", "articles.jsonl")
    if devset.is_file():
        out += [json.loads(line)["text"] for line in devset.read_text(encoding="utf-8").splitlines() if line.strip()]
    return tuple(out)


def _plain_qualifier(text: str, start: int) -> str | None:
    m = figures._QUAL_BEFORE_ONE.search(text, max(0, start - 32), start)
    return m.lastgroup if m else None


def _fast_qualifier(text: str, start: int) -> str | None:
    m = figures._qualifier_before(text, start)
    return m.lastgroup if m else None


@pytest.mark.parametrize("text", [
    "raised Up To $5 billion", "ABOUT $5 billion", "über 5 Milliarden", "ÜBER 5 Milliarden", "rund 5 Mrd",
    "около 5 млрд", "ſome 5 billion", "approx. 5 billion", "more than\n5 billion", "约 5亿", "超过5亿", "最多可增至5亿",
    "précisément jusqu'à 5 milliards", "a cap of  5 billion", "cuplabout 5", "thereabout 5", "İn excess of 5",
    "xnot to exceed 5", "xa cap of 5",  # a place the full pattern refuses, then one inside it that it takes
])
def test_qualifier_screen_on_hard_cases(text: str) -> None:
    for start in range(len(text) + 1):
        assert _fast_qualifier(text, start) == _plain_qualifier(text, start), (text, start)


def test_qualifier_screen_on_the_texts() -> None:
    n = 0
    for text in texts():
        starts = {a.start for a in figures.scan_amounts(text)} | set(range(0, len(text), 17))
        for start in sorted(starts):
            assert _fast_qualifier(text, start) == _plain_qualifier(text, start), (text[max(0, start - 40):start], start)
            n += 1
    assert n > 1000
