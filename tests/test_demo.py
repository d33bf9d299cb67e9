"""`kling-monitor demo`: local sample feeds -> alerts on the console and a digest preview, offline, fast."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.demo import DemoFeedServer, demo_config, load_stories


def test_demo_shows_alerts_and_writes_a_digest(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("KLING_MONITOR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no config anywhere near: the demo needs none
    started = time.perf_counter()
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    elapsed = time.perf_counter() - started
    out = capsys.readouterr().out
    for line in ("[New figure] Kling: New figure: Kling round size about $1.2B",
                 "[Revised figure] Kling: Revised: Kling round closed at ~$1.5B (was ~$1.2B, planned)",
                 "[New investor] Kling", "[Conflict] Kling: Conflict: Kling valuation $90B",
                 "[Cloud partnership] Kling", "[New figure] Kuaishou: New figure: Kuaishou capex for 2027"):
        assert line in out
    assert "demo: 5 stories" in out and elapsed < 20
    html = (tmp_path / "demo" / "digest.html").read_text(encoding="utf-8")
    assert "Kling" in html and "Kuaishou" in html
    records = [json.loads(x) for x in (tmp_path / "demo" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) >= 10
    assert not (tmp_path / "data").exists() and not (tmp_path / "config").exists()
    # Run again: a fresh demo, the same alerts (the old store is replaced, not added to).
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    again = [json.loads(x) for x in (tmp_path / "demo" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in again] == [r["line"] for r in records]


def test_only_the_demo_feeds_may_be_on_the_loopback(tmp_path: Path) -> None:
    with DemoFeedServer(load_stories()).running() as server:
        cfg = demo_config(tmp_path, server)
    assert not cfg.fetch.allow_private and not cfg.fetch.full_text_for_matches
    assert all(f.allow_private and f.url.startswith("http://127.0.0.1:") for f in cfg.feeds)
    assert not cfg.slack.enabled and not cfg.email.enabled


def test_demo_stories_are_in_both_languages_and_not_from_the_development_set(shared_dir: Path) -> None:
    stories = load_stories()
    assert {s.feed for s in stories} == {"en", "zh"} and len(stories) >= 5
    corpus = "".join(p.read_text(encoding="utf-8", errors="ignore")
                     for folder in ("seeds", "devset") if (shared_dir / folder).is_dir()
                     for p in (shared_dir / folder).rglob("*") if p.is_file() and p.stat().st_size < 50_000_000)
    for s in stories:
        for sentence in s.text.replace("。", ".").split(". "):
            assert sentence[:40] not in corpus, sentence
