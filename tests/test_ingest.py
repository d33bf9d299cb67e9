"""Ingestion end to end: real feeds served on 127.0.0.1, polled into a real SQLite store."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from feedserver import FeedServer

from monitor.cli import main
from monitor.config import Config, FeedConfig, FetchConfig, StoreConfig
from monitor.ingest import backoff_delay, next_poll_time, poll_feeds
from monitor.store import Store, parse_iso


def rss(items: list[tuple[str, str, str]], *, encoding: str = "utf-8", declare: str | None = None,
        extra: str = "") -> bytes:
    """items: (title, link, description)."""
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><description>{d}</description>"
        f"<pubDate>Mon, 23 Nov 2026 0{i % 10}:00:00 +0000</pubDate></item>"
        for i, (t, link, d) in enumerate(items))
    decl = declare or encoding
    return (f'<?xml version="1.0" encoding="{decl}"?><rss version="2.0"><channel><title>t</title>'
            f"<link>https://example.com/</link><description>d</description>{extra}{body}</channel></rss>"
            ).encode(encoding)


GOOD = rss([("Kling AI raises $2 billion", "https://news.example.com/a", "Kuaishou's Kling AI round."),
            ("Other news", "https://news.example.com/b", "Nothing here.")])


def make_cfg(tmp_path: Path, feeds: list[tuple[str, str]], **fetch: object) -> Config:
    return Config(
        store=StoreConfig(path=str(tmp_path / "m.db")),
        feeds=tuple(FeedConfig(url=u, name=n, interval=900) for n, u in feeds),
        fetch=FetchConfig(**{"total_timeout": 2.0, "read_timeout": 2.0, "connect_timeout": 2.0,
                             "max_bytes": 1024 * 1024, "allow_private": True, "max_entry_age": 0, **fetch}),  # type: ignore[arg-type]
    )


def poll(store: Store, cfg: Config):  # type: ignore[no-untyped-def]
    return asyncio.run(poll_feeds(store, cfg))


def test_conditional_get_second_poll_stores_nothing(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.add("/f.xml", GOOD, etag='"v1"', last_modified="Mon, 23 Nov 2026 08:00:00 GMT")
    cfg = make_cfg(tmp_path, [("f", feed_server.url("/f.xml"))])
    with Store(cfg.store.path) as store:
        first = poll(store, cfg)
        assert [(o.status, o.new) for o in first.outcomes] == [("ok", 2)]
        second = poll(store, cfg)
        assert [(o.status, o.new, o.updated) for o in second.outcomes] == [("not_modified", 0, 0)]
        assert feed_server.last_headers("/f.xml")["If-None-Match"] == '"v1"'
        assert feed_server.last_headers("/f.xml")["If-Modified-Since"] == "Mon, 23 Nov 2026 08:00:00 GMT"
        assert store.count_entries() == 2
        assert [r["status"] for r in store.fetch_log("f")] == ["not_modified", "ok"]


def test_same_body_without_validators_is_not_parsed_again(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.add("/f.xml", GOOD)
    cfg = make_cfg(tmp_path, [("f", feed_server.url("/f.xml"))])
    with Store(cfg.store.path) as store:
        poll(store, cfg)
        assert [o.status for o in poll(store, cfg).outcomes] == ["unchanged"]


def test_tracking_parameter_variants_are_stored_once(feed_server: FeedServer, tmp_path: Path) -> None:
    base = "https://News.Example.com/story?id=7"
    feed_server.add("/a.xml", rss([("Kling AI story", f"{base}&amp;utm_source=rss&amp;utm_medium=feed", "x"),
                                   ("Kling AI story", f"{base}&amp;fbclid=abc#comments", "x")]))
    feed_server.add("/b.xml", rss([("Kling AI story", f"{base}&amp;gclid=zzz&amp;spm=a.b.c", "x")]))
    cfg = make_cfg(tmp_path, [("a", feed_server.url("/a.xml")), ("b", feed_server.url("/b.xml"))])
    with Store(cfg.store.path) as store:
        summary = poll(store, cfg)
        assert summary.new == 1
        assert [r["url"] for r in store.query("SELECT url FROM entries")] == ["https://news.example.com/story?id=7"]


def test_changed_entry_updates_the_row_and_keeps_the_previous_version(feed_server: FeedServer,
                                                                      tmp_path: Path) -> None:
    feed_server.add("/f.xml", rss([("Kling AI raises", "https://n.example.com/x", "First text.")]))
    cfg = make_cfg(tmp_path, [("f", feed_server.url("/f.xml"))])
    with Store(cfg.store.path) as store:
        poll(store, cfg)
        feed_server.add("/f.xml", rss([("Kling AI raises", "https://n.example.com/x",
                                        "First text. Now valued at $18 billion.")]))
        summary = poll(store, cfg)
        assert (summary.new, summary.updated) == (0, 1)
        (row,) = store.query("SELECT id, summary, version FROM entries")
        assert row["version"] == 2 and row["summary"].endswith("$18 billion.")
        assert [v["summary"] for v in store.entry_versions(row["id"])] == ["First text."]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>"""


