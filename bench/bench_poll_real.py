"""Benchmark (issue 14): kling-monitor on 1,000 feeds shaped like real ones, through its real CLI.

    python bench/bench_poll_real.py [--feeds 1000] [--items 20] [--delay-ms 100] [--concurrency 200]
    python bench/bench_poll_real.py --check      # only the generated feeds' shape (sizes), no polling

The feeds come from bench/realfeeds.py (about 60 KB a feed, 61 MB for 1,000; gzipped on the wire;
every answer delayed by 100 ms) on one local server. Against a temporary config (`fetch.allow_private
= true`, `per_host` raised to `concurrency`, since every feed is on one host) and store, it runs, each
in a fresh process, as a user would:

- `kling-monitor poll --once --no-process --no-send` twice: the first poll (all 200s) and the
  second (all 304s; the server's own counts are printed). "inside" is the poll's own figure from
  its summary line, "process" the whole command; CPU is the process's and its parse workers';
  peak memory is the polling process's peak RSS and the largest sum over it and its workers
  (both sampled from /proc every 0.1 s);
- four polls of the unchanged feeds one after another in one process, as the daemon polls on
  every tick (the first of them imports what the others reuse);
- plain aiohttp GETs of every feed at the same concurrency (200s, then 304s with the stored
  validators): what the server and one event loop allow, with no kling-monitor code;
- `kling-monitor check-config` with the 1,000 feeds configured, and `import monitor.ingest`;
- the understanding of the stored backlog (all of it cannot match the watchlist): `process_pending`
  called until it finds nothing left, timed in this process, with the number of passes it took
  (the modules it imports are imported before, and that time is printed apart).

Beside them, the single-core CPU floor on the same bytes, with no kling-monitor code: lxml parse
with dates and URL cleaning, HTML -> text with selectolax, SQLite inserts in one transaction (and,
apart, gunzip). Each is the CPU time of the best of --repeat runs. Then kling-monitor's own stages
on one core on the same bytes (parse, normalize, store: the calls the poll makes), and what is left
of the first poll's CPU beside them (start-up, fetching, hand-offs between processes). The
machine's load average is printed with the figures, since the server and the client share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import importlib
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import realfeeds  # noqa: E402

T = TypeVar("T")

# ---------------------------------------------------------------- running a measured process


@dataclass(frozen=True)
class Run:
    """One finished command: wall time, CPU (user + sys, with its reaped children), peak memory."""

    cmd: str
    wall: float
    cpu: float  # the larger of wait4's figure and the sum sampled over the whole process tree
    peak_mb: float  # the process's peak RSS (its VmHWM, sampled every `sample` s until it ends)
    tree_mb: float  # largest sum of RSS over the process and its descendants, sampled
    rc: int
    out: str
    err: str
    timed_out: bool = False


def _kib(status: bytes, key: bytes) -> int:
    for line in status.splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


TICK = os.sysconf("SC_CLK_TCK")


def _tree_sample(root: int, cpu: dict[int, float]) -> tuple[float, float]:
    """The root process's peak RSS so far (VmHWM) and the current RSS summed over it and its descendants;
    records each one's CPU seconds so far in `cpu`.

    VmHWM belongs to the process's own address space, so unlike wait4's ru_maxrss it does not
    inherit the RSS of the (large) process that started it. The CPU covers descendants that
    wait4 misses: kling-monitor's parse workers are children of a forkserver, not of the poll.
    """
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                parent[int(name)] = int(fields[1])
                ticks[int(name)] = int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                continue
    tree, todo = set(), [root]
    while todo:
        p = todo.pop()
        tree.add(p)
        todo.extend(c for c, pp in parent.items() if pp == p and c not in tree)
    hwm = rss = 0
    for p in tree:
        if p in ticks:
            cpu[p] = ticks[p] / TICK
        try:
            with open(f"/proc/{p}/status", "rb") as f:
                status = f.read()
        except OSError:
            continue
        rss += _kib(status, b"VmRSS:")
        if p == root:
            hwm = _kib(status, b"VmHWM:")
    return hwm / 1024, rss / 1024


def run_measured(cmd: list[str], *, cwd: str, env: dict[str, str] | None = None, sample: float = 0.1,
                 timeout: float | None = None) -> Run:
    """Run a command to its end (or kill it after `timeout` s); time it and sample its tree's memory."""
    out_f = tempfile.TemporaryFile()
    err_f = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out_f, stderr=err_f, stdin=subprocess.DEVNULL)
    peak_root = peak_tree = 0.0
    cpu: dict[int, float] = {}
    done = threading.Event()

    def sampler() -> None:
        nonlocal peak_root, peak_tree
        while not done.wait(sample):
            root, tree = _tree_sample(proc.pid, cpu)
            peak_root, peak_tree = max(peak_root, root), max(peak_tree, tree)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    killer = threading.Timer(timeout, proc.kill) if timeout else None
    if killer:
        killer.start()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    timed_out = timeout is not None and wall >= timeout
    if killer:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out_f.seek(0)
    err_f.seek(0)
    return Run(" ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)), wall,
               max(ru.ru_utime + ru.ru_stime, sum(cpu.values())), peak_root, peak_tree, proc.returncode,
               out_f.read().decode(errors="replace"), err_f.read().decode(errors="replace"), timed_out)


