"""The claim ledger: every extracted figure is a claim; events are what is new about them.

A claim's identity is (subject, kind, basis, period): DAU and MAU, ARR and a quarter, a tranche
and a total, 2016 and 2021 are different claims, and a revision or a conflict exists only
within one identity. An unknown basis joins the one known basis of its (subject, kind, period)
when there is only one; a figure with no period joins a dated claim only when the story's date
leaves a single candidate period (`resolve_period`).

For each document, the claims of one identity are judged together: the identity's
*representative* claim (a stated range, else the largest point figure) is judged against the
identity's earlier claims by `decide`, a pure function:

- first claim of an identity                          -> new_figure
- an actual figure after only planned ones            -> revised_figure (the close), never a conflict
- a large factor off the consensus, or off the value
  implied by other claims (round / stake = valuation)  -> conflict (never a "tenfold rise")
- within tolerance, inside a known range, or under
  a known upper bound                                  -> corroborated (digest, and the thread once per outlet)
- ... but the stage moved past a filing (filed->closed) -> revised_figure
- otherwise the figure moved                           -> revised_figure, unless a primary
  source settled it and this one is not primary        -> conflict

Status has its own rules: historical figures are recorded, never announced; planned, guidance
and actual figures are separate tracks. A conflict is weighed by its sources: two outlets, or
one primary or major source (or a claim confirmed by hand), make it a full alert; a single
ordinary source makes it a low-severity flag (the claim's thread and the digest only) until a
second outlet repeats it. A figure off by `IMPLAUSIBLE_FACTOR` or more, or a money figure under
`MIN_MONEY`, is a misreading (a share price, a unit slip), kept but never judged.

Copies of a story (the dedupe stage's `duplicate_of`) and background documents (older than
`fetch.max_entry_age`, a new feed's backlog) are recorded and judged, silently. Claims rejected
by hand (`ledger reject`) stop counting. Events are data (models.Event); every word people read
is written by monitor/render.py. Every event has a stable idempotency key, so re-processing a
document never creates a second event. The ledger writes in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import re
import statistics
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from monitor.config import Config
from monitor.dedupe import StoryAssignment, doc_key, outlet_of
from monitor.models import ANNOUNCED_TYPES, Document, Event, Extraction, Fact
from monitor.store import Store, iso, parse_iso

STAGES: tuple[str, ...] = ("reported", "filed", "signed", "committed", "closed")
STAGE_RANK: dict[str, int] = {s: i for i, s in enumerate(STAGES)}
ROUND_KINDS = frozenset({"round_size", "valuation", "stake", "investment"})
MONEY_KINDS = frozenset({"round_size", "valuation", "capex", "revenue", "investment"})
POINT_QUALIFIERS = frozenset({"exact", "approx", "at_least"})
TIER_RANK = {"primary": 2, "major": 1, "other": 0}
IMPLAUSIBLE_FACTOR = 1000.0  # no source revises a figure a thousandfold: one side misread a unit or a price
TERM_BASES = {"round_size": ("tranche", "committed_total", "cap")}  # terms of a round, told with it
HEAD_BASIS = {"round_size": "round"}  # the basis unknown-basis figures of a kind mean when a story tells several
UNCLASSIFIED = "other"  # a basis the extractor could not name: it does not establish an identity for a conflict
UNDATED_WINDOW = timedelta(days=365)  # undated figures from stories further apart are not one claim
MIN_MONEY = 1e6  # a round, valuation, capex, revenue or investment under a million is a per-share price

SEVERITY = {"conflict": 3, "new_figure": 3, "revised_figure": 3, "new_investor": 2, "cloud_partnership": 2,
            "product_move": 2, "status": 2, "corroborated": 1, "story_update": 1, "retracted": 2}
# Decisions whose claims are not evidence for later judgements.
NOT_EVIDENCE = ("speculative", "historical", "implausible", "recorded", "rejected")


# ------------------------------------------------------------------ claims


@dataclass(frozen=True, slots=True)
class Claim:
    """One source's statement of a figure (or a name), as the ledger keeps it."""

    subject: str
    kind: str
    period: str = ""
    value: float | None = None
    unit: str | None = None
    value_usd: float | None = None
    qualifier: str = "exact"
    range_high: float | None = None
    stage: str = "reported"
    source_url: str | None = None
    outlet: str | None = None
    tier: str = "other"
    published: str | None = None
    quote: str = ""
    doc: str | None = None
    name: str | None = None
    speculative: bool = False
    alt_value: float | None = None
    alt_unit: str | None = None
    decision: str | None = None
    cluster_id: int | None = None
    id: int | None = None
    basis: str = ""  # what the figure measures within its kind (dau, arr, tranche ...); "" unknown
    status: str = "reported"  # reported | planned | guidance | historical
    review: str | None = None  # confirmed | rejected, by hand

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Claim:
        return cls(subject=r["subject"], kind=r["kind"], period=r["period"] or "", value=r["value"], unit=r["unit"],
                   value_usd=r["value_usd"], qualifier=r["qualifier"] or "exact", range_high=r["range_high"],
                   stage=r["stage"] or "reported", source_url=r["source_url"], outlet=r["outlet"],
                   tier=r["tier"] or "other", published=r["published"], quote=r["quote"] or "", doc=r["doc"],
                   name=r["name"], speculative=bool(r["speculative"]), alt_value=r["alt_value"],
                   alt_unit=r["alt_unit"], decision=r["decision"], cluster_id=r["cluster_id"], id=r["id"],
                   basis=r.get("basis") or "", status=r.get("status") or "reported", review=r.get("review"))

    def usd_factor(self) -> float | None:
        """Multiply a value in this claim's unit by this to get USD (None: no USD known)."""
        if (self.unit or "").upper() == "USD":
            return 1.0
        if self.value_usd is not None and self.value:
            return self.value_usd / self.value
        return None

    @property
    def key(self) -> str:
        """Idempotency key of the claim: the same statement from the same document is stored once."""
        return _sha("claim", self.doc, self.subject, self.kind, self.period, self.name, self.value, self.unit,
                    self.qualifier, self.range_high, self.stage, self.basis or None,
                    None if self.status == "reported" else self.status)

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.subject, self.kind, self.basis, self.period)

    def to_fact(self) -> dict[str, Any]:
        """The event's `fact`: the documented fact keys plus stage, source, tier and claim id."""
        return {"kind": self.kind, "subject": self.subject, "value": self.value, "unit": self.unit,
                "value_usd": self.value_usd, "qualifier": self.qualifier, "range_high": self.range_high,
                "period": self.period or None, "basis": self.basis or None, "status": self.status,
                "stage": self.stage, "quote": self.quote, "outlet": self.outlet, "tier": self.tier,
                "source": self.source_url or self.doc, "published": self.published, "alt_value": self.alt_value,
                "alt_unit": self.alt_unit, "claim_id": self.id}


