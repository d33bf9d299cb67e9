"""Language rules kept as data: one TOML file per language (`en.toml`, `zh.toml`, ...), loaded at import.

Each file has two tables: `[facts]` (figures, roles, subject, basis, period, status, not-facts; read by
`monitor/extract.py`) and `[names]` (investors, cloud partners, product moves, relevance; read by the
name and product-move stages). A key is a concept; its value is a list of regular-expression fragments
(or a table, where a concept maps words to values). Adding a language means adding a file and its tests.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

SECTIONS = ("facts", "names")


@cache
def languages() -> dict[str, dict[str, Any]]:
    """Every language file, parsed: {"en": {"facts": {...}, "names": {...}}, ...}."""
    out: dict[str, dict[str, Any]] = {}
    for res in sorted(resources.files(__package__).iterdir(), key=lambda r: r.name):
        if res.name.endswith(".toml"):
            data = tomllib.loads(res.read_text(encoding="utf-8"))
            out[res.name.removesuffix(".toml")] = data
    return out


def words(section: str, concept: str, langs: tuple[str, ...] | None = None) -> list[str]:
    """A concept's entries across the given languages (all by default), in file order, without repeats."""
    seen: dict[str, None] = {}
    for lang, data in languages().items():
        if langs is not None and lang not in langs:
            continue
        for w in data.get(section, {}).get(concept, []):
            seen.setdefault(w, None)
    return list(seen)


def table(section: str, concept: str, langs: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A concept that maps words to values (scale words to multipliers, ...), merged across languages."""
    merged: dict[str, Any] = {}
    for lang, data in languages().items():
        if langs is not None and lang not in langs:
            continue
        merged.update(data.get(section, {}).get(concept, {}))
    return merged


def alternation(section: str, concept: str, langs: tuple[str, ...] | None = None) -> str:
    """The concept as one regex alternation, longest entries first (so "revenue" never beats "revenues")."""
    items = sorted(words(section, concept, langs), key=len, reverse=True)
    return "(?:" + "|".join(items) + ")" if items else "(?!)"
