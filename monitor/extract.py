"""The understanding stage: figures, roles, investors, cloud partners, product moves, statuses.

Everything here is a pure function of the text. Rules are general and sentence-level:
a figure's role comes from the nearest cue word in its sentence (a cue is blocked by another
figure standing between them), its subject from the watchlist mentions around it, and a
sentence that speculates ("could", "would", "if", "watch whether") yields nothing.
All regexes are compiled at import; the per-watchlist ones are cached.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

from monitor import moves, names
from monitor.figures import Amount, scan_amounts
from monitor.match import (
    Watchlist,
    compile_watchlist,
    default_watchlist,
    match_text,
    reports_news,
    reseller_host,
)
from monitor.models import Document, Extraction, Fact, Mention
from monitor.names import NAME_RE as _NAME_RE
from monitor.names import NOT_NAMES as _NOT_NAMES
from monitor.names import canonical_name
from monitor.names import is_name as _is_name
from monitor.names import split_item as _split_item


def _strip_leading_b(p: str) -> str:
    """Drop the `\\b` that opens an alternative at the start of a match (checked afterwards instead):
    a pattern that starts with plain literals lets `re` skip ahead with its fast prefix scan."""
    out: list[str] = []
    i = 0
    lead = [True]
    at_start = True
    while i < len(p):
        c = p[i]
        if c == "\\":
            tok = p[i:i + 2]
            i += 2
            if tok == "\\b" and at_start and lead[-1]:
                continue
            out.append(tok)
            at_start = False
        elif c == "[":
            j = _skip_class(p, i)
            out.append(p[i:j])
            i = j
            at_start = False
        elif c == "(":
            m = re.match(r"\((?:\?:|\?P<\w+>|\?<?[=!])?", p[i:])
            opener = m.group(0) if m else "("
            lead.append(at_start and lead[-1] and opener not in ("(?=", "(?!", "(?<=", "(?<!"))
            out.append(opener)
            i += len(opener)
            at_start = True
        elif c == ")":
            lead.pop()
            out.append(c)
            i += 1
            at_start = False
        elif c == "|":
            out.append(c)
            i += 1
            at_start = True
        else:
            out.append(c)
            i += 1
            at_start = False
    return "".join(out)


def _skip_class(p: str, i: int) -> int:
    """Index just past the ']' closing the character class opened at p[i] == '['."""
    j = i + 1
    if p[j] == "^":
        j += 1
    if p[j] == "]":
        j += 1
    while p[j] != "]":
        j += 2 if p[j] == "\\" else 1
    return j + 1


def _scan_group_end(p: str, i: int) -> int:
    """Index just past the ')' that closes the group opened at p[i] == '('."""
    depth = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _skip_class(p, i)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced pattern: {p!r}")


def _split_alts(p: str) -> list[str]:
    """Top-level alternatives of a pattern."""
    alts: list[str] = []
    start = i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
        elif c == "[":
            i = _skip_class(p, i)
        elif c == "(":
            i = _scan_group_end(p, i)
        elif c == "|":
            alts.append(p[start:i])
            i += 1
            start = i
        else:
            i += 1
    alts.append(p[start:])
    return alts


def _flatten(p: str, budget: int = 400) -> str:
    """Rewrite '(?:a|b)x|c' as 'ax|bx|c' and '(?:a)?x' as 'ax|x' so that every alternative starts
    with a literal: `re` then skips ahead with a first-character set, ~4x faster on long texts."""
    out: list[str] = []
    todo = _split_alts(p)
    while todo and budget > 0:
        budget -= 1
        alt = todo.pop(0)
        if alt.startswith("(?:"):
            end = _scan_group_end(alt, 0)
            inner, rest = alt[3:end - 1], alt[end:]
            if rest[:1] == "?" and rest[1:2] != "?":
                todo[:0] = [inner_alt + rest[1:] for inner_alt in _split_alts(inner)] + [rest[1:]]
                continue
            if rest[:1] not in ("*", "+", "{", "?"):
                todo[:0] = [inner_alt + rest for inner_alt in _split_alts(inner)]
                continue
        out.append(alt)
    if todo:
        return p  # too many combinations: keep the original
    return "|".join(out)


def _lc(pattern: str) -> re.Pattern[str]:
    """Compile a case-insensitive pattern for *lower-cased* text, which `re` scans several times faster.

    Use with `_hits` / `_first`, which re-check the word boundary that `_strip_leading_b` removed."""
    p = _strip_leading_b(pattern.lower().replace("(?p<", "(?P<"))
    try:
        return re.compile(_flatten(p))
    except re.error:  # e.g. a named group would be duplicated
        return re.compile(p)


def _ok_start(low: str, s: int) -> bool:
    if s == 0 or not low[s].isascii() or not low[s].isalpha():
        return True
    prev = low[s - 1]
    return not (prev.isascii() and prev.isalnum())


def _hits(rx: re.Pattern[str], low: str, pos: int = 0, endpos: int | None = None) -> Iterator[re.Match[str]]:
    for m in rx.finditer(low, pos, len(low) if endpos is None else endpos):
        if _ok_start(low, m.start()):
            yield m


def _first(rx: re.Pattern[str], low: str) -> re.Match[str] | None:
    return next(_hits(rx, low), None)


def lower_same_length(text: str) -> str:
    """text.lower(), keeping offsets valid (a few characters grow when lower-cased, e.g. 'İ')."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