def track(c: Claim) -> str:
    """Planned, guidance and actual figures are judged apart (historical ones are actuals of the past)."""
    return c.status if c.status in ("planned", "guidance") else "actual"


def _interval(c: Claim, mode: str) -> tuple[float, float] | None:
    """The claim as [low, high] in `mode` ('USD' or a unit); None when not convertible."""
    if c.value is None:
        return None
    if mode == "USD":
        f = c.usd_factor()
        if f is None:
            return None
    elif (c.unit or "") == mode:
        f = 1.0
    else:
        return None
    v = c.value * f
    if c.qualifier == "up_to":
        return (0.0, v)
    if c.qualifier == "at_least":
        return (v, float("inf"))
    if c.qualifier == "range" and c.range_high is not None:
        return (v, c.range_high * f)
    return (v, v)


def compare_mode(a: Claim, b: Claim) -> str | None:
    """USD when both sides give it; else the shared unit; else the two are not comparable."""
    if a.usd_factor() is not None and b.usd_factor() is not None:
        return "USD"
    if a.unit and a.unit == b.unit:
        return a.unit
    return None


def headline_value(c: Claim, mode: str) -> float | None:
    """One number for a claim: the point, a bound's bound, a range's middle."""
    iv = _interval(c, mode)
    if iv is None:
        return None
    lo, hi = iv
    if c.qualifier == "up_to":
        return hi
    if c.qualifier == "at_least":
        return lo
    return (lo + hi) / 2 if hi != lo else lo


def agrees(new: Claim, old: Claim, tolerance: float) -> bool:
    """Consistent within tolerance: the same point, or inside a known range or bound."""
    mode = compare_mode(new, old)
    if mode is None:
        return False
    a, b = _interval(new, mode), _interval(old, mode)
    if a is None or b is None:
        return False
    return a[0] <= b[1] * (1 + tolerance) and a[1] >= b[0] * (1 - tolerance)


def factor(a: float, b: float) -> float:
    if a <= 0 or b <= 0:
        return 1.0
    return max(a / b, b / a)


# ------------------------------------------------------------------ periods and identity

_PERIOD = re.compile(r"^(?:as-of )?(\d{4})(?:-(Q[1-4]|H[12]|\d{2}))?$")


def period_span(period: str) -> tuple[date, date, int] | None:
    """First day, last day and reporting lag in days of '2025-Q3', '2025', '2025-H1', '2025-12', 'as-of 2026-02'."""
    m = _PERIOD.match(period or "")
    if not m:
        return None
    year, part = int(m.group(1)), m.group(2)
    if part is None:
        return date(year, 1, 1), date(year, 12, 31), 120
    if part.startswith("Q"):
        q = int(part[1])
        first, last_month, lag = date(year, 3 * q - 2, 1), 3 * q, 92
    elif part.startswith("H"):
        h = int(part[1])
        first, last_month, lag = date(year, 6 * h - 5, 1), 6 * h, 92
    else:
        month = int(part)
        if not 1 <= month <= 12:
            return None
        first, last_month, lag = date(year, month, 1), month, 62
    end = (date(year + 1, 1, 1) if last_month == 12 else date(year, last_month + 1, 1)) - timedelta(days=1)
    return first, end, lag


def resolve_period(story_date: date | None, candidates: Sequence[str]) -> str | None:
    """The one dated period an undated figure of a story from `story_date` can mean, else None.

    A period is a candidate when the story falls inside it or within its reporting lag after
    it (a quarter's results come out within three months). Two candidates (a quarter and its
    year, or two quarters) are ambiguous: the figure stays undated.
    """
    if story_date is None:
        return None
    hits = []
    for p in dict.fromkeys(candidates):
        span = period_span(p)
        if span is not None and span[0] <= story_date <= span[1] + timedelta(days=span[2]):
            hits.append(p)
    return hits[0] if len(hits) == 1 else None


def _near(a: Claim, b: Claim) -> bool:
    """Undated figures mean 'now' at their story's date: a year apart they are different claims.

    A story without a date cannot be placed beside a dated one; two without dates (files replayed
    as one timeline) are taken as contemporaries.
    """
    da, db = parse_iso(a.published), parse_iso(b.published)
    if da is None or db is None:
        return da is None and db is None
    return abs(da - db) <= UNDATED_WINDOW


def compatible(claim: Claim, priors: Sequence[Claim], doc_bases: frozenset[str] = frozenset()) -> list[Claim]:
    """The earlier claims of the same identity, where an unknown basis is matched only when unambiguous.

    An unknown-basis claim joins the one basis known elsewhere (or stays with the unknown ones when
    several are known). A claim with a basis takes the unknown-basis claims as its own unless another
    basis is known elsewhere, or its own story tells several bases apart and it is not the headline
    one (a round's tranche, cap and committed total leave the unknown figures to the round).
    """
    same = [p for p in priors if (p.subject, p.kind, p.period) == (claim.subject, claim.kind, claim.period)
            and (claim.period or _near(claim, p))]
    other = {p.basis for p in same if p.basis and p.doc != claim.doc}
    if not claim.basis:
        return same if len(other) <= 1 else [p for p in same if not p.basis]
    if other - {claim.basis} or (len(doc_bases) > 1 and claim.basis != HEAD_BASIS.get(claim.kind)):
        return [p for p in same if p.basis == claim.basis]
    return [p for p in same if p.basis in ("", claim.basis)]


# ------------------------------------------------------------------ decisions


@dataclass(frozen=True, slots=True)
class Implied:
    """A value implied by other claims: a round of `round_usd` for `stake` percent."""

    value: float
    round_usd: float
    stake: float


