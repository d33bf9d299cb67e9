"""Normalize stage: canonical URLs, HTML to text, dates, entry records."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta, timezone

import pytest
from shared import shared_path

from monitor import normalize
from monitor.models import ParsedFeed
from monitor.normalize import TRACKING_PARAMS, canonical_url, html_to_text, normalize_entries
from monitor.parse import parse_feed

FETCHED = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def entries_of(xml: str, **kw: object) -> list:  # type: ignore[type-arg]
    parsed = parse_feed(xml.encode("utf-8"))
    return normalize_entries(parsed, feed="t", language=kw.get("language", "en"), fetched_at=FETCHED)  # type: ignore[arg-type]


# ------------------------------------------------------------------ canonical_url


def test_tracking_variants_collapse_to_one_url() -> None:
    variants = [
        "https://www.Example.com/news/kling-ai?id=7&utm_source=twitter&utm_medium=social#comments",
        "HTTPS://WWW.EXAMPLE.COM:443/news/kling-ai?fbclid=IwAR0abc&id=7",
        "https://www.example.com/news/kling-ai?id=7&gclid=xyz&mc_cid=1&mc_eid=2&spm=a2c.1",
    ]
    assert {canonical_url(u) for u in variants} == {"https://www.example.com/news/kling-ai?id=7"}


def test_other_params_keep_their_order_and_spelling() -> None:
    url = "http://example.com/a?b=2&utm_campaign=x&a=1&q=%E5%BF%AB%E6%89%8B&empty="
    assert canonical_url(url) == "http://example.com/a?b=2&a=1&q=%E5%BF%AB%E6%89%8B&empty="


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com", "http://example.com/"),
        ("http://example.com:80/x?", "http://example.com/x"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com/x?utm_source=a", "https://example.com/x"),
        ("  https://example.com/x#top  ", "https://example.com/x"),
        ("https://example.com/x?a=1&amp;utm_source=rss&amp;b=2", "https://example.com/x?a=1&b=2"),
        ("tag:example.com,2006:/blog/1", "tag:example.com,2006:/blog/1"),
        ("https://news.google.com/rss/articles/CBMi123?oc=5", "https://news.google.com/rss/articles/CBMi123"),
        ("https://example.com/x?oc=5", "https://example.com/x?oc=5"),
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("", ""),
    ],
)
def test_canonical_url_cases(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # idempotent


def test_google_and_bing_redirects_resolve_to_the_article() -> None:
    article = "https://www.reuters.com/technology/kuaishou-kling-2025-05-01/"
    google = (
        "https://www.google.com/url?rct=j&sa=t&url=https://www.reuters.com/technology/"
        "kuaishou-kling-2025-05-01/%3Futm_source%3Dgoogle&ct=ga&cd=CAIy&usg=AFQj"
    )
    google_q = "https://www.google.co.uk/url?q=https%3A%2F%2Fwww.reuters.com%2Ftechnology%2Fkuaishou-kling-2025-05-01%2F&sa=U"
    bing = (
        "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=abc&url="
        "https%3a%2f%2fwww.reuters.com%2ftechnology%2fkuaishou-kling-2025-05-01%2f&c=123&mkt=en-us"
    )
    for wrapped in (google, google_q, bing):
        assert canonical_url(wrapped) == article
    assert canonical_url("https://www.google.com/search?q=kling") == "https://www.google.com/search?q=kling"


def test_tracking_set_has_the_usual_suspects() -> None:
    for p in (
        "utm_source",
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "spm",
        "ref",
        "igshid",
        "yclid",
    ):
        assert p in TRACKING_PARAMS


# ------------------------------------------------------------------ html_to_text


def test_html_to_text_drops_scripts_styles_and_decodes_entities() -> None:
    html = (
        "<div><style>p{color:red}</style><script>alert('x')</script><noscript>enable js</noscript>"
        "<p>Kling&nbsp;AI &amp; Kuaishou&#8217;s <b>video</b> model</p><p>Second&#x20;para</p></div>"
    )
    assert html_to_text(html) == "Kling AI & Kuaishou\u2019s video model Second para"  # nbsp folds too


def test_html_to_text_keeps_inline_words_together_and_splits_blocks() -> None:
    assert html_to_text("Kl<b>ing</b> <i>AI</i><br>next<li>item</li>") == "Kling AI next item"


def test_plain_text_is_only_folded_and_unescaped() -> None:
    assert html_to_text("  a \n\t b  ") == "a b"
    assert html_to_text("AT&amp;T 3 &lt; 5") == "AT&T 3 < 5"
    assert html_to_text("3 < 5 and 7 > 6") == "3 < 5 and 7 > 6"
    assert html_to_text("") == ""


# ------------------------------------------------------------------ entries

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title><language>en-US</language>
<item><title>Kling &lt;b&gt;2.0&lt;/b&gt; launches</title>
  <link>https://example.com/kling-2?utm_source=rss</link><guid isPermaLink="false">k-2</guid>
  <pubDate>Tue, 03 Jun 2025 09:30:00 +0800</pubDate><dc:creator>Jane Doe</dc:creator>
  <description>Short teaser</description>
  <content:encoded><![CDATA[<p>Kuaishou's <b>Kling</b> 2.0 launched today.</p><script>x()</script><p>It is faster.</p>]]></content:encoded>
</item>
<item><title>No date here</title><link>https://example.com/nodate</link></item>
<item><guid>https://example.com/from-guid</guid><title>Guid only</title></item>
<item><description>nothing to identify this item</description></item>
<item><title>Only a title</title></item>
</channel></rss>"""


