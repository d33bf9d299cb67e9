"""The understanding stage: `extract()` = match -> facts (monitor/facts.py) -> investors, cloud partners,
product moves, statuses.

Everything here is a pure function of the text. Rules are general and sentence-level: a sentence that
speculates ("could", "would", "if", "watch whether") yields nothing. All regexes are compiled at import;
the per-watchlist ones are cached.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from monitor import moves, names
from monitor.facts import Positions, find_facts, period_ends_sentence, word_before
from monitor.match import (
    Watchlist,
    compile_watchlist,
    default_watchlist,
    match_text,
    reports_news,
    reseller_host,
)
from monitor.models import Document, Extraction, Mention
from monitor.names import canonical_name  # noqa: F401 - part of this module's interface
from monitor.rules.patterns import compile_lc as _lc
from monitor.rules.patterns import first as _first
from monitor.rules.patterns import lower_same_length

_CJK_RE = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff]")  # any CJK/Hangul character

# ---------------------------------------------------------------- sentences

_ABBREV = frozenset(
    "mr mrs ms dr prof st jr sr inc ltd co corp vs etc e.g i.e no u.s u.k approx est jan feb mar apr jun jul aug "
    "sep sept oct nov dec rep sen gov gen fig".split()
)
# \n+ | [.!?]+["”’)\]]*[ \t]+ | [。！？；]+["”’」）)]*\s* | [→·][ \t]+, written to start with one character class (each
# alternative starts with its own characters; a look-behind picks it) so that `re` skips ahead: 7x faster.
_BOUNDARY = re.compile(r"[\n.!?。！？；→·](?:(?<=\n)\n*|(?<=[.!?])[.!?]*[\"”’)\]]*[ \t]+|(?<=[。！？；])[。！？；]*[\"”’」）)]*\s*"
                       r"|(?<=[→·])[ \t]+)")


@dataclass(slots=True)
class _Sentence:
    """One sentence; whether it speculates or attributes is found when first asked (most sentences never are:
    those two patterns over every sentence were a tenth of the extractor's time)."""

    start: int
    end: int
    text: str
    low: str  # lower-cased text, same offsets
    _speculative: bool | None = None
    _attributed: bool | None = None

    @property
    def speculative(self) -> bool:
        if self._speculative is None:
            self._speculative = _is_speculative(self.text, self.low)
        return self._speculative

    @property
    def attributed(self) -> bool:
        if self._attributed is None:
            self._attributed = _first(_ATTRIBUTED, self.low) is not None
        return self._attributed


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) over `text`; lines always end a sentence, abbreviations do not."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        tok = m.group(0)
        if tok[0] == "." and not period_ends_sentence(text, word_before(text, m.start()), m.end(), _ABBREV):
            continue
        end = m.start() + len(tok.rstrip())
        if text[start:end].strip():
            spans.append((start, end))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


_SPECULATIVE = _lc(
    r"\b(?:watch(?:ing)?\s+(?:whether|for|how)|monitor(?:ing)?\s+(?:whether|how)|keep\s+an\s+eye\s+on|"
    r"could|might|would|if|whether|unless|possibly|perhaps|speculat\w*|rumou?r\w*|hypothetical\w*|"
    r"is\s+said\s+to\s+be\s+(?:considering|weighing|mulling)|mull(?:s|ing)?|weighing)\b|"
    r"是否|可能|或将|或將|如果|若|假如|传闻|傳聞|拟将")
_MAY = re.compile(r"\bmay\b")  # lower-case only: "May 2025" is a month
# Frames that make a whole sentence hypothetical, whatever clause a figure sits in.
_SPECULATIVE_FRAME = _lc(
    r"^\W*(?:if|unless|should|whether|were)\b|\bif\s+confirmed\b|\bwatch(?:ing)?\s+(?:whether|for|how)\b|"
    r"\bmonitor(?:ing)?\s+(?:whether|how)\b|\bkeep\s+an\s+eye\s+on\b|^\W*(?:如果|若|假如)")
_CLAUSE_BREAK = re.compile(r"[,;:—–()（），；：]\s|[，；：（）—]")
_ATTRIBUTED = _lc(
    r"\b(?:reported(?:ly)?|reports?\s+(?:said|say)|according\s+to|sources?\s+(?:said|say|familiar)|"
    r"people\s+familiar|citing|is\s+said\s+to|was\s+said\s+to)\b|据报道|據報道|知情人士|消息人士")

# ---------------------------------------------------------------- round stages (see _statuses)

_STAGE_WORDS: list[tuple[str, re.Pattern[str]]] = [
    ("closed", _lc(r"\b(?:closed|closes|completed|completes|wrapped\s+up|finali[sz]ed)\b|完成了?(?:[^，。]{0,12})?(?:融资|融資)")),
    ("signed", _lc(r"\bsigned\b|签署|簽署|签约|簽約")),
    ("filed", _lc(r"\b(?:filed|files|has\s+filed|submitted)\b|递交|遞交|提交了?")),
    ("committed", _lc(r"\bcommitted\b|承诺|承諾")),
]
_STATUS_KINDS = ("filed", "signed", "closed")

_ROUND_CONTEXT = _lc(
    r"\b(?:round|financing|funding|fund-?rais\w*|rais(?:e|ed|es|ing)|invest\w*|cap\s+table|stake|co-leads?|tranche)\b"
    r"|融资|融資|投资|投資|领投|領投|跟投|参投")
# ---------------------------------------------------------------- watchlist-derived