def test_bad_feeds_never_stop_the_good_ones(feed_server: FeedServer, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    gbk = rss([("快手可灵AI完成融资", "https://cn.example.com/1", "可灵AI估值180亿美元")], encoding="gbk",
              declare="utf-8")
    nodecl = rss([("快手发布可灵2.0", "https://cn.example.com/2",
                   "快手旗下可灵AI今日宣布新版本上线，支持更长的视频生成，面向全球创作者开放。")],
                 encoding="gb18030").replace(
        b' encoding="gb18030"', b"")
    malformed = rss([("Kling AI one", "https://m.example.com/1", "a"), ("Kling AI two", "https://m.example.com/2", "b")]
                    ).replace(b"</channel></rss>", b"<item><title>broken &amp & </title></item>")
    feed_server.add("/good1.xml", GOOD)
    feed_server.add("/good2.xml", rss([("Kuaishou results", "https://n.example.com/k", "Revenue.")]))
    feed_server.add("/gbk-wrong-charset.xml", gbk, content_type="application/rss+xml")
    feed_server.add("/no-charset.xml", nodecl, content_type="application/xml")
    feed_server.add("/malformed.xml", malformed)
    feed_server.add("/500.xml", b"oops", status=500)
    feed_server.hang("/hang.xml")
    feed_server.redirect("/loop1.xml", "/loop2.xml")
    feed_server.redirect("/loop2.xml", "/loop1.xml")
    feed_server.stream("/huge.xml", 50 * 1024 * 1024)
    feed_server.page("/page.html", "<html><body><h1>Not a feed</h1><p>Hello</p></body></html>")
    feed_server.add("/bomb.xml", BOMB)
    feed_server.add("/empty.xml", b"")
    names = ["good1", "good2", "gbk-wrong-charset", "no-charset", "malformed", "500", "hang", "loop1", "huge",
             "page", "bomb", "empty"]
    ext = {"page": "html"}
    cfg = make_cfg(tmp_path, [(n, feed_server.url(f"/{n}.{ext.get(n, 'xml')}")) for n in names])
    started = time.monotonic()
    with Store(cfg.store.path) as store:
        summary = poll(store, cfg)
        elapsed = time.monotonic() - started
        by = {o.name: o for o in summary.outcomes}
        assert {n for n, o in by.items() if o.status == "ok"} == {"good1", "good2", "gbk-wrong-charset",
                                                                  "no-charset", "malformed"}
        assert by["malformed"].new >= 2
        titles = {r["title"] for r in store.query("SELECT title FROM entries")}
        assert {"快手可灵AI完成融资", "快手发布可灵2.0"} <= titles
        errors = {n: (o.error or "") for n, o in by.items() if o.status == "error"}
        assert set(errors) == {"500", "hang", "loop1", "huge", "page", "bomb", "empty"}
        assert "HTTP 500" in errors["500"]
        assert "timed out" in errors["hang"]
        assert "redirect" in errors["loop1"]
        assert "too large" in errors["huge"]
        assert errors["empty"].startswith(("fetch: empty", "parse:"))
        assert all(e.startswith(("fetch:", "parse:")) for e in errors.values())
        assert feed_server.bytes_sent("/huge.xml") < 10 * 1024 * 1024
        # every failure is recorded on its feed with a later next attempt
        states = {r["name"]: r for r in store.feeds()}
        for n in errors:
            assert states[n]["error_count"] == 1 and states[n]["last_error"] == errors[n]
            assert parse_iso(states[n]["next_poll"]) > parse_iso(states[n]["last_poll"])
        assert store.integrity_check() == "ok"
    assert elapsed < 20
    assert main(["-c", str(_write_cfg(tmp_path, cfg)), "feeds", "list"]) == 0
    out = capsys.readouterr().out
    assert "HTTP 500" in out and "good1" in out


def _write_cfg(tmp_path: Path, cfg: Config) -> Path:
    p = tmp_path / "cfg.toml"
    lines = [f'[store]\npath = "{cfg.store.path}"\n[fetch]\nallow_private = true\n']
    for f in cfg.feeds:
        lines.append(f'[[feeds]]\nname = "{f.name}"\nurl = "{f.url}"\n')
    p.write_text("\n".join(lines))
    return p


def test_permanent_redirect_updates_the_stored_url(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.add("/new.xml", GOOD)
    feed_server.redirect("/old.xml", "/new.xml", status=301)
    cfg = make_cfg(tmp_path, [("f", feed_server.url("/old.xml"))])
    with Store(cfg.store.path) as store:
        assert [o.status for o in poll(store, cfg).outcomes] == ["ok"]
        assert store.feed_states()["f"]["url"] == feed_server.url("/new.xml")
        poll(store, cfg)
        assert feed_server.count("/old.xml") == 1 and feed_server.count("/new.xml") == 2


def test_failing_feed_backs_off_exponentially_and_honours_retry_after(feed_server: FeedServer,
                                                                      tmp_path: Path) -> None:
    feed_server.add("/down.xml", b"", status=503, headers={"Retry-After": "7200"})
    cfg = make_cfg(tmp_path, [("down", feed_server.url("/down.xml"))])
    with Store(cfg.store.path) as store:
        poll(store, cfg)
        st = store.feed_states()["down"]
        assert st is not None and st["error_count"] == 1
        wait = (parse_iso(st["next_poll"]) - parse_iso(st["last_poll"])).total_seconds()  # type: ignore[operator]
        assert 7200 * 0.89 <= wait <= 7200 * 1.11
    assert 900 * 0.9 <= backoff_delay(900, 1, 86400, None) <= 900 * 1.1
    assert 3600 * 0.9 <= backoff_delay(900, 3, 86400, None) <= 3600 * 1.1
    assert backoff_delay(900, 30, 86400, None) <= 86400 * 1.1  # capped: a dead feed is still re-probed


def test_skip_hours_move_the_next_poll() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 24, 1, 50, tzinfo=UTC)
    assert next_poll_time(now, 900, json.dumps([2, 3])).hour == 4
    assert next_poll_time(now, 900, None) == datetime(2026, 11, 24, 2, 5, tzinfo=UTC)


def test_poll_cli_reports_unreachable_feeds_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused, as with no network
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/m.db"\n[console]\njsonl = "{tmp_path}/a.jsonl"\n'
                   f'[fetch]\nallow_private = true\n[[feeds]]\nname = "x"\nurl = "http://127.0.0.1:{port}/feed"\n')
    assert main(["-c", str(cfg), "poll", "--once"]) == 1  # every feed failed
    captured = capsys.readouterr()
    assert "1 feeds: 0 ok, 0 not modified, 1 failed" in captured.out
    assert "failed  x: fetch:" in captured.err


