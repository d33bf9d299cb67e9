"""One progress display on a terminal (polling and understanding, log lines above it); silence otherwise."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from pathlib import Path

import pytest
from feedserver import FeedServer

from monitor.cli import main, setup_logging
from monitor.config import Config, FeedConfig, FetchConfig
from monitor.ingest import poll_feeds, process_pending
from monitor.progress import progress_display
from monitor.store import Store

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>"""
ITEM = ("<item><title>Kuaishou story {i}</title><link>https://example.com/{i}</link><guid>g{i}</guid>"
        "<description>Kuaishou's Kling AI video model story number {i}.</description></item>")


def feeds(feed_server: FeedServer, n: int) -> tuple[FeedConfig, ...]:
    for k in range(n):
        feed_server.add(f"/f{k}.xml", RSS.format(items="".join(ITEM.format(i=f"{k}-{j}") for j in range(3))).encode())
    return tuple(FeedConfig(url=feed_server.url(f"/f{k}.xml"), name=f"feed-{k}") for k in range(n))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_shows_polling_and_understanding_with_log_lines_apart(tmp_path: Path,
                                                                       feed_server: FeedServer) -> None:
    cfg = Config(feeds=feeds(feed_server, 4), fetch=FetchConfig(allow_private=True, full_text_for_matches=False,
                                                                 parse_workers=0))
    setup_logging("INFO")
    term = Terminal()
    with Store(tmp_path / "m.db") as store, progress_display(term, force=True) as show:
        assert show.poll is not None and show.understand is not None
        asyncio.run(poll_feeds(store, cfg, progress=show.poll))
        logging.getLogger("monitor.test").warning("a log line in the middle")
        result = asyncio.run(process_pending(store, cfg, progress=show.understand))
    assert result.processed == 12
    text = term.getvalue()
    assert "polling feeds" in text and "understanding" in text and "12/12" in text
    lines = [ANSI.sub("", x).strip() for x in text.splitlines()]
    assert "WARNING monitor.test: a log line in the middle" in lines  # a line of its own, not glued to a bar


def test_not_a_terminal_draws_nothing(tmp_path: Path, feed_server: FeedServer,
                                      capfd: pytest.CaptureFixture[str]) -> None:
    urls = "".join(f'[[feeds]]\nname = "{f.name}"\nurl = "{f.url}"\n' for f in feeds(feed_server, 2))
    cfg = tmp_path / "m.toml"
    cfg.write_text(f'[store]\npath = "m.db"\n[fetch]\nallow_private = true\nfull_text_for_matches = false\n'
                   f'[console]\njsonl = "a.jsonl"\n{urls}', encoding="utf-8")
    with progress_display(io.StringIO()) as show:
        assert show.poll is None and show.understand is None
    assert main(["-c", str(cfg), "poll", "--once"]) == 0
    out, err = capfd.readouterr()
    assert "\x1b[" not in out + err and "\r" not in out + err
    assert "2 feeds: 2 ok" in out and "6 entries understood" in out