@dataclass(frozen=True, slots=True)
class Decision:
    type: str  # new_figure | revised_figure | corroborated | conflict
    rule: str  # which rule fired: a code that monitor/render.py words
    claim: Claim
    previous: Claim | None = None
    delta: float | None = None  # relative change from `previous`
    against: tuple[Claim, ...] = ()  # the earlier claims it agrees or disagrees with
    consensus: float | None = None
    mode: str | None = None  # the unit the comparison was made in
    implied: Implied | None = None
    conflict_factor: float | None = None
    support: tuple[Claim, ...] = ()  # for a conflict: the earlier claims that say what this one says
    weight: str = "full"  # a conflict's weight: full, or low (a single ordinary source)


UNANNOUNCED_KINDS = frozenset({"other"})


def _floor_raised(claim: Claim, basis: Sequence[Claim], mode: str | None, tolerance: float) -> bool:
    """'More than 45M users' after only 'more than 22M' is known: consistent, but the figure moved."""
    if mode is None or not basis or any(p.qualifier != "at_least" for p in basis):
        return False
    if claim.qualifier not in ("at_least", "exact", "approx"):
        return False
    new_floor = headline_value(claim, mode)
    known = [v for v in (headline_value(p, mode) for p in basis) if v is not None]
    return new_floor is not None and bool(known) and new_floor > max(known) * (1 + tolerance)


def _delta(claim: Claim, prev: Claim | None, mode: str | None) -> float | None:
    if prev is None or mode is None:
        return None
    pv, xv = headline_value(prev, compare_mode(claim, prev) or mode), headline_value(claim, mode)
    return (xv - pv) / pv if pv and xv is not None else None


def conflict_weight(claim: Claim, support: Sequence[Claim]) -> str:
    """Full when two outlets, or a primary or major source, or a confirmed claim stand behind the figure."""
    backers = [claim, *support]
    outlets = {(c.outlet or c.doc or "").lower() for c in backers}
    strong = any(c.tier in ("primary", "major") or c.review == "confirmed" for c in backers)
    return "full" if strong or len(outlets) >= 2 else "low"


def _repeat_rule(claim: Claim, flagged: Sequence[Claim], weight: str, tolerance: float) -> str | None:
    """'flag_known' when this conflict was raised before at this weight already: one message per change."""
    same = [p for p in flagged if agrees(claim, p, tolerance)]
    if not same:
        return None
    before = conflict_weight(same[0], same[1:])
    return None if (before, weight) == ("low", "full") else "flag_known"


def decide(claim: Claim, prior: Sequence[Claim], *, tolerance: float, conflict_factor: float,
           implied: Implied | None = None) -> Decision:
    """Judge one new claim against its identity's earlier claims (pure; see the module docstring)."""
    prior = [p for p in prior if not p.speculative and p.value is not None and p.doc != claim.doc
             and p.review != "rejected" and p.decision not in NOT_EVIDENCE and p.status != "historical"]
    same_track = [p for p in prior if track(p) == track(claim)]
    if track(claim) == "actual" and not same_track:
        planned = [p for p in prior if track(p) == "planned" and compare_mode(claim, p) is not None]
        if planned:
            prev = _headline(planned)
            mode = compare_mode(claim, prev) if prev else None
            return Decision("revised_figure", "planned_closed", claim, previous=prev, delta=_delta(claim, prev, mode),
                            against=tuple(planned), mode=mode)
    flagged = [p for p in same_track if p.decision == "conflict"]
    prior = [p for p in same_track if p.decision != "conflict"]
    comparable = [p for p in prior if compare_mode(claim, p) is not None]
    primary = [p for p in comparable if p.tier == "primary" or p.review == "confirmed"]
    basis = primary or comparable
    cons_value, mode = _consensus(claim, basis) or (None, None)
    x = headline_value(claim, mode) if mode else None
    off_consensus = factor(x, cons_value) if cons_value is not None and x is not None else 1.0
    x_usd = headline_value(claim, "USD") if claim.usd_factor() is not None else None
    off_implied = factor(x_usd, implied.value) if implied is not None and x_usd is not None else 1.0
    support = tuple(p for p in flagged if agrees(claim, p, tolerance) and p.outlet != claim.outlet
                    and (claim.cluster_id is None or p.cluster_id != claim.cluster_id))  # independent stories only
    if claim.basis == UNCLASSIFIED and off_consensus >= conflict_factor and off_implied < conflict_factor:
        # "some other user count" far from the known one is most likely another metric, not a dispute
        return Decision("new_figure", "another_metric", claim, against=tuple(basis), consensus=cons_value, mode=mode)
    if track(claim) != "planned" and (off_consensus >= conflict_factor or off_implied >= conflict_factor):
        rules = [r for r, f in (("off_consensus", off_consensus), ("off_implied", off_implied))
                 if f >= conflict_factor]
        weight = conflict_weight(claim, support)
        return Decision("conflict", _repeat_rule(claim, flagged, weight, tolerance) or "+".join(rules), claim,
                        against=tuple(basis), consensus=cons_value, mode=mode or "USD",
                        implied=implied if off_implied >= conflict_factor else None,
                        conflict_factor=max(off_consensus, off_implied), support=support, weight=weight)
    if not comparable:
        return Decision("new_figure", "first_claim", claim, implied=implied)
    consistent = [p for p in basis if agrees(claim, p, tolerance)]
    prev = _headline(basis)
    delta = _delta(claim, prev, mode)
    known_stage = max((STAGE_RANK.get(p.stage, 0) for p in prior), default=0)
    # past a filing the round's every step is news; before one, only its close is (not "committed" chatter)
    stage_moved = STAGE_RANK.get(claim.stage, 0) > known_stage and (
        known_stage >= STAGE_RANK["filed"] or claim.stage == "closed")
    if consistent and _floor_raised(claim, basis, mode, tolerance):
        return Decision("revised_figure", "lower_bound_raised", claim, previous=prev, delta=delta,
                        against=tuple(basis), consensus=cons_value, mode=mode)
    if consistent and not stage_moved:
        return Decision("corroborated", "consistent", claim, previous=prev, against=tuple(consistent),
                        consensus=cons_value, mode=mode)
    if stage_moved and consistent:
        return Decision("revised_figure", "stage_moved", claim, previous=prev, delta=delta, against=tuple(basis),
                        consensus=cons_value, mode=mode)
    if primary and claim.tier != "primary" and claim.review != "confirmed" and track(claim) != "planned":
        return Decision("conflict", "primary_settled", claim, previous=prev, delta=delta, against=tuple(primary),
                        consensus=cons_value, mode=mode,
                        conflict_factor=factor(x, cons_value) if x and cons_value else None, support=support,
                        weight=conflict_weight(claim, support))
    return Decision("revised_figure", "figure_moved", claim, previous=prev, delta=delta, against=tuple(basis),
                    consensus=cons_value, mode=mode)