def test_processing_finds_relevant_entries_fetches_their_pages_and_survives_a_poison_entry(
        feed_server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.pipeline
    from monitor.ingest import process_pending

    article = ("<html><head><title>Kling AI round</title></head><body><nav>Home | World | Tech</nav><article>"
               "<h1>Kling AI round</h1><p>Kuaishou's video-generation unit Kling AI is raising fresh capital at "
               "an $18 billion valuation, people familiar with the matter said on Monday.</p><p>Alibaba and "
               "Tencent joined the $2 billion funding round, according to the filing seen by reporters.</p>"
               "</article><footer>Copyright outlet</footer></body></html>")
    feed_server.page("/a.html", article)
    feed_server.add("/f.xml", rss([
        ("Kling AI funding", feed_server.url("/a.html") + "?utm_source=rss", "Kling AI is raising."),
        ("Kuaishou poison", feed_server.url("/poison"), "Kuaishou Kling AI text."),
        ("Weather today", "https://n.example.com/weather", "Sunny."),
    ]))
    cfg = make_cfg(tmp_path, [("f", feed_server.url("/f.xml"))])
    real = monitor.pipeline.process_document

    def flaky(store, doc, cfg, **kw):  # type: ignore[no-untyped-def]
        if doc.url and doc.url.endswith("/poison"):
            raise RuntimeError("boom")
        return real(store, doc, cfg, **kw)

    monkeypatch.setattr(monitor.pipeline, "process_document", flaky)
    with Store(cfg.store.path) as store:
        poll(store, cfg)
        summary = asyncio.run(process_pending(store, cfg))
        # two relevant teasers: both pages are fetched once (the poison one answers 404)
        assert (summary.processed, summary.relevant, summary.pages_fetched) == (3, 1, 2)
        assert feed_server.count("/a.html") == 1
        assert store.cached_page(feed_server.url("/poison"))["status"] == "error"  # type: ignore[index]
        rows = {r["title"]: r for r in store.query("SELECT title, relevant, facts, full_text FROM entries")}
        funding = json.loads(rows["Kling AI funding"]["facts"])
        assert [(f["kind"], f["value"]) for f in funding["facts"]] == [("valuation", 18e9), ("round_size", 2e9)]
        assert funding["investors"] == ["Alibaba", "Tencent"]
        assert "Copyright outlet" not in rows["Kling AI funding"]["full_text"]
        assert json.loads(rows["Kuaishou poison"]["facts"]) == {"error": "process: RuntimeError: boom",
                                                                 "attempts": 1}
        assert rows["Weather today"]["relevant"] == 0
        assert {r["type"] for r in store.query("SELECT type FROM events")} >= {"new_figure", "new_investor"}
        # a failure may be transient: retried on the next passes, then set aside so it stops failing
        assert asyncio.run(process_pending(store, cfg)).processed == 1
        assert asyncio.run(process_pending(store, cfg)).processed == 1
        assert asyncio.run(process_pending(store, cfg)).processed == 0
        (poison,) = store.query("SELECT facts, processed_version FROM entries WHERE url = ?", [feed_server.url("/poison")])
        assert (json.loads(poison["facts"])["attempts"], poison["processed_version"]) == (3, 1)
        assert feed_server.count("/a.html") == 1  # pages are cached: never fetched twice


def test_a_parse_worker_process_stores_what_in_process_parsing_stores(feed_server: FeedServer,
                                                                        tmp_path: Path) -> None:
    from dataclasses import replace

    from monitor.ingest import PARSE_IN_WORKER_MIN_BYTES

    padding = "<!-- " + "x" * PARSE_IN_WORKER_MIN_BYTES + " -->"  # big enough to go to the worker
    feed_server.add("/a.xml", GOOD.replace(b"<channel>", b"<channel>" + padding.encode()))
    feed_server.add("/b.xml", rss([("快手可灵AI完成融资", "https://cn.example.com/1", "可灵AI估值180亿美元")],
                                  encoding="gb18030", extra=padding))
    feed_server.add("/c.xml", b"<html><body>not a feed</body></html>", content_type="text/html")
    feeds = [("a", feed_server.url("/a.xml")), ("b", feed_server.url("/b.xml")), ("c", feed_server.url("/c.xml"))]
    results = []
    for workers in (0, 1):
        cfg = make_cfg(tmp_path / f"w{workers}", feeds)
        cfg = replace(cfg, fetch=replace(cfg.fetch, parse_workers=workers))
        with Store(cfg.store.path) as store:
            summary = poll(store, cfg)
            rows = store.query("SELECT feed, url, title, summary, published FROM entries ORDER BY url")
        results.append(([(o.name, o.status, o.new, o.error) for o in summary.outcomes], rows))
    assert results[0] == results[1]
    assert [o[:3] for o in results[1][0]] == [("a", "ok", 2), ("b", "ok", 1), ("c", "error", 0)]


def test_aggregator_items_keep_their_publisher_as_the_outlet(feed_server: FeedServer, tmp_path: Path) -> None:
    from monitor.ingest import process_pending
    from monitor.notify import event_from_dict
    from monitor.render import message

    items = "".join(
        f"<item><title>{t}</title><link>https://news.google.com/rss/articles/{i}?oc=5</link>"
        f"<description>{d}</description><pubDate>Mon, 23 Nov 2026 0{i}:00:00 +0000</pubDate>"
        f'<source url="{src}">{name}</source></item>'
        for i, (t, d, src, name) in enumerate([
            ("Kling AI valued at $18 billion - Reuters",
             "Kuaishou's Kling AI is raising funds at an $18 billion valuation, sources said.",
             "https://www.reuters.com", "Reuters"),
            ("Kuaishou video unit Kling AI is valued at $18 billion - Tech Daily",
             "Kling AI, Kuaishou's video generation business, is valued at $18 billion in the new round.",
             "https://techdaily.example", "Tech Daily"),
        ], 1))
    feed_server.add("/gn.xml", f'<?xml version="1.0"?><rss version="2.0"><channel><title>gn</title>{items}'
                               "</channel></rss>")
    cfg = make_cfg(tmp_path, [("gn", feed_server.url("/gn.xml"))])
    cfg = Config(store=cfg.store, feeds=cfg.feeds, fetch=cfg.fetch,
                 sources=type(cfg.sources)(major=("reuters.com",)))
    with Store(cfg.store.path) as store:
        poll(store, cfg)
        assert {(r["outlet_url"], r["title"]) for r in store.query("SELECT outlet_url, title FROM entries")} == {
            ("https://www.reuters.com", "Kling AI valued at $18 billion"),
            ("https://techdaily.example", "Kuaishou video unit Kling AI is valued at $18 billion")}
        asyncio.run(process_pending(store, cfg))
        claims = store.query("SELECT outlet, tier FROM claims WHERE kind = 'valuation' ORDER BY id")
        assert claims == [{"outlet": "www.reuters.com", "tier": "major"},
                          {"outlet": "techdaily.example", "tier": "other"}]
        (event,) = store.query("SELECT payload FROM events WHERE type = 'corroborated'")
        assert "2 sources" in message(event_from_dict(json.loads(event["payload"])))


def test_a_busy_store_aborts_the_pass_and_marks_nothing(feed_server: FeedServer, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    import monitor.pipeline
    from monitor.ingest import process_pending

    feed_server.add("/f.xml", rss([("Kling AI valued at $18 billion", "https://n.example.com/v",
                                    "Kuaishou's Kling AI is valued at $18 billion.")]))
    cfg = make_cfg(tmp_path, [("f", feed_server.url("/f.xml"))])
    real, calls = monitor.pipeline.process_document, []

    def busy_once(store, doc, cfg, **kw):  # type: ignore[no-untyped-def]
        calls.append(doc.url)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return real(store, doc, cfg, **kw)

    monkeypatch.setattr(monitor.pipeline, "process_document", busy_once)
    with Store(cfg.store.path) as store:
        poll(store, cfg)
        with pytest.raises(sqlite3.OperationalError):
            asyncio.run(process_pending(store, cfg))
        assert store.query("SELECT facts, processed_version FROM entries") == [{"facts": None, "processed_version": 0}]
        assert asyncio.run(process_pending(store, cfg)).events == 1


def test_json_feed_is_polled_like_any_other(feed_server: FeedServer, tmp_path: Path) -> None:
    body = (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": ['
        '{"id": "1", "url": "https://j.example/kling?utm_medium=json", "title": "Kling AI raises funds",'
        ' "content_text": "Kuaishou said...", "date_published": "2026-11-23T08:00:00Z"}]}'
    )
    feed_server.add("/feed.json", body, content_type="application/feed+json", etag='"j1"')
    cfg = make_cfg(tmp_path, [("j", feed_server.url("/feed.json"))])
    with Store(cfg.store.path) as store:
        assert [(o.status, o.new) for o in poll(store, cfg).outcomes] == [("ok", 1)]
        assert [(o.status, o.new) for o in poll(store, cfg).outcomes] == [("not_modified", 0)]
        (row,) = store.query("SELECT url, guid, title FROM entries")
        assert (row["url"], row["guid"], row["title"]) == ("https://j.example/kling", "1", "Kling AI raises funds")


def test_a_gbk_feed_served_as_latin1_with_a_utf8_prolog_is_stored_as_chinese_and_matches(
        feed_server: FeedServer, tmp_path: Path) -> None:
    """The probe's case: the story was stored as Latin-1 mojibake, so 快手/可灵 never matched."""
    from monitor.ingest import process_pending

    feed_server.add("/zh.xml", rss([("可灵AI完成新一轮融资", "https://news.example.cn/1",
                                     "快手旗下的可灵AI视频生成模型发布了新版本。")], encoding="gbk", declare="utf-8"),
                    content_type="application/rss+xml; charset=iso-8859-1")
    cfg = make_cfg(tmp_path, [("zh", feed_server.url("/zh.xml"))], full_text_for_matches=False)
    with Store(cfg.store.path) as store:
        poll(store, cfg)
        assert asyncio.run(process_pending(store, cfg)).relevant == 1
        (row,) = store.query("SELECT title, summary FROM entries")
        assert row == {"title": "可灵AI完成新一轮融资", "summary": "快手旗下的可灵AI视频生成模型发布了新版本。"}


def test_a_javascript_link_is_never_a_url_or_a_source(feed_server: FeedServer, tmp_path: Path) -> None:
    from monitor.ingest import process_pending

    story = "Kuaishou's Kling AI raised $2 billion at an $18 billion valuation, people familiar said."
    feed_server.add("/a.xml", rss([("Kling AI raises $2 billion", "https://news.example.com/kling", story)]))
    feed_server.add("/b.xml", rss([("Kling AI raises $2 billion", "javascript://x.com/%0Aalert(1)", story)]))
    cfg = make_cfg(tmp_path, [("a", feed_server.url("/a.xml")), ("b", feed_server.url("/b.xml"))],
                   full_text_for_matches=False)
    with Store(cfg.store.path) as store:
        poll(store, cfg)
        asyncio.run(process_pending(store, cfg))
        dump = "\n".join(store.db.conn.iterdump())
    assert "news.example.com/kling" in dump
    assert "javascript" not in dump.lower() and "x.com" not in dump


def test_a_poll_of_many_feeds_commits_in_batches_and_stores_every_feed(feed_server: FeedServer,
                                                                        tmp_path: Path) -> None:
    """Results are written in batches (a transaction per batch, a savepoint per feed), not one
    commit per feed; every feed's entries and state still land."""
    n = 40
    for i in range(n):
        feed_server.add(f"/f{i}.xml", rss([(f"Story {i}", f"https://news.example.com/{i}", "Text.")]))
    cfg = make_cfg(tmp_path, [(f"f{i}", feed_server.url(f"/f{i}.xml")) for i in range(n)])
    with Store(cfg.store.path) as store:
        commits: list[str] = []
        store.db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
        summary = poll(store, cfg)
        store.db.conn.set_trace_callback(None)
        assert summary.count("ok") == n and summary.new == n
        assert store.query("SELECT count(*) AS n FROM entries")[0]["n"] == n
        assert all(f["last_status"] == "ok" and f["body_hash"] for f in store.feeds())
    assert 1 <= len(commits) < n


def test_fetching_runs_at_most_concurrency_feeds_ahead_of_storing(feed_server: FeedServer, tmp_path: Path) -> None:
    """A feed holds a slot from its fetch until it is stored: with concurrency 2, no more than two
    feeds are ever between their request and their write."""
    from monitor import ingest

    n = 12
    for i in range(n):
        feed_server.add(f"/f{i}.xml", rss([(f"Story {i}", f"https://news.example.com/{i}", "Text.")]))
    cfg = make_cfg(tmp_path, [(f"f{i}", feed_server.url(f"/f{i}.xml")) for i in range(n)], concurrency=2)
    pending: list[int] = []
    real_write = ingest._PollSink._write

    def counting_write(self: ingest._PollSink, items: list[ingest._PollItem]) -> list[ingest.FeedOutcome]:
        pending.append(len(items) + len(self.to_write) + len(self.to_parse) + self.handed)
        time.sleep(0.05)  # a slow disk: fetching must wait for it, not run ahead
        return real_write(self, items)

    ingest._PollSink._write = counting_write  # type: ignore[method-assign]
    try:
        with Store(cfg.store.path) as store:
            summary = poll(store, cfg)
    finally:
        ingest._PollSink._write = real_write  # type: ignore[method-assign]
    assert summary.count("ok") == n
    assert pending and max(pending) <= 2
    assert sum(feed_server.count(f"/f{i}.xml") for i in range(n)) == n


def test_workers_and_the_writer_share_the_parsing_and_store_what_one_process_stores(
        feed_server: FeedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With a parse worker, feeds wait in one queue: the worker takes from its head, the writer thread
    parses from its tail while it has nothing to write. Both work, and the store ends up as with none."""
    import logging
    import re
    from dataclasses import replace

    from monitor import ingest
    from monitor.ingest import PARSE_IN_WORKER_MIN_BYTES

    monkeypatch.setattr(ingest, "PARSE_QUEUE_PER_WORKER", 1)  # a worker one feed at a time: a queue forms

    padding = "<!-- " + "x" * PARSE_IN_WORKER_MIN_BYTES + " -->"
    n = 60
    for i in range(n):
        body = rss([(f"Story {i} {j}", f"https://news.example.com/{i}/{j}", "Text " * 200) for j in range(20)])
        feed_server.add(f"/f{i}.xml", body.replace(b"<channel>", b"<channel>" + padding.encode()))
    feeds = [(f"f{i}", feed_server.url(f"/f{i}.xml")) for i in range(n)]
    stored = []
    for workers in (0, 1):
        cfg = make_cfg(tmp_path / f"w{workers}", feeds)
        cfg = replace(cfg, fetch=replace(cfg.fetch, parse_workers=workers))
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="monitor.ingest"), Store(cfg.store.path) as store:
            summary = poll(store, cfg)
            stored.append(store.query("SELECT feed, url, title, summary, published FROM entries ORDER BY url"))
        assert summary.count("ok") == n and summary.new == n * 20
        m = re.search(r"(\d+) feeds parsed by (\d+) worker process\(es\), (\d+) by the writer thread", caplog.text)
        assert m is not None
        by_workers, n_workers, here = map(int, m.groups())
        assert by_workers + here == n
        if workers:
            assert n_workers == 1 and by_workers > 0 and here > 0
        else:
            assert by_workers == 0
    assert stored[0] == stored[1]


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "worker"])
def test_a_bug_met_on_one_feed_fails_that_feed_only(feed_server: FeedServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    """A parser or store bug that one feed's data triggers (in a worker, in the writer thread, or while
    storing) does not end the poll, nor roll back the other feeds of its write batch: that feed is
    recorded as failed and backs off; the others are stored."""
    from dataclasses import replace

    import faults

    from monitor import ingest
    from monitor.ingest import PARSE_IN_WORKER_MIN_BYTES

    monkeypatch.setattr(ingest, "parse_and_normalize", faults.parse_failing_on_bad_feeds)  # the writer thread's
    monkeypatch.setattr(ingest, "parse_many", faults.parse_many_failing_on_bad_feeds)  # the workers'
    real_store_entries = Store.store_entries

    def store_failing_on_worse(self: Store, entries: list, *, now: object) -> list:  # type: ignore[type-arg]
        if any(e.feed.startswith("worse") for e in entries):
            self.db.execute("INSERT INTO meta (key, value) VALUES ('half-written', 'x')")
            raise ValueError("injected store bug")
        return real_store_entries(self, entries, now=now)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "store_entries", store_failing_on_worse)
    padding = ("<!-- " + "x" * PARSE_IN_WORKER_MIN_BYTES + " -->").encode()  # big enough for the workers
    names = [f"{kind}{i}" for i in range(6) for kind in ("good", "bad", "worse")]
    for name in names:
        body = rss([(f"Story {name}", f"https://news.example.com/{name}", "Text.")])
        feed_server.add(f"/{name}.xml", body.replace(b"<channel>", b"<channel>" + padding))
    cfg = make_cfg(tmp_path, [(n, feed_server.url(f"/{n}.xml")) for n in names])
    cfg = replace(cfg, fetch=replace(cfg.fetch, parse_workers=workers))
    with Store(cfg.store.path) as store:
        started = time.time()
        summary = poll(store, cfg)
        outcomes = {o.name: o for o in summary.outcomes}
        assert {n for n, o in outcomes.items() if o.status == "ok"} == {n for n in names if n.startswith("good")}
        for name, o in outcomes.items():
            if name.startswith("bad"):
                assert o.status == "error" and "RuntimeError: injected parser bug" in (o.error or "")
            elif name.startswith("worse"):
                assert o.status == "error" and o.error == "internal: ValueError: injected store bug"
        stored = {r["feed"] for r in store.query("SELECT feed FROM entries")}
        assert stored == {n for n in names if n.startswith("good")}
        assert store.query("SELECT count(*) AS n FROM meta WHERE key = 'half-written'")[0]["n"] == 0
        feeds = {f["name"]: f for f in store.feeds()}
        for name in names:
            if not name.startswith("good"):
                assert feeds[name]["last_status"] == "error" and feeds[name]["error_count"] == 1
                assert parse_iso(feeds[name]["next_poll"]).timestamp() > started + 600  # backs off


def test_a_dying_parse_worker_costs_in_process_parsing_not_feeds(feed_server: FeedServer, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """When a worker process dies mid-poll, the feeds it held and those still waiting are parsed in this
    process: every feed is stored, and the next poll starts a new worker."""
    import logging
    from dataclasses import replace

    import faults

    from monitor import ingest
    from monitor.ingest import PARSE_IN_WORKER_MIN_BYTES

    monkeypatch.setattr(ingest, "parse_many", faults.parse_many_dying_on_crash_feeds)
    padding = ("<!-- " + "x" * PARSE_IN_WORKER_MIN_BYTES + " -->").encode()
    monkeypatch.setattr(ingest, "STEAL_MAX", 0)  # every feed waits for the workers
    names = [f"crash{i:02d}" for i in range(60)]  # the worker dies on the first job it is handed
    for name in names:
        body = rss([(f"Story {name}", f"https://news.example.com/{name}", "Text.")])
        feed_server.add(f"/{name}.xml", body.replace(b"<channel>", b"<channel>" + padding))
    cfg = make_cfg(tmp_path, [(n, feed_server.url(f"/{n}.xml")) for n in names])
    cfg = replace(cfg, fetch=replace(cfg.fetch, parse_workers=1))
    with caplog.at_level(logging.WARNING, logger="monitor.ingest"), Store(cfg.store.path) as store:
        summary = asyncio.run(asyncio.wait_for(poll_feeds(store, cfg), 60))
        assert summary.count("ok") == len(names) and summary.new == len(names)
        assert {r["feed"] for r in store.query("SELECT feed FROM entries")} == set(names)
    assert "parse worker died" in caplog.text
    assert ingest._parse_pool is None  # the broken pool is gone; the next poll makes a new one
