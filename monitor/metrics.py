"""Prometheus metrics and the optional HTTP endpoint (/metrics, /healthz).

The observe/count functions are safe and cheap to call from anywhere (ingest, notify, the
daemon, a one-shot CLI run): they update in-process counters on a private registry and do
nothing else. Only `MetricsServer`, started by the daemon when `daemon.metrics_port` is not 0,
exposes them over HTTP.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger("monitor.metrics")

# A private registry: no process/platform collectors fighting over names in tests, and only
# what this module defines is exported.
REGISTRY = CollectorRegistry(auto_describe=True)

POLLS = Counter("kling_monitor_polls", "Feed polls by feed and outcome", ["feed", "status"], registry=REGISTRY)
ENTRIES = Counter("kling_monitor_entries_new", "New entries stored, by feed", ["feed"], registry=REGISTRY)
FEED_ERRORS = Counter("kling_monitor_feed_errors", "Failed feed polls, by feed", ["feed"], registry=REGISTRY)
POLL_SECONDS = Histogram("kling_monitor_poll_duration_seconds", "Time to fetch one feed", ["feed"],
                         buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 45, 90), registry=REGISTRY)
ALERTS = Counter("kling_monitor_alerts", "Alert deliveries by outcome (sent, failed, parked, held)",
                 ["status"], registry=REGISTRY)
DIGESTS = Counter("kling_monitor_digests", "Digest runs by result", ["result"], registry=REGISTRY)
JOB_ERRORS = Counter("kling_monitor_job_errors", "Scheduler jobs that raised", ["job"], registry=REGISTRY)
OUTBOX = Gauge("kling_monitor_outbox_messages", "Outbox messages by status", ["status"], registry=REGISTRY)
LAST_TICK = Gauge("kling_monitor_last_tick_timestamp_seconds", "Unix time of the daemon's last heartbeat",
                  registry=REGISTRY)
STORE_CORRUPT = Gauge("kling_monitor_store_corrupt",
                      "1 when the last daily integrity check of the store failed, else 0", registry=REGISTRY)
UP = Gauge("kling_monitor_scheduler_running", "1 while the daemon's scheduler runs", registry=REGISTRY)


def observe_poll(feed: str, status: str, seconds: float, new_entries: int = 0) -> None:
    """One feed poll: its outcome (ok, not_modified, unchanged, error), duration and new entries."""
    POLLS.labels(feed, status).inc()
    POLL_SECONDS.labels(feed).observe(max(0.0, seconds))
    if new_entries:
        ENTRIES.labels(feed).inc(new_entries)
    if status == "error":
        FEED_ERRORS.labels(feed).inc()


def count_alert(status: str, n: int = 1) -> None:
    """Alert deliveries: status is sent, failed, parked or held."""
    if n > 0:
        ALERTS.labels(status).inc(n)


def count_digest(result: str) -> None:
    DIGESTS.labels(result.split(":", 1)[0].split(" ", 1)[0] or "unknown").inc()


def count_job_error(job: str) -> None:
    JOB_ERRORS.labels(job).inc()


def set_outbox(counts: dict[str, int]) -> None:
    for status in ("pending", "sending", "sent", "parked"):
        OUTBOX.labels(status).set(counts.get(status, 0))


def set_tick(unix_time: float) -> None:
    LAST_TICK.set(unix_time)


def set_store_corrupt(corrupt: bool) -> None:
    STORE_CORRUPT.set(1 if corrupt else 0)


def set_running(running: bool) -> None:
    UP.set(1 if running else 0)


def render() -> bytes:
    """The Prometheus text exposition of every metric here."""
    return generate_latest(REGISTRY)


# ------------------------------------------------------------------ HTTP endpoint

HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


class MetricsServer:
    """GET /metrics (Prometheus text) and /healthz (200 healthy / 503 not, JSON body) on a thread."""

    def __init__(self, host: str, port: int, health: HealthCheck) -> None:
        self.health = health
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "kling-monitor"

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, render(), CONTENT_TYPE_LATEST)
                elif path in ("/healthz", "/health"):
                    try:
                        ok, detail = server.health()
                    except Exception as exc:  # a broken check is an unhealthy daemon, not a 500
                        ok, detail = False, {"error": repr(exc)}
                    body = json.dumps({"ok": ok, **detail}, default=str).encode()
                    self._send(200 if ok else 503, body, "application/json")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug("http %s", format % args)

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metrics-http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("metrics: http://%s:%d/metrics and /healthz", *self.address)
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