def _consensus(claim: Claim, basis: Sequence[Claim]) -> tuple[float, str] | None:
    """Median of the basis's headline values in one unit (points first; bounds when no point)."""
    modes = [compare_mode(claim, p) for p in basis]
    mode = "USD" if "USD" in modes else next((m for m in modes if m), None)
    if mode is None:
        return None
    points = [headline_value(p, mode) for p in basis if p.qualifier in POINT_QUALIFIERS]
    values = [v for v in points if v is not None] or [
        v for v in (headline_value(p, mode) for p in basis) if v is not None]
    if not values:
        return None
    return float(statistics.median(values)), mode


def _headline(basis: Sequence[Claim]) -> Claim | None:
    """The figure as last announced: the latest new/revised claim, else the latest point claim."""
    for p in reversed(basis):
        if p.decision in ("new_figure", "revised_figure"):
            return p
    points = [p for p in basis if p.qualifier in POINT_QUALIFIERS]
    return points[-1] if points else (basis[-1] if basis else None)


def _sha(*parts: Any) -> str:
    return hashlib.sha1("|".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:24]


def thread_key(c: Claim) -> str:
    """One Slack thread per claim identity."""
    return ":".join([c.subject, c.kind, c.period] + ([c.basis] if c.basis else []))


# ------------------------------------------------------------------ sources


def _host(url: str | None) -> str | None:
    if not url or "://" not in url:
        return None
    try:
        return (urlsplit(url).hostname or "").lower() or None
    except ValueError:
        return None


def _host_in(host: str, hosts: Sequence[str]) -> bool:
    host = host.removeprefix("www.")
    return any(host == h.lower().removeprefix("www.") or host.endswith("." + h.lower().removeprefix("www."))
               for h in hosts)


def source_tier(cfg: Config, url: str | None, *, outlet: str | None = None, feed: str | None = None) -> str:
    """primary / major / other, by the feed's tier override, else the [sources] host lists."""
    if feed:
        for f in cfg.feeds:
            if f.name == feed and f.tier:
                return f.tier
    for candidate in (_host(url), (outlet or "").lower() or None):
        if not candidate:
            continue
        if _host_in(candidate, cfg.sources.primary):
            return "primary"
        if _host_in(candidate, cfg.sources.major):
            return "major"
    return "other"


# ------------------------------------------------------------------ recording


@dataclass(slots=True)
class _Ctx:
    doc: Document
    key: str
    url: str | None
    outlet: str
    tier: str
    published: str | None
    cluster_id: int | None
    cluster_size: int
    now: datetime
    silent: bool = False  # background: record and judge, announce nothing
    copy: bool = False  # a copy of a story already seen: never re-announce what it raised
    events: list[Event] = field(default_factory=list)
    story_thread: str | None = None  # set for a story's update: every event is posted in the story's thread


def _norm_name(name: str) -> str:
    s = unicodedata.normalize("NFKC", name).lower()
    return " ".join(re.findall(r"[^\W_]+", s))


def _stage_for(f: Fact, statuses: Sequence[str]) -> str:
    if f.stage and f.stage in STAGE_RANK:
        return f.stage
    if f.kind in ROUND_KINDS and f.status != "planned":
        ranked = [s for s in statuses if s in STAGE_RANK]
        if ranked:
            return max(ranked, key=lambda s: STAGE_RANK[s])
    return "reported"


def _claims_from_facts(ex: Extraction, ctx: _Ctx) -> list[Claim]:
    """One claim per figure: duplicates dropped, the same figure in two currencies merged."""
    text = ctx.doc.full_text
    claims: list[tuple[Claim, Fact]] = []
    seen: set[tuple[Any, ...]] = set()
    for f in ex.facts:
        sig = (f.subject, f.kind, f.period, f.basis, f.status, f.value, f.unit, f.qualifier, f.range_high)
        if sig in seen:
            continue
        seen.add(sig)
        c = Claim(subject=f.subject, kind=f.kind, period=f.period or "", value=f.value, unit=f.unit,
                  value_usd=f.value_usd, qualifier=f.qualifier or "exact", range_high=f.range_high,
                  stage=_stage_for(f, ex.statuses), source_url=ctx.url, outlet=ctx.outlet, tier=ctx.tier,
                  published=ctx.published, quote=f.quote, doc=ctx.key, speculative=f.speculative,
                  cluster_id=ctx.cluster_id, alt_value=f.alt_value, alt_unit=f.alt_unit, basis=f.basis or "",
                  status=f.status or "reported")
        merged = False
        for i, (other, of) in enumerate(claims):
            if (other.identity, other.status) != (c.identity, c.status):
                continue
            if other.unit == c.unit or other.qualifier != c.qualifier:
                continue
            if _same_figure(other, of, c, f, text):
                claims[i] = (_merge(other, c), of)
                merged = True
                break
        if not merged:
            claims.append((c, f))
    return [c for c, _ in claims]


def _same_figure(a: Claim, fa: Fact, b: Claim, fb: Fact, text: str) -> bool:
    """Two currencies of one figure: their USD values agree, or one sits in brackets right after the other."""
    ua, ub = headline_value(a, "USD") if a.usd_factor() else None, headline_value(b, "USD") if b.usd_factor() else None
    if ua is not None and ub is not None:
        return factor(ua, ub) <= 1.02
    first, second = (fa, fb) if fa.start <= fb.start else (fb, fa)
    if first.end and second.start >= first.end:
        between = text[first.end:second.start]
        return len(between) <= 24 and ("(" in between or between.strip() in ("", "/", "or", "，", ","))
    return False


def _merge(a: Claim, b: Claim) -> Claim:
    usd, other = (a, b) if (a.unit or "").upper() == "USD" else (b, a) if (b.unit or "").upper() == "USD" else (a, b)
    return replace(usd, value_usd=usd.value_usd if usd.value_usd is not None else (
        usd.value if (usd.unit or "").upper() == "USD" else other.value_usd),
        alt_value=other.value, alt_unit=other.unit, quote=usd.quote or other.quote)


