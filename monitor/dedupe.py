"""Story clusters: the same story, syndicated, spun, converted or translated, lands in one cluster.

Texts are compared after width (NFKC) and script (Traditional -> Simplified, OpenCC) are
normalised, so a copy converted between scripts is the same text. A story's text becomes a set
of shingles (3 consecutive words; for Chinese, 3 consecutive characters), a 128-value MinHash
signature (datasketch's affine32 scheme, fixed seed so runs are reproducible), and 42 LSH bands
of 3 rows each. Beside the text, a story keeps its *anchors*: what a copy cannot change, its
figures (35.046, 715) and the names it capitalises (Ghost, Lap, MIPCOM), with 20 LSH bands of
their own. Each band is one integer key in the store's `story_keys` table, so finding candidates
is a fixed number of index probes whatever the store's size.

A candidate is the same story when its text is similar enough, or its title matches with some
shared text, or it shares most anchors AND some text (a spun or reworded copy) or most anchors
in another language (a translation), published within a week. Different outlets' own reports of
one event share a few figures but not most of their anchors and text: they stay apart and
corroborate each other in the ledger. Only the newest `window` stories keep band rows.

`new_sentences` is the sentence diff used when a story we already saw comes back changed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import opencc
from datasketch import MinHash

from monitor.models import Document
from monitor.normalize import url_identity
from monitor.store import Store, parse_iso
from monitor.units import source_name

NUM_PERM = 128
BANDS = 42
ROWS = 3  # BANDS * ROWS <= NUM_PERM; a pair at Jaccard 0.5 shares a band with p = 0.996
TITLE_BAND = BANDS  # an extra "band": the exact normalized title, for syndicated copies with other bodies
SHINGLE = 3
SEED = 20260101
TITLE_MIN_TOKENS = 4
ANCHOR_BAND0 = 100  # anchor bands are numbered from here, apart from the text bands
ANCHOR_BANDS = 20
ANCHOR_ROWS = 3  # a pair sharing 60% of anchors meets in a band with p = 0.99 (55%: 0.97); at 15%, 7%
KEY_BITS = 56  # a band key is (band << KEY_BITS) | the low KEY_BITS bits of the band's blake2b hash
MIN_ANCHORS = 6  # fewer shared anchors say nothing about a copy
ANCHOR_DAYS = 7  # an anchor-only join needs publication dates (when both known) this close

_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED)
_PERMUTATIONS = _TEMPLATE.permutations
_PERM_A, _PERM_B = (np.asarray(p, dtype=np.uint32) for p in _PERMUTATIONS)
_rng = np.random.default_rng(SEED)
_ANCHOR_A = _rng.integers(1, 2**63, size=ANCHOR_BANDS * ANCHOR_ROWS, dtype=np.uint64) | np.uint64(1)
_ANCHOR_B = _rng.integers(0, 2**63, size=ANCHOR_BANDS * ANCHOR_ROWS, dtype=np.uint64)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_]+(?:['’.][^\W_]+)*", re.UNICODE)


@dataclass(frozen=True, slots=True)
class StoryAssignment:
    """Where a document landed. `is_new` is False when the doc key was assigned before."""

    story_id: int
    cluster_id: int
    duplicate_of: str | None  # the cluster's first document, when this one joined an existing cluster
    cluster_size: int
    is_new: bool
    alias_of: str | None = None  # the known document this one is another URL spelling of


# ------------------------------------------------------------------ text -> signature


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@lru_cache(maxsize=1)
def _t2s() -> Any:
    return opencc.OpenCC("t2s")


def comparable(text: str) -> str:
    """Text as copies are compared: full-width forms folded (NFKC), Traditional Chinese made Simplified."""
    text = unicodedata.normalize("NFKC", text)
    return str(_t2s().convert(text)) if _HAN.search(text) else text


def tokens(text: str, *, normalized: bool = False) -> list[str]:
    """Lower-cased words; every CJK character is its own token (so shingles are char n-grams).

    `normalized`: the text is already `comparable` (so a caller normalises it once).
    """
    return _TOKEN.findall((text if normalized else comparable(text)).lower())


_L = "0-9A-Za-z\u00c0-\u024f"
# A number not inside a word (V2, item27), a capitalised word. Each pattern starts with its first
# character and looks behind it only there, so the scan skips ahead to digits and capitals.
_NUMBER = re.compile(rf"\d(?<![{_L}.,]\d)\d*(?:[.,]\d+)*")
_NAME = re.compile(rf"[A-Z\u00c0-\u00de](?<![{_L}][A-Z\u00c0-\u00de])[{_L}'’-]*[{_L}]")
# Lines that are page furniture, not statements: short ones (menus, "Home | News | Tech") and bylines,
# datelines, copyright and "related" lines (matched by `_BOILERPLATE`, defined with the sentence diff).
FURNITURE_CHARS = 30  # lines shorter than this
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_YEAR = re.compile(r"(?:19|20)\d\d")
# Capitalised words that start sentences in the languages of the feeds: not names.
_NOT_NAMES = frozenset("""
    the and but for with this that these those its his her their our they she his who what when where why how
    after before while since from into over under about also only even just however meanwhile according
    there here then now new first last next some many most more other such than all each every both
    les des une dans pour avec sur par mais est son ses aux qui que elle ils cette ces leur
    los las una del con por para pero sus como más este esta estos entre sobre desde
    uma dos das com pelo pela mas seu sua seus como mais este esta isso entre sobre desde foi são
    der die das den dem des ein eine und mit von für auf aus bei nach wie auch ist sind wird hat
    gli una con per nel della dei che anche questo questa sono
    """.split())


def _figure(raw: str) -> str | None:
    """A number as a copy in another language writes it: 1,045,925 and 40,7 and 40.70 alike."""
    num = raw.replace(",", "") if _THOUSANDS.fullmatch(raw) else raw.replace(",", ".")
    if "." in num:
        num = num.rstrip("0").rstrip(".")
    if len(num.replace(".", "").lstrip("0")) < 2 or _YEAR.fullmatch(num):
        return None  # one digit or a year: every story has those
    return num


def statement_lines(text: str) -> str:
    """The text without its short lines (menus, "Home | News | Tech"): a split and a join, several
    times quicker than a multi-line regex that tries every position."""
    return "\n".join(line for line in text.split("\n") if len(line) >= FURNITURE_CHARS)


def anchors(text: str, common: Iterable[str] = (), *, normalized: bool = False) -> frozenset[str]:
    """What a copy cannot change: its figures and the names it capitalises (lower-cased).

    `common` are words every watched story has (the watchlist's names): they identify nothing.
    """
    text = text if normalized else comparable(text)
    skip = {c.lower() for c in common}
    out: set[str] = set()
    for number in _NUMBER.findall(text):
        f = _figure(number)
        if f:
            out.add(f)
    # Names only from statements: a menu ("Home | News | Tech"), a byline or a copyright line
    # names the site, and every page of the site has it.
    text = _FURNITURE_LINE.sub("", text)
    for name in _NAME.findall(statement_lines(text)):
        if len(name) > 2:
            w = name.lower()
            if w not in _NOT_NAMES and w not in skip:
                out.add(w)
    return frozenset(out)


def _band_key(band: int, data: bytes) -> int:
    """One band's key in the store: the band number above the low 56 bits of the band's 8-byte
    blake2b hash. (Stores before schema 6 kept that hash beside the band number, so migration
    0006 converts their rows in SQL.)"""
    return (band << KEY_BITS) | int.from_bytes(hashlib.blake2b(data, digest_size=8).digest()[:KEY_BITS // 8],
                                               "little")


def anchor_keys(found: frozenset[str]) -> list[int]:
    """LSH band keys of an anchor set's MinHash; none for a set too small to identify a story.

    Anchor sets are small (tens of items), so their MinHash is one numpy min over a
    multiply-shift hash table of (anchors x permutations) rather than a datasketch object.
    """
    if len(found) < MIN_ANCHORS:
        return []
    hv = np.fromiter(map(zlib.crc32, map(str.encode, found)), dtype=np.uint64, count=len(found))
    sig = ((hv[:, None] * _ANCHOR_A + _ANCHOR_B) >> np.uint64(32)).min(axis=0).astype("<u4")
    raw = sig.tobytes()
    width = ANCHOR_ROWS * 4
    return [_band_key(ANCHOR_BAND0 + i, raw[i * width:(i + 1) * width]) for i in range(ANCHOR_BANDS)]


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def language(doc: Document) -> str | None:
    """The document's primary language subtag; "zh" for text that is mostly Chinese; else unknown."""
    if doc.lang:
        return doc.lang.split("-")[0].split("_")[0].lower()
    if not _HAN.search(doc.text, 0, 2000):
        return None
    han = len(_HAN.findall(doc.text[:2000]))
    return "zh" if han > 0.3 * max(1, len(doc.text[:2000].split()) + han) else None


def shingles(text: str, k: int = SHINGLE) -> set[bytes]:
    """The shingle strings (k consecutive tokens); kept for tests and inspection."""
    toks = tokens(text)
    if len(toks) < k:
        return {" ".join(toks).encode()} if toks else set()
    return {" ".join(toks[i:i + k]).encode() for i in range(len(toks) - k + 1)}


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))


