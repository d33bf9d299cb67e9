"""Operator controls: pause a feed, mute Slack alerts, retry every parked alert; stored, shown by status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer

from monitor.cli import main
from monitor.config import Config, ConsoleConfig, SlackConfig, load_config
from monitor.models import Event
from monitor.notify import enqueue
from monitor.status import format_status, gather_status
from monitor.store import Store

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Kuaishou ships a camera app</title><link>https://example.com/a</link><guid>a</guid></item>
</channel></rss>"""


def config(tmp_path: Path, feed_server: FeedServer) -> Path:
    feed_server.add("/a.xml", RSS)
    feed_server.add("/b.xml", RSS.replace(b"/a<", b"/b<").replace(b">a<", b">b<"))
    p = tmp_path / "m.toml"
    p.write_text(f'[store]\npath = "m.db"\n[fetch]\nallow_private = true\n[console]\njsonl = "alerts.jsonl"\n'
                 f'[[feeds]]\nname = "a"\nurl = "{feed_server.url("/a.xml")}"\n'
                 f'[[feeds]]\nname = "b"\nurl = "{feed_server.url("/b.xml")}"\n', encoding="utf-8")
    return p


def test_pause_and_resume_a_feed_survive_restarts(tmp_path: Path, feed_server: FeedServer,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path = config(tmp_path, feed_server)
    assert main(["-c", str(cfg_path), "feeds", "pause", "a"]) == 0
    assert main(["-c", str(cfg_path), "feeds", "pause", "b", "--for", "6h"]) == 0
    assert "paused until resumed" in capsys.readouterr().out
    assert main(["-c", str(cfg_path), "poll", "--once", "--no-process"]) == 0
    assert feed_server.count("/a.xml") == 0 and feed_server.count("/b.xml") == 0
    cfg = load_config(cfg_path)
    with Store(cfg.store.path) as store:  # a new handle: what a restarted daemon sees
        d = gather_status(store, cfg)
        assert store.due_feeds(datetime.now(UTC)) == []
    assert d["paused"]["a"] is None and d["paused"]["b"] is not None
    assert "paused feeds: a (until resumed), b (until in 6 h)" in format_status(d)
    capsys.readouterr()
    assert main(["-c", str(cfg_path), "feeds", "list", "--json"]) == 0
    listed = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["name"], r["paused"]) for r in listed] == [("a", True), ("b", True)]
    assert main(["-c", str(cfg_path), "feeds", "resume", "a"]) == 0
    assert main(["-c", str(cfg_path), "poll", "--once", "--no-process"]) == 0
    assert feed_server.count("/a.xml") == 1 and feed_server.count("/b.xml") == 0
    with Store(cfg.store.path) as store:  # an expired pause no longer holds the feed back
        assert list(store.paused_feeds(datetime.now(UTC) + timedelta(hours=7))) == []