def _representative(group: Sequence[Claim]) -> Claim:
    """The group's headline in this document: a stated range, else its largest point figure, else a bound.

    A range is the document's own summary; otherwise the largest point wins (a tranche is
    smaller than the total it belongs to).
    """
    # The document's own conversion for a currency ("19 billion yuan ($2.8 billion)") sizes its other
    # figures in that currency; a figure with no known dollar size never outranks one with it.
    rates = {c.unit: c.value_usd / c.value for c in group
             if c.value and c.value_usd and c.unit and c.unit.upper() != "USD"}

    def size(c: Claim) -> tuple[int, float]:
        f = c.usd_factor()
        if f is None and c.unit:
            f = rates.get(c.unit)
        return (1, (c.value or 0.0) * f) if f is not None else (0, c.value or 0.0)
    ranges = [c for c in group if c.qualifier == "range" and c.range_high is not None]
    if ranges:
        return ranges[0]
    points = [c for c in group if c.qualifier in POINT_QUALIFIERS]
    if points:
        return max(points, key=size)
    return max(group, key=size)


def _implied_valuation(subject: str, claims: Sequence[Claim]) -> Implied | None:
    """Round size ÷ stake from the same document: $3B for 16.67% implies ~$18B."""
    stakes = [c for c in claims if c.subject == subject and c.kind == "stake" and (c.unit or "").lower() == "percent"
              and c.value and 0 < c.value < 100 and not c.speculative]
    rounds = [(headline_value(c, "USD"), c) for c in claims if c.subject == subject and c.kind == "round_size"
              and c.usd_factor() is not None and not c.speculative]
    rounds = [(v, c) for v, c in rounds if v]
    if not stakes or not rounds:
        return None
    r = max(v for v, _ in rounds if v is not None)
    s = stakes[0].value or 0.0
    return Implied(value=r / (s / 100.0), round_usd=r, stake=s)


def _plausible(c: Claim) -> bool:
    """A money figure under MIN_MONEY (in USD where known) is a per-share price or a unit slip."""
    if c.kind not in MONEY_KINDS or c.value is None:
        return True
    v = headline_value(c, "USD") if c.usd_factor() is not None else c.value
    return v is not None and v >= MIN_MONEY


def record_extraction(store: Store, ex: Extraction, doc: Document, *, assignment: StoryAssignment | None,
                      cfg: Config, feed: str | None = None, now: datetime | None = None,
                      background: bool = False, story_thread: str | None = None) -> list[Event]:
    """Write the document's claims and the events they cause; return only events newly inserted.

    `background`: the document is old news (or a new feed's backlog): judged and recorded, never
    announced. Runs in the caller's transaction (wrap in `store.atomic()` together with the outbox).
    `story_thread`: an update of a story already announced posts in that story's thread.
    """
    if not ex.relevant:
        return []
    url = doc.url if doc.url and "://" in doc.url else None
    outlet = outlet_of(doc)
    cluster_id = assignment.cluster_id if assignment else None
    ctx = _Ctx(doc=doc, key=doc_key(doc), url=url, outlet=outlet,
               tier=source_tier(cfg, url, outlet=doc.outlet, feed=feed), published=iso(doc.published),
               cluster_id=cluster_id, cluster_size=assignment.cluster_size if assignment else 1,
               now=now or datetime.now(UTC), silent=background, story_thread=story_thread,
               copy=bool(assignment and assignment.duplicate_of))
    claims = _claims_from_facts(ex, ctx)
    round_subject = _round_subject(ex, claims)
    announced_stage = _record_figures(store, claims, ctx, cfg)
    _record_names(store, ex.investors, "investor", "new_investor", round_subject, ctx)
    _record_names(store, ex.cloud_partners, "cloud_partner", "cloud_partnership", round_subject, ctx)
    _record_moves(store, ex, round_subject, ctx)
    _record_statuses(store, ex.statuses, round_subject, ctx, announced_stage)
    if cluster_id is not None and any(e.type in ANNOUNCED_TYPES for e in ctx.events):
        store.mark_cluster_announced(cluster_id)
    return ctx.events


def _round_subject(ex: Extraction, claims: Sequence[Claim]) -> str:
    for c in claims:
        if c.kind in ROUND_KINDS:
            return c.subject
    if "Kling" in ex.entities or not ex.entities:
        return "Kling"
    return ex.entities[0]


def _emit(store: Store, ctx: _Ctx, *, type: str, subject: str, kind: str | None, ident: Any, rule: str,
          severity: int | None = None, fact: dict[str, Any] | None = None, previous: dict[str, Any] | None = None,
          against: Sequence[dict[str, Any]] = (), detail: dict[str, Any] | None = None,
          evidence: Sequence[str] = (), sources: Sequence[str] = (), thread: str | None = None,
          claim_id: int | None = None) -> None:
    """Insert one event (idempotent by key); background documents stay silent."""
    if ctx.silent:
        return
    own = ctx.url or ctx.outlet
    ev = Event(type=type, subject=subject, key=_sha("event", type, subject, kind, ident, ctx.key), rule=rule,
               severity=severity if severity is not None else SEVERITY[type], kind=kind, fact=fact,
               previous=previous, against=tuple(against), detail=detail or {},
               evidence=tuple(q for q in evidence if q), sources=tuple(dict.fromkeys([own, *sources]))[:3],
               claim_id=claim_id, doc=ctx.key, title=ctx.doc.title or None, cluster=ctx.cluster_id,
               cluster_size=ctx.cluster_size, thread_key=thread, story_thread=ctx.story_thread)
    if store.insert_event(key=ev.key, type=ev.type, subject=ev.subject, kind=ev.kind, severity=ev.severity,
                          payload=ev.to_dict(), doc=ev.doc, created=ctx.now):
        ctx.events.append(ev)


