"""The fast paths kept for speed give what the plain ones give: each is compared with its plain twin over the
texts the rules were written on (the facts tables, the seeds, the development set when present) and over
cases picked to defeat it (upper case, accents, letters IGNORECASE folds, non-Latin scripts)."""

from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from pathlib import Path

import pytest
from shared import shared_path

from monitor import extract, facts, figures, names, rules
from monitor.match import compile_watchlist, default_watchlist
from monitor.rules.patterns import PatternSet, compile_lc, finditer_at, first, hits, hits_each, pattern_set

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


PERIODS = [
    "Q3 2025", "3Q25", "1Q25E", "FY25Q2", "2025Q3", "2025-Q3", "fy 2024", "fiscal year 2024", "H1 2025", "h2 2024",
    "2025年第三季度", "2025年度第3四半期", "第三季度", "三季度", "first quarter of 2025", "third-quarter", "4th quarter",
    "7〜9月期", "10-12月期", "three months ended June 30, 2025", "3 months ending march 31", "2025年4月", "2025年",
    "March 2025", "mars 2025", "mai 2024", "5 de mayo de 2024", "août", "im ersten Halbjahr 2025", "上半年",
    "últimos seis meses de 2024", "primer semestre", "2024년", "1998", "20251", "$2025", "2024%", "третьем квартале",
    "domain name", "second half", "1Q", "Q1", "次季", "首季",
    "123-months ended june 30",  # a place _PERIOD refuses ("23-"), then one inside it that it takes ("3-months")
    *[f"{k} 2025" for k in facts._MONTHS], *[f"{k} quarter" for k in facts._ORD],
    *[w.replace("\\s+", " ") + " 2025" for w in rules.words("facts", "half_word")],
]


@pytest.mark.parametrize("text", [f"Revenue in {p} rose." for p in PERIODS])
def test_period_screen_on_hard_cases(text: str) -> None:
    low = text.lower()
    for pos in range(len(low)):
        for endpos in (len(low), pos + 9, pos + 20):
            want = [(m.span(), m.groupdict()) for m in facts._PERIOD.finditer(low, pos, endpos)]
            assert [(m.span(), m.groupdict()) for m in facts.period_matches(low, pos, endpos)] == want


def test_period_screen_on_the_texts() -> None:
    for text in (*texts(), " ".join(PERIODS)):
        low = text.lower()
        want = [(m.span(), m.groupdict()) for m in facts._PERIOD.finditer(low)]
        assert [(m.span(), m.groupdict()) for m in facts.period_matches(low)] == want
        for pos in range(0, len(low), 101):  # windows, as period_of reads them
            want = [m.span() for m in facts._PERIOD.finditer(low, pos, pos + 300)]
            assert [m.span() for m in facts.period_matches(low, pos, pos + 300)] == want


def test_sentence_boundaries_as_first_written() -> None:
    plain = re.compile(r"\n+|[.!?]+[\"”’)\]]*[ \t]+|[。！？；]+[\"”’」）)]*\s*|[→·][ \t]+")
    hard = "a.\nb!! c?\" d。」e；；f → g· h...  i.\"j 。k\n\n\nl.) m"
    for text in (*texts(), hard):
        assert [m.span() for m in extract._BOUNDARY.finditer(text)] == [m.span() for m in plain.finditer(text)]


QUARTERS = "Q2 2025, 2Q25, q3'25, 2025 Q3, 2025-q4, FY25Q2, 2025年第三季度, 2025年度の第3四半期, first quarter of 2025, " \
           "3 months ended June 30, 2025, three months and six months ended september 30, 2024, 7〜9月期, 10-12月期, " \
           "2025年7月から第2四半期, 次季, 首季, 第三季, 二季度, Q1, third-quarter, 1998, 2020s, 120251, 2019年"


def _screened(rx: re.Pattern[str], places: re.Pattern[str], low: str) -> None:
    assert [m.span() for m in finditer_at(rx, places, low)] == [m.span() for m in rx.finditer(low)]


@pytest.mark.parametrize(("rx", "places"), [
    (facts._YEAR, facts._YEAR_PLACES),
    (facts._QUARTER_WITH_YEAR, facts._QUARTER_WITH_YEAR_PLACES),
    (facts._BARE_QUARTER, facts._BARE_QUARTER_PLACES),
])
def test_year_and_quarter_screens(rx: re.Pattern[str], places: re.Pattern[str]) -> None:
    for text in (*texts(), QUARTERS, QUARTERS.replace(",", "")):
        low = text.lower()
        if rx is facts._QUARTER_WITH_YEAR and facts._OTHER_DIGIT.search(low):
            continue  # read by the plain pattern
        _screened(rx, places, low)


