"""Normalize stage: canonical URLs, HTML to text, and feedparser entries to Entry records.

This sits on the hot path (target: the whole parse -> normalize -> store path at >= 1,500 entries/s
on one core), so it reads feedparser's dicts with plain ``dict.get`` (FeedParserDict's own lookup
is slow Python), parses HTML once with lexbor (selectolax) and skips parsing for plain text.
BeautifulSoup is only a fallback for input the fast parser rejects.
"""

from __future__ import annotations

import calendar
import hashlib
import html as htmlmod
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from monitor.models import Entry, ParsedFeed

# ------------------------------------------------------------------ URLs

# fmt: off
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        # Google / generic campaign tagging (any utm_* is dropped too, see _TRACKING_PREFIXES)
        "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
        "utm_name", "utm_reader", "utm_referrer", "utm_social", "utm_social-type", "utm_brand",
        "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "_ga", "_gl", "_hsenc", "_hsmi",
        "__hstc", "__hssc", "__hsfp", "hsctatracking",
        # ad and social click ids
        "fbclid", "msclkid", "yclid", "ysclid", "igshid", "igsh", "twclid", "ttclid", "li_fat_id",
        "epik", "srsltid", "s_cid", "s_kwcid", "cvid", "ocid", "ncid", "cmpid", "icid",
        "mbid", "smid", "smtyp", "sr_share", "sharetype",
        # mailing lists
        "mc_cid", "mc_eid", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv",
        "rb_clickid", "soc_src", "soc_trk", "wt_mc", "wt.mc_id", "wt_zmc", "cid_source",
        # referrers and site tracking
        "ref", "ref_src", "ref_url", "referrer", "feature", "at_medium",
        "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4", "at_format",
        "at_link_id", "at_link_type", "at_link_origin", "at_ptr_name", "at_bbc_team",
        "xtor", "ito", "trk", "trkcampaign", "tracking_source", "campaign_id", "ad_id",
        "spm", "scm", "isappinstalled", "share_token", "share_medium", "share_source",
        "sc_channel", "sc_campaign", "sc_content", "sc_medium", "sc_outcome", "sc_geo",
        "sc_country", "guccounter", "guce_referrer", "guce_referrer_sig", "rss_id",
        "cmpgn", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname",
        "ns_fee", "__twitter_impression", "_unique_id",
    }
)
# fmt: on
_TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "at_", "pk_", "mtm_", "hsa_", "stm_", "__hs", "oly_", "ga_")

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_MAX_URL_DEPTH = 3


def _is_tracking(key: str) -> bool:
    k = (unquote(key) if "%" in key else key).lower()
    return k in TRACKING_PARAMS or k.startswith(_TRACKING_PREFIXES)


def _query_get(query: str, *names: str) -> str | None:
    """First value of any of `names` in a raw query string, percent-decoded."""
    for piece in query.split("&"):
        key, sep, value = piece.partition("=")
        if sep and key in names and value:
            return unquote(value.replace("+", " ")).strip()
    return None


def _unwrap_redirect(host: str, path: str, query: str) -> str | None:
    """Article URL inside a news-search redirect link (Google, Bing, Facebook), else None."""
    target: str | None = None
    if (host.startswith("google.") or ".google." in host) and path in ("/url", "/news/url", "/link"):
        target = _query_get(query, "url", "q", "u", "adurl")
    elif host.endswith("bing.com") and path.lower() in ("/news/apiclick.aspx", "/ck/a", "/aclick"):
        target = _query_get(query, "url", "u")
    elif host in ("l.facebook.com", "lm.facebook.com", "l.messenger.com") and path == "/l.php":
        target = _query_get(query, "u")
    elif host == "out.reddit.com" or (host.endswith("yandex.ru") and path.startswith("/clck")):
        target = _query_get(query, "url")
    if target and target.lower().startswith(("http://", "https://")):
        return target
    return None


def canonical_url(url: str) -> str:
    """The one spelling of a link used as its identity: stable across tracking variants.

    Lower-cases scheme and host, drops a default port, the fragment, tracking parameters (keeping
    the others in their original order and spelling) and an empty '?', and unwraps Google/Bing
    news-search redirect links to the article itself. Idempotent. Non-HTTP strings are returned
    trimmed but otherwise untouched.
    """
    return _canonical(url, 0)


