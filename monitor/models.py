"""Small typed records passed between the pipeline's stages.

Each stage takes and returns these frozen dataclasses, so the data flow is
fetch -> parse -> normalize -> match -> dedupe -> extract -> ledger -> alerts -> notify,
and a stage can be tested alone with literal values.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

# ---------------------------------------------------------------- ingestion

FetchStatus = Literal["ok", "not_modified", "error"]


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the store remembers about a feed between polls (conditional GET, back-off)."""

    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    error_count: int = 0


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one HTTP fetch; errors are values here, not exceptions."""

    status: FetchStatus
    url: str  # the URL asked for
    final_url: str  # after redirects
    http_status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    permanent_url: str | None = None  # set when a 301/308 moved the feed
    retry_after: float | None = None  # seconds, from a 429/503
    max_age: float | None = None  # seconds, from Cache-Control
    error: str | None = None  # "fetch: body too large (> 5242880 bytes)"
    elapsed: float = 0.0
    nbytes: int = 0


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """feedparser's view of a body, reduced to what we keep."""

    entries: tuple[dict[str, Any], ...]
    bozo: bool = False
    bozo_error: str | None = None
    encoding: str | None = None
    version: str | None = None
    ttl_minutes: int | None = None
    skip_hours: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """One normalized feed item, keyed by canonical URL."""

    feed: str
    url: str  # canonical
    guid: str | None
    title: str
    summary: str
    published: datetime  # UTC
    published_from_fetch: bool  # True when the feed gave no date and we used fetch time
    updated: datetime | None = None
    author: str | None = None
    language: str | None = None
    link: str | None = None  # the link as the feed gave it
    outlet_url: str | None = None  # the publisher an aggregator names (Google News <source url=...>)

    def __reduce__(self) -> tuple[type[Entry], tuple[Any, ...]]:
        """Pickled as its fields in order: parse workers send 20,000 of these back in a first poll, and
        the dataclass's own __getstate__/__setstate__ took twice as long."""
        return (Entry, (self.feed, self.url, self.guid, self.title, self.summary, self.published,
                        self.published_from_fetch, self.updated, self.author, self.language, self.link,
                        self.outlet_url))


# ------------------------------------------------------------ understanding


@dataclass(frozen=True, slots=True)
class Document:
    """A text to understand: an entry with its full text, or a file given to `extract`."""

    source: str  # URL or file path
    title: str
    text: str
    url: str | None = None
    published: datetime | None = None
    lang: str | None = None
    outlet: str | None = None

    @property
    def full_text(self) -> str:
        """Title and body as one string; offsets in facts refer to this."""
        return f"{self.title}\n\n{self.text}" if self.title else self.text


@dataclass(frozen=True, slots=True)
class Mention:
    """Evidence for a watchlist hit: which alias matched where."""

    entity: str
    alias: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Match:
    relevant: bool
    entities: tuple[str, ...]
    mentions: tuple[Mention, ...] = ()


FactKind = Literal["round_size", "valuation", "capex", "revenue", "users", "stake", "investment", "other"]
Qualifier = Literal["exact", "approx", "up_to", "at_least", "range"]


@dataclass(frozen=True, slots=True)
class Fact:
    """A figure with what it measures. `value` is in `unit` (ISO currency, 'count' or 'percent')."""

    kind: str
    subject: str  # "Kling" or "Kuaishou"
    value: float
    unit: str
    value_usd: float | None = None  # only when the text itself gives the USD figure
    qualifier: str = "exact"
    range_high: float | None = None
    period: str | None = None  # 2025-Q3, 2025, 2025-H1, 2025-12, "as-of 2026-02"
    quote: str = ""
    start: int = 0
    end: int = 0
    speculative: bool = False
    stage: str | None = None  # reported, filed, signed, closed ...
    alt_value: float | None = None  # the same figure in a second currency, when the text converts it
    alt_unit: str | None = None
    # What the figure measures within its kind (revenue: quarterly, annual, monthly, cumulative, arr,
    # guidance; users: dau, mau, registered, paying, creators, cumulative, other; valuation: private,
    # market_cap, implied; round_size: round, tranche, ipo, committed_total, cap), None when unknown.
    basis: str | None = None
    # Whether it happened: reported, planned, guidance, historical.
    status: str = "reported"

    def to_json(self) -> dict[str, Any]:
        """The documented `extract --json` fact shape: exactly these keys."""
        return {
            "kind": self.kind,
            "subject": self.subject,
            "value": self.value,
            "unit": self.unit,
            "value_usd": self.value_usd,
            "qualifier": self.qualifier,
            "range_high": self.range_high,
            "period": self.period,
            "basis": self.basis,
            "status": self.status,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True, slots=True)
