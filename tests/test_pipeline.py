"""The offline pipeline: match -> cluster -> extract -> ledger in one transaction, and replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config import Config
from monitor.models import ANNOUNCED_TYPES, Document, Event
from monitor.pipeline import process_document, replay
from monitor.render import format_replay, message
from monitor.store import Store

CFG = Config()
ROUND = ("Kuaishou's video model unit Kling AI has raised about $2 billion in a funding round, people familiar "
         "with the matter said. Tencent joined the round. The company did not comment on the terms of the deal. "
         "Kling has become one of the most used AI video generators since its launch, competing with Sora and Veo "
         "for creators and advertisers in China and abroad.")
CAPEX = "Kuaishou said its capital expenditure for 2026 will reach about $3.6 billion."
URL = "https://www.example-news.com/kling-round"


def doc(text: str, url: str = URL, title: str = "Kling AI raises money from Tencent") -> Document:
    return Document(source=url, url=url, title=title, text=text)


def test_updated_story_with_one_new_figure_gives_exactly_one_event() -> None:
    store = Store()
    first = process_document(store, doc(ROUND), CFG)
    assert first.relevant
    assert [(e.type, e.kind) for e in first.events] == [("new_figure", "round_size"), ("new_investor", "investor")]
    updated = process_document(store, doc(ROUND + " " + CAPEX), CFG, previous_text=doc(ROUND).full_text)
    assert [(e.type, e.kind, e.subject) for e in updated.events] == [("new_figure", "capex", "Kuaishou")]
    text = message(updated.events[0])  # "(guidance)" once the extractor reads "plans" as the company's outlook
    assert text.startswith("New figure: Kuaishou capex for 2026 about $3.6B") and text.endswith(
        " — source: example-news.com")
    assert updated.cluster == first.cluster and updated.duplicate_of is None
    assert updated.extraction is not None and [f.kind for f in updated.extraction.facts] == ["capex"]


@pytest.mark.parametrize(("extra", "types"), [
    ("Tencent led the round, the people said.", ["story_update"]),  # a name, already known: an update
    ("A spokesperson said more details would follow next week.", []),  # no content: not news
    ("By Jane Doe. Updated 12:30 GMT, November 29. Share this article.", []),  # byline, date, share bar
])
def test_update_is_news_only_when_a_new_sentence_carries_content(extra: str, types: list[str]) -> None:
    store = Store()
    first = process_document(store, doc(ROUND), CFG)
    updated = process_document(store, doc(ROUND + " " + extra), CFG, previous_text=doc(ROUND).full_text)
    assert [e.type for e in updated.events] == types
    if types:
        assert updated.events[0].severity == 1
        assert updated.events[0].fact == {"kind": "story_update", "new_sentences": [extra]}
        assert updated.events[0].story_thread == first.events[0].thread_key  # in the story's thread
    # the same update processed again creates nothing new
    assert process_document(store, doc(ROUND + " " + extra), CFG, previous_text=doc(ROUND).full_text).events == []


def test_irrelevant_document_records_nothing() -> None:
    store = Store()
    r = process_document(store, doc("The city council approved a new budget for parks and libraries on Monday.",
                                    title="Council approves budget"), CFG)
    assert (r.relevant, r.cluster, r.duplicate_of, r.events) == (False, None, None, [])
    assert store.count_stories() == 0 and store.count_events() == 0


def test_on_events_runs_inside_the_documents_transaction() -> None:
    store = Store()
    seen: list[tuple[bool, list[str]]] = []

    def on_events(events: list[Event]) -> None:
        seen.append((store.db.conn.in_transaction, [e.type for e in events]))

    r = process_document(store, doc(ROUND), CFG, on_events=on_events)
    assert seen == [(True, ["new_figure", "new_investor"])]
    assert not store.db.conn.in_transaction
    assert [e.type for e in r.events] == ["new_figure", "new_investor"]


def test_failing_on_events_rolls_back_claims_and_events() -> None:
    store = Store()

    def boom(events: list[Event]) -> None:
        raise RuntimeError("outbox down")

    try:
        process_document(store, doc(ROUND), CFG, on_events=boom)
    except RuntimeError:
        pass
    assert store.count_events() == 0 and store.count_stories() == 0
    assert store.query("SELECT count(*) AS n FROM claims")[0]["n"] == 0


def test_syndicated_copy_joins_the_cluster_and_announces_nothing() -> None:
    store = Store()
    first = process_document(store, doc(ROUND), CFG)
    copy = process_document(store, doc("Menu | Tech | Business\n" + ROUND + "\n© 2026 Wire Co. All rights reserved.",
                                       url="https://mirror.example.org/a/991"), CFG)
    assert copy.cluster == first.cluster
    assert copy.duplicate_of == URL
    assert [e.type for e in copy.events if e.type in ANNOUNCED_TYPES] == []
    assert {e.type for e in copy.events} == {"corroborated"}
    assert all(e.cluster_size == 2 for e in copy.events)
    assert set(copy.events[0].sources) == {URL, "https://mirror.example.org/a/991"}


def test_reprocessing_a_document_creates_no_duplicate_events() -> None:
    store = Store()
    assert len(process_document(store, doc(ROUND), CFG).events) == 2
    assert process_document(store, doc(ROUND), CFG).events == []
    assert store.count_events() == 2


def _write(tmp: Path, name: str, url: str, title: str, text: str) -> None:
    (tmp / name).write_text(json.dumps({"url": url, "title": title, "text": text}), encoding="utf-8")


def test_replay_output_is_deterministic(tmp_path: Path) -> None:
    _write(tmp_path, "01.json", URL, "Kling AI raises money from Tencent", ROUND)
    _write(tmp_path, "02.json", "https://pandaily.com/capex", "Kuaishou raises capex", CAPEX)
    _write(tmp_path, "03.json", "https://mirror.example.org/x", "Kling AI raises money from Tencent",
           "Menu | Tech\n" + ROUND)
    first = list(replay([str(tmp_path)], CFG))
    second = list(replay([str(tmp_path)], CFG))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert [Path(d["doc"]).name for d in first] == ["01.json", "02.json", "03.json"]
    assert [(d["cluster"], d["duplicate_of"]) for d in first] == [(1, None), (2, None), (1, URL)]
    assert [[e["type"] for e in d["events"]] for d in first] == [
        ["new_figure", "new_investor"], ["new_figure"], ["corroborated", "corroborated"]]
    assert first[1]["events"][0]["fact"]["value_usd"] == 3.6e9
    text = format_replay(first[2])
    assert text.splitlines()[0] == f"03.json (cluster 1, same story as {URL})"
    assert text.splitlines()[1].startswith("  corroborated      Corroborated: Kling round size")


def test_irrelevant_story_naming_a_watched_entity_is_clustered_with_its_copies() -> None:
    store = Store()
    text = ("The Kling-Klang studio of Kraftwerk sits in a backyard near the main station; the band moved its "
            "official studio to a suburb years ago, and the old rooms now host resident electronic musicians.")
    first = process_document(store, doc(text, url="https://mag.example/kling-klang", title="Kling-Klang-Studio"), CFG)
    copy = process_document(store, doc("Thursday\n" + text, url="http://www.mag.example/kling-klang",
                                       title="Kling-Klang-Studio"), CFG)
    assert (first.relevant, copy.relevant) == (False, False)
    assert first.cluster is not None and copy.cluster == first.cluster
    assert store.count_events() == 0
    # clustered only to know its copies: not one of the digest's stories
    assert store.top_clusters(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)) == []
