"""The outbox: alerts are rows first, messages second.

`enqueue` writes one outbox row per event and destination inside the caller's transaction
(the same one that records the claims and events), so an alert is never lost and never
queued twice (`idempotency_key` is UNIQUE). A row holds a reference to its event (the
events table's key), not a rendered payload: monitor/render.py words it when it is sent.
Low-severity events about a claim (a corroboration from a new outlet, a conflict resting on a
single ordinary source, a correction) go to Slack only as replies in that claim's thread
(`thread_only`): without a thread they are left to the digest. `drain` sends what is due:

    pending --mark 'sending', attempts+1 (committed)--> send --ok--> sent (+ Slack ts)
                                                          \\--error--> pending (back-off) / parked

A row still in 'sending' when a drain starts means the previous sender died between the
send and the mark. Before sending it again we look for it where the transport allows: Slack
messages carry `metadata.event_payload.idempotency_key`, searched in conversations.history /
conversations.replies; the console JSON Lines file is scanned for the key. Found means sent.
Incoming webhooks cannot be read back, so they are at-least-once in that crash window.

Test hook: when the environment variable KLING_MONITOR_CRASH_AFTER_SEND=1 is set, `drain`
SIGKILLs its own process right after a transport reported success and before the row is
marked sent. Only the crash-safety tests set it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.error import URLError
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from monitor.config import Config, QuietHours, SlackConfig, secret
from monitor.errors import DeliveryError, PermanentDeliveryError
from monitor.models import ANNOUNCED_TYPES, Event
from monitor.render import METADATA_EVENT_TYPE, console_line, message, slack_message
from monitor.store import Store, iso, parse_iso, utcnow

log = logging.getLogger(__name__)

CRASH_AFTER_SEND_ENV = "KLING_MONITOR_CRASH_AFTER_SEND"
CONSOLE_TARGET = "stdout"
WEBHOOK_TARGET = "webhook"

# Slack errors that retrying cannot fix: park the row at once, an operator must act.
PERMANENT_SLACK_ERRORS = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission",
    "missing_scope", "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks",
    "invalid_metadata_format", "msg_too_long", "restricted_action", "ekm_access_denied",
    "invalid_token", "no_service", "no_active_hooks", "action_prohibited", "posting_to_general_channel_denied",
    "team_disabled", "invalid_arguments",
})


# ------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class DrainSummary:
    """What one drain did. `held`: Slack rows pushed to the end of quiet hours."""

    sent: int = 0
    failed: int = 0  # failures that will be retried
    parked: int = 0
    held: int = 0
    recovered: int = 0  # 'sending' rows found already delivered (counted in `sent` too)
    waiting: int = 0  # thread replies waiting for their first alert to be sent


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One outbox row as a transport sees it."""

    id: int
    idempotency_key: str
    transport: str
    target: str | None
    event: Event
    thread_ts: str | None = None
    broadcast: bool = False
    created: datetime | None = None
    thread_only: bool = False


@dataclass(frozen=True, slots=True)
class Lookup:
    """Answer to 'was this already delivered?': checked=False when the transport cannot tell."""

    found: bool
    remote_id: str | None = None
    checked: bool = True


class Transport(Protocol):
    name: str

    def send(self, msg: Outgoing) -> str | None:
        """Deliver; return the remote id (Slack ts) or None. Raise DeliveryError on failure."""
        ...

    def find_sent(self, msg: Outgoing) -> Lookup:
        """Look for a message a crashed sender may have delivered. Raise DeliveryError if unsure."""
        ...

    def close(self) -> None: ...


def event_from_dict(d: Mapping[str, Any]) -> Event:
    """Rebuild an Event from its stored JSON (unknown keys ignored, sources back to a tuple)."""
    names = {f.name for f in fields(Event)}
    kw = {k: v for k, v in d.items() if k in names}
    kw["sources"] = tuple(kw.get("sources") or ())
    return Event(**kw)


# ------------------------------------------------------------------ routing + enqueue


# Low-severity events that belong in their claim's thread (never a message of their own).
THREAD_TYPES = frozenset({"corroborated", "conflict", "retracted"})