def _store_claim(store: Store, c: Claim, ctx: _Ctx) -> int | None:
    """Insert a claim (idempotent by key); its id, or None when it was already there."""
    return store.insert_claim({
        "subject": c.subject, "kind": c.kind, "period": c.period, "name": c.name, "value": c.value, "unit": c.unit,
        "value_usd": c.value_usd, "qualifier": c.qualifier, "range_high": c.range_high, "stage": c.stage,
        "speculative": int(c.speculative), "source_url": c.source_url, "outlet": c.outlet, "tier": c.tier,
        "published": c.published, "quote": c.quote, "doc": c.doc, "cluster_id": c.cluster_id,
        "created": iso(ctx.now), "key": c.key, "decision": c.decision, "alt_value": c.alt_value,
        "alt_unit": c.alt_unit, "basis": c.basis, "status": c.status})


def _resolve(claims: list[Claim], ctx: _Ctx, store: Store) -> list[Claim]:
    """Give undated figures the one period the story's date allows, when the ledger knows that period."""
    story = parse_iso(ctx.published)
    out = []
    for c in claims:
        if not c.period and c.value is not None and story is not None:
            dated = [p for p in (Claim.from_row(r) for r in store.figure_claims(c.subject, c.kind))
                     if p.period and (not c.basis or not p.basis or p.basis == c.basis)]
            dated += [p for p in claims if p.period and p.kind == c.kind and p.subject == c.subject]
            period = resolve_period(story.date(), [p.period for p in dated])
            if period:
                c = replace(c, period=period)
        out.append(c)
    return out


def _as_earlier_version(p: Claim, doc: str, before: int) -> Claim:
    """A claim an earlier version of this same document made is evidence like another document's: an
    updated article that enlarges its round revises what it said before. Claims of this judgement
    (written after `before`) keep their document and so are never compared with each other."""
    if p.doc == doc and p.id is not None and p.id <= before:
        return replace(p, doc=f"{doc}#earlier")
    return p


def _record_figures(store: Store, claims: list[Claim], ctx: _Ctx, cfg: Config) -> set[str]:
    """Decide each claim identity of this document; return the stages announced with a figure."""
    claims = _resolve(claims, ctx, store)
    before = store.max_claim_id()  # this document's claims up to here come from its earlier versions
    rejected = store.rejected_claim_keys([c.key for c in claims])
    round_subjects = {c.subject for c in claims if c.kind == "round_size" and not c.speculative}
    groups: dict[tuple[str, str, str, str], list[Claim]] = {}
    announced_stages: set[str] = set()
    for c in claims:
        why_not = ("speculative" if c.speculative else "recorded" if c.kind in UNANNOUNCED_KINDS
                   else "part" if c.kind == "stake" and c.subject in round_subjects
                   else "historical" if c.status == "historical"
                   else "implausible" if not _plausible(c) else None)
        if why_not is not None or c.key in rejected:
            # kept in the history, never judged: speculation, unclassified figures (a profit, a turnover),
            # a stake beside its round, background about the past, a misread price; or rejected by hand
            _store_claim(store, replace(c, decision=why_not or "rejected"), ctx)
            continue
        groups.setdefault(c.identity, []).append(c)
    judged: list[tuple[Decision, list[Claim], Claim]] = []
    for (subject, kind, _basis, _period), group in groups.items():
        doc_bases = frozenset(k[2] for k in groups if k[:2] == (subject, kind))
        if all(store.has_claim(c.key) for c in group):
            continue  # this document was judged before: never decide (or announce) twice
        everything = [_as_earlier_version(Claim.from_row(r), ctx.key, before)
                      for r in store.figure_claims(subject, kind)]
        # Judge by a claim the ledger can compare: "$2.8B" says nothing against a round known only
        # in yuan, while the same document's "19 billion yuan ($2.8 billion)" does.
        prior_any = compatible(group[0], everything, doc_bases)
        rep = _representative([c for c in group if any(compare_mode(c, p) is not None for p in prior_any)] or group)
        prior = compatible(rep, everything, doc_bases)
        implied = _implied_valuation(subject, claims) if kind == "valuation" else None
        d = decide(rep, prior, tolerance=cfg.ledger.tolerance, conflict_factor=cfg.ledger.conflict_factor,
                   implied=implied)
        d = _check_plausible(d, cfg)
        if d.type == "corroborated" and any(p.outlet == rep.outlet and agrees(rep, p, cfg.ledger.tolerance)
                                            for p in prior):
            d = replace(d, type="known")  # one update per new outlet: this one has said it before
        if d.type == "new_figure" and d.rule == "first_claim" and any(track(p) == track(rep) and p.decision not in NOT_EVIDENCE
                                          and p.review != "rejected" and p.value is not None for p in prior):
            d = replace(d, type="uncompared")  # known already, in a currency the ledger cannot convert
        # a copy of a story (another outlet's, a Traditional-Chinese edition) never raises again what its
        # story already raised; a figure the story did not state is still news
        echo = ctx.copy and d.type in ANNOUNCED_TYPES and any(
            p.cluster_id == ctx.cluster_id and agrees(rep, p, cfg.ledger.tolerance) for p in prior)
        rep_id = None
        for c in group:
            cid = _store_claim(store, replace(c, decision=d.type if c is rep else "part"), ctx)
            if c is rep:
                rep_id = cid
        if d.type in ("new_figure", "revised_figure", "corroborated", "conflict") and not echo \
                and d.rule != "flag_known":
            judged.append((d, prior, replace(rep, id=rep_id)))
        if d.type in ("new_figure", "revised_figure") and kind in ROUND_KINDS:
            announced_stages.add(rep.stage)
    for d, prior, rep, terms in _fold_terms(judged):
        _emit_figure(store, ctx, d, prior, rep, cfg, terms=terms)
    return announced_stages


def _fold_terms(judged: list[tuple[Decision, list[Claim], Claim]]
                ) -> list[tuple[Decision, list[Claim], Claim, list[Claim]]]:
    """A round's first close, committed total and cap, first stated beside the round's own news, are
    terms of that one alert, not alerts of their own (they stay claims of their own identity)."""
    heads = {(c.subject, c.kind, c.period): i for i, (d, _, c) in enumerate(judged)
             if c.basis in ("", HEAD_BASIS.get(c.kind)) and d.type in ("new_figure", "revised_figure")}
    terms: dict[int, list[Claim]] = {}
    keep: list[int] = []
    for i, (d, _, c) in enumerate(judged):
        head = heads.get((c.subject, c.kind, c.period))
        if head is not None and head != i and c.basis in TERM_BASES.get(c.kind, ()) and d.type == "new_figure":
            terms.setdefault(head, []).append(c)
        else:
            keep.append(i)
    return [(*judged[i], terms.get(i, [])) for i in keep]


