"""The one module that owns the SQL: schema, migrations and every statement.

SQLite in WAL mode through sqlite-utils. Stages never write SQL; they call the methods
here, grouped by the stage they serve. Writes that belong together (a feed's entries and
its fetch state; claims, events and the outbox rows they cause) run in one transaction
via `atomic()`, so a kill at any moment leaves either all of it or none.

Times are stored as ISO-8601 UTC strings (`2026-11-24T05:46:00Z`), which sort as text.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database, Migrations

from monitor.errors import StoreError
from monitor.models import Entry, FetchResult

SCHEMA_VERSION = 1

migrations = Migrations("kling-monitor")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    """The one timestamp format in the store: UTC, second precision, `Z`."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@migrations(name="0001_initial")
def _m0001(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE feeds (
            name TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            interval INTEGER NOT NULL,          -- configured seconds
            effective_interval INTEGER,         -- after ttl / observed cadence, clamped
            next_poll TEXT,
            last_poll TEXT,
            last_success TEXT,
            last_status TEXT,                   -- ok | not_modified | error
            last_error TEXT,
            last_error_at TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            ttl_minutes INTEGER,
            skip_hours TEXT,                    -- JSON list of UTC hours
            publish_gap REAL,                   -- observed median seconds between items
            entries_total INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,           -- canonical URL
            feed TEXT NOT NULL,
            guid TEXT,
            title TEXT NOT NULL,
            summary TEXT NOT NULL,
            full_text TEXT,
            content_hash TEXT NOT NULL,
            published TEXT NOT NULL,
            published_from_fetch INTEGER NOT NULL DEFAULT 0,
            updated TEXT,
            author TEXT,
            language TEXT,
            link TEXT,
            first_seen TEXT NOT NULL,
            last_changed TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            relevant INTEGER,                   -- NULL: not yet matched
            entities TEXT,                      -- JSON list
            facts TEXT,                         -- JSON: the extraction
            processed_version INTEGER NOT NULL DEFAULT 0,  -- last version the understanding stages ran on
            UNIQUE (feed, guid)
        );
        CREATE INDEX entries_published ON entries (published);
        CREATE INDEX entries_unprocessed ON entries (processed_version, version);
        CREATE TABLE entry_versions (
            id INTEGER PRIMARY KEY,
            entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            title TEXT NOT NULL,
            summary TEXT NOT NULL,
            full_text TEXT,
            replaced_at TEXT NOT NULL
        );
        CREATE INDEX entry_versions_entry ON entry_versions (entry_id, version);
        CREATE TABLE fetch_log (
            id INTEGER PRIMARY KEY,
            feed TEXT NOT NULL,
            at TEXT NOT NULL,
            status TEXT NOT NULL,
            http_status INTEGER,
            error TEXT,
            nbytes INTEGER NOT NULL DEFAULT 0,
            elapsed REAL NOT NULL DEFAULT 0,
            new_entries INTEGER NOT NULL DEFAULT 0,
            updated_entries INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX fetch_log_feed ON fetch_log (feed, at);
        CREATE TABLE pages (                    -- full-text cache by canonical URL
            url TEXT PRIMARY KEY,
            fetched_at TEXT NOT NULL,
            status TEXT NOT NULL,
            text TEXT,
            error TEXT
        );

        -- story clusters (dedupe stage): MinHash LSH band hashes live here, not in memory
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            doc TEXT NOT NULL UNIQUE,           -- entry URL or document source
            entry_id INTEGER,
            cluster_id INTEGER NOT NULL,
            title TEXT,
            outlet TEXT,
            published TEXT,
            signature BLOB,
            created TEXT NOT NULL
        );
        CREATE INDEX stories_cluster ON stories (cluster_id);
        CREATE TABLE story_bands (
            band INTEGER NOT NULL,
            hash INTEGER NOT NULL,
            story_id INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE
        );
        CREATE INDEX story_bands_lookup ON story_bands (band, hash);
        CREATE INDEX story_bands_story ON story_bands (story_id);
        CREATE TABLE clusters (
            id INTEGER PRIMARY KEY,
            title TEXT,
            first_seen TEXT NOT NULL,
            size INTEGER NOT NULL DEFAULT 1,
            announced INTEGER NOT NULL DEFAULT 0
        );

        -- the claim ledger
        CREATE TABLE claims (
            id INTEGER PRIMARY KEY,
            subject TEXT NOT NULL,
            kind TEXT NOT NULL,                 -- round_size, valuation, ..., investor, cloud_partner, product_move
            period TEXT NOT NULL DEFAULT '',
            name TEXT,                          -- investor / partner / product-move key
            value REAL,
            unit TEXT,
            value_usd REAL,
            qualifier TEXT,
            range_high REAL,
            stage TEXT,
            speculative INTEGER NOT NULL DEFAULT 0,
            source_url TEXT,
            outlet TEXT,
            tier TEXT,
            published TEXT,
            quote TEXT,
            doc TEXT,
            cluster_id INTEGER,
            created TEXT NOT NULL
        );
        CREATE INDEX claims_group ON claims (subject, kind, period);
        CREATE INDEX claims_name ON claims (kind, name);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,           -- idempotency: one event per key, ever
            type TEXT NOT NULL,
            subject TEXT,
            kind TEXT,
            message TEXT NOT NULL,
            why TEXT,
            severity INTEGER NOT NULL DEFAULT 2,
            payload TEXT NOT NULL,              -- JSON of models.Event
            doc TEXT,
            created TEXT NOT NULL
        );
        CREATE INDEX events_created ON events (created);

        -- delivery
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            event_key TEXT NOT NULL,
            transport TEXT NOT NULL,            -- console | slack
            target TEXT,                        -- Slack channel
            thread_key TEXT,
            payload TEXT NOT NULL,              -- JSON of models.Event
            status TEXT NOT NULL DEFAULT 'pending',  -- pending | sending | sent | parked
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt TEXT NOT NULL,
            last_error TEXT,
            remote_id TEXT,                     -- Slack message ts once known
            created TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX outbox_due ON outbox (status, next_attempt);
        CREATE TABLE slack_threads (
            thread_key TEXT NOT NULL,
            channel TEXT NOT NULL,
            ts TEXT NOT NULL,
            last_post TEXT NOT NULL,
            PRIMARY KEY (thread_key, channel)
        );
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            scheduled_for TEXT NOT NULL UNIQUE, -- the local slot this digest belongs to, as UTC
            period_start TEXT NOT NULL,
            period_end TEXT NOT NULL,
            status TEXT NOT NULL,               -- sending | sent | empty | failed
            message_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        """
    )


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as the store returns it after an upsert: what the next stages need."""

    id: int
    entry: Entry
    change: str  # "new" | "updated"
    version: int
    previous_text: str | None = None  # the text before an update, for sentence diffs