_CJK_RE = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff]")  # any CJK/Hangul character

# ---------------------------------------------------------------- sentences

_ABBREV = frozenset(
    "mr mrs ms dr prof st jr sr inc ltd co corp vs etc e.g i.e no u.s u.k approx est jan feb mar apr jun jul aug "
    "sep sept oct nov dec rep sen gov gen fig".split()
)
_BOUNDARY = re.compile(r"\n+|[.!?]+[\"”’)\]]*[ \t]+|[。！？；]+[\"”’」）)]*\s*|[→·][ \t]+")


@dataclass(frozen=True, slots=True)
class _Sentence:
    start: int
    end: int
    text: str
    low: str  # lower-cased text, same offsets
    speculative: bool
    attributed: bool


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) over `text`; lines always end a sentence, abbreviations do not."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        tok = m.group(0)
        if tok[0] == ".":
            word = re.search(r"([\w.]+)$", text[max(0, m.start() - 12):m.start()])
            w = word.group(1).lower() if word else ""
            nxt = text[m.end():m.end() + 1]
            if w in _ABBREV or (len(w) == 1 and w.isalpha()) or (nxt and nxt.islower()):
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

# ---------------------------------------------------------------- roles

_ROLE_CUES: list[tuple[str, int, re.Pattern[str]]] = [
    ("valuation", 0, _lc(r"\b(?:valuations?|valued\s+at|post-money|pre-money|market\s+value\s+of|"
                         r"valu(?:es|ing)\s+(?:(?:the|its|it|a|an)\s+)?(?:[\w-]+\s+){0,3}?at|"
                         r"avaliad[ao]s?|avalia[çc][ãa]o|valoraci[oó]n|valorad[ao]|valuad[ao]|bewertet|bewertung)\b"
                         r"|估值|評価額|기업\s*가치")),
    ("capex", 0, _lc(r"\b(?:capital\s+expenditures?|capital\s+spending|capex)\b|资本开支|资本支出|資本開支|資本支出")),
    ("revenue", 0, _lc(
        r"\b(?:revenues?|annuali[sz]ed\s+revenue(?:\s+run[- ]rate)?|run[- ]rate|turnover|sales)\b|\bARR\b|"
        r"营收|营业收入|收入|營收|營業收入|売上高?|매출")),
    ("round_size", 0, _lc(
        r"\b(?:rais(?:e|es|ed|ing)|round|financings?|funding|fund-?rais(?:e|ing)|inject(?:s|ed|ing|ion)?|"
        r"capped\s+at|tranches?|series\s+[a-f]|capital\s+increase|capital\s+injection|bringing\s+in|"
        r"brought\s+in|secured|rodada|financiamento|ronda|financiaci[oó]n|levantou|recaud[oó]|recauda|"
        r"capta|captou|captar|capta[çc][ãa]o|levanta|levantar|"
        r"finanzierungsrunde)\b|融资|融資|募资|募資|注资|注資|增资|增資|集资|集資|追加投资|追加投資|轮|輪|資金調達|"
        r"투자\s*유치|투자를\s*유치")),
    ("round_size", 45, _lc(r"\binvestors\b|投资方|投资者")),
    ("investment", 0, _lc(r"\b(?:invest(?:s|ed|ing)?|investment|contribut(?:es|ed|ing))\b|投资了?|出资")),
    ("stake", 0, _lc(
        r"\b(?:stakes?|equity|registered\s+capital|shareholding|ownership|owns|holds|interest\s+in)\b|"
        r"股权|股份|注册资本|註冊資本|持股")),
    ("users", 0, _lc(
        r"\b(?:users?|MAUs?|DAUs?|creators?|subscribers?|members|user\s+base|monthly\s+active|daily\s+active)\b|"
        r"用户|用戶|创作者|創作者|订阅|訂閱|月活|日活")),
]
_MONEY_ROLES = frozenset({"valuation", "capex", "revenue", "round_size", "investment"})
_CUE_BARRIER = re.compile(r"[,;，；、：:]")
CUE_BARRIER_PENALTY = 12
CUE_INTRODUCES = 6  # a cue followed within this many characters by a figure belongs to that figure
# "a jump of about $1.5 billion", "up 20%", "rose by 30%": a change, not a total.
_REL_BEFORE = _lc(
    r"(?:\b(?:jump|increase|rise|growth|gain|decline|drop|decrease|fall|surge|boost|climb|hike|cut|reduction|"
    r"uplift|expansion)s?\s+(?:of|by)|\b(?:jump(?:ed|s)?|increas(?:ed|es|ing)|r(?:ose|ises?|ising)|gr(?:ew|ows?|owing)|"
    r"gain(?:ed|s)?|declin(?:ed|es)|dropp(?:ed)|decreas(?:ed|es)|f(?:ell|alls?)|surg(?:ed|es)|climb(?:ed|s)|"
    r"soar(?:ed|s)|plung(?:ed|es)|slid|added|up|down|higher\s+by|lower\s+by)(?:\s+(?:by|another))?|同比增长|同比下降|"
    r"增长了?|增加了?|下降了?|减少了?|提升了?)\s*(?:(?:about|around|roughly|approximately|nearly|almost|some|"
    r"more\s+than|over|约|近)\s*)?$"
    # the earlier value of a change: "up from $100 million", "compared with RMB 30 billion"
    r"|(?:up|down|rising|falling|rose|fell|increased|decreased|grew|jumped)\s+from\s+(?:about\s+|around\s+|roughly\s+)?$"
    r"|(?:compared\s+(?:with|to)|versus|vs\.?|a\s+year\s+earlier\s+of)\s+(?:about\s+|around\s+)?$")
