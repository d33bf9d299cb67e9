"""Ingestion: poll the due feeds concurrently and store their entries; then understand them.

    poll:    due feeds -> fetch (concurrent) -> parse -> normalize -> store   (one transaction per feed)
    process: unprocessed entries -> match -> full text -> pipeline (cluster, extract, ledger, outbox)

The two halves meet only in the store: an entry is stored with `processed_version < version`
and `process_pending` picks it up, so a kill between them loses nothing, and re-running
either is harmless.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import json
import logging
import multiprocessing
import os
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from monitor.config import Config, FeedConfig
from monitor.models import Document, Entry, Event, FetchResult, ParsedFeed
from monitor.normalize import normalize_entries
from monitor.parse import parse_feed
from monitor.timefmt import parse_iso, utcnow

if TYPE_CHECKING:  # aiohttp (with its TLS set-up) loads when the first fetcher is made, not on import
    from monitor.fetch import Fetcher, FetchLimits
    from monitor.store import Store  # sqlite-utils: not needed by the parse workers

log = logging.getLogger("monitor.ingest")

TEASER_CHARS = 600  # a summary shorter than this is a teaser: fetch the article for the full text
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    name: str
    status: str  # ok | not_modified | unchanged | error
    new: int = 0
    updated: int = 0
    error: str | None = None
    next_poll: datetime | None = None
    elapsed: float = 0.0
    nbytes: int = 0


@dataclass(frozen=True, slots=True)
class PollSummary:
    outcomes: tuple[FeedOutcome, ...]
    elapsed: float

    def count(self, *statuses: str) -> int:
        return sum(1 for o in self.outcomes if o.status in statuses)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def updated(self) -> int:
        return sum(o.updated for o in self.outcomes)

    def line(self) -> str:
        return (f"{len(self.outcomes)} feeds: {self.count('ok')} ok, "
                f"{self.count('not_modified', 'unchanged')} not modified, {self.count('error')} failed; "
                f"{self.new} new and {self.updated} updated entries in {self.elapsed:.1f}s")


def fetch_limits(cfg: Config) -> FetchLimits:
    from monitor.fetch import FetchLimits

    f = cfg.fetch
    return FetchLimits(concurrency=f.concurrency, per_host=f.per_host, connect_timeout=f.connect_timeout,
                       read_timeout=f.read_timeout, total_timeout=f.total_timeout, max_bytes=f.max_bytes,
                       max_redirects=f.max_redirects, allow_private=f.allow_private)


# ---------------------------------------------------------------- polling


async def poll_feeds(
    store: Store,
    cfg: Config,
    *,
    feeds: Iterable[FeedConfig] | None = None,
    due_only: bool = False,
    now: datetime | None = None,
    fetcher: Fetcher | None = None,
    progress: Callable[[int, int, FeedOutcome], None] | None = None,
) -> PollSummary:
    """Poll feeds concurrently (under the fetcher's global and per-host limits)."""
    started = time.perf_counter()
    now = now or utcnow()
    chosen = list(feeds if feeds is not None else cfg.feeds)
    store.sync_feeds((f.name, f.url, f.interval) for f in chosen)
    if due_only:
        due = {row["name"] for row in store.due_feeds(now)}
        chosen = [f for f in chosen if f.name in due]
    paused = store.paused_feeds(now)  # `feeds pause NAME`: not polled, due or not, until resumed
    chosen = [f for f in chosen if f.name not in paused]
    states = store.feed_states()  # read once: during the poll only the sink's writer thread uses the store
    # When feeds were never read (a first poll), new workers start (import the parser) while this
    # process imports the fetcher and waits for the first answers; else when the first body comes.
    unread = any(not (states.get(f.name) or {}).get("body_hash") for f in chosen)
    pool = parse_pool(cfg.fetch.parse_workers, len(chosen), start=unread)
    from monitor.fetch import Fetcher, origin_of

    own = fetcher is None
    fetcher = fetcher or Fetcher(fetch_limits(cfg))
    outcomes: list[FeedOutcome] = []
    tasks: list[asyncio.Future[FeedOutcome]] = []
    sink: _PollSink | None = None
    try:
        if own:
            await fetcher.__aenter__()

        sink = _PollSink(store, cfg, asyncio.get_running_loop(), pool)
        # A feed with a new body holds a slot from its fetch until it is stored: fetching (fast) runs
        # at most this far ahead of parsing and writing (slow), so a poll holds a bounded number of
        # bodies and results in memory, not all of them. Any other feed gives its slot back at once.
        slots = asyncio.Semaphore(max(cfg.fetch.concurrency, 1))

        async def one(feed: FeedConfig) -> FeedOutcome:
            await slots.acquire()
            holding = True
            try:
                state = states.get(feed.name) or {}
                result = await fetcher.fetch(state.get("url") or feed.url, etag=state.get("etag"),
                                             last_modified=state.get("last_modified"),
                                             private_origin=origin_of(feed.url) if feed.allow_private else None)
                digest = body_digest(result.body) if result.status == "ok" else None
                changed = digest is not None and digest != state.get("body_hash")
                if not changed:  # no body to keep: the next fetch need not wait for this write
                    result = replace(result, body=b"") if result.body else result
                    slots.release()
                    holding = False
                return await sink.submit(_PollItem(feed, state, result, utcnow(), None, digest, changed))
            finally:
                if holding:
                    slots.release()

        tasks = [asyncio.ensure_future(one(f)) for f in chosen]
        for done, fut in enumerate(asyncio.as_completed(tasks), 1):
            outcome = await fut
            outcomes.append(outcome)
            if progress:
                progress(done, len(tasks), outcome)
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if sink is not None:
            await sink.close()
        if own:
            await fetcher.__aexit__(None, None, None)
    outcomes.sort(key=lambda o: o.name)
    return PollSummary(tuple(outcomes), time.perf_counter() - started)


PARSE_QUEUE_PER_WORKER = 4  # jobs a worker holds at once: it stays busy when the main process is slow to hand more
PARSE_JOB_FEEDS = 8  # feeds handed to a worker in one job: a hand-off costs ~0.4 ms of this process's time
WRITE_BATCH_MAX = 100  # feeds per write transaction: few commits, and the write lock is not held for long
STEAL_MAX = 4  # feeds the writer thread parses at a time while the workers are busy (0: it never does)
WRITE_BATCH_MIN = 20  # fewer feeds than this wait (while there is parsing to do) to be written with the next


@dataclass(frozen=True, slots=True)
class _PollItem:
    feed: FeedConfig
    state: dict[str, Any]
    result: FetchResult
    fetched_at: datetime
    parsed: tuple[ParsedFeed, list[Entry]] | None
    digest: str | None
    changed: bool  # a body unlike the last one: it must be parsed

    @property
    def for_workers(self) -> bool:
        """Big enough to be worth the hand-off to a worker process (a small one parses faster here)."""
        return self.changed and self.parsed is None and len(self.result.body) >= PARSE_IN_WORKER_MIN_BYTES


Waiting = tuple[_PollItem, "asyncio.Future[FeedOutcome]"]


class _PollSink:
    """Where a poll's fetched feeds are parsed and written.

    Parsing is the CPU cost of a poll; writing costs the rest. Feeds to parse wait in one queue;
    the worker processes take from its head (PARSE_JOB_FEEDS a job, a few jobs each at a time),
    and the writer thread, while it has too little parsed to write, takes from its tail and parses
    them itself, so every core works whatever their number. Writes are batched: WRITE_BATCH_MIN to
    WRITE_BATCH_MAX feeds a transaction, each in a savepoint, so a feed's entries and its new state
    land together, and a bug met on one feed's data rolls back that feed alone. A transaction per
    feed made a poll of 1,000 feeds spend a third of its time committing; small batches wrote the
    same index pages again at every commit. The writer is one thread of its own, so the event loop
    keeps fetching while SQLite, which releases the GIL, writes.
    """

    def __init__(self, store: Store, cfg: Config, loop: asyncio.AbstractEventLoop,
                 pool: ProcessPoolExecutor | None) -> None:
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        self.store, self.cfg, self.loop, self.pool = store, cfg, loop, pool
        self.to_parse: deque[Waiting] = deque()
        self.to_write: list[Waiting] = []
        self.handed = 0  # parse jobs in the workers' hands
        self.parsed_by_workers = self.parsed_here = 0
        self.in_pool: set[asyncio.Task[None]] = set()
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-writer")
        self.flushing: asyncio.Task[None] | None = None

    def submit(self, item: _PollItem) -> asyncio.Future[FeedOutcome]:
        fut: asyncio.Future[FeedOutcome] = self.loop.create_future()
        if self.pool is not None and item.for_workers:
            self.to_parse.append((item, fut))
            self._hand_to_workers()
        else:
            self.to_write.append((item, fut))  # the writer parses it, if it must be parsed
        self._kick()
        return fut

    def _hand_to_workers(self) -> None:
        while self.pool is not None and self.to_parse and self.handed < PARSE_QUEUE_PER_WORKER * _parse_pool_workers:
            self.handed += 1
            job = [self.to_parse.popleft() for _ in range(min(PARSE_JOB_FEEDS, len(self.to_parse)))]
            task = asyncio.ensure_future(self._parse_in_worker(job))
            self.in_pool.add(task)
            task.add_done_callback(self.in_pool.discard)

    async def _parse_in_worker(self, job: list[Waiting]) -> None:
        results: Sequence[tuple[ParsedFeed, list[Entry]] | BaseException | None] = [None] * len(job)
        try:
            assert self.pool is not None
            results = await self.loop.run_in_executor(
                self.pool, parse_many,
                [(i.result.body, i.result.headers, i.feed.name, i.feed.language, i.fetched_at) for i, _ in job])
        except BrokenProcessPool:  # a dead worker costs parsing here, not the feeds
            log.warning("parse worker died; parsing %s in-process", ", ".join(i.feed.name for i, _ in job))
            reset_parse_pool()
            self.pool = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the job could not run (its result not picklable...): these feeds fail
            results = [exc] * len(job)
        finally:
            self.handed -= 1
            self._hand_to_workers()
        for (item, fut), result in zip(job, results, strict=True):
            parsed = parse_failure(item.feed.name, result) if isinstance(result, BaseException) else result
            self.parsed_by_workers += parsed is not None
            self.to_write.append((replace(item, parsed=parsed), fut))
        self._kick()

    def _kick(self) -> None:
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        while self.to_write or self.to_parse:
            if self.pool is None and self.to_parse:  # no workers (any more): parsed where they are written
                self.to_write.extend(self.to_parse)
                self.to_parse.clear()
            small = self.pool is not None and len(self.to_write) < WRITE_BATCH_MIN
            if small and self.to_parse and STEAL_MAX:
                # A small batch can wait: the newest arrivals are parsed here meanwhile, and written
                # with the next batch (a commit writes every page it changed: small ones cost more).
                take = [self.to_parse.pop() for _ in range(min(STEAL_MAX, len(self.to_parse)))]
                try:
                    parsed = await self.loop.run_in_executor(self.thread, self._parse_here, [i for i, _ in take])
                except BaseException as exc:
                    self._fail(take, exc)
                    continue
                self.to_write.extend((item, fut) for item, (_, fut) in zip(parsed, take, strict=True))
                continue
            if small and self.handed:
                return  # a worker's result is on its way, and starts the next flush: a bigger batch then
            if not self.to_write:  # all of it waits for the workers (which take it now if they have not)
                self._hand_to_workers()
                return
            batch = self.to_write[:WRITE_BATCH_MAX]
            del self.to_write[:len(batch)]
            try:
                outcomes = await self.loop.run_in_executor(self.thread, self._write, [i for i, _ in batch])
            except BaseException as exc:  # the store failed (disk full, locked): these feeds' callers see it
                self._fail(batch, exc)
                continue
            for (_, fut), outcome in zip(batch, outcomes, strict=True):
                if not fut.done():
                    fut.set_result(outcome)

    @staticmethod
    def _fail(waiting: list[Waiting], exc: BaseException) -> None:
        for _, fut in waiting:
            if not fut.done():
                fut.set_exception(exc)
        if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
            raise exc

    def _parse_here(self, items: list[_PollItem]) -> list[_PollItem]:
        """Parse in this process what is still to be parsed (a bug met on a feed's body fails that feed)."""
        done = []
        for item in items:
            if item.parsed is None and item.changed:
                try:
                    parsed = parse_and_normalize(item.result.body, item.result.headers, item.feed.name,
                                                 item.feed.language, item.fetched_at)
                except Exception as exc:  # noqa: BLE001
                    parsed = parse_failure(item.feed.name, exc)
                self.parsed_here += 1
                item = replace(item, parsed=parsed)
            done.append(item)
        return done

    def _write(self, items: list[_PollItem]) -> list[FeedOutcome]:
        """Parse what is still to be parsed (before taking the write lock), then write, in one transaction."""
        items = self._parse_here(items)
        with self.store.atomic():
            return [self._write_one(item) for item in items]

    def _write_one(self, item: _PollItem) -> FeedOutcome:
        """handle_result for one feed of a batch. A bug met on its data (not the store's failure, which
        ends the batch) rolls back its savepoint and is recorded as the feed's failure, with back-off:
        the other feeds of the batch are written, and the poll goes on."""
        try:
            return handle_result(self.store, self.cfg, item.feed, item.state, item.result, now=item.fetched_at,
                                 parsed=item.parsed, body_hash=item.digest)
        except sqlite3.Error:
            raise
        except Exception as exc:  # noqa: BLE001
            log.exception("feed %s: storing its entries failed", item.feed.name)
            error = f"internal: {type(exc).__name__}: {exc}"[:300]
            return record_failure(self.store, self.cfg, item.feed, item.state, item.result, now=item.fetched_at,
                                  error=error)

    async def close(self) -> None:
        for task in list(self.in_pool):
            task.cancel()
        await asyncio.gather(*self.in_pool, return_exceptions=True)
        if self.flushing is not None:
            await asyncio.gather(self.flushing, return_exceptions=True)
        self.thread.shutdown(wait=True)
        log.debug("poll: %d feeds parsed by %d worker process(es), %d by the writer thread",
                  self.parsed_by_workers, _parse_pool_workers if self.pool is not None else 0, self.parsed_here)


def parse_and_normalize(body: bytes, headers: dict[str, str], feed: str, language: str | None,
                        fetched_at: datetime) -> tuple[ParsedFeed, list[Entry]]:
    """The CPU half of a poll, as one picklable call: it may run in a worker process.

    The returned ParsedFeed keeps its metadata but not feedparser's raw entries (they are
    large and already turned into Entry records).
    """
    parsed = parse_feed(body, headers)
    entries = normalize_entries(parsed, feed=feed, language=language, fetched_at=fetched_at)
    return replace(parsed, entries=()), entries


def parse_many(jobs: list[tuple[bytes, dict[str, str], str, str | None, datetime]],
               ) -> list[tuple[ParsedFeed, list[Entry]] | BaseException]:
    """parse_and_normalize for a worker's job of several feeds; a feed's failure (a bug met on its
    body) comes back in its place, for the poll to record, and does not fail the others."""
    out: list[tuple[ParsedFeed, list[Entry]] | BaseException] = []
    for job in jobs:
        try:
            out.append(parse_and_normalize(*job))
        except Exception as exc:  # noqa: BLE001
            out.append(exc)
    return out


def parse_failure(feed: str, exc: BaseException) -> tuple[ParsedFeed, list[Entry]]:
    """parse_and_normalize's answer for a body it failed on (a bug, or a worker that could not run
    it): a feed with nothing readable, which handle_result records as the feed's failure."""
    log.error("feed %s: parsing failed: %s: %s", feed, type(exc).__name__, exc,
              exc_info=(type(exc), exc, exc.__traceback__))
    return ParsedFeed(entries=(), bozo=True, bozo_error=f"parse: failed ({type(exc).__name__}: {exc})"[:300]), []


def body_digest(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def handle_result(store: Store, cfg: Config, feed: FeedConfig, state: dict[str, Any], result: FetchResult,
                  *, now: datetime, parsed: tuple[ParsedFeed, list[Entry]] | None = None,
                  body_hash: str | None = None) -> FeedOutcome:
    """Turn one fetch result into stored entries and the feed's next poll; never raises for bad input.

    `parsed` is parse_and_normalize's result when a worker process already did that work, and
    `body_hash` the body's digest when the caller already computed it.
    """
    if result.status == "error":
        outcome = record_failure(store, cfg, feed, state, result, now=now, error=result.error)
        assert outcome.next_poll is not None
        log.warning("feed %s: %s (failure %d, next try %s)", feed.name, result.error,
                    int(state.get("error_count") or 0) + 1, outcome.next_poll.strftime("%H:%M:%SZ"))
        return outcome

    interval = effective_interval(feed, cfg, state, max_age=result.max_age)
    if result.status == "not_modified":
        nxt = next_poll_time(now, interval, state.get("skip_hours"))
        with store.atomic():
            store.record_fetch(feed.name, result, at=now, next_poll=nxt)
        return FeedOutcome(feed.name, "not_modified", next_poll=nxt, elapsed=result.elapsed)

    body_hash = body_hash or body_digest(result.body)
    if body_hash == state.get("body_hash"):
        # A server without ETag/Last-Modified sent the same bytes: nothing to parse.
        nxt = next_poll_time(now, interval, state.get("skip_hours"))
        with store.atomic():
            store.record_fetch(feed.name, result, at=now, next_poll=nxt, body_hash=body_hash)
        return FeedOutcome(feed.name, "unchanged", next_poll=nxt, elapsed=result.elapsed,
                           nbytes=result.nbytes)

    meta, entries = parsed or parse_and_normalize(result.body, result.headers, feed.name, feed.language, now)
    if not entries and meta.bozo:
        error = meta.bozo_error or "parse: not a feed"
        log.warning("feed %s: %s", feed.name, error)
        return record_failure(store, cfg, feed, state, result, now=now, error=error)
    if meta.bozo:
        log.info("feed %s: malformed but recovered %d entries (%s)", feed.name, len(entries), meta.bozo_error)
    skip_hours = meta.skip_hours or None
    with store.atomic():
        rows = store.store_entries(entries, now=now)
        gap = observed_publish_gap(store.recent_publish_times(feed.name))
        interval = effective_interval(feed, cfg, {**state, "ttl_minutes": meta.ttl_minutes,
                                                  "publish_gap": gap}, max_age=result.max_age)
        nxt = next_poll_time(now, interval, list(skip_hours) if skip_hours else state.get("skip_hours"))
        new = sum(1 for r in rows if r.change == "new")
        store.record_fetch(feed.name, result, at=now, next_poll=nxt, body_hash=body_hash,
                           effective_interval=interval, ttl_minutes=meta.ttl_minutes,
                           skip_hours=skip_hours, publish_gap=gap, new_entries=new,
                           updated_entries=len(rows) - new)
    return FeedOutcome(feed.name, "ok", new=new, updated=len(rows) - new, next_poll=nxt,
                       elapsed=result.elapsed, nbytes=result.nbytes)


def record_failure(store: Store, cfg: Config, feed: FeedConfig, state: dict[str, Any], result: FetchResult,
                   *, now: datetime, error: str | None) -> FeedOutcome:
    """Record a failed fetch, or a fetched body that could not be read or stored: the feed backs off
    (honouring Retry-After), and no body hash is kept, so the same body is tried again next time."""
    errors = int(state.get("error_count") or 0)
    nxt = now + timedelta(seconds=backoff_delay(feed.interval, errors + 1, cfg.fetch.max_backoff,
                                                result.retry_after))
    with store.atomic():
        store.record_fetch(feed.name, result, at=now, next_poll=nxt, error=error)
    return FeedOutcome(feed.name, "error", error=error, next_poll=nxt, elapsed=result.elapsed, nbytes=result.nbytes)


PARSE_POOL_MIN_FEEDS = 100  # below this a worker's start-up costs more than it saves
PARSE_IN_WORKER_MIN_BYTES = 8192  # a smaller body parses faster here than the hand-off to a worker costs
_parse_pool: ProcessPoolExecutor | None = None
_parse_pool_workers = 0


def parse_pool(workers: int, n_feeds: int, *, start: bool = False) -> ProcessPoolExecutor | None:
    """The worker pool for parsing, or None to parse in-process.

    workers: 0 never, N that many, -1 auto (one per spare core, for polls of many feeds). The
    pool lives for the process (the daemon polls every tick); forkserver, because forking a
    process that runs threads (the scheduler's) is unsafe. `start`: a new pool's workers start
    now, not with the first job.
    """
    global _parse_pool, _parse_pool_workers
    if workers < 0:
        workers = (os.cpu_count() or 1) - 1 if n_feeds >= PARSE_POOL_MIN_FEEDS else 0
    if workers <= 0:
        return None
    if _parse_pool is None or _parse_pool_workers != workers:
        reset_parse_pool()
        # No preload: modules imported in the fork server would be counted again in every worker's
        # memory; each worker imports what it parses with (in the time the fork server starts).
        ctx = multiprocessing.get_context("forkserver")
        _parse_pool, _parse_pool_workers = ProcessPoolExecutor(max_workers=workers, mp_context=ctx), workers
        for _ in range(workers if start else 0):  # their start-up is importing the parser
            _parse_pool.submit(_started)
    return _parse_pool


def _started() -> None:
    """A new parse worker's first job: unpickling it imported this module, and so the parser."""


def reset_parse_pool() -> None:
    global _parse_pool
    if _parse_pool is not None:
        pool, _parse_pool = _parse_pool, None
        pool.shutdown(wait=False, cancel_futures=True)


atexit.register(reset_parse_pool)


def backoff_delay(interval: int, failures: int, max_backoff: int, retry_after: float | None) -> float:
    """Exponential back-off from the feed's interval, capped so a dead feed is still re-probed."""
    delay = min(interval * (2 ** max(failures - 1, 0)), max_backoff)
    if retry_after:
        delay = max(delay if failures > 1 else 0, min(retry_after, max_backoff))
    return delay * random.uniform(0.9, 1.1)


def observed_publish_gap(published: list[str]) -> float | None:
    """Median seconds between a feed's recent items: how often it actually publishes."""
    times = sorted((t for t in (parse_iso(p) for p in published) if t is not None), reverse=True)
    if len(times) < 4:
        return None
    gaps = [(a - b).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    gaps = [g for g in gaps if g > 0]
    return statistics.median(gaps) if gaps else None


def effective_interval(feed: FeedConfig, cfg: Config, state: dict[str, Any], *,
                       max_age: float | None = None) -> int:
    """The configured interval, stretched by the feed's ttl, Cache-Control and cadence, within bounds."""
    interval = float(feed.interval)
    if state.get("ttl_minutes"):
        interval = max(interval, float(state["ttl_minutes"]) * 60)
    if max_age:
        interval = max(interval, max_age)
    gap = state.get("publish_gap")
    if gap:
        # Poll a few times per typical gap: a daily feed need not be polled every 15 minutes.
        interval = max(interval, min(gap / 4, cfg.fetch.max_interval))
    lo, hi = cfg.fetch.min_interval, cfg.fetch.max_interval
    return int(min(max(interval, min(lo, feed.interval)), max(hi, feed.interval)))


def next_poll_time(now: datetime, interval: int, skip_hours: Any) -> datetime:
    """now + interval, moved past the feed's skipHours (UTC hours it asks not to be polled in)."""
    hours: set[int] = set()
    if isinstance(skip_hours, str):
        try:
            hours = set(json.loads(skip_hours))
        except ValueError:
            hours = set()
    elif skip_hours:
        hours = set(skip_hours)
    nxt = now + timedelta(seconds=interval)
    for _ in range(24):
        if nxt.astimezone(UTC).hour not in hours:
            break
        nxt = (nxt + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return nxt


# ---------------------------------------------------------------- understanding stored entries


@dataclass(frozen=True, slots=True)
class ProcessSummary:
    processed: int = 0
    relevant: int = 0
    events: int = 0
    pages_fetched: int = 0


async def fetch_page(store: Store, fetcher: Fetcher, url: str, *, refresh: bool = False,
                     now: datetime | None = None) -> str | None:
    """An article's main text: from the page cache, or fetched (conditionally, with the cached
    page's ETag and Last-Modified, when `refresh` asks for a re-check). A failed re-check keeps
    the text we had."""
    from monitor.fulltext import extract_main_text

    now = now or utcnow()
    cached = store.cached_page(url)
    if cached is not None and not refresh:
        return cached["text"] if cached["status"] == "ok" else None
    had = cached["text"] if cached is not None and cached["status"] == "ok" else None
    etag, modified = (cached["etag"], cached["last_modified"]) if cached is not None and had else (None, None)
    result = await fetcher.fetch(url, accept=PAGE_ACCEPT, etag=etag, last_modified=modified)
    if result.status == "not_modified" and had is not None:
        store.touch_page(url, at=now)
        return str(had)
    text = extract_main_text(result.body, result.final_url) if result.status == "ok" else ""
    if not text and had is not None:
        store.touch_page(url, at=now)
        return str(had)
    store.cache_page(url, status="ok" if text else "error", text=text or None,
                     error=result.error or (None if text else "fulltext: no main text"), at=now,
                     etag=result.etag, last_modified=result.last_modified)
    return text or None


def next_recheck(first_seen: datetime, now: datetime, cfg: Config) -> datetime | None:
    """The next point of the decaying re-check schedule after `now`, or None once it is over."""
    for delay in sorted(cfg.fetch.recheck_after):
        at = first_seen + timedelta(seconds=delay)
        if at > now and delay <= cfg.fetch.recheck_window:
            return at
    return None


async def recheck_pages(store: Store, cfg: Config, fetcher: Fetcher, *, now: datetime | None = None) -> int:
    """Re-check the pages of relevant stories that are due; return how many changed.

    A page whose article text gained sentences that could be news (not bylines, dates or related
    links) becomes the entry's new version, which the understanding stages then diff against the
    old text. The entry's next re-check follows the decaying schedule.
    """
    from monitor.dedupe import news_sentences  # numpy, datasketch, OpenCC: not needed to poll

    now = now or utcnow()
    rows = store.due_rechecks(now)
    if not rows:
        return 0
    olds = {r["id"]: r["full_text"] or (store.cached_page(r["url"]) or {}).get("text") for r in rows}
    texts = await asyncio.gather(*(fetch_page(store, fetcher, r["url"], refresh=True, now=now)
                                   for r in rows if _fetchable(r["url"])))
    changed = 0
    fetched = iter(texts)
    with store.atomic():
        for row in rows:
            text = next(fetched) if _fetchable(row["url"]) else None
            old = olds[row["id"]]
            if text and old and news_sentences(old, text):
                store.replace_entry_text(row["id"], text, now=now)
                changed += 1
            first = parse_iso(row["first_seen"]) or now
            store.schedule_recheck(row["id"], next_recheck(first, now, cfg))
    log.info("re-checked %d story pages, %d changed", len(rows), changed)
    return changed


async def process_pending(store: Store, cfg: Config, *, fetcher: Fetcher | None = None,
                          limit: int = 2000, now: datetime | None = None,
                          progress: Callable[[str, int, int], None] | None = None) -> ProcessSummary:
    """Re-check due story pages, then run the understanding pipeline on entries not yet processed
    (fetching full text for matches): ALL of them, in one pass, `limit` at a time by id (each
    entry once per pass, so one that fails is retried on the next pass, not at once).

    `progress(stage, done, total)` is told of each article page ("pages") and entry ("entries").
    """
    if not store.unprocessed_entries(1) and not store.due_rechecks(now or utcnow(), 1):
        return ProcessSummary()
    from monitor.fetch import Fetcher

    own = fetcher is None
    fetcher = fetcher or Fetcher(fetch_limits(cfg))
    total = ProcessSummary()
    try:
        if own:
            await fetcher.__aenter__()
        await recheck_pages(store, cfg, fetcher, now=now)
        pending = store.count_unprocessed()
        first_ok: dict[str, str | None] = {}
        after = 0
        while rows := store.unprocessed_entries(limit, after=after):
            after = rows[-1]["id"]
            s = await _process_batch(store, cfg, fetcher, rows, first_ok, now=now, progress=progress,
                                     done_before=total.processed, pending=max(pending, total.processed + len(rows)))
            total = ProcessSummary(total.processed + s.processed, total.relevant + s.relevant,
                                   total.events + s.events, total.pages_fetched + s.pages_fetched)
        if progress:
            progress("entries", total.processed, max(pending, total.processed))
    finally:
        if own:
            await fetcher.__aexit__(None, None, None)
    return total


async def _process_batch(store: Store, cfg: Config, fetcher: Fetcher, rows: list[dict[str, Any]],
                         first_ok: dict[str, str | None], *, now: datetime | None, done_before: int, pending: int,
                         progress: Callable[[str, int, int], None] | None) -> ProcessSummary:
    """One batch of `process_pending`. Entries whose text names no watched entity (`may_mention`) are
    marked processed together in one short write; the rest go through `process_document` one by one."""
    from monitor.match import match_text, may_mention
    from monitor.notify import enqueue
    from monitor.pipeline import process_document, unmatched_json

    watch = cfg.watch.watchlist()
    feeds = {f.name: f for f in cfg.feeds}
    pages: dict[str, asyncio.Task[str | None]] = {}
    n_relevant = n_events = 0
    # Decide what needs a page first, then fetch all those pages concurrently, once per URL.
    plans: list[tuple[dict[str, Any], bool, bool]] = []
    for row in rows:
        feed = feeds.get(row["feed"])
        teaser = f"{row['title']}\n\n{row['summary']}"
        named = may_mention(teaser, watch)
        relevant = named and match_text(teaser, watch).relevant
        wants_page = bool(
            row["full_text"] is None
            and ((feed is not None and feed.full_text)
                 or (relevant and cfg.fetch.full_text_for_matches and len(row["summary"]) < TEASER_CHARS))
            and _fetchable(row["url"]))
        if wants_page and row["url"] not in pages:
            # an entry that changed after its page was fetched has its page re-checked
            cached = store.cached_page(row["url"])
            stale = cached is not None and cached["fetched_at"] <= row["last_changed"]
            pages[row["url"]] = asyncio.ensure_future(fetch_page(store, fetcher, row["url"], refresh=stale))
        plans.append((row, wants_page, named))
    if pages:
        if progress:
            fetched = [0]

            def page_done(_: object) -> None:
                fetched[0] += 1
                progress("pages", fetched[0], len(pages))

            for fut in pages.values():
                fut.add_done_callback(page_done)
        await asyncio.gather(*pages.values())
    docs: list[tuple[dict[str, Any], Document, str | None]] = []
    unmatched_rows: list[tuple[int, int, str, str | None]] = []
    for row, wants_page, named in plans:
        full = pages[row["url"]].result() if wants_page else None
        text = full or row["full_text"] or row["summary"]
        # the screen's verdict on the teaser holds for the document when its text is the teaser's
        if not (named if text is row["summary"] else may_mention(f"{row['title']}\n\n{text}", watch)):
            # what process_document would conclude, without a transaction per entry
            unmatched_rows.append((row["id"], row["version"], unmatched_json(row["url"]), full))
            continue
        doc = Document(source=row["url"], title=row["title"], text=text, url=row["url"],
                       published=parse_iso(row["published"]), lang=row["language"],
                       outlet=urlsplit(row["outlet_url"] or row["url"]).hostname)
        docs.append((row, doc, full))
    if unmatched_rows:
        with store.atomic():
            store.mark_unmatched(unmatched_rows)
    done = done_before + len(unmatched_rows)
    for row, doc, full in docs:
        if progress:
            progress("entries", done, pending)
        done += 1
        previous = _previous_text(store, row)
        background = _is_background(store, cfg, row, first_ok)

        def queue(events: list[Event]) -> None:
            enqueue(store, events, cfg, now=utcnow())

        try:
            with store.atomic():
                result = process_document(store, doc, cfg, entry_id=row["id"], previous_text=previous,
                                          on_events=queue, background=background)
                store.mark_processed(row["id"], row["version"], relevant=result.relevant,
                                     entities=list(result.extraction.entities) if result.extraction else [],
                                     facts=result.extraction.to_json() if result.extraction else None,
                                     full_text=full)
                if result.relevant and row["recheck_at"] is None and _fetchable(row["url"]):
                    first = parse_iso(row["first_seen"]) or utcnow()
                    store.schedule_recheck(row["id"], next_recheck(first, now or utcnow(), cfg))
        except sqlite3.OperationalError:
            raise  # the store is busy or unwritable: not this entry's fault; the next tick retries
        except Exception as exc:  # noqa: BLE001 - one poison entry must not block the ones after it
            # The transaction rolled back: no claims, no events. Count the failure on the entry;
            # after POISON_AFTER passes it is set aside so it stops failing every tick.
            attempts = _failed_attempts(row) + 1
            failure = {"error": f"process: {type(exc).__name__}: {exc}", "attempts": attempts}
            log.exception("process: entry %s (%s) failed (attempt %d of %d): %s", row["id"], row["url"],
                          attempts, POISON_AFTER, exc)
            with store.atomic():
                if attempts >= POISON_AFTER:
                    store.mark_processed(row["id"], row["version"], relevant=False, entities=[],
                                         facts=failure, full_text=full)
                else:
                    store.record_process_failure(row["id"], failure)
            continue
        n_relevant += int(result.relevant)
        n_events += len(result.events)
    return ProcessSummary(len(rows), n_relevant, n_events, len(pages))


POISON_AFTER = 3  # passes an entry may fail before it is set aside


def _is_background(store: Store, cfg: Config, row: dict[str, Any], first_ok: dict[str, str | None]) -> bool:
    """Old news, or a new feed's backlog: understood and recorded, never announced (fetch.max_entry_age)."""
    if cfg.fetch.max_entry_age <= 0:
        return False
    published = parse_iso(row["published"])
    if published is not None and published < utcnow() - timedelta(seconds=cfg.fetch.max_entry_age):
        return True
    feed = row["feed"]
    if feed not in first_ok:
        first_ok[feed] = store.feed_first_ok(feed)
    first = first_ok[feed]
    return first is not None and row["first_seen"] <= first  # stored by the feed's first successful poll


def _failed_attempts(row: dict[str, Any]) -> int:
    try:
        facts = json.loads(row["facts"]) if row["facts"] else None
    except ValueError:
        return 0
    return int(facts.get("attempts", 0)) if isinstance(facts, dict) and "error" in facts else 0


def _fetchable(url: str) -> bool:
    # Google News article links are JavaScript redirects: their page is Google's, not the article.
    host = urlsplit(url).hostname or ""
    return not host.endswith("news.google.com")


def _previous_text(store: Store, row: dict[str, Any]) -> str | None:
    if row["version"] <= 1 or row["processed_version"] == 0:
        return None
    versions = store.entry_versions(row["id"])
    if not versions:
        return None
    last = versions[-1]
    return last["full_text"] or f"{last['title']}\n\n{last['summary']}"
