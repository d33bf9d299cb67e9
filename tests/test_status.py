"""`kling-monitor status`: feeds' health, backlog, parked messages, last digest, daemon liveness."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import metrics
from monitor.cli import main
from monitor.config import load_config
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
    assert "last sent for 2026-06-01T07:00:00Z" in text


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
    assert main(["-c", str(config), "status", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["outbox"]["parked"] == 1 and d["daemon"]["state"] == "never started"
    assert main(["-c", str(config), "status"]) == 0
    out = capsys.readouterr().out
    assert "daemon: never started" in out and "problems:" in out


def test_metrics_functions_are_cheap_and_exported() -> None:
    metrics.observe_poll("feed-x", "ok", 0.25, new_entries=3)
    metrics.observe_poll("feed-x", "error", 1.0)
    metrics.count_alert("sent", 2)
    metrics.count_alert("failed", 0)
    text = metrics.render().decode()
    assert 'kling_monitor_polls_total{feed="feed-x",status="ok"}' in text
    assert 'kling_monitor_entries_new_total{feed="feed-x"} 3.0' in text
    assert 'kling_monitor_feed_errors_total{feed="feed-x"} 1.0' in text
    assert 'kling_monitor_poll_duration_seconds_bucket{feed="feed-x",le="0.25"}' in text
    assert 'kling_monitor_alerts_total{status="sent"}' in text