class Dropped:
    """A candidate figure the facts stage did not report, and why (shown by `extract --json --explain`)."""

    value: float
    unit: str
    reason: str  # "an analyst estimate", "a target price", "a prior-period comparative", "a rival's figure", ...
    quote: str = ""
    start: int = 0
    end: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "reason": self.reason, "quote": self.quote,
                "start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True)
class ProductMove:
    kind: str  # model_launch, api, pricing, integration, expansion, milestone
    what: str
    quote: str
    speculative: bool = False


@dataclass(frozen=True, slots=True)
class Extraction:
    source: str
    relevant: bool
    entities: tuple[str, ...]
    facts: tuple[Fact, ...] = ()
    investors: tuple[str, ...] = ()
    cloud_partners: tuple[str, ...] = ()
    product_moves: tuple[ProductMove, ...] = ()
    statuses: tuple[str, ...] = ()  # stage words the story states for the round: filed, signed, closed
    dropped: tuple[Dropped, ...] = ()  # candidate figures that are not facts, with the reason

    def to_json(self) -> dict[str, Any]:
        """The documented `extract --json` object: exactly these keys."""
        return {
            "source": self.source,
            "relevant": self.relevant,
            "entities": list(self.entities),
            "facts": [f.to_json() for f in self.facts],
            "investors": list(self.investors),
            "cloud_partners": list(self.cloud_partners),
            "product_moves": [{"kind": m.kind, "what": m.what, "quote": m.quote} for m in self.product_moves],
        }


# ------------------------------------------------------------------ ledger

EventType = Literal[
    "new_figure",
    "revised_figure",
    "corroborated",
    "conflict",
    "new_investor",
    "cloud_partnership",
    "product_move",
    "status",
    "story_update",
    "retracted",
]

# Which event types are pushed at once; the rest wait for the digest (or go to their claim's thread).
ANNOUNCED_TYPES: frozenset[str] = frozenset(
    {"new_figure", "revised_figure", "conflict", "new_investor", "cloud_partnership", "product_move", "status"}
)


@dataclass(frozen=True, slots=True)
class Event:
    """Something the ledger decided is worth telling a person, as data: monitor/render.py writes the words.

    `fact` is the claim, `previous` its value before, `against` the claims it agrees or disagrees
    with (each a claim's fact), `rule` which rule fired and `detail` that rule's figures (consensus,
    implied value, factor, names, stages...). No English prose lives here.
    """

    type: str
    subject: str
    key: str  # idempotency key: the same event is never queued twice
    rule: str = ""
    severity: int = 2  # 1 low (digest and the claim's thread only) .. 3 high
    kind: str | None = None  # fact kind, for figure events
    fact: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    against: tuple[dict[str, Any], ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()  # the quotes the claim rests on
    sources: tuple[str, ...] = ()  # the best links (at most a few; detail["n_sources"] counts them all)
    claim_id: int | None = None
    doc: str | None = None
    title: str | None = None
    cluster: int | None = None
    cluster_size: int = 1
    thread_key: str | None = None  # events sharing this go into one Slack thread
    story_thread: str | None = None  # an update of an announced story: posted in that story's thread instead

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data (shallow: it is serialised at once, never mutated)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["sources"] = list(self.sources)
        d["against"] = list(self.against)
        d["evidence"] = list(self.evidence)
        return d