def test_other_digits_are_noticed() -> None:
    assert facts._OTHER_DIGIT.search("１０～１２月期") and not facts._OTHER_DIGIT.search("10-12月期 2025")


def _plain_hits(ps: PatternSet, low: str, lo: int, hi: int) -> dict[str, list[tuple[int, int]]]:
    return {name: [m.span() for m in hits(rx, low, lo, hi)] for name, rx in ps.patterns.items()}


def test_role_cues_in_one_scan_on_the_texts() -> None:
    roles = tuple(facts._ROLE_RX)
    for text in texts():
        for sent in facts.segment(text, text.lower()):
            n = len(sent.low)
            for lo, hi in ((0, n), (n // 3, n), (0, n // 2), (5, n - 5)):
                if lo <= hi:
                    assert hits_each(facts._ROLE_SET, roles, sent.low, lo, hi) == _plain_hits(facts._ROLE_SET, sent.low, lo, hi)


def test_pattern_set_on_hard_cases() -> None:
    ps = pattern_set({
        "profit": compile_lc(r"\bprofit\b|net\s+profit"), "net": compile_lc(r"\bnet\b|net\s+income"),
        "any": compile_lc(r"\w+fit"), "empty": compile_lc(r"x*(?=y)"), "rev": compile_lc(r"\brevenues?\b"),
    })
    assert ps.starts["profit"] == frozenset("pn") and ps.starts["any"] is None
    for low in ("net profit and net income", "prerevenue revenues, nonprofit profit", "xxy net", "y xy", ""):
        for lo in range(len(low) + 1):
            for hi in range(lo, len(low) + 1, 3):
                assert hits_each(ps, tuple(ps.patterns), low, lo, hi) == _plain_hits(ps, low, lo, hi), (low, lo, hi)


def test_first_is_the_first_hit() -> None:
    cases = [(compile_lc(r"\brevenue\b|net"), "prerevenue, netflix revenue"), (compile_lc(r"\bai\b"), "said ai"),
             (compile_lc(r"\bx*"), "ax x"), (compile_lc(r"\bab"), "cab"), (compile_lc(r"\bq"), ""),
             (compile_lc(r"\bnet\s+income|\bincome"), "xnet income")]  # finditer never sees "income" there
    low = "\n".join(texts()).lower()[:50000]
    cases += [(rx, low) for rx in facts._ROLE_RX.values()] + [(facts._SEGMENT, low), (extract._SPECULATIVE, low)]
    for rx, text in cases:
        for start in range(0, max(1, len(text)), max(1, len(text) // 40)):
            want = next(hits(rx, text[start:]), None)
            got = first(rx, text[start:])
            assert (got.span() if got else None) == (want.span() if want else None), (rx.pattern[:40], start)


def _plain_is_name(name: str, aliases: frozenset[str]) -> bool:
    low = name.lower()
    if not name or low in names.NOT_NAMES or low in names.OUTLETS or low in aliases:
        return False
    if any(a in low.split() for a in aliases if " " not in a and a.isascii() and len(a) > 3):
        return False
    if any(a in low for a in aliases if not a.isascii()):
        return False
    words = low.split()
    if words[0] in names.NOT_NAMES and words[0] not in ("the",) and not (len(words) >= 3 and words[0] in names._PLACES):
        return False
    return not (len(name) > 60 or not re.search(r"[^\W\d_]", name))


def test_is_name_with_the_aliases_sorted_once() -> None:
    aliases = frozenset(compile_watchlist(default_watchlist()).alias_entity)
    candidates = ["Kuaishou Technology", "Kling AI", "快手科技", "Tencent", "the Kling unit", "China Asset Management",
                  "Chinese regulators", "KUAISHOU Holdings", "Sequoia", "可灵", "Bloomberg", "123", "Kwai Go", "Keling Fund"]
    candidates += sorted({w for t in texts()[:40] for w in re.findall(r"[A-Z][\w&.-]+(?:\s+[A-Z][\w&.-]+)*", t)})
    for name in candidates:
        assert names.is_name(name, aliases) == _plain_is_name(name, aliases), name
