"""Benchmark: poll 1,000 feeds from a local server whose every answer is delayed by 100 ms.

Prints the wall time of a first poll (200s) and a second poll (304s), the bytes received,
the entries per second through parse -> normalize -> store on one core, and peak memory.
Goals (issue 6): first poll within 2x the network ideal (1,000 x 100 ms / concurrency), a poll
of unchanged feeds under 1 s, >= 1,500 entries/s through parse -> store, under 150 MB.

    python bench/bench_poll.py [--feeds 1000] [--entries 20] [--delay 0.1] [--concurrency 200]

The server runs in another process so that it does not share the client's core; on a 2-core
machine it still competes with the client and its parse worker, so the first-poll figure is
pessimistic there.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import Config, FeedConfig, FetchConfig, StoreConfig  # noqa: E402
from monitor.ingest import poll_feeds  # noqa: E402
from monitor.normalize import normalize_entries  # noqa: E402
from monitor.parse import parse_feed  # noqa: E402
from monitor.store import Store  # noqa: E402


def feed_body(i: int, n: int) -> bytes:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    items = []
    for j in range(n):
        t = (now - timedelta(hours=j)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        items.append(
            f"<item><title>Feed {i} story {j}: Kling AI raises funds &amp; more</title>"
            f"<link>https://news{i % 50}.example.com/{i}/{j}?utm_source=rss&amp;id={j}</link>"
            f"<guid>urn:{i}:{j}</guid><pubDate>{t}</pubDate>"
            f"<description><![CDATA[<p>Kuaishou's <b>Kling AI</b> story {j} of feed {i}. "
            f"{'Some more summary text about video models and funding. ' * 6}</p>]]></description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {i}</title>'
            f"<link>https://example.com/</link><description>bench</description>{''.join(items)}"
            "</channel></rss>").encode()


def serve(port_q: multiprocessing.Queue, n_feeds: int, n_entries: int, delay: float) -> None:
    from aiohttp import web

    bodies = {i: feed_body(i, n_entries) for i in range(n_feeds)}

    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay)
        i = int(request.match_info["i"])
        etag = f'"v1-{i}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=bodies[i], content_type="application/rss+xml", headers={"ETag": etag})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i}.xml", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock, backlog=2048)
        await site.start()
        port_q.put(sock.getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=20)
    ap.add_argument("--delay", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--parse-workers", type=int, default=-1,
                    help="fetch.parse_workers: -1 auto, 0 parse in the polling process, N processes")
    args = ap.parse_args()

    q: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(q, args.feeds, args.entries, args.delay), daemon=True)
    server.start()
    port = q.get(timeout=30)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            feeds = tuple(FeedConfig(url=f"http://127.0.0.1:{port}/feed/{i}.xml", name=f"feed-{i}", interval=900)
                          for i in range(args.feeds))
            # All feeds share one host here, so the per-host limit is raised to the global one.
            cfg = Config(store=StoreConfig(path=f"{tmp}/bench.db"), feeds=feeds,
                         fetch=FetchConfig(concurrency=args.concurrency, per_host=args.concurrency,
                                           parse_workers=args.parse_workers))
            ideal = args.feeds * args.delay / args.concurrency
            with Store(cfg.store.path) as store:
                first = asyncio.run(poll_feeds(store, cfg))
                nbytes = sum(o.nbytes for o in first.outcomes)
                print(f"first poll (200s):  {first.elapsed:6.2f} s  for {args.feeds} feeds x {args.entries} entries, "
                      f"parse_workers={args.parse_workers} "
                      f"(network ideal {ideal:.2f} s, goal < {2 * ideal:.2f} s); "
                      f"{first.count('ok')} ok, {first.count('error')} failed, {first.new} new entries, "
                      f"{nbytes / 1e6:.1f} MB received")
                second = asyncio.run(poll_feeds(store, cfg))
                print(f"second poll (304s): {second.elapsed:6.2f} s  (goal < 1 s); "
                      f"{second.count('not_modified')} not modified, {second.new} new entries")

            # parse -> normalize -> store on one core, no network: the CPU cost of a poll.
            bodies = [feed_body(i, args.entries) for i in range(min(args.feeds, 300))]
            with Store(f"{tmp}/cpu.db") as store:
                now = datetime.now(UTC)
                t0 = time.perf_counter()
                n = 0
                for i, body in enumerate(bodies):
                    parsed = parse_feed(body, {"content-type": "application/rss+xml"})
                    entries = normalize_entries(parsed, feed=f"feed-{i}", language="en", fetched_at=now)
                    with store.atomic():
                        n += len(store.store_entries(entries, now=now))
                dt = time.perf_counter() - t0
            print(f"parse -> normalize -> store: {n / dt:8.0f} entries/s on one core "
                  f"({n} entries in {dt:.2f} s; goal >= 1500)")
            print(f"peak memory (RSS):  {peak_mb():6.1f} MB (goal < 150 MB)")
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