def slack_targets(event: Event, slack: SlackConfig) -> list[tuple[str, bool]]:
    """(channel, thread_only) pairs an event goes to: every matching route, else the default channel.

    A route matches on type and entity; the event must also reach that route's min_severity,
    except a low-severity event about a claim, which may still go to that claim's thread.
    With an incoming webhook there is one target ("webhook"), the routes only filter, and
    there are no threads.
    """
    threadable = (event.type in THREAD_TYPES and bool(event.thread_key) and not slack.webhook_env
                  and not event.detail.get("copy_of"))  # a copy of a story confirms nothing new
    if event.type not in ANNOUNCED_TYPES and not threadable:
        return []
    matched = [r for r in slack.routes
               if (not r.types or event.type in r.types)
               and (not r.entities or (event.subject or "").casefold() in {e.casefold() for e in r.entities})]
    pairs = [(r.channel, r.min_severity) for r in matched] or [(slack.channel, slack.min_severity)]
    out: list[tuple[str, bool]] = []
    for channel, min_sev in pairs:
        full = event.severity >= min_sev and event.type in ANNOUNCED_TYPES
        if full or threadable:
            target = WEBHOOK_TARGET if slack.webhook_env else channel
            if target not in [t for t, _ in out]:
                out.append((target, not full))
    return out


def slack_muted(store: Store, event: Event, now: datetime) -> bool:
    """`kling-monitor mute`: no Slack message for this event (it still reaches the console and digest)."""
    if store.muted(entity=event.subject, type=event.type, now=now):
        log.info("slack: %s alert about %s muted", event.type, event.subject)
        return True
    return False


def enqueue(store: Store, events: Iterable[Event], cfg: Config, *, now: datetime) -> int:
    """Queue deliveries for events (call inside the pipeline's transaction); return rows added.

    Console gets every event (it is the local log); Slack the announced types at the route's
    severity, and low-severity claim events as thread replies. A row refers to its event by key.
    """
    added = 0
    with store.atomic():
        for ev in events:
            dests: list[tuple[str, str, bool]] = []
            if cfg.console.enabled:
                dests.append(("console", CONSOLE_TARGET, False))
            if cfg.slack.enabled and not slack_muted(store, ev, now):
                dests += [("slack", t, only) for t, only in slack_targets(ev, cfg.slack)]
            for transport, target, only in dests:
                added += store.outbox_add(
                    idempotency_key=f"{ev.key}:{transport}:{target}", event_key=ev.key, transport=transport,
                    target=target, thread_key=ev.story_thread or ev.thread_key, now=now, thread_only=only)
    return added


def load_event(store: Store, row: Mapping[str, Any]) -> Event | None:
    """The event an outbox row refers to (legacy rows carry their own payload)."""
    data = store.event_payload(row["event_key"])
    if data is None and row.get("payload"):
        data = json.loads(row["payload"])
    return event_from_dict(data) if data is not None else None


# ------------------------------------------------------------------ quiet hours


def _hhmm(s: str) -> dtime:
    h, m = s.split(":")
    return dtime(int(h), int(m))


def quiet_until(now: datetime, qh: QuietHours | None) -> datetime | None:
    """The UTC end of the quiet period `now` falls in, or None outside quiet hours."""
    if qh is None or qh.start == qh.end:
        return None
    tz = ZoneInfo(qh.timezone)
    local = now.astimezone(tz)
    start, end, t = _hhmm(qh.start), _hhmm(qh.end), local.time().replace(tzinfo=None)
    if start < end:
        inside, end_day = start <= t < end, local.date()
    else:  # over midnight, e.g. 22:00-07:00
        inside = t >= start or t < end
        end_day = local.date() if t < end else local.date() + timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC)


# ------------------------------------------------------------------ transports


class ConsoleTransport:
    """Print one line to stdout and append the event to a JSON Lines file (flushed + fsynced)."""

    name = "console"

    def __init__(self, jsonl: str | os.PathLike[str] | None, stream: TextIO | None = None) -> None:
        self.path = Path(jsonl) if jsonl else None
        self.stream = stream

    def send(self, msg: Outgoing) -> str | None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            record = {"idempotency_key": msg.idempotency_key, "at": iso(utcnow()), "line": console_line(msg.event),
                      "event": msg.event.to_dict()}
            try:
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise DeliveryError(f"console: cannot append to {self.path}: {exc.strerror or exc}") from None
        stream = self.stream or sys.stdout
        try:
            print(console_line(msg.event), file=stream, flush=True)
        except (OSError, ValueError):  # a closed stdout must not block the JSONL record
            pass
        return None

    def find_sent(self, msg: Outgoing) -> Lookup:
        if self.path is None:
            return Lookup(False, checked=False)
        try:
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    if msg.idempotency_key in line:
                        try:
                            if json.loads(line).get("idempotency_key") == msg.idempotency_key:
                                return Lookup(True)
                        except ValueError:  # a torn last line from a crash
                            continue
        except FileNotFoundError:
            return Lookup(False)
        except OSError as exc:
            raise DeliveryError(f"console: cannot read {self.path}: {exc}") from None
        return Lookup(False)

    def close(self) -> None:
        pass


