"""Fetch stage: one shared aiohttp session that turns every network outcome into a FetchResult.

Errors are values here: `Fetcher.fetch` never raises for network or HTTP problems, it returns
``FetchResult(status="error", error="fetch: ...")``. Redirects are followed by hand so that they can
be capped, loops detected and permanent moves (every hop 301/308) reported as ``permanent_url``.
Bodies are streamed with a byte cap so that a huge or endless response cannot exhaust memory.
``nbytes`` and the cap count the body *after* gzip/deflate decompression (what lands in memory,
so a compression bomb is cut too), not the compressed bytes on the wire.

Against SSRF (a feed item linking ``http://127.0.0.1/admin``, a redirect to the metadata address),
every hop is checked where the connection is made: the session's resolver drops loopback,
private, link-local, multicast, reserved and unspecified addresses from what DNS returned, so the
connector can only connect to the addresses that passed (a DNS answer that changes between a
check and the connect cannot slip through), and an IP-literal host, which aiohttp never resolves,
is checked before each hop. ``FetchLimits.allow_private`` turns the guard off; a feed allowed to be
private gets a second, unguarded session for the hops to its own origin (scheme, host, port) only.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDictProxy
from yarl import URL

from monitor import __version__
from monitor.models import FetchResult

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, text/html;q=0.3, */*;q=0.1"
)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
USER_AGENT = f"kling-monitor/{__version__} (+https://github.com/kling-monitor)"

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_STATUSES = frozenset({301, 308})
_CHUNK = 64 * 1024
_MAX_AGE_RE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)

# aiohttp grew finer exception classes over 3.9 -> 3.11; fall back to the parents on older versions.
_CONNECT_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    c for c in (getattr(aiohttp, "ConnectionTimeoutError", None),) if c is not None
)
_READ_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    c for c in (getattr(aiohttp, "SocketTimeoutError", None),) if c is not None
)


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Bounds for one Fetcher; timeouts in seconds, sizes in bytes (decompressed)."""

    concurrency: int = 200
    per_host: int = 8
    connect_timeout: float = 10
    read_timeout: float = 20
    total_timeout: float = 45
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = USER_AGENT
    allow_private: bool = False  # fetch.allow_private: no SSRF guard at all


# 64:ff9b::/96 (NAT64) carries an IPv4 address in its last 32 bits, like ::ffff:0:0/96 and 2002::/16.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_kind(host: str) -> str | None:
    """Why an IP address is off limits ('loopback', 'private', ...), or None when it is public.

    A host that is not an IP address gives None: names are checked once resolved. IPv6 forms that
    carry an IPv4 address (mapped, 6to4, NAT64) are judged by that IPv4 address.
    """
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "non-global"


Origin = tuple[str, str, int | None]


def origin_of(url: str | URL) -> Origin | None:
    """(scheme, host, port) of a URL: what `feeds[].allow_private` allows, so that a private feed's
    redirect to another port or host on the same machine is still refused."""
    try:
        u = url if isinstance(url, URL) else URL(url.strip())
    except (ValueError, TypeError):
        return None
    return (u.scheme, u.host, u.port) if u.host else None


def refusal(host: str, kind: str) -> str:
    """The one error line for a refused address."""
    return f"fetch: refused private address {host} ({kind}; set fetch.allow_private to allow)"


class PrivateAddressError(OSError):
    """Every address a name resolved to is off limits (an OSError: aiohttp wraps it as a connect error)."""


class PublicOnlyResolver(AbstractResolver):
    """Wrap a resolver so that only public addresses come out of it.

    The connector connects to exactly what the resolver returns (and caches it), so filtering
    here is the check at connection time.
    """

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        public = [r for r in results if address_kind(r["host"]) is None]
        if not public and results:
            first = results[0]["host"]
            raise PrivateAddressError(refusal(first, address_kind(first) or "private"))
        return public

    async def close(self) -> None:
        await self._inner.close()


