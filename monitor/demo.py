"""`kling-monitor demo`: the whole product offline, in a few seconds.

A feed server on 127.0.0.1 (an ephemeral port) publishes sample stories written for this project
(templates/demo_stories.toml: an English and a Chinese feed), one story per round. Each round
polls both feeds, understands what is new and prints the alerts on the console, as the daemon
would; at the end a digest preview is written. No network, no tokens: Slack and email are off,
article pages are not fetched, and only the demo's own feeds may be on the loopback address.
"""

from __future__ import annotations

import asyncio
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape

from monitor.config import (
    Config,
    ConsoleConfig,
    DigestConfig,
    FeedConfig,
    FetchConfig,
    StoreConfig,
)

DEMO_FILES = ("monitor.db", "monitor.db-wal", "monitor.db-shm", "monitor.db.sender.lock", "alerts.jsonl",
              "digest.html")
FEEDS = {"en": ("demo-wire-en", "en"), "zh": ("demo-wire-zh", "zh")}


@dataclass(frozen=True, slots=True)
class Story:
    feed: str
    link: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class DemoResult:
    stories: int
    alerts: int
    events: int
    digest: Path
    folder: Path
    seconds: float


def load_stories() -> list[Story]:
    data = tomllib.loads(files("monitor").joinpath("templates/demo_stories.toml").read_text(encoding="utf-8"))
    return [Story(**s) for s in data["stories"]]


def rss(stories: list[Story], feed: str, now: datetime) -> bytes:
    """An RSS 2.0 document of the stories published so far on one feed, newest first."""
    name, lang = FEEDS[feed]
    items = []
    for i, s in reversed(list(enumerate(stories))):
        if s.feed != feed:
            continue
        published = format_datetime(now - timedelta(hours=len(stories) - i))
        items.append(f"<item><title>{escape(s.title)}</title><link>{escape(s.link)}</link>"
                     f"<guid>{escape(s.link)}</guid><pubDate>{published}</pubDate>"
                     f"<description>{escape(s.text)}</description></item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{name} (demo)</title>'
            f"<link>http://127.0.0.1/</link><description>kling-monitor demo stories</description>"
            f"<language>{lang}</language>{''.join(items)}</channel></rss>").encode()


class DemoFeedServer:
    """Serves /en.xml and /zh.xml with the first `published` stories; a thread on 127.0.0.1:0."""

    def __init__(self, stories: list[Story]) -> None:
        self.stories = stories
        self.published = 0
        self.now = datetime.now(UTC)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                feed = self.path.split("?", 1)[0].strip("/").removesuffix(".xml")
                if feed not in FEEDS:
                    self.send_error(404)
                    return
                body = rss(server.stories[: server.published], feed, server.now)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="demo-feeds", daemon=True)

    def url(self, feed: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{feed}.xml"

    @contextmanager
    def running(self) -> Iterator[DemoFeedServer]:
        self.thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(5)


def demo_config(folder: Path, server: DemoFeedServer) -> Config:
    """Console only; the demo feeds alone may be on the loopback; no page fetches, no parse workers."""
    return Config(
        store=StoreConfig(path=str(folder / "monitor.db")),
        fetch=FetchConfig(full_text_for_matches=False, parse_workers=0, total_timeout=10.0),
        feeds=tuple(FeedConfig(url=server.url(key), name=name, language=lang, allow_private=True,
                               title=f"kling-monitor demo ({lang})") for key, (name, lang) in FEEDS.items()),
        console=ConsoleConfig(enabled=True, jsonl=str(folder / "alerts.jsonl")),
        digest=DigestConfig(preview_dir=str(folder)),
        path="(demo)",
    )


def run_demo(folder: Path, *, out: TextIO, delay: float = 0.0) -> DemoResult:
    """Publish the stories one per round, poll, understand, deliver to the console; write the digest."""
    from monitor import digest
    from monitor.ingest import poll_feeds, process_pending
    from monitor.notify import ConsoleTransport, drain
    from monitor.store import Store

    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:  # a fresh demo each time; nothing else in the folder is touched
        (folder / name).unlink(missing_ok=True)
    stories = load_stories()
    server = DemoFeedServer(stories)
    alerts = 0
    with server.running(), Store(folder / "monitor.db") as store:
        cfg = demo_config(folder, server)
        console = {"console": ConsoleTransport(cfg.console.jsonl, out)}
        print(f"demo: {len(stories)} sample stories (invented for the demo, not news) on "
              f"{server.url('en')} and {server.url('zh')}", file=out)
        # A feed's first poll is its backlog, recorded silently (fetch.max_entry_age): subscribe first, as a
        # user would, so that what the feeds publish afterwards is news.
        server.published = 0
        asyncio.run(poll_feeds(store, cfg))
        time.sleep(1.0)  # the store keeps seconds: the next poll must not share the subscription's second
        for i, story in enumerate(stories, 1):
            server.published = i
            print(f"\n-- round {i}: {story.feed} feed publishes \"{story.title}\"", file=out, flush=True)
            asyncio.run(poll_feeds(store, cfg))
            asyncio.run(process_pending(store, cfg))
            alerts += drain(store, cfg, transports=console).sent
            if delay:
                time.sleep(delay)
        events = store.count_events()
        preview = digest.preview(store, cfg, folder / "digest.html", now=datetime.now(UTC))
    return DemoResult(len(stories), alerts, events, preview, folder, time.perf_counter() - started)
