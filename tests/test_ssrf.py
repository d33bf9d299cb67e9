"""The SSRF guard: no fetch reaches a loopback, private, link-local, multicast or reserved address
unless the config allows it (fetch.allow_private, or feeds[].allow_private for a feed's own URL)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from feedserver import FeedServer

from monitor.config import Config, FeedConfig, FetchConfig, StoreConfig
from monitor.fetch import (
    Fetcher,
    FetchLimits,
    PrivateAddressError,
    PublicOnlyResolver,
    address_kind,
    origin_of,
)
from monitor.ingest import poll_feeds, process_pending
from monitor.store import Store


@pytest.mark.parametrize(("host", "kind"), [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("[::1]", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("169.254.169.254", "link-local"),  # the cloud metadata address
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("100.64.0.1", "non-global"),  # carrier-grade NAT
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
    ("::ffff:169.254.169.254", "link-local"),
    ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("8.8.8.8", None),
    ("2606:4700:4700::1111", None),
    ("news.example.com", None),  # names are judged once resolved
])
def test_address_kind(host: str, kind: str | None) -> None:
    assert address_kind(host) == kind


class _Fixed(AbstractResolver):
    """A resolver that answers from a table: the guard is judged on what DNS says."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
                for a in self.answers]

    async def close(self) -> None:
        pass


def test_resolver_keeps_only_public_addresses_and_refuses_when_none_is_left() -> None:
    mixed = asyncio.run(PublicOnlyResolver(_Fixed(["10.0.0.7", "93.184.216.34"])).resolve("a.example", 80))
    assert [r["host"] for r in mixed] == ["93.184.216.34"]
    with pytest.raises(PrivateAddressError, match=r"refused private address 169\.254\.169\.254 \(link-local"):
        asyncio.run(PublicOnlyResolver(_Fixed(["169.254.169.254"])).resolve("metadata.example", 80))


def fetch(url: str, *, allow_private: bool = False, private_origin: str | None = None):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with Fetcher(FetchLimits(allow_private=allow_private, total_timeout=5)) as f:
            return await f.fetch(url, private_origin=origin_of(private_origin) if private_origin else None)
    return asyncio.run(go())


# IP literals (which aiohttp never resolves) and a name that resolves to the loopback
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "127.0.0.2"])
def test_loopback_fetch_is_refused_before_any_request(feed_server: FeedServer, host: str) -> None:
    feed_server.add("/admin", b"<rss/>")
    r = fetch(f"http://{host}:{feed_server.port}/admin")
    assert r.status == "error"
    assert r.error is not None and r.error.startswith("fetch: refused private address ")
    assert "loopback; set fetch.allow_private to allow" in r.error
    assert feed_server.count("/admin") == 0


def test_allow_private_lets_the_fetch_through(feed_server: FeedServer) -> None:
    feed_server.add("/feed", b"<rss version='2.0'><channel><title>t</title></channel></rss>")
    assert fetch(feed_server.url("/feed"), allow_private=True).status == "ok"


def test_a_redirect_to_loopback_is_refused_hop_by_hop(feed_server: FeedServer) -> None:
    # The feed's own host (127.0.0.1) is allowed; its redirect to another loopback name is not.
    feed_server.add("/admin", b"secret")
    feed_server.redirect("/feed", f"http://localhost:{feed_server.port}/admin")
    r = fetch(feed_server.url("/feed"), private_origin=feed_server.url("/"))
    assert (r.status, feed_server.count("/feed"), feed_server.count("/admin")) == ("error", 1, 0)
    assert r.error is not None and "refused private address" in r.error
    # ... and followed when fetch.allow_private says so.
    r = fetch(feed_server.url("/feed"), allow_private=True)
    assert (r.status, r.body, feed_server.count("/admin")) == ("ok", b"secret", 1)


