"""The lxml fast path gives exactly feedparser's entries, or declines.

Differential tests: every body is parsed twice, with the fast path and with feedparser alone, and
the normalized Entry records and feed metadata must be equal. A test also checks that the fast path
accepted the body, so that equality is not reached by declining everything.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pytest
from feedparser.urls import _urljoin, make_safe_absolute_uri
from shared import shared_path

from monitor.fastfeed import _base_uri, _Item, _start_base, read_feed
from monitor.models import Entry, ParsedFeed
from monitor.normalize import normalize_entries
from monitor.parse import parse_feed

CORPUS = shared_path("corpus")
FETCHED = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HEADER_VARIANTS: list[dict[str, str]] = [
    {},
    {"content-type": "application/rss+xml"},
    {"content-type": "text/xml; charset=utf-8"},
    {"content-type": "text/html; charset=utf-8"},  # a misconfigured server: feedparser flags it bozo
    # what fetch.py hands over: the URL the response came from, for relative links
    {"content-type": "application/rss+xml; charset=utf-8", "content-location": "https://feeds.example.org/a/b.xml"},
]
_HEADER_RE = re.compile(rb"^Header:\s*([^:\r\n]+):\s*(.*?)\s*$", re.MULTILINE)


def _meta(p: ParsedFeed) -> tuple[object, ...]:
    return (p.bozo, p.bozo_error, p.encoding, p.version, p.ttl_minutes, p.skip_hours, len(p.entries))


def _both(body: bytes, headers: dict[str, str]) -> tuple[tuple[object, ...], list[Entry], tuple[object, ...], list[Entry]]:
    fast = parse_feed(body, headers, fast=True)
    slow = parse_feed(body, headers, fast=False)
    return (
        _meta(fast),
        normalize_entries(fast, feed="f", language=None, fetched_at=FETCHED),
        _meta(slow),
        normalize_entries(slow, feed="f", language=None, fetched_at=FETCHED),
    )


def _assert_same(body: bytes, headers: dict[str, str], where: str) -> None:
    fast_meta, fast_entries, slow_meta, slow_entries = _both(body, headers)
    assert fast_meta == slow_meta, where
    for a, b in zip(fast_entries, slow_entries, strict=True):
        assert a == b, where


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feed corpus not found at {CORPUS}")
def test_corpus_entries_equal_feedparser_wherever_the_fast_path_accepts() -> None:
    accepted: set[str] = set()
    checked = 0
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md"):
        body = path.read_bytes()
        variants = list(HEADER_VARIANTS)
        found = _HEADER_RE.findall(body[:4096])
        if found:
            variants.append({k.decode().strip().lower(): v.decode("latin-1") for k, v in found})
        for headers in variants:
            if read_feed(body, {k.lower(): v for k, v in headers.items()}) is None:
                continue
            checked += 1
            accepted.add(str(path.relative_to(CORPUS)))
            _assert_same(body, headers, f"{path.relative_to(CORPUS)} {headers}")
    # The common shape is taken: most real RSS 2.0 and Atom feeds, and hundreds of feedparser's own cases.
    real = {a for a in accepted if a.startswith("real-feeds/")}
    assert {
        "real-feeds/nytimes-top-stories.xml",
        "real-feeds/guardian-us.rss",
        "real-feeds/google-news-search-brent-crude-en-gb.xml",
        "real-feeds/huffpost-canada.xml",
        "real-feeds/google-alerts-slack.atom.xml",
        "real-feeds/heise-developer.atom",
    } <= real
    assert len(real) >= 10 and checked >= 2500


def _rss(items: str, channel: str = "", decl: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (
        f"{decl}<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">'
        f"<channel><title>T</title><link>https://example.com/</link>{channel}{items}</channel></rss>"
    ).encode()


# Items whose feedparser reading has a twist; the fast path must reproduce each one.
ACCEPTED_CASES = {
    "guid-before-link": "<item><guid>https://a.example/guid</guid><link>https://a.example/link</link><title>x</title></item>",
    "guid-permalink-only": "<item><guid>https://a.example/only-guid</guid><title>x</title></item>",
    "guid-permalink-without-scheme": "<item><guid>a.example/no-scheme</guid><title>x</title></item>",
    "guid-not-permalink": '<item><guid isPermaLink="false">https://a.example/g</guid><title>x</title></item>',
    "empty-link-then-guid": "<item><link></link><guid>https://a.example/g2</guid><title>x</title></item>",
    "escaped-amp-in-link": "<item><link>https://a.example/p?a=1&amp;amp;b=2&amp;c;=3</link><title>x</title></item>",
    "atom-alternate-link": '<item><atom:link href="https://a.example/alt" rel="alternate"/><title>x</title></item>',
    "atom-self-link-and-text-link": (
        '<item><link>https://a.example/text</link><atom:link href="https://a.example/self" rel="self"/>'
        "<title>x</title></item>"
    ),
    "html-in-title": "<item><title>Kling &lt;b&gt;2.0&lt;/b&gt; &amp;amp; more</title><link>https://a.example/h</link></item>",
    "html-tag-only-feedparser-knows": "<item><title>press &lt;kbd&gt;K&lt;/kbd&gt; now</title><link>https://a.example/k</link></item>",
    "plain-lt-in-title": "<item><title>a &lt; b and c &gt; d</title><link>https://a.example/lt</link></item>",
    "cp1252-controls": "<item><title>quote \u0093x\u0094 dash \u0096</title><link>https://a.example/c</link></item>",
    "utf8-read-as-latin1": "<item><title>caf\u00c3\u00a9 d\u00c3\u00a9j\u00c3\u00a0</title><link>https://a.example/m</link></item>",
    "cjk-title": "<item><title>可灵AI完成新一轮融资</title><link>https://a.example/zh</link></item>",
    "media-title-first": (
        "<item><media:content url='https://a.example/v.mp4'><media:title>caption</media:title></media:content>"
        "<title>real title</title><link>https://a.example/mt</link></item>"
    ),
    "media-title-after": (
        "<item><title>real &lt;foo&gt; title</title><media:group><media:title>cap &amp;amp; &lt;i&gt;tion&lt;/i&gt;</media:title></media:group>"
        "<link>https://a.example/mt2</link></item>"
    ),
    "media-titles-only": (
        "<item><media:group><media:title>first caption</media:title><media:title>second caption</media:title>"
        "</media:group><link>https://a.example/mto</link></item>"
    ),
    "second-description-is-content": (
        "<item><title>x</title><description>short</description>"
        "<media:content url='https://a.example/i.jpg'><media:description>a much longer caption "
        "than the description itself</media:description></media:content><link>https://a.example/d</link></item>"
    ),
    "content-encoded-only": "<item><title>x</title><content:encoded><![CDATA[<p>Body <b>text</b></p>]]></content:encoded></item>",
    "content-then-description": (
        "<item><content:encoded><![CDATA[<p>long body text here</p>]]></content:encoded>"
        "<description>teaser</description><title>x</title></item>"
    ),
    "typed-description": '<item><title>x</title><description type="text">plain &lt;not a tag&gt;</description></item>',
    "source-and-suffix": (
        '<item><title>Kling raises $1B - Reuters</title><source url="https://www.reuters.com">Reuters</source>'
        "<link>https://news.google.com/rss/articles/abc?oc=5</link></item>"
    ),
    "feedburner-origlink": (
        "<item><title>x</title><link>https://feeds.example/~r/a</link>"
        "<feedburner:origLink>https://a.example/orig?utm_source=feedburner</feedburner:origLink></item>"
    ),
    "dc-date-only": "<item><title>x</title><dc:date>2026-11-20T08:30:00+08:00</dc:date><link>https://a.example/dc</link></item>",
    "pubdate-and-dc-date": (
        "<item><title>x</title><pubDate>Fri, 20 Nov 2026 01:02:03 GMT</pubDate>"
        "<dc:date>2026-11-21T00:00:00Z</dc:date><link>https://a.example/both</link></item>"
    ),
    "bad-date": "<item><title>x</title><pubDate>sometime last week</pubDate><link>https://a.example/bd</link></item>",
    "enclosure-only": '<item><title>x</title><enclosure url="https://a.example/a.mp3" type="audio/mpeg" length="1"/></item>',
    "dc-creator": "<item><title>x</title><dc:creator>Jane Doe (jane@example.com)</dc:creator><link>https://a.example/au</link></item>",
    "whitespace-and-cdata": "<item><title>\n  <![CDATA[  Spaced  title ]]>\n </title><link>\n https://a.example/ws \n</link></item>",
    "unknown-elements": "<item><title>x</title><foo>bar</foo><slash:comments xmlns:slash='http://purl.org/rss/1.0/modules/slash/'>3</slash:comments><link>https://a.example/u</link></item>",
    "uppercase-element-names": "<item><TITLE>x</TITLE><Link>https://a.example/uc</Link><PubDate>Fri, 20 Nov 2026 01:02:03 GMT</PubDate></item>",
    "deeply-nested-unknown": "<item><title>x</title>" + "<foo>" * 100 + "y" + "</foo>" * 100 + "<link>https://a.example/n</link></item>",
    "no-title-no-link": "<item><description>only a description that becomes the title</description></item>",
}


@pytest.mark.parametrize("items", ACCEPTED_CASES.values(), ids=ACCEPTED_CASES.keys())
def test_twists_of_feedparser_are_reproduced(items: str) -> None:
    body = _rss(items + "<item><title>second</title><link>https://a.example/2</link></item>")
    for headers in HEADER_VARIANTS:
        assert read_feed(body, {k.lower(): v for k, v in headers.items()}) is not None, "fast path declined"
        _assert_same(body, headers, str(headers))


ATOM = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"{lang}{base} '
    'xmlns:media="http://search.yahoo.com/mrss/"><title type="text">Feed</title><id>urn:feed</id>'
    '<updated>2026-11-20T00:00:00Z</updated><author><name>Desk</name></author>'
    '<link rel="self" href="https://a.example/feed.atom"/>{entries}</feed>'
)
ATOM_CASES = {
    "plain-html": (
        '<entry><title type="html">Kling &lt;b&gt;2.0&lt;/b&gt;</title><id>tag:a.example,2026:1</id>'
        '<link rel="alternate" type="text/html" href="https://a.example/1?utm_source=atom"/>'
        "<updated>2026-11-20T08:30:00+08:00</updated><published>2026-11-19T08:30:00Z</published>"
        '<summary type="html">&lt;p&gt;Summary &lt;i&gt;text&lt;/i&gt;&lt;/p&gt;</summary>'
        '<content type="html">&lt;p&gt;A longer body than the summary, with &lt;a href="x"&gt;a link&lt;/a&gt;&lt;/p&gt;</content>'
        "<author><name>Jane Doe</name><email>jane@a.example</email><uri>https://a.example/jane</uri></author></entry>"
    ),
    "text-title-that-looks-like-html": '<entry><title>press &lt;kbd&gt;K&lt;/kbd&gt;</title><id>urn:2</id></entry>',
    "untyped-summary-is-text": "<entry><title>x</title><id>urn:2b</id><summary>1 &lt; 2 and &lt;kbd&gt;x&lt;/kbd&gt;</summary></entry>",
    "id-as-link": "<entry><title>x</title><id>https://a.example/from-id</id></entry>",
    "relative-links": (
        '<entry><title>x</title><id>urn:3</id><link href="/relative/path"/>'
        '<link rel="enclosure" href="a.mp3" type="audio/mpeg"/></entry>'
    ),
    "alternate-not-html": '<entry><title>x</title><id>urn:4</id><link rel="alternate" type="application/pdf" href="https://a.example/f.pdf"/></entry>',
    "content-only": '<entry><title>x</title><id>urn:5</id><content>plain &amp; simple</content></entry>',
    "content-src": '<entry><title>x</title><id>urn:6</id><content type="text/html" src="https://a.example/full"/></entry>',
    "summary-then-content-free-summary": "<entry><summary>first</summary><summary>second, longer than the first</summary><id>urn:7</id></entry>",
    "author-email-only": "<entry><title>x</title><id>urn:8</id><author><email>e@a.example</email></author></entry>",
    "author-empty-name": "<entry><title>x</title><id>urn:9</id><author> <name></name> </author></entry>",
    "contributor": "<entry><title>x</title><id>urn:10</id><contributor><name>C</name></contributor></entry>",
    "media-group": (
        "<entry><title>x</title><id>urn:11</id><media:group><media:title>cap</media:title>"
        "<media:description>a long media description of the video</media:description></media:group></entry>"
    ),
    "categories-and-rights": '<entry><title>x</title><id>urn:12</id><category term="ai"/><rights>(c)</rights></entry>',
    "no-dates": "<entry><title>x</title><id>urn:13</id></entry>",
}


@pytest.mark.parametrize("entries", ATOM_CASES.values(), ids=ATOM_CASES.keys())
@pytest.mark.parametrize("root", ["", ' xml:lang="en-GB"', ' xml:base="https://b.example/dir/"', ' xml:lang=""'])
def test_atom_entries_equal_feedparser(entries: str, root: str) -> None:
    lang, base = (root, "") if "lang" in root else ("", root)
    body = ATOM.format(lang=lang, base=base, entries=entries + ATOM_CASES["plain-html"]).encode()
    for headers in HEADER_VARIANTS:
        assert read_feed(body, {k.lower(): v for k, v in headers.items()}) is not None, "fast path declined"
        _assert_same(body, headers, f"{root} {headers}")


@pytest.mark.parametrize(
    ("declared", "codec", "title"),
    [("iso-8859-1", "latin-1", "Über café"), ("gbk", "gbk", "快手可灵"), ("GB2312", "gb18030", "快手"),
     ("windows-1251", "cp1251", "Клинг"), ("utf-16", "utf-16", "可灵 Kling")],
)
def test_declared_encodings_are_read_like_feedparser(declared: str, codec: str, title: str) -> None:
    body = (
        f'<?xml version="1.0" encoding="{declared}"?><rss version="2.0"><channel><title>{title}</title>'
        f"<item><title>{title}</title><link>https://a.example/e</link><description>{title} &lt;b&gt;x&lt;/b&gt;"
        "</description></item></channel></rss>"
    ).encode(codec)
    for headers in HEADER_VARIANTS:
        if read_feed(body, {k.lower(): v for k, v in headers.items()}) is not None:
            _assert_same(body, headers, f"{declared} {headers}")
    assert read_feed(body, {"content-type": "application/rss+xml"}) is not None
    assert parse_feed(body, {"content-type": "application/rss+xml"}).entries[0]["title"] == title


def test_channel_language_and_ttl_are_kept() -> None:
    body = _rss("<item><title>x</title><link>https://a.example/l</link></item>", "<language>zh-CN</language><ttl>45</ttl>")
    fast = parse_feed(body, {}, fast=True)
    assert read_feed(body, {}) is not None
    assert fast.ttl_minutes == 45 and fast.entries[0]["feed_language"] == "zh-CN"
    _assert_same(body, {}, "language")


DECLINED_CASES = {
    "atom-0.3": b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><title>x</title></entry></feed>',
    "atom-xhtml-content": (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>x</title>'
        b'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><b>b</b></div></content></entry></feed>'
    ),
    "atom-base64-content": (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="image/png">iVBO</content></entry></feed>'
    ),
    "atom-entry-xml-lang": b'<feed xmlns="http://www.w3.org/2005/Atom"><entry xml:lang="de"><title>x</title></entry></feed>',
    "atom-source-with-children": (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>x</title>'
        b"<source><title>Origin</title><id>urn:o</id></source></entry></feed>"
    ),
    "atom-two-authors": (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>x</title>'
        b"<author><name>a</name></author><author><name>b</name></author></entry></feed>"
    ),
    "rss-1.0": b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><item><title>x</title></item></rdf:RDF>',
    "rss-0.91": b'<rss version="0.91"><channel><item><title>x</title></item></channel></rss>',
    "doctype": b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "b">]><rss version="2.0"><channel><item><title>&a;</title></item></channel></rss>',
    "utf8-declared-but-gbk": '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><item><title>快手</title></item></channel></rss>'.encode("gbk"),
    "latin1-holding-utf8": '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><item><title>café</title></item></channel></rss>'.encode(),
    "xml-base": _rss('<item xml:base="https://b.example/"><title>x</title><link>rel</link></item>'),
    "xml-lang": _rss('<item><title xml:lang="zh">x</title></item>'),
    "malformed": b'<rss version="2.0"><channel><item><title>x</item></channel></rss>',
    "two-guids": _rss("<item><guid>a</guid><guid>b</guid></item>"),
    "item-language": _rss("<item><title>x</title><language>fr</language></item>"),
    "author-with-mixed-text": _rss("<item><title>x</title><atom:author>by <atom:name>n</atom:name></atom:author></item>"),
    "markup-element-in-title": _rss("<item><title>x <b>y</b></title></item>"),
    "base64-content": _rss('<item><title>x</title><description type="application/octet-stream">eA==</description></item>'),
    "replacement-char": _rss("<item><title>bad \ufffd byte</title></item>"),
    "items-outside-channel": b'<rss version="2.0"><channel><title>t</title></channel><item><title>x</title></item></rss>',
}


@pytest.mark.parametrize("body", DECLINED_CASES.values(), ids=DECLINED_CASES.keys())
def test_outside_the_subset_the_fast_path_declines(body: bytes) -> None:
    assert read_feed(body, {}) is None
    assert read_feed(body, {"content-type": "application/rss+xml"}) is None


def test_relative_links_resolve_against_content_location() -> None:
    body = _rss(
        "<item><title>x</title><link>../rel/ative?a=1</link><guid>/guid/1</guid></item>"
        '<item><title>y</title><guid>g/2</guid><atom:link href="//cdn.example.net/p" rel="alternate"/></item>'
        '<item><title>z</title><guid isPermaLink="false">keep/as/is</guid></item>'
    )
    for location in ("https://b.example/feeds/all.xml", "http://b.example", "javascript:alert(1)", "not a url"):
        headers = {"content-location": location}
        assert read_feed(body, headers) is not None, location
        _assert_same(body, headers, location)
    fast = parse_feed(body, {"content-location": "https://b.example/feeds/all.xml"})
    assert [e["link"] for e in fast.entries[:2]] == ["https://b.example/rel/ative?a=1", "https://cdn.example.net/p"]


def test_content_language_and_root_xml_lang_give_the_entries_a_language() -> None:
    rss = _rss("<item><title>x</title><link>https://a.example/l</link></item>")
    atom = ATOM.format(lang=' xml:lang="zh_CN"', base="", entries=ATOM_CASES["plain-html"]).encode()
    for body, headers in [
        (rss, {"content-type": "application/rss+xml", "content-language": "fr"}),
        (atom, {"content-type": "application/atom+xml"}),
        (atom, {"content-type": "application/atom+xml", "content-language": "fr"}),
    ]:
        assert read_feed(body, headers) is not None
        _assert_same(body, headers, str(headers))
    entries = normalize_entries(parse_feed(atom, {}), feed="f", language=None, fetched_at=FETCHED)
    assert entries[0].language == "zh-cn"


def test_encoding_trouble_is_left_to_feedparser_and_the_repair_path() -> None:
    body = _rss("<item><title>caf\u00e9 \u2013 \u53ef\u7075</title><link>https://a.example/x</link></item>")
    assert read_feed(body, {}) is not None
    # the HTTP charset overrides the declaration: feedparser reads mojibake and parse.py repairs it
    latin = {"content-type": "text/xml; charset=iso-8859-1"}
    assert read_feed(body, latin) is None
    _assert_same(body, latin, "latin-1 over utf-8")
    # text/* without a charset is us-ascii to feedparser (RFC 3023): a non-ASCII body is its business
    assert read_feed(_rss("<item><title>快手</title></item>"), {"content-type": "text/xml"}) is None


def test_link_resolution_shortcuts_agree_with_urljoin() -> None:
    """_Item.resolve skips urllib for URLs urljoin would hand back; it must never disagree with it."""
    samples = [
        "https://a.example/p?q=1#f", "http://a.example", "HTTPS://A.example/x", "https://a.example/x?",
        "https://a.example/x#", "https://a.example/a;b", "https://a.example/a;", "https:///triple",
        "https://[::1]/v6", "https://[bad/x", "urn:uuid:1234", "tag:example.com,2026:1", "mailto:a@b.c",
        "javascript:alert(1)", "//cdn.example/x", "/abs/path", "rel/path", "../up", "?q=only", "#frag",
        "https://a.example/ spaced", "https://ä.example/ü", " https://lead.example/", "https://a.example/\tt",
        "data:text/html,<b>", "HTTP://a/b/../c", "https://a.example/x/./y", "ftp://f.example/file",
        "https://user:pw@a.example:8443/p", "a:b", "1abc:def", "https:x", "http:/x",
    ]
    rng = random.Random(7)
    alphabet = "ahpst:/?#;.[]% @-_~=&+\t\u00e9"
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(3000)]
    if CORPUS.is_dir():
        for path in sorted((CORPUS / "real-feeds").iterdir()):
            samples += re.findall(r"https?://[^\s<>\"']+", path.read_text("utf-8", "replace"))[:300]
    for base in ("", "https://feeds.example.org/a/b.xml", "http://127.0.0.1:8080/feed/3.xml", "ftp://x/y"):
        item = _Item(base)
        for uri in samples:
            assert item.resolve(uri) == _urljoin(base, uri), (base, uri)
    # and the base itself: feedparser's derivation from Content-Location, settled at the first element
    for location in samples:
        expected = make_safe_absolute_uri("", location) or make_safe_absolute_uri(location) or ""
        for _depth in range(4):  # feedparser re-derives it at each element down to an entry's links
            expected = (make_safe_absolute_uri(expected, expected) or expected) if expected else ""
        got = _base_uri(_start_base(location))
        assert got is None or got == expected, location


DECLINE_BYTE_CASES: list[bytes] = [
    b"<rss><channel></channel></rss>",
    b"<!DOCTYPE rss><rss/>", b"<!doctype rss><rss/>", b"<!DocType rss>", b"<!DOCTYP", b"<!DOCTYPx",
    b"<!ENTITY x 'y'>", b"<!entity", b"<!ENTIT", b"<![CDATA[x]]><!ENTITY", b"<![CDATA[<!doctype]]>",
    b"<!-- comment --><rss/>", b"<!", b"x<!", b"\xef\xbf\xbd", b"a\xef\xbf", b"<!<!DOCTYPE", b"<!!ENTITY",
    b"<! DOCTYPE", b"\xef\xbf\xbd<!ENTITY",
]


# _declined_bytes's definition
_DECLINE_BYTES_RE = re.compile(rb"<!DOCTYPE|<!ENTITY|\xef\xbf\xbd", re.IGNORECASE)


@pytest.mark.parametrize("body", DECLINE_BYTE_CASES)
def test_declined_bytes_agrees_with_its_pattern(body: bytes) -> None:
    from monitor.fastfeed import _declined_bytes

    assert _declined_bytes(body) == bool(_DECLINE_BYTES_RE.search(body))


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feed corpus not found at {CORPUS}")
def test_declined_bytes_agrees_with_its_pattern_over_the_corpus() -> None:
    from monitor.fastfeed import _declined_bytes

    files = [p for p in sorted(CORPUS.rglob("*")) if p.is_file()]
    verdicts = [(_declined_bytes(b := p.read_bytes()), bool(_DECLINE_BYTES_RE.search(b))) for p in files]
    assert all(fast == slow for fast, slow in verdicts)
    assert any(slow for _, slow in verdicts) and not all(slow for _, slow in verdicts)


def _random_dates(n: int) -> list[str]:
    rng = random.Random(14)
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    zones = ["+0000", "-0000", "GMT", "+0800", "-0500", "+0530", "-0930", "+1400", "-1200", "+2359", "-9999",
             "+0099", "UTC", "EST", "Z", "+08:00"]
    out = []
    for _ in range(n):
        day = rng.choice([rng.randint(1, 28), rng.randint(29, 31), 0, 32, 99])
        year = rng.choice([rng.randint(1990, 2030), 2000, 2024, 1900, 2100, 1, 9999, rng.randint(0, 99)])
        hms = [rng.choice([rng.randint(0, 23), 24, 60]), rng.choice([rng.randint(0, 59), 60]),
               rng.choice([rng.randint(0, 59), 60, 61])]
        head = rng.choice([f"{rng.choice(days)}, ", "", f"{rng.choice(days)} ", "Xyz, "])
        d = rng.choice([f"{day}", f"{day:02d}"])
        y = f"{year:04d}" if rng.random() < 0.9 else str(year)
        out.append(f"{head}{d} {rng.choice(months)} {y} {hms[0]:02d}:{hms[1]:02d}:{hms[2]:02d} {rng.choice(zones)}")
    return out


def test_rfc822_date_shortcut_equals_feedparser() -> None:
    from feedparser.datetimes import _parse_date

    from monitor.fastfeed import _RFC822_DATE, _parse_date_fast

    dates = [*_random_dates(20000), "Sat, 29 Feb 2020 23:59:59 -1200", "Mon, 01 Jan 0001 00:00:00 +0100",
             "Fri, 31 Dec 9999 23:59:59 -0100", "29 Feb 2021 10:00:00 GMT", "1 Jan 2026 00:00:00 +0000"]
    assert sum(bool(_RFC822_DATE.match(d)) for d in dates) > 5000  # the shortcut is really taken
    for d in dates:
        assert _parse_date_fast(d) == _parse_date(d), d


def test_element_keys_are_cached_only_where_the_document_cannot_change_them() -> None:
    """An unknown namespace takes the document's own prefix (feedparser's rule): two documents that
    bind it to different prefixes get different keys, however the cache was filled."""
    from lxml import etree

    from monitor.fastfeed import _key

    a = etree.fromstring(b'<r xmlns:aa="urn:x-unknown"><aa:thing/></r>')[0]
    b = etree.fromstring(b'<r xmlns:bb="urn:x-unknown"><bb:thing/></r>')[0]
    assert (_key(a), _key(b), _key(a)) == ("aa_thing", "bb_thing", "aa_thing")
    dc = etree.fromstring(b'<r xmlns:x="http://purl.org/dc/elements/1.1/"><x:creator/></r>')[0]
    assert _key(dc) == _key(dc) == "dc_creator"  # a known namespace: feedparser's canonical prefix


REPAIR_CASES = ["plain ascii", "快手可灵AI宣布完成新一轮融资", "caf\u00e9", "UTF-8 read as Latin-1: caf\u00c3\u00a9",
                "a C1 code: \x93quoted\x94 \x80", "\x9f", "mixed 快手 \x85 end", "\u00c3\u0082 not utf-8 \x99"]


@pytest.mark.parametrize("text", REPAIR_CASES)
def test_repair_skips_the_translation_only_where_it_changes_nothing(text: str) -> None:
    """_repair translates only text holding a C1 code; its definition translates every value."""
    from feedparser.html import _cp1252

    from monitor.fastfeed import _C1_CODE, _repair

    assert all(_C1_CODE.fullmatch(chr(code)) for code in _cp1252)  # every key of the table is a C1 code
    try:
        decoded = text.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        decoded = text
    assert _repair(text) == (text if text.isascii() else decoded.translate(_cp1252))


_DECLARATIONS = [
    b'<?xml version="1.0" encoding="UTF-8"?>\n', b"<?xml version='1.0' encoding='utf-8'?>\n",
    b'<?xml version="1.0" encoding="utf8"?>\n', b'<?xml version="1.0"?>\n', b"",
    b'<?xml version="1.0" encoding="ISO-8859-1"?>\n', b'<?xml version="1.0" encoding="gb2312"?>\n',
    b'<?xml version="1.1" encoding="UTF-8"?>\n', b'  <?xml version="1.0" encoding="UTF-8"?>\n',
    b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>\n',
]
_CHARSET_HEADERS = [
    {}, {"content-type": "application/rss+xml"}, {"content-type": "application/rss+xml; charset=UTF-8"},
    {"content-type": "application/xml; charset=\"utf8\""}, {"content-type": "application/atom+xml; charset=latin-1"},
    {"content-type": "text/xml"}, {"content-type": "text/xml; charset=utf-8"}, {"content-type": "text/html; charset=utf-8"},
    {"content-type": "text/plain"}, {"content-type": "application/octet-stream"}, {"content-type": "Application/RSS+XML"},
    {"content-location": "https://a.example/f.xml"},
]


# Bytes Python's UTF-8 codec refuses (a lone byte, a surrogate, an overlong form, beyond U+10FFFF,
# a five-byte form, Latin-1): lxml must refuse them too, or read_feed would accept what feedparser
# reads as another encoding.
_NOT_UTF8 = [b"\x80", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"caf\xe9"]


@pytest.mark.parametrize("declaration", _DECLARATIONS)
@pytest.mark.parametrize("item", [b"plain", "caf\u00e9 \u53ef\u7075".encode(), *_NOT_UTF8])
def test_reading_utf8_as_declared_agrees_with_convert_to_utf8(declaration: bytes, item: bytes) -> None:
    """read_feed skips feedparser's transcoding when the headers and the declaration leave UTF-8 as its
    choice: the encoding and bozo exception must be convert_to_utf8's, and lxml must read the body as
    it reads convert_to_utf8's output; a body that is not UTF-8 must fail lxml, so the general path runs."""
    from feedparser.encodings import convert_to_utf8
    from lxml import etree

    from monitor.fastfeed import _PARSER, _declared_utf8

    body = declaration + b'<rss version="2.0"><channel><item><title>' + item + b"</title></item></channel></rss>"
    for headers in _CHARSET_HEADERS:
        declared = _declared_utf8(body, headers)
        if declared is None:
            continue
        if item in _NOT_UTF8:
            with pytest.raises(etree.XMLSyntaxError):
                etree.fromstring(body, _PARSER)
            continue
        info: dict[str, object] = {}
        data = convert_to_utf8(headers, body, info)
        encoding, problem = declared
        assert info["encoding"] == encoding, headers
        assert type(info.get("bozo_exception")) is type(problem), headers
        assert str(info.get("bozo_exception")) == str(problem), headers
        assert etree.tostring(etree.fromstring(data, _PARSER)) == etree.tostring(etree.fromstring(body, _PARSER)), headers


def test_reading_utf8_as_declared_covers_the_usual_feed() -> None:
    from monitor.fastfeed import _declared_utf8

    body = b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel></channel></rss>'
    assert _declared_utf8(body, {"content-type": "application/rss+xml; charset=UTF-8"}) == ("UTF-8", None)
    assert _declared_utf8(body[39:], {"content-type": "application/rss+xml"}) == ("utf-8", None)
    assert _declared_utf8(body, {"content-type": "text/xml"}) is None  # us-ascii to feedparser
    assert _declared_utf8(b"\xef\xbb\xbf" + body, {}) is None  # a byte order mark: feedparser's path