@dataclass(frozen=True, slots=True)
class _WatchRegex:
    alias_names: frozenset[str]  # lower-cased aliases: never reported as investors


@lru_cache(maxsize=32)
def _watch_regex(watch: Watchlist) -> _WatchRegex:
    return _WatchRegex(alias_names=frozenset(compile_watchlist(watch).alias_entity))


# "Alibaba Cloud said it would host Kling models": reported intent is news, not a hedge.
_REPORTED_FUTURE = re.compile(r"\b(?:said|says|announced|confirmed|stated|told\s+\w+)\b[^.;?!]{0,60}?\b(would)\b")


def _unhedge_reported(low: str) -> str:
    """Blank the 'would' of reported speech (same length, offsets unchanged) before the hedge check."""
    if "would" not in low:
        return low
    return _REPORTED_FUTURE.sub(lambda m: m.group(0)[: m.start(1) - m.start()] + " " * len(m.group(1)), low)


def _is_speculative(s: str, low: str) -> bool:
    return (_first(_SPECULATIVE, _unhedge_reported(low)) is not None
            or ("may" in low and _MAY.search(s) is not None))


# ---------------------------------------------------------------- the extractor


@dataclass(slots=True)
class _Ctx(Positions):
    text: str
    low: str
    sents: list[_Sentence]
    starts: list[int]
    mentions: tuple[Mention, ...]
    mention_starts: list[int]
    watch: Watchlist
    wre: _WatchRegex
    published: datetime | None = None

    def last_entity_before(self, pos: int) -> str | None:
        i = bisect.bisect_left(self.mention_starts, pos)
        return self.mentions[i - 1].entity if i > 0 else None


def _build_ctx(text: str, mentions: tuple[Mention, ...], watch: Watchlist,
               published: datetime | None = None) -> _Ctx:
    sents = []
    low = lower_same_length(text)
    for s, e in split_sentences(text):
        sents.append(_Sentence(s, e, text[s:e], low[s:e]))
    return _Ctx(
        text=text, low=low, sents=sents, starts=[s.start for s in sents], mentions=mentions,
        mention_starts=[m.start for m in mentions], watch=watch, wre=_watch_regex(watch), published=published,
    )



def _statuses(ctx: _Ctx) -> list[str]:
    found: list[tuple[int, str]] = []
    for sent in ctx.sents:
        if not _first(_ROUND_CONTEXT, sent.low) or sent.speculative or sent.attributed:
            continue  # the cheap test first
        for name, rx in _STAGE_WORDS:
            if name not in _STATUS_KINDS:
                continue
            m = _first(rx, sent.low)
            if m and name not in (n for _, n in found):
                found.append((sent.start + m.start(), name))
    return [n for _, n in sorted(found)]


def extract(doc: Document, watch: Watchlist | None = None) -> Extraction:
    """Everything the understanding stage finds in one document; offsets refer to doc.full_text."""
    w = watch or default_watchlist()
    text = doc.full_text
    match = match_text(text, w)
    if not match.relevant or reseller_host(doc.url, w):
        return Extraction(source=doc.source, relevant=False, entities=())
    ctx = _build_ctx(text, match.mentions, w, doc.published)
    facts, dropped = find_facts(text, ctx.low, match.mentions, doc.published,
                                {e.name: e.ipo for e in w.entities if e.ipo})
    investors = names.investors(ctx, ctx.wre.alias_names)
    clouds = names.cloud_partners(ctx, w.cloud_providers, doc.url)
    product_moves = moves.product_moves(ctx)
    return Extraction(
        source=doc.source,
        relevant=reports_news(facts, investors, clouds, product_moves, text, match.mentions),
        entities=match.entities,
        facts=tuple(facts),
        investors=tuple(investors),
        cloud_partners=tuple(clouds),
        product_moves=tuple(product_moves),
        statuses=tuple(_statuses(ctx)),
        dropped=tuple(dropped),
    )


def _fmt_value(v: float, unit: str) -> str:
    if unit == "percent":
        return f"{v:g}%"
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= div:
            return f"{v / div:.4g}{suf}"
    return f"{v:g}"


def format_table(ex: Extraction) -> str:
    """A readable, fixed-width summary for the non-JSON `extract` output."""
    lines = [f"{ex.source}", f"  relevant: {'yes' if ex.relevant else 'no'}   entities: {', '.join(ex.entities) or '-'}"]
    if ex.facts:
        rows = [["kind", "subject", "value", "unit", "usd", "qualifier", "period", "quote"]]
        for f in ex.facts:
            val = _fmt_value(f.value, f.unit)
            if f.range_high is not None:
                val += "-" + _fmt_value(f.range_high, f.unit)
            usd = _fmt_value(f.value_usd, "USD") if f.value_usd is not None else "-"
            quote = f.quote if len(f.quote) <= 70 else f.quote[:67] + "..."
            rows.append([f.kind, f.subject, val, f.unit, usd, f.qualifier, f.period or "-", quote])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    else:
        lines.append("  facts: -")
    lines.append(f"  investors: {', '.join(ex.investors) or '-'}")
    lines.append(f"  cloud partners: {', '.join(ex.cloud_partners) or '-'}")
    if ex.product_moves:
        lines.append("  product moves:")
        for m in ex.product_moves:
            what = m.what if len(m.what) <= 90 else m.what[:87] + "..."
            lines.append(f"    {m.kind:<12} {what}")
    else:
        lines.append("  product moves: -")
    if ex.statuses:
        lines.append(f"  statuses: {', '.join(ex.statuses)}")
    return "\n".join(lines)