class _FetchError(Exception):
    """Internal: carries a finished error message out of the request loop."""

    def __init__(self, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


def _secs(value: float) -> str:
    """45.0 -> '45', 0.5 -> '0.5': timeouts read naturally in error messages."""
    return f"{value:g}"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP-date; return seconds from now (>= 0)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


def parse_max_age(cache_control: str | None) -> float | None:
    """Cache-Control max-age in seconds, or None when absent."""
    if not cache_control:
        return None
    m = _MAX_AGE_RE.search(cache_control)
    return float(m.group(1)) if m else None


def _headers_dict(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    """Lower-cased header names (what feedparser's response_headers expects); repeats joined by ', '."""
    out: dict[str, str] = {}
    for k, v in headers.items():
        key = k.lower()
        out[key] = f"{out[key]}, {v}" if key in out else v
    return out


def _describe(exc: BaseException, limits: FetchLimits) -> str:
    """Turn an aiohttp/OS exception into a 'fetch: ...' message a person can act on."""
    if _CONNECT_TIMEOUT and isinstance(exc, _CONNECT_TIMEOUT):
        return f"fetch: connect timed out after {_secs(limits.connect_timeout)}s"
    if _READ_TIMEOUT and isinstance(exc, _READ_TIMEOUT):
        return f"fetch: read timed out after {_secs(limits.read_timeout)}s"
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError is TimeoutError on 3.11
        return f"fetch: timed out after {_secs(limits.total_timeout)}s"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"fetch: TLS error ({exc})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, PrivateAddressError):
            return str(exc.os_error)
        if exc.os_error.errno == errno.ECONNREFUSED or isinstance(exc.os_error, ConnectionRefusedError):
            return "fetch: connection refused"
        if isinstance(exc.os_error, socket.gaierror):
            return f"fetch: DNS lookup failed for {exc.host}"
        return f"fetch: cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc.os_error})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "fetch: server disconnected"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"fetch: broken body ({exc})"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"fetch: bad response ({exc.message or type(exc).__name__})"
    if isinstance(exc, ConnectionRefusedError):
        return "fetch: connection refused"
    return f"fetch: {type(exc).__name__}: {exc}"


class Fetcher:
    """Async context manager owning one aiohttp.ClientSession shared by every fetch.

    Concurrency is bounded twice: by our own semaphores (global and per host), which are taken
    *before* the timeout clock starts so that waiting for a slot never counts as a timeout, and by
    the connector's limits as a backstop (redirects to other hosts do not take a host slot).
    Unless ``limits.allow_private``, the session resolves through `PublicOnlyResolver`; the
    unguarded session for feeds allowed to be private is opened on first use.
    """

    def __init__(self, limits: FetchLimits = FetchLimits()) -> None:  # noqa: B008 - frozen, safe default
        self.limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._private_session: aiohttp.ClientSession | None = None
        self._resolvers: list[AbstractResolver] = []  # a connector does not close a resolver it was given
        self._global: asyncio.Semaphore | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Create the session; called by __aenter__ (or lazily by the first fetch)."""
        if self._session is not None:
            return
        self._session = self._new_session(guarded=not self.limits.allow_private)
        self._global = asyncio.Semaphore(self.limits.concurrency)

    def _new_session(self, *, guarded: bool) -> aiohttp.ClientSession:
        lim = self.limits
        resolver = PublicOnlyResolver() if guarded else None
        if resolver is not None:
            self._resolvers.append(resolver)
        connector = aiohttp.TCPConnector(
            limit=lim.concurrency, limit_per_host=lim.per_host, ttl_dns_cache=300, resolver=resolver
        )
        # connect=None: pool waiting is not a connect failure; sock_connect bounds the TCP/TLS setup.
        timeout = aiohttp.ClientTimeout(
            total=lim.total_timeout, sock_connect=lim.connect_timeout, sock_read=lim.read_timeout
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={"User-Agent": lim.user_agent, "Accept-Encoding": "gzip, deflate"},
            auto_decompress=True,
        )

    def _session_for(self, url: URL, private_origin: Origin | None) -> aiohttp.ClientSession:
        """The session for one hop: the unguarded one only for a feed's own origin when it is allowed."""
        assert self._session is not None
        host = url.host
        if self.limits.allow_private or private_origin is None or origin_of(url) != private_origin:
            if not self.limits.allow_private and host and (kind := address_kind(host)):
                # aiohttp never resolves an IP literal, so the resolver would not see this one.
                raise _FetchError(refusal(host, kind))
            return self._session
        if self._private_session is None:
            self._private_session = self._new_session(guarded=False)
        return self._private_session

    async def close(self) -> None:
        """Close the sessions and their connections."""
        for attr in ("_session", "_private_session"):
            session = getattr(self, attr)
            if session is not None:
                setattr(self, attr, None)
                await session.close()
        while self._resolvers:
            await self._resolvers.pop().close()

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.limits.per_host)
        return sem

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
        private_origin: Origin | None = None,
    ) -> FetchResult:
        """GET `url` conditionally; every failure comes back as status="error" with a 'fetch: ' message.

        `private_origin`: a (scheme, host, port) that may be private for this fetch (a feed's configured
        URL under `feeds[].allow_private`, see `origin_of`); hops anywhere else are guarded as usual.
        """
        try:
            parsed = URL(url.strip())
        except (ValueError, TypeError) as exc:
            return FetchResult(status="error", url=url, final_url=url, error=f"fetch: invalid URL ({exc})")
        if parsed.scheme not in ("http", "https"):
            return FetchResult(
                status="error",
                url=url,
                final_url=url,
                error=f"fetch: unsupported URL scheme {parsed.scheme!r} (only http and https)",
            )
        if not parsed.host:
            return FetchResult(status="error", url=url, final_url=url, error="fetch: invalid URL (no host)")
        if self._session is None:
            await self.open()
        assert self._global is not None
        async with self._global, self._host_slot(parsed.host):
            start = time.monotonic()
            try:
                async with asyncio.timeout(self.limits.total_timeout):
                    return await self._fetch(url, parsed, etag, last_modified, accept, start, private_origin)
            except _FetchError as err:
                return FetchResult(
                    status="error",
                    url=url,
                    final_url=url,
                    http_status=err.http_status,
                    error=err.message,
                    elapsed=time.monotonic() - start,
                )
            except (aiohttp.ClientError, OSError, ValueError, UnicodeError) as exc:
                # TimeoutError is an OSError subclass, so the total timeout lands here as well.
                return FetchResult(
                    status="error",
                    url=url,
                    final_url=url,
                    error=_describe(exc, self.limits),
                    elapsed=time.monotonic() - start,
                )

    async def _fetch(
        self,
        url: str,
        current: URL,
        etag: str | None,
        last_modified: str | None,
        accept: str,
        start: float,
        private_origin: Origin | None,
    ) -> FetchResult:
        lim = self.limits
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = {str(current)}
        permanent = True
        hops = 0
        while True:
            session = self._session_for(current, private_origin)
            resp = await session.get(current, headers=headers, allow_redirects=False)
            try:
                status = resp.status
                if status in _REDIRECT_STATUSES and "Location" in resp.headers:
                    location = resp.headers["Location"]
                    try:
                        target = current.join(URL(location.strip()))
                    except (ValueError, TypeError) as exc:
                        raise _FetchError(
                            f"fetch: bad redirect Location {location!r} ({exc})", status
                        ) from None
                    if target.scheme not in ("http", "https"):
                        raise _FetchError(f"fetch: redirect to unsupported scheme {target.scheme!r}", status)
                    target = target.with_fragment(None)
                    if str(target) in seen:
                        raise _FetchError(f"fetch: redirect loop (back to {target})", status)
                    if hops >= lim.max_redirects:
                        raise _FetchError(f"fetch: too many redirects (> {lim.max_redirects})", status)
                    permanent = permanent and status in _PERMANENT_STATUSES
                    seen.add(str(target))
                    current = target
                    hops += 1
                    continue
                return await self._finish(url, current, resp, hops, permanent, etag, last_modified, start)
            finally:
                resp.close()  # never read the rest of a body we gave up on

    async def _finish(
        self,
        url: str,
        final: URL,
        resp: aiohttp.ClientResponse,
        hops: int,
        permanent: bool,
        sent_etag: str | None,
        sent_last_modified: str | None,
        start: float,
    ) -> FetchResult:
        lim = self.limits
        status = resp.status
        hdrs = _headers_dict(resp.headers)
        # feedparser resolves relative links against Content-Location: give it the URL we ended at.
        hdrs.setdefault("content-location", str(final))
        common: dict[str, Any] = {
            "url": url,
            "final_url": str(final),
            "http_status": status,
            "headers": hdrs,
            "permanent_url": str(final) if hops and permanent else None,
            "max_age": parse_max_age(hdrs.get("cache-control")),
        }
        if status == 304:
            return FetchResult(
                status="not_modified",
                etag=hdrs.get("etag") or sent_etag,
                last_modified=hdrs.get("last-modified") or sent_last_modified,
                elapsed=time.monotonic() - start,
                **common,
            )
        if status >= 300:
            return FetchResult(
                status="error",
                error=f"fetch: HTTP {status}",
                retry_after=parse_retry_after(hdrs.get("retry-after")),
                elapsed=time.monotonic() - start,
                **common,
            )
        length = resp.content_length
        if length is not None and length > lim.max_bytes:
            return FetchResult(
                status="error",
                error=f"fetch: body too large (> {lim.max_bytes} bytes; Content-Length {length})",
                elapsed=time.monotonic() - start,
                **common,
            )
        # nbytes counts the body after decompression: that is what the cap protects (a gzip bomb).
        chunks: list[bytes] = []
        nbytes = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            nbytes += len(chunk)
            if nbytes > lim.max_bytes:
                return FetchResult(
                    status="error",
                    error=f"fetch: body too large (> {lim.max_bytes} bytes)",
                    elapsed=time.monotonic() - start,
                    nbytes=nbytes,
                    **common,
                )
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body.strip():
            return FetchResult(
                status="error",
                error="fetch: empty body",
                elapsed=time.monotonic() - start,
                nbytes=nbytes,
                **common,
            )
        return FetchResult(
            status="ok",
            body=body,
            etag=hdrs.get("etag"),
            last_modified=hdrs.get("last-modified"),
            elapsed=time.monotonic() - start,
            nbytes=nbytes,
            **common,
        )
