"""The facts stage, table-driven: one TOML file of sentences per language under tests/data/extract/.

Each [[case]] gives a text (and optionally its publication date) and every fact extract() must return,
in order. kind, value, unit, qualifier, subject, range_high and value_usd are always compared (left out:
None); period, basis and status only where the case gives them (period "" means none). `dropped` lists
reasons that must appear among the candidates dropped for `extract --explain`.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.extract import extract
from monitor.models import Document

DATA = Path(__file__).resolve().parent / "data" / "extract"


def _cases() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(DATA.glob("*.toml")):
        for case in tomllib.loads(path.read_text(encoding="utf-8"))["case"]:
            out.append((f"{path.stem}:{case['id']}", case))
    return out


CASES = _cases()


def _fact_row(f: Any, want: dict[str, Any]) -> dict[str, Any]:
    got = {"kind": f.kind, "value": round(f.value, 4), "unit": f.unit, "qualifier": f.qualifier,
           "subject": f.subject, "range_high": f.range_high, "value_usd": f.value_usd}
    for key in ("period", "basis", "status"):
        if key in want:
            got[key] = getattr(f, key) or ""
    return got


def _want_row(w: dict[str, Any]) -> dict[str, Any]:
    row = {"kind": w["kind"], "value": round(w["value"], 4), "unit": w["unit"], "qualifier": w["qualifier"],
           "subject": w["subject"], "range_high": w.get("range_high"), "value_usd": w.get("value_usd")}
    for key in ("period", "basis", "status"):
        if key in w:
            row[key] = w[key]
    return row


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_case(case: dict[str, Any]) -> None:
    published = datetime.fromisoformat(case["published"]).replace(tzinfo=UTC) if "published" in case else None
    ex = extract(Document(source="t", title="", text=case["text"], published=published))
    want = [_want_row(w) for w in case["facts"]]
    got = [_fact_row(f, w) for f, w in zip(ex.facts, case["facts"], strict=False)]
    got += [_fact_row(f, {}) for f in ex.facts[len(case["facts"]):]]
    assert got == want
    reasons = {d.reason for d in ex.dropped}
    for reason in case.get("dropped", []):
        assert reason in reasons, f"{reason!r} not among {sorted(reasons)}"


def test_every_language_has_a_table() -> None:
    from monitor import rules

    assert {p.stem for p in DATA.glob("*.toml")} >= set(rules.languages())
    assert len(CASES) >= 150


def test_dropped_candidates_say_why() -> None:
    ex = extract(Document(source="t", title="", text=(
        "Kuaishou's revenue rose to RMB 35 billion, up from RMB 31 billion a year ago. "
        "We raise our TP to HK$84.0 as Kling AI grows.")))
    assert [(f.kind, f.value) for f in ex.facts] == [("revenue", 3.5e10)]
    assert sorted((d.value, d.reason) for d in ex.dropped) == [
        (84.0, "a target price"), (3.1e10, "a prior-period comparative")]
    assert all(d.quote and d.end > d.start for d in ex.dropped)


def test_cli_explain_lists_dropped_candidates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from monitor.cli import main

    doc = tmp_path / "note.txt"
    doc.write_text("Kling AI revenue reached RMB 150 million, up from RMB 67 million. We raise our TP to HK$84.0.",
                   encoding="utf-8")
    assert main(["extract", "--json", str(doc)]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert "dropped" not in plain and [f["value"] for f in plain["facts"]] == [1.5e8]
    assert {"basis", "period", "status"} <= set(plain["facts"][0])
    assert main(["extract", "--json", "--explain", str(doc)]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in explained.items() if k != "dropped"} == plain
    assert [(d["value"], d["reason"]) for d in explained["dropped"]] == [
        (6.7e7, "a prior-period comparative"), (84.0, "a target price")]


def test_listing_month_comes_from_the_watchlist() -> None:
    """The listing's year comes from the watchlist's `ipo`, not from the rules: without it a story that
    says 'February of this year' leaves the IPO undated."""
    from dataclasses import replace

    from monitor.match import default_watchlist

    text = "When it debuted on the stock exchange of Hong Kong in February of this year, Kuaishou raised 5.4 billion dollars."
    base = default_watchlist()
    unknown = replace(base, entities=tuple(replace(e, ipo=None) for e in base.entities))
    assert [f.period for f in extract(Document(source="t", title="", text=text), base).facts] == ["2021-02"]
    assert [f.period for f in extract(Document(source="t", title="", text=text), unknown).facts] == [None]