_REL_AFTER = _lc(
    r"^\s*(?:(?:more|higher|lower|less|bigger|smaller)\s+than|(?:year[- ]on[- ]year|yoy|y/y|quarter[- ]on[- ]quarter|"
    r"from\s+(?:a\s+year|the\s+(?:previous|prior|same)|last\s+year|(?:its\s+)?20\d\d)|over\s+(?:the\s+)?(?:previous|prior|last)"
    r"|compared\s+(?:with|to)|versus|vs\.?)\b|increase|rise|jump|growth|decline)")
# "55% compute", "of the proceeds will go to": an allocation, never a stake.
_ALLOCATION = _lc(r"\b(?:allocat\w*|earmark\w*|go(?:es)?\s+to(?:ward)?|of\s+(?:the\s+)?(?:proceeds|funds|budget)|"
                         r"spent\s+on|used\s+for|breakdown)\b|用于|用於")
_USER_NOUN_AFTER = _lc(
    r"^\s*(?:(?:monthly|daily|weekly|active|paying|paid|registered|global|new|total|cumulative|individual|"
    r"enterprise|content|overseas|international|more|plus|\+)\s+){0,3}(?:users?|MAUs?|DAUs?|creators?|subscribers?|"
    r"members|paying\s+users|accounts)\b|^\s*[名位个個]?(?:用户|用戶|创作者|創作者|订阅用户|付费用户|会员|會員)")
