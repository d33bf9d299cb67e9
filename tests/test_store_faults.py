"""Opening the store: safe when many processes open a fresh one at once; every fault one clear error."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

from monitor.store import SCHEMA_VERSION, Store

OPENERS = 100


def _open_at_once(path: str, barrier: Any, results: Any) -> None:
    barrier.wait(60)
    try:
        with Store(path) as store:
            store.sync_feeds([("f", "https://example.com/feed", 900)])
        results.put("ok")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which asserts on it
        results.put(f"{type(exc).__name__}: {exc}")


def test_a_hundred_processes_opening_a_fresh_store_at_once_all_succeed(tmp_path: Path) -> None:
    """The daemon, the timer unit and a `poll --once` may all create the store at the same moment."""
    path = str(tmp_path / "fresh" / "m.db")
    ctx = multiprocessing.get_context("fork")  # fork: 100 children start in a second, not a minute
    barrier, results = ctx.Barrier(OPENERS), ctx.Queue()
    procs = [ctx.Process(target=_open_at_once, args=(path, barrier, results)) for _ in range(OPENERS)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    failures = [o for o in outcomes if o != "ok"]
    assert not failures, f"{len(failures)} of {OPENERS} openings failed, e.g. {failures[:3]}"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert len(names) == len(set(names)) == SCHEMA_VERSION  # each migration applied exactly once
        assert conn.execute("SELECT count(*) FROM feeds").fetchone()[0] == 1
