"""Investors, cloud partners, product moves and relevance, from the tables in tests/data/names/<lang>.toml.

Each language file holds rows of sentences with exactly what extract() must return; adding a language
means adding its rules file (monitor/rules/<lang>.toml) and a table here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from monitor.extract import extract
from monitor.models import Document
from monitor.rules import languages

DATA = Path(__file__).parent / "data" / "names"


def _rows(table: str) -> list[Any]:
    out = []
    for path in sorted(DATA.glob("*.toml")):
        for row in tomllib.loads(path.read_text(encoding="utf-8")).get(table, []):
            out.append(pytest.param(row, id=f"{path.stem}-{row['id']}"))
    return out


def _ex(row: dict[str, Any]):  # noqa: ANN202 - Extraction
    return extract(Document(source="t", title=row.get("title", ""), text=row["text"], url=row.get("url")))


@pytest.mark.parametrize("row", _rows("investors"))
def test_investors(row: dict[str, Any]) -> None:
    assert list(_ex(row).investors) == row["expect"]


@pytest.mark.parametrize("row", _rows("cloud_partners"))
def test_cloud_partners(row: dict[str, Any]) -> None:
    assert list(_ex(row).cloud_partners) == row["expect"]


@pytest.mark.parametrize("row", _rows("moves"))
def test_product_moves(row: dict[str, Any]) -> None:
    moves = _ex(row).product_moves
    assert [m.kind for m in moves] == [k for k, _ in row["expect"]]
    for m, (_, what) in zip(moves, row["expect"], strict=True):
        if what:
            assert m.what == what
        assert m.quote and not m.speculative


@pytest.mark.parametrize("row", _rows("relevance"))
def test_relevance(row: dict[str, Any]) -> None:
    assert _ex(row).relevant is row["relevant"]


def test_every_rules_language_has_a_table() -> None:
    assert {p.stem for p in DATA.glob("*.toml")} == set(languages())


def test_row_ids_are_unique() -> None:
    for table in ("investors", "cloud_partners", "moves", "relevance"):
        ids = [p.id for p in _rows(table)]
        assert len(ids) == len(set(ids)), table