_USER_NOUN_BEFORE = _lc(
    r"(?:\b(?:users?|MAUs?|DAUs?|monthly\s+active\s+users|daily\s+active\s+users|user\s+base|subscribers|creators)"
    r"\s*(?:of|at|reached|hit|topped|surpassed|exceeded|to|stood\s+at|grew\s+to|rose\s+to|number(?:ed)?|totall?ed)"
    r"|(?:用户|用戶|创作者|創作者|月活|日活)(?:数量|數量|数|數|规模|規模)?(?:已)?(?:达到?|達到?|突破|超过|超過|为|為|增至)?)\s*"
    r"(?:(?:about|around|roughly|approximately|nearly|almost|more\s+than|over|at\s+least|约|近|超过)\s*)?$")
_PERIOD = _lc(
    r"\b(?P<qq>Q[1-4]|H[12]|[1-4]Q)\s*(?P<qy>20\d\d)\b"
    r"|\b(?P<ord>first|second|third|fourth)\s+quarter\s+(?:of\s+)?(?P<oy>20\d\d)\b"
    r"|\b(?P<half>first|second)\s+half\s+(?:of\s+)?(?P<hy>20\d\d)\b"
    r"|\b(?:FY|fiscal\s+(?:year\s+)?)\s?(?P<fy>20\d\d)\b"
    r"|\b(?:for|in|during|through|throughout|of)\s+(?:the\s+)?(?:(?:full|whole)[- ]year\s+)?(?P<y>20\d\d)\b(?!\s*(?:levels?|figures?))"
    r"|(?P<cy>20\d\d)\s*年(?:度)?(?:(?P<cq>第?[一二三四1-4]季度|上半年|下半年|全年))?"
    # a quarter without its year ("in the first quarter", "第一季度"): the year comes from the publication date
    r"|\b(?P<nq>first|second|third|fourth)[- ]quarter\b|\b(?P<bq>Q[1-4])\b|(?P<zq>第[一二三四1-4]季度|[一二三四]季度)"
    r"|\b(?:three|3)[- ]months?\s+(?:ended|ending|to)\s+(?P<tm>march|june|september|december)\s+3[01]\b"
    r"(?:,?\s+(?P<tmy>20\d\d))?")
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


# ---------------------------------------------------------------- helpers


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
class _Ctx:
    text: str
    low: str
    sents: list[_Sentence]
    starts: list[int]
    mentions: tuple[Mention, ...]
    mention_starts: list[int]
    watch: Watchlist
    wre: _WatchRegex
    published: datetime | None = None

    def sent_index(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self.starts, pos) - 1)

    def mentions_in(self, start: int, end: int) -> list[Mention]:
        lo = bisect.bisect_left(self.mention_starts, start)
        hi = bisect.bisect_left(self.mention_starts, end)
        return list(self.mentions[lo:hi])

    def last_entity_before(self, pos: int) -> str | None:
        i = bisect.bisect_left(self.mention_starts, pos)
        return self.mentions[i - 1].entity if i > 0 else None


