"""Crash safety: SIGKILL the daemon at random moments, over and over, while stories keep arriving.

The daemon runs as a child process (`python -m monitor -c CONFIG run`, tick 0.2 s) against a
local feed server and a local Slack Web API server. Each round the feed gains new Kling stories
with distinct figures, the feeds are made due (the test sets `next_poll` to NULL while the daemon
is down: feeds' own interval is at least 60 s), the daemon is started and killed with SIGKILL
after a random delay that lands in start-up, polling, processing or delivery. Some rounds set
KLING_MONITOR_CRASH_AFTER_SEND=1, which makes the daemon kill itself between a successful send
and recording it: the worst moment for exactly-once delivery. A last clean run delivers the rest.

Then: every served story is in the entries table, every alert reached Slack (and the console
JSON Lines file) exactly once per idempotency key, and PRAGMA integrity_check is ok after every
kill. $KLING_CRASH_SEED replays a failing run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedserver
import pytest
from feedserver import FeedServer
from slackserver import TOKEN, SlackServer
from test_schedule import DaemonProc, execute, integrity, rss, write_config

feed_server = feedserver.feed_server  # the fixture, visible to pytest in this module

ROUNDS = 24
CRASH_AFTER_SEND_EVERY = 4  # every 4th round the daemon dies right after a send
T0 = datetime(2026, 5, 1, tzinfo=UTC)

TEMPLATES = (
    "Kling AI, the video generation model from Kuaishou, raised ${n} million in a new funding round, "
    "according to people familiar with the matter.",
    "Kuaishou said Kling AI annualized revenue reached ${n} million this quarter.",
    "Kling AI now has {n} million users worldwide, Kuaishou said in its earnings call.",
    "Kuaishou plans capex of RMB {n} billion to expand Kling AI computing capacity.",
)


def story(i: int) -> dict[str, str]:
    """The i-th story: one figure, distinct from every other story's (kind and value)."""
    text = TEMPLATES[i % len(TEMPLATES)].format(n=100 + 37 * i)
    return {"title": f"Report {i}: {text[:70]}", "link": f"http://news{i % 5}.example.com/kling/story-{i}",
            "description": text, "pubDate": format_datetime(T0 + timedelta(hours=i))}


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_sends_once(tmp_path: Path,
                                                                 feed_server: FeedServer) -> None:
    seed = int(os.environ.get("KLING_CRASH_SEED") or time.time())
    rng = random.Random(seed)
    why = f"(KLING_CRASH_SEED={seed})"
    db = tmp_path / "m.db"
    jsonl = tmp_path / "alerts.jsonl"
    served: list[dict[str, str]] = []
    kills = self_killed = 0
    with SlackServer() as slack:
        extra = (f'[slack]\nenabled = true\ntoken_env = "KM_TEST_SLACK_TOKEN"\nbase_url = "{slack.base_url}"\n'
                 'channel = "#kling"\n')
        config = write_config(tmp_path / "m.toml", store=db, feeds=[("kling", feed_server.url("/kling.xml"))],
                              extra=extra)
        env = {"KM_TEST_SLACK_TOKEN": TOKEN}
        for rnd in range(ROUNDS):
            for _ in range(rng.choice((1, 1, 2))):
                served.append(story(len(served)))
            feed_server.add("/kling.xml", rss(served[-12:]))  # a feed shows only its latest items
            if db.exists():
                execute(db, "UPDATE feeds SET next_poll = NULL")
            crash_after_send = rnd % CRASH_AFTER_SEND_EVERY == CRASH_AFTER_SEND_EVERY - 1
            d = DaemonProc(config, cwd=tmp_path, tick=0.2,
                           env={**env, "KLING_MONITOR_CRASH_AFTER_SEND": "1" if crash_after_send else "0"})
            try:
                d.wait_for(r"daemon started", 20)
                if crash_after_send:
                    try:  # it kills itself after its first successful send
                        d.proc.wait(10)
                    except subprocess.TimeoutExpired:
                        pass
                else:
                    time.sleep(rng.uniform(0.0, 1.5))
            finally:
                d.kill()
            self_killed += d.proc.returncode == -signal.SIGKILL and crash_after_send
            kills += 1
            assert integrity(db) == "ok", f"after kill {kills} {why}"

        # A last clean run finishes the work: every story stored and understood, the outbox empty.
        execute(db, "UPDATE feeds SET next_poll = NULL")
        d = DaemonProc(config, cwd=tmp_path, tick=0.2, env=env)
        try:
            d.wait_for(r"daemon started", 20)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                left = execute(db, "SELECT (SELECT count(*) FROM entries WHERE processed_version < version),"
                                   " (SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')),"
                                   " (SELECT count(*) FROM entries)")[0]
                if left[0] == 0 and left[1] == 0 and left[2] >= len(served):
                    break
                time.sleep(0.2)
            d.signal(signal.SIGTERM)
            assert d.wait(15) == 0, d.log()
        finally:
            d.kill()
        slack_messages = list(slack.messages)

    assert kills >= 20
    assert self_killed >= 3, why
    assert integrity(db) == "ok", why

    # No entry lost: every story the feed ever served is stored and processed.
    links = {r[0] for r in execute(db, "SELECT link FROM entries")}
    missing = [s["link"] for s in served if s["link"] not in links]
    assert not missing, f"entries lost: {missing} {why}"
    assert execute(db, "SELECT count(*) FROM entries WHERE processed_version < version")[0][0] == 0, why

    # Every story produced its alert (each has a figure no other story has).
    event_docs = {r[0] for r in execute(db, "SELECT doc FROM events")}
    urls = {r[0] for r in execute(db, "SELECT url FROM entries")}
    silent = sorted(urls - event_docs)
    details = [execute(db, "SELECT url, version, processed_version, relevant, facts FROM entries WHERE url = ?",
                       (u,)) for u in silent]
    assert not silent, f"stories without an event: {details} {why}"

    # Exactly once: one Slack message per Slack outbox row, and nothing else.
    rows = execute(db, "SELECT transport, idempotency_key, status FROM outbox")
    assert all(status == "sent" for _, _, status in rows), (Counter(s for *_, s in rows), why)
    slack_keys = Counter(m.metadata["event_payload"]["idempotency_key"] for m in slack_messages if m.metadata)
    expected = {key for transport, key, _ in rows if transport == "slack"}
    assert len(expected) >= len(served), why
    dupes = {k: n for k, n in slack_keys.items() if n > 1}
    assert not dupes, f"sent twice: {dupes} {why}"
    assert set(slack_keys) == expected, (sorted(expected - set(slack_keys)), sorted(set(slack_keys) - expected), why)
    assert len(slack_messages) == len(expected), why

    # The look-before-resend path was taken (rows found delivered after a kill between send and mark).
    recovered = execute(db, "SELECT count(*) FROM outbox WHERE last_error LIKE 'found delivered%'")[0][0]
    assert recovered >= 1, why

    # And the console's JSON Lines record, also looked up before a resend, holds each key once.
    console_keys = Counter(json.loads(line)["idempotency_key"]
                           for line in jsonl.read_text(encoding="utf-8").splitlines() if line.strip())
    assert not {k: n for k, n in console_keys.items() if n > 1}, why
    assert set(console_keys) == {key for transport, key, _ in rows if transport == "console"}, why
