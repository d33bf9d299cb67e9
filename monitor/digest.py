"""The daily email digest: everything since the last one, once, at a local time.

Schedule. A digest belongs to a *slot*: DigestConfig.time in DigestConfig.timezone on some
day, as a UTC instant computed with zoneinfo (08:00 Europe/London is 08:00Z in winter and
07:00Z in summer). `send_due_digest` sends the latest slot <= now if it has no row yet;
slots missed while the daemon was down collapse into that one (sent once, covering
everything since the last sent digest). Slots before the first time the scheduler ever ran
(meta `digest_epoch`) are not due: a fresh install does not mail at once.

Exactly once, as far as SMTP allows. The `digests` row for a slot is written with status
'sending' and a deterministic Message-ID *before* the SMTP conversation, and marked 'sent'
after. A 'sending' row found later means we died mid-send; SMTP cannot be asked whether
the server accepted it, so we choose at-most-once and treat it as sent (the events stay in
the store and in `digest --preview`). The deterministic Message-ID also lets mail systems
that de-duplicate by Message-ID drop a copy should one ever be resent by hand.
A 'failed' row (the SMTP server refused or was down) is retried on the next call, up to
MAX_ATTEMPTS times.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader

from monitor import redact
from monitor.config import Config, DigestConfig, EmailConfig, secret
from monitor.models import Event
from monitor.notify import event_from_dict
from monitor.render import (
    TYPE_LABELS,
    change,
    comparable,
    corroboration_line,
    digest_subject,
    figure_name,
    format_figure,
    message,
    safe_url,
    why,
)
from monitor.store import Store, iso, parse_iso
from monitor.units import source_name

log = logging.getLogger("monitor.digest")

TEMPLATES = Path(__file__).resolve().parent / "templates"
EPOCH_META = "digest_epoch"
MAX_ATTEMPTS = 5
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)

# ------------------------------------------------------------------ schedule


def _slot_on(day: Any, cfg: DigestConfig) -> datetime:
    tz = ZoneInfo(cfg.timezone)
    h, m = (int(x) for x in cfg.time.split(":"))
    return datetime.combine(day, dtime(h, m), tzinfo=tz).astimezone(UTC)


def digest_slot(now: datetime, cfg: DigestConfig) -> datetime:
    """The latest scheduled local time <= now, as an aware UTC datetime."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    local_day = now.astimezone(ZoneInfo(cfg.timezone)).date()
    for back in range(0, 3):
        slot = _slot_on(local_day - timedelta(days=back), cfg)
        if slot <= now:
            return slot
    raise AssertionError("unreachable: a slot exists within two days")  # pragma: no cover


def next_digest_time(now: datetime, cfg: DigestConfig) -> datetime:
    """The first scheduled local time strictly after now, as aware UTC."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    local_day = now.astimezone(ZoneInfo(cfg.timezone)).date()
    for fwd in range(0, 3):
        slot = _slot_on(local_day + timedelta(days=fwd), cfg)
        if slot > now:
            return slot
    raise AssertionError("unreachable")  # pragma: no cover


# ------------------------------------------------------------------ content


@dataclass(frozen=True, slots=True)
class Source:
    label: str
    url: str | None  # only validated http(s) URLs


@dataclass(frozen=True, slots=True)
class Bar:
    """One step of a figure's history for the little bar chart."""

    label: str
    pct: int  # 0..100 of the largest value
    when: str


@dataclass(frozen=True, slots=True)
class Item:
    type: str
    type_label: str
    subject: str
    message: str
    sources: tuple[Source, ...] = ()
    when: str = ""
    why: str = ""


@dataclass(frozen=True, slots=True)
class FigureRow:
    subject: str
    label: str  # "Round size (2026)"
    value: str
    previous: str | None
    change: str | None
    revised: bool
    message: str
    sources: tuple[Source, ...] = ()
    bars: tuple[Bar, ...] = ()


@dataclass(frozen=True, slots=True)
class ClusterRow:
    title: str
    stories: int
    sources: int
    outlets: str