def _build_ctx(text: str, mentions: tuple[Mention, ...], watch: Watchlist,
               published: datetime | None = None) -> _Ctx:
    sents = []
    low = lower_same_length(text)
    for s, e in split_sentences(text):
        st, sl = text[s:e], low[s:e]
        sents.append(_Sentence(s, e, st, sl, _is_speculative(st, sl), _first(_ATTRIBUTED, sl) is not None))
    return _Ctx(
        text=text, low=low, sents=sents, starts=[s.start for s in sents], mentions=mentions,
        mention_starts=[m.start for m in mentions], watch=watch, wre=_watch_regex(watch), published=published,
    )


def _role_for(a: Amount, sent: _Sentence, others: list[Amount], ctx: _Ctx) -> str | None:
    """The role cue nearest the figure; None when a figure blocks every cue."""
    rel_s, rel_e = a.start - sent.start, (a.conv_end or a.end) - sent.start
    best: tuple[int, str] | None = None
    allowed = ("users",) if a.unit == "count" else ("stake",) if a.unit == "percent" else tuple(_MONEY_ROLES) + ("stake",)
    for role, penalty, rx in _ROLE_CUES:
        if role not in allowed:
            continue
        for m in _hits(rx, sent.low):
            cs, ce = m.start(), m.end()
            if ce <= rel_s:
                dist = rel_s - ce
                lo, hi = ce, rel_s
            elif cs >= rel_e:
                if any(0 <= o.start - sent.start - ce <= CUE_INTRODUCES and o.is_money == a.is_money
                       and (o.is_money or o.unit == a.unit) for o in others if o is not a):
                    continue  # "... at a valuation of $15 billion": the cue introduces the next figure
                dist = cs - rel_e
                lo, hi = rel_e, cs
            else:
                dist, lo, hi = 0, rel_s, rel_s
            if any(lo <= o.start - sent.start < hi and o.unit == a.unit for o in others if o is not a):
                continue  # another figure of the same sort is closer to this cue
            score = dist + penalty
            if _CUE_BARRIER.search(sent.low, lo, hi):
                score += CUE_BARRIER_PENALTY  # a cue across a comma governs its own clause, not this figure
            if best is None or score < best[0]:
                best = (score, role)
    if best is None:
        return None
    role = best[1]
    if role == "stake" and a.is_money:
        return "investment"  # "a $500 million stake": one investor's cheque
    return role


def _subject_for(kind: str, a: Amount, sent: _Sentence, ctx: _Ctx, round_subject: str | None) -> str | None:
    ms = ctx.mentions_in(sent.start, sent.end)
    ents = {m.entity for m in ms}
    if kind in ("round_size", "valuation", "stake", "investment"):
        if "Kling" in ents:
            return "Kling"
        if ms:
            return ms[0].entity
        if round_subject is not None:
            return round_subject  # "the round" keeps meaning the round already being discussed
    else:
        before = [m for m in ms if m.start < a.start]
        if before:
            return before[-1].entity
        if ms:
            return ms[0].entity
        if _first(_GROUP_WORDS, sent.low) and any(m.entity == "Kuaishou" for m in ctx.mentions):
            return "Kuaishou"  # "the company reported revenue ...": the listed parent
    carried = ctx.last_entity_before(sent.start)
    if carried is None and ctx.mentions:
        carried = ctx.mentions[0].entity
    if kind == "capex" and carried is not None and "Kuaishou" in {m.entity for m in ctx.mentions}:
        return "Kuaishou"  # a capex total without a named owner is the group's
    return carried


_GROUP_WORDS = _lc(r"\b(?:the\s+(?:company|group|firm|parent)(?:'s|’s)?|group-wide|company-wide)\b|集团|公司")


_ZH_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}