def load() -> str:
    """The load averages (1, 5, 15 min), as `uptime` shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def compile_package() -> str:
    """Byte-compile monitor/ as installing a package does. An editable install compiles on first import,
    unless PYTHONDONTWRITEBYTECODE is set (as it is on the development machine): every process then
    compiled the package's modules again, ~0.13 s a process start, parse workers included."""
    import compileall

    ok = compileall.compile_dir(str(ROOT / "monitor"), quiet=1)
    return f"bytecode: monitor/ compiled{'' if ok else ' (with errors)'}, as an installed package is"


def kling_cmd() -> list[str]:
    script = Path(sys.executable).with_name("kling-monitor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor"]


# ---------------------------------------------------------------- kling-monitor


def write_config(path: Path, port: int, n_feeds: int, *, concurrency: int, parse_workers: int | None) -> None:
    lines = ["[store]", f'path = "{path.parent / "kling.db"}"', "",
             "[fetch]", f"concurrency = {concurrency}", f"per_host = {concurrency}", "allow_private = true"]
    if parse_workers is not None:
        lines.append(f"parse_workers = {parse_workers}")
    lines += ["", "[console]", f'jsonl = "{path.parent / "alerts.jsonl"}"', ""]
    for i in range(n_feeds):
        lines += ["[[feeds]]", f'name = "feed-{i:04d}"', f'url = "http://127.0.0.1:{port}{realfeeds.feed_path(i)}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


@dataclass(frozen=True)
class Poll:
    run: Run
    inside: float | None  # the poll's own time, from its summary line
    new: int | None
    failed: int | None  # feeds the poll reported as failed
    served: dict[str, float]


def _poll(cfg: Path, port: int) -> Poll:
    realfeeds.server_stats(port)  # zero the server's counts
    run = run_measured([*kling_cmd(), "-c", str(cfg), "poll", "--once", "--no-process", "--no-send"],
                       cwd=str(cfg.parent), env=child_env())
    if run.rc != 0:
        raise SystemExit(f"kling-monitor poll failed ({run.rc}):\n{run.out}\n{run.err}")
    inside = re.search(r"entries in ([\d.]+)\s*s", run.out)
    new = re.search(r"(\d+) new", run.out)
    failed = re.search(r"(\d+) failed", run.out)
    return Poll(run, float(inside.group(1)) if inside else None, int(new.group(1)) if new else None,
                int(failed.group(1)) if failed else None, realfeeds.server_stats(port))


def _median_wall(cmd: list[str], cwd: str, times: int = 3) -> tuple[float, Run]:
    runs = [run_measured(cmd, cwd=cwd, env=child_env()) for _ in range(times)]
    for r in runs:
        if r.rc != 0:
            raise SystemExit(f"{r.cmd} failed ({r.rc}):\n{r.out}\n{r.err}")
    return statistics.median(r.wall for r in runs), runs[-1]


def startup(cfg: Path) -> tuple[float, float]:
    """Median wall time of `check-config` with every feed configured, and of importing monitor.ingest."""
    check, _ = _median_wall([*kling_cmd(), "-c", str(cfg), "check-config"], str(cfg.parent))
    code = "import time; t = time.perf_counter(); import monitor.ingest; print(time.perf_counter() - t)"
    imports = [float(run_measured([sys.executable, "-c", code], cwd=str(cfg.parent), env=child_env()).out)
               for _ in range(3)]
    return check, statistics.median(imports)


WARM_POLLS = """
import asyncio, sys
from monitor.config import load_config
from monitor.ingest import poll_feeds
from monitor.store import Store
cfg = load_config(sys.argv[1])
with Store(cfg.store.path) as store:
    for _ in range(int(sys.argv[2])):
        summary = asyncio.run(poll_feeds(store, cfg))
        print(summary.elapsed, summary.count("not_modified", "unchanged"), flush=True)
"""


def warm_polls(cfg: Path, times: int = 4) -> list[tuple[float, int]]:
    """Polls of the unchanged feeds one after another in one process, as the daemon polls on every
    tick (the modules imported by the first): (seconds, feeds not modified) of each."""
    run = run_measured([sys.executable, "-c", WARM_POLLS, str(cfg), str(times)], cwd=str(cfg.parent),
                       env=child_env())
    if run.rc != 0:
        raise SystemExit(f"warm polls failed ({run.rc}):\n{run.out}\n{run.err}")
    return [(float(a), int(b)) for a, b in (line.split() for line in run.out.split("\n") if line.strip())]


@dataclass(frozen=True)
class BareClient:
    """Plain aiohttp GETs of every feed at the same concurrency, nothing else: what the server, the
    loopback and one Python event loop allow on this machine, with no kling-monitor code."""
    first: tuple[float, float]  # (wall, CPU) seconds, every feed answered 200 and read (gunzipped)
    conditional: tuple[float, float]  # the same with each feed's stored validators: every answer 304
    statuses: dict[int, int]


def bare_client(port: int, cfg: Path, n_feeds: int, concurrency: int) -> BareClient:
    import aiohttp

    with sqlite3.connect(cfg.parent / "kling.db") as db:
        validators = {url: (etag, modified) for url, etag, modified in
                      db.execute("SELECT url, etag, last_modified FROM feeds")}
    urls = [f"http://127.0.0.1:{port}{realfeeds.feed_path(i)}" for i in range(n_feeds)]
    statuses: dict[int, int] = {}

    async def get_all(conditional: bool) -> None:
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            slots = asyncio.Semaphore(concurrency)

            async def one(url: str) -> None:
                headers = {"Accept-Encoding": "gzip, deflate"}
                etag, modified = validators.get(url, (None, None)) if conditional else (None, None)
                if etag:
                    headers["If-None-Match"] = etag
                if modified:
                    headers["If-Modified-Since"] = modified
                async with slots, session.get(url, headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1

            await asyncio.gather(*(one(u) for u in urls))

    def timed(conditional: bool) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        asyncio.run(get_all(conditional))
        return time.perf_counter() - wall, time.process_time() - cpu

    timed(False)  # aiohttp imported and the server's pages warm, as for kling-monitor's polls
    return BareClient(timed(False), timed(True), statuses)


UNDERSTANDING_MODULES = ("monitor.pipeline", "monitor.extract", "monitor.match", "monitor.fulltext", "monitor.notify")


def understand_backlog(cfg_path: Path) -> tuple[float, int, int, float]:
    """Understand every stored, unprocessed entry: seconds, passes of `process_pending`, entries.

    The modules it uses are imported first and timed apart (the last figure): a daemon pays
    that once, not per backlog.
    """
    sys.path.insert(0, str(ROOT))
    from monitor.config import load_config
    from monitor.ingest import process_pending
    from monitor.store import Store

    t0 = time.perf_counter()
    for name in UNDERSTANDING_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    imports = time.perf_counter() - t0
    cfg = load_config(str(cfg_path))
    cwd = os.getcwd()
    os.chdir(cfg_path.parent)
    try:
        with Store(cfg.store.path) as store:
            t0 = time.perf_counter()
            passes = entries = 0
            while True:
                done = asyncio.run(process_pending(store, cfg)).processed
                if not done:
                    break
                passes += 1
                entries += done
            return time.perf_counter() - t0, passes, entries, imports
    finally:
        os.chdir(cwd)


@dataclass(frozen=True)
class KlingFigures:
    first: Poll
    second: Poll
    check_config: float
    import_ingest: float
    backlog: tuple[float, int, int, float] | str | None  # (seconds, passes, entries), or why it was not measured
    load_first: str
    started: datetime
    warm: list[tuple[float, int]]  # polls of the unchanged feeds in one process, as the daemon's ticks
    bare: BareClient


def measure_kling(port: int, tmp: Path, n_feeds: int, *, concurrency: int, parse_workers: int | None,
                  backlog: bool = True) -> KlingFigures:
    cfg = tmp / "kling" / "monitor.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    write_config(cfg, port, n_feeds, concurrency=concurrency, parse_workers=parse_workers)
    started, load_first = datetime.now(UTC), load()
    first = _poll(cfg, port)
    second = _poll(cfg, port)
    warm = warm_polls(cfg)
    bare = bare_client(port, cfg, n_feeds, concurrency)
    check, imp = startup(cfg)
    understood: tuple[float, int, int, float] | str | None = None
    if backlog:
        try:
            understood = understand_backlog(cfg)
        except Exception as exc:  # noqa: BLE001 - the library's API moved: say so, keep the other figures
            understood = f"{type(exc).__name__}: {exc}"
    return KlingFigures(first, second, check, imp, understood, load_first, started, warm, bare)


# ---------------------------------------------------------------- the floor (no kling-monitor code)


@dataclass(frozen=True)
class Floor:
    entries: int
    parse: float  # lxml parse, dates, URL cleaning: seconds for all entries
    html: float  # selectolax HTML -> text: seconds for all descriptions
    sql: float  # SQLite inserts in one transaction: seconds for all rows
    gunzip: float

    @property
    def total(self) -> float:
        return self.parse + self.html + self.sql


DC = "{http://purl.org/dc/elements/1.1/}creator"


def _clean_url(url: str) -> str:
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")]
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, urlencode(query), ""))


