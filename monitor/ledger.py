"""The claim ledger: every extracted figure is a claim; events are what is new about them.

Claims group by (subject, kind, period). For each document, the facts of one group are
turned into claims (one figure given in two currencies is one claim), and the group's
*representative* claim (the largest point figure; a tranche is smaller than the total) is
judged against the group's earlier claims by `decide`, a pure function:

- first claim in a group                              -> new_figure
- a large factor off the consensus, or off the value
  implied by other claims (round / stake = valuation)  -> conflict (never a "tenfold rise")
- within tolerance, inside a known range, or under
  a known upper bound                                  -> corroborated (digest only)
- ... but the stage moved past a filing (filed->closed) -> revised_figure
- otherwise the figure moved                           -> revised_figure, unless a primary
  source settled it and this one is not primary        -> conflict

Investors, cloud partners, product moves and round statuses are claims too. Every event has
a stable idempotency key, so re-processing a document never creates a second event.
The ledger writes in the caller's transaction: the caller wraps `store.atomic()`.
"""

from __future__ import annotations

import hashlib
import re
import statistics
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.config import Config
from monitor.dedupe import StoryAssignment, doc_key, outlet_of
from monitor.models import ANNOUNCED_TYPES, Document, Event, Extraction, Fact
from monitor.store import Store, iso
from monitor.units import amount

STAGES: tuple[str, ...] = ("reported", "filed", "signed", "committed", "closed")
STAGE_RANK: dict[str, int] = {s: i for i, s in enumerate(STAGES)}
ROUND_KINDS = frozenset({"round_size", "valuation", "stake", "investment"})
POINT_QUALIFIERS = frozenset({"exact", "approx", "at_least"})
TIER_RANK = {"primary": 2, "major": 1, "other": 0}

SEVERITY = {"conflict": 3, "new_figure": 3, "revised_figure": 3, "new_investor": 2, "cloud_partnership": 2,
            "product_move": 2, "status": 2, "corroborated": 1, "story_update": 1}

KIND_LABEL = {"round_size": "round size", "valuation": "valuation", "capex": "capex", "revenue": "revenue",
              "users": "users", "stake": "stake", "investment": "investment", "other": "figure"}
_FOLD_WORDS = {2: "twofold", 3: "threefold", 4: "fourfold", 5: "fivefold", 6: "sixfold", 7: "sevenfold",
               8: "eightfold", 9: "ninefold", 10: "tenfold"}


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

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Claim:
        return cls(subject=r["subject"], kind=r["kind"], period=r["period"] or "", value=r["value"], unit=r["unit"],
                   value_usd=r["value_usd"], qualifier=r["qualifier"] or "exact", range_high=r["range_high"],
                   stage=r["stage"] or "reported", source_url=r["source_url"], outlet=r["outlet"],
                   tier=r["tier"] or "other", published=r["published"], quote=r["quote"] or "", doc=r["doc"],
                   name=r["name"], speculative=bool(r["speculative"]), alt_value=r["alt_value"],
                   alt_unit=r["alt_unit"], decision=r["decision"], cluster_id=r["cluster_id"], id=r["id"])

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
                    self.qualifier, self.range_high, self.stage)

    def to_fact(self) -> dict[str, Any]:
        """The event's `fact`: the documented fact keys plus stage, source and tier."""
        return {"kind": self.kind, "subject": self.subject, "value": self.value, "unit": self.unit,
                "value_usd": self.value_usd, "qualifier": self.qualifier, "range_high": self.range_high,
                "period": self.period or None, "stage": self.stage, "quote": self.quote, "outlet": self.outlet,
                "tier": self.tier, "source": self.source_url or self.doc, "alt_value": self.alt_value,
                "alt_unit": self.alt_unit}


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
    rule: str  # which rule fired, for `why`
    claim: Claim
    previous: Claim | None = None
    delta: float | None = None  # relative change from `previous`
    against: tuple[Claim, ...] = ()  # the earlier claims it agrees or disagrees with
    consensus: float | None = None
    mode: str | None = None  # the unit the comparison was made in
    implied: Implied | None = None
    conflict_factor: float | None = None


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