def _bare_quarter(m: re.Match[str], published: datetime | None) -> str:
    """'Q1 2026' for a quarter named without its year: the latest such quarter ended by publication.

    Earnings coverage names the quarter just reported ("first-quarter revenue" in May 2026 is
    Q1 2026; "fourth quarter" in March 2026 is Q4 2025). Without a date, just 'Q1'.
    """
    if m.group("tm"):
        n = ["march", "june", "september", "december"].index(m.group("tm").lower()) + 1
        if m.group("tmy"):
            return f"Q{n} {m.group('tmy')}"
    elif m.group("nq"):
        n = ["first", "second", "third", "fourth"].index(m.group("nq").lower()) + 1
    elif m.group("bq"):
        n = int(m.group("bq")[1])
    else:
        n = _ZH_DIGIT[m.group("zq").strip("第季度")]
    if published is None:
        return f"Q{n}"
    year = published.year
    quarter_end_month = 3 * n
    if (published.month, published.day) <= (quarter_end_month, 31 if quarter_end_month in (3, 12) else 30):
        year -= 1  # that quarter has not ended yet this year: the text means last year's
    return f"Q{n} {year}"


def _period(sent: _Sentence, a: Amount, published: datetime | None = None) -> str | None:
    best: tuple[int, str] | None = None
    pos = a.start - sent.start
    for m in _hits(_PERIOD, sent.low):
        if m.group("nq") or m.group("bq") or m.group("zq") or m.group("tm"):
            p = _bare_quarter(m, published)
        elif m.group("qq"):
            q = m.group("qq").upper()
            q = f"Q{q[0]}" if q.endswith("Q") else q
            p = f"{q} {m.group('qy')}"
        elif m.group("half"):
            p = f"H{1 if m.group('half').lower() == 'first' else 2} {m.group('hy')}"
        elif m.group("ord"):
            p = f"Q{['first', 'second', 'third', 'fourth'].index(m.group('ord').lower()) + 1} {m.group('oy')}"
        elif m.group("fy"):
            p = f"FY{m.group('fy')}"
        elif m.group("y"):
            p = m.group("y")
        else:
            p = m.group("cy")
            cq = m.group("cq")
            if cq:
                digit = {"一": "1", "二": "2", "三": "3", "四": "4"}
                if "季度" in cq:
                    n = cq.strip("第季度")
                    p = f"Q{digit.get(n, n)} {p}"
                elif cq == "上半年":
                    p = f"H1 {p}"
                elif cq == "下半年":
                    p = f"H2 {p}"
        d = abs(m.start() - pos)
        if best is None or d < best[0]:
            best = (d, p)
    return best[1] if best else None


def _figure_speculative(sent: _Sentence, a: Amount) -> bool:
    """Hedged when the sentence is a hypothetical frame, or a hedge word sits in the figure's own clause:
    "said it would keep investing, with capex of about RMB 17 billion" keeps the capex figure."""
    if not sent.speculative:
        return False
    if _first(_SPECULATIVE_FRAME, sent.low):
        return True
    rs, re_ = a.start - sent.start, (a.conv_end or a.end) - sent.start
    lo = 0
    for m in _CLAUSE_BREAK.finditer(sent.text, 0, rs):
        lo = m.end()
    hi_m = _CLAUSE_BREAK.search(sent.text, re_)
    hi = hi_m.start() if hi_m else len(sent.text)
    clause_low, clause = sent.low[lo:hi], sent.text[lo:hi]
    return (_first(_SPECULATIVE, _unhedge_reported(clause_low)) is not None
            or ("may" in clause_low and _MAY.search(clause) is not None))


def _stage(sent: _Sentence) -> str | None:
    if sent.attributed:
        return "reported"
    for name, rx in _STAGE_WORDS:
        if _first(rx, sent.low):
            return name
    return None


def _has_external_actor(sent: _Sentence, a: Amount, ctx: _Ctx) -> bool:
    """'Tencent invested $500 million': a named company other than the watched ones acts."""
    pre = sent.text[: a.start - sent.start]
    for m in _NAME_RE.finditer(pre):
        for part in _split_item(m.group(0)):
            name = canonical_name(part)
            if _is_name(name, ctx.wre.alias_names) and name.lower() not in _NOT_NAMES:
                return True
    return False