def test_pause_of_an_unknown_feed_and_a_bad_duration(tmp_path: Path, feed_server: FeedServer,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path = config(tmp_path, feed_server)
    assert main(["-c", str(cfg_path), "feeds", "pause", "nope"]) == 78
    assert "no feed named 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["-c", str(cfg_path), "feeds", "pause", "a", "--for", "soon"])
    assert exc.value.code == 2


def _event(key: str, subject: str, type_: str = "new_figure") -> Event:
    return Event(type=type_, subject=subject, key=key, rule="test", severity=3)


SLACK = Config(console=ConsoleConfig(enabled=True, jsonl=""), slack=SlackConfig(enabled=True, min_severity=1))


@pytest.mark.parametrize(("mute", "muted"), [
    (["--entity", "Kling"], {"k-kling-fig", "k-kling-inv"}),
    (["--type", "new_investor"], {"k-kling-inv", "k-kuai-inv"}),
    (["--entity", "kling", "--type", "new_investor"], {"k-kling-inv"}),
    ([], {"k-kling-fig", "k-kling-inv", "k-kuai-fig", "k-kuai-inv"}),
])
def test_mute_keeps_matching_alerts_off_slack_only(tmp_path: Path, mute: list[str], muted: set[str]) -> None:
    cfg_path = tmp_path / "m.toml"
    cfg_path.write_text('[store]\npath = "m.db"\n', encoding="utf-8")
    assert main(["-c", str(cfg_path), "mute", *mute, "--for", "6h"]) == 0
    events = [_event("k-kling-fig", "Kling"), _event("k-kling-inv", "Kling", "new_investor"),
              _event("k-kuai-fig", "Kuaishou"), _event("k-kuai-inv", "Kuaishou", "new_investor")]
    now = datetime.now(UTC)
    with Store(tmp_path / "m.db") as store:
        for ev in events:  # as the pipeline records them: the digest reads the events table
            store.insert_event(key=ev.key, type=ev.type, subject=ev.subject, kind=None,
                               severity=ev.severity, payload=ev.to_dict(), doc=None, created=now)
        enqueue(store, events, SLACK, now=now)
        slack = {r["event_key"] for r in store.outbox_rows() if r["transport"] == "slack"}
        console = {r["event_key"] for r in store.outbox_rows() if r["transport"] == "console"}
        in_digest = {r["key"] for r in store.events_between(now - timedelta(minutes=1), now + timedelta(minutes=1))}
        assert slack == {e.key for e in events} - muted
        assert console == in_digest == {e.key for e in events}
        assert len(store.active_mutes(now)) == 1 and not store.active_mutes(now + timedelta(hours=6, minutes=1))
        assert "slack muted:" in format_status(gather_status(store, load_config(cfg_path), now=now))


def test_unmute(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path = tmp_path / "m.toml"
    cfg_path.write_text('[store]\npath = "m.db"\n', encoding="utf-8")
    assert main(["-c", str(cfg_path), "mute", "--entity", "Kling", "--for", "1d"]) == 0
    assert main(["-c", str(cfg_path), "mute", "--type", "conflict", "--for", "30m"]) == 0
    assert main(["-c", str(cfg_path), "unmute", "--entity", "Kling"]) == 0
    with Store(tmp_path / "m.db") as store:
        assert [m["type"] for m in store.active_mutes(datetime.now(UTC))] == ["conflict"]
    assert main(["-c", str(cfg_path), "unmute"]) == 0
    assert "1 mute(s) removed" in capsys.readouterr().out.splitlines()[-1]
    with Store(tmp_path / "m.db") as store:
        assert not store.active_mutes(datetime.now(UTC)) and not store.muted(entity="Kling", type="conflict",
                                                                             now=datetime.now(UTC))


def test_outbox_retry_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path = tmp_path / "m.toml"
    cfg_path.write_text('[store]\npath = "m.db"\n', encoding="utf-8")
    now = datetime.now(UTC)
    with Store(tmp_path / "m.db") as store:
        enqueue(store, [_event(f"k{i}", "Kling") for i in range(3)], SLACK, now=now)
        slack_ids = [r["id"] for r in store.outbox_rows() if r["transport"] == "slack"]
        for row_id in slack_ids[:2]:
            store.outbox_mark_failed(row_id, error="slack: invalid_auth", next_attempt=now, park=True)
    assert main(["-c", str(cfg_path), "outbox", "retry", "--all"]) == 0
    assert "2 parked message(s) queued again" in capsys.readouterr().out
    with Store(tmp_path / "m.db") as store:
        assert store.outbox_counts().get("parked", 0) == 0
        assert {r["attempts"] for r in store.outbox_rows() if r["id"] in slack_ids[:2]} == {0}
    assert main(["-c", str(cfg_path), "outbox", "retry"]) == 2  # neither an ID nor --all
    assert main(["-c", str(cfg_path), "outbox", "retry", "1", "--all"]) == 2


def test_a_mute_also_holds_back_slack_alerts_queued_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from slackserver import TOKEN, SlackServer

    from monitor.notify import build_transports, drain

    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    cfg_path = tmp_path / "m.toml"
    cfg_path.write_text('[store]\npath = "m.db"\n', encoding="utf-8")
    now = datetime.now(UTC)
    events = [_event("k-kling-fig", "Kling"), _event("k-kuai-fig", "Kuaishou")]
    with SlackServer() as slack:
        cfg = Config(console=ConsoleConfig(enabled=False),
                     slack=SlackConfig(enabled=True, min_severity=1, base_url=slack.base_url, channel="#k"))
        with Store(tmp_path / "m.db") as store:  # queued while nothing was muted (held for quiet hours, say)
            for ev in events:
                store.insert_event(key=ev.key, type=ev.type, subject=ev.subject, kind=None,
                                   severity=ev.severity, payload=ev.to_dict(), doc=None, created=now)
            assert enqueue(store, events, cfg, now=now) == 2
        assert main(["-c", str(cfg_path), "mute", "--entity", "Kling", "--for", "6h"]) == 0
        with Store(tmp_path / "m.db") as store:
            summary = drain(store, cfg, now=now, transports=dict(build_transports(cfg)))
            assert summary.sent == 1 and len(slack.messages) == 1  # only Kuaishou's went out
            assert {r["status"] for r in store.outbox_rows()} == {"sent"}  # none left to go out later