def _parse(bodies: list[bytes]) -> list[tuple[str, str, str, str, str, str, str]]:
    from lxml import etree

    rows = []
    for n, body in enumerate(bodies):
        for item in etree.fromstring(body).iter("item"):
            published = parsedate_to_datetime(item.findtext("pubDate") or "").astimezone(UTC).isoformat()
            cats = ",".join(c.text or "" for c in item.iter("category"))
            rows.append((f"feed-{n}", item.findtext("guid") or "", _clean_url(item.findtext("link") or ""),
                         item.findtext("title") or "", published, item.findtext(DC) or "",
                         (item.findtext("description") or "") + "\0" + cats))
    return rows


def _best(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """CPU seconds of the cheapest of `repeat` runs (the least disturbed by the machine's other work).

    CPU time, not wall time: the floor is what the work costs one core, and on a shared machine the
    wall clock also counts the time spent waiting for a core.
    """
    times = []
    for _ in range(max(repeat, 1)):
        t0 = time.process_time()
        result = fn()
        times.append(time.process_time() - t0)
    return min(times), result


def measure_floor(bodies: list[bytes], repeat: int = 3) -> Floor:
    from selectolax.lexbor import LexborHTMLParser

    gz = [gzip.compress(b, compresslevel=6) for b in bodies]
    t_gunzip, _ = _best(lambda: [gzip.decompress(b) for b in gz], repeat)
    t_parse, rows = _best(lambda: _parse(bodies), repeat)
    descriptions = [r[6].split("\0", 1)[0] for r in rows]
    t_html, texts = _best(lambda: [" ".join(LexborHTMLParser(d).text(separator=" ").split())
                                   for d in descriptions], repeat)
    records = [(*r[:6], t) for r, t in zip(rows, texts, strict=True)]

    def insert() -> None:
        with tempfile.TemporaryDirectory() as d:
            db = sqlite3.connect(f"{d}/floor.db")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE entries (id INTEGER PRIMARY KEY, feed TEXT, guid TEXT, url TEXT, title TEXT, "
                       "published TEXT, author TEXT, summary TEXT, UNIQUE (feed, guid))")
            with db:
                db.executemany("INSERT INTO entries (feed, guid, url, title, published, author, summary) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", records)
            db.close()

    t_sql, _ = _best(insert, repeat)
    return Floor(len(rows), t_parse, t_html, t_sql, t_gunzip)


# ---------------------------------------------------------------- kling-monitor's stages, one core


@dataclass(frozen=True)
class Stages:
    """kling-monitor's own CPU per stage on the same bytes, in this process, on one core."""
    parse: float  # parse_feed: the fast path, as the poll runs it
    normalize: float  # normalize_entries: text, links, dates, authors
    store: float  # store_entries and record_fetch, 100 feeds a transaction, into a new store
    stored: int  # entries the store took as new (every one of them, on these bodies)

    @property
    def total(self) -> float:
        return self.parse + self.normalize + self.store


def measure_stages(bodies: list[bytes], repeat: int = 3) -> Stages:
    """What the poll's CPU goes to besides fetching, handing over and starting: the same calls the
    poll makes, on the bodies the server sends, so the first poll's CPU can be read against them."""
    from monitor.models import FetchResult
    from monitor.normalize import normalize_entries
    from monitor.parse import parse_feed
    from monitor.store import Store

    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    now = datetime.now(UTC)
    t_parse, parsed = _best(lambda: [parse_feed(b, headers) for b in bodies], repeat)
    t_norm, entries = _best(lambda: [normalize_entries(p, feed=f"feed-{n:04d}", language=None, fetched_at=now)
                                     for n, p in enumerate(parsed)], repeat)

    def store() -> int:
        new = 0
        with tempfile.TemporaryDirectory() as d, Store(Path(d) / "kling.db") as st:
            st.sync_feeds((f"feed-{n:04d}", f"http://127.0.0.1/feed/{n}.xml", 900) for n in range(len(bodies)))
            for start in range(0, len(entries), 100):
                with st.atomic():
                    for n in range(start, min(start + 100, len(entries))):
                        new += len(st.store_entries(entries[n], now=now))
                        url = f"http://127.0.0.1/feed/{n}.xml"
                        st.record_fetch(f"feed-{n:04d}", FetchResult(status="ok", url=url, final_url=url, http_status=200,
                                                                    etag=f'"{n}"'), at=now, next_poll=now,
                                        body_hash="0" * 32, new_entries=len(entries[n]))
        return new

    t_store, stored = _best(store, repeat)
    return Stages(t_parse, t_norm, t_store, stored)


# ---------------------------------------------------------------- printing


def print_shape(bodies: list[bytes]) -> None:
    s = realfeeds.shape(bodies)
    print(f"generated: {s['feeds']:.0f} feeds, {s['items']:.0f} items, {s['total_mb']:.1f} MB "
          f"({s['gzip_mb']:.1f} MB gzipped); {s['feed_kb']:.1f} KB a feed, {s['description_kb']:.2f} KB a "
          f"description, {100 * s['cdata_share']:.0f}% of descriptions in CDATA")


def print_kling(k: KlingFigures, n_feeds: int, delay_ms: int, concurrency: int) -> None:
    ideal = n_feeds * delay_ms / 1000 / concurrency
    for label, p, goal in (("first poll (200s)", k.first, 3.0), ("second poll (304s)", k.second, 0.5)):
        inside = f"{p.inside:.1f} s inside the poll" if p.inside is not None else "poll time not printed"
        print(f"{label:<19} {p.run.wall:6.2f} s for the process, {inside} (goal <= {goal} s); "
              f"CPU {p.run.cpu:.2f} s; {p.new if p.new is not None else '?'} new entries, "
              f"{p.failed if p.failed is not None else '?'} feeds failed; "
              f"server: {realfeeds.served_text(p.served)}")
    print(f"{'':<19} network ideal {ideal:.2f} s ({n_feeds} x {delay_ms} ms / {concurrency} in flight)")
    if k.warm:
        later = [t for t, _ in k.warm[1:]] or [k.warm[0][0]]
        print(f"daemon's 304 poll   {statistics.median(later):6.2f} s (median of polls 2-{len(k.warm)} in one process, "
              f"as on every tick after the first; the first, which imports the fetcher, {k.warm[0][0]:.2f} s); "
              f"{min(n for _, n in k.warm)} of {n_feeds} not modified each time")
    b = k.bare
    print(f"bare aiohttp        {b.first[0]:6.2f} s (CPU {b.first[1]:.2f} s) to GET and gunzip every feed, "
          f"{b.conditional[0]:.2f} s (CPU {b.conditional[1]:.2f} s) for their 304s: {concurrency} in flight, "
          f"the same server, no kling-monitor code (answers {dict(sorted(b.statuses.items()))})")
    if k.first.new:
        print(f"entries/s           {k.first.new / k.first.run.wall:6.0f} over the first poll's process "
              f"({k.first.new} entries in {k.first.run.wall:.2f} s)")
    peak = max(k.first.run.peak_mb, k.second.run.peak_mb)
    tree = max(k.first.run.tree_mb, k.second.run.tree_mb)
    print(f"peak memory         {peak:6.1f} MB RSS of the polling process, {tree:.1f} MB of it with its parse "
          f"workers (goal < 200 MB)")
    print(f"start-up            {k.check_config:6.2f} s for `check-config` with {n_feeds} feeds (goal <= 0.5 s); "
          f"{k.import_ingest:.2f} s to import monitor.ingest (medians of 3)")
    if isinstance(k.backlog, str):
        print(f"backlog             not measured: {k.backlog}")
    elif k.backlog is not None:
        secs, passes, entries, imports = k.backlog
        per = f", {1e6 * secs / entries:.0f} µs an entry" if entries else ""
        print(f"backlog             {secs:6.2f} s to understand {entries} stored entries that cannot match "
              f"(goal <= 2 s), in {passes} pass{'es' if passes != 1 else ''} of process_pending{per}; "
              f"importing its modules first took {imports:.2f} s")


def print_floor(f: Floor, first_wall: float | None = None) -> None:
    n = f.entries
    print(f"floor, one core     {f.total:6.2f} s of CPU for {n} entries (CPU time, best of runs):")
    print(f"  lxml parse, dates, URL cleaning  {n / f.parse:8.0f} entries/s  ({f.parse:.2f} s)")
    print(f"  HTML -> text with selectolax     {1e6 * f.html / n:8.1f} µs a description  ({f.html:.2f} s)")
    print(f"  SQLite inserts, one transaction  {n / f.sql:8.0f} rows/s  ({f.sql:.2f} s)")
    print(f"  (gunzip, not in the sum          {f.gunzip:8.2f} s)")
    if first_wall:
        print(f"  first poll / floor: {first_wall / f.total:.1f}x")


def print_stages(st: Stages, first_cpu: float | None = None) -> None:
    print(f"kling-monitor's stages, one core: {st.total:.2f} s of CPU on the same bytes (best of runs): "
          f"parse {st.parse:.2f} s, normalize {st.normalize:.2f} s, store {st.store:.2f} s")
    if first_cpu:
        print(f"  the first poll's CPU ({first_cpu:.2f} s) less these: {first_cpu - st.total:.2f} s for start-up, "
              f"fetching and gunzip, and handing bodies and entries between processes")


def add_workload_args(ap: argparse.ArgumentParser) -> None:
    """The workload's options, the same here and in compare_peers.py."""
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=20, help="items per feed (default 20)")
    ap.add_argument("--delay-ms", type=int, default=100, help="delay of every answer (default 100)")
    ap.add_argument("--concurrency", type=int, default=200, help="kling-monitor's fetch.concurrency and per_host")
    ap.add_argument("--parse-workers", type=int, default=None,
                    help="kling-monitor's fetch.parse_workers (default: the product's default)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each floor stage; the best counts")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_workload_args(ap)
    ap.add_argument("--no-backlog", action="store_true", help="skip understanding the backlog")
    ap.add_argument("--check", action="store_true", help="print the generated feeds' shape and exit")
    args = ap.parse_args()

    base = realfeeds.base_time()
    bodies = [realfeeds.feed_xml(i, args.items, base) for i in range(args.feeds)]
    print_shape(bodies)
    if args.check:
        return
    print(f"load average (1, 5, 15 min) at the start: {load()}; {os.cpu_count()} cores")
    print(compile_package())
    floor = measure_floor(bodies, args.repeat)
    stages = measure_stages(bodies, args.repeat)
    del bodies
    server, port = realfeeds.start_server(args.feeds, args.items, base, args.delay_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            k = measure_kling(port, Path(tmp), args.feeds, concurrency=args.concurrency,
                              parse_workers=args.parse_workers, backlog=not args.no_backlog)
    finally:
        server.terminate()
        server.join(5)
    print(f"kling-monitor, first poll at {k.started:%Y-%m-%d %H:%M} UTC, load average then {k.load_first}, "
          f"at the end {load()}")
    print_kling(k, args.feeds, args.delay_ms, args.concurrency)
    print_floor(floor, k.first.run.wall)
    print_stages(stages, k.first.run.cpu)


if __name__ == "__main__":
    main()
