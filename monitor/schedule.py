"""The daemon behind `kling-monitor run`: APScheduler jobs, signals, sd_notify, graceful stop.

Jobs (APScheduler 3 BackgroundScheduler, a thread pool; every job coalesce=True, max_instances=1):

    poll          every tick (30 s; $KLING_MONITOR_TICK): poll the feeds whose stored `next_poll`
                  is due, understand new entries (process_pending), deliver their alerts. The
                  per-feed schedule and back-off live in the store, so a failing feed is pushed
                  back while the others keep their rhythm, and a restart resumes where it was.
    drain         every daemon.drain_interval s: deliver due outbox messages (retries, quiet hours).
    digest        at digest.time in digest.timezone (a CronTrigger on the zone: right across DST),
                  plus once at start to catch a digest missed while the daemon was down.
    housekeeping  every daemon.housekeeping_hours: prune old text, PRAGMA optimize, VACUUM weekly.
    heartbeat     every min(tick, 15 s), on its own thread: writes `daemon_heartbeat` to the store's
                  meta table (what `kling-monitor status` reads) and feeds /healthz and the watchdog.

Signals are turned into flags and a wake-up byte (signal.set_wakeup_fd) and handled by the main
thread: SIGTERM/SIGINT stop within daemon.shutdown_deadline (in-flight fetches are cancelled,
a running delivery is let finish, every write is a transaction so the store stays consistent);
SIGHUP reloads the config, and an invalid new config is rejected with an ERROR naming the file
and the key while the old one keeps running.

$KLING_MONITOR_TICK (seconds, default 30) sets how often due feeds are looked for; tests set it
below a second. It does not make feeds poll more often than their interval.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import select
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor import metrics, sdnotify
from monitor.config import Config, DigestConfig, load_config
from monitor.errors import EXIT_OK, ConfigError
from monitor.store import Store, iso, parse_iso, utcnow

log = logging.getLogger("monitor.schedule")

T = TypeVar("T")

TICK_ENV = "KLING_MONITOR_TICK"
DEFAULT_TICK = 30.0
MAX_HEARTBEAT = 15.0
HEALTHY_BEAT_AGE = 60.0  # seconds: an older in-memory heartbeat makes /healthz 503 and stops the watchdog
VACUUM_EVERY = timedelta(days=7)
INTEGRITY_EVERY = timedelta(hours=23)  # daily, whatever the housekeeping interval (a little slack for jitter)
META_INTEGRITY_CHECK = "last_integrity_check"
STUCK_AFTER = {"poll": 1800.0, "drain": 900.0, "digest": 900.0, "housekeeping": 3600.0}

# Meta keys the daemon writes and `kling-monitor status` reads.
META_HEARTBEAT = "daemon_heartbeat"
META_HEARTBEAT_INTERVAL = "daemon_heartbeat_interval"
META_PID = "daemon_pid"
META_STARTED = "daemon_started"
META_STOPPED = "daemon_stopped"


def tick_seconds() -> float:
    """The poll-due job's period from $KLING_MONITOR_TICK (seconds), default 30, at least 0.1."""
    raw = os.environ.get(TICK_ENV, "").strip()
    if not raw:
        return DEFAULT_TICK
    try:
        value = float(raw)
    except ValueError:
        log.warning("%s=%r is not a number; using %gs", TICK_ENV, raw, DEFAULT_TICK)
        return DEFAULT_TICK
    return max(0.1, value)


def heartbeat_seconds(tick: float) -> float:
    return min(tick, MAX_HEARTBEAT)


# ------------------------------------------------------------------ the digest's trigger


class LocalTimeTrigger(CronTrigger):
    """A daily CronTrigger at a local wall-clock time that fires once per local day.

    CronTrigger on a ZoneInfo is right across DST for times that exist once; for a time that a
    fall-back repeats (01:30 on the last Sunday of October in London) it would fire twice. The
    second occurrence is skipped here; a time that spring-forward skips fires once, an hour late
    in wall-clock terms (the same instant as the missing time's old offset).
    """

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        candidate = super().get_next_fire_time(previous_fire_time, now)
        for _ in range(3):
            if candidate is None or not _repeated_wall_time(candidate):
                return candidate
            candidate = super().get_next_fire_time(None,
                                                   candidate.astimezone(UTC) + timedelta(minutes=1))
        return candidate