def test_entries_fields() -> None:
    es = entries_of(RSS)
    e = es[0]
    assert e.url == "https://example.com/kling-2" and e.link == "https://example.com/kling-2?utm_source=rss"
    assert e.guid == "k-2" and e.title == "Kling 2.0 launches" and e.author == "Jane Doe"
    assert e.summary == "Kuaishou's Kling 2.0 launched today. It is faster."  # the richer content wins
    assert e.published == datetime(2025, 6, 3, 1, 30, tzinfo=UTC) and not e.published_from_fetch
    assert e.published.tzinfo is not None and e.published.utcoffset() == timedelta(0)
    assert e.language == "en-us" and e.feed == "t"


def test_missing_date_uses_fetch_time_and_says_so() -> None:
    es = entries_of(RSS)
    nodate = next(e for e in es if e.title == "No date here")
    assert nodate.published == FETCHED and nodate.published_from_fetch and nodate.updated is None


def test_link_falls_back_to_url_guid_and_anonymous_items_are_dropped() -> None:
    es = entries_of(RSS)
    titles = [e.title for e in es]
    assert "Guid only" in titles and "Only a title" in titles
    g = next(e for e in es if e.title == "Guid only")
    assert g.url == "https://example.com/from-guid" and g.guid == "https://example.com/from-guid"
    t = next(e for e in es if e.title == "Only a title")
    assert t.url.startswith("urn:sha1:") and t.guid is None and t.link is None
    # the description-only item has no link, guid or title: dropped despite its summary
    assert len(es) == 4 and not any("nothing to identify" in e.summary for e in es)


def test_entry_without_link_guid_or_title_is_dropped() -> None:
    parsed = ParsedFeed(entries=({"summary": ""}, {"title": ""}, {"title": "kept"}))
    es = normalize_entries(parsed, feed="f", language=None, fetched_at=FETCHED)
    assert [e.title for e in es] == ["kept"]


def test_atom_updated_only_and_timezone_conversion() -> None:
    atom = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN"><title>t</title><id>urn:x</id>
