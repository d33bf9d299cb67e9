"""The outbox against a real local HTTP server speaking Slack's Web API."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slackserver import TOKEN, Reply, SlackServer

from monitor.config import Config, ConsoleConfig, OutboxConfig, QuietHours, SlackConfig, SlackRoute
from monitor.models import Event
from monitor.notify import (
    ConsoleTransport,
    DrainSummary,
    SlackTransport,
    build_transports,
    drain,
    enqueue,
    format_outbox,
    outbox_list,
    outbox_retry,
    quiet_until,
    slack_targets,
)
from monitor.store import Store, iso, parse_iso

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HERE = Path(__file__).resolve().parent


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer() as s:
        yield s


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "m.db") as s:
        yield s


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.delenv("KLING_MONITOR_CRASH_AFTER_SEND", raising=False)


def make_cfg(tmp_path: Path, slack: SlackServer | None, **slack_kw: object) -> Config:
    s = SlackConfig(enabled=slack is not None, base_url=slack.base_url if slack else None, channel="#kling",
                    min_severity=2)
    s = replace(s, **slack_kw)  # type: ignore[arg-type]
    return Config(console=ConsoleConfig(enabled=True, jsonl=str(tmp_path / "alerts.jsonl")), slack=s,
                  outbox=OutboxConfig(max_attempts=3, base_delay=1.0, max_delay=60.0))


def ev(key: str, type: str = "new_figure", *, severity: int = 2, outlet: str = "reuters.com",
       thread_key: str | None = "Kling:round_size:", subject: str = "Kling", **kw: object) -> Event:
    """An event as the ledger makes it; `outlet` is feed text that the rendered message carries."""
    fact = {"kind": "round_size", "subject": subject, "value": 2e9, "unit": "USD", "qualifier": "approx",
            "outlet": outlet}
    return Event(type=type, subject=subject, key=key, rule="first_claim", severity=severity,
                 kind="round_size", fact=fact, sources=("https://www.reuters.com/x",), thread_key=thread_key,
                 **kw)  # type: ignore[arg-type]


def queue(store: Store, cfg: Config, *events: Event, now: datetime = T0) -> int:
    """Record the events (as the ledger does) and queue their deliveries, in one transaction."""
    with store.atomic():
        for e in events:
            store.insert_event(key=e.key, type=e.type, subject=e.subject, kind=e.kind, severity=e.severity,
                               payload=e.to_dict(), doc=e.doc, created=now)
        return enqueue(store, list(events), cfg, now=now)


def quiet_console(cfg: Config) -> dict[str, object]:
    """Transports with the console writing to a buffer instead of the test's stdout."""
    tr: dict[str, object] = dict(build_transports(cfg))
    tr["console"] = ConsoleTransport(cfg.console.jsonl, io.StringIO())
    return tr


def run(store: Store, cfg: Config, now: datetime = T0):  # type: ignore[no-untyped-def]
    return drain(store, cfg, now=now, transports=quiet_console(cfg))  # type: ignore[arg-type]


# ------------------------------------------------------------------ enqueue + routing


def test_enqueue_rows_per_destination_and_idempotent(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack)
    events = [ev("a"), ev("b", "corroborated"), ev("c", "new_investor", severity=1, thread_key=None)]
    # a: console+slack; b: console + a reply in its claim's thread; c: console (below severity, no thread)
    assert queue(store, cfg, *events) == 5
    assert queue(store, cfg, *events) == 0
    rows = {r["idempotency_key"]: r["thread_only"] for r in store.outbox_rows()}
    assert rows == {"a:console:stdout": 0, "a:slack:#kling": 0, "b:console:stdout": 0, "b:slack:#kling": 1,
                    "c:console:stdout": 0}
    # the rows refer to their events; the words are written when they are sent
    assert all(r["payload"] is None and r["event_key"] in "abc" for r in store.outbox_rows())