def _repeated_wall_time(when: datetime) -> bool:
    """True when `when` is the second instant of a wall-clock time that a fall-back repeats."""
    tz = when.tzinfo
    if tz is None:
        return False
    wall = when.replace(tzinfo=None)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return first < when.astimezone(UTC)


def digest_trigger(digest: DigestConfig) -> CronTrigger:
    """The digest job's trigger: every day at digest.time in digest.timezone."""
    hour, minute = (int(x) for x in digest.time.split(":"))
    return LocalTimeTrigger(hour=hour, minute=minute, timezone=ZoneInfo(digest.timezone))


def next_digest_run(cfg: Config, now: datetime | None = None) -> datetime | None:
    """When the daemon will next run the digest job (UTC)."""
    nxt = digest_trigger(cfg.digest).get_next_fire_time(None, now or utcnow())
    return nxt.astimezone(UTC) if nxt else None


# ------------------------------------------------------------------ cancellable asyncio work


class _Loops:
    """Runs coroutines on per-thread event loops that the main thread can cancel at shutdown."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loops: set[asyncio.AbstractEventLoop] = set()
        self._cancelled = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner() as runner:
            loop = runner.get_loop()
            with self._lock:
                if self._cancelled:
                    coro.close()
                    raise asyncio.CancelledError("daemon is stopping")
                self._loops.add(loop)
            try:
                return runner.run(coro)
            finally:
                with self._lock:
                    self._loops.discard(loop)

    def cancel_all(self) -> int:
        """Cancel every task on every running loop (fetches in flight are abandoned)."""
        with self._lock:
            self._cancelled = True
            loops = list(self._loops)
        for loop in loops:
            try:
                loop.call_soon_threadsafe(_cancel_tasks, loop)
            except RuntimeError:  # the loop closed meanwhile
                pass
        return len(loops)


def _cancel_tasks(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel("daemon is stopping")


class _DropMaxInstances(logging.Filter):
    """A tick that finds the previous poll still running is normal here, not a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


# ------------------------------------------------------------------ the daemon


