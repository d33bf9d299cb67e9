"""The daemon: digest timing across DST, per-feed back-off, SIGTERM mid-poll, SIGHUP reload, /healthz.

Subprocess tests run `python -m monitor -c CONFIG run` against real local servers, with
$KLING_MONITOR_TICK shortened so the poll-due job runs several times a second.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import feedserver
import pytest
import time_machine
from feedserver import FeedServer

from monitor.config import DigestConfig, load_config
from monitor.schedule import Daemon, LocalTimeTrigger, digest_trigger, next_digest_run, tick_seconds
from monitor.store import Store

feed_server = feedserver.feed_server  # the fixture, visible to pytest in this module

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ helpers (also used by test_crash_safety)


def rss(items: list[dict[str, str]], title: str = "Test feed") -> str:
    """A small RSS 2.0 document; each item has title, link, description, pubDate (RFC 822)."""
    parts = [f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{title}</title>"
             "<link>http://example.com/</link><description>test</description>"]
    for it in items:
        parts.append(f"<item><title>{it['title']}</title><link>{it['link']}</link><guid>{it['link']}</guid>"
                     f"<description>{it.get('description', it['title'])}</description>"
                     f"<pubDate>{it.get('pubDate') or format_datetime(datetime.now(UTC))}</pubDate></item>")
    parts.append("</channel></rss>")
    return "".join(parts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, *, store: Path, feeds: list[tuple[str, str]], interval: int = 60,
                 extra: str = "", daemon: str = "") -> Path:
    lines = [
        "[store]", f'path = "{store}"', "",
        "[fetch]", "connect_timeout = 5.0", "read_timeout = 45.0", "total_timeout = 45.0",
        "full_text_for_matches = false", "allow_private = true", "max_entry_age = 0", "",
        "[console]", "enabled = true", f'jsonl = "{store.parent / "alerts.jsonl"}"', "",
        "[daemon]", "drain_interval = 1", "shutdown_deadline = 5.0", "jitter = 0", daemon, "",
        extra, "",
    ]
    for name, url in feeds:
        lines += ["[[feeds]]", f'name = "{name}"', f'url = "{url}"', f"interval = {interval}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class DaemonProc:
    """`python -m monitor -c CONFIG run` as a child process, its stderr collected line by line."""

    def __init__(self, config: Path, *, cwd: Path, tick: float = 0.2, env: dict[str, str] | None = None) -> None:
        e = dict(os.environ)
        e.update({"PYTHONPATH": str(ROOT) + os.pathsep + e.get("PYTHONPATH", ""), "KLING_MONITOR_TICK": str(tick),
                  "PYTHONUNBUFFERED": "1"})
        e.pop("NOTIFY_SOCKET", None)
        e.pop("WATCHDOG_USEC", None)
        e.update(env or {})
        self.stdout = open(cwd / "daemon.stdout", "ab")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor", "-c", str(config), "run"], cwd=cwd, env=e,
                                     stdin=subprocess.DEVNULL, stdout=self.stdout, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:
            for raw in self.proc.stderr:
                with self._cond:
                    self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                    self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = 20.0, *, start: int = 0) -> str:
        """The first stderr line from index `start` matching `pattern`; fail with the log on timeout."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    if rx.search(line):
                        return line
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no log line matching {pattern!r}; log:\n" + self.log())
                self._cond.wait(min(left, 0.2))

    def log(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        """SIGKILL (if still running) and reap; safe to call more than once."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)
        self.stdout.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def execute(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def wait_until(pred: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# ------------------------------------------------------------------ digest timing across DST


def _fires(trigger: Any, start: datetime, n: int) -> list[datetime]:
    out, prev, now = [], None, start
    for _ in range(n):
        nxt = trigger.get_next_fire_time(prev, now)
        out.append(nxt.astimezone(UTC))
        prev, now = nxt, nxt + timedelta(microseconds=1)
    return out


def test_digest_fires_at_local_time_across_spring_forward() -> None:
    trig = digest_trigger(DigestConfig(time="08:00", timezone="Europe/London"))
    fires = _fires(trig, datetime(2026, 3, 27, 12, tzinfo=UTC), 3)
    # 08:00 GMT = 08:00Z on the 28th; 08:00 BST = 07:00Z from the 29th (the change is at 01:00Z).
    assert fires == [datetime(2026, 3, 28, 8, tzinfo=UTC), datetime(2026, 3, 29, 7, tzinfo=UTC),
                     datetime(2026, 3, 30, 7, tzinfo=UTC)]


def test_digest_fires_at_local_time_across_fall_back() -> None:
    trig = digest_trigger(DigestConfig(time="08:00", timezone="Europe/London"))
    fires = _fires(trig, datetime(2026, 10, 24, 0, tzinfo=UTC), 3)
    assert fires == [datetime(2026, 10, 24, 7, tzinfo=UTC), datetime(2026, 10, 25, 8, tzinfo=UTC),
                     datetime(2026, 10, 26, 8, tzinfo=UTC)]


def test_a_repeated_local_time_fires_once_and_a_skipped_one_fires_once() -> None:
    trig = digest_trigger(DigestConfig(time="01:30", timezone="Europe/London"))
    assert isinstance(trig, LocalTimeTrigger)
    # 01:30 happens twice on 2026-10-25 (00:30Z BST, then 01:30Z GMT): one digest, at the first.
    fall = _fires(trig, datetime(2026, 10, 24, 12, tzinfo=UTC), 2)
    assert fall == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 26, 1, 30, tzinfo=UTC)]
    # 01:30 does not exist on 2026-03-29: one digest that day all the same.
    spring = _fires(trig, datetime(2026, 3, 28, 12, tzinfo=UTC), 2)
    assert [f.date() for f in spring] == [datetime(2026, 3, 29).date(), datetime(2026, 3, 30).date()]
    assert spring[1] == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)


def test_digest_job_in_new_york_and_shanghai() -> None:
    ny = digest_trigger(DigestConfig(time="08:00", timezone="America/New_York"))
    # US DST began 2026-03-08: 08:00 EST = 13:00Z before, 08:00 EDT = 12:00Z after.
    assert _fires(ny, datetime(2026, 3, 7, 0, tzinfo=UTC), 2) == [datetime(2026, 3, 7, 13, tzinfo=UTC),
                                                                  datetime(2026, 3, 8, 12, tzinfo=UTC)]
    sh = digest_trigger(DigestConfig(time="09:30", timezone="Asia/Shanghai"))
    assert _fires(sh, datetime(2026, 3, 7, 0, tzinfo=UTC), 1) == [datetime(2026, 3, 7, 1, 30, tzinfo=UTC)]


def test_tick_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KLING_MONITOR_TICK", raising=False)
    assert tick_seconds() == 30.0
    monkeypatch.setenv("KLING_MONITOR_TICK", "0.5")
    assert tick_seconds() == 0.5
    monkeypatch.setenv("KLING_MONITOR_TICK", "nonsense")
    assert tick_seconds() == 30.0


# ------------------------------------------------------------------ back-off: one failing feed, others on time


def test_failing_feed_backs_off_while_others_keep_their_schedule(tmp_path: Path,
                                                                 feed_server: FeedServer) -> None:
    feed_server.add("/good.xml", rss([{"title": "Weather is fine", "link": "http://example.com/a"},
                                      {"title": "Still fine", "link": "http://example.com/b"}]))
    feed_server.add("/bad.xml", "upstream broken", status=500, content_type="text/plain")
    db = tmp_path / "m.db"
    cfg = load_config(write_config(tmp_path / "m.toml", store=db, feeds=[
        ("good", feed_server.url("/good.xml")), ("bad", feed_server.url("/bad.xml"))]))
    daemon = Daemon(cfg, tick=30)
    t0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    ticks = 40  # 20 minutes of 30-second ticks
    for k in range(ticks):
        with time_machine.travel(t0 + timedelta(seconds=30 * k), tick=False):
            daemon.poll_cycle()
    good, bad = feed_server.count("/good.xml"), feed_server.count("/bad.xml")
    # good: every 60 s, on time. bad: 60 s, 120 s, 240 s, 480 s... apart (±10 %): at most 6 in 20 min.
    assert good >= ticks // 2 - 1, (good, bad)
    assert 3 <= bad <= 6, (good, bad)
    with Store(db) as store:
        states = store.feed_states()
        g, b = states["good"], states["bad"]
    assert g is not None and b is not None
    assert g["error_count"] == 0 and g["last_error"] is None
    assert b["error_count"] == bad and "500" in (b["last_error"] or "")
    last_poll, next_poll = (datetime.fromisoformat(b[k].replace("Z", "+00:00")) for k in ("last_poll", "next_poll"))
    assert (next_poll - last_poll).total_seconds() >= 60 * 2 ** (bad - 1) * 0.9 - 1


# ------------------------------------------------------------------ health endpoint, in process


def test_health_endpoint_and_heartbeat(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "m.db"
    cfg = load_config(write_config(tmp_path / "m.toml", store=db, feeds=[],
                                   daemon=f"metrics_port = {port}"))
    daemon = Daemon(cfg, tick=0.2)
    daemon.start()
    try:
        wait_until(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200, 10, "/healthz 200")
        code, body = http_get(f"http://127.0.0.1:{port}/healthz")
        assert json.loads(body)["scheduler_running"] is True
        code, body = http_get(f"http://127.0.0.1:{port}/metrics")
        assert code == 200 and b"kling_monitor_scheduler_running 1.0" in body
        digest_job = daemon.scheduler.get_job("digest")
        assert digest_job is not None and digest_job.next_run_time == next_digest_run(cfg)
        assert {j.id for j in daemon.scheduler.get_jobs()} >= {"poll", "drain", "digest", "housekeeping",
                                                                "heartbeat"}
        with Store(db) as store:
            from monitor.status import gather_status

            st = gather_status(store, cfg)
        assert st["daemon"]["running"] is True
        with daemon._state_lock:  # a poll running for over an hour is stuck: systemd should restart us
            daemon._inflight["poll-test"] = time.monotonic() - 4000
        ok, detail = daemon.health()
        assert not ok and detail["reason"] == "stuck jobs: poll-test"
        with daemon._state_lock:
            del daemon._inflight["poll-test"]
        daemon.scheduler.pause_job("heartbeat")  # as if the scheduler were wedged: no heartbeat any more
        time.sleep(0.3)
        daemon._last_beat = time.monotonic() - 3600
        code, body = http_get(f"http://127.0.0.1:{port}/healthz")
        assert code == 503 and "no heartbeat" in json.loads(body)["reason"]
    finally:
        assert daemon.shutdown() == 0
    ok, detail = daemon.health()
    assert not ok and detail["reason"] == "scheduler not running"
    with Store(db) as store:
        from monitor.status import gather_status

        assert gather_status(store, cfg)["daemon"]["state"] == "stopped"


def test_housekeeping_prunes_and_records(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    cfg = load_config(write_config(tmp_path / "m.toml", store=db, feeds=[]))
    Daemon(cfg, tick=1).housekeeping()
    with Store(db) as store:
        assert store.get_meta("last_housekeeping")
        assert store.get_meta("last_vacuum")
        assert store.integrity_check() == "ok"


# ------------------------------------------------------------------ signals, in a real child process


def test_run_with_an_invalid_config_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text("[daemon]\ndrain_intervall = 3\n", encoding="utf-8")
    assert main(["-c", str(bad), "run"]) == 78
    assert "daemon.drain_intervall" in capsys.readouterr().err


def test_sigterm_during_a_slow_poll_exits_cleanly_within_the_deadline(tmp_path: Path,
                                                                      feed_server: FeedServer) -> None:
    feed_server.hang("/slow.xml")  # answers only when the server stops: a fetch that outlives the deadline
    feed_server.add("/fast.xml", rss([{"title": "Fast news", "link": "http://example.com/fast"}]))
    db = tmp_path / "m.db"
    config = write_config(tmp_path / "m.toml", store=db, feeds=[
        ("slow", feed_server.url("/slow.xml")), ("fast", feed_server.url("/fast.xml"))])
    d = DaemonProc(config, cwd=tmp_path)
    try:
        d.wait_for(r"daemon started")
        wait_until(lambda: feed_server.count("/slow.xml") >= 1, 10, "the slow feed to be requested")
        time.sleep(1.0)
        started = time.monotonic()
        d.signal(signal.SIGTERM)
        code = d.wait(5.0 + 5)
        elapsed = time.monotonic() - started
    finally:
        d.kill()
    assert code == 0, d.log()
    assert elapsed < 5.0 + 3, elapsed
    assert re.search(r"SIGTERM received: stopping", d.log())
    assert "stopped" in d.log()
    assert integrity(db) == "ok"
    # The abandoned fetch is not a feed failure: the slow feed stays due for the next start.
    rows = dict((r[0], r[1:]) for r in execute(db, "SELECT name, error_count, last_status FROM feeds"))
    assert rows["slow"] == (0, None)
    assert rows["fast"][0] == 0


def test_sighup_with_a_broken_config_keeps_the_old_one_running(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.add("/a.xml", rss([{"title": "Item A", "link": "http://example.com/a"}]))
    feed_server.add("/b.xml", rss([{"title": "Item B", "link": "http://example.com/b"}]))
    db = tmp_path / "m.db"
    port = free_port()
    config = tmp_path / "m.toml"
    write_config(config, store=db, feeds=[("a", feed_server.url("/a.xml"))], daemon=f"metrics_port = {port}")
    d = DaemonProc(config, cwd=tmp_path)
    try:
        d.wait_for(r"daemon started")
        wait_until(lambda: feed_server.count("/a.xml") >= 1, 10, "feed a to be polled")
        wait_until(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200, 10, "/healthz 200")

        # A broken config: rejected with an ERROR naming the file and the key; the old config runs on.
        write_config(config, store=db, feeds=[("a", feed_server.url("/a.xml"))], interval=5,
                     daemon=f"metrics_port = {port}")
        mark = len(d.lines)
        d.signal(signal.SIGHUP)
        line = d.wait_for(r"^ERROR .*reload rejected", start=mark)
        assert str(config) in line and "feeds[0].interval" in line, line
        time.sleep(0.5)
        assert d.proc.poll() is None, d.log()
        before = feed_server.count("/a.xml")
        execute(db, "UPDATE feeds SET next_poll = NULL")  # make feed a due again
        wait_until(lambda: feed_server.count("/a.xml") > before, 10, "feed a polled after the rejected reload")
        assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200

        # A good config: a new feed is picked up.
        write_config(config, store=db, feeds=[("a", feed_server.url("/a.xml")), ("b", feed_server.url("/b.xml"))],
                     daemon=f"metrics_port = {port}")
        mark = len(d.lines)
        d.signal(signal.SIGHUP)
        d.wait_for(r"config reloaded from .*: 2 feeds", start=mark)
        wait_until(lambda: feed_server.count("/b.xml") >= 1, 10, "feed b polled after the reload")
        code, body = http_get(f"http://127.0.0.1:{port}/metrics")
        assert code == 200 and b'kling_monitor_polls_total{feed="a"' in body

        d.signal(signal.SIGINT)
        assert d.wait(10) == 0, d.log()
    finally:
        d.kill()
    assert integrity(db) == "ok"