<updated>2025-01-01T00:00:00Z</updated>
<entry><title type="html">可灵 &amp;lt;新版&amp;gt;</title><id>urn:e1</id><link href="https://example.cn/a"/>
<updated>2025-05-05T08:00:00+08:00</updated><summary type="text">plain &lt;text&gt;</summary></entry>
</feed>"""
    (e,) = entries_of(atom, language="en")
    assert e.published == datetime(2025, 5, 5, 0, 0, tzinfo=UTC) == e.updated
    assert not e.published_from_fetch and e.language == "zh-cn"
    assert e.title == "可灵 <新版>" and e.summary == "plain <text>"


def test_far_future_date_is_not_trusted() -> None:
    rss = RSS.replace("Tue, 03 Jun 2025", "Tue, 03 Jun 2031")
    e = entries_of(rss)[0]
    assert e.published == FETCHED and e.published_from_fetch


def test_configured_language_is_last_resort_and_naive_fetch_time_is_utc() -> None:
    parsed = ParsedFeed(entries=({"title": "x", "link": "http://a.example/x"},))
    (e,) = normalize_entries(parsed, feed="f", language="zh", fetched_at=datetime(2025, 1, 1, 8, 0))
    assert e.language == "zh" and e.published == datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
    other_tz = datetime(2025, 1, 1, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    (e2,) = normalize_entries(parsed, feed="f", language=None, fetched_at=other_tz)
    assert e2.published == datetime(2025, 1, 1, 8, 0, tzinfo=UTC) and e2.language is None


def test_summary_is_capped() -> None:
    big = "<p>" + "word " * 10_000 + "</p>"
    parsed = ParsedFeed(entries=({"title": "x", "link": "http://a.example/x", "summary": big},))
    (e,) = normalize_entries(parsed, feed="f", language=None, fetched_at=FETCHED)
    assert len(e.summary) <= 20_000


def test_normalize_many_items() -> None:
    items = "".join(
        f"<item><title>Kling item {i} &amp; more</title><link>https://example.com/{i}?utm_source=x</link>"
        f"<guid>g{i}</guid><pubDate>Tue, 03 Jun 2025 09:30:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Some &lt;b&gt;html&lt;/b&gt; summary {i}&lt;/p&gt;</description></item>"
        for i in range(1000)
    )
    parsed = parse_feed(f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode())
    es = normalize_entries(parsed, feed="f", language=None, fetched_at=FETCHED)
    assert len(es) == 1000 and es[0].summary == "Some html summary 0"  # speed: bench/bench_poll.py


# ------------------------------------------------------------ simple markup without a parser

CORPUS = shared_path("corpus")

SIMPLE_FRAGMENTS = [
    "<p>Kling <b>2.0</b> &amp; more</p><p>second</p>",
    "<P CLASS=lead>Upper <EM>case</EM></P>",
    '<a href="https://x.example/?a=1&amp;b=2" title="a > b">link text</a> after',
    "<a href=http://x.example/>unquoted</a>",
    "x &notit; &copy 2026 &#150; &#x2014; &#0; &#xD800; &nbsp;nbsp &amp;amp;",
    "<br/>self<br />closing<img src='i.png' alt='hidden'/>",
    "<a>one<a>two</a>three</a>",
    "<div/>not void<span>span</span>",
    "a < b and c > d <3 <> x",
    "<pre>\n  keep\n</pre><ul><li>a<li>b</ul>",
    "<font color=red>red</font><center>c</center>",
    "<p data-x='1' data-y=\"2\" hidden>attrs</p>",
    "AT&T R&D &unknown; &",
]
NOT_SIMPLE_FRAGMENTS = [
    "<p>a<!-- comment -->b</p>",
    "<script>alert(1)</script>text",
    "<style>p{}</style>text",
    "<table>stray<tr><td>cell</td></tr></table>",
    "<table><tr><td>cell</td></tr>stray</table>",
    "<textarea><b>raw</b></textarea>",
    "<title>head</title>body",
    "a </ x> b",
    "a <b c",
    "<p onclick='x>y' class=\"a'b\">q</p>",
    "<svg><text>t</text></svg>",
    "nul\x00byte <b>x</b>",
    "<?php echo 1 ?>text",
    "<![CDATA[x]]>y",
    "<a b'c>text</a>",
]




def _simple_markup_text(marked: str) -> str | None:
    """The two-pass definition of normalize._simple_text, on block-marked markup: the tags cut out
    (None unless every one is simple) and entities decoded."""
    if "\x00" in marked:
        return None
    for name in normalize._SIMPLE_TAG_RE.findall(marked):
        if name.lower() not in normalize._SIMPLE_TAGS:
            return None
    text = normalize._SIMPLE_TAG_RE.sub("", marked)
    if "<" in text and normalize._TAG_HINT_RE.search(text):
        return None  # a '<' that starts something the pattern did not take as a simple tag
    if "&" in text:
        text = html.unescape(text)
    return text


@pytest.mark.parametrize("fragment", SIMPLE_FRAGMENTS)
def test_simple_markup_text_equals_the_parsers(fragment: str) -> None:
    marked = normalize._BLOCK_RE.sub(" <", fragment)
    fast = normalize._simple_text(fragment)
    assert fast is not None
    assert normalize._fold(fast) == normalize._fold(normalize._parsed_text(marked))


@pytest.mark.parametrize("fragment", NOT_SIMPLE_FRAGMENTS)
def test_markup_a_parser_would_reinterpret_is_parsed(fragment: str) -> None:
    marked = normalize._BLOCK_RE.sub(" <", fragment)
    if normalize._simple_text(fragment) is not None:  # accepted: then it must agree with lexbor
        assert normalize._fold(normalize._simple_text(fragment) or "") == normalize._fold(
            normalize._parsed_text(marked)
        )
    assert html_to_text(fragment) == normalize._fold(normalize._parsed_text(marked))


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feed corpus not found at {CORPUS}")
def test_simple_markup_path_equals_the_parser_over_the_corpus() -> None:
    fragments: list[str] = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md"):
        for e in parse_feed(path.read_bytes(), {}, fast=False).entries:
            fragments += [v for k in ("title", "summary") if isinstance(v := e.get(k), str)]
            fragments += [c["value"] for c in e.get("content") or () if isinstance(c.get("value"), str)]
    simple = 0
    for fragment in fragments:
        marked = normalize._BLOCK_RE.sub(" <", fragment)
        fast = normalize._simple_text(fragment)
        if fast is None or not normalize._TAG_HINT_RE.search(fragment):
            continue
        simple += 1
        assert normalize._fold(fast) == normalize._fold(normalize._parsed_text(marked)), fragment[:200]
    assert simple >= 1000  # most real summaries take the simple path


def _rss_item(inner: str) -> str:
    return f'<rss version="2.0"><channel><title>t</title><item>{inner}</item></channel></rss>'


@pytest.mark.parametrize(("item", "url", "link"), [
    ("<title>a</title><link>javascript:alert(document.cookie)</link>", None, None),
    ("<title>a</title><link> JavaScript:alert(1)</link>", None, None),
    ("<title>a</title><link>javascript://example.com/%0Aalert(1)</link>", None, None),
    ("<title>a</title><link>data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;</link>", None, None),
    ("<title>a</title><link>file:///etc/passwd</link>", None, None),
    ("<title>a</title><link>javascript:alert(1)</link><guid>https://e.com/real</guid>",
     "https://e.com/real", "https://e.com/real"),
    ('<title>a</title><link>javascript:alert(1)</link><guid isPermaLink="false">tag:e.com,2026:7</guid>',
     "tag:e.com,2026:7", None),
    ('<title>a</title><guid isPermaLink="false">javascript://e.com/%0Aalert(1)</guid>', None, None),
    ("<title>a</title><link>https://e.com/ok</link>", "https://e.com/ok", "https://e.com/ok"),
])
def test_only_http_links_become_an_entry_url(item: str, url: str | None, link: str | None) -> None:
    (e,) = entries_of(_rss_item(item))
    assert e.link == link
    if url is None:
        assert e.url.startswith("urn:sha1:")  # an identity, nothing a reader could follow
    else:
        assert e.url == url
    assert "javascript" not in e.url.lower() and not e.url.startswith(("data:", "file:"))


@pytest.mark.parametrize("nul", ["\x00", "&#0;", "&#x0;"])
def test_nul_bytes_are_removed_not_an_end_of_text(nul: str) -> None:
    raw = _rss_item(f"<title>Kling{nul} AI title</title><link>https://e.com/a</link>"
                    f"<description>Kling AI raised{nul} $2 billion; the rest stays.</description>")
    for fast in (True, False):
        parsed = parse_feed(raw.encode("utf-8"), fast=fast)
        (e,) = normalize_entries(parsed, feed="t", language="en", fetched_at=FETCHED)
        assert (e.title, e.summary) == ("Kling AI title", "Kling AI raised $2 billion; the rest stays.")
    assert html_to_text("<p>before\x00</p><p>after</p>") == html_to_text("before\x00 after") == "before after"


FOLD_CASES = [
    "", "  a  b  ", "a\x00b", "a \x00 b", "a\tb\nc\r\nd", "x\x1cy\x1fz", "ctl\x07 \x7f end", "\u200bzero width",
    "nbsp\xa0here", "ideographic\u3000space", "\x0b\x0c", "a\x1b[31mred", "中文 \x08 文字", "\x00", "tab\t\x00\tnul",
    " \xa0\n\t\r ", "a \xa0 b", "a\xa0\x00b", "line\u2028sep\u2029par", "nel\x85x", "a    b     c", "“quoted” … x  ",
]


@pytest.mark.parametrize("text", FOLD_CASES)
def test_fold_equals_its_definition(text: str) -> None:
    """_fold takes a shortcut for printable text; the result is the definition's: controls removed, then folded."""
    assert normalize._fold(text) == " ".join(normalize._CONTROL_RE.sub("", text).split())