class Daemon:
    """One running daemon: its config, scheduler, health and shutdown state."""

    def __init__(self, cfg: Config, *, config_path: str | None = None, tick: float | None = None) -> None:
        self.cfg = cfg
        self.config_path = config_path or cfg.path or None
        self.tick = tick if tick is not None else tick_seconds()
        self.heartbeat_interval = heartbeat_seconds(self.tick)
        self.stopping = threading.Event()
        self.abandoned: list[str] = []  # jobs still running when the shutdown deadline passed
        self._loops = _Loops()
        self._drain_lock = threading.Lock()
        self._digest_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._inflight: dict[str, float] = {}
        self._last_beat: float | None = None
        self._started_at = time.monotonic()
        self._signal: int | None = None
        self._reload_requested = False
        self._metrics_server: metrics.MetricsServer | None = None
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4), "heartbeat": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
            timezone=UTC,
        )

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Prepare the store, start the scheduler and the metrics endpoint; then READY=1."""
        cfg = self.cfg
        sched_log = logging.getLogger("apscheduler.scheduler")
        if not any(isinstance(f, _DropMaxInstances) for f in sched_log.filters):
            sched_log.addFilter(_DropMaxInstances())
        with Store(cfg.store.path) as store:
            store.sync_feeds((f.name, f.url, f.interval) for f in cfg.feeds)
            now = utcnow()
            store.set_meta(META_STARTED, iso(now) or "")
            store.set_meta(META_PID, str(os.getpid()))
            store.set_meta(META_HEARTBEAT_INTERVAL, f"{self.heartbeat_interval:g}")
            store.set_meta(META_HEARTBEAT, iso(now) or "")
            last_housekeeping = parse_iso(store.get_meta("last_housekeeping"))
        self._last_beat = time.monotonic()
        self._add_jobs(last_housekeeping)
        self.scheduler.start()
        metrics.set_running(True)
        metrics.init_feeds(f.name for f in cfg.feeds)
        if cfg.daemon.metrics_port:
            try:
                self._metrics_server = metrics.MetricsServer(cfg.daemon.metrics_host, cfg.daemon.metrics_port,
                                                             self.health, self.readiness).start()
            except OSError as exc:
                log.error("metrics: cannot listen on %s:%d: %s; continuing without the endpoint",
                          cfg.daemon.metrics_host, cfg.daemon.metrics_port, exc)
        log.info("daemon started: %d feeds, tick %gs, drain every %ds, digest %s %s, store %s",
                 len(cfg.feeds), self.tick, cfg.daemon.drain_interval, cfg.digest.time, cfg.digest.timezone,
                 cfg.store.path)
        sdnotify.ready(f"watching {len(cfg.feeds)} feeds")

    def _add_jobs(self, last_housekeeping: datetime | None) -> None:
        cfg, now = self.cfg, utcnow()
        grace = int(max(60, 2 * self.tick))
        self.scheduler.add_job(self._guarded("poll", self.poll_cycle), self._poll_trigger(), id="poll",
                               name="poll due feeds", next_run_time=now, misfire_grace_time=grace)
        self.scheduler.add_job(self._guarded("drain", self.drain), self._drain_trigger(), id="drain",
                               name="deliver alerts", misfire_grace_time=grace)
        self.scheduler.add_job(self._guarded("digest", self.digest), digest_trigger(cfg.digest), id="digest",
                               name="daily digest", misfire_grace_time=6 * 3600)
        self.scheduler.add_job(self._guarded("digest", self.digest), DateTrigger(now + timedelta(seconds=1)),
                               id="digest-catchup", name="digest missed while down", misfire_grace_time=None)
        first = now + timedelta(minutes=5)
        if last_housekeeping is not None:
            first = max(first, last_housekeeping + timedelta(hours=cfg.daemon.housekeeping_hours))
        self.scheduler.add_job(self._guarded("housekeeping", self.housekeeping), self._housekeeping_trigger(),
                               id="housekeeping", name="housekeeping", next_run_time=first,
                               misfire_grace_time=3600)
        self.scheduler.add_job(self.heartbeat, IntervalTrigger(seconds=self.heartbeat_interval),
                               id="heartbeat", name="heartbeat", executor="heartbeat", next_run_time=now,
                               misfire_grace_time=None)

    def _poll_trigger(self) -> IntervalTrigger:
        # Jitter spreads the ticks a little; feeds' own next_poll (with back-off) does the real spreading.
        return IntervalTrigger(seconds=self.tick, jitter=min(float(self.cfg.daemon.jitter), self.tick / 2) or None)

    def _drain_trigger(self) -> IntervalTrigger:
        return IntervalTrigger(seconds=max(1, self.cfg.daemon.drain_interval))

    def _housekeeping_trigger(self) -> IntervalTrigger:
        return IntervalTrigger(hours=max(1, self.cfg.daemon.housekeeping_hours))

    def run_forever(self) -> int:
        """Install the signal handlers, start, and serve until SIGTERM/SIGINT; returns the exit code."""
        rsock, wsock = socket.socketpair()
        rsock.setblocking(False)
        wsock.setblocking(False)
        old_fd = signal.set_wakeup_fd(wsock.fileno(), warn_on_full_buffer=False)
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            self.start()
            watchdog = sdnotify.watchdog_interval()
            if watchdog:
                log.info("systemd watchdog: pinging every %.0fs while healthy", watchdog)
            next_ping = 0.0
            unhealthy_logged = False
            while self._signal is None:
                wait = min(1.0, watchdog) if watchdog else 1.0
                ready, _, _ = select.select([rsock], [], [], wait)
                if ready:
                    try:
                        rsock.recv(512)
                    except BlockingIOError:
                        pass
                if self._reload_requested:
                    self._reload_requested = False
                    self.reload()
                if watchdog and time.monotonic() >= next_ping:
                    ok, detail = self.health()
                    if ok:
                        sdnotify.watchdog()
                        unhealthy_logged = False
                    elif not unhealthy_logged:
                        log.error("unhealthy, not pinging the systemd watchdog: %s", detail.get("reason"))
                        unhealthy_logged = True
                    next_ping = time.monotonic() + watchdog
            log.info("%s received: stopping (deadline %gs)", signal.Signals(self._signal).name,
                     self.cfg.daemon.shutdown_deadline)
            return self.shutdown()
        finally:
            for s, h in handlers.items():
                signal.signal(s, h)
            signal.set_wakeup_fd(old_fd)
            rsock.close()
            wsock.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only flags here: the main loop, woken by the wakeup fd, does the work (no locks in handlers).
        if signum == signal.SIGHUP:
            self._reload_requested = True
        else:
            self._signal = signum

    def shutdown(self) -> int:
        """Stop scheduling, cancel fetches, let running jobs end until the deadline; always exit 0."""
        deadline = time.monotonic() + self.cfg.daemon.shutdown_deadline
        sdnotify.stopping("stopping")
        self.stopping.set()
        metrics.set_running(False)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        cancelled = self._loops.cancel_all()
        if cancelled:
            log.info("stopping: cancelled %d in-flight fetch loop(s)", cancelled)
        while time.monotonic() < deadline:
            with self._state_lock:
                if not self._inflight:
                    break
            time.sleep(0.05)
        with self._state_lock:
            self.abandoned = sorted(self._inflight)
        if self.abandoned:
            log.error("shutdown deadline (%gs) passed with %s still running; abandoning them",
                      self.cfg.daemon.shutdown_deadline, ", ".join(self.abandoned))
        try:
            with Store(self.cfg.store.path) as store:
                store.set_meta(META_STOPPED, iso(utcnow()) or "")
        except Exception as exc:  # the stop marker is a courtesy for `status`; never fail the stop on it
            log.warning("could not record the stop in the store: %s", exc)
        if self._metrics_server is not None:
            self._metrics_server.stop()
            self._metrics_server = None
        log.info("stopped")
        return EXIT_OK

    # ---------------------------------------------------------------- reload

    def reload(self) -> bool:
        """Re-read the config file; keep the running config when the new one is invalid."""
        path = self.config_path
        log.info("SIGHUP: reloading config %s", path)
        try:
            new = load_config(path)
        except ConfigError as exc:
            log.error("config reload rejected, keeping the running config: %s", exc)
            sdnotify.status("config reload rejected; running the previous config")
            return False
        except Exception as exc:  # noqa: BLE001 - any surprise must not take the daemon down
            log.error("config reload rejected, keeping the running config: %s: %r", path, exc)
            return False
        old = self.cfg
        if new.store.path != old.store.path:
            log.warning("config reload: store.path changed (%s -> %s); a new store needs a restart, "
                        "keeping %s", old.store.path, new.store.path, old.store.path)
            new = dataclasses.replace(new, store=dataclasses.replace(new.store, path=old.store.path))
        if (new.daemon.metrics_host, new.daemon.metrics_port) != (old.daemon.metrics_host, old.daemon.metrics_port):
            log.warning("config reload: daemon.metrics_host/metrics_port changes need a restart")
        try:
            with Store(new.store.path) as store:
                store.sync_feeds((f.name, f.url, f.interval) for f in new.feeds)
        except Exception as exc:  # noqa: BLE001
            log.error("config reload: could not update feeds in the store (%s); keeping the running config", exc)
            return False
        self.cfg = new
        metrics.init_feeds(f.name for f in new.feeds)
        if self.scheduler.running:
            self.scheduler.reschedule_job("poll", trigger=self._poll_trigger())
            self.scheduler.reschedule_job("drain", trigger=self._drain_trigger())
            self.scheduler.reschedule_job("digest", trigger=digest_trigger(new.digest))
            self.scheduler.reschedule_job("housekeeping", trigger=self._housekeeping_trigger())
        log.info("config reloaded from %s: %d feeds, digest %s %s", path, len(new.feeds), new.digest.time,
                 new.digest.timezone)
        sdnotify.status(f"watching {len(new.feeds)} feeds")
        return True

    # ---------------------------------------------------------------- health

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """/readyz: live, and nothing a person must fix: not every feed failing, no parked alert."""
        from monitor.status import gather_status

        live, detail = self.health()
        if not live:
            return False, detail
        with Store(self.cfg.store.path) as store:
            st = gather_status(store, self.cfg)
        reasons = [a for a in st["attention"] if not a.startswith("last digest")]
        detail = {**detail, "all_feeds_failing": st["all_feeds_failing"], "parked": st["outbox"]["parked"]}
        if st["all_feeds_failing"] or st["outbox"]["parked"]:
            detail["reason"] = "; ".join(reasons)
            return False, detail
        return True, detail

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy: the scheduler runs, the heartbeat is recent and no job is stuck."""
        now = time.monotonic()
        running = self.scheduler.running and not self.stopping.is_set()
        age = None if self._last_beat is None else now - self._last_beat
        with self._state_lock:
            inflight = {k: now - v for k, v in self._inflight.items()}
        stuck = sorted(k for k, secs in inflight.items() if secs > STUCK_AFTER.get(k, 1800.0))
        limit = max(4 * self.heartbeat_interval, HEALTHY_BEAT_AGE)
        reason = None
        if not running:
            reason = "scheduler not running"
        elif age is None or age > limit:
            reason = f"no heartbeat for {age or 0:.0f}s"
        elif stuck:
            reason = "stuck jobs: " + ", ".join(stuck)
        detail: dict[str, Any] = {
            "scheduler_running": running,
            "heartbeat_age_s": None if age is None else round(age, 1),
            "running_jobs": {k: round(v, 1) for k, v in inflight.items()},
            "uptime_s": round(now - self._started_at, 1),
        }
        if reason:
            detail["reason"] = reason
        return reason is None, detail

    # ---------------------------------------------------------------- jobs

    def _guarded(self, name: str, fn: Callable[[], None]) -> Callable[[], None]:
        """Run a job body with bookkeeping (stuck detection) and without letting it raise."""

        def job() -> None:
            if self.stopping.is_set():
                return
            with self._state_lock:
                self._inflight[name] = time.monotonic()
            try:
                fn()
            except asyncio.CancelledError:
                log.info("%s: abandoned (daemon stopping)", name)
            except Exception as exc:
                metrics.count_job_error(name)
                # One line per event on stderr; the traceback only at DEBUG.
                log.error("%s job failed: %s: %s; it runs again on its schedule", name, type(exc).__name__, exc)
                log.debug("%s job traceback", name, exc_info=True)
            finally:
                with self._state_lock:
                    self._inflight.pop(name, None)

        job.__name__ = f"job_{name}"
        return job

    def poll_cycle(self) -> None:
        """Poll due feeds, understand what is new, deliver alerts (one thread, one store handle)."""
        from monitor.fetch import Fetcher
        from monitor.ingest import fetch_limits, poll_feeds, process_pending

        cfg = self.cfg
        with Store(cfg.store.path) as store:
            # Skip the fetcher altogether on the (usual) tick where nothing is due; a feed not yet in
            # the table (added by a reload) is due at once.
            known = {r["name"] for r in store.feeds()}
            due_names = {r["name"] for r in store.due_feeds(utcnow())}
            due = any(f.name in due_names or f.name not in known for f in cfg.feeds)
            if not due and not store.unprocessed_entries(1):
                return

            async def cycle() -> tuple[Any, Any]:
                async with Fetcher(fetch_limits(cfg)) as fetcher:
                    summary = await poll_feeds(store, cfg, due_only=True, fetcher=fetcher) if due else None
                    if self.stopping.is_set():
                        return summary, None
                    return summary, await process_pending(store, cfg, fetcher=fetcher)

            summary, processed = self._loops.run(cycle())
            if summary is not None and summary.outcomes:
                for o in summary.outcomes:
                    metrics.observe_poll(o.name, o.status, o.elapsed, o.new)
                log.info("poll: %s", summary.line())
                sdnotify.status(f"last poll {utcnow():%H:%M:%S}Z: {summary.line()}")
            if processed is not None and processed.processed:
                log.info("processed %d entries: %d relevant, %d events, %d pages fetched", processed.processed,
                         processed.relevant, processed.events, processed.pages_fetched)
            if self.stopping.is_set():
                return
            if processed is not None and processed.events:
                self._drain_with(store, cfg)

    def drain(self) -> None:
        cfg = self.cfg
        with Store(cfg.store.path) as store:
            self._drain_with(store, cfg)

    def _drain_with(self, store: Store, cfg: Config) -> None:
        from monitor.notify import drain

        # One drain at a time: two would both see a message pending and both send it.
        with self._drain_lock:
            if self.stopping.is_set():
                return
            s = drain(store, cfg)
        for status in ("sent", "failed", "parked", "held"):
            metrics.count_alert(status, int(getattr(s, status, 0) or 0))
        if s.sent or s.failed or s.parked:
            log.info("alerts: %d sent, %d to retry, %d parked, %d held", s.sent, s.failed, s.parked, s.held)

    def digest(self) -> None:
        from monitor.digest import send_due_digest

        cfg = self.cfg
        with self._digest_lock, Store(cfg.store.path) as store:
            result = send_due_digest(store, cfg, now=utcnow())
        metrics.count_digest(str(result))
        log.info("digest: %s", result)

    def housekeeping(self) -> None:
        cfg, now = self.cfg, utcnow()
        with Store(cfg.store.path) as store:
            self._check_integrity(store, now)
            pruned = store.prune(before=now - timedelta(days=cfg.store.retention_days))
            last_vacuum = parse_iso(store.get_meta("last_vacuum"))
            vacuum = last_vacuum is None or now - last_vacuum >= VACUUM_EVERY
            if vacuum and last_vacuum is None:
                store.set_meta("last_vacuum", iso(now) or "")  # a new store: the first VACUUM waits a week
                vacuum = False
            store.optimize(vacuum=vacuum)
            store.set_meta("last_housekeeping", iso(now) or "")
            if vacuum:
                store.set_meta("last_vacuum", iso(now) or "")
        log.info("housekeeping: %d entries pruned%s", pruned, ", store vacuumed" if vacuum else "")

    def _check_integrity(self, store: Store, now: datetime) -> None:
        """Once a day, read every page: corruption (a bad disk, a torn copy) is found before it bites."""
        last = parse_iso(store.get_meta(META_INTEGRITY_CHECK))
        if last is not None and now - last < INTEGRITY_EVERY:
            return
        try:
            problems = store.integrity_problems()
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        metrics.set_store_corrupt(bool(problems))
        if problems:
            log.error("housekeeping: store %s failed the integrity check (%s); run `kling-monitor check-store`, "
                      "then restore a backup or move the store aside", store.path, "; ".join(problems[:3]))
            return  # checked again at the next housekeeping
        store.set_meta(META_INTEGRITY_CHECK, iso(now) or "")

    def heartbeat(self) -> None:
        """Record liveness in memory (for /healthz and the watchdog) and in the store (for `status`).

        The in-memory beat comes first: it says the scheduler runs jobs. A store that is busy for a
        while (a VACUUM) must not make systemd's watchdog kill a working daemon.
        """
        self._last_beat = time.monotonic()
        metrics.set_tick(time.time())
        try:
            with Store(self.cfg.store.path) as store:
                store.set_meta(META_HEARTBEAT, iso(utcnow()) or "")
                metrics.set_outbox(store.outbox_counts())
        except Exception as exc:  # noqa: BLE001 - a locked store now is no reason to stop beating later
            log.warning("heartbeat: cannot write to the store: %s", exc)


def run_daemon(config_path: str | None) -> int:
    """`kling-monitor run`: load the config (ConfigError -> exit 78), serve until stopped."""
    from monitor.config import missing_secrets

    cfg = load_config(config_path)
    for line in missing_secrets(cfg):  # alerts queue up (and park) until the secret is set
        log.error("%s", line)
    daemon = Daemon(cfg, config_path=config_path or cfg.path)
    code = daemon.run_forever()
    if daemon.abandoned:
        # Worker threads that ignored the deadline would keep the interpreter alive at exit (the
        # thread pool joins them). Every store write is a transaction, so leaving now is as safe as
        # a kill; flush the logs and go.
        logging.shutdown()
        os._exit(code)
    return code
