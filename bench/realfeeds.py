"""Feeds shaped like real ones, made up on the spot (seeded, no files), and a local server for them.

Shared by bench/bench_poll_real.py and bench/compare_peers.py (issue 14). Each feed is an RSS 2.0
document of `items` items, about 3 KB an item: a title, a link with utm parameters, a guid, a
pubDate, a dc:creator, 1-3 categories and a ~2.4 KB HTML description (<p>, <a>, <img>, <strong>,
entities), two-thirds of them in CDATA and the rest entity-escaped. With 20 items a feed is about
60 KB, so 1,000 feeds make about 61 MB. Feed i depends only on (i, items, base): the server and
the CPU-floor measurement build the same bytes.

The text never names a watched company, so the whole backlog is one that cannot match.

The server (aiohttp, 127.0.0.1, port 0, in its own process) gzips bodies for clients that accept
it, answers conditional requests (If-None-Match, If-Modified-Since) with 304, delays every answer
by `delay_ms`, and counts its answers by status and its own CPU time at /stats (not delayed;
`?reset=1` zeroes them), so a run shows that a second poll really was all 304s, and what serving
cost on the shared cores.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import multiprocessing
import queue
import random
import socket
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.process import BaseProcess

WORDS = (
    "the of and to in a for on that with as by at from is was said new has have will are be its an it this "
    "market company year quarter growth revenue report data users service platform network energy policy "
    "city council budget plan project school students health hospital patients research study team season "
    "game coach players league match season transfer weather storm rain river bridge road traffic rail "
    "airport flight airline travel tourism hotel housing prices rent mortgage bank rates inflation jobs "
    "workers union strike wages factory supply chain shipping port exports imports trade tariff minister "
    "government election voters campaign party court judge ruling law lawmakers bill senate committee "
    "police officers investigation museum exhibition festival music film theatre book author novel award "
    "science space telescope satellite climate ocean forest wildlife farmers harvest food restaurant chef "
    "software update security privacy phone laptop battery chip cloud storage app developers open source "
    "startup founders investors shares stock index analysts forecast outlook demand sales retail store"
).split()
SECTIONS = ("news", "business", "world", "tech", "sport", "culture", "science", "local", "opinion", "travel")
CATEGORIES = ("Business", "World", "Technology", "Sport", "Culture", "Science", "Local", "Politics",
              "Health", "Travel", "Economy", "Environment", "Education", "Transport", "Energy")
AUTHORS = ("Maria Lopez", "James O'Neill", "Ana Sousa", "Peter Novak", "Chen Wei", "Fatima Khan",
           "Luc Dubois", "Sarah Johnson", "Tomás García", "Eva Müller", "Kenji Sato", "Olga Ivanova")
ENTITIES = ("&amp;", "&quot;", "&#8217;", "&#8220;", "&#8221;", "&nbsp;", "&mdash;", "&hellip;", "&eacute;")
OFFSETS = ("+0000", "GMT", "-0500", "+0100", "-0800", "+0530")
DESCRIPTION_CHARS = 2250  # paragraphs are added until this; they average 2.4 KB


def base_time() -> datetime:
    """Today at 00:00 UTC: entries are dated within the last days, so no age limit drops them."""
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def _sentence(rng: random.Random, n: int) -> str:
    words = rng.choices(WORDS, k=n)
    return words[0].capitalize() + " " + " ".join(words[1:])


def _description(rng: random.Random, site: str) -> str:
    """About 2.4 KB of article-teaser HTML: paragraphs, a link, an image, bold text, entities."""
    parts: list[str] = []
    size = 0
    first = True
    while size < DESCRIPTION_CHARS:
        bits = []
        for _ in range(rng.randint(2, 4)):
            s = _sentence(rng, rng.randint(8, 18))
            roll = rng.random()
            if roll < 0.25:
                s = f"{s} {rng.choice(ENTITIES)} {_sentence(rng, 4).lower()}"
            elif roll < 0.4:
                w = rng.choice(WORDS)
                s = f'{s}, <a href="https://{site}/{rng.choice(SECTIONS)}/{w}-{rng.randint(1000, 99999)}">{w} ' \
                    f"{rng.choice(WORDS)}</a>"
            elif roll < 0.5:
                s = f"<strong>{s}</strong>"
            bits.append(s + ".")
        p = "<p>" + " ".join(bits) + "</p>"
        if first:
            p = (f'<p><img src="https://cdn.{site}/images/{rng.randint(10**6, 10**7)}.jpg" width="640" '
                 f'height="360" alt="{_sentence(rng, 5)}" /></p>') + p
            first = False
        parts.append(p)
        size += len(p)
    return "".join(parts)


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def feed_xml(i: int, items: int = 20, base: datetime | None = None) -> bytes:
    """Feed number i: the same bytes for the same (i, items, base)."""
    base = base or base_time()
    rng = random.Random(1_000_003 * i + items)
    site = f"www.outlet{i}.example.com"
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>Outlet {i} {rng.choice(SECTIONS).capitalize()}</title>\n<link>https://{site}/</link>\n"
        f'<atom:link href="https://{site}/rss" rel="self" type="application/rss+xml" />\n'
        f"<description>Latest stories from outlet {i}</description>\n<language>en</language>\n"
        f"<lastBuildDate>{format_datetime(base)}</lastBuildDate>\n"
    ]
    for j in range(items):
        title = _sentence(rng, rng.randint(6, 12))
        section = rng.choice(SECTIONS)
        slug = "-".join(title.lower().split()[:8])
        story = rng.randint(10**6, 10**8)
        link = (f"https://{site}/{section}/{slug}-{story}?utm_source=rss&amp;utm_medium=feed"
                f"&amp;utm_campaign={section}-{rng.randint(1, 99)}")
        when = base - timedelta(minutes=17 * j + rng.randint(0, 16), seconds=rng.randint(0, 59))
        stamp = when.strftime("%a, %d %b %Y %H:%M:%S ") + rng.choice(OFFSETS)
        if not stamp.endswith("GMT") and not stamp.endswith("+0000"):  # say the same instant in that zone
            sign = 1 if stamp[-5] == "+" else -1
            local = when + sign * timedelta(hours=int(stamp[-4:-2]), minutes=int(stamp[-2:]))
            stamp = local.strftime("%a, %d %b %Y %H:%M:%S ") + stamp[-5:]
        cats = "".join(f"<category>{c}</category>" for c in rng.sample(CATEGORIES, rng.randint(1, 3)))
        desc = _description(rng, site)
        body = f"<![CDATA[{desc}]]>" if (i * items + j) % 3 else _xml_escape(desc)
        out.append(
            f"<item>\n<title>{_xml_escape(title)}</title>\n<link>{link}</link>\n"
            f'<guid isPermaLink="false">{site}:{story}</guid>\n<pubDate>{stamp}</pubDate>\n'
            f"<dc:creator>{_xml_escape(rng.choice(AUTHORS))}</dc:creator>\n{cats}\n"
            f"<description>{body}</description>\n</item>\n")
    out.append("</channel>\n</rss>\n")
    return "".join(out).encode()


def feed_path(i: int) -> str:
    return f"/feed/{i}.xml"


# ---------------------------------------------------------------- the server


def _serve(port_q: multiprocessing.Queue, n_feeds: int, items: int, base_ts: float, delay_ms: int) -> None:
    from aiohttp import web

    base = datetime.fromtimestamp(base_ts, UTC)
    last_modified = format_datetime(base, usegmt=True)
    raw = [feed_xml(i, items, base) for i in range(n_feeds)]
    gz = [gzip.compress(b, compresslevel=6) for b in raw]
    etags = [f'"{hashlib.sha1(b).hexdigest()[:16]}"' for b in raw]
    counts: dict[str, int] = {}
    cpu_since = [time.process_time()]

    async def feed(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay_ms / 1000)
        try:
            i = int(request.match_info["i"])
            body = raw[i]
        except (ValueError, IndexError):
            counts["404"] = counts.get("404", 0) + 1
            raise web.HTTPNotFound() from None
        headers = {"ETag": etags[i], "Last-Modified": last_modified, "Vary": "Accept-Encoding"}
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        if (inm is not None and etags[i] in [t.strip() for t in inm.split(",")]) or (inm is None and ims == last_modified):
            counts["304"] = counts.get("304", 0) + 1
            return web.Response(status=304, headers=headers)
        counts["200"] = counts.get("200", 0) + 1
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            headers["Content-Encoding"] = "gzip"
            body = gz[i]
        return web.Response(body=body, headers=headers, content_type="application/rss+xml", charset="utf-8")

    async def stats(request: web.Request) -> web.Response:
        answer: dict[str, float] = {**counts, "cpu_s": round(time.process_time() - cpu_since[0], 3)}
        if request.query.get("reset"):
            counts.clear()
            cpu_since[0] = time.process_time()
        return web.json_response(answer)

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i}.xml", feed)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock, backlog=4096).start()
        port_q.put(sock.getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


def start_server(n_feeds: int, items: int, base: datetime, delay_ms: int) -> tuple[BaseProcess, int]:
    """Start the feed server in its own process; return it and its port once it listens."""
    ctx = multiprocessing.get_context("spawn")
    q: multiprocessing.Queue = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(q, n_feeds, items, base.timestamp(), delay_ms), daemon=True)
    proc.start()
    deadline = time.monotonic() + 600  # it builds every feed first
    while time.monotonic() < deadline:
        try:
            return proc, int(q.get(timeout=1))
        except queue.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"feed server exited with {proc.exitcode} before listening") from None
    proc.terminate()
    raise RuntimeError("feed server did not start within 600 s")


def server_stats(port: int, *, reset: bool = True) -> dict[str, float]:
    """The server's answers by status and its CPU seconds ("cpu_s") since the last reset (and reset)."""
    url = f"http://127.0.0.1:{port}/stats" + ("?reset=1" if reset else "")
    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 - our own server on 127.0.0.1
        return {str(k): float(v) for k, v in json.load(r).items()}


def served_text(stats: dict[str, float]) -> str:
    """What the server answered during one run and what that cost it: '1000 x 200, server CPU 1.2 s'."""
    answers = ", ".join(f"{v:.0f} x {k}" for k, v in sorted(stats.items()) if k != "cpu_s") or "nothing"
    return f"{answers}, server CPU {stats.get('cpu_s', 0):.1f} s"


def shape(bodies: list[bytes]) -> dict[str, float]:
    """Sizes of generated feeds: total MB, average feed KB, average description KB, items, CDATA share."""
    from lxml import etree

    n_items = n_cdata = desc_chars = 0
    for b in bodies:
        n_cdata += b.count(b"<description><![CDATA[")
        for item in etree.fromstring(b).iter("item"):
            n_items += 1
            desc_chars += len((item.findtext("description") or "").encode())
    total = sum(len(b) for b in bodies)
    return {"feeds": len(bodies), "items": n_items, "total_mb": total / 1e6,
            "feed_kb": total / len(bodies) / 1e3, "description_kb": desc_chars / max(n_items, 1) / 1e3,
            "cdata_share": n_cdata / max(n_items, 1),
            "gzip_mb": sum(len(gzip.compress(b, compresslevel=6)) for b in bodies) / 1e6}