def shingle_hashes(text: str, k: int = SHINGLE, *, normalized: bool = False) -> np.ndarray:
    """32-bit hashes of the text's distinct k-token shingles, computed in numpy."""
    return np.unique(_shingle_hashes(text, k, normalized=normalized))


def _shingle_hashes(text: str, k: int = SHINGLE, *, normalized: bool = False) -> np.ndarray:
    """32-bit hashes of the text's k-token shingles, repeats included (a MinHash ignores them).

    Each token is hashed once (crc32) and shingles combine their tokens' hashes by a
    multiply-add mix, which is ~5x cheaper than hashing every shingle string.
    """
    toks = tokens(text, normalized=normalized)
    if not toks:
        return np.zeros(0, dtype=np.uint32)
    th = np.fromiter(map(zlib.crc32, map(str.encode, toks)), dtype=np.uint64, count=len(toks))
    if len(toks) < k:
        k = len(toks)
    n = len(toks) - k + 1
    acc = np.zeros(n, dtype=np.uint64)
    for j in range(k):
        acc = acc * _MIX[j] + th[j:j + n]
    folded = (acc ^ (acc >> np.uint64(29))) & np.uint64(0xFFFFFFFF)
    return folded.astype(np.uint32)


_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
_EMPTY_SIGNATURE = np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)


