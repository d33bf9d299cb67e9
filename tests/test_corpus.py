"""Every file of the shared feed corpus goes through parse_feed and normalize_entries without raising.

One test per folder (a loop, not one test per file) keeps this fast: ~2,100 files in a few seconds.
The feedparser test files carry simulated HTTP headers in a leading comment ("Header: k: v");
those are passed as response headers, as upstream's harness does. Their `Expect:` lines are not
evaluated (upstream uses eval on them).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from shared import shared_path

from monitor.models import Entry, ParsedFeed
from monitor.normalize import normalize_entries
from monitor.parse import parse_feed

CORPUS = shared_path("corpus")
REAL = CORPUS / "real-feeds"
FP = CORPUS / "feedparser-tests"
FETCHED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
_HEADER_RE = re.compile(rb"^Header:\s*([^:\r\n]+):\s*(.*?)\s*$", re.MULTILINE)

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feed corpus not found at {CORPUS}")

FOLDERS = [
    "real-feeds",
    "feedparser-tests/wellformed",
    "feedparser-tests/illformed",
    "feedparser-tests/encoding",
    "feedparser-tests/entities",
    "feedparser-tests/json",
]


def _headers(body: bytes) -> dict[str, str] | None:
    found = _HEADER_RE.findall(body[:4096])
    if not found:
        return None
    headers = {k.decode().strip().lower(): v.decode("latin-1") for k, v in found}
    headers.setdefault("content-type", "text/xml")
    return headers


def _run(path: Path) -> tuple[ParsedFeed, list[Entry]]:
    body = path.read_bytes()
    parsed = parse_feed(body, _headers(body) if path.is_relative_to(FP) else None)
    return parsed, normalize_entries(parsed, feed=path.stem, language="en", fetched_at=FETCHED)


def _load(name: str) -> tuple[ParsedFeed, list[Entry]]:
    return _run(REAL / name)


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_file_parses_and_normalizes(folder: str) -> None:
    files = sorted(p for p in (CORPUS / folder).rglob("*") if p.is_file() and p.suffix != ".md")
    assert files, f"no files under {folder}"
    failures: list[str] = []
    bozo_wellformed: list[str] = []
    for path in files:
        try:
            parsed, entries = _run(path)
        except Exception as exc:  # the point of the test: report every file that raises
            failures.append(f"{path.relative_to(CORPUS)}: {type(exc).__name__}: {exc}")
            continue
        if parsed.bozo and parsed.bozo_error is None:
            failures.append(f"{path.relative_to(CORPUS)}: bozo without a reason")
        if parsed.bozo_error is not None and not parsed.bozo_error.startswith("parse: "):
            failures.append(f"{path.relative_to(CORPUS)}: error without stage: {parsed.bozo_error}")
        for e in entries:
            if not e.url or e.published.tzinfo is None or not isinstance(e.title, str):
                failures.append(f"{path.relative_to(CORPUS)}: bad entry {e!r}")
                break
        if folder.endswith("wellformed") and parsed.bozo:
            bozo_wellformed.append(str(path.relative_to(FP / "wellformed")))
    assert not failures, "\n".join(failures[:20])
    # Well-formed files parse clean, except channel-only CDF documents (no version, no entries).
    assert all(p.startswith("cdf/") for p in bozo_wellformed), bozo_wellformed


def test_techcrunch_is_bozo_but_keeps_all_entries() -> None:
    parsed, entries = _load("techcrunch-feedburner.xml")
    assert parsed.bozo and len(parsed.entries) == 20 and len(entries) == 20
    # FeedBurner: the original link, not the feedproxy redirect
    assert all(e.url.startswith("http://techcrunch.com/") for e in entries), entries[0].url


def test_heise_rdf_has_no_dates_so_all_come_from_fetch_time() -> None:
    parsed, entries = _load("heise-online-rss090.rdf")
    assert len(entries) == 60
    assert all(e.published_from_fetch and e.published == FETCHED for e in entries)
    assert all(e.guid is None and e.url.startswith("https://www.") for e in entries)
    assert all("wt_mc" not in e.url and e.link and "wt_mc=" in e.link for e in entries)  # tracking dropped
    assert len({e.url for e in entries}) == 60


def test_golem_latin1_umlauts() -> None:
    parsed, entries = _load("golem-iso-8859-1.xml")
    assert parsed.encoding == "iso-8859-1" and len(entries) == 40
    text = " ".join(e.title + " " + e.summary for e in entries)
    assert any(ch in text for ch in "äöüÄÖÜß")
    assert "Ã" not in text and "\ufffd" not in text
    assert "Viele Spieler wünschen sich eine PC-Version" in text


def test_ibash_windows_1251_cyrillic() -> None:
    parsed, entries = _load("ibash-windows-1251.xml")
    assert parsed.encoding == "windows-1251" and len(entries) == 50
    assert entries[0].title.startswith("Цитата #")
    assert sum("а" <= ch <= "я" for e in entries for ch in e.summary) > 500
    assert entries[0].language == "ru"


def test_google_alerts_links_leave_the_google_redirect() -> None:
    parsed, entries = _load("google-alerts-slack.atom.xml")
    assert len(entries) == 20
    for e in entries:
        assert "google.com/url" not in e.url and e.url.startswith("http")
        assert e.link is not None and e.link.startswith("https://www.google.com/url?")
        assert "<b>" not in e.title
    assert entries[0].url.startswith("https://www.aglobalmarketresearch.com/report-offers-prediction")


def test_uol_latin1_without_prolog() -> None:
    parsed, entries = _load("uol-noticias-no-prolog-latin1.rss")
    assert len(entries) == 15 and all(e.published_from_fetch for e in entries)
    assert "simulações" in entries[0].title or any("ç" in e.title for e in entries)


def test_bbc_drops_tracking_params_from_links() -> None:
    parsed, entries = _load("bbc-news-front-page.xml")
    assert entries and all("at_medium" not in e.url for e in entries)
    assert all(e.link and "at_medium" in e.link for e in entries)