@dataclass
class Digest:
    """What one digest says; rendering is separate so it can be previewed and tested."""

    since: datetime
    until: datetime
    timezone: str = "UTC"
    figures: list[FigureRow] = field(default_factory=list)
    conflicts: list[Item] = field(default_factory=list)
    investors: list[Item] = field(default_factory=list)
    partners: list[Item] = field(default_factory=list)
    product_moves: list[Item] = field(default_factory=list)
    statuses: list[Item] = field(default_factory=list)
    corrections: list[Item] = field(default_factory=list)
    corroborations: list[Item] = field(default_factory=list)
    other: list[Item] = field(default_factory=list)
    clusters: list[ClusterRow] = field(default_factory=list)
    event_count: int = 0

    @property
    def is_empty(self) -> bool:
        return self.event_count == 0 and not self.clusters

    def period(self) -> str:
        tz = ZoneInfo(self.timezone)
        a = self.since.astimezone(tz)
        b = self.until.astimezone(tz)
        start = "the beginning" if self.since <= BEGINNING else a.strftime("%a %d %b %Y %H:%M")
        return f"{start} – {b.strftime('%a %d %b %Y %H:%M')} ({self.timezone})"


def _sources(ev: dict[str, Any] | Event) -> tuple[Source, ...]:
    out: list[Source] = []
    srcs = ev.sources if isinstance(ev, Event) else ev.get("sources") or ()
    for s in dict.fromkeys(srcs):
        out.append(Source(source_name(s), s if safe_url(s) else None))
    return tuple(out)


_TIER = {"primary": 2, "major": 1}


@dataclass
class _Fold:
    """Corroborations of one claim folded into one line: the outlets counted, the best two links kept."""

    event: Event
    outlets: set[str] = field(default_factory=set)
    best: list[tuple[int, str]] = field(default_factory=list)  # (-tier rank, link), at most two

    def add(self, ev: Event) -> None:
        fact = ev.fact or {}
        self.outlets.add(str(fact.get("outlet") or ev.detail.get("outlet") or ev.doc))
        rank = -_TIER.get(str(fact.get("tier")), 0)
        for s in ev.sources[:1]:
            if s not in [b for _, b in self.best]:
                self.best = sorted([*self.best, (rank, s)])[:2]
        self.event = ev


def _comparable(fact: dict[str, Any] | None) -> float | None:
    c = comparable(fact)
    return c[0] if c else None


def _bars(store: Store, thread_key: str | None, until: datetime, tz: ZoneInfo) -> tuple[Bar, ...]:
    """The figure's path so far, from its events (only when it actually moved)."""
    if not thread_key:
        return ()
    points: list[tuple[str, float, str]] = []
    for r in store.events_for_thread(thread_key, until):
        ev = json.loads(r["payload"])
        if ev.get("type") not in ("new_figure", "revised_figure"):
            continue
        if not points and ev.get("previous") and _comparable(ev["previous"]) is not None:
            prev = ev["previous"]
            points.append((format_figure(prev), _comparable(prev) or 0.0, "before"))
        v = _comparable(ev.get("fact"))
        if v is None:
            continue
        when = (parse_iso(r["created"]) or until).astimezone(tz).strftime("%d %b %H:%M")
        points.append((format_figure(ev.get("fact")), v, when))
    if len(points) < 2 or len({p[1] for p in points}) < 2:
        return ()
    top = max(abs(p[1]) for p in points) or 1.0
    return tuple(Bar(label, max(2, round(abs(v) / top * 100)), when) for label, v, when in points[-8:])