def test_routes() -> None:
    s = SlackConfig(enabled=True, channel="#default", min_severity=2, routes=(
        SlackRoute(channel="#money", types=("new_figure", "revised_figure"), entities=("Kling",)),
        SlackRoute(channel="#urgent", types=("conflict",), min_severity=3),
    ))
    assert slack_targets(ev("a"), s) == [("#money", False)]
    assert slack_targets(ev("a", subject="Kuaishou"), s) == [("#default", False)]
    # a low-severity conflict goes only into its claim's thread
    assert slack_targets(ev("a", "conflict", severity=2), s) == [("#urgent", True)]
    assert slack_targets(ev("a", "conflict", severity=2, thread_key=None), s) == []
    assert slack_targets(ev("a", "conflict", severity=3), s) == [("#urgent", False)]
    assert slack_targets(ev("a", "story_update", severity=3), s) == []
    assert slack_targets(ev("a"), replace(s, webhook_env="HOOK", routes=())) == [("webhook", False)]
    assert slack_targets(ev("a", "corroborated", severity=1), replace(s, webhook_env="HOOK", routes=())) == []
    # a corroboration from a copy of the story is counted in the digest, not posted in the thread
    assert slack_targets(ev("a", "corroborated", severity=1), s) == [("#default", True)]
    assert slack_targets(ev("a", "corroborated", severity=1, detail={"copy_of": 3}), s) == []


def test_low_severity_goes_only_into_an_existing_thread(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack, cooldown_minutes=0)
    # no thread for this claim yet: the corroboration is left to the digest, nothing is posted
    queue(store, cfg, ev("lonely", "corroborated", severity=1, thread_key="Kling:valuation:"))
    run(store, cfg)
    assert slack.messages == []
    row = next(r for r in store.outbox_rows() if r["transport"] == "slack")
    assert (row["status"], row["last_error"]) == ("sent", "no thread: digest only")
    # with a thread, a low-severity conflict is a reply there, never broadcast to the channel
    queue(store, cfg, ev("first"))
    run(store, cfg)
    later = T0 + timedelta(hours=2)
    queue(store, cfg, ev("flag", "conflict", severity=1), now=later)
    run(store, cfg, later)
    first, flag = slack.messages
    assert flag.thread_ts == first.ts and not flag.reply_broadcast


# ------------------------------------------------------------------ drain


def test_drain_delivers_blocks_and_console(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack)
    queue(store, cfg, ev("a"))
    s = run(store, cfg)
    assert (s.sent, s.failed, s.parked, s.held) == (2, 0, 0, 0)
    assert len(slack.messages) == 1
    m = slack.messages[0]
    assert m.blocks and m.blocks[0]["type"] == "header"
    assert m.metadata and m.metadata["event_payload"]["idempotency_key"] == "a:slack:#kling"
    row = next(r for r in store.outbox_rows() if r["transport"] == "slack")
    assert row["status"] == "sent" and row["remote_id"] == m.ts and row["attempts"] == 1
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["idempotency_key"] == "a:console:stdout"
    assert run(store, cfg).sent == 0  # nothing left


