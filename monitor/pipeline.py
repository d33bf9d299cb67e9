"""The offline understanding pipeline: match -> cluster -> extract -> ledger, and `replay`.

`process_document` is what the daemon runs per entry and what `replay` runs per file. The
extraction is a pure function of the text, so it runs before the transaction opens (no write
lock held while parsing); clustering, the ledger and the caller's `on_events` (delivery
enqueues its outbox rows there) then run in ONE `store.atomic()` transaction, so a kill
leaves either all of a document's claims, events and outbox rows or none of them.

`replay` runs the same code over files against a fresh in-memory store and sends nothing;
its output has no timestamps or random ids, so two runs print the same thing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.config import Config
from monitor.dedupe import assign_story, doc_key, news_sentences
from monitor.extract import extract
from monitor.ledger import record_extraction, record_story_update
from monitor.match import Watchlist, may_mention
from monitor.models import Document, Event, Extraction
from monitor.render import message
from monitor.store import Store


@dataclass(frozen=True, slots=True)
class DocResult:
    doc: Document
    relevant: bool
    cluster: int | None
    duplicate_of: str | None
    events: list[Event]
    extraction: Extraction | None


def _norm(s: str) -> str:
    return " ".join(s.split())


def only_new(ex: Extraction, doc: Document, fresh: Sequence[str]) -> Extraction:
    """The part of an extraction that the new sentences state (the rest was judged before).

    Extraction runs on the whole text so a new sentence keeps its context (who "the company"
    is); a fact is kept when its quote and a new sentence overlap.
    """
    fresh_n = [_norm(s) for s in fresh]
    joined = " ".join(fresh_n).lower()

    def in_new(quote: str, start: int = 0, end: int = 0) -> bool:
        q = _norm(quote or (doc.full_text[start:end] if end > start else ""))
        if not q:
            return False
        return any(s in q or q in s for s in fresh_n)

    return dataclasses.replace(
        ex,
        facts=tuple(f for f in ex.facts if in_new(f.quote, f.start, f.end)),
        investors=tuple(n for n in ex.investors if n.lower() in joined),
        cloud_partners=tuple(n for n in ex.cloud_partners if n.lower() in joined),
        product_moves=tuple(m for m in ex.product_moves if in_new(m.quote)),
        statuses=tuple(s for s in ex.statuses if s[:4].lower() in joined),
    )


def _names(watch: Watchlist) -> tuple[str, ...]:
    return tuple(a for e in watch.entities for a in (e.name, *e.aliases))


def mentions_watch(text: str, watch: Watchlist) -> bool:
    """Does the text name a watched entity at all (even where the matcher rejects it)? Copies of such
    a story are recognised whether it is relevant or not."""
    low = text.lower()
    return any(a.lower() in low for a in _names(watch))


def has_content(ex: Extraction) -> bool:
    """A figure, a name, a product move or a status: what makes new sentences news."""
    return bool(ex.facts or ex.investors or ex.cloud_partners or ex.product_moves or ex.statuses)


def unmatched(source: str) -> Extraction:
    """The extraction of a document that names no watched entity."""
    return Extraction(source=source, relevant=False, entities=())


def unmatched_json(source: str) -> str:
    """json.dumps(unmatched(source).to_json()), as the store records it, for a backlog of thousands."""
    head, tail = _UNMATCHED_JSON
    return head + json.dumps(source, ensure_ascii=False) + tail


# unmatched()'s JSON cut around its source: only the source differs from one document to the next
_UNMATCHED_JSON = tuple(json.dumps(unmatched("\x00").to_json(), ensure_ascii=False).split(json.dumps("\x00"), 1))


def process_document(store: Store, doc: Document, cfg: Config, *, entry_id: int | None = None,
                     previous_text: str | None = None,
                     on_events: Callable[[list[Event]], None] | None = None,
                     now: datetime | None = None, background: bool = False) -> DocResult:
    """Understand one document and record what is new about it, in one transaction.

    `background`: old news (older than fetch.max_entry_age, or a new feed's backlog): understood
    and recorded in the ledger, never announced. An irrelevant document that names a watched
    entity is still clustered (so its copies are known) but records nothing. Another URL spelling
    of a known document records nothing. A changed story records only what its new sentences say,
    and its events go to the story's thread; new sentences without content (bylines, dates,
    related links) are no update.
    """
    watch = cfg.watch.watchlist()
    if not may_mention(doc.full_text, watch):  # what extract() and mentions_watch() would conclude, in µs
        return DocResult(doc, False, None, None, [], unmatched(doc.source))
    ex = extract(doc, watch)
    now = now or datetime.now(UTC)
    if not ex.relevant:
        if not mentions_watch(doc.full_text, watch):
            return DocResult(doc, False, None, None, [], ex)
        with store.atomic():
            a = assign_story(store, doc, threshold=cfg.ledger.cluster_threshold, entry_id=entry_id,
                             window=cfg.ledger.window, now=now, common=_names(watch), relevant=False)
        return DocResult(doc, False, a.cluster_id, a.duplicate_of, [], ex)
    with store.atomic():
        assignment = assign_story(store, doc, threshold=cfg.ledger.cluster_threshold, entry_id=entry_id,
                                  window=cfg.ledger.window, now=now, common=_names(watch))
        if assignment.alias_of is not None:
            return DocResult(doc, True, assignment.cluster_id, assignment.duplicate_of, [], ex)
        seen_before = not assignment.is_new  # the story was clustered before: this is an update
        fresh = news_sentences(previous_text, doc.full_text) if previous_text is not None and seen_before else None
        used = only_new(ex, doc, fresh) if fresh is not None else ex
        if fresh is not None and not has_content(used):
            fresh = []  # nothing in the new sentences is news
        feed = None
        if entry_id is not None:
            row = store.entry(entry_id)
            feed = row["feed"] if row else None
        thread = story_thread(store, doc) if fresh else None
        events = record_extraction(store, used, doc, assignment=assignment, cfg=cfg, feed=feed, now=now,
                                   background=background, story_thread=thread) if fresh is None or fresh else []
        if fresh and not events:
            events = record_story_update(store, doc, fresh, assignment=assignment, now=now, background=background,
                                         story_thread=thread)
        if on_events is not None and events:
            on_events(events)
    return DocResult(doc, True, assignment.cluster_id, assignment.duplicate_of, events, used)


def _copy_reviews(cfg: Config, into: Store) -> None:
    """Claims confirmed or rejected by hand in the configured store count the same in a replay."""
    path = Path(cfg.store.path)
    if not path.is_file():
        return
    with Store(path) as stored:
        reviews = stored.reviews()
    for r in reviews:
        into.set_review(r["claim_key"], r["verdict"], why=r["why"], now=datetime.now(UTC))


def story_thread(store: Store, doc: Document) -> str | None:
    """The Slack thread of a story: that of the first event it caused with a thread."""
    for row in store.events_for_doc(doc_key(doc)):
        key = json.loads(row["payload"]).get("thread_key")
        if key:
            return str(key)
    return None


def replay(paths: Sequence[str], cfg: Config) -> Iterator[dict[str, Any]]:
    """Run the whole offline pipeline over documents in order against a fresh in-memory store.

    A directory contributes its files sorted by name. Nothing is sent: no outbox is written.
    """
    from monitor.documents import load_documents

    docs = load_documents(list(paths))
    store = Store(":memory:")
    _copy_reviews(cfg, store)
    try:
        for doc in docs:
            r = process_document(store, doc, cfg)
            yield {
                "doc": doc.source,
                "relevant": r.relevant,
                "cluster": r.cluster,
                "duplicate_of": r.duplicate_of,
                "events": [{"type": e.type, "fact": e.fact, "rule": e.rule, "severity": e.severity,
                            "message": message(e)} for e in r.events],
            }
    finally:
        store.close()
