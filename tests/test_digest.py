"""The daily digest: schedule across DST, content, rendering, and SMTP to a real aiosmtpd."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from smtpserver import Inbox, free_port

from monitor.config import Config, DigestConfig, EmailConfig
from monitor.digest import (
    EPOCH_META,
    build_digest,
    build_message,
    digest_slot,
    message_id,
    next_digest_time,
    preview,
    render_html,
    render_text,
    send_due_digest,
    send_now,
)
from monitor.models import Event
from monitor.store import Store, iso

LONDON = DigestConfig(time="08:00", timezone="Europe/London")


# ------------------------------------------------------------------ SMTP server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "m.db") as s:
        yield s


def make_cfg(port: int, **digest_kw: Any) -> Config:
    return Config(email=EmailConfig(enabled=True, smtp_host="127.0.0.1", smtp_port=port, security="none",
                                    sender="monitor@example.org", recipients=("a@example.org", "b@example.org"),
                                    timeout=5),
                  digest=DigestConfig(time="08:00", timezone="UTC", **digest_kw))


def add_event(store: Store, key: str, type: str, created: datetime, **kw: Any) -> Event:
    """Record an event as the ledger does; `outlet` is feed text its rendered message carries."""
    outlet = kw.pop("outlet", f"{type}-{key}.example")
    fact = {**kw.pop("fact", {"kind": kw.get("kind") or "other", "names": ["Alibaba"]}), "outlet": outlet}
    e = Event(type=type, subject=kw.pop("subject", "Kling"), key=key, rule="test", fact=fact,
              detail={"outlet": outlet}, **kw)
    store.insert_event(key=e.key, type=e.type, subject=e.subject, kind=e.kind, severity=e.severity,
                       payload=e.to_dict(), doc=e.doc, created=created)
    return e


ROUND = {"kind": "round_size", "value": 2e9, "unit": "USD", "qualifier": "approx", "stage": "reported"}
ROUND2 = {"kind": "round_size", "value": 2.8e9, "unit": "USD", "qualifier": "approx", "stage": "committed"}


def seed(store: Store, at: datetime) -> None:
    tk = "Kling:round_size:"
    add_event(store, "f1", "new_figure", at, kind="round_size", fact=ROUND, thread_key=tk,
              sources=("https://www.bloomberg.com/a",))
    add_event(store, "f2", "revised_figure", at + timedelta(minutes=5), kind="round_size", fact=ROUND2,
              previous=ROUND, thread_key=tk, sources=("https://36kr.com/b", "https://scmp.com/c"),
              outlet="36kr <script>alert(1)</script>")
    add_event(store, "c1", "conflict", at + timedelta(minutes=6))
    add_event(store, "i1", "new_investor", at + timedelta(minutes=7))
    add_event(store, "p1", "product_move", at + timedelta(minutes=8))
    add_event(store, "k1", "corroborated", at + timedelta(minutes=9))


# ------------------------------------------------------------------ schedule


def test_slot_follows_dst() -> None:
    winter = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 15, 10, 0, tzinfo=UTC)
    assert digest_slot(winter, LONDON) == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    assert digest_slot(summer, LONDON) == datetime(2026, 7, 15, 7, 0, tzinfo=UTC)
    assert digest_slot(datetime(2026, 7, 15, 6, 59, tzinfo=UTC), LONDON) == datetime(2026, 7, 14, 7, 0, tzinfo=UTC)
    # the day BST starts (29 March 2026) and the day before
    assert digest_slot(datetime(2026, 3, 29, 12, tzinfo=UTC), LONDON) == datetime(2026, 3, 29, 7, tzinfo=UTC)
    assert digest_slot(datetime(2026, 3, 29, 6, tzinfo=UTC), LONDON) == datetime(2026, 3, 28, 8, tzinfo=UTC)
    assert next_digest_time(datetime(2026, 3, 28, 9, tzinfo=UTC), LONDON) == datetime(2026, 3, 29, 7, tzinfo=UTC)
    assert next_digest_time(datetime(2026, 10, 24, 9, tzinfo=UTC), LONDON) == datetime(2026, 10, 25, 8, tzinfo=UTC)
    assert next_digest_time(datetime(2026, 1, 15, 8, 0, tzinfo=UTC), LONDON) == datetime(2026, 1, 16, 8, tzinfo=UTC)
    s = digest_slot(datetime(2026, 1, 15, 8, 0, tzinfo=UTC), LONDON)
    assert s.tzinfo is not None and s.utcoffset() == timedelta(0)


def test_slot_in_a_far_zone() -> None:
    cfg = DigestConfig(time="08:00", timezone="Asia/Shanghai")
    assert digest_slot(datetime(2026, 5, 1, 1, 0, tzinfo=UTC), cfg) == datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
    assert digest_slot(datetime(2026, 4, 30, 23, 0, tzinfo=UTC), cfg) == datetime(2026, 4, 30, 0, 0, tzinfo=UTC)


# ------------------------------------------------------------------ content


def test_build_and_render(store: Store) -> None:
    t = datetime(2026, 5, 1, 6, tzinfo=UTC)
    seed(store, t)
    add_event(store, "late", "new_investor", t + timedelta(hours=3))  # after the period
    d = build_digest(store, t, t + timedelta(hours=2))
    assert d.event_count == 6 and not d.is_empty
    assert len(d.figures) == 1  # the revision replaces the new-figure row of the same figure
    f = d.figures[0]
    assert (f.value, f.previous, f.change, f.revised) == ("~$2.8B committed", "~$2B reported", "+40%", True)
    assert [b.label for b in f.bars] == ["~$2B reported", "~$2.8B committed"]
    assert len(d.conflicts) == len(d.investors) == len(d.product_moves) == len(d.corroborations) == 1
    html = render_html(d)
    assert "~$2.8B committed" in html and "+40%" in html and "Conflicts" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="https://36kr.com/b"' in html
    assert "<style" not in html and "<svg" not in html and "<link" not in html
    text = render_text(d)
    assert "~$2.8B committed (was ~$2B reported, +40%)" in text and "CONFLICTS" in text
    assert "<script>alert(1)</script>" in text  # plain text is not HTML-escaped


def test_empty_digest(store: Store) -> None:
    t = datetime(2026, 5, 1, tzinfo=UTC)
    d = build_digest(store, t, t + timedelta(days=1))
    assert d.is_empty
    assert "Nothing new" in render_html(d) and "nothing new" in render_text(d)


def test_message_headers_and_parts(store: Store) -> None:
    t = datetime(2026, 5, 1, 6, tzinfo=UTC)
    seed(store, t)
    cfg = make_cfg(25)
    d = build_digest(store, t, t + timedelta(hours=2))
    msg = build_message(d, cfg, scheduled_for=t + timedelta(hours=2))
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Message-ID"] == message_id(t + timedelta(hours=2), cfg.email)
    assert message_id(t, cfg.email) == message_id(t, cfg.email) != message_id(t + timedelta(days=1), cfg.email)
    assert msg["Message-ID"].endswith("@example.org>")


def test_preview_writes_html(tmp_path: Path, store: Store) -> None:
    t = datetime(2026, 5, 1, 6, tzinfo=UTC)
    seed(store, t)
    p = preview(store, make_cfg(25), tmp_path / "out" / "d.html", now=t + timedelta(hours=1))
    assert "~$2.8B committed" in p.read_text()
    assert store.digest_rows() == [] and store.get_meta(EPOCH_META) is None


# ------------------------------------------------------------------ sending


def test_sent_once_across_restarts(tmp_path: Path, store: Store, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    cfg = make_cfg(port)
    day1 = datetime(2026, 5, 1, tzinfo=UTC)
    assert send_due_digest(store, cfg, now=day1 + timedelta(hours=7)) == "not_due"  # first start: epoch
    seed(store, day1 + timedelta(hours=7, minutes=10))
    assert send_due_digest(store, cfg, now=day1 + timedelta(hours=7, minutes=59)) == "not_due"
    assert send_due_digest(store, cfg, now=day1 + timedelta(hours=8, minutes=1)) == "sent"
    assert send_due_digest(store, cfg, now=day1 + timedelta(hours=8, minutes=2)) == "already_sent"
    with Store(tmp_path / "m.db") as again:  # a restarted daemon
        assert send_due_digest(again, cfg, now=day1 + timedelta(hours=9)) == "already_sent"
    assert len(inbox.messages) == 1
    m = inbox.messages[0]
    assert m.get_content_type() == "multipart/alternative"
    for h in ("Subject", "From", "To", "Date", "Message-ID"):
        assert m[h], h
    assert m["From"] == "monitor@example.org" and "b@example.org" in m["To"]
    assert "1 figure, 1 conflict" in m["Subject"]
    plain = m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = m.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for part in (plain, html):
        assert "~$2.8B committed" in part and "~$2B reported" in part and "+40%" in part
    row = store.digest_row(day1 + timedelta(hours=8))
    assert row is not None and row["status"] == "sent" and row["message_id"] == m["Message-ID"]


def test_missed_slot_sent_once_on_start(store: Store, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    cfg = make_cfg(port)
    day1 = datetime(2026, 5, 1, 7, tzinfo=UTC)
    assert send_due_digest(store, cfg, now=day1) == "not_due"
    seed(store, day1 + timedelta(minutes=30))
    add_event(store, "x2", "new_investor", day1 + timedelta(days=1, hours=5), outlet="Day-two investor")
    # down until day 4, 09:00: slots of day 1, 2, 3, 4 missed -> one digest for the day-4 slot
    back = day1 + timedelta(days=3, hours=2)
    assert send_due_digest(store, cfg, now=back) == "sent"
    assert send_due_digest(store, cfg, now=back + timedelta(minutes=1)) == "already_sent"
    assert len(inbox.messages) == 1
    html = inbox.messages[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Day-two investor" in html and "~$2.8B committed" in html
    assert len(store.digest_rows()) == 1
    # the next day covers only what came after the day-4 slot
    add_event(store, "x3", "product_move", back + timedelta(hours=1), outlet="API launch")
    assert send_due_digest(store, cfg, now=back + timedelta(days=1)) == "sent"
    html = inbox.messages[1].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "API launch" in html and "Day-two investor" not in html


def test_empty_period_sends_nothing_unless_asked(store: Store, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    t = datetime(2026, 5, 1, 7, tzinfo=UTC)
    assert send_due_digest(store, make_cfg(port), now=t) == "not_due"
    assert send_due_digest(store, make_cfg(port), now=t + timedelta(hours=2)) == "empty"
    assert send_due_digest(store, make_cfg(port), now=t + timedelta(hours=3)) == "already_sent"
    assert not inbox.messages
    assert send_due_digest(store, make_cfg(port, send_empty=True), now=t + timedelta(days=1, hours=2)) == "sent"
    assert len(inbox.messages) == 1 and "nothing new" in inbox.messages[0]["Subject"]


def test_smtp_down_then_up(store: Store, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    t = datetime(2026, 5, 1, 7, tzinfo=UTC)
    send_due_digest(store, make_cfg(port), now=t)
    seed(store, t + timedelta(minutes=5))
    result = send_due_digest(store, make_cfg(free_port()), now=t + timedelta(hours=2))
    assert result.startswith("failed: ")
    assert store.digest_row(datetime(2026, 5, 1, 8, tzinfo=UTC))["status"] == "failed"  # type: ignore[index]
    assert send_due_digest(store, make_cfg(port), now=t + timedelta(hours=2, minutes=1)) == "sent"
    assert len(inbox.messages) == 1


def test_crash_mid_send_is_not_resent(store: Store, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    cfg = make_cfg(port)
    t = datetime(2026, 5, 1, 7, tzinfo=UTC)
    send_due_digest(store, cfg, now=t)
    seed(store, t + timedelta(minutes=5))
    slot = datetime(2026, 5, 1, 8, tzinfo=UTC)
    # what a kill between 'sending' and 'sent' leaves behind
    assert store.digest_begin(scheduled_for=slot, period_start=t, period_end=slot,
                              message_id=message_id(slot, cfg.email))
    assert send_due_digest(store, cfg, now=slot + timedelta(minutes=5)) == "already_sent"
    assert not inbox.messages
    row = store.digest_row(slot)
    assert row is not None and row["status"] == "sent" and "assumed" in row["last_error"]


def test_send_now_and_disabled(store: Store, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    t = datetime(2026, 5, 1, 7, tzinfo=UTC)
    seed(store, t)
    assert send_now(store, make_cfg(port), now=t + timedelta(hours=1)) == "sent"
    assert len(inbox.messages) == 1
    assert store.digest_rows()[0]["period_end"] == iso(t + timedelta(hours=1))
    off = Config()
    assert send_due_digest(store, off, now=t) == "disabled" and send_now(store, off, now=t) == "disabled"


@pytest.mark.slow
def test_a_digest_over_a_thousand_corroborating_copies_stays_small() -> None:
    """Each copy folds into one line with a count and the best two links: size grows with claims, not copies."""
    from monitor.ledger import record_extraction
    from monitor.models import Document, Extraction, Fact

    store = Store()
    t = datetime(2026, 5, 1, 6, tzinfo=UTC)
    fact = Fact(kind="round_size", subject="Kling", value=3e9, unit="USD", value_usd=3e9, quote="a $3 billion round")
    extraction = Extraction(source="x", relevant=True, entities=("Kling",), facts=(fact,))
    n = 1000
    for i in range(n):
        doc = Document(source=f"https://outlet{i}.example/kling", url=f"https://outlet{i}.example/kling",
                       title="Kling AI raises $3 billion", text="...")
        with store.atomic():
            record_extraction(store, extraction, doc, assignment=None, cfg=Config(), now=t + timedelta(seconds=i))
    d = build_digest(store, t, t + timedelta(hours=1))
    assert d.event_count == n and len(d.corroborations) == 1
    assert d.corroborations[0].message == f"Kling round size $3B — {n} sources"
    assert len(d.corroborations[0].sources) == 2
    html, text = render_html(d), render_text(d)
    assert len(html.encode()) < 100_000 and len(text.encode()) < 100_000
    # every stored event is small too: none lists the sources before it
    sizes = [len(r["payload"]) for r in store.query("SELECT payload FROM events")]
    assert max(sizes) < 5 * min(sizes)
