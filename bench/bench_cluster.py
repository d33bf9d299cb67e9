"""Benchmark: the cost of clustering one story, and peak memory, as the store grows.

For each size N (default 10k and 100k) a fresh process fills a temporary SQLite store with N
synthetic ~300-word stories (each with 6 figures and 6 capitalised names drawn from large pools, so
anchor bands are exercised) in bulk (band rows in one
transaction), then times `assign_story` for 500 new stories (half of them syndicated copies
of stored stories, half unrelated), each in its own transaction as the pipeline runs it.
It prints ms per story and the process's peak RSS (ru_maxrss). Goals: flat in N, under
2 ms per story, under 150 MB. The copies carry a site's furniture ("Home | News | Tech", a
copyright line), which must not make them candidates of each other.

Measured 2026-11-29 on the shared 2-core machine while other engineers ran their tests (load
average in brackets), "clustering" ms per story at 10k / 100k stories:
  with anchors (42+1+20 bands): 2.03 / 2.09 [1.5-2.0]; 1.73 / 2.66 [1.6-1.9]; 2.41 / 3.60 [2.6-3.3];
                                10k alone: 1.86, 2.05, 2.07 [1.3-2.0]
  before anchors (42+1 bands):  1.07 / 1.43 [1.4-1.6]; 10k alone: 0.94-1.51 [1.3-2.0]
  peak RSS 112-119 MB; duplicates found 250/250; 0.9-1.0 candidate stories per query.

After issue 12's last item (one integer key per band in `story_keys`, a story's keys in one
INSERT, the MinHash written out in numpy, per-story reads without sqlite-utils' savepoint), each
run beside one of the code before it, 2026-11-29 20:17-20:36 [load 1.4-2.9], CPU ms per story
(wall in brackets) at 10k; 100k:
  before: 1.45 (2.47), 2.49 (3.36), 1.55 (2.28); 1.77 (3.31), 1.84 (2.18), 1.84 (1.91)
  after:  1.04 (1.04), 1.20 (1.22), 1.37 (1.37); 1.46 (1.47), 1.19 (1.21), 1.53 (1.53)
  peak RSS 109-115 MB (before 114-120); db at 100k 444 MB (482); with the commit per story
  2.4-3.1 ms; 3.1-3.5 ms (before 4.6-6.1; 4.0-6.6). At the default window (--n 40000 --window
  20000, a story's keys pruned for each one added): 1.63 ms, before 2.38 [load 0.9-1.0].
At 100k most queries meet one candidate (median 1, mean 4.2): a few (p99 116, max 197 of 500)
meet an anchor key that a hundred stories or more share, and they make most of the growth from 10k.

    /tmp/v/bin/python bench/bench_cluster.py            # 10k and 100k
    /tmp/v/bin/python bench/bench_cluster.py --n 20000  # one size, in this process
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.dedupe import (  # noqa: E402
    ANCHOR_BANDS,
    BANDS,
    anchor_keys,
    anchors,
    assign_story,
    band_keys,
    signature,
    title_key,
)
from monitor.models import Document  # noqa: E402
from monitor.store import Store  # noqa: E402

WORDS = 300
VOCAB = [f"{a}{b}{c}" for a in ("ka", "li", "mo", "ne", "su", "ta", "ve", "zo", "qi", "ru")
         for b in ("bra", "cle", "dro", "fin", "gus", "hal", "jor", "kem", "lun", "mir")
         for c in ("", "s", "ed", "ing", "er", "al", "ly", "ion", "ic", "ous", "ant", "ist", "ure", "age", "ism",
                   "ive", "ent", "ful", "ness", "less")]  # 2,000 words


NAMES = [w.capitalize() for w in VOCAB]  # 2,000 names


def story(rng: random.Random, i: int) -> tuple[str, str]:
    title = " ".join(rng.choices(VOCAB, k=8)) + f" {i}"
    words = rng.choices(VOCAB, k=WORDS)
    for k in range(6):  # figures and names, where a news story has them
        words[k * 50 + 3] = f"{rng.randrange(10, 99_999) / 10:g}"
        words[k * 50 + 7] = rng.choice(NAMES)
    return title, " ".join(words)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def run(n: int, queries: int = 500, window: int | None = None) -> dict[str, float]:
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        batch = 1000
        kept: list[tuple[str, str]] = []
        now = datetime(2026, 1, 1, tzinfo=UTC)
        for start in range(0, n, batch):
            docs = [story(rng, i) for i in range(start, min(n, start + batch))]
            sigs = [signature(f"{t}\n\n{b}") for t, b in docs]
            rows = []
            for i, ((title, body), sig) in enumerate(zip(docs, sigs, strict=True), start=start):
                tk = title_key(title)
                found = anchors(f"{title}\n\n{body}")
                rows.append((f"https://s.example/{i}", title, sig.astype("<u4").tobytes(),
                             band_keys(sig) + ([tk] if tk is not None else []) + anchor_keys(found),
                             " ".join(sorted(found)) or None))
            store.bulk_insert_stories(rows, created=now)
            kept.extend(docs[:: max(1, len(docs) // 20)])  # a sample to syndicate later
        fill = time.perf_counter() - t0
        if window is not None:
            store.prune_story_bands(keep=window)  # the operating point: only the window is indexed
        new_docs = []
        for q in range(queries):
            if q % 2 == 0:
                title, body = kept[rng.randrange(len(kept))]
                body = "Home | News | Tech\n" + body + "\nCopyright 2026 Example Media. All rights reserved."
            else:
                title, body = story(rng, n + q)
            new_docs.append(Document(source=f"https://q.example/{q}", url=f"https://q.example/{q}",
                                     title=title, text=body))
        dup = 0
        inside = inside_cpu = 0.0
        t1 = time.perf_counter()
        for d in new_docs:
            with store.atomic():
                t2, c2 = time.perf_counter(), time.process_time()
                a = assign_story(store, d, threshold=0.5, window=window if window is not None else n + queries)
                inside += time.perf_counter() - t2
                inside_cpu += time.process_time() - c2
            dup += a.duplicate_of is not None
        per = (time.perf_counter() - t1) / queries * 1000
        per_inside = inside / queries * 1000
        bands = store.count_story_bands()
        size = os.path.getsize(Path(tmp) / "bench.db") + sum(
            os.path.getsize(p) for p in Path(tmp).glob("bench.db-*"))
        store.close()
    return {"n": n, "fill_s": fill, "ms_per_story": per, "ms_clustering": per_inside,
            "cpu_ms_clustering": inside_cpu / queries * 1000, "peak_mb": peak_mb(), "duplicates": dup,
            "band_rows": bands, "db_mb": size / 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, action="append", help="stored stories (repeatable); each in its own process")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--window", type=int, default=None, help="clustering window (default: keep all N)")
    ap.add_argument("--inline", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = args.n or [10_000, 100_000]
    if args.inline or len(sizes) == 1:
        r = run(sizes[0], args.queries, args.window)
        print(f"N={r['n']:>7,}  fill {r['fill_s']:6.1f}s  clustering {r['ms_clustering']:.3f} ms/story"
              f" (CPU {r['cpu_ms_clustering']:.3f}; {r['ms_per_story']:.3f} ms with a commit per story)  "
              f"peak RSS {r['peak_mb']:.0f} MB  duplicates found {r['duplicates']}/{args.queries // 2 + args.queries % 2}"
              f"  band rows {r['band_rows']:,} ({BANDS}+1+{ANCHOR_BANDS} per story)  db {r['db_mb']:.0f} MB", flush=True)
        return 0
    for n in sizes:  # a fresh process per size, so peak RSS is that size's own
        cmd = [sys.executable, __file__, "--inline", "--n", str(n), "--queries", str(args.queries)]
        if args.window is not None:
            cmd += ["--window", str(args.window)]
        subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