class Store:
    """A handle on the SQLite store. Cheap to open; open one per thread."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db = Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process kill; only a power cut may lose the last commit.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA busy_timeout=30000")
            migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store: cannot open {self.path}: {exc}") from None
        self._lock = threading.RLock()

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[Store]:
        """One transaction (nested calls become savepoints)."""
        with self._lock, self.db.atomic():
            yield self

    def query(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params))

    def integrity_check(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    # ------------------------------------------------------------ meta

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        [key, value])

    # ------------------------------------------------------------ feeds (fetch stage)

    def sync_feeds(self, feeds: Iterable[tuple[str, str, int]]) -> None:
        """Make the feeds table hold the configured feeds (name, url, interval); keep their state."""
        with self.atomic():
            for name, url, interval in feeds:
                row = self.db.execute("SELECT url FROM feeds WHERE name = ?", [name]).fetchone()
                if row is None:
                    self.db.execute(
                        "INSERT INTO feeds (name, url, interval, next_poll) VALUES (?, ?, ?, ?)",
                        [name, url, interval, iso(utcnow())],
                    )
                else:
                    # A changed URL in the config wins over a stored permanent redirect only when it
                    # differs from what was configured before; keep it simple: config is the truth.
                    self.db.execute("UPDATE feeds SET interval = ? WHERE name = ?", [interval, name])
                    if self.get_meta(f"feed_url:{name}") != url:
                        self.db.execute(
                            "UPDATE feeds SET url = ?, etag = NULL, last_modified = NULL, body_hash = NULL"
                            " WHERE name = ?", [url, name])
                self.set_meta(f"feed_url:{name}", url)

    def feed_state(self, name: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM feeds WHERE name = ?", [name])
        return rows[0] if rows else None

    def feeds(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM feeds ORDER BY name")

    def due_feeds(self, now: datetime) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM feeds WHERE next_poll IS NULL OR next_poll <= ? ORDER BY next_poll",
                          [iso(now)])

    def record_fetch(
        self,
        name: str,
        result: FetchResult,
        *,
        at: datetime,
        next_poll: datetime,
        body_hash: str | None = None,
        error: str | None = None,
        effective_interval: int | None = None,
        ttl_minutes: int | None = None,
        skip_hours: Iterable[int] | None = None,
        publish_gap: float | None = None,
        new_entries: int = 0,
        updated_entries: int = 0,
    ) -> None:
        """Record one poll's outcome on the feed and in the fetch log (call inside `atomic`)."""
        failed = result.status == "error" or error is not None
        message = error or result.error
        sets = ["last_poll = :at", "last_status = :status", "next_poll = :next"]
        params: dict[str, Any] = {"at": iso(at), "status": "error" if failed else result.status,
                                  "next": iso(next_poll), "name": name}
        if failed:
            sets += ["last_error = :err", "last_error_at = :at", "error_count = error_count + 1"]
            params["err"] = message
        else:
            sets += ["last_success = :at", "error_count = 0"]
            if result.etag is not None:
                sets.append("etag = :etag")
                params["etag"] = result.etag
            if result.last_modified is not None:
                sets.append("last_modified = :lm")
                params["lm"] = result.last_modified
            if body_hash is not None:
                sets.append("body_hash = :bh")
                params["bh"] = body_hash
        if result.permanent_url:
            sets.append("url = :purl")
            params["purl"] = result.permanent_url
        if effective_interval is not None:
            sets.append("effective_interval = :ei")
            params["ei"] = effective_interval
        if ttl_minutes is not None:
            sets.append("ttl_minutes = :ttl")
            params["ttl"] = ttl_minutes
        if skip_hours is not None:
            sets.append("skip_hours = :sh")
            params["sh"] = json.dumps(sorted(set(skip_hours)))
        if publish_gap is not None:
            sets.append("publish_gap = :gap")
            params["gap"] = publish_gap
        if new_entries:
            sets.append("entries_total = entries_total + :new")
            params["new"] = new_entries
        self.db.execute(f"UPDATE feeds SET {', '.join(sets)} WHERE name = :name", params)
        self.db.execute(
            "INSERT INTO fetch_log (feed, at, status, http_status, error, nbytes, elapsed, new_entries,"
            " updated_entries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [name, iso(at), "error" if failed else result.status, result.http_status, message,
             result.nbytes, round(result.elapsed, 4), new_entries, updated_entries],
        )

    def recent_publish_times(self, feed: str, limit: int = 20) -> list[str]:
        rows = self.db.execute(
            "SELECT published FROM entries WHERE feed = ? AND published_from_fetch = 0"
            " ORDER BY published DESC LIMIT ?", [feed, limit]).fetchall()
        return [r[0] for r in rows]

    def fetch_log(self, feed: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        if feed:
            return self.query("SELECT * FROM fetch_log WHERE feed = ? ORDER BY id DESC LIMIT ?", [feed, limit])
        return self.query("SELECT * FROM fetch_log ORDER BY id DESC LIMIT ?", [limit])

    # ------------------------------------------------------------ entries (normalize -> store)

    def store_entries(self, entries: Iterable[Entry], *, now: datetime) -> list[StoredEntry]:
        """Insert new entries, update changed ones (keeping the old version); return only those.

        Exact duplicates, by canonical URL or by (feed, GUID), are stored once. Call inside
        `atomic()` together with `record_fetch` so a poll is one transaction.
        """
        out: list[StoredEntry] = []
        seen: set[str] = set()
        now_s = iso(now)
        for e in entries:
            if e.url in seen:
                continue
            seen.add(e.url)
            content_hash = _content_hash(e.title, e.summary)
            row = self.db.execute(
                "SELECT id, content_hash, version, title, summary, full_text FROM entries WHERE url = ?",
                [e.url]).fetchone()
            if row is None and e.guid:
                row = self.db.execute(
                    "SELECT id, content_hash, version, title, summary, full_text FROM entries"
                    " WHERE feed = ? AND guid = ?", [e.feed, e.guid]).fetchone()
            if row is None:
                cur = self.db.execute(
                    "INSERT INTO entries (url, feed, guid, title, summary, content_hash, published,"
                    " published_from_fetch, updated, author, language, link, first_seen, last_changed)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [e.url, e.feed, e.guid, e.title, e.summary, content_hash, iso(e.published),
                     int(e.published_from_fetch), iso(e.updated), e.author, e.language, e.link, now_s, now_s])
                if cur.rowcount:
                    out.append(StoredEntry(int(cur.lastrowid or 0), e, "new", 1))
                continue
            entry_id, old_hash, version, old_title, old_summary, old_full = row
            if old_hash == content_hash:
                continue
            self.db.execute(
                "INSERT INTO entry_versions (entry_id, version, title, summary, full_text, replaced_at)"
                " VALUES (?, ?, ?, ?, ?, ?)", [entry_id, version, old_title, old_summary, old_full, now_s])
            self.db.execute(
                "UPDATE entries SET title = ?, summary = ?, content_hash = ?, updated = ?, author = ?,"
                " version = version + 1, last_changed = ?, full_text = NULL WHERE id = ?",
                [e.title, e.summary, content_hash, iso(e.updated or now), e.author, now_s, entry_id])
            previous = old_full or f"{old_title}\n\n{old_summary}"
            out.append(StoredEntry(entry_id, e, "updated", version + 1, previous))
        return out

    def entry(self, entry_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM entries WHERE id = ?", [entry_id])
        return rows[0] if rows else None

    def entry_versions(self, entry_id: int) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM entry_versions WHERE entry_id = ? ORDER BY version", [entry_id])

    def list_entries(self, *, since: datetime | None = None, relevant_only: bool = False,
                     feed: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where, params = ["1 = 1"], []
        if since is not None:
            where.append("published >= ?")
            params.append(iso(since))
        if relevant_only:
            where.append("relevant = 1")
        if feed:
            where.append("feed = ?")
            params.append(feed)
        params.append(limit)
        return self.query(
            "SELECT id, url, feed, guid, title, summary, published, published_from_fetch, updated, author,"
            " language, first_seen, version, relevant, entities, facts FROM entries WHERE "
            + " AND ".join(where) + " ORDER BY published DESC, id DESC LIMIT ?", params)

    def count_entries(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM entries").fetchone()[0])

    def unprocessed_entries(self, limit: int = 500) -> list[dict[str, Any]]:
        """Entries whose current version the understanding stages have not seen (crash-safe resume)."""
        return self.query("SELECT * FROM entries WHERE processed_version < version ORDER BY id LIMIT ?", [limit])

    def mark_processed(self, entry_id: int, version: int, *, relevant: bool, entities: list[str],
                       facts: dict[str, Any] | None, full_text: str | None = None) -> None:
        self.db.execute(
            "UPDATE entries SET processed_version = ?, relevant = ?, entities = ?, facts = ?,"
            " full_text = coalesce(?, full_text) WHERE id = ?",
            [version, int(relevant), json.dumps(entities, ensure_ascii=False),
             json.dumps(facts, ensure_ascii=False) if facts is not None else None, full_text, entry_id])

    # ------------------------------------------------------------ full-text page cache

    def cached_page(self, url: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM pages WHERE url = ?", [url])
        return rows[0] if rows else None

    def cache_page(self, url: str, *, status: str, text: str | None, error: str | None, at: datetime) -> None:
        self.db.execute(
            "INSERT INTO pages (url, fetched_at, status, text, error) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(url) DO UPDATE SET fetched_at = excluded.fetched_at, status = excluded.status,"
            " text = excluded.text, error = excluded.error", [url, iso(at), status, text, error])

    # ------------------------------------------------------------ housekeeping

    def prune(self, *, before: datetime) -> int:
        """Drop old entries' bulky text and old fetch logs; claims and events are kept forever."""
        with self.atomic():
            cur = self.db.execute(
                "UPDATE entries SET full_text = NULL, summary = substr(summary, 1, 500)"
                " WHERE published < ? AND (full_text IS NOT NULL OR length(summary) > 500)", [iso(before)])
            self.db.execute("DELETE FROM entry_versions WHERE replaced_at < ?", [iso(before)])
            self.db.execute("DELETE FROM fetch_log WHERE at < ?", [iso(before)])
            self.db.execute("DELETE FROM pages WHERE fetched_at < ?", [iso(before)])
        return int(cur.rowcount)

    def optimize(self, vacuum: bool = False) -> None:
        self.db.execute("PRAGMA optimize")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if vacuum:
            self.db.execute("VACUUM")

    # ------------------------------------------------------------ dedupe (story clusters)
    # (methods for stories / story_bands / clusters go here)

    # ------------------------------------------------------------ ledger (claims, events)
    # (methods for claims / events go here)

    # ------------------------------------------------------------ delivery (outbox, slack threads, digests)
    # (methods for outbox / slack_threads / digests go here)


def _content_hash(title: str, summary: str) -> str:
    return hashlib.blake2b(f"{title}\x00{summary}".encode(), digest_size=16).hexdigest()