def _facts(ctx: _Ctx) -> list[Fact]:
    text = ctx.text
    amounts = scan_amounts(text)
    if not amounts:
        return []
    by_sent: dict[int, list[Amount]] = {}
    for a in amounts:
        by_sent.setdefault(ctx.sent_index(a.start), []).append(a)
    facts: list[Fact] = []
    round_subject: str | None = None
    for si, group in by_sent.items():
        sent = ctx.sents[si]
        for a in group:
            rs, re_ = a.start - sent.start, (a.conv_end or a.end) - sent.start
            before, after = sent.low[max(0, rs - 60):rs], sent.low[re_:re_ + 60]
            if _first(_REL_BEFORE, before) or _REL_AFTER.search(after):
                continue  # a change, not a total
            if a.unit == "count":
                if a.value < 1000 or not (_USER_NOUN_AFTER.search(after) or _first(_USER_NOUN_BEFORE, before)):
                    continue
                kind: str | None = "users"
            elif a.unit == "percent":
                kind = _role_for(a, sent, group, ctx)
                if kind != "stake" or _first(_ALLOCATION, sent.low) or "|" in sent.text:
                    continue
            else:
                kind = _role_for(a, sent, group, ctx)
                if kind is None and si > 0:
                    prev = ctx.sents[si - 1]
                    if si - 1 not in by_sent:
                        kind = _role_for(replace(a, start=prev.end, end=prev.end, conv_end=None), prev, [], ctx)
                        kind = kind if kind in _MONEY_ROLES else None
                if kind == "investment" and not _has_external_actor(sent, a, ctx):
                    kind = "round_size" if re.search(r"round|financing|funding|融资", sent.text, re.I) else "other"
                if kind in (None, "users", "stake"):
                    kind = "other"
            subject = _subject_for(kind or "other", a, sent, ctx, round_subject)
            if subject is None:
                continue
            if kind in ("round_size", "valuation") and not sent.speculative:
                round_subject = subject
            facts.append(Fact(
                kind=kind or "other",
                subject=subject,
                value=a.value,
                unit=a.unit,
                value_usd=a.value_usd,
                qualifier=a.qualifier,
                range_high=a.range_high,
                period=_period(sent, a, ctx.published) if kind in ("capex", "revenue", "users", "other") else None,
                quote=sent.text.strip(),
                start=a.start,
                end=a.end,
                speculative=_figure_speculative(sent, a),
                stage=_stage(sent),
                alt_value=a.alt_value,
                alt_unit=a.alt_unit,
            ))
    return facts


def _dedupe_facts(facts: list[Fact]) -> list[Fact]:
    """One fact per claim; an unclassified repeat of a classified figure ('the three billion dollars') is dropped."""
    classified = {(f.unit, round(f.value, 2)) for f in facts if f.kind != "other"}
    seen: dict[tuple[object, ...], int] = {}
    out: list[Fact] = []
    for f in facts:
        if f.speculative:
            continue
        if f.kind == "other" and ((f.unit, round(f.value, 2)) in classified or (f.value_usd or f.value) < 1e6):
            continue
        key = (f.kind, f.subject, f.unit, round(f.value, 2), f.range_high, f.qualifier, f.period)
        if key in seen:
            first = out[seen[key]]
            if first.value_usd is None and f.value_usd is not None:
                # "tops 150 million yuan" in the headline, "150 million yuan ($20.8 million)" below: one
                # fact, which keeps the conversion the text gave
                out[seen[key]] = replace(first, value_usd=f.value_usd, alt_value=f.alt_value, alt_unit=f.alt_unit)
            continue
        seen[key] = len(out)
        out.append(f)
    return out


def _statuses(ctx: _Ctx) -> list[str]:
    found: list[tuple[int, str]] = []
    for sent in ctx.sents:
        if sent.speculative or sent.attributed or not _first(_ROUND_CONTEXT, sent.low):
            continue
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
    facts = _dedupe_facts(_facts(ctx))
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
