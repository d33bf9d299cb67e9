"""Parse stage: encodings (GBK with right, wrong and missing declarations), non-feeds, entity bombs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from shared import shared_path

from monitor.normalize import normalize_entries
from monitor.parse import parse_feed

TITLE = "可灵AI完成新一轮融资，估值达到200亿美元"
SUMMARY = "快手旗下的可灵人工智能视频生成模型发布了新版本，用户数量突破两千万。"
CHANNEL = (
    '<rss version="2.0"><channel><title>快手新闻</title><language>zh-cn</language><ttl>30</ttl>'
    "<skipHours><hour>1</hour><hour>2</hour><hour>24</hour></skipHours>"
    f"<item><title>{TITLE}</title><description>{SUMMARY}</description>"
    "<link>http://example.com/kling</link><guid>kling-1</guid></item></channel></rss>"
)


def decl(enc: str) -> str:
    return f'<?xml version="1.0" encoding="{enc}"?>\n'


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param((decl("gbk") + CHANNEL).encode("gbk"), None, id="gbk-declared"),
        pytest.param((decl("gb2312") + CHANNEL).encode("gb18030"), None, id="gb2312-declared"),
        pytest.param((decl("GB18030") + CHANNEL).encode("gb18030"), None, id="gb18030-declared"),
        pytest.param((decl("utf-8") + CHANNEL).encode("gbk"), None, id="utf8-declared-but-gbk"),
        pytest.param(CHANNEL.encode("gbk"), None, id="no-declaration"),
        pytest.param(CHANNEL.encode("gbk"), {"Content-Type": "application/rss+xml"}, id="no-charset"),
        pytest.param(CHANNEL.encode("gbk"), {"Content-Type": "text/xml; charset=GBK"}, id="http-charset"),
        pytest.param(
            (decl("gbk") + CHANNEL).encode("gbk"),
            {"Content-Type": "application/xml; charset=utf-8"},
            id="http-says-utf8",
        ),
        pytest.param((decl("utf-8") + CHANNEL).encode("utf-8"), None, id="plain-utf8"),
    ],
)
def test_chinese_feeds_decode_correctly(body: bytes, headers: dict[str, str] | None) -> None:
    p = parse_feed(body, headers)
    assert len(p.entries) == 1
    e = p.entries[0]
    assert e["title"] == TITLE
    assert e["summary"] == SUMMARY


def test_ttl_and_skip_hours() -> None:
    p = parse_feed((decl("utf-8") + CHANNEL).encode())
    assert p.ttl_minutes == 30 and p.skip_hours == (0, 1, 2)
    assert p.version == "rss20" and not p.bozo and p.bozo_error is None
    assert p.entries[0]["feed_language"] == "zh-cn"


def test_html_page_is_not_a_feed() -> None:
    page = b"<!DOCTYPE html><html><head><title>Kling</title></head><body><p>Hello</p></body></html>"
    p = parse_feed(page, {"Content-Type": "text/html; charset=utf-8"})
    assert p.entries == () and p.bozo and p.bozo_error == "parse: not a feed (an HTML page)"


@pytest.mark.parametrize("body", [b"", b"  \n ", b"\x00\x01\x02 garbage", b'{"json": true}', b"/etc/passwd"])
def test_empty_or_garbage_is_not_a_feed(body: bytes) -> None:
    p = parse_feed(body)
    assert p.entries == () and p.bozo and p.bozo_error is not None
    assert p.bozo_error.startswith("parse: not a feed (")


def test_billion_laughs_is_refused_quickly() -> None:
    ents = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">'.replace("&lol;", "&lol;")
        for i in range(1, 10)
    ]
    ents = [e.replace("&lol0;", "&lol;") for e in ents]
    for sep in ("", "\n"):  # one line defeats feedparser's own per-line DOCTYPE stripping
        body = (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss [{sep}{sep.join(ents)}{sep}]>\n'
            '<rss version="2.0"><channel><title>&lol9;</title><item><title>x</title></item></channel></rss>'
        ).encode()
        t = time.monotonic()
        p = parse_feed(body)
        assert time.monotonic() - t < 1
        assert p.entries == () and p.bozo_error is not None
        assert p.bozo_error.startswith("parse: entity declarations refused")


def test_quadratic_blowup_is_refused() -> None:
    big = "A" * 20_000
    body = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "{big}">\n]>\n<rss version="2.0"><channel>'
        f"<title>t</title><item><title>{'&a;' * 50_000}</title></item></channel></rss>"
    ).encode()
    t = time.monotonic()
    p = parse_feed(body)
    assert time.monotonic() - t < 1
    assert p.bozo_error == "parse: entity declarations refused (expansion too large)"


def test_small_harmless_entity_is_allowed() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY co "Kuaishou"><!ENTITY c "&#169;">]>\n'
        b'<rss version="2.0"><channel><title>t</title><item><title>&co; news &c;</title>'
        b"<link>http://example.com/x</link></item></channel></rss>"
    )
    p = parse_feed(body)
    assert len(p.entries) == 1 and p.entries[0]["title"] == "Kuaishou news \u00a9"


def test_malformed_feed_keeps_its_entries() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>One & two</title><link>http://example.com/1</link></item>"
        b"<item><title>Three</title><link>http://example.com/2</link></item>"
        b"<item><title>Unclosed</title><link>http://example.com/3</link>"
    )
    p = parse_feed(body)
    assert p.bozo and p.bozo_error is not None and p.bozo_error.startswith("parse: ")
    assert [e["link"] for e in p.entries][:2] == ["http://example.com/1", "http://example.com/2"]


def test_latin1_without_declaration_is_not_misread_as_chinese() -> None:
    text = "Notícias: eleição em São Paulo, ação e coração; últimas informações às 10h"
    body = f'<rss version="2.0"><channel><title>t</title><item><title>{text}</title></item></channel></rss>'
    p = parse_feed(body.encode("latin-1"))
    assert p.entries[0]["title"] == text


def test_utf8_served_with_a_latin1_header_is_repaired() -> None:
    text = "Müller über Kling: “schnell” — 可灵"
    body = f'<rss version="2.0"><channel><title>t</title><item><title>{text}</title></item></channel></rss>'
    p = parse_feed(body.encode("utf-8"), {"Content-Type": "application/rss+xml; charset=windows-1252"})
    assert p.entries[0]["title"] == text


def test_valid_feed_without_items_is_not_an_error() -> None:
    p = parse_feed(b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>')
    assert p.entries == () and not p.bozo and p.bozo_error is None


def test_header_names_any_case() -> None:
    body = CHANNEL.encode("gbk")
    assert parse_feed(body, {"CONTENT-TYPE": "text/xml; charset=gbk"}).entries[0]["title"] == TITLE


def test_declared_gbk_with_gb18030_only_characters() -> None:
    title = "可灵㐀AI€"  # U+3400 needs GB18030's four-byte form; GBK cannot decode it
    body = (
        decl("gbk") + f'<rss version="2.0"><channel><title>t</title><item><title>{title}</title>'
        "</item></channel></rss>"
    ).encode("gb18030")
    p = parse_feed(body)
    assert p.entries[0]["title"] == title and p.encoding == "gb18030"


def test_entity_bomb_hidden_behind_a_comment_or_in_utf16_is_refused() -> None:
    lol = '<!ENTITY a "xxxxxxxxxx"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    tail = '<rss version="2.0"><channel><title>&b;</title><item><title>x</title></item></channel></rss>'
    hidden = f'<?xml version="1.0"?><!-- <a href="x"> --><!DOCTYPE rss [{lol}]>{tail}'
    for body in (hidden.encode(), hidden.replace('"1.0"?>', '"1.0" encoding="utf-16"?>').encode("utf-16")):
        p = parse_feed(body)
        assert (
            p.entries == ()
            and p.bozo_error == "parse: entity declarations refused (nested entity references)"
        )


# ------------------------------------------------------------ JSON Feed

JSON_FEED_11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "快手新闻",
    "language": "zh-CN",
    "items": [
        {
            "id": "k-1",
            "url": "https://news.example.cn/kling?utm_source=json",
            "title": "可灵AI完成新一轮融资",
            "summary": "short",
            "content_html": "<p>快手旗下可灵AI <b>融资</b></p><script>alert(1)</script>",
            "date_published": "2026-11-20T08:30:00+08:00",
            "date_modified": "2026-11-21T00:00:00Z",
            "authors": [{"name": "记者"}],
            "attachments": [{"url": "https://news.example.cn/v.mp4", "mime_type": "video/mp4"}],
        },
        {"id": 7, "external_url": "https://b.example/ext", "content_text": "text only", "language": "en"},
        {"id": "bad-types", "title": ["not", "a", "string"], "url": 42, "date_published": 1700000000},
        "not an object",
    ],
}


def test_json_feed_items_become_entries() -> None:
    p = parse_feed(json.dumps(JSON_FEED_11, ensure_ascii=False).encode(), {"Content-Type": "application/feed+json"})
    assert (p.version, p.bozo, len(p.entries)) == ("json11", False, 3)
    fetched = datetime(2026, 11, 24, tzinfo=UTC)
    a, b, c = normalize_entries(p, feed="j", language=None, fetched_at=fetched)
    assert a.url == "https://news.example.cn/kling" and a.guid == "k-1" and a.title == "可灵AI完成新一轮融资"
    assert a.summary == "快手旗下可灵AI 融资"  # the richer of summary and content, scripts dropped
    assert a.published == datetime(2026, 11, 20, 0, 30, tzinfo=UTC) and not a.published_from_fetch
    assert a.updated == datetime(2026, 11, 21, tzinfo=UTC)
    assert (a.author, a.language) == ("记者", "zh-cn")
    assert (b.url, b.guid, b.title, b.language) == ("https://b.example/ext", "7", "text only", "en")
    assert (c.guid, c.title, c.published_from_fetch) == ("bad-types", "", True)  # wrong types are ignored


def test_json_feed_1_0_from_the_corpus() -> None:
    path = shared_path("corpus", "feedparser-tests", "json", "example.json")
    if not path.exists():
        pytest.skip(f"corpus not found at {path}")
    p = parse_feed(path.read_bytes())
    assert (p.version, p.bozo, [e["id"] for e in p.entries]) == ("json1", False, ["2", "1"])


@pytest.mark.parametrize(
    "body",
    [b'{"version": "https://jsonfeed.org/version/1.1"}', b'{"items": []}', b'{"version": 3, "items": []}',
     b"{" * 100_000, b'\xef\xbb\xbf{"version": "https://jsonfeed.org/version/1", "items": [', "{\"a\": \"\xe9\"}".encode("latin-1")],
)
def test_json_that_is_not_a_json_feed_is_not_a_feed(body: bytes) -> None:
    p = parse_feed(body)
    assert p.entries == () and p.bozo and p.bozo_error == "parse: not a feed (JSON, but not a JSON Feed)"


BIG5_TITLE = "可靈AI完成新一輪融資"
BIG5_SUMMARY = "快手旗下的可靈人工智慧影片生成模型發佈了新版本，使用者數量突破兩千萬。"
BIG5_CHANNEL = (f'<rss version="2.0"><channel><title>新聞</title><item><title>{BIG5_TITLE}</title>'
                f"<description>{BIG5_SUMMARY}</description><link>http://example.com/k</link></item></channel></rss>")


def served(body_encoding: str, header: str | None, prolog: str | None) -> tuple[bytes, dict[str, str]]:
    channel = BIG5_CHANNEL if body_encoding == "big5" else CHANNEL
    body = ((decl(prolog) if prolog else "") + channel).encode(body_encoding)
    return body, {"Content-Type": "application/rss+xml" + (f"; charset={header}" if header else "")}


@pytest.mark.parametrize(
    ("body_encoding", "header", "prolog"),
    [
        # the five mixed declarations of the probe; the first was stored as Latin-1 mojibake
        pytest.param("gbk", "iso-8859-1", "utf-8", id="gbk+latin1-header+utf8-prolog"),
        pytest.param("gbk", "iso-8859-1", "gbk", id="gbk+latin1-header+gbk-prolog"),
        pytest.param("gbk", "utf-8", "gbk", id="gbk+utf8-header+gbk-prolog"),
        pytest.param("gbk", "utf-8", None, id="gbk+utf8-header"),
        pytest.param("gbk", None, "utf-8", id="gbk+utf8-prolog"),
        # more of the same family
        pytest.param("gbk", "windows-1252", None, id="gbk+cp1252-header"),
        pytest.param("gb18030", "iso-8859-1", "big5", id="gb18030+latin1-header+big5-prolog"),
        pytest.param("gbk", None, "iso-8859-1", id="gbk+latin1-prolog"),
        pytest.param("gbk", "utf-8", "iso-8859-1", id="gbk+utf8-header+latin1-prolog"),
        pytest.param("big5", "iso-8859-1", "utf-8", id="big5+latin1-header+utf8-prolog"),
        pytest.param("big5", "iso-8859-1", "big5", id="big5+latin1-header+big5-prolog"),
    ],
)
def test_a_chinese_body_wins_over_a_declaration_that_does_not_fit(body_encoding: str, header: str | None,
                                                                  prolog: str | None) -> None:
    body, headers = served(body_encoding, header, prolog)
    for fast in (True, False):
        p = parse_feed(body, headers, fast=fast)
        (e,) = p.entries
        assert "快手" in e["summary"] and ("可灵" in e["title"] or "可靈" in e["title"]), (fast, e["title"])
        assert e["title"] == (BIG5_TITLE if body_encoding == "big5" else TITLE)


@pytest.mark.parametrize("header", ["iso-8859-1", "windows-1252"])
def test_a_real_latin1_body_under_a_wrong_multibyte_prolog_stays_latin1(header: str) -> None:
    text = "Élève à l'école: déjà vu, très élégant. Où est la bibliothèque? Ça coûte cher."
    body = (decl("gbk") + f'<rss version="2.0"><channel><title>t</title><item><title>{text}</title>'
            "<description>d</description></item></channel></rss>").encode("latin-1")
    (e,) = parse_feed(body, {"Content-Type": f"application/rss+xml; charset={header}"}).entries
    assert e["title"] == text