def test_fold_equals_its_definition_on_random_text() -> None:
    """Every white space and control character, in runs, beside letters, CJK and punctuation."""
    import random
    import sys

    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    alphabet = spaces + [chr(c) for c in range(0x20)] + ["\x7f", "\u200b", "a", "Z", "中", "“", "…", "é", "&", "."]
    rng = random.Random(14)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) * rng.choice((1, 1, 2, 3, 7)) for _ in range(rng.randrange(12)))
        assert normalize._fold(text) == " ".join(normalize._CONTROL_RE.sub("", text).split()), repr(text)


IDENTITY_CASES = [
    "https://example.com/a", "http://www.example.com/a?b=1&c=2", "HTTP://WWW.Example.COM", "http://x.com?q=1",
    "http://x.com/a?", "http://x.com/a?b?", "http://x.com/a?b?c", "https://www./p", "http://x.com./p",
    "http://user@x.com/p", "http://x.com:8080/p", "http://x.com:443/p", "http://[::1]/p", "http:///p",
    "https://x.com/a b", "https://x.com/a\tb", " https://x.com/a", "https://x.com/a#frag", "https://x.com/ä",
    "https://x.com/a\\b", "https://x.com/a:b;c=d", "ftp://x.com/a", "urn:sha1:abc", "tag:x.com,2026:1",
    "https://x.com/%7Euser/[1]", "http://www.www.x.com/", "https://-x-.com/~a{b}|c^d`e",
    "https://www.//0", "http://www.?q", "http://x.com/<b>", 'http://x.com/"q"', "https:x.com/a", "https://x.com//a//b", "http://WWW.x.com/P?Q=R",
]