class _BoundedRateLimitHandler(RateLimitErrorRetryHandler):
    """Retry a 429 in-process only when Retry-After is short; longer waits go back to the outbox."""

    def __init__(self, max_retry_count: int = 1, max_wait: float = 5.0) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after({k: v[0] for k, v in response.headers.items() if v})
        return (wait if wait is not None else 1.0) <= self.max_wait

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None, error: Exception | None = None) -> None:
        wait = _retry_after({k: v[0] for k, v in (response.headers if response else {}).items() if v})
        state.next_attempt_requested = True
        time.sleep(min(self.max_wait, wait if wait is not None else 1.0))
        state.increment_current_attempt()


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    for k, v in (headers or {}).items():
        if k.lower() == "retry-after":
            try:
                return max(0.0, float(v[0] if isinstance(v, list) else v))
            except (TypeError, ValueError):
                return None
    return None


def _retry_handlers(max_rate_retries: int, max_rate_wait: float) -> list[RetryHandler]:
    return [ConnectionErrorRetryHandler(max_retry_count=1),
            _BoundedRateLimitHandler(max_retry_count=max_rate_retries, max_wait=max_rate_wait)]


def _slack_error(exc: SlackApiError, what: str) -> DeliveryError:
    resp = exc.response
    status = getattr(resp, "status_code", None)
    data = resp.data if isinstance(getattr(resp, "data", None), dict) else {}
    error = str(data.get("error") or f"HTTP {status}")
    if status == 429 or error == "ratelimited":
        ra = _retry_after(getattr(resp, "headers", None))
        return DeliveryError(f"slack {what}: rate limited", retry_after=ra if ra is not None else 30.0)
    if error in PERMANENT_SLACK_ERRORS:
        return PermanentDeliveryError(f"slack {what}: {error}")
    return DeliveryError(f"slack {what}: {error}")


class SlackTransport:
    """chat.postMessage with a bot token. Needs chat:write, and channels:history /
    groups:history (plus channels:read to resolve '#name') for look-before-resend."""

    name = "slack"

    def __init__(self, token: str, *, base_url: str | None = None, timeout: int = 15,
                 max_rate_retries: int = 1, max_rate_wait: float = 5.0, history_limit: int = 200) -> None:
        kw: dict[str, Any] = {}
        if base_url:
            kw["base_url"] = base_url if base_url.endswith("/") else base_url + "/"
        self.client = WebClient(token=token, timeout=timeout,
                                retry_handlers=_retry_handlers(max_rate_retries, max_rate_wait), **kw)
        self.history_limit = history_limit
        self._channel_ids: dict[str, str] = {}

    def send(self, msg: Outgoing) -> str | None:
        args = slack_message(msg.event, idempotency_key=msg.idempotency_key)
        if msg.thread_ts:
            args["thread_ts"] = msg.thread_ts
            if msg.broadcast:
                args["reply_broadcast"] = True
        try:
            resp = self.client.chat_postMessage(channel=msg.target or "", **args)
        except SlackApiError as exc:
            raise _slack_error(exc, "chat.postMessage") from None
        except (SlackClientError, URLError, OSError) as exc:
            raise DeliveryError(f"slack chat.postMessage: {type(exc).__name__}: {exc}") from None
        if msg.target and isinstance(resp.get("channel"), str):
            self._channel_ids[msg.target] = resp["channel"]
        return str(resp.get("ts") or "") or None

    def _channel_id(self, target: str) -> str:
        """conversations.history wants an ID; resolve '#name' once via conversations.list."""
        if target in self._channel_ids:
            return self._channel_ids[target]
        if not target.startswith("#"):
            return target
        name, cursor = target[1:], None
        for _ in range(20):  # bounded paging
            resp = self.client.conversations_list(types="public_channel,private_channel", exclude_archived=True,
                                                  limit=1000, cursor=cursor)
            for ch in resp.get("channels") or []:
                if ch.get("name") == name:
                    self._channel_ids[target] = ch["id"]
                    return str(ch["id"])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return target

    def find_sent(self, msg: Outgoing) -> Lookup:
        key = msg.idempotency_key
        try:
            channel = self._channel_id(msg.target or "")
            oldest = f"{(msg.created or datetime(1970, 1, 1, tzinfo=UTC)).timestamp() - 300:.6f}"
            pages = [self.client.conversations_history(channel=channel, limit=self.history_limit, oldest=oldest,
                                                       include_all_metadata=True)]
            if msg.thread_ts:
                pages.append(self.client.conversations_replies(channel=channel, ts=msg.thread_ts,
                                                               limit=self.history_limit, include_all_metadata=True))
        except SlackApiError as exc:
            err = _slack_error(exc, "look-before-resend")
            if isinstance(err, PermanentDeliveryError):
                log.warning("%s: cannot check for an earlier delivery; sending again (at-least-once)", err)
                return Lookup(False, checked=False)
            raise err from None
        except (SlackClientError, URLError, OSError) as exc:
            raise DeliveryError(f"slack look-before-resend: {type(exc).__name__}: {exc}") from None
        for page in pages:
            for m in page.get("messages") or []:
                meta = m.get("metadata") or {}
                if meta.get("event_type") == METADATA_EVENT_TYPE and \
                        (meta.get("event_payload") or {}).get("idempotency_key") == key:
                    return Lookup(True, str(m.get("ts")) if m.get("ts") else None)
        return Lookup(False)

    def close(self) -> None:
        pass  # WebClient opens a connection per request (urllib); nothing to close


