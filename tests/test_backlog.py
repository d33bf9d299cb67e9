"""No flood: a first poll of many feeds, and entries older than fetch.max_entry_age, never alert."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedserver
import pytest
from feedserver import FeedServer

from monitor.config import Config, ConsoleConfig, FeedConfig, FetchConfig, StoreConfig
from monitor.ingest import poll_feeds, process_pending
from monitor.store import Store

feed_server = feedserver.feed_server  # the fixture

N_FEEDS = 200
MAX_AGE = 2 * 24 * 3600


def item(feed: int, n: int, published: datetime) -> str:
    value = 100 + feed * 10 + n if n < 3 else 5000 + feed  # distinct figures; item 3 moves the figure
    text = f"Kuaishou said Kling AI annualized revenue reached ${value} million, outlet {feed} reported (item {n})."
    return (f"<item><title>Kling AI revenue report {feed}-{n}</title>"
            f"<link>https://outlet{feed}.example.com/kling/{n}</link><description>{text}</description>"
            f"<pubDate>{format_datetime(published)}</pubDate></item>")


def rss(items: list[str]) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>https://example.com/</link><description>d</description>{''.join(items)}</channel></rss>").encode()


def alerts(store: Store) -> list[dict[str, object]]:
    return store.query("SELECT e.doc, e.type FROM outbox o JOIN events e ON e.key = o.event_key")


@pytest.mark.slow
def test_a_first_poll_of_200_feeds_and_old_entries_never_alert(feed_server: FeedServer, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    old, fresh = now - timedelta(days=5), now - timedelta(hours=1)
    backlog = {i: [item(i, 0, old), item(i, 1, fresh)] for i in range(N_FEEDS)}  # even a fresh one is backlog
    for i, items in backlog.items():
        feed_server.add(f"/f{i}.xml", rss(items))
    cfg = Config(store=StoreConfig(path=str(tmp_path / "m.db")), console=ConsoleConfig(enabled=True, jsonl=""),
                 fetch=FetchConfig(allow_private=True, full_text_for_matches=False, max_entry_age=MAX_AGE),
                 feeds=tuple(FeedConfig(url=feed_server.url(f"/f{i}.xml"), name=f"f{i}") for i in range(N_FEEDS)))
    with Store(cfg.store.path) as store:
        asyncio.run(poll_feeds(store, cfg))
        first = asyncio.run(process_pending(store, cfg, limit=10_000))
        assert first.processed == 2 * N_FEEDS and first.relevant == 2 * N_FEEDS
        # understood and recorded as background ...
        assert store.query("SELECT count(*) AS n FROM claims WHERE kind = 'revenue'") == [{"n": 2 * N_FEEDS}]
        # ... but nothing announced, nothing queued
        assert first.events == 0 and alerts(store) == []

        # the next poll: every feed gains an old entry never seen before, ten gain a fresh one
        for i, items in backlog.items():
            items.append(item(i, 2, old))
            if i % 20 == 0:
                items.append(item(i, 3, fresh))
            feed_server.add(f"/f{i}.xml", rss(items))
        store.db.execute("UPDATE feeds SET next_poll = NULL")
        time.sleep(1.1)  # polls are minutes apart; a second one in the same second would look like the first
        asyncio.run(poll_feeds(store, cfg))
        asyncio.run(process_pending(store, cfg, limit=10_000))
        queued = alerts(store)
        # only fresh entries alert (how many depends on the story clustering: these texts are near copies)
        assert queued and {str(a["doc"]).rsplit("/", 1)[-1] for a in queued} == {"3"}
        assert "https://outlet0.example.com/kling/3" in {a["doc"] for a in queued}


def test_max_entry_age_zero_lets_a_first_poll_alert(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.add("/f.xml", rss([item(1, 0, datetime.now(UTC) - timedelta(days=30))]))
    cfg = Config(store=StoreConfig(path=str(tmp_path / "m.db")), console=ConsoleConfig(enabled=True, jsonl=""),
                 fetch=FetchConfig(allow_private=True, full_text_for_matches=False, max_entry_age=0),
                 feeds=(FeedConfig(url=feed_server.url("/f.xml"), name="f"),))
    with Store(cfg.store.path) as store:
        asyncio.run(poll_feeds(store, cfg))
        assert asyncio.run(process_pending(store, cfg)).events == 1


def test_the_first_poll_is_remembered_when_the_fetch_log_is_pruned(feed_server: FeedServer, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    items = [item(1, 0, now - timedelta(hours=2))]
    feed_server.add("/f.xml", rss(items))
    cfg = Config(store=StoreConfig(path=str(tmp_path / "m.db")), console=ConsoleConfig(enabled=True, jsonl=""),
                 fetch=FetchConfig(allow_private=True, full_text_for_matches=False),
                 feeds=(FeedConfig(url=feed_server.url("/f.xml"), name="f"),))
    with Store(cfg.store.path) as store:
        asyncio.run(poll_feeds(store, cfg))
        assert asyncio.run(process_pending(store, cfg)).events == 0  # the backlog
        store.db.execute("DELETE FROM fetch_log")  # housekeeping pruned it
        items.append(item(1, 3, now))
        feed_server.add("/f.xml", rss(items))
        store.db.execute("UPDATE feeds SET next_poll = NULL")
        time.sleep(1.1)
        asyncio.run(poll_feeds(store, cfg))
        assert asyncio.run(process_pending(store, cfg)).events == 1  # news, not backlog