def _split(url: str) -> tuple[str, str, str, str] | None:
    """(scheme, netloc, path, query) as urlsplit gives them (the fragment is dropped), or None when
    urlsplit refuses the URL. A plain http(s) URL (the usual one) is split without urllib, ~5 us
    less an entry; tests/test_normalize.py holds the two equal."""
    m = _PLAIN_HTTP_URL.match(url)
    if m is not None:
        path, _, query = m.group(3).partition("?")
        return m.group(1), m.group(2), path, query
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.scheme, parts.netloc, parts.path, parts.query


def _canonical(url: str, depth: int) -> str:
    url = url.strip()
    if not url:
        return url
    split = _split(url)
    if split is None:
        return url
    scheme, netloc, path, query = split
    scheme = scheme.lower()
    if scheme not in ("http", "https") or not netloc:
        return url
    userinfo, at, hostport = netloc.rpartition("@")
    host, port = hostport, ""
    if hostport.startswith("["):  # IPv6 literal
        end = hostport.find("]")
        host, port = hostport[: end + 1], hostport[end + 2 :] if end >= 0 else ""
    elif ":" in hostport:
        host, _, port = hostport.rpartition(":")
    host = host.lower().rstrip(".")
    if port == _DEFAULT_PORTS[scheme] or port == "":
        port = ""
    if "&amp;" in query:  # an escaped '&' that a feed double-encoded
        query = query.replace("&amp;", "&")
    if depth < _MAX_URL_DEPTH:
        target = _unwrap_redirect(host, path, query)
        if target:
            return _canonical(target, depth + 1)
    if query:
        drop_oc = host == "news.google.com"  # ?oc=5 on article links: the same story in every feed
        kept = [
            p
            for p in query.split("&")
            if p and not _is_tracking(p.partition("=")[0]) and not (drop_oc and p.partition("=")[0] == "oc")
        ]
        query = "&".join(kept)
    path = path or "/"
    netloc = (userinfo + at if at else "") + host + (":" + port if port else "")
    return urlunsplit((scheme, netloc, path, query, ""))


# ------------------------------------------------------------------ HTML -> text