def _check_plausible(d: Decision, cfg: Config) -> Decision:
    """A thousandfold disagreement is a misreading, not a conflict: kept out of every judgement."""
    if d.type == "conflict" and (d.conflict_factor or 0) >= max(IMPLAUSIBLE_FACTOR, cfg.ledger.conflict_factor):
        return replace(d, type="implausible")
    return d


def _best_sources(claims: Sequence[Claim], n: int = 2) -> list[str]:
    """The best links among claims: highest tier first, then the earliest."""
    ranked = sorted(claims, key=lambda c: (-TIER_RANK.get(c.tier, 0), c.published or "9999", c.id or 0))
    out: list[str] = []
    for c in ranked:
        s = c.source_url or c.outlet or ""
        if s and s not in out:
            out.append(s)
        if len(out) >= n:
            break
    return out


def _few(claims: Sequence[Claim], n: int = 4) -> list[Claim]:
    """The earliest claim and the latest ones: an event's size stays flat however many sources agree."""
    if len(claims) <= n:
        return list(claims)
    return [claims[0], *claims[-(n - 1):]]


def _emit_figure(store: Store, ctx: _Ctx, d: Decision, prior: Sequence[Claim], c: Claim, cfg: Config,
                 terms: Sequence[Claim] = ()) -> None:
    """One event for one change of one claim: the claim, what it was, which rule, which sources."""
    outlets = list(dict.fromkeys((p.outlet or p.doc or "?") for p in [*prior, c]
                                 if p.decision not in NOT_EVIDENCE and p.review != "rejected"))
    detail: dict[str, Any] = {"n_sources": len(outlets), "tolerance": cfg.ledger.tolerance}
    if ctx.copy:
        detail["copy_of"] = ctx.cluster_id  # a copy of a story: counted in the digest, not a thread update
    severity = SEVERITY[d.type]
    if d.delta is not None:
        detail["delta"] = d.delta
    if d.type == "conflict":
        detail.update({"consensus": d.consensus, "mode": d.mode, "factor": d.conflict_factor,
                       "threshold": cfg.ledger.conflict_factor, "weight": d.weight,
                       "support": [p.to_fact() for p in _few(d.support)]})
        if d.implied is not None:
            detail["implied"] = {"value": d.implied.value, "round_usd": d.implied.round_usd, "stake": d.implied.stake}
        if d.weight == "low":
            severity = 1  # a single ordinary source: the claim's thread and the digest, never broadcast
    ident = (c.period, c.basis, c.value, c.unit, c.qualifier, c.stage, c.status)
    against = _few(d.against)
    fact = c.to_fact()
    if terms:
        fact["parts"] = [t.to_fact() for t in terms]
    _emit(store, ctx, type=d.type, subject=c.subject, kind=c.kind, ident=ident, rule=d.rule, severity=severity,
          fact=fact, previous=d.previous.to_fact() if d.previous else None,
          against=[p.to_fact() for p in against], detail=detail, evidence=[c.quote, *(t.quote for t in terms)],
          sources=_best_sources([*d.support, *d.against], 2) if d.type in ("corroborated", "conflict") else [],
          thread=thread_key(c), claim_id=c.id)


def _record_names(store: Store, names: Sequence[str], kind: str, event_type: str, subject: str, ctx: _Ctx) -> None:
    """Investors / cloud partners: new names in one event, known ones corroborate."""
    if not names:
        return
    rows = [r for r in store.named_claims(subject, kind) if r["doc"] != ctx.key and r.get("review") != "rejected"]
    known = {r["name"] for r in rows}
    first_by = {r["name"]: r["outlet"] for r in reversed(rows)}
    new: list[str] = []
    old: list[str] = []
    for n in dict.fromkeys(names):
        key = _norm_name(n)
        if not key:
            continue
        (old if key in known else new).append(n)
        _store_claim(store, Claim(subject=subject, kind=kind, name=key, source_url=ctx.url, outlet=ctx.outlet,
                                  tier=ctx.tier, published=ctx.published, quote=n, doc=ctx.key,
                                  cluster_id=ctx.cluster_id, decision=event_type if key not in known
                                  else "corroborated"), ctx)
    if new:
        _emit(store, ctx, type=event_type, subject=subject, kind=kind, ident=",".join(sorted(map(_norm_name, new))),
              rule="first_names", fact={"kind": kind, "subject": subject, "names": new},
              detail={"tier": ctx.tier, "outlet": ctx.outlet}, thread=f"{subject}:{kind}")
    if old:
        _emit(store, ctx, type="corroborated", subject=subject, kind=kind,
              ident=",".join(sorted(map(_norm_name, old))), rule="known_names",
              fact={"kind": kind, "subject": subject, "names": old},
              detail={"outlet": ctx.outlet, "first": sorted({first_by.get(_norm_name(n)) or "?" for n in old})},
              thread=f"{subject}:{kind}")


_STOP = frozenset("a an the of to in on for and or with its it is was has have been be by at as from that this "
                  "reportedly reached reaches new".split())