def test_a_private_feed_redirecting_to_another_port_on_the_loopback_is_refused(feed_server: FeedServer) -> None:
    """The probe's case: a feed allowed on 127.0.0.1:A redirects to an admin port 127.0.0.1:B."""
    with FeedServer() as admin:
        admin.add("/admin/delete-all", b"deleted")
        feed_server.redirect("/feed", admin.url("/admin/delete-all"))
        r = fetch(feed_server.url("/feed"), private_origin=feed_server.url("/"))
        assert r.status == "error" and r.error is not None and "refused private address 127.0.0.1" in r.error
        assert admin.count("/admin/delete-all") == 0


def test_a_feed_allowed_to_be_private_follows_redirects_on_its_own_host(feed_server: FeedServer) -> None:
    feed_server.add("/new", b"<rss version='2.0'><channel><title>t</title></channel></rss>")
    feed_server.redirect("/old", "/new", status=301)
    r = fetch(feed_server.url("/old"), private_origin=feed_server.url("/"))
    assert (r.status, r.permanent_url) == ("ok", feed_server.url("/new"))


def _cfg(tmp_path: Path, feed_url: str, *, feed_private: bool, fetch_private: bool) -> Config:
    return Config(store=StoreConfig(path=str(tmp_path / "m.db")),
                  feeds=(FeedConfig(url=feed_url, name="local", allow_private=feed_private),),
                  fetch=FetchConfig(total_timeout=5, allow_private=fetch_private))


def _internal_link_feed(feed_server: FeedServer) -> None:
    link = feed_server.url("/admin/delete-all?confirm=yes")
    feed_server.page("/admin/delete-all", "<html><body><article><p>Kuaishou's Kling AI raises a $1 billion round. "
                     + "Deleted everything. " * 40
                     + "</p></article></body></html>")
    feed_server.add("/feed.xml", (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>Kling AI raises money</title><link>{link}</link>"
        "<description>Kuaishou's Kling AI video model raises a $1 billion round.</description></item>"
        "</channel></rss>").encode())


@pytest.mark.parametrize(("feed_private", "fetch_private", "fetched"), [
    (False, False, 0),  # the feed itself is refused: nothing stored, nothing fetched
    (True, False, 0),   # the feed is allowed, its internal link is not
    (False, True, 1),   # fetch.allow_private: everything may be private
])
def test_an_internal_link_in_a_relevant_entry_is_not_fetched(feed_server: FeedServer, tmp_path: Path,
                                                            feed_private: bool, fetch_private: bool,
                                                            fetched: int) -> None:
    _internal_link_feed(feed_server)
    cfg = _cfg(tmp_path, feed_server.url("/feed.xml"), feed_private=feed_private, fetch_private=fetch_private)
    with Store(cfg.store.path) as store:
        summary = asyncio.run(poll_feeds(store, cfg))
        (outcome,) = summary.outcomes
        if not (feed_private or fetch_private):
            assert outcome.status == "error" and outcome.error is not None
            assert outcome.error.startswith("fetch: refused private address 127.0.0.1")
            assert feed_server.count("/feed.xml") == 0
            return
        assert outcome.status == "ok"
        processed = asyncio.run(process_pending(store, cfg))
        assert processed.relevant == 1
        assert feed_server.count("/admin/delete-all") == fetched
        (row,) = store.query("SELECT full_text FROM entries")
        assert (row["full_text"] is not None and "Deleted everything" in row["full_text"]) == bool(fetched)
        page = store.cached_page(feed_server.url("/admin/delete-all?confirm=yes"))
        assert page is not None
        if not fetched:
            assert (page["status"], page["error"]) == (
                "error", "fetch: refused private address 127.0.0.1 (loopback; set fetch.allow_private to allow)")


@pytest.mark.parametrize(("url", "kind"), [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),  # the cloud metadata service
    ("http://10.0.0.1/", "private"),
    ("http://[fe80::1]/", "link-local"),
    ("http://0.0.0.0:80/", "unspecified"),
    ("https://224.0.0.1/", "multicast"),
])
def test_internal_addresses_are_refused_without_a_connection_attempt(url: str, kind: str) -> None:
    r = fetch(url)
    assert r.status == "error" and r.error is not None
    assert r.error.endswith(f"({kind}; set fetch.allow_private to allow)"), r.error
    assert r.elapsed < 1  # refused up front, not after a connect timeout
