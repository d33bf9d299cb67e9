"""Prometheus metrics and the optional HTTP endpoint (/metrics, /healthz, /readyz).

The observe/count functions are safe and cheap to call from anywhere (ingest, notify, the
daemon, a one-shot CLI run): they update in-process metrics on a private registry and do
nothing else. Only `MetricsServer`, started by the daemon when `daemon.metrics_port` is not 0,
exposes them over HTTP, with prometheus_client's own exposition (content negotiation for
OpenMetrics, gzip) behind a small WSGI router that adds HEAD and the two probes.

Prometheus practice followed here: no `_created` series; every label set that is known in
advance (each configured feed, each outcome) exists from the start at 0, so `rate()` and
`increase()` alerts can fire on the first failure; no per-feed histogram (cardinality), only a
per-feed last-success timestamp; build info as an info metric.
"""

from __future__ import annotations

import json
import logging
import platform
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
    make_wsgi_app,
)
from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

from monitor import __version__

log = logging.getLogger("monitor.metrics")

disable_created_metrics()  # the `_created` series of every counter are noise for this daemon

# A private registry: no process/platform collectors fighting over names in tests, and only
# what this module defines is exported.
REGISTRY = CollectorRegistry(auto_describe=True)

POLL_STATUSES = ("ok", "not_modified", "unchanged", "error")
ALERT_STATUSES = ("sent", "failed", "parked", "held")
DIGEST_RESULTS = ("sent", "empty", "failed", "not_due", "already_sent", "disabled")
JOBS = ("poll", "drain", "digest", "housekeeping", "heartbeat")

POLLS = Counter("kling_monitor_polls", "Feed polls by feed and outcome", ["feed", "status"], registry=REGISTRY)
ENTRIES = Counter("kling_monitor_entries_new", "New entries stored, by feed", ["feed"], registry=REGISTRY)
FEED_ERRORS = Counter("kling_monitor_feed_errors", "Failed feed polls, by feed", ["feed"], registry=REGISTRY)
LAST_SUCCESS = Gauge("kling_monitor_feed_last_success_timestamp_seconds",
                     "Unix time of each feed's last successful poll (0: none since the daemon started)",
                     ["feed"], registry=REGISTRY)
POLL_SECONDS = Histogram("kling_monitor_poll_duration_seconds", "Time to fetch one feed (all feeds)",
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
BUILD = Info("kling_monitor_build", "The running kling-monitor", registry=REGISTRY)
BUILD.info({"version": __version__, "python": platform.python_version()})

for _s in ALERT_STATUSES:
    ALERTS.labels(_s)
for _s in DIGEST_RESULTS:
    DIGESTS.labels(_s)
for _s in JOBS:
    JOB_ERRORS.labels(_s)
for _s in ("pending", "sending", "sent", "parked"):
    OUTBOX.labels(_s)

_feeds: set[str] = set()
_feeds_lock = threading.Lock()


def init_feeds(names: Iterable[str]) -> None:
    """Create every per-feed series at 0 for the configured feeds; drop those of removed feeds."""
    wanted = set(names)
    with _feeds_lock:
        for feed in wanted - _feeds:
            for s in POLL_STATUSES:
                POLLS.labels(feed, s)
            ENTRIES.labels(feed)
            FEED_ERRORS.labels(feed)
            LAST_SUCCESS.labels(feed)
        for feed in _feeds - wanted:
            for s in POLL_STATUSES:
                POLLS.remove(feed, s)
            for metric in (ENTRIES, FEED_ERRORS, LAST_SUCCESS):
                metric.remove(feed)
        _feeds.clear()
        _feeds.update(wanted)


def observe_poll(feed: str, status: str, seconds: float, new_entries: int = 0) -> None:
    """One feed poll: its outcome (ok, not_modified, unchanged, error), duration and new entries."""
    POLLS.labels(feed, status).inc()
    POLL_SECONDS.observe(max(0.0, seconds))
    if new_entries:
        ENTRIES.labels(feed).inc(new_entries)
    if status == "error":
        FEED_ERRORS.labels(feed).inc()
    else:
        LAST_SUCCESS.labels(feed).set(time.time())


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
StartResponse = Callable[..., Any]


def make_app(health: HealthCheck, ready: HealthCheck | None = None) -> Callable[..., list[bytes]]:
    """WSGI: /metrics (prometheus_client's app, HEAD too), /healthz liveness, /readyz readiness."""
    metrics_app = make_wsgi_app(REGISTRY)

    def probe(check: HealthCheck) -> tuple[str, list[tuple[str, str]], bytes]:
        try:
            ok, detail = check()
        except Exception as exc:  # a broken check is an unhealthy daemon, not a 500
            ok, detail = False, {"error": repr(exc)}
        body = json.dumps({"ok": ok, **detail}, default=str).encode()
        return ("200 OK" if ok else "503 Service Unavailable"), [("Content-Type", "application/json")], body

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        head = method == "HEAD"
        if path == "/metrics":
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
                captured.update(status=status, headers=headers)

            body = b"".join(metrics_app(dict(environ, REQUEST_METHOD="GET") if head else environ, capture))
            status, headers = captured["status"], list(captured["headers"])
        elif path in ("/healthz", "/health", "/readyz") and method in ("GET", "HEAD"):
            status, headers, body = probe(ready if path == "/readyz" and ready is not None else health)
        elif path in ("/healthz", "/health", "/readyz"):
            status, headers, body = "405 Method Not Allowed", [("Allow", "GET, HEAD")], b""
        else:
            status, headers, body = "404 Not Found", [("Content-Type", "text/plain")], b"not found\n"
        headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [] if head else [body]

    return app


class MetricsServer:
    """The WSGI app above on a thread (prometheus_client's threading WSGI server, silent handler)."""

    def __init__(self, host: str, port: int, health: HealthCheck, ready: HealthCheck | None = None) -> None:
        self.health = health
        self._httpd = make_server(host, port, make_app(health, ready), ThreadingWSGIServer,
                                  handler_class=_SilentHandler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metrics-http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("metrics: http://%s:%d/metrics, /healthz and /readyz", *self.address)
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