_TAG_HINT_RE = re.compile(r"<[A-Za-z!/?]")
_ENTITY_HINT_RE = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});?")
# A space before block-level tags, so "<p>a</p><p>b</p>" reads "a b" while "Kl<b>ing</b>" stays "Kling".
_BLOCK_TAGS = frozenset(
    """p div br li ul ol h1 h2 h3 h4 h5 h6 tr td th table blockquote section article header footer aside nav
    figure figcaption pre hr dd dt dl img title option""".split()
)
_BLOCK_RE = re.compile(r"<(?=/?(?:" + "|".join(sorted(_BLOCK_TAGS)) + r")\b)", re.IGNORECASE)
_DROP_TAGS = ["script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "head"]


# NUL and the other control characters that are not white space: removed, never an end of text
# (SQLite's substr() and length() stop at a NUL, C libraries too).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")


# The white space a feed's text usually holds besides ' ' (&nbsp; is the common one): turned into
# ' ' first, so such text can take the fast path.
_COMMON_SPACES = ("\xa0", "\n", "\t", "\r")
_SPACE_RUN_RE = re.compile("  +")


def _fold(text: str) -> str:
    """White space runs to one space, ends trimmed, control characters removed.

    Definition: " ".join(text.split()) after removing the controls (str.split() uses the same white
    space as the regex \\s). Splitting a 2 KB summary into its words cost as much as cutting its
    tags out; text whose only white space is ' ' (printable text: every other white space
    character is not) has just its runs of spaces squeezed, without making a string per word.
    """
    for space in _COMMON_SPACES:
        if space in text:
            text = text.replace(space, " ")
    if text.isprintable():
        if "  " in text:
            text = _SPACE_RUN_RE.sub(" ", text)
        return text.strip(" ")
    folded = " ".join(text.split())
    if folded.isprintable():  # C-fast, and false for every control character: the usual case ends here
        return folded
    if _CONTROL_RE.search(folded):  # removed before folding, so "a \x00 b" reads "a b"
        return " ".join(_CONTROL_RE.sub("", text).split())
    return folded


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment on one line: scripts/styles dropped, entities decoded.

    Plain text (no tag) is only unescaped and folded, without a parse. Simple markup (known
    inline and block tags, nothing the HTML parser would move, hide or re-interpret) has its tags
    cut out; anything else is parsed with lexbor.
    """
    if not html:
        return ""
    if not _TAG_HINT_RE.search(html):
        if "&" in html and _ENTITY_HINT_RE.search(html):
            html = htmlmod.unescape(html)
        return _fold(html)
    text = _simple_text(html)
    return _fold(text if text is not None else _parsed_text(_BLOCK_RE.sub(" <", html)))


def _parsed_text(marked: str) -> str:
    """The text of the HTML as a browser builds it (lexbor), without scripts, styles and the like."""
    try:
        from selectolax.lexbor import LexborHTMLParser

        tree = LexborHTMLParser(marked)
        tree.strip_tags(_DROP_TAGS)
        root = tree.body if tree.body is not None else tree.root
        return root.text(deep=True, separator="") if root is not None else ""
    except Exception:  # the fast parser choked: fall back to the forgiving one
        return _bs4_text(marked)


# Tags whose removal leaves exactly the text an HTML5 parser would keep: no raw-text elements
# (script, style, textarea, title), nothing hidden (template, noscript, head), no tables (the
# parser moves stray text out of them), no forms, SVG or MathML.
_SIMPLE_TAGS = frozenset(
    """a abbr address article aside audio b bdi bdo big blockquote br center cite code data dd del
    details dfn div dl dt em figcaption figure font footer h1 h2 h3 h4 h5 h6 header hgroup hr i img ins
    kbd li main mark nav ol p picture pre q rp rt ruby s samp section small source span strike strong
    sub summary sup time track tt u ul var video wbr""".split()
)
_SIMPLE_TAG_RE = re.compile(
    r"</?([A-Za-z][A-Za-z0-9]*)(?:\s+[A-Za-z_:][-\w:.]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*\s*/?>"
)
# A lexbor document costs ~20 us to set up whatever its size: most of normalize's time on small
# feed summaries; tests/test_normalize.py holds this path to lexbor's text over the feed corpus.


def _simple_text(html: str) -> str | None:
    """The text of simple markup with its tags cut out (a block tag to a space, an inline one to
    nothing) and entities decoded, or None when the markup is not simple. One regex pass (split,
    which hands back each tag's name between the texts): the block-marking pass, findall and sub
    that tests/test_normalize.py keeps as its definition, and then a sub calling back for every
    tag, were most of the cost of turning a 2.4 KB description into text."""
    if "\x00" in html:
        return None
    parts = _SIMPLE_TAG_RE.split(html)  # text, tag name, text, tag name, ..., text
    names = list(map(str.lower, parts[1::2]))
    if not _SIMPLE_TAGS.issuperset(names):
        return None
    parts[1::2] = [" " if name in _BLOCK_TAGS else "" for name in names]
    text = "".join(parts)
    if "<" in text and _TAG_HINT_RE.search(text):
        return None
    if "&" in text:
        text = htmlmod.unescape(text)
    return text


def _bs4_text(html: str) -> str:
    try:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(html, "html.parser")
        for tag in soup(_DROP_TAGS):
            tag.decompose()
        return soup.get_text("")
    except Exception:
        return re.sub(r"<[^>]*>", " ", html)


# ------------------------------------------------------------------ entries

SUMMARY_MAX_CHARS = 20_000
_HTML_INPUT_MAX = 200_000  # raw markup parsed per field; bounds the work on giant content:encoded
_TITLE_FROM_SUMMARY = 140
_HTML_TAG_RE = re.compile(
    r"</?(?:a|abbr|b|big|blockquote|br|cite|code|div|em|font|h[1-6]|i|img|li|ol|p|q|s|small|span"
    r"|strike|strong|sub|sup|table|td|tr|u|ul|script|style|iframe)\b[^>]*>|<!\[CDATA\[|<!--",
    re.IGNORECASE,
)
_FUTURE_SLACK = timedelta(days=2)


def _text_of(value: Any, detail: Any) -> str:
    """Text of a feedparser field, honouring its declared type (plain text is not parsed as HTML)."""
    if not value:
        return ""
    s = value if isinstance(value, str) else str(value)
    if len(s) > _HTML_INPUT_MAX:
        s = s[:_HTML_INPUT_MAX]
    kind = dict.get(detail, "type") if isinstance(detail, dict) else None
    if kind == "text/plain" and ("<" not in s or not _HTML_TAG_RE.search(s)):
        # Plain text may hold a literal '<' ("plain <text>"); RSS titles marked plain often carry
        # real markup ("Kling <b>2.0</b>"), so only well-known HTML tags make it HTML.
        if "&" in s and _ENTITY_HINT_RE.search(s):
            s = htmlmod.unescape(s)  # a feed that escaped twice
        return _fold(s)
    return html_to_text(s)


def _utc(t: Any) -> datetime | None:
    """feedparser's *_parsed (a UTC struct_time) as an aware datetime; None when absent or absurd."""
    if not t:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(t), UTC)  # timegm copes with a leap second
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _richest(entry: dict[str, Any]) -> tuple[Any, Any]:
    """The longest of summary and content[*].value, with its detail dict (for its type)."""
    best = dict.get(entry, "summary")
    best_detail = dict.get(entry, "summary_detail")
    best_len = len(best) if isinstance(best, str) else 0
    content = dict.get(entry, "content")
    if content:
        for c in content:
            v = dict.get(c, "value") if isinstance(c, dict) else None
            if isinstance(v, str) and len(v) > best_len:
                best, best_detail, best_len = v, c, len(v)
    return best, best_detail


def _is_url(s: str | None) -> bool:
    """An http(s) URL with a host: the only kind an entry links to."""
    if s is None or not s[:8].lower().startswith(("http://", "https://")):
        return False
    if _PLAIN_HTTP_URL.match(s):  # a plain host: urlsplit would find it
        return True
    try:
        return bool(urlsplit(s).hostname)
    except ValueError:
        return False


_ID_SCHEME_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.\-]*):")


