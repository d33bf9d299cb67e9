"""The watchlist screen (`may_mention`, issue 14) never drops a text that matters, and a backlog is
understood in one pass, its non-matching entries marked in bulk exactly as one by one.

The screen's one promise: False only where `match_text` finds nothing relevant AND `mentions_watch`
finds no watched name. Checked on the development set, the seed articles, every entry of the real
feeds in the corpus, a table of spellings, and every character that re.IGNORECASE equates with an
alias character.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import feedserver
import pytest
from feedserver import FeedServer
from shared import shared_path

from monitor.config import Config, ConsoleConfig, FeedConfig, FetchConfig, StoreConfig
from monitor.ingest import poll_feeds, process_pending
from monitor.match import default_watchlist, match_text, may_mention
from monitor.pipeline import mentions_watch
from monitor.store import Store

feed_server = feedserver.feed_server  # the fixture
WATCH = default_watchlist()


def _wanted(text: str) -> bool:
    try:
        return match_text(text, WATCH).relevant or mentions_watch(text, WATCH)
    except KeyError:  # match_text on "KUAİSHOU" (lower() lengthens "İ") looks the alias up and fails:
        return True  # a text the matcher even looks at must be kept


def _texts() -> list[str]:
    out: list[str] = []
    devset = shared_path("devset", "articles.jsonl")
    if devset.is_file():
        for line in devset.read_text(encoding="utf-8").splitlines():
            if line.strip():
                a = json.loads(line)
                out += [f"{a.get('title') or ''}\n\n{a.get('text') or ''}", a.get("title") or ""]
    seeds = shared_path("seeds", "articles")
    if seeds.is_dir():
        out += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(seeds.iterdir()) if p.is_file()]
    real = shared_path("corpus", "real-feeds")
    if real.is_dir():
        from monitor.normalize import normalize_entries
        from monitor.parse import parse_feed

        for path in sorted(p for p in real.rglob("*") if p.is_file() and p.suffix != ".md"):
            entries = normalize_entries(parse_feed(path.read_bytes(), None), feed=path.stem, language="en",
                                        fetched_at=datetime(2026, 1, 2, tzinfo=UTC))
            out += [f"{e.title}\n\n{e.summary}" for e in entries]
    return out


def test_the_screen_keeps_every_shared_text_that_matters() -> None:
    texts = _texts()
    if not texts:
        pytest.skip("no shared texts")
    missed = [t[:80] for t in texts if _wanted(t) and not may_mention(t, WATCH)]
    assert not missed, missed[:5]
    kept = sum(_wanted(t) for t in texts)
    screened_out = sum(not may_mention(t, WATCH) for t in texts)
    assert kept > 0 and screened_out > 0  # the material has both kinds, so the check above means something


@pytest.mark.parametrize(("text", "expected"), [
    ("Weather today: sunny, 21 degrees", False),
    ("Klingon opera opens in Berlin", True),  # the matcher rejects it; the screen need not
    ("KLING AI raises $100M", True),
    ("kling ai", True),
    ("KUAİSHOU posts record revenue", True),  # İ: lower() changes the length
    ("Kuaiſhou posts record revenue", False),  # long s: match_text searches the lowered text, misses it too
    ("可灵AI发布新模型", True),
    ("快手科技公布业绩", True),
    ("사이클링 대회", True),  # contains 클링: clustered by name even though not relevant
    ("クリング動画", True),
    ("HKEX: 1024 closes higher", True),
    ("", False),
])
def test_screen_table(text: str, expected: bool) -> None:
    assert may_mention(text, WATCH) is expected
    if _wanted(text):
        assert may_mention(text, WATCH)


@functools.cache
def _every_character() -> str:
    return "".join(chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i <= 0xDFFF)


@functools.cache
def _variants(ch: str) -> list[str]:
    return sorted(set(re.findall(re.escape(ch), _every_character(), re.IGNORECASE)) - {ch})


@pytest.mark.slow
def test_every_case_variant_of_an_alias_character_is_screened_in() -> None:
    aliases = {a for e in WATCH.entities for a in (e.name, *e.aliases)}
    checked = 0
    for alias in sorted(aliases):
        for i, ch in enumerate(alias):
            for v in _variants(ch):
                text = f"News: {alias[:i]}{v}{alias[i + 1:]} video model, valued at $1 billion."
                if _wanted(text):
                    checked += 1
                    assert may_mention(text, WATCH), text
    assert checked > 0


def _rss(items: list[str]) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>https://example.com/</link><description>d</description>{''.join(items)}</channel></rss>").encode()


def test_a_backlog_is_understood_in_one_pass_and_misses_are_marked_as_one_by_one(
        feed_server: FeedServer, tmp_path: Path) -> None:
    items = [f"<item><title>Garden notes {n}</title><link>https://outlet.example.com/g/{n}</link>"
             f"<description>Roses and tulips, part {n}.</description></item>" for n in range(11)]
    items.append("<item><title>Kling AI revenue</title><link>https://outlet.example.com/k</link><description>"
                 "Kuaishou said Kling AI annualized revenue reached $240 million.</description></item>")
    feed_server.add("/f.xml", _rss(items))
    cfg = Config(store=StoreConfig(path=str(tmp_path / "m.db")), console=ConsoleConfig(enabled=True, jsonl=""),
                 fetch=FetchConfig(allow_private=True, full_text_for_matches=False, parse_workers=0),
                 feeds=(FeedConfig(url=feed_server.url("/f.xml"), name="f"),))
    with Store(cfg.store.path) as store:
        asyncio.run(poll_feeds(store, cfg))
        seen: list[tuple[str, int, int]] = []
        summary = asyncio.run(process_pending(store, cfg, limit=5,
                                              progress=lambda stage, done, total: seen.append((stage, done, total))))
        assert (summary.processed, summary.relevant) == (12, 1)  # three batches of at most 5, one call
        assert seen[-1] == ("entries", 12, 12)
        assert asyncio.run(process_pending(store, cfg, limit=5)).processed == 0
        rows = store.query("SELECT url, relevant, entities, facts, processed_version, version FROM entries")
        assert all(r["processed_version"] == r["version"] for r in rows)
        garden = [r for r in rows if "/g/" in r["url"]]
        assert len(garden) == 11
        for r in garden:
            assert (r["relevant"], json.loads(r["entities"])) == (0, [])
            assert json.loads(r["facts"]) == {"source": r["url"], "relevant": False, "entities": [], "facts": [],
                                              "investors": [], "cloud_partners": [], "product_moves": []}
        (kling,) = [r for r in rows if r["url"].endswith("/k")]
        assert kling["relevant"] == 1 and "Kling" in json.loads(kling["entities"])


def test_the_screen_automaton_agrees_with_its_pattern() -> None:
    """may_mention finds the lower-cased aliases with an Aho-Corasick automaton; `low` is their definition."""
    from monitor.match import _screen
    from monitor.rules.patterns import trie_alternation

    _, automaton, _ = _screen(WATCH)
    rng = random.Random(3)
    aliases = [a.lower() for e in WATCH.entities for a in (e.name, *e.aliases)]
    low_rx = re.compile(trie_alternation([re.escape(a) for a in dict.fromkeys(aliases)]))  # the definition
    filler = "the quick brown fox 1023 hk: 102 kwa klin 快 可 콰이 クア ".split(" ")
    texts = [" ".join(rng.choice([*filler, *filler, *filler, rng.choice(aliases)[:-1], rng.choice(aliases)])
                      for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    for text in texts:
        assert (next(automaton.iter(text), None) is not None) == (low_rx.search(text) is not None), text
    assert any(low_rx.search(t) for t in texts) and not all(low_rx.search(t) for t in texts)


@pytest.mark.parametrize("source", ["https://x.example/a?b=1", 'https://x.example/"quoted"\\', "urn:sha1:ab", "https://例え.jp/記事"])
def test_unmatched_json_is_the_extractions_json(source: str) -> None:
    from monitor.pipeline import unmatched, unmatched_json

    assert unmatched_json(source) == json.dumps(unmatched(source).to_json(), ensure_ascii=False)
    assert json.loads(unmatched_json(source))["source"] == source


def _by_str(text: str) -> bool:
    """The screen on str (lower() and the automaton), which the bytes screen must agree with."""
    from monitor.match import _screen

    folded_rx, automaton, _ = _screen(WATCH)
    low = text.lower()
    return next(automaton.iter(low), None) is not None or (len(low) != len(text) and folded_rx.search(text) is not None)


def test_lower_casing_makes_ascii_only_from_the_characters_the_bytes_screen_leaves_to_str() -> None:
    """The bytes screen lower-cases ASCII letters only. Where str.lower() makes an ASCII character out
    of another, the text goes the str way; every other character lower() makes is cased, so an alias
    that the bytes screen is built for (no cased letter beyond ASCII) cannot hold it."""
    from monitor.match import _LOWERS_INTO_ASCII, _cased_beyond_ascii

    into_ascii = set()
    for ch in _every_character():
        low = ch.lower()
        if low == ch:
            continue
        if any(c.isascii() for c in low) and not ch.isascii():
            into_ascii.add(ch)
        assert all(c.isascii() or _cased_beyond_ascii(c) or c == "\u0307" for c in low), hex(ord(ch))
    assert into_ascii == set(_LOWERS_INTO_ASCII)  # U+0307 comes only with "İ", which goes the str way


def test_the_bytes_screen_agrees_with_the_str_screen() -> None:
    from monitor.match import _screen

    assert _screen(WATCH)[2] is not None  # the default watchlist's aliases are all caseless beyond ASCII
    rng = random.Random(5)
    aliases = [a for e in WATCH.entities for a in (e.name, *e.aliases)]
    variants = {ch: _variants(ch) for a in aliases for ch in a}
    filler = "the quick “brown” fox 1023 hk: 102 kwa klin 快 可 콰이 クア Straße ΣΊΣΥΦΟΣ \u212a İ \ud800".split(" ")

    def spelled(alias: str) -> str:
        return "".join(rng.choice([ch, ch.upper(), ch.lower(), *variants[ch]]) if rng.random() < 0.3 else ch
                       for ch in alias)

    texts = [" ".join(rng.choice([*filler, *filler, spelled(rng.choice(aliases))[:-1], spelled(rng.choice(aliases))])
                      for _ in range(rng.randint(0, 12))) for _ in range(4000)]
    texts += _texts()
    for text in texts:
        assert may_mention(text, WATCH) == _by_str(text), text[:200]
    assert any(map(_by_str, texts)) and not all(map(_by_str, texts))


@pytest.mark.parametrize(("text", "expected"), [
    ("Новости: КЛИНГ выпустил модель", True), ("новости: клинг", True), ("Kling Cyrillic-free", False),
    ("ACME VIDEO raised", True), ("\u212aling", False),
])
def test_an_alias_cased_beyond_ascii_leaves_the_screen_to_str(text: str, expected: bool) -> None:
    from monitor.match import WatchEntity, Watchlist, _screen

    watch = Watchlist(entities=(WatchEntity("Клинг", ("Acme Video",)),), context_words=(), cloud_providers=())
    assert _screen(watch)[2] is None  # "К" lower-cases beyond ASCII: only str.lower() folds it
    assert may_mention(text, watch) is expected