def build_digest(store: Store, since: datetime, until: datetime, *, timezone: str = "UTC") -> Digest:
    """Gather events in [since, until) and the story clusters that grew in it."""
    tz = ZoneInfo(timezone)
    d = Digest(since=since, until=until, timezone=timezone)
    rows = store.events_between(since, until)
    d.event_count = len(rows)
    lists = {"conflict": d.conflicts, "new_investor": d.investors, "cloud_partnership": d.partners,
             "product_move": d.product_moves, "status": d.statuses, "retracted": d.corrections}
    latest_figure: dict[str, int] = {}
    folds: dict[str, _Fold] = {}
    for r in rows:
        ev = json.loads(r["payload"])
        etype = ev.get("type") or r["type"]
        when = (parse_iso(r["created"]) or until).astimezone(tz).strftime("%d %b %H:%M")
        if etype in ("new_figure", "revised_figure") and (ev.get("fact") or {}).get("value") is not None:
            fact, prev = ev["fact"], ev.get("previous")
            kind = ev.get("kind") or fact.get("kind") or "other"
            label = figure_name({**fact, "kind": kind})
            row = FigureRow(
                subject=ev.get("subject") or "", label=label, value=format_figure(fact),
                previous=format_figure(prev) if prev and prev.get("value") is not None else None, change=change(fact, prev),
                revised=etype == "revised_figure", message=message(event_from_dict(ev)), sources=_sources(ev),
                bars=_bars(store, ev.get("thread_key"), until, tz))
            # one row per figure: a later revision in the same period replaces the earlier row
            # (its chart shows the path; the sources of both are kept)
            tk = ev.get("thread_key")
            if tk and tk in latest_figure:
                earlier = d.figures[latest_figure[tk]]
                merged = tuple(dict.fromkeys(row.sources + earlier.sources))
                d.figures[latest_figure[tk]] = dataclasses.replace(row, sources=merged)
            else:
                if tk:
                    latest_figure[tk] = len(d.figures)
                d.figures.append(row)
            continue
        event = event_from_dict(ev)
        if etype == "corroborated":
            # one line per claim however many outlets repeat it: the digest grows with claims, not copies
            fold = folds.setdefault(event.thread_key or event.key, _Fold(event))
            fold.add(event)
            continue
        item = Item(type=etype, type_label=TYPE_LABELS.get(etype, ("", etype.replace("_", " ")))[1],
                    subject=event.subject or "", message=message(event), sources=_sources(event), when=when,
                    why=why(event))
        lists.get(etype, d.other).append(item)
    for fold in folds.values():
        n = max(len(fold.outlets), int(fold.event.detail.get("n_sources") or 0))
        d.corroborations.append(Item(
            type="corroborated", type_label=TYPE_LABELS["corroborated"][1], subject=fold.event.subject,
            message=corroboration_line(fold.event, n), sources=_sources(Event(
                type="corroborated", subject="", key="", sources=tuple(s for _, s in fold.best)))))
    for c in store.top_clusters(since, until, limit=5):
        outlets = ", ".join(sorted({o for o in (c.get("outlets") or "").split(",") if o})[:6])
        title = " ".join((c.get("title") or "(untitled)").split())
        if len(title) > 140:
            title = title[:139].rsplit(" ", 1)[0].rstrip(",;:.") + "…"
        d.clusters.append(ClusterRow(title=title, stories=int(c.get("size") or 1),
                                     sources=int(c.get("sources") or 1), outlets=outlets))
    return d


# ------------------------------------------------------------------ rendering

_env: Environment | None = None


def _jinja() -> Environment:
    global _env
    if _env is None:
        _env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                           autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return _env


_text_env: Environment | None = None


def _jinja_text() -> Environment:
    """The same templates without HTML escaping, for the plain-text part only."""
    global _text_env
    if _text_env is None:
        _text_env = _jinja().overlay(autoescape=False)
    return _text_env


def _subject(d: Digest) -> str:
    tz = ZoneInfo(d.timezone)
    return digest_subject(d.until.astimezone(tz).strftime("%d %b %Y"), empty=d.is_empty, events=d.event_count,
                          figures=len(d.figures), conflicts=len(d.conflicts))


def render_html(d: Digest) -> str:
    """The HTML part (Jinja2, autoescaped; inline CSS and tables only, for mail clients)."""
    return _jinja().get_template("digest.html.j2").render(d=d, subject=_subject(d))


def render_text(d: Digest) -> str:
    """The plain-text alternative."""
    return _jinja_text().get_template("digest.txt.j2").render(d=d, subject=_subject(d))


def message_id(scheduled_for: datetime, cfg: EmailConfig) -> str:
    """Deterministic per slot and recipients, so a resend is recognisably the same message."""
    h = hashlib.sha256(f"{iso(scheduled_for)}|{cfg.sender}|{','.join(cfg.recipients)}".encode()).hexdigest()[:16]
    domain = cfg.sender.rsplit("@", 1)[-1].strip(">") if "@" in cfg.sender else "kling-monitor.local"
    return f"<digest.{scheduled_for.astimezone(UTC):%Y%m%dT%H%MZ}.{h}@{domain}>"


def build_message(d: Digest, cfg: Config, *, scheduled_for: datetime | None = None) -> EmailMessage:
    """multipart/alternative: text first, HTML last (mail clients show the last they can)."""
    e = cfg.email
    msg = EmailMessage()
    msg["Subject"] = _subject(d)
    msg["From"] = e.sender
    msg["To"] = ", ".join(e.recipients)
    msg["Date"] = format_datetime(d.until.astimezone(UTC))
    msg["Message-ID"] = message_id(scheduled_for or d.until, e)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render_text(d))
    msg.add_alternative(render_html(d), subtype="html")
    return msg


