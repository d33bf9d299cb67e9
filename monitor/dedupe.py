"""Story clusters: the same story, syndicated or lightly rewritten, lands in one cluster.

A story's text becomes a set of shingles (3 consecutive words; for Chinese, 3 consecutive
characters), a 128-value MinHash signature (datasketch, fixed seed so runs are reproducible),
and 42 LSH band hashes of 3 rows each. The band hashes live in the store's `story_bands`
table under a (band, hash) key, so finding candidates is 42 index probes whatever the store's
size, and memory does not grow with it (datasketch's in-memory LSH costs ~3.6 KB a story).
Candidates are confirmed by the estimated Jaccard similarity of their stored signatures,
helped by title similarity for rewritten stories. Only the newest `window` stories keep band
rows; older ones keep their cluster membership (and so their idempotent assignment).

`new_sentences` is the sentence diff used when a story we already saw comes back changed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from datasketch import MinHash

from monitor.models import Document
from monitor.store import Store
from monitor.units import source_name

NUM_PERM = 128
BANDS = 42
ROWS = 3  # BANDS * ROWS <= NUM_PERM; a pair at Jaccard 0.5 shares a band with p = 0.996
TITLE_BAND = BANDS  # an extra "band": the exact normalized title, for syndicated copies with other bodies
SHINGLE = 3
SEED = 20260101
TITLE_MIN_TOKENS = 4

_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED)
_PERMUTATIONS = _TEMPLATE.permutations

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


# ------------------------------------------------------------------ text -> signature


def tokens(text: str) -> list[str]:
    """Lower-cased words; every CJK character is its own token (so shingles are char n-grams)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def shingles(text: str, k: int = SHINGLE) -> set[bytes]:
    """The shingle strings (k consecutive tokens); kept for tests and inspection."""
    toks = tokens(text)
    if len(toks) < k:
        return {" ".join(toks).encode()} if toks else set()
    return {" ".join(toks[i:i + k]).encode() for i in range(len(toks) - k + 1)}


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))


def shingle_hashes(text: str, k: int = SHINGLE) -> np.ndarray:
    """32-bit hashes of the text's distinct k-token shingles, computed in numpy.

    Each token is hashed once (crc32) and shingles combine their tokens' hashes by a
    multiply-add mix, which is ~5x cheaper than hashing every shingle string.
    """
    toks = tokens(text)
    if not toks:
        return np.zeros(0, dtype=np.uint32)
    th = np.fromiter((zlib.crc32(t.encode()) for t in toks), dtype=np.uint64, count=len(toks))
    if len(toks) < k:
        k = len(toks)
    n = len(toks) - k + 1
    acc = np.zeros(n, dtype=np.uint64)
    for j in range(k):
        acc = acc * _MIX[j] + th[j:j + n]
    folded = (acc ^ (acc >> np.uint64(29))) & np.uint64(0xFFFFFFFF)
    return np.unique(folded.astype(np.uint32))


def _identity(x: int) -> int:
    return x


def _minhash(hv: np.ndarray) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=_identity, permutations=_PERMUTATIONS, scheme="affine32")
    if len(hv):
        m.update_batch(hv.tolist())
    return m


def signature(text: str) -> np.ndarray:
    """The MinHash signature (uint32[NUM_PERM]) of a text's shingle set."""
    return np.asarray(_minhash(shingle_hashes(text)).hashvalues, dtype=np.uint32)


def signatures(texts: list[str]) -> list[np.ndarray]:
    """Many signatures at once (MinHash.bulk shares the permutation set-up)."""
    ms = MinHash.bulk([shingle_hashes(t) for t in texts], num_perm=NUM_PERM, seed=SEED, hashfunc=_identity,
                      permutations=_PERMUTATIONS, scheme="affine32")
    return [np.asarray(m.hashvalues, dtype=np.uint32) for m in ms]


def band_hashes(sig: np.ndarray) -> list[tuple[int, int]]:
    """(band, signed 64-bit hash) for each LSH band of a signature."""
    raw = sig.astype("<u4").tobytes()
    width = ROWS * 4
    return [(i, int.from_bytes(hashlib.blake2b(raw[i * width:(i + 1) * width], digest_size=8).digest(),
                               "little", signed=True))
            for i in range(BANDS)]


def normalized_title(title: str) -> str:
    return " ".join(tokens(title))


def title_band(title: str) -> tuple[int, int] | None:
    norm = normalized_title(title)
    if len(norm.split()) < TITLE_MIN_TOKENS and len(norm.replace(" ", "")) < 8:
        return None
    return (TITLE_BAND, int.from_bytes(hashlib.blake2b(norm.encode(), digest_size=8).digest(), "little",
                                       signed=True))


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


def same_story(est: float, title_sim: float, same_title: bool, threshold: float) -> bool:
    """The decision for one candidate: body similarity, or a matching title with some shared body."""
    if est >= threshold:
        return True
    if title_sim >= 0.6 and est >= threshold * 0.5:
        return True
    return same_title and est >= 0.1


def assign_story(store: Store, doc: Document, *, threshold: float, entry_id: int | None = None,
                 window: int | None = None, now: datetime | None = None) -> StoryAssignment:
    """Put a document into a story cluster (an existing one if it is the same story).

    Idempotent per doc key (URL, else source). Call inside `store.atomic()` with the rest of the
    document's processing. `window` bounds how many recent stories keep band rows.
    """
    key = doc_key(doc)
    known = store.story_by_doc(key)
    if known is not None:
        first = store.cluster_first_doc(int(known["cluster_id"]))
        return StoryAssignment(int(known["id"]), int(known["cluster_id"]), first if first != key else None,
                               int(known["cluster_size"]), False)
    sig = signature(doc.full_text)
    bands = band_hashes(sig)
    tb = title_band(doc.title)
    probe = bands + ([tb] if tb else [])
    best: tuple[float, int] | None = None
    for cand in store.story_candidates(probe):
        if cand["signature"] is None:
            continue
        other = np.frombuffer(cand["signature"], dtype="<u4")
        est = estimated_jaccard(sig, other)
        tsim = title_similarity(doc.title, cand["title"])
        same_title = tb is not None and normalized_title(doc.title) == normalized_title(cand["title"] or "")
        if same_story(est, tsim, same_title, threshold):
            score = max(est, tsim * 0.9)
            if best is None or score > best[0]:
                best = (score, int(cand["cluster_id"]))
    now = now or datetime.now(UTC)
    if best is None:
        cluster_id = store.new_cluster(title=doc.title or None, first_seen=doc.published or now)
    else:
        cluster_id = best[1]
    story_id = store.insert_story(doc=key, entry_id=entry_id, cluster_id=cluster_id, title=doc.title or None,
                                  outlet=outlet_of(doc), published=doc.published,
                                  signature=sig.astype("<u4").tobytes(), bands=probe, created=now)
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
