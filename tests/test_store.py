"""The store: schema versioning, exact-duplicate handling, versions, housekeeping."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.models import Entry
from monitor.store import PAGE_SIZE, SCHEMA_VERSION, Store

T = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def entry(url: str, guid: str | None = None, feed: str = "f", summary: str = "S") -> Entry:
    return Entry(feed=feed, url=url, guid=guid, title="T", summary=summary, published=T, published_from_fetch=False)


def test_schema_version_is_recorded_and_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Store(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this kling-monitor"):
        Store(path)


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    with Store(tmp_path / "m.db") as store:
        store.set_meta("k", "v")
    with Store(tmp_path / "m.db") as store:
        assert store.get_meta("k") == "v"
        assert store.query("SELECT count(*) AS n FROM _sqlite_migrations") == [{"n": SCHEMA_VERSION}]


def test_a_new_store_has_large_pages_and_an_old_store_keeps_its_own(tmp_path: Path) -> None:
    with Store(tmp_path / "new.db") as store:
        assert store.db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 16384
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)  # a store made before: SQLite's default 4 KB pages
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("CREATE TABLE made_before (x)")
    conn.close()
    with Store(old) as store:
        assert store.db.execute("PRAGMA page_size").fetchone()[0] == 4096
        with store.atomic():
            store.store_entries([entry("https://e.com/a")], now=T)
        assert store.count_entries() == 1


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "m.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="is corrupt or not a kling-monitor store"):
        Store(bad)


def test_same_url_or_same_guid_is_stored_once() -> None:
    with Store() as store, store.atomic():
        rows = store.store_entries([entry("https://a/1", "g1"), entry("https://a/1", "g2"),
                                    entry("https://a/2", "g1")], now=T)
        assert [(r.change, r.entry.url) for r in rows] == [("new", "https://a/1")]
        # the same GUID in another feed is another entry
        assert len(store.store_entries([entry("https://b/1", "g1", feed="other")], now=T)) == 1


def test_unchanged_entry_writes_nothing_and_changed_one_keeps_its_history() -> None:
    with Store() as store:
        with store.atomic():
            store.store_entries([entry("https://a/1")], now=T)
        with store.atomic():
            assert store.store_entries([entry("https://a/1")], now=T + timedelta(hours=1)) == []
        for i, text in enumerate(["S2", "S3"], 2):
            with store.atomic():
                (row,) = store.store_entries([entry("https://a/1", summary=text)], now=T + timedelta(hours=i))
            assert (row.change, row.version) == ("updated", i)
        assert [v["summary"] for v in store.entry_versions(row.id)] == ["S", "S2"]
        assert store.unprocessed_entries()[0]["version"] == 3


def test_prune_drops_old_text_and_logs_but_keeps_entries() -> None:
    with Store() as store:
        with store.atomic():
            (row,) = store.store_entries([dataclasses.replace(entry("https://a/1"), summary="x" * 2000)], now=T)
        store.mark_processed(row.id, 1, relevant=True, entities=["Kling"], facts=None, full_text="full " * 100)
        assert store.prune(before=T + timedelta(days=1)) == 1
        (kept,) = store.query("SELECT summary, full_text, relevant FROM entries")
        assert (len(kept["summary"]), kept["full_text"], kept["relevant"]) == (500, None, 1)
        store.optimize(vacuum=True)
        assert store.integrity_check() == "ok"


def test_a_write_transaction_waits_for_another_writer_instead_of_failing(tmp_path: Path) -> None:
    import threading
    import time

    path = tmp_path / "m.db"
    with Store(path) as a, Store(path) as b:
        a.set_meta("k", "0")
        started, done = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def writer() -> None:
            with a.atomic():
                a.set_meta("k", "a")
                started.set()
                time.sleep(0.3)

        def reader_then_writer() -> None:
            started.wait(5)
            try:
                with b.atomic():
                    value = b.get_meta("k")  # reads first...
                    b.set_meta("k", f"{value}+b")  # ...then writes: must not fail with "database is locked"
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            done.set()

        threads = [threading.Thread(target=writer), threading.Thread(target=reader_then_writer)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert errors == [] and done.is_set()
        assert a.get_meta("k") == "a+b"


def test_nested_atomic_rolls_back_only_the_inner_part() -> None:
    with Store() as store:
        with store.atomic():
            store.set_meta("outer", "1")
            with pytest.raises(RuntimeError), store.atomic():
                store.set_meta("inner", "1")
                raise RuntimeError("inner failure")
        assert (store.get_meta("outer"), store.get_meta("inner")) == ("1", None)


def test_one_entry_per_article_whichever_feeds_carry_it() -> None:
    outlet = Entry(feed="outlet", url="https://news.example/a/1", guid="n-1", title="Kling raises $2B",
                   summary="Outlet teaser", published=T, published_from_fetch=False)
    aggregator = dataclasses.replace(outlet, feed="aggregator", url="http://www.news.example/a/1", guid="agg-9",
                                     title="Kling raises $2B - News Example", summary="Aggregator teaser")
    with Store() as store:
        for poll in range(10):
            with store.atomic():
                stored = store.store_entries([outlet, aggregator] if poll % 2 else [aggregator, outlet],
                                             now=T + timedelta(minutes=15 * poll))
            assert [r.change for r in stored] == (["new"] if poll == 0 else [])
        (row,) = store.query("SELECT id, version, summary FROM entries")
        assert row["version"] == 1 and store.entry_versions(row["id"]) == []
        assert {(f["feed"], f["guid"], f["summary"]) for f in store.entry_feeds(row["id"])} == {
            ("outlet", "n-1", "Outlet teaser"), ("aggregator", "agg-9", "Aggregator teaser")}
        # `entries list --feed` shows the article under each feed that carries it
        assert [r["id"] for r in store.list_entries(feed="outlet")] == [row["id"]]
        assert [r["id"] for r in store.list_entries(feed="aggregator")] == [row["id"]]
        assert store.list_entries(feed="elsewhere") == []
        # the feed that brought the entry changes its content: a new version; the other feed's change is not
        with store.atomic():
            (upd,) = store.store_entries([dataclasses.replace(aggregator, summary="Aggregator teaser v2")],
                                         now=T + timedelta(hours=4))
        assert (upd.change, upd.version) == ("updated", 2)
        with store.atomic():
            assert store.store_entries([dataclasses.replace(outlet, summary="Outlet teaser v2")],
                                       now=T + timedelta(hours=5)) == []
        assert store.query("SELECT version FROM entries") == [{"version": 2}]


def test_migration_0003_keeps_each_entrys_teaser_and_url_identity(tmp_path: Path) -> None:
    from sqlite_utils import Database, Migrations

    from monitor.store import _content_hash, migrations

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path, isolation_level=None))
    old = Migrations(migrations.name)  # the store as schema version 2 left it
    for m in migrations._migrations[:2]:
        old(name=m.name)(m.fn)
    old.apply(db)
    db.execute("INSERT INTO entries (url, feed, guid, title, summary, content_hash, published, first_seen,"
               " last_changed) VALUES ('http://www.news.example/a', 'outlet', 'g1', 'T', 'S', ?, 'p', 'f', 'l')",
               [_content_hash("T", "S")])
    db.execute("PRAGMA user_version = 2")
    db.conn.close()
    with Store(path) as store:
        (row,) = store.query("SELECT id, url_key, version FROM entries")
        assert row["url_key"] == "https://news.example/a" and row["version"] == 1
        assert [(f["feed"], f["guid"], f["summary"]) for f in store.entry_feeds(row["id"])] == [("outlet", "g1", "S")]
        with store.atomic():  # the same article from https:// is that entry
            assert store.store_entries([dataclasses.replace(entry("https://news.example/a", "g1"), feed="outlet",
                                                            summary="S")], now=T) == []


def test_the_store_does_not_load_numpy_and_numpy_still_loads_after() -> None:
    """sqlite-utils would import numpy (a tenth of a second and ~20 MB in every process) for a feature
    the store never uses; the store hides it, and leaves it importable for dedupe."""
    import subprocess
    import sys

    code = ("import sys, monitor.store; print('numpy' in sys.modules); "
            "import numpy, monitor.dedupe; print(numpy.array([1]).sum())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "1"]


def test_an_entry_pickles_to_an_equal_entry_with_every_field() -> None:
    """Entry's own __reduce__ (for the parse workers' results) names every field, in order."""
    import dataclasses
    import pickle
    from datetime import UTC, datetime

    from monitor.models import Entry

    fields = dataclasses.fields(Entry)
    values = {f.name: f"v{i}" for i, f in enumerate(fields)}
    values.update(published=datetime(2026, 11, 29, tzinfo=UTC), published_from_fetch=True,
                  updated=datetime(2026, 11, 30, tzinfo=UTC))
    entry = Entry(**values)  # type: ignore[arg-type]
    assert len(entry.__reduce__()[1]) == len(fields)
    assert pickle.loads(pickle.dumps(entry)) == entry