# ------------------------------------------------------------------ sending


def smtp_session(cfg: EmailConfig) -> smtplib.SMTP:
    """An SMTP session: starttls | tls (implicit TLS) | none, logged in when both credentials are set.

    The digest and `check-config --online` / `test-send email` share it, so they connect the same way."""
    user, password = secret(cfg.username_env), secret(cfg.password_env)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if cfg.security == "tls":
        smtp = smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout, context=context)
    else:
        smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout)
    try:
        smtp.ehlo()
        if cfg.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if user and password:
            if cfg.security == "none":
                log.warning("email: plain-text SMTP AUTH to %s:%d (email.security = \"none\"): the user name and "
                            "password cross the network unencrypted; use starttls or tls", cfg.smtp_host, cfg.smtp_port)
            smtp.login(user, password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def smtp_send(msg: EmailMessage, cfg: EmailConfig) -> None:
    """Send over SMTP; credentials from the environment."""
    with smtp_session(cfg) as smtp:
        smtp.send_message(msg)


def _period_start(store: Store, now: datetime) -> datetime:
    last = store.digest_last_covered()
    if last is not None:
        return last
    epoch = parse_iso(store.get_meta(EPOCH_META))
    return epoch or BEGINNING


def _send(store: Store, cfg: Config, *, slot: datetime, since: datetime, until: datetime, now: datetime,
          force: bool) -> str:
    d = build_digest(store, since, until, timezone=cfg.digest.timezone)
    mid = message_id(slot, cfg.email)
    if d.is_empty and not (force or cfg.digest.send_empty):
        if not store.digest_begin(scheduled_for=slot, period_start=since, period_end=until, message_id=mid,
                                  status="empty"):
            return "already_sent"
        return "empty"
    if not store.digest_begin(scheduled_for=slot, period_start=since, period_end=until, message_id=mid):
        return "already_sent"
    try:
        smtp_send(build_message(d, cfg, scheduled_for=slot), cfg.email)
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        err = redact.scrub(f"{type(exc).__name__}: {exc}")
        store.digest_finish(slot, status="failed", now=now, error=err)
        return f"failed: {err}"
    store.digest_finish(slot, status="sent", now=now)
    return "sent"


def send_due_digest(store: Store, cfg: Config, *, now: datetime) -> str:
    """Send the digest of the latest slot if it is due and not yet sent.

    Returns "sent" | "empty" (nothing happened, send_empty off) | "not_due" | "already_sent" |
    "disabled" (email off) | "failed: <reason>".
    """
    if not cfg.email.enabled:
        return "disabled"
    epoch = parse_iso(store.get_meta(EPOCH_META))
    if epoch is None:
        store.set_meta(EPOCH_META, iso(now) or "")
        epoch = now
    slot = digest_slot(now, cfg.digest)
    if slot <= epoch:
        return "not_due"
    row = store.digest_row(slot)
    if row is not None:
        if row["status"] == "sending":
            # Died mid-send: at-most-once, see the module docstring.
            store.digest_finish(slot, status="sent", now=now,
                                error="assumed sent: found 'sending' after a restart")
            return "already_sent"
        if row["status"] != "failed" or row["attempts"] >= MAX_ATTEMPTS:
            return "already_sent" if row["status"] != "failed" else f"failed: {row['last_error']} (giving up)"
    since = _period_start(store, now)
    return _send(store, cfg, slot=slot, since=since, until=slot, now=now, force=False)


def send_now(store: Store, cfg: Config, *, now: datetime) -> str:
    """Send everything since the last digest now (CLI `digest --send`), even when empty."""
    if not cfg.email.enabled:
        return "disabled"
    since = _period_start(store, now)
    return _send(store, cfg, slot=now.astimezone(UTC).replace(microsecond=0), since=since, until=now, now=now,
                 force=True)


def preview(store: Store, cfg: Config, path: str | Path, *, now: datetime) -> Path:
    """Write the HTML of the digest that would go out now (nothing recorded)."""
    d = build_digest(store, _period_start(store, now), now, timezone=cfg.digest.timezone)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(d), encoding="utf-8")
    return p