class WebhookTransport:
    """An incoming webhook: one fixed channel, no threads, no read-back (at-least-once on crash)."""

    name = "slack"

    def __init__(self, url: str, *, timeout: int = 15, max_rate_retries: int = 1, max_rate_wait: float = 5.0) -> None:
        self.client = WebhookClient(url, timeout=timeout,
                                    retry_handlers=_retry_handlers(max_rate_retries, max_rate_wait))

    def send(self, msg: Outgoing) -> str | None:
        args = slack_message(msg.event, idempotency_key=msg.idempotency_key)
        try:
            resp = self.client.send(text=args["text"], blocks=args["blocks"], metadata=args["metadata"],
                                    unfurl_links=False, unfurl_media=False)
        except (SlackClientError, URLError, OSError) as exc:
            raise DeliveryError(f"slack webhook: {type(exc).__name__}: {exc}") from None
        if resp.status_code == 200:
            return None
        body = (resp.body or "").strip()
        if resp.status_code == 429:
            ra = _retry_after(resp.headers)
            raise DeliveryError("slack webhook: rate limited", retry_after=ra if ra is not None else 30.0)
        if body in PERMANENT_SLACK_ERRORS or resp.status_code in (403, 404, 410):
            raise PermanentDeliveryError(f"slack webhook: HTTP {resp.status_code} {body[:100]}")
        raise DeliveryError(f"slack webhook: HTTP {resp.status_code} {body[:100]}")

    def find_sent(self, msg: Outgoing) -> Lookup:
        return Lookup(False, checked=False)

    def close(self) -> None:
        pass


class UnavailableTransport:
    """Stands in when a transport's secret is missing: rows back off and park, nothing is dropped."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def send(self, msg: Outgoing) -> str | None:
        raise DeliveryError(self.reason)

    def find_sent(self, msg: Outgoing) -> Lookup:
        raise DeliveryError(self.reason)

    def close(self) -> None:
        pass


def build_transports(cfg: Config, *, stream: TextIO | None = None) -> dict[str, Transport]:
    """The transports the config asks for; secrets read from the environment, never logged."""
    out: dict[str, Transport] = {}
    if cfg.console.enabled:
        out["console"] = ConsoleTransport(cfg.console.jsonl or None, stream)
    s = cfg.slack
    if s.enabled:
        if s.webhook_env:
            url = secret(s.webhook_env)
            out["slack"] = WebhookTransport(url) if url else UnavailableTransport(
                "slack", f"slack: webhook URL not set (environment variable {s.webhook_env})")
        else:
            token = secret(s.token_env)
            out["slack"] = SlackTransport(token, base_url=s.base_url) if token else UnavailableTransport(
                "slack", f"slack: bot token not set (environment variable {s.token_env})")
    return out


# ------------------------------------------------------------------ drain


def _backoff(attempts: int, cfg: Config, retry_after: float | None) -> float:
    """base_delay * 2**(failures before this one), capped; a transport's Retry-After wins."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), cfg.outbox.max_delay)
    return min(cfg.outbox.base_delay * 2 ** max(0, attempts - 1), cfg.outbox.max_delay)