def _safe_id(guid: str) -> bool:
    """A guid that can stand as the entry's URL: http(s), or not a followable link at all (tag:, urn:, 1234)."""
    m = _ID_SCHEME_RE.match(guid)
    if m is None:
        return True
    scheme = m.group(1).lower()
    if scheme in ("http", "https"):
        return _is_url(guid)
    return scheme not in ("javascript", "vbscript", "data", "file") and "//" not in guid[m.end():m.end() + 2]


def _language(entry: dict[str, Any], feed_language: str | None, configured: str | None) -> str | None:
    for cand in (
        dict.get(entry, "language"),
        dict.get(dict.get(entry, "title_detail") or {}, "language"),
        dict.get(dict.get(entry, "summary_detail") or {}, "language"),
        dict.get(entry, "feed_language"),  # set by parse_feed
        feed_language,
        configured,
    ):
        if isinstance(cand, str) and cand.strip():
            return cand.strip().lower()
    return None


def _author(entry: dict[str, Any]) -> str | None:
    a = dict.get(entry, "author")
    if not a:
        detail = dict.get(entry, "author_detail")
        a = dict.get(detail, "name") if isinstance(detail, dict) else None
    if not a or not isinstance(a, str):
        return None
    text = _text_of(a, {"type": "text/plain"})
    return text[:200] or None


def normalize_entries(
    parsed: ParsedFeed, *, feed: str, language: str | None, fetched_at: datetime
) -> list[Entry]:
    """Turn feedparser entries into Entry records keyed by canonical URL.

    Entries with no link, no guid and no title are dropped. No feed date -> published=fetched_at
    with published_from_fetch=True; a date more than two days in the future is treated the same.
    """
    if fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=UTC)
    else:
        fetched_at = fetched_at.astimezone(UTC)
    feed_language = getattr(parsed, "language", None)  # not in ParsedFeed yet; parse_feed tags entries
    out: list[Entry] = []
    for entry in parsed.entries:
        e = _normalize_one(entry, feed, language, feed_language, fetched_at)
        if e is not None:
            out.append(e)
    return out


