"""End to end: the seed articles through the pipeline into Slack (local server) and an email digest (aiosmtpd)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("monitor.pipeline", reason="monitor.pipeline (another engineer's module) is not there yet")

from slackserver import TOKEN, SlackServer  # noqa: E402
from smtpserver import Inbox, smtp_server  # noqa: E402

from monitor.config import Config, ConsoleConfig, DigestConfig, EmailConfig, SlackConfig  # noqa: E402
from monitor.digest import send_due_digest  # noqa: E402
from monitor.documents import load_documents  # noqa: E402
from monitor.models import ANNOUNCED_TYPES, Event  # noqa: E402
from monitor.notify import THREAD_TYPES, ConsoleTransport, build_transports, drain, enqueue  # noqa: E402
from monitor.pipeline import process_document  # noqa: E402
from monitor.render import corroboration_line, format_figure, message  # noqa: E402
from monitor.store import Store  # noqa: E402

T0 = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def servers() -> Iterator[tuple[SlackServer, Inbox, int]]:
    with smtp_server() as (inbox, port), SlackServer() as slack:
        yield slack, inbox, port


def test_seeds_to_slack_and_digest(tmp_path: Path, servers: tuple[SlackServer, Inbox, int], shared_dir: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    slack, inbox, port = servers
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    cfg = Config(
        console=ConsoleConfig(enabled=True, jsonl=str(tmp_path / "alerts.jsonl")),
        slack=SlackConfig(enabled=True, base_url=slack.base_url, channel="#kling", min_severity=2),
        email=EmailConfig(enabled=True, smtp_host="127.0.0.1", smtp_port=port, security="none",
                          sender="monitor@example.org", recipients=("team@example.org",), timeout=5),
        digest=DigestConfig(time="08:00", timezone="UTC"),
    )
    seeds = shared_dir / "seeds"
    order = json.loads((seeds / "expected.json").read_text())["replay"]["order"]
    docs = load_documents([str(seeds / "articles" / name) for name in order])
    events: list[Event] = []
    with Store(tmp_path / "m.db") as store:
        assert send_due_digest(store, cfg, now=T0 - timedelta(minutes=1)) == "not_due"  # scheduler starts
        for i, doc in enumerate(docs):
            now = T0 + timedelta(minutes=10 * i)

            def on_events(evs: list[Event], now: datetime = now) -> None:
                events.extend(evs)
                enqueue(store, evs, cfg, now=now)

            process_document(store, doc, cfg, on_events=on_events, now=now)
        assert events, "the pipeline produced no events for the seeds"
        transports = dict(build_transports(cfg))
        transports["console"] = ConsoleTransport(cfg.console.jsonl, io.StringIO())
        s = drain(store, cfg, now=T0 + timedelta(hours=1), transports=transports)  # type: ignore[arg-type]
        full = [e for e in events if e.type in ANNOUNCED_TYPES and e.severity >= cfg.slack.min_severity]
        # low-severity claim events (a corroboration, a single-source conflict) are replies in an existing thread
        replies = [e for e in events if e not in full and e.type in THREAD_TYPES and e.thread_key
                   and any(a.thread_key == e.thread_key and events.index(a) < events.index(e) for a in full)]
        assert replies, "expected the seeds' corroboration and flagged valuation as thread replies"
        announced = full + replies
        assert s.parked == 0 and s.failed == 0
        assert s.sent == len(events) + len(announced)  # console gets every event
        assert len(slack.messages) == len(announced)
        keys = [m.metadata["event_payload"]["event_key"] for m in slack.messages if m.metadata]
        assert sorted(keys) == sorted(e.key for e in announced)
        assert all(m.thread_ts and not m.reply_broadcast for m in slack.messages
                   if m.metadata and m.metadata["event_payload"]["event_key"] in {e.key for e in replies})
        # one thread per figure: later posts about a figure reply to its first alert
        first_ts: dict[str, str] = {}
        by_key = {e.key: e for e in announced}
        for m in slack.messages:
            ev = by_key[m.metadata["event_payload"]["event_key"]]  # type: ignore[index]
            if ev.thread_key in first_ts:
                assert m.thread_ts == first_ts[ev.thread_key]
            elif ev.thread_key:
                assert m.thread_ts is None
                first_ts[ev.thread_key] = m.ts
        assert any(m.thread_ts for m in slack.messages), "expected at least one threaded follow-up"
        assert drain(store, cfg, now=T0 + timedelta(hours=1), transports=transports).sent == 0

        assert send_due_digest(store, cfg, now=T0 + timedelta(hours=2, minutes=5)) == "sent"
        assert send_due_digest(store, cfg, now=T0 + timedelta(hours=3)) == "already_sent"
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    flat = " ".join(text.split())
    for e in events:
        if e.type in ("new_figure", "revised_figure") and e.fact and e.fact.get("value") is not None:
            assert format_figure(e.fact) in text, message(e)
        elif e.type == "corroborated":  # folded: one line per claim with its count of sources
            assert " ".join(corroboration_line(e, 2).split()).rsplit(" — ", 1)[0] in flat, message(e)
        else:
            assert " ".join(message(e).split()) in flat, message(e)
    assert "Conflicts" in html and "CONFLICTS" in text
