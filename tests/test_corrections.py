"""People correct the ledger: `ledger reject` and `ledger confirm`, end to end with the local Slack server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from shared import shared_path
from slackserver import TOKEN, SlackServer

from monitor.cli import main
from monitor.config import load_config
from monitor.documents import load_documents
from monitor.models import Document, Event
from monitor.notify import drain, enqueue
from monitor.pipeline import process_document, replay
from monitor.render import message
from monitor.store import Store

SEEDS = shared_path("seeds")
ORDER = ["003_59593dcd7e2c6de0.txt", "004_98ccf243764332da.txt", "001_011a1fc38f343a2c.txt"]
T0 = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not (SEEDS / "expected.json").is_file(), reason=f"seeds not found at {SEEDS}")


def write_config(tmp_path: Path, slack: SlackServer) -> Path:
    p = tmp_path / "monitor.toml"
    p.write_text(f"""
[store]
path = "{tmp_path / 'm.db'}"

[console]
enabled = true
jsonl = "{tmp_path / 'alerts.jsonl'}"

[slack]
enabled = true
base_url = "{slack.base_url}"
channel = "#kling"
""", encoding="utf-8")
    return p


def valuation_claim(store: Store, value: float) -> int:
    rows = store.query("SELECT id FROM claims WHERE kind = 'valuation' AND value = ?", [value])
    assert len(rows) == 1
    return int(rows[0]["id"])


def test_reject_sends_a_correction_to_the_thread_and_the_figure_stops_counting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    with SlackServer() as slack:
        path = write_config(tmp_path, slack)
        cfg = load_config(path)
        docs = load_documents([str(SEEDS / "articles" / n) for n in ORDER])
        with Store(cfg.store.path) as store:
            for doc in docs:
                process_document(store, doc, cfg, on_events=lambda evs: enqueue(store, evs, cfg, now=T0), now=T0)
            drain(store, cfg, now=T0)
            claim_id = valuation_claim(store, 1.8e10)
        first = next(m for m in slack.messages if "valuation" in m.text)

        # the claim is listed with its id
        assert main(["-c", str(path), "ledger", "--kind", "valuation"]) == 0
        assert str(claim_id) in capsys.readouterr().out

        assert main(["-c", str(path), "ledger", "reject", str(claim_id), "--why", "misread from a headline"]) == 0
        correction = slack.messages[-1]
        assert correction.thread_ts == first.ts and not correction.reply_broadcast
        assert "Correction: Kling valuation $18B" in correction.text and "misread from a headline" in correction.text
        # a second reject changes nothing and sends nothing
        n = len(slack.messages)
        assert main(["-c", str(path), "ledger", "reject", str(claim_id)]) == 0
        assert len(slack.messages) == n

        # after a restart the figure no longer counts: the same figure again is new, not a corroboration
        with Store(cfg.store.path) as store:
            again = Document(source="https://wire.example/v", url="https://wire.example/v", title="Kling valuation",
                             text="Kling AI is valued at $18 billion in its new funding round, sources said.")
            result = process_document(store, again, cfg, now=T0)
            assert [(e.type, e.kind) for e in result.events if e.kind == "valuation"] == [("new_figure", "valuation")]
            rows = {r["id"]: r for r in store.query(
                "SELECT c.id, r.verdict FROM claims c LEFT JOIN claim_reviews r ON r.claim_key = c.key")}
            assert rows[claim_id]["verdict"] == "rejected"
            # the digest lists the correction
            from monitor.digest import build_digest, render_text
            text = render_text(build_digest(store, T0.replace(year=2020), datetime.now(UTC) + timedelta(minutes=1)))
            assert "CORRECTIONS" in text and "misread from a headline" in text

        # replay of the same documents honours the rejection: no valuation is announced from them
        out = list(replay([str(SEEDS / "articles" / n) for n in ORDER], cfg))
        assert not [e for d in out for e in d["events"] if (e["fact"] or {}).get("kind") == "valuation"]


def test_confirm_settles_a_figure_and_unknown_ids_are_a_clean_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    with SlackServer() as slack:
        path = write_config(tmp_path, slack)
        cfg = load_config(path)
        with Store(cfg.store.path) as store:
            for url, text in [("https://a.example/1", "Kling AI is valued at $18 billion, people said."),
                              ("https://b.example/2", "Kling AI is valued at $19 billion, people said.")]:
                process_document(store, Document(source=url, url=url, title="Kling valuation", text=text), cfg,
                                 now=T0)
            claim_id = valuation_claim(store, 1.8e10)
        assert main(["-c", str(path), "ledger", "confirm", str(claim_id)]) == 0
        assert "confirmed" in capsys.readouterr().out
        with Store(cfg.store.path) as store:
            # a confirmed figure settles it: a later ordinary report that disagrees is a conflict, not a revision
            later = Document(source="https://c.example/3", url="https://c.example/3", title="Kling valuation",
                             text="Kling AI is valued at $25 billion, people said.")
            events: list[Event] = process_document(store, later, cfg, now=T0).events
            assert [(e.type, e.rule) for e in events] == [("conflict", "primary_settled")]
            assert "Conflict: Kling valuation $25B" in message(events[0])
        assert main(["-c", str(path), "ledger", "reject", "99999"]) == 1
        assert "no claim 99999" in capsys.readouterr().err
        history = json.loads(capsys.readouterr().out or "null")
        assert history is None
