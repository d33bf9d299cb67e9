"""Fetch stage against a real local server (no mocks): conditional GET, limits, redirects, errors."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import feedserver
from feedserver import FeedServer

from monitor import __version__
from monitor.fetch import Fetcher, FetchLimits, parse_max_age, parse_retry_after
from monitor.models import FetchResult

feed_server = feedserver.feed_server  # the fixture, visible to pytest in this module
T = TypeVar("T")
RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title>
<item><title>Kling 2.0 launches</title><link>http://example.com/a</link></item>
</channel></rss>"""


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def fetch_one(url: str, limits: FetchLimits = FetchLimits(allow_private=True), **kw: Any) -> FetchResult:  # noqa: B008
    async with Fetcher(limits) as f:
        return await f.fetch(url, **kw)


def test_ok_records_body_headers_and_user_agent(feed_server: FeedServer) -> None:
    feed_server.add("/feed", RSS, headers={"Cache-Control": "public, max-age=600"})
    r = run(fetch_one(feed_server.url("/feed")))
    assert r.status == "ok" and r.http_status == 200 and r.error is None
    assert r.body == RSS and r.nbytes == len(RSS)
    assert r.final_url == feed_server.url("/feed") and r.permanent_url is None
    assert r.max_age == 600 and r.elapsed > 0
    ua = feed_server.last_headers("/feed")["User-Agent"]
    assert ua.startswith(f"kling-monitor/{__version__}")
    assert "application/rss+xml" in feed_server.last_headers("/feed")["Accept"]


def test_conditional_get_round_trip(feed_server: FeedServer) -> None:
    lm = "Wed, 01 Jan 2025 00:00:00 GMT"
    feed_server.add("/feed", RSS, etag='"v1"', last_modified=lm)

    async def go() -> tuple[FetchResult, FetchResult]:
        async with Fetcher(FetchLimits(allow_private=True)) as f:
            first = await f.fetch(feed_server.url("/feed"))
            second = await f.fetch(
                feed_server.url("/feed"), etag=first.etag, last_modified=first.last_modified
            )
            return first, second

    first, second = run(go())
    assert first.status == "ok" and first.etag == '"v1"' and first.last_modified == lm
    assert second.status == "not_modified" and second.http_status == 304 and second.body == b""
    assert second.etag == '"v1"' and second.last_modified == lm
    sent = feed_server.headers("/feed")
    assert "If-None-Match" not in sent[0]
    assert sent[1]["If-None-Match"] == '"v1"' and sent[1]["If-Modified-Since"] == lm


def test_gzip_and_deflate_bodies_are_decompressed(feed_server: FeedServer) -> None:
    feed_server.add("/gz", RSS, encoding="gzip")
    feed_server.add("/df", RSS, encoding="deflate")
    for path in ("/gz", "/df"):
        r = run(fetch_one(feed_server.url(path)))
        assert r.status == "ok" and r.body == RSS and r.headers["content-encoding"] in ("gzip", "deflate")
    assert "gzip" in feed_server.last_headers("/gz")["Accept-Encoding"]


def test_http_500_is_an_error_value(feed_server: FeedServer) -> None:
    feed_server.add("/boom", b"oops", status=500, content_type="text/plain")
    r = run(fetch_one(feed_server.url("/boom")))
    assert r.status == "error" and r.http_status == 500 and r.error == "fetch: HTTP 500"


def test_404_when_nothing_registered(feed_server: FeedServer) -> None:
    r = run(fetch_one(feed_server.url("/missing")))
    assert r.status == "error" and r.error == "fetch: HTTP 404"


def test_server_that_never_answers_times_out(feed_server: FeedServer) -> None:
    feed_server.hang("/hang")
    t = time.monotonic()
    r = run(fetch_one(feed_server.url("/hang"), FetchLimits(allow_private=True, total_timeout=1, read_timeout=30)))
    assert time.monotonic() - t < 5
    assert r.status == "error" and r.error is not None and r.error.startswith("fetch: timed out after 1s")


def test_stalled_body_hits_read_timeout(feed_server: FeedServer) -> None:
    feed_server.stall("/stall", first=b"<rss>")
    r = run(fetch_one(feed_server.url("/stall"), FetchLimits(allow_private=True, read_timeout=0.5, total_timeout=10)))
    assert r.status == "error" and r.error == "fetch: read timed out after 0.5s"


def test_redirect_loop(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "/b")
    feed_server.redirect("/b", "/a")
    r = run(fetch_one(feed_server.url("/a")))
    assert r.status == "error" and r.error is not None and r.error.startswith("fetch: redirect loop")
    assert feed_server.count("/a") == 1 and feed_server.count("/b") == 1


def test_too_many_redirects(feed_server: FeedServer) -> None:
    for i in range(10):
        feed_server.redirect(f"/r{i}", f"/r{i + 1}")
    feed_server.add("/r10", RSS)
    r = run(fetch_one(feed_server.url("/r0")))
    assert r.status == "error" and r.error == "fetch: too many redirects (> 5)"
    assert feed_server.count("/r6") == 0  # stopped at the cap, did not walk the chain
    ok = run(fetch_one(feed_server.url("/r5")))  # exactly 5 hops is fine
    assert ok.status == "ok" and ok.final_url == feed_server.url("/r10")


def test_permanent_redirect_sets_permanent_url(feed_server: FeedServer) -> None:
    feed_server.redirect("/old", "/new", status=301)
    feed_server.redirect("/older", "/old", status=308)
    feed_server.add("/new", RSS)
    for start in ("/old", "/older"):
        r = run(fetch_one(feed_server.url(start)))
        assert r.status == "ok" and r.body == RSS
        assert r.final_url == feed_server.url("/new") and r.permanent_url == feed_server.url("/new")