def _outgoing(store: Store, row: Mapping[str, Any], cfg: Config, now: datetime) -> Outgoing:
    event = load_event(store, row)
    if event is None:
        raise PermanentDeliveryError(f"outbox: event {row['event_key']} not found")
    thread_ts, broadcast = None, False
    if row["transport"] == "slack" and row["thread_key"] and row["target"] != WEBHOOK_TARGET:
        th = store.slack_thread(row["thread_key"], row["target"])
        if th is not None:
            thread_ts = th["ts"]
            # Within the cooldown a follow-up is only a thread reply; after it, a revision or
            # conflict is also broadcast to the channel so a changed figure is not buried.
            last = parse_iso(th["last_post"]) or now
            broadcast = (event.type in ("revised_figure", "conflict") and not row.get("thread_only")
                         and now - last >= timedelta(minutes=cfg.slack.cooldown_minutes))
    return Outgoing(id=row["id"], idempotency_key=row["idempotency_key"], transport=row["transport"],
                    target=row["target"], event=event, thread_ts=thread_ts, broadcast=broadcast,
                    created=parse_iso(row["created"]), thread_only=bool(row.get("thread_only")))


def _mark_sent(store: Store, row: Mapping[str, Any], remote_id: str | None, now: datetime,
               note: str | None = None) -> None:
    with store.atomic():
        store.outbox_mark_sent(row["id"], remote_id=remote_id, now=now, note=note)
        if row["transport"] == "slack" and row["thread_key"] and remote_id and row["target"] != WEBHOOK_TARGET:
            store.slack_thread_posted(row["thread_key"], row["target"], ts=remote_id, now=now)


def _fail(store: Store, row: Mapping[str, Any], exc: DeliveryError, cfg: Config, now: datetime,
          attempts: int) -> bool:
    """Record a failure; True when the row was parked."""
    park = isinstance(exc, PermanentDeliveryError) or attempts >= cfg.outbox.max_attempts
    delay = _backoff(attempts, cfg, exc.retry_after)
    store.outbox_mark_failed(row["id"], error=str(exc), next_attempt=now + timedelta(seconds=delay), park=park)
    log.warning("outbox %s (%s -> %s): %s%s", row["id"], row["transport"], row["target"], exc,
                " - parked" if park else f" - retry in {delay:.0f}s")
    return park


def drain(store: Store, cfg: Config, *, now: datetime | None = None,
          transports: Mapping[str, Transport] | None = None) -> DrainSummary:
    """Send every due outbox row once; never raises for a delivery failure.

    One sender at a time per store (the daemon, `poll`, `outbox drain`): a second drain would
    take the first one's in-flight rows for a crash's leftovers and could send them twice.
    """
    with sender_lock(store) as acquired:
        if not acquired:
            log.info("outbox: another process is delivering; skipping this drain")
            return DrainSummary()
        return _drain(store, cfg, now=now, transports=transports)