def test_console_prints_one_line(tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_cfg(tmp_path, None)
    queue(store, cfg, ev("a", outlet="Kling round\nabout $2B"))
    assert drain(store, cfg, now=T0).sent == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "Kling round about $2B" in out[0]


def test_rate_limited_then_ok_delivers_exactly_once(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack, )
    slack.script("chat.postMessage", Reply(429, {"ok": False, "error": "ratelimited"}, retry_after=0))
    queue(store, cfg, ev("a"))
    s = run(store, cfg)
    assert s.sent == 2 and s.failed == 0
    assert len(slack.calls("chat.postMessage")) == 2 and len(slack.messages) == 1


def test_final_429_backs_off_by_retry_after(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack, )
    # Retry-After beyond what the in-process handler waits for: the outbox reschedules.
    slack.script("chat.postMessage", Reply(429, {"ok": False, "error": "ratelimited"}, retry_after=40))
    queue(store, cfg, ev("a"))
    s = run(store, cfg)
    assert s.failed == 1 and not slack.messages
    row = store.outbox_rows("pending")[0]
    assert parse_iso(row["next_attempt"]) == T0 + timedelta(seconds=40)
    assert run(store, cfg, T0 + timedelta(seconds=39)).sent == 0
    assert run(store, cfg, T0 + timedelta(seconds=40)).sent == 1
    assert len(slack.messages) == 1


def test_always_failing_parks_then_retry_resends(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack, )
    slack.fail_always("chat.postMessage", Reply(500, {"ok": False, "error": "internal_error"}))
    queue(store, cfg, ev("a"))
    now = T0
    delays = []
    for i in range(cfg.outbox.max_attempts):
        s = run(store, cfg, now)
        row = next(r for r in store.outbox_rows() if r["transport"] == "slack")
        assert row["attempts"] == i + 1
        if i < cfg.outbox.max_attempts - 1:
            assert s.failed == 1 and row["status"] == "pending"
            nxt = parse_iso(row["next_attempt"])
            assert nxt is not None
            delays.append((nxt - now).total_seconds())
            now = nxt
        else:
            assert s.parked == 1 and row["status"] == "parked"
    assert delays == [1.0, 2.0]  # base_delay * 2**failures
    assert run(store, cfg, now + timedelta(days=1)).sent == 0  # parked rows are not retried alone
    parked = outbox_list(store, "parked")
    assert len(parked) == 1 and "internal_error" in parked[0]["last_error"]
    table = format_outbox(parked)
    assert "parked" in table and "internal_error" in table
    slack.fail_always("chat.postMessage", None)
    assert outbox_retry(store, parked[0]["id"], now=now)
    assert not outbox_retry(store, parked[0]["id"], now=now)  # not parked any more
    assert run(store, cfg, now).sent == 1
    assert len(slack.messages) == 1


def test_invalid_auth_parks_at_once(tmp_path: Path, store: Store, slack: SlackServer,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
    cfg = make_cfg(tmp_path, slack)
    queue(store, cfg, ev("a"))
    s = run(store, cfg)
    assert s.parked == 1
    row = outbox_list(store, "parked")[0]
    assert row["last_error"] == "slack chat.postMessage: invalid_auth" and "xoxb" not in row["last_error"]


def test_missing_token_backs_off_without_losing(tmp_path: Path, store: Store, slack: SlackServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    cfg = make_cfg(tmp_path, slack)
    queue(store, cfg, ev("a"))
    s = run(store, cfg)
    assert s.failed == 1 and "SLACK_BOT_TOKEN" in store.outbox_rows("pending")[0]["last_error"]


def test_headline_arrives_escaped(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack)
    queue(store, cfg, ev("a", outlet="Kling <!channel> raises <http://evil.example|click>",
                         title="<!here> headline"))
    run(store, cfg)
    raw = json.dumps(slack.messages[0].raw)
    assert "<!channel>" not in raw and "<!here>" not in raw and "<http://evil.example|click>" not in raw
    assert "&lt;!channel&gt;" in raw and "&lt;http://evil.example|click&gt;" in raw


def test_revision_is_threaded_under_first_alert(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack, cooldown_minutes=30)
    # first alert and its revision in the same drain: the revision waits for the first ts
    queue(store, cfg, ev("first"), ev("rev1", "revised_figure"))
    run(store, cfg)
    first, rev1 = slack.messages
    assert first.thread_ts is None and rev1.thread_ts == first.ts and not rev1.reply_broadcast
    assert store.slack_thread("Kling:round_size:", "#kling")["ts"] == first.ts  # type: ignore[index]
    # after the cooldown a revision is still in the thread, and broadcast to the channel
    later = T0 + timedelta(hours=2)
    queue(store, cfg, ev("rev2", "revised_figure"), now=later)
    run(store, cfg, later)
    rev2 = slack.messages[2]
    assert rev2.thread_ts == first.ts and rev2.reply_broadcast
    # another figure starts its own thread
    queue(store, cfg, ev("val", thread_key="Kling:valuation:"), now=later)
    run(store, cfg, later)
    assert slack.messages[3].thread_ts is None


def test_threaded_reply_waits_while_first_is_failing(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack)
    slack.script("chat.postMessage", Reply(500, {"ok": False, "error": "internal_error"}))
    queue(store, cfg, ev("first"), ev("rev", "revised_figure"))
    s = run(store, cfg)
    assert s.failed == 1 and s.waiting == 1 and not slack.messages
    run(store, cfg, T0 + timedelta(seconds=5))
    first, rev = slack.messages
    assert rev.thread_ts == first.ts


def test_quiet_hours_hold_then_release(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack, quiet_hours=QuietHours(start="22:00", end="07:00", timezone="Europe/London"))
    night = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # 23:30 BST
    queue(store, cfg, ev("a"), now=night)
    s = run(store, cfg, night)
    assert s.held == 1 and s.sent == 1  # console is not held
    row = next(r for r in store.outbox_rows() if r["transport"] == "slack")
    release = datetime(2026, 7, 2, 6, 0, tzinfo=UTC)  # 07:00 BST
    assert row["status"] == "pending" and row["attempts"] == 0 and parse_iso(row["next_attempt"]) == release
    assert run(store, cfg, release - timedelta(minutes=1)).sent == 0
    assert not slack.messages
    s = run(store, cfg, release)
    assert s.sent == 1 and s.held == 0 and len(slack.messages) == 1


def test_quiet_until_same_day_and_overnight() -> None:
    q = QuietHours(start="12:00", end="14:00", timezone="UTC")
    assert quiet_until(datetime(2026, 1, 1, 13, tzinfo=UTC), q) == datetime(2026, 1, 1, 14, tzinfo=UTC)
    assert quiet_until(datetime(2026, 1, 1, 14, tzinfo=UTC), q) is None
    q = QuietHours(start="22:00", end="07:00", timezone="UTC")
    assert quiet_until(datetime(2026, 1, 1, 3, tzinfo=UTC), q) == datetime(2026, 1, 1, 7, tzinfo=UTC)
    assert quiet_until(datetime(2026, 1, 1, 23, tzinfo=UTC), q) == datetime(2026, 1, 2, 7, tzinfo=UTC)
    assert quiet_until(datetime(2026, 1, 1, 12, tzinfo=UTC), q) is None


def test_webhook_transport(tmp_path: Path, store: Store, slack: SlackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KM_HOOK", slack.webhook_url)
    cfg = make_cfg(tmp_path, slack, webhook_env="KM_HOOK")
    queue(store, cfg, ev("a"))
    assert run(store, cfg).sent == 2
    assert len(slack.webhook_messages) == 1 and slack.webhook_messages[0]["blocks"]
    assert not slack.messages


# ------------------------------------------------------------------ look before resend


def _force_sending(store: Store, key: str) -> None:
    store.db.execute("UPDATE outbox SET status = 'sending', attempts = attempts + 1 WHERE idempotency_key = ?",
                     [key])


def test_sending_row_already_delivered_is_not_resent(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack)
    queue(store, cfg, ev("a"))
    s = run(store, cfg)
    assert s.sent == 2
    ts = slack.messages[0].ts
    # pretend the marks were lost: both rows back in 'sending'
    store.db.execute("UPDATE outbox SET status = 'sending', remote_id = NULL")
    s = run(store, cfg, T0 + timedelta(minutes=1))
    assert s.recovered == 2 and s.sent == 2
    assert len(slack.messages) == 1
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 1
    row = next(r for r in store.outbox_rows() if r["transport"] == "slack")
    assert row["status"] == "sent" and row["remote_id"] == ts


def test_sending_row_not_delivered_is_sent_once(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack)
    queue(store, cfg, ev("a"))
    _force_sending(store, "a:slack:#kling")  # died after the mark, before the request
    s = run(store, cfg)
    assert s.recovered == 0 and len(slack.messages) == 1
    assert len(slack.calls("conversations.history")) == 1
    assert next(r for r in store.outbox_rows() if r["transport"] == "slack")["status"] == "sent"


def test_threaded_reply_found_via_replies(tmp_path: Path, store: Store, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack)
    queue(store, cfg, ev("first"), ev("rev", "revised_figure"))
    run(store, cfg)
    store.db.execute("UPDATE outbox SET status = 'sending' WHERE idempotency_key = 'rev:slack:#kling'")
    s = run(store, cfg, T0 + timedelta(minutes=1))
    assert s.recovered == 1 and len(slack.messages) == 2
    assert slack.calls("conversations.replies")


def test_channel_name_resolved_for_history(tmp_path: Path, slack: SlackServer) -> None:
    t = SlackTransport(TOKEN, base_url=slack.base_url)
    slack.channel_id("#kling")
    assert t._channel_id("#kling") == slack.channels["kling"]
    assert t._channel_id("C123") == "C123"


CHILD = """
import sys
from monitor.config import Config, ConsoleConfig, SlackConfig, OutboxConfig
from monitor.notify import drain
from monitor.store import Store
db, base_url, jsonl = sys.argv[1:4]
cfg = Config(console=ConsoleConfig(enabled=True, jsonl=jsonl),
             slack=SlackConfig(enabled=True, base_url=base_url, channel="#kling"),
             outbox=OutboxConfig(max_attempts=3, base_delay=1.0))
with Store(db) as store:
    s = drain(store, cfg)
print(f"sent={s.sent} recovered={s.recovered}")
"""


def _child(tmp_path: Path, slack: SlackServer, *, crash: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "PYTHONPATH": str(HERE.parent)}
    env.pop("KLING_MONITOR_CRASH_AFTER_SEND", None)
    if crash:
        env["KLING_MONITOR_CRASH_AFTER_SEND"] = "1"
    return subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "m.db"), slack.base_url,
                           str(tmp_path / "alerts.jsonl")], env=env, capture_output=True, text=True, timeout=60)


def test_killed_between_send_and_mark_delivers_once(tmp_path: Path, slack: SlackServer) -> None:
    cfg = make_cfg(tmp_path, slack)
    cfg = replace(cfg, console=replace(cfg.console, enabled=False))
    with Store(tmp_path / "m.db") as store:
        queue(store, cfg, ev("a"), now=datetime.now(UTC) - timedelta(seconds=5))
    crashed = _child(tmp_path, slack, crash=True)
    assert crashed.returncode == -9, crashed.stderr
    assert len(slack.messages) == 1
    with Store(tmp_path / "m.db") as store:
        assert store.outbox_rows()[0]["status"] == "sending"
    again = _child(tmp_path, slack, crash=False)
    assert again.returncode == 0, again.stderr
    assert "sent=1 recovered=1" in again.stdout
    assert len(slack.messages) == 1
    assert len(slack.calls("chat.postMessage")) == 1
    with Store(tmp_path / "m.db") as store:
        row = store.outbox_rows()[0]
        assert row["status"] == "sent" and row["remote_id"] == slack.messages[0].ts


def test_only_one_sender_drains_a_store_at_a_time(tmp_path: Path) -> None:
    from monitor.notify import sender_lock

    with Store(tmp_path / "m.db") as store, Store(tmp_path / "m.db") as other:
        with sender_lock(other) as acquired:
            assert acquired
            with sender_lock(store) as second:
                assert not second
            assert drain(store, Config()) == DrainSummary()  # skipped, nothing touched
        with sender_lock(store) as again:
            assert again  # released with its holder


def test_a_row_queued_before_schema_3_still_sends_from_its_own_payload(tmp_path: Path, store: Store,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_cfg(tmp_path, None)
    legacy = ev("old", outlet="legacy.example")
    store.db.execute(
        "INSERT INTO outbox (idempotency_key, event_key, transport, target, payload, status, attempts, next_attempt,"
        " created) VALUES ('old:console:stdout', 'old', 'console', 'stdout', ?, 'pending', 0, ?, ?)",
        [json.dumps({**legacy.to_dict(), "message": "rendered long ago", "why": "legacy"}), iso(T0), iso(T0)])
    assert drain(store, cfg, now=T0).sent == 1
    assert "source: legacy.example" in capsys.readouterr().out


def test_migration_0003_keeps_queued_rows_and_claims(tmp_path: Path) -> None:
    import sqlite3

    from sqlite_utils import Database

    from monitor.store import migrations

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path, isolation_level=None))
    migrations.apply(db, stop_before="0003_i15_ledger")  # a store as schema 2 left it
    db.execute("INSERT INTO outbox (idempotency_key, event_key, transport, target, payload, status, attempts,"
               " next_attempt, created) VALUES ('k:console:stdout', 'k', 'console', 'stdout', '{}', 'pending', 0,"
               " '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')")
    db.execute("INSERT INTO claims (subject, kind, value, created, key) VALUES ('Kling', 'valuation', 1.8e10,"
               " '2026-01-01T00:00:00Z', 'c1')")
    db.conn.close()
    with Store(path) as store:
        (row,) = store.outbox_rows()
        assert (row["idempotency_key"], row["payload"], row["thread_only"]) == ("k:console:stdout", "{}", 0)
        (claim,) = store.query("SELECT basis, status FROM claims")
        assert claim == {"basis": "", "status": "reported"}
        assert store.outbox_add(idempotency_key="n:console:stdout", event_key="n", transport="console",
                                target="stdout", thread_key=None, now=T0)