def test_temporary_redirect_does_not_set_permanent_url(feed_server: FeedServer) -> None:
    feed_server.redirect("/tmp", "/new", status=302)
    feed_server.redirect("/mixed", "/tmp", status=301)  # one temporary hop spoils it
    feed_server.add("/new", RSS)
    for start in ("/tmp", "/mixed"):
        r = run(fetch_one(feed_server.url(start)))
        assert r.status == "ok" and r.final_url == feed_server.url("/new") and r.permanent_url is None


def test_conditional_headers_follow_redirects(feed_server: FeedServer) -> None:
    feed_server.redirect("/old", "/new", status=301)
    feed_server.add("/new", RSS, etag='"e"')
    r = run(fetch_one(feed_server.url("/old"), etag='"e"'))
    assert r.status == "not_modified" and r.permanent_url == feed_server.url("/new")


def test_huge_streamed_body_is_cut_at_the_cap(feed_server: FeedServer) -> None:
    feed_server.stream("/huge", 50 * 1024 * 1024)
    limits = FetchLimits(allow_private=True, max_bytes=1024 * 1024)
    t = time.monotonic()
    r = run(fetch_one(feed_server.url("/huge"), limits))
    assert time.monotonic() - t < 5
    assert r.status == "error" and r.error == f"fetch: body too large (> {limits.max_bytes} bytes)"
    assert limits.max_bytes < r.nbytes <= limits.max_bytes + 64 * 1024 and r.body == b""
    assert feed_server.bytes_sent("/huge") < 50 * 1024 * 1024


def test_content_length_over_cap_is_refused_up_front(feed_server: FeedServer) -> None:
    feed_server.stream("/big", 50 * 1024 * 1024, content_length=True)
    r = run(fetch_one(feed_server.url("/big"), FetchLimits(allow_private=True, max_bytes=1024 * 1024)))
    assert r.status == "error" and r.error is not None
    assert r.error.startswith("fetch: body too large (> 1048576 bytes") and r.nbytes == 0


def test_empty_body(feed_server: FeedServer) -> None:
    feed_server.add("/empty", b"")
    r = run(fetch_one(feed_server.url("/empty")))
    assert r.status == "error" and r.error == "fetch: empty body"


def test_429_retry_after_seconds(feed_server: FeedServer) -> None:
    feed_server.add("/limited", b"slow down", status=429, headers={"Retry-After": "120"})
    r = run(fetch_one(feed_server.url("/limited")))
    assert r.status == "error" and r.error == "fetch: HTTP 429" and r.retry_after == 120


def test_503_retry_after_http_date(feed_server: FeedServer) -> None:
    feed_server.add("/down", b"", status=503, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    r = run(fetch_one(feed_server.url("/down")))
    assert r.status == "error" and r.http_status == 503 and r.retry_after is not None and r.retry_after > 1e8


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run(fetch_one(f"http://127.0.0.1:{port}/feed"))
    assert r.status == "error" and r.error == "fetch: connection refused"


def test_only_http_and_https() -> None:
    for url in ("ftp://example.com/feed", "file:///etc/passwd", "javascript:alert(1)"):
        r = run(fetch_one(url))
        assert (
            r.status == "error"
            and r.error is not None
            and r.error.startswith("fetch: unsupported URL scheme")
        )


def test_redirect_to_other_scheme_is_refused(feed_server: FeedServer) -> None:
    feed_server.redirect("/x", "file:///etc/passwd")
    r = run(fetch_one(feed_server.url("/x")))
    assert (
        r.status == "error" and r.error is not None and r.error.startswith("fetch: redirect to unsupported")
    )


def test_many_concurrent_fetches(feed_server: FeedServer) -> None:
    feed_server.add("/slow", RSS, delay=0.1)
    limits = FetchLimits(allow_private=True, concurrency=200, per_host=200)

    async def go() -> list[FetchResult]:
        async with Fetcher(limits) as f:
            return await asyncio.gather(*(f.fetch(feed_server.url("/slow") + f"?n={i}") for i in range(200)))

    t = time.monotonic()
    results = run(go())
    elapsed = time.monotonic() - t
    assert all(r.status == "ok" for r in results)
    assert feed_server.count("/slow") == 200
    assert elapsed < 2.0, elapsed


def test_per_host_limit_is_respected(feed_server: FeedServer) -> None:
    active = 0
    peak = 0

    from aiohttp import web

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return web.Response(body=RSS)

    feed_server.route("/count", handler)

    async def go() -> None:
        async with Fetcher(FetchLimits(allow_private=True, per_host=3)) as f:
            await asyncio.gather(*(f.fetch(feed_server.url("/count")) for _ in range(12)))

    run(go())
    assert feed_server.count("/count") == 12 and peak <= 3


def test_header_helpers() -> None:
    assert parse_max_age("no-cache, max-age=300") == 300
    assert parse_max_age("s-maxage=10") is None and parse_max_age(None) is None
    assert parse_retry_after("60") == 60
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_fetch_headers_let_parse_resolve_relative_links(feed_server: FeedServer) -> None:
    from monitor.parse import parse_feed

    rel = b'<rss version="2.0"><channel><title>t</title><item><title>a</title><link>/news/a</link></item></channel></rss>'
    feed_server.redirect("/moved", "/feeds/rss.xml", status=301)
    feed_server.add("/feeds/rss.xml", rel)
    r = run(fetch_one(feed_server.url("/moved")))
    assert r.headers["content-location"] == feed_server.url("/feeds/rss.xml")
    assert parse_feed(r.body, r.headers).entries[0]["link"] == feed_server.url("/news/a")