@contextmanager
def sender_lock(store: Store) -> Iterator[bool]:
    """A non-blocking flock beside the store file; the OS releases it when its holder dies."""
    if store.path == ":memory:":
        yield True
        return
    fd = os.open(f"{store.path}.sender.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _drain(store: Store, cfg: Config, *, now: datetime | None,
           transports: Mapping[str, Transport] | None) -> DrainSummary:
    now = now or utcnow()
    own = transports is None
    tr: Mapping[str, Transport] = build_transports(cfg) if transports is None else transports
    crash_after_send = os.environ.get(CRASH_AFTER_SEND_ENV) == "1"  # test hook, see module docstring
    sent = failed = parked = held = recovered = waiting = 0
    try:
        # 1. Rows a dead sender left in 'sending': delivered already? Look before resending.
        for row in store.outbox_rows("sending"):
            t = tr.get(row["transport"])
            if t is None:
                continue
            try:
                found = t.find_sent(_outgoing(store, row, cfg, now))
            except DeliveryError as exc:
                if _fail(store, row, exc, cfg, now, row["attempts"]):
                    parked += 1
                else:
                    failed += 1
                continue
            if found.found:
                _mark_sent(store, row, found.remote_id, now, note="found delivered after an interrupted send")
                sent += 1
                recovered += 1
            else:
                store.outbox_reschedule(row["id"], now)  # not delivered: due again now

        # 2. Due rows, oldest first (a figure's first alert goes before its thread replies).
        quiet_end = quiet_until(now, cfg.slack.quiet_hours)
        for row in store.outbox_due(now):
            t = tr.get(row["transport"])
            if t is None:
                store.outbox_mark_failed(row["id"], error=f"no {row['transport']} transport configured",
                                         next_attempt=now, park=True)
                parked += 1
                continue
            if row["transport"] == "slack":
                if quiet_end is not None:
                    store.outbox_reschedule(row["id"], quiet_end)
                    held += 1
                    continue
                if row["thread_key"] and store.outbox_blocking(row["id"], "slack", row["target"], row["thread_key"]):
                    waiting += 1
                    continue
            try:
                msg = _outgoing(store, row, cfg, now)
            except DeliveryError as exc:
                if _fail(store, row, exc, cfg, now, row["attempts"] + 1):
                    parked += 1
                continue
            if msg.thread_only and msg.thread_ts is None:
                # a low-severity reply whose claim never had a Slack thread: the digest carries it
                store.outbox_mark_sent(row["id"], remote_id=None, now=now, note="no thread: digest only")
                continue
            if row["transport"] == "slack" and slack_muted(store, msg.event, now):
                # muted after it was queued (held for quiet hours, waiting to retry): the digest carries it
                store.outbox_mark_sent(row["id"], remote_id=None, now=now, note="muted: digest only")
                continue
            store.outbox_mark_sending(row["id"], now)  # committed before the send
            attempts = row["attempts"] + 1
            try:
                remote_id = t.send(msg)
            except DeliveryError as exc:
                if _fail(store, row, exc, cfg, now, attempts):
                    parked += 1
                else:
                    failed += 1
                continue
            except Exception as exc:  # a bug in a transport must not stop the other rows
                log.exception("outbox %s: unexpected error", row["id"])
                if _fail(store, row, DeliveryError(f"{type(exc).__name__}: {exc}"), cfg, now, attempts):
                    parked += 1
                else:
                    failed += 1
                continue
            if crash_after_send:
                os.kill(os.getpid(), signal.SIGKILL)
            _mark_sent(store, row, remote_id, now)
            sent += 1
    finally:
        if own:
            for t in tr.values():
                t.close()
    return DrainSummary(sent=sent, failed=failed, parked=parked, held=held, recovered=recovered, waiting=waiting)


# ------------------------------------------------------------------ operator views


def outbox_list(store: Store, status: str | None = None) -> list[dict[str, Any]]:
    """Outbox rows for `kling-monitor outbox list`, with the event's type and message unpacked."""
    out = []
    for r in store.outbox_rows(status):
        try:
            ev = load_event(store, r)
        except (ValueError, TypeError):
            ev = None
        out.append({
            "id": r["id"], "status": r["status"], "transport": r["transport"], "target": r["target"],
            "attempts": r["attempts"], "next_attempt": r["next_attempt"], "last_error": r["last_error"],
            "event_key": r["event_key"], "type": ev.type if ev else None, "subject": ev.subject if ev else None,
            "message": message(ev) if ev else None, "remote_id": r["remote_id"], "created": r["created"],
            "sent_at": r["sent_at"],
        })
    return out


def outbox_retry(store: Store, row_id: int, *, now: datetime | None = None) -> bool:
    """Give a parked row another full set of attempts; False if it is not parked."""
    return store.outbox_retry(row_id, now or utcnow())


def format_outbox(rows: list[dict[str, Any]]) -> str:
    """A plain table of outbox rows (parked ones show their last error)."""
    if not rows:
        return "outbox: empty"
    head = f"{'id':>5}  {'status':<8} {'transport':<9} {'target':<18} {'tries':>5}  {'next attempt':<20}  event"
    lines = [head, "-" * len(head)]
    for r in rows:
        what = f"[{r.get('type')}] {r.get('subject') or ''}: {r.get('message') or ''}"
        what = " ".join(what.split())
        if len(what) > 70:
            what = what[:69] + "…"
        lines.append(f"{r['id']:>5}  {r['status']:<8} {r['transport']:<9} {str(r['target'] or '')[:18]:<18}"
                     f" {r['attempts']:>5}  {r['next_attempt'] or '':<20}  {what}")
        if r.get("last_error") and r["status"] != "sent":
            lines.append(f"{'':>7}error: {r['last_error']}")
    return "\n".join(lines)
