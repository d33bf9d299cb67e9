"""`kling-monitor status`: feeds' health, backlog, parked messages, last digest, daemon liveness."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import metrics
from monitor.cli import main
from monitor.config import load_config
from monitor.errors import EXIT_ATTENTION
from monitor.models import FetchResult
from monitor.schedule import META_HEARTBEAT, META_HEARTBEAT_INTERVAL, META_PID, META_STOPPED
from monitor.status import format_status, gather_status
from monitor.store import Store, iso

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _config(tmp_path: Path) -> Path:
    p = tmp_path / "m.toml"
    p.write_text(f"""
[store]
path = "{tmp_path / 'm.db'}"

[digest]
time = "08:00"
timezone = "Europe/London"

[[feeds]]
name = "good"
url = "http://127.0.0.1:9/good.xml"

[[feeds]]
name = "bad"
url = "http://127.0.0.1:9/bad.xml"
interval = 600

[[feeds]]
name = "new"
url = "http://127.0.0.1:9/new.xml"
""", encoding="utf-8")
    return p


def _populate(store: Store) -> None:
    store.sync_feeds([("good", "http://127.0.0.1:9/good.xml", 900), ("bad", "http://127.0.0.1:9/bad.xml", 600)])
    ok = FetchResult(status="ok", url="u", final_url="u", http_status=200)
    err = FetchResult(status="error", url="u", final_url="u", error="fetch: HTTP 503")
    with store.atomic():
        store.record_fetch("good", ok, at=NOW - timedelta(minutes=5), next_poll=NOW + timedelta(minutes=10))
        for k in range(3):
            store.record_fetch("bad", err, at=NOW - timedelta(minutes=30 - k),
                               next_poll=NOW + timedelta(minutes=40))
    for i, status in enumerate(("pending", "pending", "sending", "sent", "parked")):
        store.outbox_add(idempotency_key=f"k{i}", event_key=f"e{i}", transport="slack", target="#kling",
                         thread_key=None, now=NOW - timedelta(minutes=i))
        row = store.query("SELECT id FROM outbox WHERE idempotency_key = ?", [f"k{i}"])[0]["id"]
        if status == "parked":
            store.outbox_mark_failed(row, error="slack chat.postMessage: channel_not_found",
                                     next_attempt=NOW, park=True)
        elif status == "sending":
            store.outbox_mark_sending(row, NOW)
        elif status == "sent":
            store.outbox_mark_sent(row, remote_id="1.2", now=NOW)
    slot = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
    store.digest_begin(scheduled_for=slot, period_start=slot - timedelta(days=1), period_end=slot,
                       message_id="<d@x>")
    store.digest_finish(slot, status="sent", now=slot + timedelta(seconds=3))


def test_gather_status(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path))
    with Store(cfg.store.path) as store:
        _populate(store)
        store.set_meta(META_HEARTBEAT, iso(NOW - timedelta(seconds=10)) or "")
        store.set_meta(META_HEARTBEAT_INTERVAL, "15")
        store.set_meta(META_PID, "4242")
        d = gather_status(store, cfg, now=NOW)
    json.dumps(d)  # JSON-ready
    assert d["daemon"] == {**d["daemon"], "running": True, "state": "running", "pid": 4242}
    feeds = {f["name"]: f for f in d["feeds"]}
    assert feeds["good"]["status"] == "ok" and feeds["good"]["error_count"] == 0
    assert feeds["good"]["last_success"] == "2026-06-01T11:55:00Z"
    assert feeds["bad"]["error_count"] == 3 and feeds["bad"]["backing_off"] is True
    assert feeds["bad"]["last_error"] == "fetch: HTTP 503"
    assert feeds["bad"]["next_poll_in_s"] == 2400
    assert feeds["new"]["status"] == "never polled"
    assert d["outbox"] == {"pending": 2, "sending": 1, "sent": 1, "parked": 1,
                           "oldest_unsent": "2026-06-01T11:58:00Z"}
    assert d["parked"][0]["last_error"] == "slack chat.postMessage: channel_not_found"
    assert d["digest"]["last"]["status"] == "sent"
    assert d["digest"]["last_sent"] == "2026-06-01T07:00:03Z"
    assert d["digest"]["next"] == "2026-06-02T07:00:00Z"  # 08:00 BST
    assert not d["ok"]
    assert any("bad" in p for p in d["problems"]) and any("parked" in p for p in d["problems"])

    text = format_status(d)
    assert "daemon: running, pid 4242" in text
    assert "outbox: 2 pending, 1 sending, 1 parked, 1 sent" in text
    assert "bad" in text and "backing off" in text and "fetch: HTTP 503" in text
    assert "#" in text and "channel_not_found" in text
    assert "last sent 5 h ago" in text and "next in 19 h" in text
    assert text.startswith("NEEDS ATTENTION:\n  ! 1 parked alert(s)")  # what needs a person comes first
    assert text.index("warnings:") < text.index("daemon:") and "1 feed(s) failing: bad" in text
    assert "last success" in text and "5 min ago" in text  # good's last success, relative
    lines = text.splitlines()
    assert lines.index(next(x for x in lines if x.startswith("bad "))) < \
        lines.index(next(x for x in lines if x.startswith("good ")))  # failing feeds before healthy ones


@pytest.mark.parametrize(("age", "stopped", "state"), [
    (None, False, "never started"),
    (30, False, "running"),
    (600, False, "not running (no heartbeat)"),
    (30, True, "stopped"),
])
def test_daemon_liveness(tmp_path: Path, age: int | None, stopped: bool, state: str) -> None:
    cfg = load_config(_config(tmp_path))
    with Store(cfg.store.path) as store:
        if age is not None:
            store.set_meta(META_HEARTBEAT, iso(NOW - timedelta(seconds=age)) or "")
        if stopped:
            store.set_meta(META_STOPPED, iso(NOW - timedelta(seconds=age or 0) + timedelta(seconds=1)) or "")
        d = gather_status(store, cfg, now=NOW)
    assert d["daemon"]["state"] == state
    assert d["daemon"]["running"] is (state == "running")


def test_status_cli_json_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    with Store(tmp_path / "m.db") as store:
        _populate(store)
    assert main(["-c", str(config), "status", "--json"]) == EXIT_ATTENTION  # a parked alert needs a person
    d = json.loads(capsys.readouterr().out)
    assert d["outbox"]["parked"] == 1 and d["daemon"]["state"] == "never started" and d["needs_attention"]
    assert main(["-c", str(config), "status"]) == EXIT_ATTENTION
    out = capsys.readouterr().out
    assert out.startswith("NEEDS ATTENTION:") and "daemon: never started" in out


def _status(tmp_path: Path, setup: str, now: datetime = NOW) -> tuple[int, dict[str, object]]:
    cfg = load_config(_config(tmp_path))
    with Store(cfg.store.path) as store:
        store.set_meta(META_HEARTBEAT, iso(now - timedelta(seconds=5)) or "")
        store.sync_feeds([(f.name, f.url, f.interval) for f in cfg.feeds])
        ok = FetchResult(status="ok", url="u", final_url="u", http_status=200)
        err = FetchResult(status="error", url="u", final_url="u", error="fetch: connection refused")
        with store.atomic():
            for name in ("good", "bad", "new"):
                failing = name == "bad" or setup == "all feeds failing"
                store.record_fetch(name, err if failing else ok, at=now - timedelta(minutes=3), next_poll=now)
        if setup == "parked":
            store.outbox_add(idempotency_key="k", event_key="e", transport="slack", target="#k", thread_key=None,
                             now=now)
            store.outbox_mark_failed(1, error="slack chat.postMessage: invalid_auth", next_attempt=now, park=True)
        if setup == "failed digest":
            store.digest_begin(scheduled_for=now, period_start=now, period_end=now, message_id="<m@x>")
            store.digest_finish(now, status="failed", now=now, error="SMTPAuthenticationError: 535")
        d = gather_status(store, cfg, now=now)
    return (EXIT_ATTENTION if d["needs_attention"] else 0), d


@pytest.mark.parametrize(("setup", "code", "first"), [
    ("one feed failing", 0, "warnings:"),
    ("parked", EXIT_ATTENTION, "! 1 parked alert(s) (last: slack chat.postMessage: invalid_auth)"),
    ("failed digest", EXIT_ATTENTION, "! last digest failed: SMTPAuthenticationError: 535"),
    ("all feeds failing", EXIT_ATTENTION, "! every feed is failing (3 of 3 polled)"),
])
def test_status_exit_code_says_when_a_person_is_needed(tmp_path: Path, setup: str, code: int, first: str) -> None:
    got, d = _status(tmp_path, setup)
    assert got == code
    text = format_status(d)
    assert first in text.splitlines()[0] + "\n" + text.splitlines()[1]


def test_status_lines_up_chinese_names_by_display_width(tmp_path: Path) -> None:
    from monitor.units import display_width

    d = {"name": "", "status": "ok", "last_poll": None, "last_success": None, "last_error": None, "error_count": 0,
         "backing_off": False, "next_poll": None, "effective_interval": 900, "paused": False}
    status = {"now": iso(NOW), "store": "s", "entries": 0, "attention": [], "warnings": [], "problems": [],
              "daemon": {"state": "running", "running": True, "heartbeat": None, "pid": None},
              "outbox": {"pending": 0, "sending": 0, "parked": 0, "sent": 0, "oldest_unsent": None},
              "digest": {"enabled": False, "schedule": "08:00 UTC", "last": None, "next": None},
              "paused": {}, "mutes": [], "parked": [],
              "feeds": [{**d, "name": "36氪科技"}, {**d, "name": "🍺 IceBeer"}, {**d, "name": "techcrunch"}]}
    rows = [x for x in format_status(status).splitlines() if x.startswith(("36", "🍺", "tech"))]
    assert len(rows) == 3
    assert len({display_width(r.split("ok")[0]) for r in rows}) == 1  # the status column starts at one place


def test_metrics_functions_are_cheap_and_exported() -> None:
    metrics.observe_poll("feed-x", "ok", 0.25, new_entries=3)
    metrics.observe_poll("feed-x", "error", 1.0)
    metrics.count_alert("sent", 2)
    metrics.count_alert("failed", 0)
    text = metrics.render().decode()
    assert 'kling_monitor_polls_total{feed="feed-x",status="ok"}' in text
    assert 'kling_monitor_entries_new_total{feed="feed-x"} 3.0' in text
    assert 'kling_monitor_feed_errors_total{feed="feed-x"} 1.0' in text
    assert 'kling_monitor_poll_duration_seconds_bucket{le="0.25"}' in text  # no per-feed histogram
    assert 'kling_monitor_alerts_total{status="sent"}' in text


def test_status_lists_problem_feeds_and_counts_the_healthy_rest(tmp_path: Path) -> None:
    feed = {"status": "ok", "last_poll": iso(NOW), "last_success": iso(NOW), "last_error": None, "error_count": 0,
            "backing_off": False, "next_poll": iso(NOW), "effective_interval": 900, "paused": False}
    feeds = [{**feed, "name": f"ok-{i:03d}"} for i in range(200)]
    feeds[150] = {**feeds[150], "name": "broken", "status": "error", "error_count": 4, "last_error": "HTTP 500"}
    status = {"now": iso(NOW), "store": "s", "entries": 0, "attention": [], "warnings": ["1 feed(s) failing: broken"],
              "problems": ["1 feed(s) failing: broken"], "paused": {}, "mutes": [], "parked": [],
              "daemon": {"state": "running", "running": True, "heartbeat": None, "pid": None},
              "outbox": {"pending": 0, "sending": 0, "parked": 0, "sent": 0, "oldest_unsent": None},
              "digest": {"enabled": False, "schedule": "08:00 UTC", "last": None, "next": None}, "feeds": feeds}
    lines = format_status(status).splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("feed "))) + 2:]
    assert table[0].startswith("broken ") and len(table) == 1 + 20 + 1
    assert table[-1] == "… and 179 more feeds ok (kling-monitor feeds list)"