def minhash(hv: np.ndarray) -> np.ndarray:
    """The MinHash signature (uint32[NUM_PERM]) of a set of 32-bit hashes.

    datasketch's affine32 scheme (MurmurHash3's finalizer, then a * h + b mod 2^32 per permutation)
    written out in numpy: the same values as `MinHash.update_batch` without a Python call per
    hash, which took half of a story's signature time.
    """
    if not len(hv):
        return _EMPTY_SIGNATURE.copy()
    s1, m1, s2, m2, s3 = _FMIX32
    h = hv.astype(np.uint32, copy=False)
    h = (h ^ (h >> s1)) * m1
    h = (h ^ (h >> s2)) * m2
    h = h ^ (h >> s3)
    return (h[:, None] * _PERM_A + _PERM_B).min(axis=0)


def signature(text: str, *, normalized: bool = False) -> np.ndarray:
    """The MinHash signature (uint32[NUM_PERM]) of a text's shingle set."""
    return minhash(_shingle_hashes(text, normalized=normalized))


def band_keys(sig: np.ndarray) -> list[int]:
    """The key of each LSH band of a signature."""
    raw = sig.astype("<u4").tobytes()
    width = ROWS * 4
    return [_band_key(i, raw[i * width:(i + 1) * width]) for i in range(BANDS)]


def normalized_title(title: str) -> str:
    return " ".join(tokens(title))


def title_key(title: str) -> int | None:
    """The key of the exact-title band; none for a title too short to identify a story."""
    norm = normalized_title(title)
    if len(norm.split()) < TITLE_MIN_TOKENS and len(norm.replace(" ", "")) < 8:
        return None
    return _band_key(TITLE_BAND, norm.encode())


def title_similarity(a: str | None, b: str | None) -> float:
    """Jaccard similarity of the titles' token sets (CJK: characters)."""
    ta, tb = set(tokens(a or "")), set(tokens(b or ""))
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a == b)) / len(a)


def doc_key(doc: Document) -> str:
    return doc.url or doc.source


def outlet_of(doc: Document) -> str:
    """Who published it: the document's outlet, else the URL's host, else the file name."""
    return doc.outlet or source_name(doc.url or doc.source)


