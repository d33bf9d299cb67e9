"""Metrics the Prometheus way: prometheus_client's exposition (HEAD, gzip, OpenMetrics), no `_created`,
label sets at 0 from the start, no per-feed histogram, build info; /healthz liveness, /readyz readiness."""

from __future__ import annotations

import gzip
import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer
from test_schedule import http_get, wait_until, write_config

from monitor import __version__, metrics
from monitor.config import load_config
from monitor.schedule import Daemon
from monitor.store import Store


def test_exposition_follows_prometheus_practice() -> None:
    metrics.init_feeds(["feed-a", "可灵-zh"])
    text = metrics.render().decode()
    assert "_created" not in text
    assert 'kling_monitor_build_info{python="' in text and f'version="{__version__}"' in text
    for series in ('kling_monitor_polls_total{feed="feed-a",status="error"} 0.0',
                   'kling_monitor_polls_total{feed="可灵-zh",status="ok"} 0.0',
                   'kling_monitor_feed_errors_total{feed="feed-a"} 0.0',
                   'kling_monitor_feed_last_success_timestamp_seconds{feed="feed-a"} 0.0',
                   'kling_monitor_alerts_total{status="parked"} 0.0',
                   'kling_monitor_digests_total{result="failed"} 0.0',
                   'kling_monitor_job_errors_total{job="poll"} 0.0',
                   'kling_monitor_outbox_messages{status="parked"} 0.0'):
        assert series in text, series
    assert not [line for line in text.splitlines()
                if line.startswith("kling_monitor_poll_duration_seconds") and "feed=" in line]
    metrics.observe_poll("feed-a", "ok", 0.3, new_entries=2)
    text = metrics.render().decode()
    assert 'kling_monitor_entries_new_total{feed="feed-a"} 2.0' in text
    assert 'kling_monitor_poll_duration_seconds_bucket{le="0.5"}' in text
    stamp = next(x for x in text.splitlines() if x.startswith('kling_monitor_feed_last_success_timestamp_seconds{feed="feed-a"}'))
    assert abs(float(stamp.split()[-1]) - datetime.now(UTC).timestamp()) < 60
    metrics.init_feeds(["feed-a"])  # a feed removed from the config loses its series
    assert "可灵-zh" not in metrics.render().decode()


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, Any]]]:
    state: dict[str, Any] = {"live": True, "ready": True}
    srv = metrics.MetricsServer("127.0.0.1", 0, lambda: (state["live"], {"who": "live"}),
                                lambda: (state["ready"], {"who": "ready"})).start()
    try:
        yield f"http://127.0.0.1:{srv.address[1]}", state
    finally:
        srv.stop()


def request(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def test_metrics_endpoint_speaks_head_gzip_and_openmetrics(server: tuple[str, dict[str, Any]]) -> None:
    base, _ = server
    code, headers, body = request(base + "/metrics")
    assert code == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    assert b"kling_monitor_scheduler_running" in body
    code, head_headers, head_body = request(base + "/metrics", "HEAD")
    assert code == 200 and head_body == b"" and int(head_headers["content-length"]) > 1000
    code, headers, body = request(base + "/metrics", **{"Accept-Encoding": "gzip"})
    assert headers.get("content-encoding") == "gzip" and b"kling_monitor_polls_total" in gzip.decompress(body)
    code, headers, body = request(base + "/metrics", Accept="application/openmetrics-text; version=1.0.0")
    assert headers["content-type"].startswith("application/openmetrics-text") and body.endswith(b"# EOF\n")
    assert b"_created" not in body
    assert request(base + "/nope")[0] == 404


@pytest.mark.parametrize(("live", "ready", "healthz", "readyz"), [
    (True, True, 200, 200), (True, False, 200, 503), (False, False, 503, 503)])
def test_probes(server: tuple[str, dict[str, Any]], live: bool, ready: bool, healthz: int, readyz: int) -> None:
    base, state = server
    state.update(live=live, ready=ready)
    code, _, body = request(base + "/healthz")
    assert code == healthz and json.loads(body) == {"ok": live, "who": "live"}
    code, _, body = request(base + "/readyz")
    assert code == readyz and json.loads(body)["who"] == "ready"
    assert request(base + "/readyz", "HEAD")[0] == readyz


def test_daemon_readyz_fails_when_every_feed_fails_or_alerts_are_parked(tmp_path: Path,
                                                                        feed_server: FeedServer) -> None:
    from test_schedule import free_port

    feed_server.add("/down.xml", b"no", status=500)
    port, db = free_port(), tmp_path / "m.db"
    path = write_config(tmp_path / "m.toml", store=db, feeds=[("down", feed_server.url("/down.xml"))],
                        daemon=f"metrics_port = {port}")
    cfg = load_config(path)
    daemon = Daemon(cfg, tick=0.2)
    daemon.start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_get(url + "/readyz")[0] == 503, 15, "/readyz 503 once every feed fails")
        code, body = http_get(url + "/readyz")
        assert json.loads(body)["all_feeds_failing"] is True and "every feed is failing" in json.loads(body)["reason"]
        assert http_get(url + "/healthz")[0] == 200  # alive all the same: a restart would not help
        code, body = http_get(url + "/metrics")
        assert b'kling_monitor_polls_total{feed="down",status="error"}' in body
        with Store(db) as store:  # the feed recovers (paused here), but an alert is parked
            store.pause_feed("down", until=None, now=datetime.now(UTC))
            store.outbox_add(idempotency_key="k", event_key="e", transport="slack", target="#k", thread_key=None,
                             now=datetime.now(UTC))
            store.outbox_mark_failed(1, error="slack: invalid_auth", next_attempt=datetime.now(UTC), park=True)
        code, body = http_get(url + "/readyz")
        assert code == 503 and json.loads(body)["parked"] == 1 and not json.loads(body)["all_feeds_failing"]
        with Store(db) as store:
            store.outbox_retry_all(datetime.now(UTC))
        assert http_get(url + "/readyz")[0] == 200
    finally:
        assert daemon.shutdown() == 0
