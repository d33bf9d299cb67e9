"""Benchmark (issue 14): kling-monitor beside urlwatch and rss2email, against one server in one run.

    pip install -e '.[bench]'      # urlwatch and rss2email; either may be missing (it is then skipped)
    python bench/compare_peers.py [--feeds 1000] [--items 20] [--delay-ms 100] [--concurrency 200]
                                  [--peers urlwatch,rss2email] [--peer-timeout 1800]

One server (bench/realfeeds.py: feeds shaped like real ones, gzipped, 100 ms a request) serves every
tool in turn. First everything bench/bench_poll_real.py prints for kling-monitor (first and 304
polls, start-up, backlog, memory, the single-core floor, its own stages on one core), then each
peer's first poll (all 200s) and second poll (which its conditional requests turn into 304s: the
server's counts are printed) as a fresh process with an empty state of its own, and the ratios of
its times to kling-monitor's.

- urlwatch: one url job per feed in a urls.yaml, its own config and cache database; it fetches and
  stores each page (10 threads) but parses no feed. Its report goes to a file.
- rss2email: one [feed.NAME] section per feed, `r2e run --no-send` (fetch, parse and build every
  entry's email, send nothing; `sendmail = /bin/true` in case). It fetches one feed at a time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_poll_real as bench  # noqa: E402
import realfeeds  # noqa: E402


@dataclass(frozen=True)
class PeerPoll:
    run: bench.Run
    served: dict[str, float]


def _tool(name: str) -> str | None:
    """The peer's command, from this Python's environment first, else PATH; None if not installed."""
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else shutil.which(name)


def _peer_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_DATA_HOME=str(home / ".local/share"))
    return env


def _polls(cmd: list[str], cwd: Path, port: int, timeout: float) -> tuple[PeerPoll, PeerPoll]:
    env = _peer_env(cwd / "home")
    polls = []
    for _ in range(2):
        realfeeds.server_stats(port)
        run = bench.run_measured(cmd, cwd=str(cwd), env=env, timeout=timeout)
        polls.append(PeerPoll(run, realfeeds.server_stats(port)))
        if run.timed_out:
            break
    while len(polls) < 2:
        polls.append(polls[0])
    return polls[0], polls[1]


def run_urlwatch(exe: str, port: int, n_feeds: int, tmp: Path, timeout: float) -> tuple[PeerPoll, PeerPoll]:
    d = tmp / "urlwatch"
    (d / "home").mkdir(parents=True)
    jobs = [f"name: feed-{i:04d}\nurl: http://127.0.0.1:{port}{realfeeds.feed_path(i)}\n" for i in range(n_feeds)]
    (d / "urls.yaml").write_text("---\n".join(jobs), encoding="utf-8")
    # No --config file yet: urlwatch writes its default one there (stdout report only).
    cmd = [exe, "--urls", str(d / "urls.yaml"), "--config", str(d / "urlwatch.yaml"), "--cache", str(d / "cache.db"),
           "--hooks", str(d / "hooks.py")]
    return _polls(cmd, d, port, timeout)


def run_rss2email(exe: str, port: int, n_feeds: int, tmp: Path, timeout: float) -> tuple[PeerPoll, PeerPoll]:
    d = tmp / "rss2email"
    (d / "home").mkdir(parents=True)
    lines = ["[DEFAULT]", "to = bench@example.invalid", "from = bench@example.invalid", "email-protocol = sendmail",
             "sendmail = /bin/true", ""]
    for i in range(n_feeds):
        lines += [f"[feed.feed-{i:04d}]", f"url = http://127.0.0.1:{port}{realfeeds.feed_path(i)}", ""]
    (d / "rss2email.cfg").write_text("\n".join(lines), encoding="utf-8")
    cmd = [exe, "-c", str(d / "rss2email.cfg"), "-d", str(d / "rss2email.json"), "run", "--no-send"]
    return _polls(cmd, d, port, timeout)


PEERS = {"urlwatch": ("urlwatch", run_urlwatch), "rss2email": ("r2e", run_rss2email)}


def _cell(run: bench.Run, ref: float) -> str:
    if run.timed_out:
        return f"> {run.wall:.0f} s (stopped)"
    failed = "" if run.rc == 0 else f", exit {run.rc}"
    return f"{run.wall:7.2f} s {run.wall / ref:6.1f}x{failed}"


def _row(tool: str, first: bench.Run, second: bench.Run, ref: tuple[float, float], load: str,
         served: str) -> str:
    return (f"{tool:<14} {_cell(first, ref[0]):>18}  {_cell(second, ref[1]):>18}  {first.cpu:7.1f} s  "
            f"{max(first.peak_mb, second.peak_mb):7.0f}  {load:<15} {served}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_workload_args(ap)
    ap.add_argument("--peers", default="urlwatch,rss2email", help="comma-separated: urlwatch, rss2email")
    ap.add_argument("--peer-timeout", type=float, default=1800, help="stop a peer's poll after this many seconds")
    args = ap.parse_args()

    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    for p in wanted:
        if p not in PEERS:
            ap.error(f"--peers: unknown peer {p!r} (known: {', '.join(PEERS)})")
    found = {p: _tool(PEERS[p][0]) for p in wanted}
    for p, exe in found.items():
        if exe is None:
            print(f"{p}: not installed (pip install -e '.[bench]'), skipped")

    base = realfeeds.base_time()
    bodies = [realfeeds.feed_xml(i, args.items, base) for i in range(args.feeds)]
    bench.print_shape(bodies)
    print(f"load average (1, 5, 15 min) at the start: {bench.load()}; {os.cpu_count()} cores")
    print(bench.compile_package())
    floor = bench.measure_floor(bodies, args.repeat)
    stages = bench.measure_stages(bodies, args.repeat)
    del bodies
    server, port = realfeeds.start_server(args.feeds, args.items, base, args.delay_ms)
    results: dict[str, tuple[PeerPoll, PeerPoll, str]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            k = bench.measure_kling(port, tmp, args.feeds, concurrency=args.concurrency,
                                    parse_workers=args.parse_workers)
            for p, exe in found.items():
                if exe is not None:
                    before = bench.load()
                    first, second = PEERS[p][1](exe, port, args.feeds, tmp, args.peer_timeout)
                    results[p] = (first, second, before)
    finally:
        server.terminate()
        server.join(5)

    print(f"kling-monitor, first poll at {k.started:%Y-%m-%d %H:%M} UTC, load average then {k.load_first}")
    bench.print_kling(k, args.feeds, args.delay_ms, args.concurrency)
    bench.print_floor(floor, k.first.run.wall)
    bench.print_stages(stages, k.first.run.cpu)
    print()
    print(f"same server, same run ({args.feeds} feeds x {args.items} items, {args.delay_ms} ms a request); "
          f"ratios are the tool's time over kling-monitor's (process wall time)")
    print(f"{'tool':<14} {'first poll':>18}  {'second poll':>18}  {'CPU first':>9}  {'peak MB':>7}  "
          f"{'load before':<15} server (first; second)")
    ref = (k.first.run.wall, k.second.run.wall)
    print(_row("kling-monitor", k.first.run, k.second.run, ref, k.load_first,
               f"{realfeeds.served_text(k.first.served)}; {realfeeds.served_text(k.second.served)}"))
    for p, (first, second, before) in results.items():
        print(_row(p, first.run, second.run, ref, before,
                   f"{realfeeds.served_text(first.served)}; {realfeeds.served_text(second.served)}"))
        for poll in (first, second):
            if poll.run.rc != 0 and not poll.run.timed_out:
                print(f"  {p} exited {poll.run.rc}: {(poll.run.err or poll.run.out).strip()[-500:]}")
    for p, exe in found.items():
        if exe is None:
            print(f"{p:<15} not installed, skipped")
    print(f"load average at the end: {bench.load()}")


if __name__ == "__main__":
    main()