def _normalize_one(
    entry: dict[str, Any],
    feed: str,
    language: str | None,
    feed_language: str | None,
    fetched_at: datetime,
) -> Entry | None:
    get = dict.get
    guid = get(entry, "id")
    guid = guid.strip() if isinstance(guid, str) and guid.strip() else None
    link = get(entry, "feedburner_origlink") or get(entry, "link")
    link = link.strip() if isinstance(link, str) and link.strip() else None
    if link is not None and not _is_url(link):
        link = None  # javascript:, data:, file: ... never an entry's URL, never a source
    if link is None:
        for lk in get(entry, "links") or ():
            href = get(lk, "href") if isinstance(lk, dict) else None
            if isinstance(href, str) and _is_url(href.strip()):
                link = href.strip()
                break
    if link is None and guid is not None and _is_url(guid):
        link = guid
    title = _strip_source_suffix(_text_of(get(entry, "title"), get(entry, "title_detail")), entry)
    if link is None and guid is None and not title:
        return None
    raw_summary, detail = _richest(entry)
    summary = _text_of(raw_summary, detail)
    if len(summary) > SUMMARY_MAX_CHARS:
        summary = summary[:SUMMARY_MAX_CHARS]
    if not title and summary:
        title = (
            summary[:_TITLE_FROM_SUMMARY].rsplit(" ", 1)[0] if len(summary) > _TITLE_FROM_SUMMARY else summary
        )
    if link is not None:
        url = canonical_url(link)
    elif guid is not None:
        # A guid is an identifier, but it becomes the entry's URL: one with a script or file scheme
        # (javascript://...) is hashed rather than passed on as something a reader could follow.
        url = guid if _safe_id(guid) else f"urn:sha1:{hashlib.sha1(guid.encode()).hexdigest()}"
    else:
        digest = hashlib.sha1(f"{feed}\0{title}\0{summary[:2000]}".encode()).hexdigest()
        url = f"urn:sha1:{digest}"
    published = _utc(get(entry, "published_parsed")) or _utc(get(entry, "created_parsed"))
    updated = _utc(get(entry, "updated_parsed"))
    from_fetch = False
    if published is None:
        published = updated
    if published is None or published > fetched_at + _FUTURE_SLACK:
        published, from_fetch = fetched_at, True
    return Entry(
        feed=feed,
        url=url,
        guid=guid,
        title=title,
        summary=summary,
        published=published,
        published_from_fetch=from_fetch,
        updated=updated,
        author=_author(entry),
        language=_language(entry, feed_language, language),
        link=link,
        outlet_url=_outlet_url(entry),
    )


def _strip_source_suffix(title: str, entry: Any) -> str:
    """'Kling AI raises $2bn - Reuters' -> 'Kling AI raises $2bn' when the item names Reuters as its source.

    Aggregators append the publisher; left in, it makes one story's titles differ by outlet.
    """
    source = entry.get("source")
    name = source.get("title") if isinstance(source, dict) else None
    if isinstance(name, str) and name.strip():
        for sep in (" - ", " – ", " | "):
            suffix = f"{sep}{name.strip()}"
            if title.endswith(suffix) and len(title) > len(suffix):
                return title[: -len(suffix)].rstrip()
    return title


def _outlet_url(entry: Any) -> str | None:
    """The publisher's site when the item names one (RSS <source url>, as Google News does)."""
    source = entry.get("source")
    href = source.get("href") if isinstance(source, dict) else None
    if isinstance(href, str) and href.startswith(("http://", "https://")) and len(href) <= 2048:
        return href.strip()
    return None


def url_identity(url: str) -> str:
    """The key under which two spellings of one article's URL are one: `http://www.x/a` is `https://x/a`.

    Applied to a canonical URL; the canonical URL itself stays what is fetched and linked (a site
    may serve only http), this key only decides identity. Non-HTTP strings are returned as they are.
    """
    m = _PLAIN_HTTP_URL.match(url)
    if m is not None and not url.endswith("?"):  # the usual URL, without urlsplit/urlunsplit (a hot path)
        host = m.group(2).lower()
        host = host[4:] if host.startswith("www.") else host
        if host:  # "www." alone leaves urlunsplit an empty host, and its own rules for that
            rest = m.group(3)
            return f"https://{host}{rest if rest[:1] == '/' else '/' + rest}"
    return _url_identity(url)


# scheme, a plain host (no user, port or IPv6 literal), then a path and query with no fragment and
# no character urlsplit would strip or treat specially (controls, spaces, backslashes, '#').
_PLAIN_HTTP_URL = re.compile(r"(?i:(https?))://([A-Za-z0-9.-]+)((?:[/?][!$-;=?-\[\]-~]*)?)\Z")


def _url_identity(url: str) -> str:
    """url_identity's definition (urllib), for every URL the fast path does not take."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.lower()
    host = host[4:] if host.startswith("www.") else host
    port = f":{parts.port}" if parts.port not in (None, 80, 443) else ""
    return urlunsplit(("https", host + port, parts.path or "/", parts.query, ""))
