"""Band keys and signatures: the numpy MinHash is datasketch's, and stores of schema 5 keep their stories."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from sqlite_utils import Database

from monitor.dedupe import (
    _NAME,  # the name pattern `statement_lines` feeds
    ANCHOR_BAND0,
    BANDS,
    KEY_BITS,
    NUM_PERM,
    ROWS,
    SEED,
    TITLE_BAND,
    anchor_keys,
    anchors,
    assign_story,
    band_keys,
    comparable,
    minhash,
    normalized_title,
    shingle_hashes,
    signature,
    statement_lines,
    title_key,
)
from monitor.models import Document
from monitor.store import Store, migrations

TITLE = "Kling AI closes nearly $3 billion funding round with Tencent, Alibaba Cloud and Baidu"
TEXT = ("Kuaishou's video-generation unit Kling AI has closed a funding round of nearly $3 billion, the largest "
        "single raise for a video model company, with Tencent, Alibaba Cloud and Baidu among the investors. "
        "Beijing Keling signed with 21 initial investors on July 2, bringing in roughly RMB 13.8 billion in cash. "
        "An additional 15 investors will inject about RMB 5.2 billion, pushing the committed total to nearly "
        "$2.8 billion. Total capital is capped at RMB 20.4471 billion, or 16.67% of registered capital.")


@pytest.mark.parametrize("n", [0, 1, 3, 300, 5000])
def test_minhash_is_datasketchs_affine32(n: int) -> None:
    hv = np.random.default_rng(n).integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32)
    m = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=lambda x: x, scheme="affine32")
    m.update_batch(hv.tolist())
    assert minhash(hv).dtype == np.uint32
    assert minhash(hv).tolist() == np.asarray(m.hashvalues, dtype=np.uint32).tolist()


def test_each_key_carries_its_band() -> None:
    text = comparable(TEXT)
    keys = band_keys(signature(text, normalized=True))
    assert [k >> KEY_BITS for k in keys] == list(range(BANDS))
    title = title_key(TITLE)
    assert title is not None and title >> KEY_BITS == TITLE_BAND
    akeys = anchor_keys(anchors(text, normalized=True))
    assert [k >> KEY_BITS for k in akeys] == [ANCHOR_BAND0 + i for i in range(len(akeys))] and akeys
    assert all(0 < k < 2**63 for k in [*keys, title, *akeys])  # SQLite INTEGERs
    assert title_key("AI news") is None  # too short to identify a story


def _schema5_band_rows(text: str, title: str) -> list[tuple[int, int]]:
    """(band, hash) rows as the store kept them before schema 6: blake2b's 8 bytes as a signed integer."""
    def h(data: bytes) -> int:
        return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)
    raw = signature(text).astype("<u4").tobytes()
    width = ROWS * 4
    rows = [(i, h(raw[i * width:(i + 1) * width])) for i in range(BANDS)]
    return [*rows, (TITLE_BAND, h(normalized_title(title).encode()))]


def test_migration_0006_converts_band_rows_to_the_keys_new_stories_probe(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path, isolation_level=None))
    migrations.apply(db, stop_before="0006_i12_story_keys")  # a store as schema 5 left it
    db.execute("INSERT INTO clusters (id, title, first_seen, size) VALUES (7, 'x', '2026-01-01T00:00:00Z', 1)")
    sig = signature(TEXT).astype("<u4").tobytes()
    db.execute("INSERT INTO stories (id, doc, cluster_id, title, signature, created, url_key) VALUES"
               " (3, 'https://a.example/kling', 7, ?, ?, '2026-01-01T00:00:00Z', 'a.example/kling')", [TITLE, sig])
    old_rows = _schema5_band_rows(TEXT, TITLE)
    assert any(hash_ < 0 for _, hash_ in old_rows)  # the sign bit is among what the conversion drops
    db.conn.executemany("INSERT INTO story_bands (band, hash, story_id) VALUES (?, ?, 3)", old_rows)
    db.execute("PRAGMA user_version = 5")
    db.conn.close()
    with Store(path) as store:
        assert store.query("SELECT name FROM sqlite_master WHERE name LIKE 'story_bands%'") == []
        stored = {r["key"] for r in store.query("SELECT key FROM story_keys WHERE story_id = 3")}
        assert stored == {*band_keys(signature(TEXT)), title_key(TITLE)}
        copy = assign_story(store, Document(source="https://b.example/1", url="https://b.example/1", title=TITLE,
                                            text="Home | News\n" + TEXT), threshold=0.5)
        assert copy.duplicate_of == "https://a.example/kling" and copy.cluster_id == 7


@pytest.mark.parametrize("text", [
    "", "Home | News | Tech", "Home | News | Tech\nKling AI raised money from Tencent and Alibaba Cloud today.",
    "A long enough first line naming Kling AI\n\n\nShort Line Names\r\nAnother long line, with Tencent in it\n",
    "Exactly twenty-nine chars Ab\nExactly thirty characters Abcd\n" + "x" * 29 + "\n" + "Y" * 30,
    "\n\nTrailing Names Here but the line is long\n",
])
def test_statement_lines_drop_what_the_short_line_regex_dropped(text: str) -> None:
    short_line = re.compile(r"^[^\n]{0,29}$", re.MULTILINE)  # what `statement_lines` replaced
    kept = short_line.sub("", text)
    assert statement_lines(text) == "\n".join(line for line in kept.split("\n") if line)
    assert _NAME.findall(statement_lines(text)) == _NAME.findall(kept)


def test_signature_ignores_repeated_shingles() -> None:
    text = comparable(TEXT)
    assert signature(text + " " + text, normalized=True).tolist() == minhash(shingle_hashes(
        text + " " + text, normalized=True)).tolist()
    assert len(shingle_hashes(text + " " + text)) < 2 * len(shingle_hashes(text))
