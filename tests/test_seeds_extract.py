"""The five seed articles against their hand annotations (shared/seeds/expected.json).

Every expected fact, investor and product-move kind must be found, and every `must_not` trap is
encoded as a concrete assertion below. The seeds are a development set: the rules in
monitor/extract.py are general, these tests only check that they cover the annotations.

Representation choice for 003 (capex quoted as "$3.6 billion (roughly RMB 26 billion)"):
the extractor emits ONE fact in the primary (first-written) currency, USD, with value_usd set.
expected.json also lists the same figure in CNY and explicitly allows "one fact with both
currencies". The second currency is kept on the fact (alt_value, alt_unit), so the CNY
annotation is accepted when the USD fact carrying the same claim (same kind, subject, period,
qualifier, value == the CNY annotation's value_usd) holds the CNY amount as its alt_value.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from shared import shared_path

from monitor.extract import extract
from monitor.models import Document, Extraction, Fact

SEEDS = shared_path("seeds")
EXPECTED = SEEDS / "expected.json"

pytestmark = pytest.mark.skipif(
    not EXPECTED.exists(), reason=f"seed annotations not found at {EXPECTED} (shared/seeds is outside the repo)"
)


def _load(name: str) -> Document:
    lines = (SEEDS / "articles" / name).read_text(encoding="utf-8").splitlines()
    i = next(i for i, line in enumerate(lines) if line.strip())
    return Document(source=name, title=lines[i].strip(), text="\n".join(lines[i + 1:]).strip())


def _expected() -> dict[str, Any]:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))["articles"]


def _names() -> list[str]:
    return sorted(_expected()) if EXPECTED.exists() else []


_CACHE: dict[str, Extraction] = {}


def _ex(name: str) -> Extraction:
    if name not in _CACHE:
        _CACHE[name] = extract(_load(name))
    return _CACHE[name]


def _close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= 0.01 * abs(b)


def _fact_matches(f: Fact, want: dict[str, Any]) -> bool:
    if f.kind != want["kind"] or f.subject != want["subject"] or f.qualifier != want["qualifier"]:
        return False
    if "period" in want and f.period != want["period"]:
        return False
    if f.unit == want["unit"] and _close(f.value, want["value"]):
        return "value_usd" not in want or _close(f.value_usd, want["value_usd"])
    return False


def _folded(f: Fact, want: dict[str, Any]) -> bool:
    """The same claim reported once in USD (see module docstring)."""
    return (
        "value_usd" in want
        and want["unit"] != "USD"
        and f.unit == "USD"
        and f.kind == want["kind"]
        and f.subject == want["subject"]
        and f.qualifier == want["qualifier"]
        and f.period == want.get("period", f.period)
        and _close(f.value, want["value_usd"])
        and f.alt_unit == want["unit"]
        and _close(f.alt_value, want["value"])
    )


@pytest.mark.parametrize("name", _names())
def test_relevant(name: str) -> None:
    assert _ex(name).relevant is _expected()[name]["relevant"]
    assert set(_ex(name).entities) == {"Kling", "Kuaishou"}


@pytest.mark.parametrize("name", _names())
def test_every_expected_fact_found(name: str) -> None:
    ex = _ex(name)
    for want in _expected()[name]["facts"]:
        direct = [f for f in ex.facts if _fact_matches(f, want)]
        folded = [f for f in ex.facts if _folded(f, want)] if "note" in want else []
        assert direct or folded, f"{name}: missing {want}\n got {[f.to_json() for f in ex.facts]}"
        for f in direct or folded:
            # offsets point at the figure inside doc.full_text and the quote is its sentence
            full = _load(name).full_text
            assert f.quote and full[f.start:f.end] in f.quote
            assert f.quote in full


def test_folded_capex_keeps_both_currencies() -> None:
    capex = [f for f in _ex("003_59593dcd7e2c6de0.txt").facts if f.kind == "capex"]
    assert len(capex) == 1
    assert capex[0].unit == "USD" and capex[0].value_usd == 3.6e9
    assert (capex[0].alt_value, capex[0].alt_unit) == (2.6e10, "CNY")
    assert "RMB 26 billion" in capex[0].quote


@pytest.mark.parametrize("name", _names())
def test_investors_exact(name: str) -> None:
    # precision matters: exactly the annotated investors, no rivals, outlets or extras
    assert set(_ex(name).investors) == set(_expected()[name]["investors"])
    assert len(_ex(name).investors) == len(set(_ex(name).investors))


@pytest.mark.parametrize("name", _names())
def test_cloud_partners_exact(name: str) -> None:
    assert list(_ex(name).cloud_partners) == _expected()[name]["cloud_partners"]


@pytest.mark.parametrize("name", _names())
def test_product_move_kinds(name: str) -> None:
    assert {m.kind for m in _ex(name).product_moves} == {m["kind"] for m in _expected()[name]["product_moves"]}
    assert all(not m.speculative for m in _ex(name).product_moves)


# ------------------------------------------------------------------ must_not, one by one


def test_003_capex_increase_is_not_a_total() -> None:
    ex = _ex("003_59593dcd7e2c6de0.txt")
    assert not [f for f in ex.facts if _close(f.value, 1.5e9)]
    assert not [f for f in ex.facts if f.kind == "round_size"]
    assert [f.kind for f in ex.facts] == ["capex"]


def test_004_no_figure_at_all() -> None:
    ex = _ex("004_98ccf243764332da.txt")
    assert ex.facts == ()
    assert [m.kind for m in ex.product_moves] == ["milestone"]


def test_001_speculation_is_not_a_cloud_partner_or_product_move() -> None:
    ex = _ex("001_011a1fc38f343a2c.txt")
    assert ex.cloud_partners == ()
    assert "Alibaba Cloud" not in ex.investors and "Tencent Cloud" not in ex.investors
    assert not [m for m in ex.product_moves if m.kind == "api"]
    assert ex.product_moves == ()


def test_001_no_outlets_as_investors_and_round_not_filed_as_fact() -> None:
    ex = _ex("001_011a1fc38f343a2c.txt")
    assert list(ex.investors) == ["Alibaba", "Tencent"]
    assert ex.statuses == ()  # "SCMP reported that Kuaishou had filed" is attributed, not stated
    assert all(f.subject == "Kling" for f in ex.facts)
    ranges = [f for f in ex.facts if f.qualifier == "range"]
    assert [(f.value, f.range_high) for f in ranges] == [(2e9, 3e9)]


def test_000_rivals_are_not_investors() -> None:
    ex = _ex("000_13f4a19439988d75.txt")
    assert "ByteDance" not in ex.investors and "Tencent" not in ex.investors
    assert ex.investors == ()


def test_000_western_cloud_partnerships_are_not_kling_partners() -> None:
    ex = _ex("000_13f4a19439988d75.txt")
    assert ex.cloud_partners == ()


def test_000_allocation_percentages_are_not_facts() -> None:
    ex = _ex("000_13f4a19439988d75.txt")
    assert not [f for f in ex.facts if f.value in (55, 25, 20) or f.unit == "percent"]
    assert [(f.kind, f.value, f.unit, f.qualifier, f.stage) for f in ex.facts] == [
        ("round_size", 3e9, "USD", "exact", "filed")
    ]
    assert ex.statuses == ("filed",)


def test_000_vague_amounts_give_nothing() -> None:
    ex = _ex("000_13f4a19439988d75.txt")
    # "billions of dollars in transactions", "thousands of dollars", "hundreds of millions of videos"
    assert all(f.value == 3e9 for f in ex.facts)


def test_002_counts_of_days_and_investors_are_not_money() -> None:
    ex = _ex("002_561ecc094bab7a41.txt")
    assert not [f for f in ex.facts if f.value in (60, 21, 15, 2)]
    assert not [f for f in ex.facts if f.unit == "count"]


def test_002_alibaba_cloud_is_an_investor_not_a_cloud_partner() -> None:
    ex = _ex("002_561ecc094bab7a41.txt")
    assert "Alibaba Cloud" in ex.investors
    assert ex.cloud_partners == ()
    assert "Mango" not in ex.investors and "Alibaba" not in ex.investors


def test_002_statuses_and_stages() -> None:
    ex = _ex("002_561ecc094bab7a41.txt")
    assert ex.statuses == ("closed", "signed")
    first_close = next(f for f in ex.facts if _close(f.value, 1.38e10))
    assert first_close.stage == "signed"
    stake = next(f for f in ex.facts if f.kind == "stake")
    assert (stake.value, stake.unit, stake.subject) == (16.67, "percent", "Kling")