@pytest.mark.parametrize("url", IDENTITY_CASES)
def test_url_identity_fast_path_equals_urllib(url: str) -> None:
    assert normalize.url_identity(url) == normalize._url_identity(url)


def test_url_identity_fast_path_is_taken_for_plain_urls() -> None:
    assert normalize._PLAIN_HTTP_URL.match("https://www.example.com/news/2026/kling?id=1&utm=x")


def _two_pass(html: str) -> str | None:
    text = _simple_markup_text(normalize._BLOCK_RE.sub(" <", html))
    return None if text is None else normalize._fold(text)


ONE_PASS_EXTRA = ["<p<p>", "<a title='<p>'>x</a>y", "<a b=<p>", "a<P>b<BR/>c", "<picture>x</picture><pre>y</pre>",
                  "<p-x>z</p-x>", "&lt;p&gt;b", "<h1>T</h1><h7>u</h7>", "x<br>y<hr/>z", "<title>t</title>"]


@pytest.mark.parametrize("html", [*SIMPLE_FRAGMENTS, *NOT_SIMPLE_FRAGMENTS, *ONE_PASS_EXTRA])
def test_one_pass_simple_text_equals_the_two_pass_definition(html: str) -> None:
    one = normalize._simple_text(html)
    assert (None if one is None else normalize._fold(one)) == _two_pass(html)