# ------------------------------------------------------------------ assignment


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one candidate shares with the document: the inputs of `same_story`."""

    text: float  # estimated Jaccard similarity of the shingle sets
    title: float  # Jaccard similarity of the title words
    same_title: bool
    anchors: float = 0.0  # Jaccard similarity of the anchor sets
    shared_anchors: int = 0
    other_language: bool = False
    close_in_time: bool = True  # publication dates within ANCHOR_DAYS, or one unknown


def same_story(ev: Evidence, threshold: float) -> bool:
    """The decision for one candidate.

    Similar text is a copy. A matching title with some shared text is a copy under another
    header. Most anchors shared is a copy reworded (with some text still shared) or translated
    (another language): own-words reports of one event share some figures, not most anchors.
    """
    if ev.text >= threshold:
        return True
    if ev.title >= 0.6 and ev.text >= threshold * 0.5:
        return True
    if ev.same_title and ev.text >= 0.1:
        return True
    if ev.shared_anchors < MIN_ANCHORS or not ev.close_in_time:
        return False
    if ev.other_language:
        return ev.anchors >= 0.6  # a translation keeps nearly all figures and names
    if ev.anchors >= 0.5 and ev.text >= 0.1:
        return True
    return ev.anchors >= 0.4 and ev.text >= threshold * 0.5


def _close(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return True
    if a.tzinfo is None:
        a = a.replace(tzinfo=UTC)
    if b.tzinfo is None:
        b = b.replace(tzinfo=UTC)
    return abs(a - b) <= timedelta(days=ANCHOR_DAYS)


def _evidence(doc: Document, sig: np.ndarray, found: frozenset[str], lang: str | None,
              cand: dict[str, Any], threshold: float) -> Evidence:
    """The evidence for one candidate, cheapest first: titles are compared only when the texts
    share enough for a title to decide (so a crowd of weak candidates costs little)."""
    text = estimated_jaccard(sig, np.frombuffer(cand["signature"], dtype="<u4"))
    theirs = frozenset((cand["anchors"] or "").split())
    title, same_title = 0.0, False
    if text >= min(0.1, threshold * 0.5) and doc.title and cand["title"]:
        title = title_similarity(doc.title, cand["title"])
        norm = normalized_title(doc.title)
        same_title = len(norm.split()) >= TITLE_MIN_TOKENS and norm == normalized_title(cand["title"])
    return Evidence(
        text=text, title=title, same_title=same_title, anchors=jaccard(found, theirs),
        shared_anchors=len(found & theirs),
        other_language=lang is not None and cand["lang"] is not None and lang != cand["lang"],
        close_in_time=_close(doc.published, parse_iso(cand["published"])))


def assign_story(store: Store, doc: Document, *, threshold: float, entry_id: int | None = None,
                 window: int | None = None, now: datetime | None = None,
                 common: Iterable[str] = (), relevant: bool = True) -> StoryAssignment:
    """Put a document into a story cluster (an existing one if it is the same story).

    Idempotent per doc key (URL, else source); another spelling of a known URL (`http://www.`
    for `https://`) is that story. Call inside `store.atomic()` with the rest of the document's
    processing. `window` bounds how many recent stories keep band rows; `common` are names too
    frequent to be anchors (the watchlist's); an irrelevant story (`relevant=False`) is clustered
    only so that its copies are known, and is left out of the digest's clusters.
    """
    key = doc_key(doc)
    ident = url_identity(key)
    known = store.story_by_doc(key, url_key=ident)
    if known is not None:
        first = store.cluster_first_doc(int(known["cluster_id"]))
        return StoryAssignment(int(known["id"]), int(known["cluster_id"]), first if first != key else None,
                               int(known["cluster_size"]), False,
                               alias_of=known["doc"] if known["doc"] != key else None)
    text = comparable(doc.full_text)
    sig = signature(text, normalized=True)
    found = anchors(text, common, normalized=True)
    lang = language(doc)
    tk = title_key(doc.title)
    probe = band_keys(sig) + ([tk] if tk is not None else []) + anchor_keys(found)
    best: tuple[float, int] | None = None
    for cand in store.story_candidates(probe):
        if cand["signature"] is None:
            continue
        ev = _evidence(doc, sig, found, lang, cand, threshold)
        if same_story(ev, threshold):
            score = max(ev.text, ev.title * 0.9, ev.anchors * 0.8)
            if best is None or score > best[0]:
                best = (score, int(cand["cluster_id"]))
    now = now or datetime.now(UTC)
    if best is None:
        cluster_id = store.new_cluster(title=doc.title or None, first_seen=doc.published or now)
    else:
        cluster_id = best[1]
    story_id = store.insert_story(doc=key, entry_id=entry_id, cluster_id=cluster_id, title=doc.title or None,
                                  outlet=outlet_of(doc), published=doc.published,
                                  signature=sig.astype("<u4").tobytes(), keys=probe, created=now,
                                  url_key=ident,
                                  anchors=" ".join(sorted(found)) or None, lang=lang, relevant=relevant)
    if window is not None:
        store.prune_story_bands(keep=window)
    cluster = store.cluster(cluster_id)
    size = int(cluster["size"]) if cluster else 1
    first = store.cluster_first_doc(cluster_id) if best is not None else None
    return StoryAssignment(story_id, cluster_id, first, size, True)


def cluster_sources(store: Store, cluster_id: int) -> list[str]:
    """The distinct outlets of a cluster's stories, first seen first."""
    out: list[str] = []
    for row in store.cluster_stories(cluster_id):
        name = row["outlet"] or row["doc"]
        if name not in out:
            out.append(name)
    return out


# ------------------------------------------------------------------ updates

_SENT_SPLIT = re.compile(r"(?<=[。！？!?])\s*|(?<=[.;])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences of English and Chinese text, whitespace-normalized, empty ones dropped."""
    out = []
    for part in _SENT_SPLIT.split(text):
        s = " ".join(part.split())
        if s:
            out.append(s)
    return out


def new_sentences(old_text: str, new_text: str) -> list[str]:
    """Sentences of `new_text` that `old_text` does not have, in order, each once."""
    old = set(split_sentences(old_text))
    out: list[str] = []
    for s in split_sentences(new_text):
        if s not in old and s not in out:
            out.append(s)
    return out


_BOILERPLATE = re.compile(
    r"^(?:by|von|por|par|door)\s+[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3}\s*(?:$|[,|·•–—(]|and\s)(?!.*\d[\d.,]*\s*(?:%|"
    r"percent|billion|million|bn|mn|亿|万))"
    r"|^(?:updated|published|posted|last\s+updated|modified|read\s+more|related|see\s+also|more\s+from|share"
    r"|follow\s+us|subscribe|sign\s+up|advertisement|copyright|all\s+rights\s+reserved|©|photo|image|source)\b"
    r"|^(?:作者|记者|編輯|编辑|责任编辑|責任編輯|来源|來源|发布时间|發佈時間|更新时间|更新時間|相关阅读|相關閱讀|相关新闻|"
    r"相關新聞|延伸阅读|延伸閱讀|分享|点击|點擊|图片|圖片)",
    re.IGNORECASE)
# The same furniture as whole lines of a text (for `anchors`).
_FURNITURE_LINE = re.compile(r"^[ \t]*(?:" + _BOILERPLATE.pattern.replace("|^", "|").removeprefix("^") + r")[^\n]*$",
                             re.IGNORECASE | re.MULTILINE)
_DATE_WORDS = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b"
    r"|\b(?:am|pm|gmt|utc|bst|est|edt|pst|cst|hkt)\b|[年月日时時分秒]|\d+", re.IGNORECASE)


def is_boilerplate(sentence: str) -> bool:
    """Bylines, datelines, "related"/"share"/"subscribe" lines and captions: page furniture, not news."""
    s = sentence.strip()
    if _BOILERPLATE.match(s):
        return True
    rest = _DATE_WORDS.sub(" ", s)
    words = [w for w in _TOKEN.findall(rest) if not _HAN.fullmatch(w)]
    han = len(_HAN.findall(rest))
    return len(words) + han / 2 < 3  # a date, a time or a word or two: no statement


def news_sentences(old_text: str, new_text: str) -> list[str]:
    """The new sentences of `new_text` that could be news (`new_sentences` without boilerplate)."""
    return [s for s in new_sentences(old_text, new_text) if not is_boilerplate(s)]
