"""A real HTTP server on 127.0.0.1 for tests: an aiohttp app on its own loop in a background thread.

Tests register routes at any time (feeds, pages, redirects, slow, never-answering and huge
responses), point the code under test at ``server.url(path)`` and then look at what the server
saw: ``server.count(path)`` and ``server.headers(path)`` (the request headers, one
case-insensitive mapping per request). Because the server runs in its own thread, it works the
same from plain sync tests, from tests that call ``asyncio.run``, and from async code.

    import feedserver
    from feedserver import FeedServer

    feed_server = feedserver.feed_server  # the fixture (an import of it would trip ruff's F811)

    def test_x(feed_server: FeedServer) -> None:
        feed_server.add("/feed.xml", RSS_BYTES, etag='"v1"')
        ...

Outside pytest: ``with FeedServer() as srv: ...``.
"""

from __future__ import annotations

import asyncio
import gzip as gzip_module
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

import pytest
from aiohttp import web
from multidict import CIMultiDict

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request as the server received it."""

    method: str
    path: str
    query: str
    headers: CIMultiDict[str]


@dataclass(slots=True)
class _Stats:
    requests: list[SeenRequest] = field(default_factory=list)
    bytes_sent: int = 0


class FeedServer:
    """Serve registered routes on 127.0.0.1:<free port>; unknown paths get 404."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port: int = 0
        self._routes: dict[str, Handler] = {}
        self._stats: dict[str, _Stats] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FeedServer:
        """Start the loop thread and bind a free port; returns self."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        errors: list[BaseException] = []
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # report to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())

        self._thread = threading.Thread(target=run, name="feedserver", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            self._thread.join(5)
            loop.close()
            self._thread = None
            raise RuntimeError(f"feedserver: could not start ({errors[0]!r})") from errors[0]
        return self

    async def _start(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # A short shutdown_timeout: hanging handlers are released by _stopping, stragglers cancelled.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _shutdown(self) -> None:
        assert self._stopping is not None and self._runner is not None
        self._stopping.set()
        await self._runner.cleanup()

    def stop(self) -> None:
        """Release hanging handlers, close the server and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(15)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(15)
            loop.close()
            self._loop = None
            self._thread = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addressing

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL for a path on this server ('/feed.xml' or 'feed.xml')."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # ------------------------------------------------------------------ observation

    def _stat(self, path: str) -> _Stats:
        with self._lock:
            st = self._stats.get(path)
            if st is None:
                st = self._stats[path] = _Stats()
            return st

    def count(self, path: str) -> int:
        """How many requests reached `path` (any method, any query string)."""
        return len(self._stat(path).requests)

    def requests(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return list(self._stats[path].requests) if path in self._stats else []

    def headers(self, path: str) -> list[CIMultiDict[str]]:
        """Request headers per request to `path`, oldest first (case-insensitive keys)."""
        return [r.headers for r in self.requests(path)]

    def last_headers(self, path: str) -> CIMultiDict[str]:
        reqs = self.requests(path)
        if not reqs:
            raise KeyError(f"feedserver: no request to {path}")
        return reqs[-1].headers

    def bytes_sent(self, path: str) -> int:
        """Body bytes a streaming route managed to write (see `stream`)."""
        return self._stat(path).bytes_sent

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(len(s.requests) for s in self._stats.values())

    def reset_stats(self) -> None:
        with self._lock:
            self._stats.clear()

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        st = self._stat(path)
        with self._lock:
            st.requests.append(
                SeenRequest(request.method, path, request.query_string, CIMultiDict(request.headers))
            )
        handler = self._routes.get(path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)

    # ------------------------------------------------------------------ routes

    def route(self, path: str, handler: Handler) -> None:
        """Register any aiohttp handler (``async def h(request) -> web.StreamResponse``) at `path`."""
        self._routes[path] = handler

    def remove(self, path: str) -> None:
        self._routes.pop(path, None)

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str | None = RSS_TYPE,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        encoding: Literal["gzip", "deflate"] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve a fixed body, answering 304 to a matching If-None-Match / If-Modified-Since.

        `encoding` compresses the body and sets Content-Encoding; `delay` waits before answering.
        Registering the same path again replaces the route (e.g. a feed that changed).
        """
        raw = body.encode("utf-8") if isinstance(body, str) else body
        if encoding == "gzip":
            payload = gzip_module.compress(raw)
        elif encoding == "deflate":
            payload = zlib.compress(raw)
        else:
            payload = raw
        fixed: dict[str, str] = dict(headers or {})
        if content_type is not None:
            fixed.setdefault("Content-Type", content_type)
        if encoding:
            fixed["Content-Encoding"] = encoding
        if etag:
            fixed["ETag"] = etag
        if last_modified:
            fixed["Last-Modified"] = last_modified

        async def handler(request: web.Request) -> web.StreamResponse:
            if delay:
                await asyncio.sleep(delay)
            inm = request.headers.get("If-None-Match")
            ims = request.headers.get("If-Modified-Since")
            not_modified = False
            if etag and inm is not None:
                tags = [t.strip() for t in inm.split(",")]
                not_modified = "*" in tags or etag in tags
            elif last_modified and ims is not None:
                not_modified = ims.strip() == last_modified
            if not_modified:
                keep = {k: v for k, v in fixed.items() if k in ("ETag", "Last-Modified", "Cache-Control")}
                return web.Response(status=304, headers=keep)
            return web.Response(status=status, body=payload, headers=fixed)

        self.route(path, handler)

    def page(self, path: str, html: bytes | str, **kw: object) -> None:
        """An HTML page (article) at `path`; same options as `add`."""
        kw.setdefault("content_type", HTML_TYPE)
        self.add(path, html, **kw)  # type: ignore[arg-type]

    def redirect(self, path: str, to: str, status: int = 302) -> None:
        """Answer `status` with Location `to` (a path on this server or an absolute URL)."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": to})

        self.route(path, handler)

    def hang(self, path: str) -> None:
        """Read the request and never answer (until the server stops): for total/read timeouts."""

        async def handler(request: web.Request) -> web.StreamResponse:
            assert self._stopping is not None
            await self._stopping.wait()
            return web.Response(status=503, text="server stopping")

        self.route(path, handler)

    def stall(self, path: str, first: bytes = b"", content_type: str = RSS_TYPE) -> None:
        """Send the headers and `first` body bytes, then go silent: for read (sock_read) timeouts."""

        async def handler(request: web.Request) -> web.StreamResponse:
            assert self._stopping is not None
            resp = web.StreamResponse(status=200, headers={"Content-Type": content_type})
            await resp.prepare(request)
            if first:
                await resp.write(first)
            await self._stopping.wait()
            return resp

        self.route(path, handler)

    def stream(
        self,
        path: str,
        size: int,
        *,
        chunk: int = 64 * 1024,
        content_length: bool = False,
        content_type: str = RSS_TYPE,
        delay: float = 0.0,
    ) -> None:
        """Stream `size` bytes in `chunk`s (chunked encoding unless `content_length`).

        Generated on the fly, so a 50 MB body costs no memory; stops quietly when the client
        hangs up. `bytes_sent(path)` tells how far it got.
        """
        block = (b"<!-- filler -->" * (chunk // 15 + 1))[:chunk]

        async def handler(request: web.Request) -> web.StreamResponse:
            st = self._stat(path)
            resp = web.StreamResponse(status=200, headers={"Content-Type": content_type})
            if content_length:
                resp.content_length = size
            await resp.prepare(request)
            sent = 0
            try:
                while sent < size:
                    n = min(chunk, size - sent)
                    await resp.write(block[:n])
                    sent += n
                    with self._lock:
                        st.bytes_sent += n
                    if delay:
                        await asyncio.sleep(delay)
                await resp.write_eof()
            except (ConnectionError, RuntimeError):
                pass  # the client gave up (what a size cap does); nothing to send it any more
            return resp

        self.route(path, handler)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started FeedServer, stopped after the test."""
    with FeedServer() as server:
        yield server