def decide(claim: Claim, prior: Sequence[Claim], *, tolerance: float, conflict_factor: float,
           implied: Implied | None = None) -> Decision:
    """Judge one new claim against its group's earlier claims (pure; see the module docstring)."""
    prior = [p for p in prior if not p.speculative and p.value is not None and p.doc != claim.doc
             and p.decision != "conflict"]
    comparable = [p for p in prior if compare_mode(claim, p) is not None]
    primary = [p for p in comparable if p.tier == "primary"]
    basis = primary or comparable
    cons_value, mode = _consensus(claim, basis) or (None, None)
    x = headline_value(claim, mode) if mode else None
    off_consensus = factor(x, cons_value) if cons_value is not None and x is not None else 1.0
    x_usd = headline_value(claim, "USD") if claim.usd_factor() is not None else None
    off_implied = factor(x_usd, implied.value) if implied is not None and x_usd is not None else 1.0
    if off_consensus >= conflict_factor or off_implied >= conflict_factor:
        rules = [r for r, f in (("off the consensus", off_consensus), ("off the implied value", off_implied))
                 if f >= conflict_factor]
        return Decision("conflict", " and ".join(rules), claim, against=tuple(basis), consensus=cons_value,
                        mode=mode or "USD", implied=implied if off_implied >= conflict_factor else None,
                        conflict_factor=max(off_consensus, off_implied))
    if not comparable:
        return Decision("new_figure", "first claim in group", claim, implied=implied)
    consistent = [p for p in basis if agrees(claim, p, tolerance)]
    prev = _headline(basis)
    delta = None
    if prev is not None and mode is not None:
        pv, xv = headline_value(prev, compare_mode(claim, prev) or mode), x
        if pv and xv is not None:
            delta = (xv - pv) / pv
    known_stage = max((STAGE_RANK.get(p.stage, 0) for p in prior), default=0)
    stage_moved = STAGE_RANK.get(claim.stage, 0) > known_stage >= STAGE_RANK["filed"]
    if consistent and _floor_raised(claim, basis, mode, tolerance):
        return Decision("revised_figure", "lower bound raised", claim, previous=prev, delta=delta,
                        against=tuple(basis), consensus=cons_value, mode=mode)
    if consistent and not stage_moved:
        return Decision("corroborated", "consistent within tolerance or known bounds", claim, previous=prev,
                        against=tuple(consistent), consensus=cons_value, mode=mode)
    if stage_moved and consistent:
        return Decision("revised_figure", f"stage moved {STAGES[known_stage]} -> {claim.stage}", claim,
                        previous=prev, delta=delta, against=tuple(basis), consensus=cons_value, mode=mode)
    if primary and claim.tier != "primary":
        return Decision("conflict", "primary source settled it", claim, previous=prev, delta=delta,
                        against=tuple(primary), consensus=cons_value, mode=mode,
                        conflict_factor=factor(x, cons_value) if x and cons_value else None)
    return Decision("revised_figure", "figure moved", claim, previous=prev, delta=delta, against=tuple(basis),
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


# ------------------------------------------------------------------ formatting


def figure_text(c: Claim, *, approx: str = "~", stage: bool = True) -> str:
    """'about $3.6B (≈ RMB 26B)', 'RMB 13.8B (~$2.028B)', 'up to $3B', '$2B–$3B'."""
    text = amount(c.value, c.unit)
    if c.qualifier == "range" and c.range_high is not None:
        text = f"{text}–{amount(c.range_high, c.unit)}"
    elif c.qualifier == "approx":
        text = f"{approx}{text}" if approx == "~" else f"{approx} {text}"
    elif c.qualifier == "up_to":
        text = f"up to {text}"
    elif c.qualifier == "at_least":
        text = f"at least {text}"
    if c.value_usd is not None and (c.unit or "").upper() != "USD":
        text += f" (~{amount(c.value_usd, 'USD')})"
    usd_shown = c.value_usd is not None and (c.unit or "").upper() != "USD"
    if c.alt_value is not None and not (usd_shown and (c.alt_unit or "").upper() == "USD"):
        text += f" (≈ {amount(c.alt_value, c.alt_unit)})"
    if stage and c.stage and c.stage != "reported":
        text += f" {c.stage}"
    return text


def _label(c: Claim) -> str:
    label = f"{c.subject} {KIND_LABEL.get(c.kind, c.kind.replace('_', ' '))}"
    return f"{label} for {c.period}" if c.period else label


def _fold(f: float, up: bool) -> str:
    n = round(f)
    word = _FOLD_WORDS.get(n, f"{f:.0f}x") if abs(f - n) < 0.25 else f"{f:.1f}x"
    return f"{word} {'rise' if up else 'fall'}"


def _outlets(claims: Sequence[Claim]) -> list[str]:
    return list(dict.fromkeys(c.outlet or c.doc or "?" for c in claims))


def _sha(*parts: Any) -> str:
    return hashlib.sha1("|".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:24]


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
    sources: list[str]
    now: datetime
    events: list[Event] = field(default_factory=list)
    story_thread: str | None = None  # set for a story's update: every event is posted in the story's thread


def _norm_name(name: str) -> str:
    s = unicodedata.normalize("NFKC", name).lower()
    return " ".join(re.findall(r"[^\W_]+", s))


def _stage_for(f: Fact, statuses: Sequence[str]) -> str:
    if f.stage and f.stage in STAGE_RANK:
        return f.stage
    if f.kind in ROUND_KINDS:
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
        sig = (f.subject, f.kind, f.period, f.value, f.unit, f.qualifier, f.range_high)
        if sig in seen:
            continue
        seen.add(sig)
        c = Claim(subject=f.subject, kind=f.kind, period=f.period or "", value=f.value, unit=f.unit,
                  value_usd=f.value_usd, qualifier=f.qualifier or "exact", range_high=f.range_high,
                  stage=_stage_for(f, ex.statuses), source_url=ctx.url, outlet=ctx.outlet, tier=ctx.tier,
                  published=ctx.published, quote=f.quote, doc=ctx.key, speculative=f.speculative,
                  cluster_id=ctx.cluster_id, alt_value=f.alt_value, alt_unit=f.alt_unit)
        merged = False
        for i, (other, of) in enumerate(claims):
            if (other.subject, other.kind, other.period) != (c.subject, c.kind, c.period):
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


def record_extraction(store: Store, ex: Extraction, doc: Document, *, assignment: StoryAssignment | None,
                      cfg: Config, feed: str | None = None, now: datetime | None = None,
                      story_thread: str | None = None) -> list[Event]:
    """Write the document's claims and the events they cause; return only events newly inserted.

    Runs in the caller's transaction (wrap in `store.atomic()` together with the outbox).
    `story_thread`: an update of a story already announced posts in that story's thread.
    """
    if not ex.relevant:
        return []
    url = doc.url if doc.url and "://" in doc.url else None
    outlet = outlet_of(doc)
    cluster_id = assignment.cluster_id if assignment else None
    sources = _cluster_links(store, cluster_id) if cluster_id is not None else []
    ctx = _Ctx(doc=doc, key=doc_key(doc), url=url, outlet=outlet,
               tier=source_tier(cfg, url, outlet=doc.outlet, feed=feed), published=iso(doc.published),
               cluster_id=cluster_id, cluster_size=assignment.cluster_size if assignment else 1,
               sources=sources or [url or outlet], now=now or datetime.now(UTC), story_thread=story_thread)
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


def _cluster_links(store: Store, cluster_id: int) -> list[str]:
    """One link per outlet of the story's cluster (URLs where known): the event lists all its sources."""
    out: dict[str, str] = {}
    for row in store.cluster_stories(cluster_id):
        out.setdefault(row["outlet"] or row["doc"], row["doc"])
    return list(out.values())


def _round_subject(ex: Extraction, claims: Sequence[Claim]) -> str:
    for c in claims:
        if c.kind in ROUND_KINDS:
            return c.subject
    if "Kling" in ex.entities or not ex.entities:
        return "Kling"
    return ex.entities[0]


def _emit(store: Store, ctx: _Ctx, *, type: str, subject: str, kind: str | None, ident: Any, message: str,
          why: str, severity: int | None = None, fact: dict[str, Any] | None = None,
          previous: dict[str, Any] | None = None, sources: Sequence[str] = (), thread_key: str | None = None) -> None:
    ev = Event(type=type, subject=subject, key=_sha("event", type, subject, kind, ident, ctx.key), message=message,
               why=why, severity=severity if severity is not None else SEVERITY[type], kind=kind, fact=fact,
               previous=previous, sources=tuple(dict.fromkeys([*ctx.sources, *sources])), doc=ctx.key,
               title=ctx.doc.title or None, cluster=ctx.cluster_id, cluster_size=ctx.cluster_size,
               thread_key=thread_key, story_thread=ctx.story_thread)
    if store.insert_event(key=ev.key, type=ev.type, subject=ev.subject, kind=ev.kind, message=ev.message,
                          why=ev.why, severity=ev.severity, payload=ev.to_dict(), doc=ev.doc, created=ctx.now):
        ctx.events.append(ev)


def _store_claim(store: Store, c: Claim, ctx: _Ctx) -> bool:
    return store.insert_claim({
        "subject": c.subject, "kind": c.kind, "period": c.period, "name": c.name, "value": c.value, "unit": c.unit,
        "value_usd": c.value_usd, "qualifier": c.qualifier, "range_high": c.range_high, "stage": c.stage,
        "speculative": int(c.speculative), "source_url": c.source_url, "outlet": c.outlet, "tier": c.tier,
        "published": c.published, "quote": c.quote, "doc": c.doc, "cluster_id": c.cluster_id,
        "created": iso(ctx.now), "key": c.key, "decision": c.decision, "alt_value": c.alt_value,
        "alt_unit": c.alt_unit})


def _record_figures(store: Store, claims: list[Claim], ctx: _Ctx, cfg: Config) -> set[str]:
    """Decide each (subject, kind, period) group of this document; return stages announced with a figure."""
    groups: dict[tuple[str, str, str], list[Claim]] = {}
    for c in claims:
        groups.setdefault((c.subject, c.kind, c.period), []).append(c)
    round_subjects = {c.subject for c in claims if c.kind == "round_size" and not c.speculative}
    announced_stages: set[str] = set()
    for (subject, kind, period), group in groups.items():
        live = [c for c in group if not c.speculative]
        if not live or (kind == "stake" and subject in round_subjects):
            # speculation is kept but never judged; a stake beside a round is a term of that round
            for c in group:
                _store_claim(store, replace(c, decision="speculative" if c.speculative else "part"), ctx)
            continue
        if kind in UNANNOUNCED_KINDS:
            # a figure the extractor could not tie to a tracked measure (an estimate, a profit, a
            # turnover) stays in the ledger's history but is nobody's news
            for c in group:
                _store_claim(store, replace(c, decision="recorded"), ctx)
            continue
        if all(store.has_claim(c.key) for c in group):
            continue  # this document was judged before: never decide (or announce) twice
        prior = [Claim.from_row(r) for r in store.group_claims(subject, kind, period)]
        # Judge by a claim the ledger can compare: "$2.8B" says nothing against a round known only
        # in yuan, while the same document's "19 billion yuan ($2.8 billion)" does.
        rep = _representative([c for c in live if any(compare_mode(c, p) is not None for p in prior)] or live)
        implied = _implied_valuation(subject, claims) if kind == "valuation" else None
        d = decide(rep, prior, tolerance=cfg.ledger.tolerance, conflict_factor=cfg.ledger.conflict_factor,
                   implied=implied)
        for c in group:
            _store_claim(store, replace(c, decision=d.type if c is rep else ("speculative" if c.speculative
                                                                             else "part")), ctx)
        parts = [c for c in live if c is not rep]
        stake = next((c for c in claims if c.subject == subject and c.kind == "stake"), None) \
            if kind == "round_size" else None
        _emit_figure(store, ctx, d, parts, prior, stake, cfg)
        if d.type in ("new_figure", "revised_figure") and kind in ROUND_KINDS:
            announced_stages.add(rep.stage)
    return announced_stages


def _emit_figure(store: Store, ctx: _Ctx, d: Decision, parts: Sequence[Claim], prior: Sequence[Claim],
                 stake: Claim | None, cfg: Config) -> None:
    c = d.claim
    label = _label(c)
    shown = figure_text(c, stage=False)
    extra = [t for t in dict.fromkeys(figure_text(p, stage=False) for p in _new_parts(c, parts, cfg))
             if t != shown][:5]
    if stake is not None:
        extra.append(f"for {amount(stake.value, stake.unit)}")
    also = f"; also {', '.join(extra)}" if extra else ""
    thread = f"{c.subject}:{c.kind}:{c.period}"
    fact = c.to_fact()
    if parts:
        fact["parts"] = [p.to_fact() for p in parts]
    src = f"source: {c.outlet} ({c.tier})" if c.tier != "other" else f"source: {c.outlet}"
    prev_fact = d.previous.to_fact() if d.previous else None
    ident = (c.period, c.value, c.unit, c.qualifier, c.stage)
    if d.type == "new_figure":
        msg = f"New figure: {label} {figure_text(c, approx='about')}{also} — {src}"
        why = f"first claim for {label} (rule: new figure); claim from {c.outlet}, tier {c.tier}"
    elif d.type == "revised_figure":
        prev = d.previous
        was = f"was {figure_text(prev)}" + ("" if prev is None or prev.stage != "reported" else " reported") \
            if prev else "was unknown"
        delta = f", {d.delta:+.0%}" if d.delta is not None and abs(d.delta) >= 0.005 else ""
        msg = f"Revised: {label} {figure_text(c)} ({was}{delta}){also} — {src}"
        why = (f"{d.rule} (rule: revised figure); earlier: "
               f"{', '.join(f'{figure_text(p)} ({p.outlet})' for p in d.against[-4:])}")
    elif d.type == "corroborated":
        n = len(_outlets([*prior, c]))
        by_outlet: dict[str | None, list[str]] = {}
        for p in d.against:
            texts = by_outlet.setdefault(p.outlet, [])
            if figure_text(p) not in texts:
                texts.append(figure_text(p))
        agree = "; ".join(f"{', '.join(t[:3])} ({o})" for o, t in list(by_outlet.items())[-3:])
        msg = (f"Corroborated: {label} {figure_text(c)} ({c.outlet}) agrees with {agree}"
               f" — {n} source{'s' if n != 1 else ''}")
        why = f"{d.rule} (rule: corroborated, tolerance ±{cfg.ledger.tolerance:.0%}); {n} distinct sources"
    else:  # conflict
        sides = []
        if d.consensus is not None and d.against:
            earlier = ", ".join(_outlets(d.against)[:3])
            sides.append(f"{amount(d.consensus, d.mode or 'USD')} ({earlier})")
        if d.implied is not None:
            sides.append(f"~{amount(d.implied.value, 'USD')} implied by {amount(d.implied.round_usd, 'USD')} "
                         f"for {d.implied.stake:g}%")
        base = d.consensus if d.consensus is not None else (d.implied.value if d.implied else None)
        mode = d.mode if d.consensus is not None else "USD"
        x = headline_value(c, mode or "USD") if base is not None else None
        tail = "flagged"
        if x is not None and base:
            tail = f"flagged, not a {_fold(factor(x, base), x > base)}"
        msg = (f"Conflict: {label} {figure_text(c, stage=False)} ({c.outlet}) vs {' and '.join(sides) or 'earlier claims'}"
               f" — {tail}")
        why = (f"rule: conflict ({d.rule}); factor {d.conflict_factor or 0:.1f} vs threshold {cfg.ledger.conflict_factor:g}; "
               f"new claim from {c.outlet} ({c.tier}) vs {', '.join(_outlets(d.against)) or 'implied value'}")
    _emit(store, ctx, type=d.type, subject=c.subject, kind=c.kind, ident=ident, message=msg, why=why,
          fact=fact, previous=prev_fact, sources=[p.source_url or p.outlet or "" for p in d.against if
                                                  d.type in ("corroborated", "conflict")],
          thread_key=thread)


def _new_parts(rep: Claim, parts: Sequence[Claim], cfg: Config) -> list[Claim]:
    """The parts worth naming beside the headline figure: not ones it already states.

    "$2B–$3B; also up to $3B, ~$2B, $3B" repeats itself; a part whose value lies inside the
    headline's range, or within tolerance of it or of a part already named, adds nothing.
    """
    tol = cfg.ledger.tolerance
    covered: list[tuple[float, float]] = []
    head = _interval(rep, "USD") if rep.qualifier != "up_to" else None
    if head is None and rep.usd_factor() is not None:
        v = headline_value(rep, "USD")
        head = (v, v) if v is not None else None
    if head is not None:
        covered.append(head)
    out: list[Claim] = []
    for p in parts:
        v = headline_value(p, "USD")
        if v is None:
            out.append(p)
            continue
        if any(lo * (1 - tol) <= v <= hi * (1 + tol) for lo, hi in covered):
            continue
        covered.append((v, v))
        out.append(p)
    return out


def _record_names(store: Store, names: Sequence[str], kind: str, event_type: str, subject: str, ctx: _Ctx) -> None:
    """Investors / cloud partners: new names in one event, known ones corroborate."""
    if not names:
        return
    known = {r["name"] for r in store.named_claims(subject, kind) if r["doc"] != ctx.key}
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
    what = "investor" if kind == "investor" else "cloud partner"
    if new:
        plural = "s" if len(new) > 1 else ""
        title = "New investor" if kind == "investor" else "Cloud partnership"
        _emit(store, ctx, type=event_type, subject=subject, kind=kind, ident=",".join(sorted(map(_norm_name, new))),
              message=f"{title}{plural}: {subject} — {', '.join(new)} — source: {ctx.outlet}",
              why=f"rule: first claim naming {len(new)} {what}{plural} for {subject}; source {ctx.outlet} ({ctx.tier})",
              fact={"kind": kind, "subject": subject, "names": new}, thread_key=f"{subject}:{kind}")
    if old:
        _emit(store, ctx, type="corroborated", subject=subject, kind=kind,
              ident=",".join(sorted(map(_norm_name, old))),
              message=f"Corroborated: {subject} {what}s {', '.join(old)} ({ctx.outlet})",
              why=f"rule: known {what}s named again; source {ctx.outlet}",
              fact={"kind": kind, "subject": subject, "names": old}, thread_key=f"{subject}:{kind}")


_STOP = frozenset("a an the of to in on for and or with its it is was has have been be by at as from that this "
                  "reportedly reached reaches new".split())


def _move_tokens(what: str) -> set[str]:
    return {t for t in re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", what).lower()) if t not in _STOP}


def _record_moves(store: Store, ex: Extraction, subject: str, ctx: _Ctx) -> None:
    """Product moves keyed by (kind, what): the first report announces, later ones corroborate."""
    if not ex.product_moves:
        return
    prior = [r for r in store.named_claims(subject, "product_move") if r["doc"] != ctx.key]
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
            _emit(store, ctx, type="corroborated", subject=subject, kind="product_move", ident=name,
                  message=f"Corroborated: {subject} {m.kind} — {m.what} ({ctx.outlet}; first: {match['outlet']})",
                  why=f"rule: the same product move reported again; first by {match['outlet']}",
                  fact=fact, thread_key=thread)
        else:
            no_figure = m.kind == "milestone" and not re.search(r"\d", m.what)
            _emit(store, ctx, type="product_move", subject=subject, kind="product_move", ident=name,
                  message=f"Product move: {subject} {m.kind} — {m.what} — source: {ctx.outlet}",
                  why=f"rule: first report of this {m.kind}; source {ctx.outlet} ({ctx.tier})"
                      + ("; a milestone without a figure: low priority" if no_figure else ""),
                  severity=1 if no_figure else 2, fact=fact, thread_key=thread)
        prior.append({"name": match["name"] if match else name, "outlet": ctx.outlet, "doc": ctx.key})


def _record_statuses(store: Store, statuses: Sequence[str], subject: str, ctx: _Ctx, announced: set[str]) -> None:
    """A status event when the round reaches a stage not known before (unless a figure event carried it)."""
    stages = [s for s in dict.fromkeys(statuses) if s in STAGE_RANK and s != "reported"]
    if not stages:
        return
    prior = [r for r in store.named_claims(subject, "status") if r["doc"] != ctx.key]
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
    _emit(store, ctx, type="status", subject=subject, kind="status", ident=top,
          message=f"Status: {subject} round {top} — source: {ctx.outlet}",
          why=f"rule: stage '{top}' is new for {subject} (known: {', '.join(sorted(known)) or 'none'}); "
              f"source {ctx.outlet} ({ctx.tier})",
          fact={"kind": "status", "subject": subject, "stage": top, "stages": stages},
          thread_key=f"{subject}:round_size:")


# ------------------------------------------------------------------ history


def history(store: Store, subject: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    """Claims source by source, oldest first per figure: what `kling-monitor ledger` shows."""
    out = []
    for r in store.claims_history(subject, kind):
        c = Claim.from_row(r)
        date = (r["published"] or r["created"] or "")[:10]
        value = figure_text(c, stage=False) if c.value is not None else (c.name or "")
        out.append({"date": date, "subject": c.subject, "kind": c.kind, "period": c.period or None,
                    "outlet": c.outlet, "tier": c.tier, "value": value, "raw_value": c.value, "unit": c.unit,
                    "value_usd": c.value_usd, "qualifier": c.qualifier if c.value is not None else None,
                    "stage": c.stage, "decision": c.decision, "quote": c.quote, "source": c.source_url or c.doc})
    return out


def format_history(rows: Sequence[dict[str, Any]]) -> str:
    """A readable table, one block per (subject, kind, period)."""
    if not rows:
        return "(no claims)"
    lines: list[str] = []
    cols = ("date", "outlet", "tier", "value", "qualifier", "stage", "decision", "quote")
    widths = {"date": 10, "outlet": 22, "tier": 7, "value": 28, "qualifier": 9, "stage": 9, "decision": 14}
    current = None
    for r in rows:
        group = (r["subject"], r["kind"], r["period"])
        if group != current:
            current = group
            if lines:
                lines.append("")
            head = f"{r['subject']} {KIND_LABEL.get(r['kind'], r['kind'])}" + (f" ({r['period']})" if r["period"] else "")
            lines.append(head)
            lines.append("  ".join(c.ljust(widths.get(c, 0)) for c in cols).rstrip())
        cells = []
        for c in cols:
            v = "" if r.get(c) is None else str(r[c])
            if c == "quote":
                v = " ".join(v.split())
                v = (v[:77] + "…") if len(v) > 78 else v
            else:
                w = widths[c]
                v = (v[: w - 1] + "…") if len(v) > w else v.ljust(w)
            cells.append(v)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def record_story_update(store: Store, doc: Document, fresh: Sequence[str], *,
                        assignment: StoryAssignment | None, now: datetime | None = None,
                        story_thread: str | None = None) -> list[Event]:
    """A changed story whose new sentences (with content) changed no figure: one low-priority event
    saying what changed, in the story's thread when it has one."""
    if not fresh:
        return []
    outlet = outlet_of(doc)
    cluster_id = assignment.cluster_id if assignment else None
    ctx = _Ctx(doc=doc, key=doc_key(doc), url=doc.url, outlet=outlet, tier="other", published=iso(doc.published),
               cluster_id=cluster_id, cluster_size=assignment.cluster_size if assignment else 1,
               sources=[doc.url or outlet], now=now or datetime.now(UTC), story_thread=story_thread)
    first = fresh[0] if len(fresh[0]) <= 160 else fresh[0][:159] + "…"
    n = len(fresh)
    _emit(store, ctx, type="story_update", subject="Kling", kind=None, ident=_sha(*fresh),
          message=f"Story update: {doc.title or outlet} — {n} new sentence{'s' if n != 1 else ''}: “{first}”"
                  f" — source: {outlet}",
          why=f"rule: a story seen before changed; {n} sentence(s) not in the earlier text, no figure changed",
          fact={"kind": "story_update", "new_sentences": list(fresh)}, thread_key=None)
    return ctx.events