def test_one_pass_simple_text_equals_the_two_pass_definition_over_real_feeds() -> None:
    from lxml import etree

    corpus = shared_path("corpus")
    if not corpus.is_dir():
        pytest.skip(f"feed corpus not found at {corpus}")
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    seen = simple = 0
    for path in sorted(corpus.rglob("*.xml")):
        try:
            root = etree.fromstring(path.read_bytes(), parser)
        except (etree.XMLSyntaxError, ValueError):
            continue
        for el in [] if root is None else root.iter():
            if isinstance(el.tag, str) and el.text and "<" in el.text:
                one = normalize._simple_text(el.text)
                assert (None if one is None else normalize._fold(one)) == _two_pass(el.text), path.name
                seen += 1
                simple += one is not None
    assert seen > 50 and simple > 10


@pytest.mark.parametrize("url", [*IDENTITY_CASES, "http://", "https://.", "http://-", "http://a b", "HTTPS://X"])
def test_is_url_fast_path_equals_urlsplit(url: str) -> None:
    from urllib.parse import urlsplit

    try:
        expected = url[:8].lower().startswith(("http://", "https://")) and bool(urlsplit(url).hostname)
    except ValueError:
        expected = False
    assert normalize._is_url(url) == expected


@pytest.mark.parametrize("url", [*IDENTITY_CASES, "http://x.com?a=1?b=2", "https://x.com/p?&&a=1&", "http://X.COM.:80",
                                 "https://news.google.com/rss/articles/CBMi?oc=5&hl=en", "http://x.com/?", "HtTpS://x.com"])
def test_split_fast_path_equals_urlsplit(url: str) -> None:
    """canonical_url splits a plain URL without urllib: the same parts, fragment aside."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        expected: tuple[str, str, str, str] | None = (parts.scheme, parts.netloc, parts.path, parts.query)
    except ValueError:
        expected = None
    got = normalize._split(url.strip())
    assert (got[0].lower(), *got[1:]) == expected if got is not None else expected is None


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feed corpus not found at {CORPUS}")
def test_split_fast_path_equals_urlsplit_over_the_corpus_links() -> None:
    from urllib.parse import urlsplit

    links = set()
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md"):
        for e in parse_feed(path.read_bytes()).entries:
            links.update(v.strip() for v in (e.get("link"), e.get("id")) if isinstance(v, str))
    plain = [u for u in links if normalize._PLAIN_HTTP_URL.match(u)]
    assert len(plain) > 100  # the fast path is what real links take
    for url in plain:
        parts = urlsplit(url)
        got = normalize._split(url)
        assert got is not None and (got[0].lower(), *got[1:]) == (parts.scheme, parts.netloc, parts.path, parts.query)