def _move_tokens(what: str) -> set[str]:
    return {t for t in re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", what).lower()) if t not in _STOP}


def _record_moves(store: Store, ex: Extraction, subject: str, ctx: _Ctx) -> None:
    """Product moves keyed by (kind, what): the first report announces, later ones corroborate."""
    if not ex.product_moves:
        return
    prior = [r for r in store.named_claims(subject, "product_move") if r["doc"] != ctx.key
             and r.get("review") != "rejected"]
    for m in ex.product_moves:
        if m.speculative:
            continue
        toks = _move_tokens(m.what)
        name = f"{m.kind}:{' '.join(sorted(toks))[:200]}"
        match = None
        for r in prior:
            pkind, _, ptoks = (r["name"] or "").partition(":")
            other = set(ptoks.split())
            if pkind == m.kind and toks and other and len(toks & other) / len(toks | other) >= 0.5:
                match = r
                break
        decision = "corroborated" if match else "product_move"
        _store_claim(store, Claim(subject=subject, kind="product_move", name=match["name"] if match else name,
                                  source_url=ctx.url, outlet=ctx.outlet, tier=ctx.tier, published=ctx.published,
                                  quote=m.quote, doc=ctx.key, cluster_id=ctx.cluster_id, decision=decision), ctx)
        fact = {"kind": "product_move", "subject": subject, "move": m.kind, "what": m.what, "quote": m.quote}
        thread = f"{subject}:product_move:{match['name'] if match else name}"
        if match:
            if match["outlet"] != ctx.outlet:
                _emit(store, ctx, type="corroborated", subject=subject, kind="product_move", ident=name,
                      rule="same_move", fact=fact, detail={"outlet": ctx.outlet, "first": [match["outlet"]]},
                      evidence=[m.quote], thread=thread)
        else:
            no_figure = m.kind == "milestone" and not re.search(r"\d", m.what)
            _emit(store, ctx, type="product_move", subject=subject, kind="product_move", ident=name,
                  rule="first_move_no_figure" if no_figure else "first_move", severity=1 if no_figure else 2,
                  fact=fact, detail={"tier": ctx.tier, "outlet": ctx.outlet}, evidence=[m.quote], thread=thread)
        prior.append({"name": match["name"] if match else name, "outlet": ctx.outlet, "doc": ctx.key})


def _record_statuses(store: Store, statuses: Sequence[str], subject: str, ctx: _Ctx, announced: set[str]) -> None:
    """A status event when the round reaches a stage not known before (unless a figure event carried it)."""
    stages = [s for s in dict.fromkeys(statuses) if s in STAGE_RANK and s != "reported"]
    if not stages:
        return
    prior = [r for r in store.named_claims(subject, "status") if r["doc"] != ctx.key and r.get("review") != "rejected"]
    known = {r["name"] for r in prior}
    top_known = max((STAGE_RANK[s] for s in known if s in STAGE_RANK), default=0)
    for s in stages:
        _store_claim(store, Claim(subject=subject, kind="status", name=s, stage=s, source_url=ctx.url,
                                  outlet=ctx.outlet, tier=ctx.tier, published=ctx.published, doc=ctx.key,
                                  cluster_id=ctx.cluster_id, decision="status" if s not in known else "known"), ctx)
    fresh = [s for s in stages if s not in known and STAGE_RANK[s] > top_known]
    if not fresh:
        return
    top = max(fresh, key=lambda s: STAGE_RANK[s])
    if top in announced or any(STAGE_RANK.get(a, 0) >= STAGE_RANK[top] for a in announced):
        return  # the revised figure already says the round moved to this stage
    _emit(store, ctx, type="status", subject=subject, kind="status", ident=top, rule="new_stage",
          fact={"kind": "status", "subject": subject, "stage": top, "stages": stages},
          detail={"known": sorted(known), "tier": ctx.tier, "outlet": ctx.outlet},
          thread=f"{subject}:round_size:")


# ------------------------------------------------------------------ corrections


def review_claim(store: Store, claim_id: int, verdict: str, *, why: str | None = None,
                 now: datetime | None = None) -> Event | None:
    """Confirm or reject a claim by hand; a rejection also yields a correction event for its thread.

    The review is stored by the claim's key, so it survives restarts and `replay` of the same
    documents honours it. Returns the correction event (None for a confirmation, or a repeat).
    """
    row = store.claim(claim_id)
    if row is None:
        raise KeyError(claim_id)
    now = now or datetime.now(UTC)
    changed = store.set_review(row["key"], verdict, why=why, now=now)
    if verdict != "rejected" or not changed:
        return None
    c = Claim.from_row(row)
    subject, kind = c.subject, c.kind
    figure = c.value is not None
    ev = Event(type="retracted", subject=subject, key=_sha("event", "retracted", c.key), rule="rejected_by_hand",
               severity=SEVERITY["retracted"], kind=kind, fact=c.to_fact() if figure else
               {"kind": kind, "subject": subject, "names": [c.quote or c.name], "outlet": c.outlet},
               detail={"why": why or "", "claim_id": claim_id}, sources=tuple(s for s in [c.source_url] if s),
               claim_id=claim_id, doc=c.doc, thread_key=thread_key(c) if figure else f"{subject}:{kind}")
    store.insert_event(key=ev.key, type=ev.type, subject=ev.subject, kind=ev.kind, severity=ev.severity,
                       payload=ev.to_dict(), doc=ev.doc, created=now)
    return ev


# ------------------------------------------------------------------ history


def history(store: Store, subject: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    """Claims source by source, oldest first per figure: what `kling-monitor ledger` shows."""
    from monitor.render import format_figure

    out = []
    for r in store.claims_history(subject, kind):
        c = Claim.from_row(r)
        date_ = (r["published"] or r["created"] or "")[:10]
        value = format_figure(c.to_fact(), stage=False) if c.value is not None else (c.name or "")
        out.append({"id": c.id, "date": date_, "subject": c.subject, "kind": c.kind, "basis": c.basis or None,
                    "period": c.period or None, "status": c.status, "outlet": c.outlet, "tier": c.tier,
                    "value": value, "raw_value": c.value, "unit": c.unit, "value_usd": c.value_usd,
                    "qualifier": c.qualifier if c.value is not None else None, "stage": c.stage,
                    "decision": c.decision, "review": c.review, "quote": c.quote, "source": c.source_url or c.doc})
    return out


def record_story_update(store: Store, doc: Document, fresh: Sequence[str], *,
                        assignment: StoryAssignment | None, now: datetime | None = None,
                        background: bool = False, story_thread: str | None = None) -> list[Event]:
    """A changed story whose new sentences (with content) changed no figure: one low-priority event
    saying what changed, in the story's thread when it has one."""
    if not fresh:
        return []
    outlet = outlet_of(doc)
    cluster_id = assignment.cluster_id if assignment else None
    ctx = _Ctx(doc=doc, key=doc_key(doc), url=doc.url, outlet=outlet, tier="other", published=iso(doc.published),
               cluster_id=cluster_id, cluster_size=assignment.cluster_size if assignment else 1,
               now=now or datetime.now(UTC), silent=background, story_thread=story_thread)
    _emit(store, ctx, type="story_update", subject="Kling", kind=None, ident=_sha(*fresh), rule="new_sentences",
          fact={"kind": "story_update", "new_sentences": list(fresh)},
          detail={"title": doc.title or outlet, "outlet": outlet}, thread=None)
    return ctx.events
