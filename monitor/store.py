"""The one module that owns the SQL: schema, migrations and every statement.

SQLite in WAL mode through sqlite-utils. Stages never write SQL; they call the methods
here, grouped by the stage they serve. Writes that belong together (a feed's entries and
its fetch state; claims, events and the outbox rows they cause) run in one transaction
via `atomic()`, so a kill at any moment leaves either all of it or none.

Times are stored as ISO-8601 UTC strings (`2026-11-24T05:46:00Z`), which sort as text.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.errors import StoreError, StoreUnavailableError, StoreVersionError
from monitor.models import Entry, FetchResult
from monitor.normalize import url_identity
from monitor.timefmt import iso, parse_iso, utcnow  # also imported from here by other modules

# sqlite-utils imports numpy, when it is installed (datasketch brings it), only to map numpy types to
# column types when it creates a table from Python values, which the store never does. That import
# was a third of a CLI command's start (~110 ms) and ~20 MB in every process, so numpy is hidden
# from it; a module that needs numpy (dedupe) imports it as usual afterwards.
_HIDE_NUMPY = "numpy" not in sys.modules
if _HIDE_NUMPY:
    sys.modules["numpy"] = None  # type: ignore[assignment]  # import numpy -> ImportError, just here
try:
    from sqlite_utils import Database, Migrations
finally:
    if _HIDE_NUMPY:
        del sys.modules["numpy"]


PAGE_SIZE = 16384
SCHEMA_VERSION = 6  # the number of migrations below; recorded in PRAGMA user_version

migrations = Migrations("kling-monitor")


def _no_space_left(path: str) -> bool:
    try:
        return os.statvfs(Path(path).parent).f_bavail == 0
    except OSError:
        return False


def store_error(exc: BaseException, path: str) -> StoreError:
    """One clear error line for an SQLite or OS failure on the store at `path` (never a traceback)."""
    if isinstance(exc, StoreError):
        return exc
    text = str(exc)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", -1) & 0xFF  # the primary result code
        if code == sqlite3.SQLITE_FULL or (code == sqlite3.SQLITE_IOERR and _no_space_left(path)):
            # A full disk surfaces as an I/O error when SQLite cannot even grow its shared-memory file.
            return StoreError(f"store: disk full at {path}")
        if code == sqlite3.SQLITE_READONLY:
            return StoreUnavailableError(f"store: {path} is read-only (its file or file system does not allow writing)")
        if code == sqlite3.SQLITE_CANTOPEN:
            return StoreUnavailableError(f"store: cannot open {path}: its directory is missing, read-only or "
                                         "not a directory")
        if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return StoreError(f"store: {path} is corrupt or not a kling-monitor store ({text}); "
                              "see `kling-monitor check-store`, then restore a backup or move it aside")
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return StoreError(f"store: {path} is locked by another process ({text})")
        if code == sqlite3.SQLITE_IOERR:
            return StoreError(f"store: I/O error at {path} ({text})")
        return StoreError(f"store: {path}: {text}")
    if isinstance(exc, OSError):
        where = Path(path).parent
        if exc.errno == errno.ENOSPC:
            return StoreError(f"store: disk full at {path}")
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            return StoreUnavailableError(f"store: cannot create the directory {where}: a file is in the way")
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return StoreUnavailableError(f"store: cannot create the directory {where}: "
                                         f"{exc.strerror or text} (read-only or no permission)")
        return StoreUnavailableError(f"store: cannot create the directory {where}: {exc.strerror or text}")
    return StoreError(f"store: {path}: {type(exc).__name__}: {text}")


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
        CREATE TABLE story_bands (              -- one b-tree: the lookup key covers story_id
            band INTEGER NOT NULL,
            hash INTEGER NOT NULL,
            story_id INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
            PRIMARY KEY (band, hash, story_id)
        ) WITHOUT ROWID;
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
            created TEXT NOT NULL,
            key TEXT UNIQUE,                    -- idempotency: one claim per (doc, figure)
            decision TEXT,                      -- new_figure | revised_figure | corroborated | conflict | part ...
            alt_value REAL,                     -- the same figure in a second currency (RMB 26B beside $3.6B)
            alt_unit TEXT
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


@migrations(name="0002_entry_outlet")
def _m0002(db: Database) -> None:
    # Aggregators (Google News) host every item on their own domain; the publisher is named apart.
    db.execute("ALTER TABLE entries ADD COLUMN outlet_url TEXT")


@migrations(name="0003_i13_controls")
def _m0003_i13(db: Database) -> None:
    # Operator controls that must outlive a restart: paused feeds and Slack mutes.
    # One statement at a time (not executescript, which commits): the migration stays one transaction.
    for statement in """
        CREATE TABLE IF NOT EXISTS feed_pauses (
            name TEXT PRIMARY KEY,
            until TEXT,                         -- NULL: until resumed
            created TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS mutes (
            id INTEGER PRIMARY KEY,
            entity TEXT,                        -- NULL: any entity
            type TEXT,                          -- NULL: any alert type
            until TEXT NOT NULL,
            created TEXT NOT NULL
        )
        """.split(";"):
        if statement.strip():
            db.execute(statement)


@migrations(name="0004_i15_ledger")
def _m0004(db: Database) -> None:
    # Claim identity is (subject, kind, basis, period); status keeps planned, guidance and actual apart.
    # Reviews are keyed by the claim's idempotency key so that replay of the same documents honours them.
    # The outbox holds a reference to its event (event_key) and renders when it sends: payload is legacy.
    # One statement at a time (not executescript, which commits): the migration stays one transaction.
    for statement in """
        ALTER TABLE claims ADD COLUMN basis TEXT NOT NULL DEFAULT '';
        ALTER TABLE claims ADD COLUMN status TEXT NOT NULL DEFAULT 'reported';
        CREATE INDEX claims_identity ON claims (subject, kind, basis, period);
        CREATE TABLE claim_reviews (
            claim_key TEXT PRIMARY KEY,
            verdict TEXT NOT NULL,              -- confirmed | rejected
            why TEXT,
            at TEXT NOT NULL
        );
        CREATE TABLE outbox_v3 (
            id INTEGER PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            event_key TEXT NOT NULL,            -- the event (events.key) this row delivers
            transport TEXT NOT NULL,
            target TEXT,
            thread_key TEXT,
            payload TEXT,                       -- legacy rows only: the rendered event JSON
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt TEXT NOT NULL,
            last_error TEXT,
            remote_id TEXT,
            created TEXT NOT NULL,
            sent_at TEXT,
            thread_only INTEGER NOT NULL DEFAULT 0  -- low-severity: a reply in the claim's thread or nothing
        );
        INSERT INTO outbox_v3 (id, idempotency_key, event_key, transport, target, thread_key, payload, status,
                               attempts, next_attempt, last_error, remote_id, created, sent_at)
            SELECT id, idempotency_key, event_key, transport, target, thread_key, payload, status, attempts,
                   next_attempt, last_error, remote_id, created, sent_at FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_v3 RENAME TO outbox;
        CREATE INDEX outbox_due ON outbox (status, next_attempt);
        CREATE INDEX events_key_thread ON events (json_extract(payload, '$.thread_key'))
        """.split(";"):
        if statement.strip():
            db.execute(statement)


@migrations(name="0005_i12_story_identity")
def _m0005(db: Database) -> None:
    # One entry per article whichever feeds carry it: each feed's teaser lives in entry_feeds.
    # Pages keep their validators for conditional re-checks; relevant entries keep a re-check time.
    # Stories keep their URL identity, anchors (figures, names) and language for copy detection.
    # One statement at a time (not executescript, which commits): the migration stays one transaction.
    for statement in """
        ALTER TABLE entries ADD COLUMN url_key TEXT;
        ALTER TABLE entries ADD COLUMN recheck_at TEXT;      -- next page re-check (relevant entries)
        ALTER TABLE entries ADD COLUMN rechecks INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE entry_feeds (
            entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            feed TEXT NOT NULL,
            guid TEXT,
            title TEXT NOT NULL,
            summary TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            updated TEXT,
            first_seen TEXT NOT NULL,
            last_changed TEXT NOT NULL,
            PRIMARY KEY (entry_id, feed)
        );
        CREATE INDEX entry_feeds_guid ON entry_feeds (feed, guid);
        ALTER TABLE pages ADD COLUMN etag TEXT;
        ALTER TABLE pages ADD COLUMN last_modified TEXT;
        ALTER TABLE stories ADD COLUMN url_key TEXT;
        ALTER TABLE stories ADD COLUMN anchors TEXT;         -- space-separated figures and names
        ALTER TABLE stories ADD COLUMN lang TEXT;
        ALTER TABLE stories ADD COLUMN relevant INTEGER NOT NULL DEFAULT 1;  -- 0: clustered only to know its copies
        INSERT INTO entry_feeds (entry_id, feed, guid, title, summary, content_hash, updated, first_seen,
                                 last_changed)
            SELECT id, feed, guid, title, summary, content_hash, updated, first_seen, last_changed FROM entries
        """.split(";"):
        if statement.strip():
            db.execute(statement)
    for table in ("entries", "stories"):
        col = "url" if table == "entries" else "doc"
        rows = db.execute(f"SELECT id, {col} FROM {table}").fetchall()
        db.conn.executemany(f"UPDATE {table} SET url_key = ? WHERE id = ?", [(url_identity(u), i) for i, u in rows])
    db.execute("CREATE INDEX entries_url_key ON entries (url_key)")
    db.execute("CREATE INDEX entries_recheck ON entries (recheck_at) WHERE recheck_at IS NOT NULL")
    db.execute("CREATE INDEX stories_url_key ON stories (url_key)")


@migrations(name="0006_i12_story_keys")
def _m0006(db: Database) -> None:
    # A story's LSH bands become single integer keys, (band << 56) | the band hash's low 56 bits: a
    # smaller b-tree row, one-column probes (`key IN (...)`), and a third less time looking up and
    # inserting a story's 63 bands than the (band, hash) pairs of story_bands. No foreign key: with
    # one, inserting a story's keys in one statement needs a statement journal (a copy of every page
    # it changes) and costs twice as much. Existing rows convert in SQL, so stored stories keep being
    # found. One statement at a time: one transaction.
    for statement in f"""
        CREATE TABLE story_keys (               -- one b-tree: the lookup key covers story_id
            key INTEGER NOT NULL,
            story_id INTEGER NOT NULL,          -- no foreign key (stories are never deleted)
            PRIMARY KEY (key, story_id)
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO story_keys (key, story_id)
            SELECT (band << 56) | (hash & {(1 << 56) - 1}), story_id FROM story_bands ORDER BY 1, 2;
        DROP TABLE story_bands;
        CREATE INDEX story_keys_story ON story_keys (story_id)
        """.split(";"):
        if statement.strip():
            db.execute(statement)


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
        conn: sqlite3.Connection | None = None
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db = Database(conn)
            self.db.execute("PRAGMA busy_timeout=30000")  # before anything that may wait for a lock
            self._open_schema()
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, (sqlite3.Error, OSError)):
                raise store_error(exc, self.path) from None
            raise
        self._lock = threading.RLock()

    def _open_schema(self) -> None:
        """WAL mode, pragmas and migrations, retried while another process holds the lock.

        The busy timeout covers most waits, but SQLite answers "database is locked" at once, without
        waiting, where waiting could deadlock (switching a fresh file to WAL while another opener reads
        it, or upgrading a read to a write): those are retried here, for up to the same 30 seconds.
        """
        deadline = time.monotonic() + 30
        pause = 0.01
        while True:
            try:
                # A new store's page size (an existing one keeps its own). Entries are text of a few
                # KB: on 16 KB pages a first poll's 20,000 of them are written in a third of the
                # page writes (syscalls) and b-tree splits of 4 KB pages (bench/bench_poll_real.py).
                self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
                self.db.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode survives a process kill; only a power cut may lose the last commit.
                self.db.execute("PRAGMA synchronous=NORMAL")
                # Savepoints (one a feed in a poll's write batch, one around each sqlite-utils query) keep
                # a journal of the pages they change; in memory, not in a temp file written page by page.
                self.db.execute("PRAGMA temp_store=MEMORY")
                self.db.execute("PRAGMA foreign_keys=ON")
                self._migrate()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def _migrate(self) -> None:
        """Bring the schema to SCHEMA_VERSION, safely when several processes open a fresh store at once.

        The write lock is taken up front (BEGIN IMMEDIATE waits up to busy_timeout) and the version
        read again under it: the first opener migrates, the others wait and then find nothing to
        do. A deferred transaction would fail instead ("database is locked") when it tried to
        upgrade its read to a write after another opener had committed. (So every migration must be
        transactional: one registered with transactional=False, a VACUUM, cannot run in here.)
        """
        if self._schema_version() == SCHEMA_VERSION and not migrations.pending(self.db):
            return  # the usual case: no write lock needed
        self.db.execute("BEGIN IMMEDIATE")
        try:
            found = self._schema_version()
            migrations.apply(self.db)  # each migration is a savepoint inside this transaction
            if found != SCHEMA_VERSION:
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _schema_version(self) -> int:
        found = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise StoreVersionError(f"store: {self.path} has schema version {found}, newer than this "
                                    f"kling-monitor knows ({SCHEMA_VERSION}): upgrade kling-monitor or use another store")
        return found

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self.close()
        if isinstance(exc, sqlite3.Error):
            # A fault met while using the store (disk full, corruption) leaves the block as one clear error.
            raise store_error(exc, self.path) from exc

    @contextmanager
    def atomic(self) -> Iterator[Store]:
        """One write transaction (nested calls become savepoints).

        BEGIN IMMEDIATE takes the write lock up front, waiting up to busy_timeout. A deferred
        BEGIN that reads first and writes later fails at once with "database is locked" when
        another connection (another daemon thread, a CLI command) committed in between.
        """
        with self._lock:
            if self.db.conn.in_transaction:
                with self.db.atomic():  # a savepoint inside the caller's transaction
                    yield self
                return
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params))

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a SELECT as dicts, without the savepoint sqlite-utils' `query` wraps around every
        statement (two more statements each time): for the reads made for every story clustered."""
        cur = self.db.conn.execute(sql, params)
        keys = [d[0] for d in cur.description]
        return [dict(zip(keys, row, strict=True)) for row in cur]

    def integrity_check(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    def integrity_problems(self, limit: int = 20) -> list[str]:
        """PRAGMA integrity_check reads every page: [] when the store is sound, else up to `limit` problems."""
        rows = [str(r[0]) for r in self.db.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()]
        return [] if rows == ["ok"] else rows

    # ------------------------------------------------------------ meta

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        [key, value])

    # ------------------------------------------------------------ feeds (fetch stage)

    def sync_feeds(self, feeds: Iterable[tuple[str, str, int]]) -> None:
        """Make the feeds table hold the configured feeds (name, url, interval); keep their state.

        The stored intervals and URLs are read once and only what differs is written: a poll of
        1,000 unchanged feeds starts without 4,000 statements.
        """
        with self.atomic():
            intervals = {r[0]: r[1] for r in self.db.execute("SELECT name, interval FROM feeds")}
            urls = {r[0][len("feed_url:"):]: r[1] for r in self.db.execute(
                "SELECT key, value FROM meta WHERE substr(key, 1, 9) = 'feed_url:'")}
            for name, url, interval in feeds:
                if name not in intervals:
                    self.db.execute(
                        "INSERT INTO feeds (name, url, interval, next_poll) VALUES (?, ?, ?, ?)",
                        [name, url, interval, iso(utcnow())],
                    )
                else:
                    if intervals[name] != interval:
                        self.db.execute("UPDATE feeds SET interval = ? WHERE name = ?", [interval, name])
                    # A changed URL in the config wins over a stored permanent redirect only when it
                    # differs from what was configured before; keep it simple: config is the truth.
                    if urls.get(name) != url:
                        self.db.execute(
                            "UPDATE feeds SET url = ?, etag = NULL, last_modified = NULL, body_hash = NULL"
                            " WHERE name = ?", [url, name])
                intervals[name] = interval
                if urls.get(name) != url:
                    self.set_meta(f"feed_url:{name}", url)
                    urls[name] = url

    def feed_states(self) -> dict[str, dict[str, Any]]:
        """Every feed's state by name: one query for a poll, instead of one per feed."""
        return {r["name"]: r for r in self.query("SELECT * FROM feeds")}

    def feeds(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM feeds ORDER BY name")

    def due_feeds(self, now: datetime) -> list[dict[str, Any]]:
        """Feeds whose next poll has come, paused ones left out."""
        return self.query("SELECT * FROM feeds WHERE (next_poll IS NULL OR next_poll <= ?) AND name NOT IN"
                          " (SELECT name FROM feed_pauses WHERE until IS NULL OR until > ?) ORDER BY next_poll",
                          [iso(now), iso(now)])

    # ------------------------------------------------------------ operator controls (pauses, mutes)

    def pause_feed(self, name: str, *, until: datetime | None, now: datetime) -> None:
        self.db.execute("INSERT INTO feed_pauses (name, until, created) VALUES (?, ?, ?) ON CONFLICT(name)"
                        " DO UPDATE SET until = excluded.until, created = excluded.created",
                        [name, iso(until), iso(now)])

    def resume_feed(self, name: str) -> bool:
        return bool(self.db.execute("DELETE FROM feed_pauses WHERE name = ?", [name]).rowcount)

    def paused_feeds(self, now: datetime) -> dict[str, str | None]:
        """Paused feed name -> until (None: until resumed); expired pauses are not listed."""
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT name, until FROM feed_pauses WHERE until IS NULL OR until > ? ORDER BY name", [iso(now)])}

    def add_mute(self, *, entity: str | None, type: str | None, until: datetime, now: datetime) -> int:
        cur = self.db.execute("INSERT INTO mutes (entity, type, until, created) VALUES (?, ?, ?, ?)",
                              [entity, type, iso(until), iso(now)])
        return int(cur.lastrowid or 0)

    def remove_mutes(self, *, entity: str | None = None, type: str | None = None) -> int:
        """Remove the mutes with exactly these filters; with neither, every mute."""
        if entity is None and type is None:
            return int(self.db.execute("DELETE FROM mutes").rowcount)
        return int(self.db.execute("DELETE FROM mutes WHERE lower(entity) IS lower(?) AND type IS ?",
                                   [entity, type]).rowcount)

    def active_mutes(self, now: datetime) -> list[dict[str, Any]]:
        return self.query("SELECT id, entity, type, until, created FROM mutes WHERE until > ? ORDER BY id",
                          [iso(now)])

    def muted(self, *, entity: str | None, type: str, now: datetime) -> bool:
        """Is an alert of this type about this entity muted now? (A mute's NULL filter matches anything.)"""
        row = self.db.execute(
            "SELECT 1 FROM mutes WHERE until > ? AND (entity IS NULL OR lower(entity) = lower(?))"
            " AND (type IS NULL OR type = ?) LIMIT 1", [iso(now), entity or "", type]).fetchone()
        return row is not None

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

        One entry per article, whichever feeds carry it: by URL identity (`http://www.` and
        `https://` alike) or by a feed's GUID. Each feed's teaser is kept with that feed in
        `entry_feeds`; another feed's teaser is never a new version. The entry's version moves
        only when the feed that brought it changes the entry's content. When any feed changes its
        teaser or `updated`, a relevant entry's page is due for a re-check (`recheck_at`). Call
        inside `atomic()` together with `record_fetch` so a poll is one transaction.
        """
        batch: list[tuple[Entry, str]] = []
        seen: set[str] = set()
        for e in entries:
            key = url_identity(e.url)
            if key not in seen:
                seen.add(key)
                batch.append((e, key))
        if not batch:
            return []
        conn = self.db.conn
        # Existing rows, looked up for the whole batch at once (a few queries instead of a few per entry).
        by_key = {r[0]: r[1:] for r in _select_in(conn, f"SELECT url_key, {_ENTRY_COLS} FROM entries WHERE",
                                                  "url_key", [k for _, k in batch])}
        by_guid: dict[tuple[str, str], tuple[Any, ...]] = {}
        wanted: dict[str, list[str]] = {}
        for e, key in batch:
            if e.guid and key not in by_key:
                wanted.setdefault(e.feed, []).append(e.guid)
        for feed, guids in wanted.items():
            sql = (f"SELECT f.guid, {_ENTRY_COLS_E} FROM entry_feeds f JOIN entries e ON e.id = f.entry_id"
                   " WHERE f.feed = ? AND f.")
            for r in _select_in(conn, sql, "guid", guids, feed):
                by_guid[(feed, r[0])] = r[1:]
        ids = sorted({int(r[0]) for r in [*by_key.values(), *by_guid.values()]})
        teasers: dict[tuple[int, str], tuple[str, str | None]] = {
            (int(r[0]), r[1]): (r[2], r[3])
            for r in _select_in(conn, "SELECT entry_id, feed, content_hash, updated FROM entry_feeds WHERE",
                                "entry_id", [str(i) for i in ids])}
        out: list[StoredEntry] = []
        now_s = iso(now)
        for e, key in batch:
            content_hash = _content_hash(e.title, e.summary)
            updated = iso(e.updated)
            row = by_key.get(key)
            if row is None and e.guid:
                row = by_guid.get((e.feed, e.guid))
            if row is None:
                cur = conn.execute(
                    "INSERT INTO entries (url, feed, guid, title, summary, content_hash, published,"
                    " published_from_fetch, updated, author, language, link, outlet_url, first_seen, last_changed,"
                    " url_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [e.url, e.feed, e.guid, e.title, e.summary, content_hash, iso(e.published),
                     int(e.published_from_fetch), updated, e.author, e.language, e.link, e.outlet_url,
                     now_s, now_s, key])
                if cur.rowcount:
                    new_id = int(cur.lastrowid or 0)
                    self._upsert_teaser(new_id, e, content_hash, now_s, owner=True)
                    teasers[(new_id, e.feed)] = (content_hash, updated)
                    out.append(StoredEntry(new_id, e, "new", 1))
                    # later entries of this batch with the same GUID meet this row, as in the table
                    fresh_row = (new_id, content_hash, 1, e.title, e.summary, None, e.feed)
                    by_key[key] = fresh_row
                    if e.guid:
                        by_guid[(e.feed, e.guid)] = fresh_row
                continue
            entry_id, old_hash, version, old_title, old_summary, old_full, owner = row
            teaser = teasers.get((int(entry_id), e.feed))
            if teaser == (content_hash, updated):
                continue
            self._upsert_teaser(int(entry_id), e, content_hash, now_s, owner=e.feed == owner)
            teasers[(int(entry_id), e.feed)] = (content_hash, updated)
            if teaser is None:
                continue  # another feed carrying the article: its teaser, not a new version
            if e.feed != owner or old_hash == content_hash:
                # This feed's entry changed, not the article's content: its page may have.
                conn.execute("UPDATE entries SET recheck_at = ? WHERE id = ? AND relevant = 1", [now_s, entry_id])
                continue
            # The article's own content changed: a new version, whose page is fetched again.
            conn.execute(
                "INSERT INTO entry_versions (entry_id, version, title, summary, full_text, replaced_at)"
                " VALUES (?, ?, ?, ?, ?, ?)", [entry_id, version, old_title, old_summary, old_full, now_s])
            conn.execute(
                "UPDATE entries SET title = ?, summary = ?, content_hash = ?, updated = ?, author = ?,"
                " version = version + 1, last_changed = ?, full_text = NULL WHERE id = ?",
                [e.title, e.summary, content_hash, iso(e.updated or now), e.author, now_s, entry_id])
            previous = old_full or f"{old_title}\n\n{old_summary}"
            out.append(StoredEntry(entry_id, e, "updated", version + 1, previous))
            fresh = (entry_id, content_hash, version + 1, e.title, e.summary, None, owner)
            by_key[key] = fresh
            if e.guid:
                by_guid[(e.feed, e.guid)] = fresh
        return out

    def _upsert_teaser(self, entry_id: int, e: Entry, content_hash: str, now_s: str | None, *, owner: bool) -> None:
        """The feed's teaser of the entry. The owning feed's text is the entry's own (only that feed
        moves the entry's title and summary), so it is not written twice: `entry_feeds` reads it
        from the entry. That halves the text a first poll writes."""
        title, summary = ("", "") if owner else (e.title, e.summary)
        self.db.conn.execute(
            "INSERT INTO entry_feeds (entry_id, feed, guid, title, summary, content_hash, updated, first_seen,"
            " last_changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(entry_id, feed) DO UPDATE SET"
            " guid = excluded.guid, title = excluded.title, summary = excluded.summary,"
            " content_hash = excluded.content_hash, updated = excluded.updated, last_changed = excluded.last_changed",
            [entry_id, e.feed, e.guid, title, summary, content_hash, iso(e.updated), now_s, now_s])

    def entry_feeds(self, entry_id: int) -> list[dict[str, Any]]:
        """Each feed's teaser of an entry, first feed first."""
        return self.query(
            "SELECT f.entry_id, f.feed, f.guid, CASE WHEN f.feed = e.feed THEN e.title ELSE f.title END AS title,"
            " CASE WHEN f.feed = e.feed THEN e.summary ELSE f.summary END AS summary, f.content_hash, f.updated,"
            " f.first_seen, f.last_changed FROM entry_feeds f JOIN entries e ON e.id = f.entry_id"
            " WHERE f.entry_id = ? ORDER BY f.first_seen, f.feed", [entry_id])

    def entry(self, entry_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM entries WHERE id = ?", [entry_id])
        return rows[0] if rows else None

    def entry_versions(self, entry_id: int) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM entry_versions WHERE entry_id = ? ORDER BY version", [entry_id])

    def list_entries(self, *, since: datetime | None = None, relevant_only: bool = False,
                     feed: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if since is not None:
            where.append("published >= ?")
            params.append(iso(since))
        if relevant_only:
            where.append("relevant = 1")
        if feed:  # every article the feed carries, including those another feed brought first
            where.append("(feed = ? OR id IN (SELECT entry_id FROM entry_feeds WHERE feed = ?))")
            params += [feed, feed]
        params.append(limit)
        return self.query(
            "SELECT id, url, feed, guid, title, summary, published, published_from_fetch, updated, author,"
            " language, first_seen, version, relevant, entities, facts FROM entries WHERE "
            + " AND ".join(where) + " ORDER BY published DESC, id DESC LIMIT ?", params)

    def count_entries(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM entries").fetchone()[0])

    def feed_first_ok(self, feed: str) -> str | None:
        """When the feed was first fetched successfully (its backlog's first_seen), as stored.

        Remembered in meta once known, since housekeeping prunes the fetch log.
        """
        key = f"feed_first_ok:{feed}"
        known = self.get_meta(key)
        if known:
            return known
        row = self.db.execute("SELECT min(at) FROM fetch_log WHERE feed = ? AND status IN ('ok', 'not_modified')",
                              [feed]).fetchone()
        if row and row[0]:
            self.set_meta(key, row[0])
            return str(row[0])
        return None

    def unprocessed_entries(self, limit: int = 500, *, after: int = 0) -> list[dict[str, Any]]:
        """Entries whose current version the understanding stages have not seen (crash-safe resume),
        by id from `after` on (so one pass walks a backlog in batches, each entry once)."""
        return self.query("SELECT * FROM entries WHERE processed_version < version AND id > ? ORDER BY id LIMIT ?",
                          [after, limit])

    def count_unprocessed(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM entries WHERE processed_version < version").fetchone()[0])

    def mark_unmatched(self, rows: Sequence[tuple[int, int, str, str | None]]) -> None:
        """Mark many entries processed as naming no watched entity, in ONE statement: (id, version, facts
        as JSON, full_text) each. A backlog of entries that cannot match costs one short write, not one per entry."""
        self.db.conn.executemany(
            "UPDATE entries SET processed_version = ?, relevant = 0, entities = '[]', facts = ?,"
            " full_text = coalesce(?, full_text) WHERE id = ?",
            [(version, facts, full, entry_id) for entry_id, version, facts, full in rows])

    def mark_processed(self, entry_id: int, version: int, *, relevant: bool, entities: list[str],
                       facts: dict[str, Any] | None, full_text: str | None = None) -> None:
        self.db.execute(
            "UPDATE entries SET processed_version = ?, relevant = ?, entities = ?, facts = ?,"
            " full_text = coalesce(?, full_text) WHERE id = ?",
            [version, int(relevant), json.dumps(entities, ensure_ascii=False),
             json.dumps(facts, ensure_ascii=False) if facts is not None else None, full_text, entry_id])

    def record_process_failure(self, entry_id: int, failure: dict[str, Any]) -> None:
        """Note a failed understanding pass without marking the entry processed (it is retried)."""
        self.db.execute("UPDATE entries SET facts = ? WHERE id = ?", [json.dumps(failure), entry_id])

    # ------------------------------------------------------------ full-text page cache

    def cached_page(self, url: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM pages WHERE url = ?", [url])
        return rows[0] if rows else None

    def cache_page(self, url: str, *, status: str, text: str | None, error: str | None, at: datetime,
                   etag: str | None = None, last_modified: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO pages (url, fetched_at, status, text, error, etag, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(url) DO UPDATE SET fetched_at = excluded.fetched_at, status = excluded.status,"
            " text = excluded.text, error = excluded.error, etag = excluded.etag,"
            " last_modified = excluded.last_modified", [url, iso(at), status, text, error, etag, last_modified])

    def touch_page(self, url: str, *, at: datetime) -> None:
        """A re-check found the page unchanged (304, or the same text): only its check time moves."""
        self.db.execute("UPDATE pages SET fetched_at = ? WHERE url = ?", [iso(at), url])

    # ------------------------------------------------------------ page re-checks of relevant stories

    def due_rechecks(self, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
        """Relevant entries whose page is due for a re-check, oldest due first."""
        return self.query("SELECT * FROM entries WHERE recheck_at IS NOT NULL AND recheck_at <= ?"
                          " ORDER BY recheck_at, id LIMIT ?", [iso(now), limit])

    def schedule_recheck(self, entry_id: int, at: datetime | None) -> None:
        self.db.execute("UPDATE entries SET recheck_at = ?, rechecks = rechecks + (recheck_at IS NOT NULL)"
                        " WHERE id = ?", [iso(at), entry_id])

    def replace_entry_text(self, entry_id: int, text: str, *, now: datetime) -> int:
        """The article's page changed: a new version with this text (the old one kept); returns it."""
        row = self.db.execute("SELECT version, title, summary, full_text FROM entries WHERE id = ?",
                              [entry_id]).fetchone()
        if row is None:
            return 0
        version, title, summary, full = row
        self.db.execute(
            "INSERT INTO entry_versions (entry_id, version, title, summary, full_text, replaced_at)"
            " VALUES (?, ?, ?, ?, ?, ?)", [entry_id, version, title, summary, full, iso(now)])
        self.db.execute("UPDATE entries SET full_text = ?, version = version + 1, last_changed = ? WHERE id = ?",
                        [text, iso(now), entry_id])
        return int(version) + 1

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
    # (methods for stories / story_keys / clusters go here)

    def story_by_doc(self, doc: str, *, url_key: str | None = None) -> dict[str, Any] | None:
        """The story of a document key, or of another spelling of its URL (same `url_key`)."""
        # Every story's url_key is its doc's URL identity, so one index probe finds both.
        rows = self._select("SELECT s.*, c.size AS cluster_size FROM stories s JOIN clusters c ON c.id = s.cluster_id"
                            " WHERE s.url_key = ? ORDER BY s.doc = ? DESC, s.id LIMIT 1",
                            [url_key or url_identity(doc), doc])
        return rows[0] if rows else None

    def story_candidates(self, keys: list[int]) -> list[dict[str, Any]]:
        """Stories sharing at least one LSH band key with `keys`: one index probe per key, never a scan."""
        if not keys:
            return []
        return self._select(_candidates_sql(len(keys)), keys)

    def story_lookup_plan(self, nkeys: int = 4) -> list[str]:
        """The query plan of the band lookup (tests check it searches the key index, never scans)."""
        sql = "EXPLAIN QUERY PLAN " + _candidates_sql(nkeys)
        return [str(r[3]) for r in self.db.execute(sql, [0] * nkeys).fetchall()]

    def new_cluster(self, *, title: str | None, first_seen: datetime) -> int:
        cur = self.db.execute("INSERT INTO clusters (title, first_seen, size) VALUES (?, ?, 0)",
                              [title, iso(first_seen)])
        return int(cur.lastrowid or 0)

    def insert_story(self, *, doc: str, entry_id: int | None, cluster_id: int, title: str | None,
                     outlet: str | None, published: datetime | None, signature: bytes | None,
                     keys: Iterable[int], created: datetime, url_key: str | None = None,
                     anchors: str | None = None, lang: str | None = None, relevant: bool = True) -> int:
        """Add a story, its band keys, and grow its cluster (call inside `atomic`)."""
        cur = self.db.execute(
            "INSERT INTO stories (doc, entry_id, cluster_id, title, outlet, published, signature, created,"
            " url_key, anchors, lang, relevant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [doc, entry_id, cluster_id, title, outlet, iso(published), signature, iso(created), url_key or doc,
             anchors, lang, int(relevant)])
        story_id = int(cur.lastrowid or 0)
        keys = list(keys)
        if keys:  # one statement for all of them: half the time of an executemany row by row
            self.db.conn.execute("INSERT OR IGNORE INTO story_keys (key, story_id) SELECT column1, ? FROM"
                                 f" (VALUES {', '.join(['(?)'] * len(keys))})", [story_id, *keys])
        self.db.execute("UPDATE clusters SET size = size + 1 WHERE id = ?", [cluster_id])
        return story_id

    def bulk_insert_stories(self, rows: Iterable[tuple[str, str | None, bytes, list[int], str | None]],
                            *, created: datetime) -> int:
        """Load many (doc, title, signature, keys, anchors) stories, one cluster each, in one transaction (bench)."""
        n = 0
        key_rows: list[tuple[int, int]] = []
        with self.atomic():
            for doc, title, signature, keys, anchors in rows:
                cid = self.new_cluster(title=title, first_seen=created)
                cur = self.db.conn.execute(
                    "INSERT INTO stories (doc, cluster_id, title, signature, created, url_key, anchors)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)", [doc, cid, title, signature, iso(created), doc, anchors])
                sid = int(cur.lastrowid or 0)
                key_rows.extend((k, sid) for k in keys)
                self.db.conn.execute("UPDATE clusters SET size = 1 WHERE id = ?", [cid])
                n += 1
            key_rows.sort()  # key order: b-tree appends instead of random page splits
            self.db.conn.executemany("INSERT OR IGNORE INTO story_keys (key, story_id) VALUES (?, ?)", key_rows)
        return n

    def cluster(self, cluster_id: int) -> dict[str, Any] | None:
        rows = self._select("SELECT * FROM clusters WHERE id = ?", [cluster_id])
        return rows[0] if rows else None

    def cluster_first_doc(self, cluster_id: int) -> str | None:
        row = self.db.execute("SELECT doc FROM stories WHERE cluster_id = ? ORDER BY id LIMIT 1",
                              [cluster_id]).fetchone()
        return row[0] if row else None

    def cluster_stories(self, cluster_id: int) -> list[dict[str, Any]]:
        return self.query("SELECT id, doc, outlet, title, published FROM stories WHERE cluster_id = ? ORDER BY id",
                          [cluster_id])

    def mark_cluster_announced(self, cluster_id: int) -> None:
        self.db.execute("UPDATE clusters SET announced = 1 WHERE id = ?", [cluster_id])

    def prune_story_bands(self, *, keep: int) -> int:
        """Drop band keys and signatures of all but the newest `keep` stories (the clustering window)."""
        row = self.db.execute("SELECT max(id) FROM stories").fetchone()
        if not row or row[0] is None:
            return 0
        cutoff = int(row[0]) - keep
        low = self.db.execute("SELECT min(story_id) FROM story_keys").fetchone()[0]
        if low is None or low > cutoff:
            return 0
        cur = self.db.execute("DELETE FROM story_keys WHERE story_id BETWEEN ? AND ?", [low, cutoff])
        self.db.execute("UPDATE stories SET signature = NULL WHERE id BETWEEN ? AND ?", [low, cutoff])
        return int(cur.rowcount)

    def count_story_bands(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM story_keys").fetchone()[0])

    def count_stories(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM stories").fetchone()[0])

    # ------------------------------------------------------------ ledger (claims, events)
    # (methods for claims / events go here)

    _CLAIM_COLUMNS = ("subject", "kind", "period", "name", "value", "unit", "value_usd", "qualifier", "range_high",
                      "stage", "speculative", "source_url", "outlet", "tier", "published", "quote", "doc",
                      "cluster_id", "created", "key", "decision", "alt_value", "alt_unit", "basis", "status")
    _CLAIMS = "SELECT c.*, r.verdict AS review, r.why AS review_why FROM claims c LEFT JOIN claim_reviews r" \
              " ON r.claim_key = c.key"

    def insert_claim(self, row: dict[str, Any]) -> int | None:
        """Add one claim; its id, or None when its key is already in the ledger (re-processing a document)."""
        cols = [c for c in self._CLAIM_COLUMNS if c in row]
        cur = self.db.execute(
            f"INSERT INTO claims ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            " ON CONFLICT(key) DO NOTHING", [row[c] for c in cols])
        return int(cur.lastrowid) if cur.rowcount and cur.lastrowid else None

    def has_claim(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM claims WHERE key = ?", [key]).fetchone() is not None

    def claim(self, claim_id: int) -> dict[str, Any] | None:
        rows = self.query(self._CLAIMS + " WHERE c.id = ?", [claim_id])
        return rows[0] if rows else None

    def group_claims(self, subject: str, kind: str, period: str) -> list[dict[str, Any]]:
        """Every claim about one (subject, kind, period), any basis, oldest first."""
        return self.query(self._CLAIMS + " WHERE c.subject = ? AND c.kind = ? AND c.period = ? ORDER BY c.id",
                          [subject, kind, period])

    def figure_claims(self, subject: str, kind: str) -> list[dict[str, Any]]:
        """Every figure claim of a subject and kind (all bases and periods), oldest first, with its review."""
        return self.query(self._CLAIMS + " WHERE c.subject = ? AND c.kind = ? AND c.value IS NOT NULL"
                          " ORDER BY c.id", [subject, kind])

    def max_claim_id(self) -> int:
        """The newest claim's id (0 when none): claims above it were written after this moment."""
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM claims").fetchone()[0])

    def named_claims(self, subject: str, kind: str) -> list[dict[str, Any]]:
        """Claims of a named kind (investor, cloud_partner, product_move, status) for a subject."""
        return self.query(self._CLAIMS + " WHERE c.kind = ? AND c.subject = ? ORDER BY c.id", [kind, subject])

    def claims_history(self, subject: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if subject:
            where.append("lower(c.subject) = lower(?)")
            params.append(subject)
        if kind:
            where.append("c.kind = ?")
            params.append(kind)
        return self.query(self._CLAIMS + " WHERE " + " AND ".join(where)
                          + " ORDER BY c.subject, c.kind, c.basis, c.period, coalesce(c.published, c.created), c.id",
                          params)

    def set_review(self, claim_key: str, verdict: str, *, why: str | None, now: datetime) -> bool:
        """Record a hand review of a claim (the latest wins); False when it already had that verdict."""
        row = self.db.execute("SELECT verdict FROM claim_reviews WHERE claim_key = ?", [claim_key]).fetchone()
        self.db.execute("INSERT INTO claim_reviews (claim_key, verdict, why, at) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT(claim_key) DO UPDATE SET verdict = excluded.verdict, why = excluded.why,"
                        " at = excluded.at", [claim_key, verdict, why, iso(now)])
        return row is None or row[0] != verdict

    def reviews(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM claim_reviews ORDER BY at, claim_key")

    def rejected_claim_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        return {r[0] for r in self.db.execute(
            f"SELECT claim_key FROM claim_reviews WHERE verdict = 'rejected' AND claim_key IN"
            f" ({', '.join('?' for _ in keys)})", list(keys)).fetchall()}

    def insert_event(self, *, key: str, type: str, subject: str | None, kind: str | None, severity: int,
                     payload: dict[str, Any], doc: str | None, created: datetime) -> bool:
        """Add an event unless its idempotency key exists; True only when it was inserted.

        The event is data (payload); `message` and `why` are legacy columns, left empty.
        """
        cur = self.db.execute(
            "INSERT INTO events (key, type, subject, kind, message, why, severity, payload, doc, created)"
            " VALUES (?, ?, ?, ?, '', NULL, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
            [key, type, subject, kind, severity, json.dumps(payload, ensure_ascii=False, sort_keys=True), doc,
             iso(created)])
        return bool(cur.rowcount)

    def event_payload(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT payload FROM events WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else None

    def events_for_doc(self, doc: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM events WHERE doc = ? ORDER BY id", [doc])

    def count_events(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM events").fetchone()[0])

    # ------------------------------------------------------------ delivery (outbox, slack threads, digests)

    def outbox_add(self, *, idempotency_key: str, event_key: str, transport: str, target: str | None,
                   thread_key: str | None, now: datetime, thread_only: bool = False) -> bool:
        """Queue one delivery of an event (by reference); False when that key is already queued."""
        cur = self.db.execute(
            "INSERT INTO outbox (idempotency_key, event_key, transport, target, thread_key, thread_only,"
            " status, attempts, next_attempt, created) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
            " ON CONFLICT(idempotency_key) DO NOTHING",
            [idempotency_key, event_key, transport, target, thread_key, int(thread_only), iso(now), iso(now)])
        return bool(cur.rowcount)

    def outbox_get(self, row_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM outbox WHERE id = ?", [row_id])
        return rows[0] if rows else None

    def outbox_rows(self, status: str | None = None, *, limit: int = 1000) -> list[dict[str, Any]]:
        if status:
            return self.query("SELECT * FROM outbox WHERE status = ? ORDER BY id LIMIT ?", [status, limit])
        return self.query("SELECT * FROM outbox ORDER BY id LIMIT ?", [limit])

    def outbox_due(self, now: datetime, *, limit: int = 500) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM outbox WHERE status = 'pending' AND next_attempt <= ?"
                          " ORDER BY id LIMIT ?", [iso(now), limit])

    def outbox_blocking(self, row_id: int, transport: str, target: str | None, thread_key: str) -> bool:
        """Is an earlier row of the same thread still unsent? Then this one waits for its ts."""
        row = self.db.execute(
            "SELECT 1 FROM outbox WHERE id < ? AND transport = ? AND target IS ? AND thread_key = ?"
            " AND status IN ('pending', 'sending') LIMIT 1", [row_id, transport, target, thread_key]).fetchone()
        return row is not None

    def outbox_mark_sending(self, row_id: int, now: datetime) -> None:
        self.db.execute("UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt = ?"
                        " WHERE id = ?", [iso(now), row_id])

    def outbox_mark_sent(self, row_id: int, *, remote_id: str | None, now: datetime,
                         note: str | None = None) -> None:
        self.db.execute("UPDATE outbox SET status = 'sent', remote_id = ?, sent_at = ?, last_error = ?"
                        " WHERE id = ?", [remote_id, iso(now), note, row_id])

    def outbox_mark_failed(self, row_id: int, *, error: str, next_attempt: datetime, park: bool) -> None:
        self.db.execute("UPDATE outbox SET status = ?, last_error = ?, next_attempt = ? WHERE id = ?",
                        ["parked" if park else "pending", error[:1000], iso(next_attempt), row_id])

    def outbox_reschedule(self, row_id: int, next_attempt: datetime, *, status: str = "pending",
                          note: str | None = None) -> None:
        """Move a row's next attempt without counting a failure (quiet hours, waiting for a thread)."""
        self.db.execute("UPDATE outbox SET status = ?, next_attempt = ?, last_error = coalesce(?, last_error)"
                        " WHERE id = ?", [status, iso(next_attempt), note, row_id])

    def outbox_retry(self, row_id: int, now: datetime) -> bool:
        """Parked -> pending with attempts reset; False when the row is not parked."""
        cur = self.db.execute("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = ?"
                              " WHERE id = ? AND status = 'parked'", [iso(now), row_id])
        return bool(cur.rowcount)

    def outbox_retry_all(self, now: datetime) -> int:
        """Every parked row back to pending with attempts reset; the number re-queued."""
        cur = self.db.execute("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = ?"
                              " WHERE status = 'parked'", [iso(now)])
        return int(cur.rowcount)

    def outbox_counts(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in
                self.db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()}

    def slack_thread(self, thread_key: str, channel: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM slack_threads WHERE thread_key = ? AND channel = ?", [thread_key, channel])
        return rows[0] if rows else None

    def slack_thread_posted(self, thread_key: str, channel: str, *, ts: str, now: datetime) -> None:
        """Remember the first alert's ts for a figure (the first one wins); bump last_post."""
        self.db.execute(
            "INSERT INTO slack_threads (thread_key, channel, ts, last_post) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(thread_key, channel) DO UPDATE SET last_post = excluded.last_post",
            [thread_key, channel, ts, iso(now)])

    def digest_row(self, scheduled_for: datetime) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM digests WHERE scheduled_for = ?", [iso(scheduled_for)])
        return rows[0] if rows else None

    def digest_last_covered(self) -> datetime | None:
        """End of the period the last sent (or deliberately empty) digest covered."""
        row = self.db.execute("SELECT max(period_end) FROM digests WHERE status IN ('sent', 'empty')").fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def digest_begin(self, *, scheduled_for: datetime, period_start: datetime, period_end: datetime,
                     message_id: str, status: str = "sending") -> bool:
        """Claim a slot (committed before any SMTP traffic); False when someone already holds it."""
        with self.atomic():
            row = self.db.execute("SELECT status FROM digests WHERE scheduled_for = ?",
                                  [iso(scheduled_for)]).fetchone()
            if row is None:
                self.db.execute(
                    "INSERT INTO digests (scheduled_for, period_start, period_end, status, message_id, attempts)"
                    " VALUES (?, ?, ?, ?, ?, 1)",
                    [iso(scheduled_for), iso(period_start), iso(period_end), status, message_id])
                return True
            if row[0] != "failed":
                return False
            self.db.execute(
                "UPDATE digests SET status = ?, period_start = ?, period_end = ?, message_id = ?,"
                " attempts = attempts + 1 WHERE scheduled_for = ?",
                [status, iso(period_start), iso(period_end), message_id, iso(scheduled_for)])
            return True

    def digest_finish(self, scheduled_for: datetime, *, status: str, now: datetime,
                      error: str | None = None) -> None:
        self.db.execute("UPDATE digests SET status = ?, last_error = ?, sent_at = ? WHERE scheduled_for = ?",
                        [status, error[:1000] if error else None,
                         iso(now) if status in ("sent", "empty") else None, iso(scheduled_for)])

    def digest_rows(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM digests ORDER BY scheduled_for DESC LIMIT ?", [limit])

    def events_between(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Events created in [since, until), oldest first (the digest's material)."""
        return self.query("SELECT * FROM events WHERE created >= ? AND created < ? ORDER BY created, id",
                          [iso(since), iso(until)])

    def events_for_thread(self, thread_key: str, until: datetime) -> list[dict[str, Any]]:
        """Every figure event of one thread up to `until` (for the digest's little chart)."""
        return self.query(
            "SELECT * FROM events WHERE json_extract(payload, '$.thread_key') = ? AND created < ?"
            " ORDER BY created, id", [thread_key, iso(until)])

    def top_clusters(self, since: datetime, until: datetime, limit: int = 5) -> list[dict[str, Any]]:
        """Story clusters that grew in [since, until), biggest first, with distinct outlets."""
        return self.query(
            "SELECT s.cluster_id AS id, coalesce(c.title, min(s.title)) AS title,"
            " count(*) AS new_stories, coalesce(c.size, count(*)) AS size,"
            " count(DISTINCT coalesce(s.outlet, s.doc)) AS sources,"
            " group_concat(DISTINCT s.outlet) AS outlets"
            " FROM stories s LEFT JOIN clusters c ON c.id = s.cluster_id"
            " WHERE s.created >= ? AND s.created < ? AND s.relevant = 1 GROUP BY s.cluster_id"
            " ORDER BY size DESC, sources DESC, s.cluster_id LIMIT ?", [iso(since), iso(until), limit])


def _candidates_sql(nkeys: int) -> str:
    return ("SELECT s.id, s.doc, s.cluster_id, s.title, s.signature, s.anchors, s.lang, s.published, k.hits FROM"
            f" (SELECT story_id, count(*) AS hits FROM story_keys WHERE key IN ({', '.join('?' * nkeys)})"
            " GROUP BY story_id) k JOIN stories s ON s.id = k.story_id ORDER BY s.id")


_ENTRY_COLS = "id, content_hash, version, title, summary, full_text, feed"
_ENTRY_COLS_E = "e.id, e.content_hash, e.version, e.title, e.summary, e.full_text, e.feed"
_IN_CHUNK = 500  # bound parameters per IN (...) query, well under SQLite's limit


def _select_in(conn: sqlite3.Connection, sql: str, column: str, values: list[str], *fixed: Any) -> Iterator[Any]:
    """Rows of `sql ... column IN (values)`, queried in chunks of bound parameters; `fixed` parameters
    (those of `sql` itself) come first."""
    for i in range(0, len(values), _IN_CHUNK):
        chunk = values[i : i + _IN_CHUNK]
        yield from conn.execute(f"{sql} {column} IN ({','.join('?' * len(chunk))})", [*fixed, *chunk])


def _content_hash(title: str, summary: str) -> str:
    return hashlib.blake2b(f"{title}\x00{summary}".encode(), digest_size=16).hexdigest()
