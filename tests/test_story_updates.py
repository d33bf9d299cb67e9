"""One story through two feeds and its updates: real feeds and pages on 127.0.0.1, a local Slack.

The outlet's Atom feed and an aggregator's RSS feed carry the same article with their own
teasers. Polling them is one entry at version 1; when the article gains a sentence with a new
figure, exactly one update reaches Slack, in the story's thread, and the figure is in the ledger.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedserver
import pytest
from feedserver import FeedServer
from slackserver import TOKEN, SlackServer

from monitor.config import Config, ConsoleConfig, FeedConfig, FetchConfig, SlackConfig, StoreConfig
from monitor.ingest import next_recheck, poll_feeds, process_pending
from monitor.notify import ConsoleTransport, build_transports, drain
from monitor.store import Store

feed_server = feedserver.feed_server

LEAD = ("Kuaishou's video-generation unit Kling AI has raised $2 billion in a new funding round, people "
        "familiar with the matter said on Monday. Tencent joined the round as a new investor.")
BODY = ("Kling has become one of the most used AI video generators since its launch, competing with Sora and "
        "Veo for creators and advertisers in China and abroad. The company did not comment on the terms.")
NEW = "The company has since enlarged the planned round to $2.25 billion, one of the people said."


def page(paragraphs: list[str], updated: str) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html><head><title>Kling AI raises $2 billion</title></head><body>"
            f"<nav><a href='/'>Home</a> | <a href='/tech'>Tech</a></nav>"
            f"<article><h1>Kling AI raises $2 billion</h1><p class='byline'>By Jane Doe. Updated {updated}</p>"
            f"{body}</article>"
            f"<aside><h2>Related stories</h2><ul><li><a href='/x'>Sora gets a new model</a></li></ul></aside>"
            f"<footer>Copyright 2026 Example News. Share on X | Share on LinkedIn</footer></body></html>")


def atom(link: str, updated: str, summary: str = "Kling AI, Kuaishou's video model unit, raised money.") -> str:
    return ("<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            "<title>Example News</title><id>urn:example-news</id><updated>2026-11-23T08:00:00Z</updated>"
            f"<entry><title>Kling AI raises $2 billion</title><id>urn:example-news:kling-round</id>"
            f"<link href='{link}'/><published>2026-11-23T08:00:00Z</published><updated>{updated}</updated>"
            f"<summary>{summary}</summary></entry></feed>")


def rss(link: str) -> str:
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>News search</title>"
            "<link>https://search.example/</link><description>d</description>"
            f"<item><title>Kling AI raises $2 billion - Example News</title><link>{link}</link>"
            "<guid>search-123</guid><description>Kuaishou's Kling AI funding (Example News)</description>"
            "<pubDate>Mon, 23 Nov 2026 08:05:00 +0000</pubDate></item></channel></rss>")


def config(tmp_path: Path, srv: FeedServer, slack: SlackServer) -> Config:
    return Config(
        store=StoreConfig(path=str(tmp_path / "m.db")),
        feeds=(FeedConfig(url=srv.url("/outlet.atom"), name="outlet", allow_private=True),
               FeedConfig(url=srv.url("/search.rss"), name="search", allow_private=True)),
        fetch=FetchConfig(allow_private=True, max_entry_age=0, total_timeout=5.0, read_timeout=5.0, connect_timeout=5.0),
        console=ConsoleConfig(enabled=True, jsonl=str(tmp_path / "alerts.jsonl")),
        slack=SlackConfig(enabled=True, base_url=slack.base_url, channel="#kling", min_severity=1),
    )


def cycle(store: Store, cfg: Config, now: datetime | None = None) -> None:
    """One daemon tick: poll, understand (page re-checks first), deliver."""
    asyncio.run(poll_feeds(store, cfg))
    asyncio.run(process_pending(store, cfg, now=now))
    transports = dict(build_transports(cfg))
    transports["console"] = ConsoleTransport(cfg.console.jsonl, io.StringIO())
    s = drain(store, cfg, now=(now or datetime.now(UTC)) + timedelta(seconds=1),
              transports=transports)  # type: ignore[arg-type]
    assert s.failed == 0 and s.parked == 0


@pytest.mark.parametrize("trigger", ["entry_updated", "teaser_changed", "schedule"])
def test_one_entry_through_two_feeds_and_one_update_in_the_storys_thread(
        feed_server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trigger: str) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    link = feed_server.url("/news/kling-round.html")
    feed_server.page("/news/kling-round.html", page([LEAD, BODY], "08:00 GMT"), etag='"v1"',
                     last_modified="Mon, 23 Nov 2026 08:00:00 GMT")
    feed_server.add("/outlet.atom", atom(link, "2026-11-23T08:00:00Z"), content_type=feedserver.ATOM_TYPE)
    feed_server.add("/search.rss", rss(link + "?utm_source=search&utm_medium=rss"))
    with SlackServer() as slack:
        cfg = config(tmp_path, feed_server, slack)
        with Store(cfg.store.path) as store:
            for _ in range(10):
                cycle(store, cfg)
                assert store.query("SELECT version FROM entries") == [{"version": 1}]
            (entry,) = store.query("SELECT id, recheck_at FROM entries")
            assert {f["feed"] for f in store.entry_feeds(entry["id"])} == {"outlet", "search"}
            assert feed_server.count("/news/kling-round.html") == 1  # fetched once, re-checked only when due
            first = list(slack.messages)
            assert first and all(m.thread_ts is None for m in first)
            story_ts = first[0].ts  # the story's first alert: its round size

            feed_server.page("/news/kling-round.html", page([LEAD, NEW, BODY], "10:30 GMT"), etag='"v2"',
                             last_modified="Mon, 23 Nov 2026 10:30:00 GMT")
            if trigger == "entry_updated":  # the outlet's <updated> moves, its teaser does not
                feed_server.add("/outlet.atom", atom(link, "2026-11-23T10:30:00Z"),
                                content_type=feedserver.ATOM_TYPE)
                cycle(store, cfg)
            elif trigger == "teaser_changed":  # the feed that brought the entry changes its content
                feed_server.add("/outlet.atom", atom(link, "2026-11-23T10:30:00Z", "Kling AI enlarged its round."),
                                content_type=feedserver.ATOM_TYPE)
                cycle(store, cfg)
            else:  # the decaying schedule: 15 minutes after the story was first seen
                cycle(store, cfg, now=datetime.now(UTC) + timedelta(minutes=16))
            assert feed_server.last_headers("/news/kling-round.html")["If-None-Match"] == '"v1"'
            update = slack.messages[len(first):]
            assert len(update) == 1, [m.text for m in update]
            assert update[0].thread_ts == story_ts
            assert "2.25" in update[0].text
            claims = store.query("SELECT value, doc FROM claims WHERE kind = 'round_size' ORDER BY id")
            assert claims[-1] == {"value": 2.25e9, "doc": link}
            assert store.query("SELECT version FROM entries") == [{"version": 2}]

            cycle(store, cfg)  # nothing new: no more messages
            assert len(slack.messages) == len(first) + 1


def test_recheck_schedule_decays_and_ends() -> None:
    cfg = Config(fetch=FetchConfig(recheck_after=(900, 3600, 14400, 86400), recheck_window=48 * 3600))
    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    steps = [t0]
    while (nxt := next_recheck(t0, steps[-1], cfg)) is not None:
        steps.append(nxt)
    assert [s - t0 for s in steps[1:]] == [timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4),
                                           timedelta(hours=24)]
    short = Config(fetch=FetchConfig(recheck_after=(900, 86400), recheck_window=3600))
    assert next_recheck(t0, t0 + timedelta(minutes=20), short) is None


def test_a_page_change_of_bylines_dates_and_related_links_is_no_update(
        feed_server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    link = feed_server.url("/news/kling-round.html")
    stamp = "<p>By Jane Doe and John Roe | Updated {} GMT, November 23, 2026</p>"
    feed_server.page("/news/kling-round.html", page([stamp.format("08:00"), LEAD, BODY], "08:00 GMT"), etag='"v1"')
    feed_server.add("/outlet.atom", atom(link, "2026-11-23T08:00:00Z"), content_type=feedserver.ATOM_TYPE)
    feed_server.add("/search.rss", rss(link))
    with SlackServer() as slack:
        cfg = config(tmp_path, feed_server, slack)
        with Store(cfg.store.path) as store:
            cycle(store, cfg)
            sent = len(slack.messages)
            assert sent > 0
            feed_server.page("/news/kling-round.html",
                             page([stamp.format("11:45"), LEAD, BODY, "Related: Sora gets a new model"], "11:45 GMT"),
                             etag='"v2"')
            feed_server.add("/outlet.atom", atom(link, "2026-11-23T11:45:00Z"), content_type=feedserver.ATOM_TYPE)
            cycle(store, cfg)
            assert feed_server.count("/news/kling-round.html") == 2  # re-checked
            assert store.query("SELECT version FROM entries") == [{"version": 1}]
            assert len(slack.messages) == sent
