"""Parse stage: feedparser on bytes plus HTTP headers, with encoding repair and an entity-bomb guard.

JSON Feed (jsonfeed.org) documents are mapped by jsonfeed.py; feedparser 6.0 reads XML only.

`parse_feed` never raises. A body that is not a feed comes back as ``ParsedFeed(entries=(),
bozo=True, bozo_error="parse: not a feed (...)")``; a bozo feed that still yielded entries keeps
them (feedparser's loose parser recovers most real-world breakage).

Encoding: feedparser trusts the declared charset and, when that fails, falls back to
windows-1252, which turns GBK Chinese into mojibake. When the result shows an encoding override,
replacement characters or UTF-8-read-as-Latin-1, the body is re-decoded (declared/HTTP charset,
then UTF-8, then GB18030 if the text is plausibly Chinese, then charset-normalizer) and the
transcoded UTF-8 is parsed again.

Entities: expat limits "billion laughs" only late (the quadratic variant still costs gigabytes)
and feedparser's DOCTYPE stripping misses declarations that do not start a line, so the prolog
is checked first and dangerous entity declarations are refused.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import feedparser

from monitor.jsonfeed import looks_like_json, read_json_feed
from monitor.models import ParsedFeed

_read_fast: Callable[[bytes, dict[str, str]], dict[str, Any] | None] | None
try:
    from monitor.fastfeed import read_feed as _read_fast
except ImportError:  # fastfeed reuses feedparser 6 internals; if a release moves them, feedparser alone
    _read_fast = None

# Bytes of the body that encoding detection looks at (bounded work on the repair path only).
_DETECT_BYTES = 256 * 1024
# Entity expansion we tolerate from declared internal entities (value length x references).
_MAX_ENTITY_EXPANSION = 1024 * 1024

_XML_DECL_RE = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z0-9._:\-]+)(["'])""")
_FIRST_ELEMENT_RE = re.compile(rb"<[A-Za-z_]")
_DOCTYPE_RE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY_OPEN_RE = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ENTITY_DECL_RE = re.compile(
    rb"""<!ENTITY\s+(%\s+)?([^\s"'>%]+)\s+(?:"([^"]*)"|'([^']*)'|(SYSTEM|PUBLIC)\b)""", re.IGNORECASE
)
_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([^\s;\"']+)", re.IGNORECASE)
_SKIP_HOURS_RE = re.compile(rb"<skipHours\b[^>]*>(.*?)</skipHours\s*>", re.IGNORECASE | re.DOTALL)
_HOUR_RE = re.compile(rb"<hour\b[^>]*>\s*(\d{1,2})\s*</hour\s*>", re.IGNORECASE)
_CHARREF_ONLY_RE = re.compile(r"^&#(?:x[0-9a-fA-F]+|[0-9]+);$")
# UTF-8 read as Latin-1/cp1252: 'Ã©', 'â€™', 'Ã¼' ...
_MOJIBAKE_RE = re.compile(
    "[\u00c2-\u00c3\u00e2][\u0080-\u00bf\u201a-\u203a\u20ac\u2122\u0152\u0153\u0160\u0161\u0178\u017d\u017e]"
)

_ENCODING_EXCEPTIONS = (feedparser.CharacterEncodingOverride, feedparser.CharacterEncodingUnknown)
_GB_ALIASES = frozenset(
    {"gb2312", "gbk", "cp936", "x-gbk", "gb_2312-80", "csgb2312", "euc-cn", "euccn", "936", "ms936"}
)


def _codec(name: str | None) -> str | None:
    """Canonical Python codec name, with the GB family widened to gb18030; None if unknown."""
    if not name:
        return None
    key = name.strip().strip("\"'").lower()
    if key in _GB_ALIASES:
        return "gb18030"
    try:
        canonical = codecs.lookup(key).name
    except LookupError:
        return None
    return "gb18030" if canonical in ("gbk", "gb2312") else canonical


def _lower_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """feedparser looks headers up by lower-case name."""
    if not headers:
        return {}
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _ascii_view(body: bytes) -> bytes:
    """UTF-16/32 bodies as UTF-8, so that the byte patterns of the entity guard can see them."""
    if b"\x00" not in body[:4]:
        return body
    for enc in ("utf-32", "utf-16", "utf-16-le", "utf-16-be"):
        try:
            return body.decode(enc).encode("utf-8")
        except UnicodeError:
            continue
    return body


def _entity_guard(body: bytes) -> tuple[str | None, bytes]:
    """Refuse entity declarations that could expand: nested references, or too much total expansion.

    Simple internal entities (a string or one character reference) are allowed, as in feedparser's
    own test corpus; external ones are harmless because external entities are never loaded.
    Every declaration in the body is checked, not just those before the first element, so that a
    comment or an entity value holding '<a' cannot hide the rest. Returns (error or None, body to
    parse); the body gets each declaration on a line of its own, because feedparser only
    recognises (and keeps) declarations that start a line.
    """
    view = _ascii_view(body)
    if not _DOCTYPE_RE.search(view):
        return None, body  # no DTD, no entity declarations that any parser would honour
    declared = _ENTITY_OPEN_RE.findall(view)
    if not declared:
        return None, body
    expansion = 0
    readable = 0
    for decl in _ENTITY_DECL_RE.finditer(view):
        readable += 1
        is_param, name = decl.group(1), decl.group(2)
        raw = decl.group(3) if decl.group(3) is not None else decl.group(4)
        if raw is None:  # SYSTEM / PUBLIC: never fetched
            continue
        value = raw.decode("utf-8", "replace")
        if is_param or ("&" in value and not _CHARREF_ONLY_RE.match(value)) or "%" in value:
            return "parse: entity declarations refused (nested entity references)", body
        expansion += view.count(b"&" + name + b";") * max(len(raw), 1)
        if expansion > _MAX_ENTITY_EXPANSION:
            return "parse: entity declarations refused (expansion too large)", body
    if readable != len(declared):  # a declaration the pattern cannot read is refused, not guessed at
        return "parse: entity declarations refused (unreadable declaration)", body
    if view is not body:
        return None, body
    m = _FIRST_ELEMENT_RE.search(body)
    cut = m.start() if m else len(body)
    prolog = re.sub(rb"(?i)(?<!\n)<!(ENTITY|DOCTYPE)", rb"\n<!\1", body[:cut]).replace(b"]>", b"\n]>")
    return None, prolog + body[cut:]


def _feedparse(body: bytes, headers: dict[str, str]) -> Any:
    # A BytesIO, never bytes: feedparser treats a bytes/str argument that names a file as a path.
    return feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


def _entry_texts(result: Any) -> str:
    parts: list[str] = [str(dict.get(result["feed"], "title", ""))]
    for e in result["entries"]:
        parts.append(str(dict.get(e, "title", "")))
        parts.append(str(dict.get(e, "summary", "")))
    return "\n".join(parts)


def _looks_chinese(text: str) -> bool:
    """True when the non-ASCII text is mostly GB2312 characters (common hanzi and CJK punctuation).

    Latin-1 bytes read as GB18030 become rare level-2/extension ideographs; real Chinese text is
    overwhelmingly level-1/level-2 GB2312.
    """
    total = hits = 0
    for ch in text:
        if ch < "\x80":
            continue
        total += 1
        try:
            ch.encode("gb2312")
            hits += 1
        except UnicodeEncodeError:
            pass
        if total >= 5000:
            break
    return total >= 2 and hits >= 0.9 * total


def _detect(body: bytes) -> list[tuple[str, float]]:
    """charset-normalizer's plausible codecs with their chaos (lower is better), best first."""
    try:
        from charset_normalizer import from_bytes

        matches = from_bytes(body[:_DETECT_BYTES])
    except Exception:  # detection is best effort
        return []
    out: list[tuple[str, float]] = []
    for m in matches:
        c = _codec(m.encoding)
        if c and all(c != o for o, _ in out):
            out.append((c, float(m.chaos)))
    return out


def _plausible_as(body: bytes, codec: str) -> bool:
    """Does charset-normalizer accept `codec` for this body (low chaos)? For single-byte fallbacks:
    short Latin-1 text is easily 'detected' as some Baltic code page, but CJK or Cyrillic bytes read
    as windows-1252 are rejected as chaotic."""
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(body[:_DETECT_BYTES], cp_isolation=[codec]).best()
    except Exception:
        return False
    return best is not None and best.chaos <= 0.1


def _transcode(body: bytes, codec: str) -> bytes | None:
    """Strictly decode with `codec` and re-encode as UTF-8 with a matching XML declaration."""
    try:
        text = body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None
    data = text.lstrip("\ufeff").encode("utf-8")
    return _XML_DECL_RE.sub(rb"\1utf-8\3", data, count=1)


_SINGLE_BYTE_FALLBACKS = frozenset({"cp1252", "latin-1", "iso8859-1", "iso8859-2", "iso8859-15"})
_GB_FAMILY = frozenset({"gb18030", "gb2312", "gbk", "hz"})
_BIG5_FAMILY = frozenset({"big5", "big5hkscs", "cp950"})


def _candidates(body: bytes, headers: dict[str, str], used: str | None) -> Iterator[str]:
    """Encodings to try, most trustworthy first, lazily (detection runs only when it is needed).

    Order: HTTP charset, XML declaration, UTF-8, GB18030 (when the text reads as Chinese and the
    detector does not point at another CJK codec), then charset-normalizer's guesses. A stop
    (return) means feedparser's own single-byte fallback is as plausible as any guess: keep it.
    """
    seen: set[str] = set()
    m = _CHARSET_RE.search(headers.get("content-type", ""))
    d = _XML_DECL_RE.match(body[:1024])
    for name in (m.group(1) if m else None, d.group(2).decode("ascii", "replace") if d else None, "utf-8"):
        c = _codec(name)
        if c and c not in seen:
            seen.add(c)
            yield c
    if used in _SINGLE_BYTE_FALLBACKS and _plausible_as(body, used):
        return
    detected = _detect(body)
    if "gb18030" not in seen and (not detected or any(c in _GB_FAMILY for c, _ in detected)):
        seen.add("gb18030")
        try:
            plausible = _looks_chinese(body[:100_000].decode("gb18030", "ignore"))
        except LookupError:
            plausible = False
        if plausible:
            yield "gb18030"
    for c, _chaos in detected[:3]:
        if c not in seen:
            seen.add(c)
            yield c


def _single_byte(codec: str) -> bool:
    """A charset in which every byte is a character: any body 'decodes', so decoding proves nothing."""
    return codec in ("ascii", "latin-1") or codec.startswith(("iso8859-", "cp125", "koi8", "mac-"))


def _mostly_cjk(text: str) -> bool:
    """True when nearly all non-ASCII characters are CJK ideographs or CJK/full-width punctuation."""
    total = hits = 0
    for ch in text:
        if ch < "\x80":
            continue
        total += 1
        hits += "\u3000" <= ch <= "\u303f" or "\u4e00" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"
        if total >= 5000:
            break
    return total >= 2 and hits >= 0.9 * total


def _reads_as(body: bytes, codec: str, *, as_chinese: bool = True) -> bool:
    """Does the body decode strictly under `codec`, and (for the CJK codecs) read as Chinese?"""
    try:
        text = body.decode(codec)  # the whole body (at most fetch.max_bytes): C speed
    except (UnicodeDecodeError, LookupError):
        return False
    if not as_chinese:
        return True
    if codec in _GB_FAMILY:
        return _looks_chinese(text)
    if codec in _BIG5_FAMILY:
        return _mostly_cjk(text)
    return True


def _over_the_header(body: bytes, headers: dict[str, str]) -> str | None:
    """The codec to read the body with when a single-byte HTTP charset does not fit it, else None.

    A single-byte charset (ISO-8859-1, windows-1252) decodes any bytes, so feedparser trusts it
    and turns GBK Chinese into Latin-1 mojibake without a sign of trouble. The body wins when it
    decodes cleanly under its own XML declaration (a multi-byte one), or when charset detection
    reads it with high confidence as GBK/GB18030/Big5 Chinese.
    """
    if body.isascii():
        return None
    m = _CHARSET_RE.search(headers.get("content-type", ""))
    header = _codec(m.group(1)) if m else None
    d = _XML_DECL_RE.match(body[:1024])
    declared = _codec(d.group(2).decode("ascii", "replace")) if d else None
    # What feedparser will read the body as: the HTTP charset, or, when it is absent or cannot
    # decode the body, the XML declaration. Only a single-byte reading can go wrong silently.
    header_fits = header is not None and _reads_as(body, header, as_chinese=False)
    reading = header if header_fits or (header is not None and declared is None) else declared
    if reading is None or not _single_byte(reading):
        return None
    if declared and declared != header and not _single_byte(declared) and _reads_as(body, declared):
        return declared
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(body[:_DETECT_BYTES]).best()
    except Exception:  # detection is best effort
        return None
    detected = _codec(best.encoding) if best is not None else None
    if (detected in _GB_FAMILY or detected in _BIG5_FAMILY) and best is not None and best.chaos <= 0.05 \
            and _reads_as(body, detected):
        return detected
    return None


def _utf8_headers(headers: dict[str, str]) -> dict[str, str]:
    out = dict(headers)
    ct = out.get("content-type")
    if ct:
        base = _CHARSET_RE.sub("", ct).rstrip(" ;")
        out["content-type"] = f"{base}; charset=utf-8"
    return out


def _needs_repair(result: Any, body: bytes) -> bool:
    if isinstance(result.get("bozo_exception"), _ENCODING_EXCEPTIONS):
        return True
    text = _entry_texts(result)
    if "\ufffd" in text:
        return True
    # UTF-8 bytes that were read as a single-byte charset (the cheap test first: most feeds are UTF-8).
    return result.get("encoding") not in ("utf-8", "utf8") and bool(_MOJIBAKE_RE.search(text))


def _repair(body: bytes, headers: dict[str, str], result: Any) -> tuple[Any, str | None]:
    """Re-decode the body and parse again; returns (result, encoding) or the original result."""
    n_before = len(result["entries"])
    text_before = _entry_texts(result)
    for codec in _candidates(body, headers, _codec(result.get("encoding"))):
        data = _transcode(body, codec)
        if data is None:
            continue
        again = _feedparse(data, _utf8_headers(headers))
        if len(again["entries"]) < n_before:
            continue
        if _entry_texts(again) == text_before:
            return result, result.get("encoding")  # feedparser had it right (e.g. real windows-1252)
        return again, codec
    return result, result.get("encoding")


def _not_a_feed(body: bytes, result: Any) -> str:
    head = body[:2048].lower()
    if b"<html" in head or b"<!doctype html" in head:
        why = "an HTML page"
    elif result.get("bozo_exception") is not None:
        why = str(result["bozo_exception"])[:200] or type(result["bozo_exception"]).__name__
    else:
        why = "no feed elements found"
    return f"parse: not a feed ({why})"


def _skip_hours(body: bytes) -> tuple[int, ...]:
    """The hours the feed asks not to be polled. The regex starts with '<', which sre looks for
    with memchr: searching 60 KB costs ~30 us, a quarter of lower-casing it for a pre-check."""
    m = _SKIP_HOURS_RE.search(body)
    if not m:
        return ()
    return tuple(sorted({int(h) % 24 for h in _HOUR_RE.findall(m.group(1)) if 0 <= int(h) <= 24}))


def _ttl(feed: dict[str, Any]) -> int | None:
    raw = dict.get(feed, "ttl")
    if raw is None:
        return None
    try:
        ttl = int(str(raw).strip())
    except ValueError:
        return None
    return ttl if 0 < ttl <= 7 * 24 * 60 else None


def parse_feed(body: bytes, headers: Mapping[str, str] | None = None, *, fast: bool = True) -> ParsedFeed:
    """Parse a feed body; never raises (errors come back as a bozo ParsedFeed with no entries).

    `fast` lets plain RSS 2.0 and Atom take the lxml fast path (fastfeed.py), which gives feedparser's
    entries at a fraction of the cost and declines everything else; False is feedparser alone.
    """
    try:
        return _parse(body, headers, fast)
    except Exception as exc:  # feedparser is robust, but a daemon must not die on one feed
        return ParsedFeed(entries=(), bozo=True, bozo_error=f"parse: failed ({type(exc).__name__}: {exc})")


def _parse(body: bytes, headers: Mapping[str, str] | None, fast: bool) -> ParsedFeed:
    if not body or not body.strip():
        return ParsedFeed(entries=(), bozo=True, bozo_error="parse: not a feed (empty body)")
    hdrs = _lower_headers(headers)
    encoding: str | None
    if looks_like_json(body):
        result = read_json_feed(body)
        if result is None:
            return ParsedFeed(entries=(), bozo=True, bozo_error="parse: not a feed (JSON, but not a JSON Feed)")
        encoding = "utf-8"
    else:
        refused, body = _entity_guard(body)
        if refused:
            return ParsedFeed(entries=(), bozo=True, bozo_error=refused)
        override = _over_the_header(body, hdrs)
        transcoded = _transcode(body, override) if override else None
        if transcoded is not None:
            body, hdrs = transcoded, _utf8_headers(hdrs)
        result = _read_fast(body, hdrs) if fast and _read_fast is not None else None
        if result is not None and _needs_repair(result, body):
            result = None  # the repair path compares against feedparser's own reading
        if result is not None:
            encoding = result.get("encoding")
        else:
            result = _feedparse(body, hdrs)
            encoding = result.get("encoding")
            if _needs_repair(result, body):
                result, encoding = _repair(body, hdrs, result)
        if transcoded is not None:
            encoding = override
    entries = result["entries"]
    version = result.get("version") or None
    exc = result.get("bozo_exception")
    bozo = bool(result.get("bozo"))
    if not entries and (bozo or not version):
        return ParsedFeed(entries=(), bozo=True, bozo_error=_not_a_feed(body, result), encoding=encoding)
    feed = result["feed"]
    language = dict.get(feed, "language")
    if language:
        # ParsedFeed has no feed-level metadata; the channel language rides on each entry.
        for e in entries:
            if "feed_language" not in e:
                dict.__setitem__(e, "feed_language", language)
    error = None
    if bozo and exc is not None:
        error = f"parse: {type(exc).__name__}: {str(exc)[:300]}"
    return ParsedFeed(
        entries=tuple(entries),
        bozo=bozo,
        bozo_error=error,
        encoding=encoding,
        version=version,
        ttl_minutes=_ttl(feed),
        skip_hours=_skip_hours(body),
    )
