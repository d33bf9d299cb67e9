"""The facts stage: every figure in a document, what it measures, whose it is, when, and whether it happened.

    segment -> figures -> role (kind, basis) -> not-fact checks -> subject -> period -> status

Each step is a small pure function over one sentence (or the clause of a figure within it). The vocabulary
(metric words, basis words, period words, hedges, analyst cues, rivals, ...) is the `[facts]` table of the
language files in monitor/rules/, compiled here once at import, all languages together (a story often mixes
them: a Chinese quote in an English article, a Korean article naming "Kling AI"). A candidate figure that is
not a fact (an analyst's estimate, a target price, a prior-period comparative, a price tier, a spec, a
rival's figure, a hedge) is returned as a `Dropped` with its reason, for `extract --explain`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from monitor import rules
from monitor.figures import Amount, scan_amounts
from monitor.models import Dropped, Fact, Mention
from monitor.rules.patterns import (
    compile_lc,
    expand,
    factor,
    finditer_at,
    first,
    hits,
    hits_each,
    pattern_set,
)


def _rx(*concepts: str) -> re.Pattern[str]:
    """One pattern for the union of the concepts' words in every language file."""
    words: list[str] = []
    for c in concepts:
        words.extend(rules.words("facts", c))
    items = sorted(dict.fromkeys(words), key=len, reverse=True)
    return compile_lc("(?:" + "|".join(items) + ")" if items else "(?!)")


# ---------------------------------------------------------------- vocabulary (compiled at import)

# role concept -> (kind, basis it implies or None); the basis may be refined by basis words later
ROLES: dict[str, tuple[str | None, str | None]] = {
    "revenue": ("revenue", None),
    "revenue_arr": ("revenue", "arr"),
    "revenue_monthly": ("revenue", "monthly"),
    "revenue_cumulative": ("revenue", "cumulative"),
    "capex": ("capex", None),
    "valuation": ("valuation", None),
    "valuation_market_cap": ("valuation", "market_cap"),
    "round": ("round_size", None),
    "round_ipo": ("round_size", "ipo"),
    "investment": ("investment", None),
    "stake": ("stake", None),
    "users": ("users", None),
    "users_dau": ("users", "dau"),
    "users_mau": ("users", "mau"),
    "users_creators": ("users", "creators"),
    "users_other": ("users", "other"),
    "videos": ("videos_generated", None),
    # not tracked: the figure is dropped with this reason
    # recorded as kind "other" (the ledger keeps them and never announces them)
    "untracked": ("other", None),  # profit, cost, GMV, turnover, share counts, images
    "segment": ("other", None),  # a segment's revenue is not the group's
    "share_price": (None, "a share price"),
    "price_tier": (None, "a membership price tier"),
    "spec": (None, "a spec"),
}
_MONEY_ROLES = ("revenue", "revenue_arr", "revenue_monthly", "revenue_cumulative", "capex", "valuation",
                "valuation_market_cap", "round", "round_ipo", "investment", "stake", "untracked", "segment",
                "share_price", "price_tier")
_COUNT_ROLES = ("users", "users_dau", "users_mau", "users_creators", "users_other", "videos", "untracked", "spec")
_ALL_ROLES = tuple(dict.fromkeys(_MONEY_ROLES + _COUNT_ROLES))
_PENALTY = {"investment": 8, "stake": 4, "round": 2, "users_other": 4, "untracked": 3, "segment": 0}
_ROLE_RX: dict[str, re.Pattern[str]] = {c: _rx(c) for c in ROLES}
_ROLE_SET = pattern_set(_ROLE_RX)  # all the role cues in one scan: see cues_of

_BASIS_RX: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    "revenue": [("arr", _rx("revenue_arr")), ("monthly", _rx("revenue_monthly")),
                ("cumulative", _rx("revenue_cumulative")), ("annual", _rx("basis_annual"))],
    "users": [("dau", _rx("users_dau")), ("mau", _rx("users_mau")), ("creators", _rx("users_creators")),
              ("registered", _rx("basis_registered")), ("paying", _rx("basis_paying")),
              ("other", _rx("users_other")), ("cumulative", _rx("basis_cumulative_users"))],
    "valuation": [("market_cap", _rx("valuation_market_cap")), ("implied", _rx("basis_implied"))],
    "round_size": [("ipo", _rx("round_ipo")), ("cap", _rx("basis_cap")), ("tranche", _rx("basis_tranche")),
                   ("committed_total", _rx("basis_committed"))],
}

_HEDGE = _rx("hedge")
_HEDGE_FRAME = _rx("hedge_frame")
_REPORTED_SPEECH = _rx("reported_speech")
_PLANNED = _rx("planned")
_GUIDANCE = _rx("guidance")
_ANALYST = _rx("analyst")
_ANALYST_NEAR = _rx("analyst_near")
_TARGET_PRICE = _rx("target_price")
_CHANGE_BEFORE = _rx("change_before")
_CHANGE_AFTER = _rx("change_after")
_COMPARATIVE_BEFORE = _rx("comparative_before")
_COMPARATIVE_AFTER = _rx("comparative_after")
_PRICE_AFTER = _rx("price_after")
_SPEC_AFTER = _rx("spec_after")
_ALLOCATION = _rx("allocation")
_USER_NOUN_AFTER = _rx("user_noun_after")
_VIDEO_NOUN_AFTER = _rx("video_noun_after")
_RIVALS = _rx("rivals")
_RIVAL_CUE = _rx("rival_cue")
_RIVAL_LINK = _rx("rival_link")
_ACTOR_NAMES = _rx("actor_names")  # companies that act on the watched ones, named without Latin capitals
_BACK_REFERENCE = _rx("back_reference")  # "its initial investment": the actor of the sentence before
_TOPIC_BREAK = re.compile(r"\s*(?:ai)?\s*[,，:：]")
_KLING_REFS = _rx("kling_refs")
_GROUP_REFS = _rx("group_refs")
_GROUP_METRIC = _rx("group_metric")
_KUAISHOU_NAMES = _rx("kuaishou_names")
_KLING_NAMES = _rx("kling_names")
_ASOF = _rx("as_of")
_FULL_YEAR = _rx("basis_annual")
_WHOLE_YEAR = _rx("whole_year")  # "全年", "full-year": the year, even when a quarter is named beside it
_THIS_QUARTER = _rx("this_quarter")
_ATTRIBUTED = _rx("attribution")
_SEGMENT = _rx("segment")
_BASIS_IPO = _rx("round_ipo", "basis_ipo")
_BASIS_PRE_IPO = _rx("basis_pre_ipo")
_BASIS_ROUND_NAMED = _rx("basis_round_named")
_MARKET_CONTEXT = _rx("basis_market_context")
_UNTRACKED_NOUN_AFTER = _rx("untracked_noun_after")
_VAGUE_BEFORE = _rx("vague_before")
_PERIOD_WORD = _rx("period_word")
_RELATIVE_YEAR = [(-1, _rx("last_year")), (0, _rx("this_year")), (1, _rx("next_year"))]
_COMPARISON_PERIOD = _rx("comparison_period")
_SINCE_AFTER = _rx("since_after")
_LISTING = _rx("listing")  # the listing itself: "IPO", "debuted", "上市", "Börsengang"
_LISTING_DAY = _rx("listing_day")  # its first day of trading: a market value then is the listing's
_SINCE = _rx("since")  # "the biggest IPO since Uber's in May 2019": that date is another listing's
_NOW = _rx("now")  # "its market value now stands at": today's, not the listing's
_TODAY = _rx("today")  # "今(5)日於港交所掛牌", "debuts today": the story is the listing day's
_PRIOR_YEAR_AFTER = _rx("prior_year_after")  # "预计100-150亿元(2024年为88亿元)": the outlook is for the year after
_EACH = _rx("each")  # "2025年4-5月月度訂閱額均突破1億": each month's figure, one fact per month
_MONTH_RANGE = re.compile(
    r"(?<!\d)((?:19|20)\d\d)\s*年\s*(1[0-2]|0?[1-9])\s*月?\s*([-~〜～至到]|和|与|與|及|、)\s*(1[0-2]|0?[1-9])\s*月(?!期)")
# a month without its year ("2 月 5 日", "2月份"); a year-less month in words is read by _PERIOD
_MONTH_DAY = re.compile(r"(?<![\d年])(1[0-2]|0?[1-9])\s*月\s*(?:\d{1,2}\s*日|份)")
SEGMENT = "a segment's figure, not the group's"
_LIST_REASONS = frozenset({"an analyst estimate", "a prior-period comparative", "a target price"})
_STAGES = [(name, _rx(f"stage_{name}")) for name in ("closed", "signed", "filed", "committed")]
_MAY = re.compile(r"\bmay\b")  # lower-case only: "May 2025" is a month, "may become" a hedge

# The period grammar is shared; the words it is made of come from the language files.
_ORD = rules.table("facts", "ordinals")  # first -> 1, 第三 -> 3, 次 -> 2 ...
_MONTHS = rules.table("facts", "months")  # march -> 3, 3月 -> 3 ...
_MONTH_AFTER_DAY = re.compile("(?:" + "|".join(re.escape(k) for k in sorted(_MONTHS, key=len, reverse=True)) + r")\b")
_ORD_ALT = "|".join(re.escape(k) for k in sorted(_ORD, key=len, reverse=True))
_MONTH_ALT = "|".join(re.escape(k) for k in sorted(_MONTHS, key=len, reverse=True))
_Q_WORD = rules.alternation("facts", "quarter_word")
_H_WORD = rules.alternation("facts", "half_word")
_H1 = _rx("first_half")
_H2 = _rx("second_half")
_Y = r"(?:19|20)\d\d"
_PERIOD = re.compile(
    rf"(?P<qy1>{_Y})\s*[-/]?\s*q(?P<q1>[1-4])(?!\d)"  # 2025Q3, 2025-Q3, FY25Q2 is below
    rf"|\bfy\s?(?P<fyq_y>\d\d)\s?q(?P<fyq_q>[1-4])"
    rf"|\b(?:q(?P<q2>[1-4])|(?P<q3>[1-4])q)\s*(?:fy)?\s*'?(?P<qy2>{_Y}|\d\d(?!\d))(?:e\b)?"  # Q3 2025, 3Q25, 1Q25E
    rf"|\b(?P<hh>h[12])\s*(?P<hy>{_Y})"
    rf"|(?P<ordq>{_ORD_ALT})\s*(?:-|\s)?(?:{_Q_WORD})(?:\s+(?:of\s+|de\s+|del\s+|du\s+)?(?P<oqy>{_Y}))?"
    rf"|(?P<oqy2>{_Y})\s*(?:財年|财年|年度|年|년)?\s*(?:度|の)?\s*(?P<ordq2>{_ORD_ALT})\s*(?:{_Q_WORD})"
    rf"|(?P<half>{_H_WORD})(?:\s+(?:of\s+|de\s+|del\s+|du\s+)?(?P<hy2>{_Y}))?"
    rf"|(?P<hy3>{_Y})\s*年?\s*(?P<half2>{_H_WORD})"
    rf"|(?P<mq>[1-4]|[4710]|1[0-2]|[7-9])\s*[〜~～-]\s*(?P<mq2>\d{{1,2}})\s*月期"  # 7〜9月期
    rf"|(?:three|3)[- ]months?\s+(?:and\s+\w+\s+months?\s+)?(?:ended|ending|to)\s+(?P<tm>march|june|september|december)"
    rf"\s+3[01](?:,?\s+(?P<tmy>{_Y}))?"
    rf"|(?P<jy>{_Y})年[^。]{{0,14}}?第(?P<jq>[1-4])四半期"
    rf"|(?P<my>{_Y})\s*年\s*(?P<mm>1[0-2]|0?[1-9])\s*月(?![〜~～-])"
    rf"|(?P<mon>{_MONTH_ALT})(?:\s+(?:\d{{1,2}},?\s+)?(?:de\s+|of\s+)?(?P<mony>{_Y}))?"
    rf"|\b(?:fy|fiscal\s+(?:year\s+)?)\s?(?P<fy>{_Y}|\d\d)\b"
    rf"|(?P<cy>{_Y})\s*(?:财年|財年|年度|年|년)"
    rf"|(?<![\d.,$€¥])(?P<y>{_Y})(?![\d%])",
)

# Where a period can start: the head of each _PERIOD alternative, as literals `re` can skip to (its own
# alternatives all start with a group, which `re` tries at every character: ~1 µs a character). Dropping
# the look-arounds and what follows a head makes it match wherever _PERIOD does, and a little more.
_PERIOD_PLACES = re.compile(factor("|".join([
    r"19\d\d", r"20\d\d", "fy", r"fiscal\s", "h1", "h2", *[f"q{n}" for n in "1234"], *[f"{n}q" for n in "1234"],
    *[re.escape(k) + rf"\s*(?:-|\s)?(?:{_Q_WORD})" for k in _ORD],
    *[x for w in rules.words("facts", "half_word") for x in expand(w)],
    *[rf"{d}\d?\s*[〜~～-]" for d in "0123456789"], "three[- ]", "3[- ]",
    *[re.escape(k) for k in _MONTHS],
])))


def period_matches(low: str, pos: int = 0, endpos: int | None = None) -> Iterator[re.Match[str]]:
    """`_PERIOD.finditer(low, pos, endpos)`, six times faster."""
    return finditer_at(_PERIOD, _PERIOD_PLACES, low, pos, endpos)


_CLAUSE_BREAK = re.compile(r"[,;:—–()（），；：、|│]\s?|\s-\s")
_BARRIER = re.compile(r"[,;，；、：:()（）]")
_AFTER_BARRIER = re.compile(r"\band\b|\bwhile\b|\bwith\b|[、和及与與]")  # "RMB35.0bn and adjusted net profit ..."
# Every alternative starts with one of a few characters, so `re` skips ahead (6x faster than "\s*…|...").
_BOUNDARY = re.compile(
    r"[\n.!?。！？；;…→·\[ ](?:(?<=\n)\n*|(?<=[.!?])[.!?]*[\"”’)\]]*[ \t]+|(?<=[。！？；;])[。！？；;]*[\"”’」）)]*\s*"
    r"|(?<=…)…*\s*|(?<=[→·])[ \t]*|(?<=\[)\d+\]\s*|(?<= )[-•▪]+ (?=\S))")
# Where a story names a quarter with its year ("Q2 2025", "2Q25", "FY25Q2", "2025年第三季度"): cheap to find,
# then read with _PERIOD.
_QUARTER_WITH_YEAR = re.compile(
    r"(?:q[1-4]|[1-4]q)\s*'?(?:20)?\d\d(?!\d)|20\d\d\s*[-/]?\s*q[1-4]|fy\d\dq[1-4]"
    r"|20\d\d\s*年?\s*(?:度|の)?\s*第?[一二三四1-4]\s*(?:季度|季|四半期)|(?:first|second|third|fourth)\s+quarter\s+(?:of\s+)?20\d\d"
    r"|(?:three|3)[- ]months?\s+(?:and\s+\w+\s+months?\s+)?(?:ended|ending)\s+\w+\s+3[01],?\s+20\d\d"
    r"|\d{1,2}\s*[〜~～-]\s*\d{1,2}\s*月期|20\d\d年[^。]{0,14}?第[1-4]四半期")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_BARE_QUARTER = re.compile(r"次季|首季|第[一二三四1-4]季|[一二三四]季度|\bq[1-4]\b|\b(?:first|second|third|fourth)[- ]quarter")
# Where each can start (see finditer_at): heads that `re` skips to. _QUARTER_WITH_YEAR's "\d{1,2}…月期" is
# screened by its ASCII digits only: a text with other digits is read by the plain pattern.
_QUARTER_WITH_YEAR_PLACES = re.compile(factor(
    "q1|q2|q3|q4|1q|2q|3q|4q|20|fy|first|second|third|fourth|three|3|" + "|".join(rf"{d}\d?\s*[〜~～-]" for d in "0123456789")))
_OTHER_DIGIT = re.compile(r"[^\D0-9]")
_YEAR_PLACES = re.compile("19|20")
_BARE_QUARTER_PLACES = re.compile(factor("次季|首季|第|一季度|二季度|三季度|四季度|q1|q2|q3|q4|first|second|third|fourth"))
_FULLWIDTH_DIGIT = re.compile(r"[０-９]")
_ABBREV = frozenset(
    "mr mrs ms dr prof st jr sr inc ltd co corp vs etc e.g i.e no u.s u.k approx est jan feb mar apr jun jul aug "
    "sep sept oct nov dec rep sen gov gen fig mrd mio mln bn".split())
CUE_BARRIER_PENALTY = 12
CUE_INTRODUCES = 6  # a cue followed within this many characters by a figure belongs to that figure
FULLWIDTH = str.maketrans("０１２３４５６７８９．，％", "0123456789.,%")


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    text: str
    low: str


_WORD_END = re.compile(r"([\w.]+)$")


def word_before(text: str, pos: int) -> str:
    """The lower-cased word (dots included: "u.s") that ends at `pos`."""
    word = _WORD_END.search(text[max(0, pos - 12):pos])
    return word.group(1).lower() if word else ""


def period_ends_sentence(text: str, word: str, after: int, abbreviations: frozenset[str]) -> bool:
    """A period after an abbreviation or an initial, or before a lower-case letter, ends no sentence."""
    nxt = text[after:after + 1]
    return not (word in abbreviations or (len(word) == 1 and word.isalpha()) or (nxt and nxt.islower()))


def segment(text: str, low: str) -> list[Sentence]:
    """Sentences, where lines, bullets, '…' and '；' also end one (quotes join fragments with ' … ')."""
    out: list[Sentence] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        tok = m.group(0)
        if tok[0] == ".":
            w = word_before(text, m.start())
            if not period_ends_sentence(text, w, m.end(), _ABBREV):
                continue
            if w.isdigit() and len(w) <= 2 and _MONTH_AFTER_DAY.match(low, m.end()):
                continue  # "am 5. Februar": a German date, not a sentence's end
        end = m.start() + len(tok.rstrip()) if tok[0] in ".!?。！？" else m.start()
        if text[start:end].strip():
            out.append(Sentence(start, end, text[start:end], low[start:end]))
        start = m.end()
    if text[start:].strip():
        out.append(Sentence(start, len(text), text[start:], low[start:]))
    return out


def clause_span(sent: Sentence, rs: int, re_: int) -> tuple[int, int]:
    """The comma/semicolon-delimited clause around [rs, re_) (offsets within the sentence)."""
    lo = 0
    for m in _CLAUSE_BREAK.finditer(sent.text, 0, rs):
        if not _inside_number(sent.text, m.start()):
            lo = m.end()
    hi = len(sent.text)
    for m in _CLAUSE_BREAK.finditer(sent.text, re_):
        if not _inside_number(sent.text, m.start()):
            hi = m.start()
            break
    return lo, hi


def _inside_number(s: str, i: int) -> bool:
    return 0 < i < len(s) - 1 and s[i] == "," and s[i - 1].isdigit() and s[i + 1].isdigit()


# ---------------------------------------------------------------- context


class Positions:
    """Where a position falls in a text read as sentences and mentions: shared by the facts stage's
    Doc and the extractor's context, which both keep sentence starts and sorted mentions."""

    __slots__ = ()
    starts: list[int]
    mentions: tuple[Mention, ...]
    mention_starts: list[int]

    def sent_index(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self.starts, pos) - 1)

    def mentions_in(self, start: int, end: int) -> list[Mention]:
        lo = bisect.bisect_left(self.mention_starts, start)
        hi = bisect.bisect_left(self.mention_starts, end)
        return list(self.mentions[lo:hi])


@dataclass(slots=True)
class Doc(Positions):
    text: str
    low: str
    sents: list[Sentence]
    starts: list[int]
    mentions: tuple[Mention, ...]
    mention_starts: list[int]
    published: datetime | None
    default_quarter: str | None  # the one quarter a results story is about, when it names exactly one
    max_year: int | None
    default_year: str | None = None  # the one year a story names, when it names one and no quarter
    listed: dict[str, bool] = field(default_factory=dict)  # known listing month -> the story dates it
    known_listings: Mapping[str, str] = field(default_factory=dict)  # entity -> the month it listed
    before_listing: list[datetime | None] = field(default_factory=list)  # computed once: see _written_before


def _doc(text: str, low: str, mentions: tuple[Mention, ...], published: datetime | None,
         amounts: list[Amount]) -> Doc:
    sents = segment(text, low)
    quarters: set[str] = set()
    year_hits = list(finditer_at(_YEAR, _YEAR_PLACES, low))
    years = [int(y.group(0)) for y in year_hits]
    # the story's quarter is named in its opening or beside its figures
    head = low[:400] + "\n" + "\n".join(low[max(0, a.start - 120):a.end + 60] for a in amounts)
    for q in (_QUARTER_WITH_YEAR.finditer(head) if _OTHER_DIGIT.search(head) else
              finditer_at(_QUARTER_WITH_YEAR, _QUARTER_WITH_YEAR_PLACES, head)):
        if head[q.end():q.end() + 1] == "e":
            continue  # "3Q25E": an analyst's estimate period, not the story's quarter
        if first(_COMPARISON_PERIOD, head[max(0, q.start() - 20):q.start()]) is not None:
            continue  # "compared with Q1 2025", "較首季的": the quarter a figure is compared with
        m = _PERIOD.match(head, q.start())
        p = _period_of(m, published, None) if m else None
        if p and "-Q" in p:
            quarters.add(p)
    if not quarters:
        for q in finditer_at(_BARE_QUARTER, _BARE_QUARTER_PLACES, head):
            if first(_COMPARISON_PERIOD, head[max(0, q.start() - 20):q.start()]) is not None:
                continue
            m = _PERIOD.match(head, q.start())
            p = _period_of(m, published, None) if m else None
            if p and re.fullmatch(r"Q[1-4]", p) and years:
                p = f"{max(years)}-{p}"
            if p and "-Q" in p:
                quarters.add(p)
    dq = next(iter(quarters)) if len(quarters) == 1 else None
    # the one year an undated story names, leaving out another event's record ("the biggest listing since ... in
    # May 2019") and a comparison ("compared with 2023")
    own = {y.group(0) for y in year_hits if first(_SINCE, low[max(0, y.start() - 80):y.start()]) is None
           and first(_COMPARISON_PERIOD, low[max(0, y.start() - 20):y.start()]) is None} if (
        published is None and years and not quarters) else set()
    dy = own.pop() if len(own) == 1 else None
    return Doc(text, low, sents, [s.start for s in sents], mentions, [m.start for m in mentions], published, dq,
               max(years) if years else None, dy)


# ---------------------------------------------------------------- role


Cues = dict[str, list[tuple[int, int]]]


CUE_REACH = 100  # how far from a figure a cue is looked for (a farther one never wins)


def cues_of(sent: Sentence, roles: tuple[str, ...], spans: list[tuple[int, int]] | None = None) -> Cues:
    """Every role cue in the parts of a sentence around its figures, found once for all of them."""
    windows: list[tuple[int, int]] = []
    for s, e in sorted(spans or [(0, len(sent.low))]):
        lo, hi = max(0, s - CUE_REACH), min(len(sent.low), e + CUE_REACH)
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(hi, windows[-1][1]))
        else:
            windows.append((lo, hi))
    out: Cues = {role: [] for role in roles}
    for lo, hi in windows:
        for role, found in hits_each(_ROLE_SET, roles, sent.low, lo, hi).items():
            out[role].extend(found)
    return out


def role_of(a: Amount, sent: Sentence, others: list[Amount], cues: Cues | None = None,
            scored: list[int] | None = None) -> tuple[str, int] | None:
    """The role concept whose cue is nearest the figure in its sentence, and the cue's offset; None if none.

    A cue across a comma costs more (it governs its own clause); a cue with another figure of the same
    sort between it and this one is that figure's; a cue just before the next figure introduces it."""
    rs, re_ = a.start - sent.start, (a.conv_end or a.end) - sent.start
    allowed = _COUNT_ROLES if a.unit == "count" else ("stake",) if a.unit == "percent" else _MONEY_ROLES
    if cues is None:
        cues = cues_of(sent, allowed)
    best: tuple[int, int, str, int] | None = None
    for role in allowed:
        for cs, ce in cues.get(role, ()):
            if ce <= rs:
                dist, lo, hi = rs - ce, ce, rs
            elif cs >= re_:
                if cs - re_ > 1 and any(0 <= o.start - sent.start - ce <= CUE_INTRODUCES and o.is_money == a.is_money
                       and (o.is_money or o.unit == a.unit) for o in others if o is not a):
                    continue
                dist, lo, hi = cs - re_, re_, cs
            else:
                dist, lo, hi = 0, rs, rs
            if any(lo <= o.start - sent.start < hi and (o.unit == a.unit or (o.is_money and a.is_money))
                   for o in others if o is not a):
                continue
            score = dist + _PENALTY.get(role, 0)
            if cs >= re_ and _AFTER_BARRIER.search(sent.low, lo, hi):
                score += 3 * CUE_BARRIER_PENALTY  # "RMB35.0bn and adjusted net profit ...": the next figure's cue
            elif _BARRIER.search(sent.low, lo, hi):
                score += CUE_BARRIER_PENALTY
            if best is None or (score, -(ce - cs)) < best[:2]:
                best = (score, -(ce - cs), role, cs)  # on a tie the longer cue ("daily active users") wins
    if best is None:
        return None
    if scored is not None:
        scored.append(best[0])
    return best[2], best[3]


def basis_of(kind: str, role: str, sent: Sentence, clause: tuple[int, int], period: str | None,
             status: str) -> str | None:
    """What the figure measures within its kind, from the words of its clause (then its sentence, its period)."""
    clause_low = sent.low[clause[0]:clause[1]]
    implied = ROLES[role][1]
    quarterly = bool(period and "-Q" in period)
    for name, rx in _BASIS_RX.get(kind, []):
        if name == "annual" and quarterly:
            continue
        if first(rx, clause_low) is not None:
            if kind != "revenue" or implied is None or name == implied:
                implied = implied or name
                break
    if kind == "revenue":
        if status == "guidance":
            return "guidance"
        if implied:
            return implied
        if quarterly:
            return "quarterly"
        if period and re.fullmatch(r"\d{4}", period):
            return "annual"
        if period and re.fullmatch(r"\d{4}-\d\d", period):
            return "monthly"
        return None
    if kind == "users":
        return implied or "other"  # a running total says so ("cumulative", "累计", "全球用户", "확보")
    if kind == "valuation":
        if implied == "market_cap" and status == "planned":
            return "implied"
        if implied is None and first(_MARKET_CONTEXT, sent.low) is not None:
            return "market_cap"  # "shares tripled, propelling the valuation to $160bn"
        if implied is None and status == "planned" and first(_BASIS_IPO, sent.low) is not None:
            return "implied"
        return implied or "private"
    if kind == "round_size":
        if implied in (None, "ipo") and first(_BASIS_PRE_IPO, sent.low) is not None:
            return "round"
        if implied is None and first(_BASIS_ROUND_NAMED, clause_low) is not None:
            return "round"  # "filed a $3B funding round ... with the Hong Kong Stock Exchange"
        if implied is None and first(_BASIS_IPO, sent.low) is not None:
            return "ipo"
        return implied or "round"
    return implied


# ---------------------------------------------------------------- not-facts


def _comparative(a: Amount, sent: Sentence) -> bool:
    rs, re_ = a.start - sent.start, (a.conv_end or a.end) - sent.start
    return first(_COMPARATIVE_BEFORE, sent.low[max(0, rs - 60):rs]) is not None or _COMPARATIVE_AFTER.search(
        sent.low[re_:re_ + 40]) is not None


def not_fact(a: Amount, sent: Sentence, clause: tuple[int, int], cue: int | None, kind: str) -> str | None:
    """Why this candidate is not a fact, or None when it is one."""
    rs, re_ = a.start - sent.start, (a.conv_end or a.end) - sent.start
    low = sent.low
    before, after = low[max(0, rs - 60):rs], low[re_:re_ + 40]
    if first(_TARGET_PRICE, low[max(0, rs - 40):rs]) is not None:
        return "a target price"
    if first(_CHANGE_BEFORE, before) is not None or _CHANGE_AFTER.search(after):
        return "a change, not a level"
    if _comparative(a, sent):
        return "a prior-period comparative"
    if _PRICE_AFTER.search(after):
        return "a membership price tier"
    if a.unit == "count" and _SPEC_AFTER.search(after):
        return "a spec"
    lo = clause[0]
    if first(_ANALYST_NEAR, low[min(lo, max(0, rs - 40)):rs]) is not None:
        return "an analyst estimate"
    if first(_ANALYST, low[:rs]) is not None and first(_REPORTED_SPEECH, low) is None:
        return "an analyst estimate"
    if a.unit == "percent" and (first(_ALLOCATION, low) is not None or "|" in sent.text):
        return "an allocation"
    seg_window = low[max(0, rs - 80):rs]
    # a segment named before the unit's own name is not this figure's: "其他服務類目中，…可靈AI，收入超過2.5億元"
    named = [m.end() for m in hits(_KLING_NAMES, seg_window) if _TOPIC_BREAK.match(seg_window, m.end())]
    seg_hits = [m.end() for m in hits(_SEGMENT, seg_window[max(named, default=0):])]
    if kind == "revenue" and seg_hits and first(_GROUP_METRIC, seg_window[max(named, default=0) + seg_hits[-1]:]) is None:
        return SEGMENT
    # a rival named closer to the figure than either watched company, or right after it ("600 million of Douyin")
    start = max(0, rs - 120)
    head = low[start:rs]
    rival = None
    for m in hits(_RIVALS, head):
        rival = m.end()
    if rival is not None:
        watched = [m.end() for m in hits(_KLING_NAMES, head)] + [m.end() for m in hits(_KUAISHOU_NAMES, head)]
        linked = start + rival >= clause[0] or first(_RIVAL_LINK, head[rival:]) is not None
        if linked and (not watched or max(watched) < rival):
            return "a rival's figure"
    tail = low[re_:min(re_ + 25, clause[1])]
    owner = first(_RIVALS, tail)
    if owner is not None and first(_KLING_NAMES, tail[:owner.start()]) is None and first(
            _KUAISHOU_NAMES, tail[:owner.start()]) is None:
        return "a rival's figure"  # "600 milioni di Douyin", "8 miliardi raccolti da Uber"
    if cue is not None and first(_RIVAL_CUE, low[max(0, min(cue, rs) - 30):min(cue, rs)]) is not None:
        return "a rival's figure"
    return None


def hedged(sent: Sentence, clause: tuple[int, int]) -> bool:
    """A hypothetical frame for the whole sentence, or a hedge inside the figure's clause (reported speech
    - 'told Reuters the company would seek' - is not a hedge)."""
    if first(_HEDGE_FRAME, sent.low) is not None:
        return True
    c = sent.low[clause[0]:clause[1]]
    if first(_HEDGE, c) is None and _MAY.search(sent.text, clause[0], clause[1]) is None:
        return False
    return first(_REPORTED_SPEECH, sent.low[:clause[1]]) is None


# ---------------------------------------------------------------- subject


def subject_of(kind: str, role: str, a: Amount, sent: Sentence, clause: tuple[int, int], doc: Doc,
               si: int, round_subject: str | None) -> str | None:
    """Whose figure it is: group-wide metrics are Kuaishou's; words that point back at the unit are Kling's;
    else the watched company named nearest before the figure in its clause, the sentence's subject, the
    subject carried from the sentences before."""
    rs = a.start - sent.start
    lo, hi = clause
    clause_low = sent.low[lo:hi]
    ms = doc.mentions_in(sent.start, sent.end)
    in_clause_before = [m for m in ms if sent.start + lo <= m.start < a.start]
    if first(_KLING_REFS, sent.low[max(0, lo - 40):hi]) is not None and not (
            in_clause_before and in_clause_before[-1].entity == "Kuaishou" and role in ("users_dau",)):
        if not any(m.entity == "Kling" for m in ms) or role not in ("round_ipo", "valuation_market_cap", "users_dau"):
            return "Kling"
    if kind in ("round_size", "valuation", "stake", "investment") and role not in (
            "round_ipo", "valuation_market_cap") and any(m.entity == "Kling" for m in ms):
        return "Kling"  # "Kuaishou filed a $3 billion round for Kling AI"
    group_metric = role in ("round_ipo", "valuation_market_cap", "users_dau") or first(_GROUP_METRIC, clause_low)
    if group_metric and not (in_clause_before and in_clause_before[-1].entity == "Kling"
                             and role not in ("round_ipo", "valuation_market_cap")):
        return "Kuaishou"
    if in_clause_before:
        return in_clause_before[-1].entity
    if kind in ("round_size", "valuation", "stake", "investment"):
        ents = {m.entity for m in ms}
        if "Kling" in ents:
            return "Kling"
        if ms:
            return ms[0].entity
        if round_subject is not None:
            return round_subject
    before = [m for m in ms if m.start < a.start]
    if before:
        return _head(before, doc.text)  # the sentence's subject ("Kling AI, Kuaishou's video unit, raised ...")
    if ms:
        return _head(ms, doc.text)
    if first(_GROUP_REFS, sent.low[:rs]) is not None and doc.mentions:
        return "Kuaishou" if any(m.entity == "Kuaishou" for m in doc.mentions) else doc.mentions[0].entity
    for j in range(si - 1, -1, -1):  # the subject carried from the sentences before
        prev = doc.sents[j]
        pm = doc.mentions_in(prev.start, prev.end)
        if pm:
            return _head(pm, doc.text)
        if first(_RIVALS, prev.low[:60]) is not None:
            return None  # the sentence before is about another company (Facebook's 2005 round)
    if doc.mentions and first(_BASIS_IPO, sent.low) is not None:
        return doc.mentions[0].entity  # an IPO told before the company is named: the listed one's
    return None


_NAME_JOIN = re.compile(r"\s*(?:['’]s)?\s*")
_CJK_JOIN = re.compile(r"[^\s,.;:!?，。；：！？、()（）]{0,12}")
_QUOTES = re.compile(r"[\s‘’“”「」『』'\"]+")


def _head(ms: list[Mention], text: str) -> str:
    """The subject a run of names points at: "Kuaishou's Kling AI", "Kuaishou Keling AI" and
    "快手自研视频大模型「可灵」" name the unit, the parent only qualifying it."""
    m0 = ms[0]
    for m1 in ms[1:2]:
        gap = text[m0.end:m1.start]
        gap = _QUOTES.sub("", gap)
        if (m0.entity, m1.entity) == ("Kuaishou", "Kling") and (_NAME_JOIN.fullmatch(gap) or (
                not m0.alias.isascii() and _CJK_JOIN.fullmatch(gap))):
            return m1.entity
    return m0.entity


# ---------------------------------------------------------------- period


def _year(s: str | None, published: datetime | None) -> int | None:
    if not s:
        return None
    if len(s) == 2:
        return 2000 + int(s)
    return int(s)


def _bare_quarter(n: int, published: datetime | None, default: str | None) -> str:
    """A quarter named without its year: the story's quarter if it names one, else the latest such quarter
    ended by the publication date (earnings coverage names the quarter just reported)."""
    if default and default.endswith(f"Q{n}"):
        return default
    if published is None:
        if default:
            return f"{default[:4]}-Q{n}"
        return f"Q{n}"
    year = published.year
    end_month = 3 * n
    if (published.month, published.day) <= (end_month, 31 if end_month in (3, 12) else 30):
        year -= 1
    return f"{year}-Q{n}"


def _period_of(m: re.Match[str], published: datetime | None, default: str | None) -> str | None:
    g = m.groupdict()
    if g["q1"]:
        return f"{g['qy1']}-Q{g['q1']}"
    if g["fyq_q"]:
        return f"20{g['fyq_y']}-Q{g['fyq_q']}"
    if g["q2"] or g["q3"]:
        return f"{_year(g['qy2'], published)}-Q{g['q2'] or g['q3']}"
    if g["hh"]:
        return f"{g['hy']}-{g['hh'].upper()}"
    if g["ordq"] or g["ordq2"]:
        n = _ORD.get(g["ordq"] or g["ordq2"])
        if not isinstance(n, int) or not 1 <= n <= 4:
            return None
        y = g["oqy"] or g["oqy2"]
        return f"{y}-Q{n}" if y else _bare_quarter(n, published, default)
    if g["half"] or g["half2"]:
        h = g["half"] or g["half2"]
        n = 1 if first(_H1, h) is not None else 2
        y = g["hy2"] or g["hy3"] or (str(published.year) if published else None)
        return f"{y}-H{n}" if y else None
    if g["mq"]:
        end = int(g["mq2"])
        if end in (3, 6, 9, 12):
            q = end // 3
            return _bare_quarter(q, published, default)
        return None
    if g["jq"]:
        return f"{g['jy']}-Q{g['jq']}"
    if g["tm"]:
        q = ["march", "june", "september", "december"].index(g["tm"]) + 1
        return f"{g['tmy']}-Q{q}" if g["tmy"] else _bare_quarter(q, published, default)
    if g["my"]:
        return f"{g['my']}-{int(g['mm']):02d}"
    if g["mon"]:
        mon = _MONTHS.get(g["mon"])
        if not isinstance(mon, int):
            return None
        y = g["mony"]
        if not y and published is not None:
            y = str(published.year if mon <= published.month else published.year - 1)
        return f"{y}-{mon:02d}" if y else None
    if g["fy"]:
        return str(_year(g["fy"], published))
    if g["cy"]:
        return g["cy"]
    if g["y"]:
        return g["y"]
    return None


def period_of(kind: str, a: Amount, sent: Sentence, clause: tuple[int, int], doc: Doc, si: int,
              group: list[Amount] | None = None, subject: str | None = None) -> str | None:
    """The period nearest the figure in its clause, else one before it in its sentence (a period after it in
    another clause is usually a comparison: "..., 较一季度增长67%"), else the story's quarter; 'as-of' marks a
    date the text counts up to ("by December 2025", "截至2025年2月")."""
    rs, re_ = a.start - sent.start, (a.conv_end or a.end) - sent.start
    best: tuple[int, str, int] | None = None
    spans = [(o.start - sent.start, (o.conv_end or o.end) - sent.start) for o in group or [a]
             if o is a or (o.unit != "percent" and (o.scaled or o.unit != "count"))]  # bare numbers may be years
    for m in period_matches(sent.low, max(0, rs - 200), min(len(sent.low), max(clause[1], re_) + 40)):
        if any(m.start() < e and m.end() > s for s, e in spans):
            continue  # a figure, not a date ("2000万美元")
        if m.start() > re_ and any(re_ <= s < m.start() for s, _ in spans):
            continue  # beyond another figure: that one's period ("..., from RMB27.7 billion for 2023")
        if m.end() <= rs and any(0 <= m.start() - ((o.conv_end or o.end) - sent.start) <= 12 and o.end <= a.start
                                 and _comparative(o, sent) for o in group or []):
            continue  # a prior figure's date ("from 100 million in December 2019 to 170 million")
        if m.start() > re_ and first(_RIVALS, sent.low[re_:m.start()]) is not None:
            continue  # "the largest IPO since Uber Technologies' 2019 deal"
        if first(_COMPARISON_PERIOD, sent.low[max(0, m.start() - 20):m.start()]) is not None or first(
                _SINCE_AFTER, sent.low[m.end():m.end() + 14]) is not None:
            continue  # "the same period of 2023", "2024年半ばのリリース以来": not the figure's period
        paren_year = re.fullmatch(r"\s*[(（]", sent.low[re_:m.start()]) is not None and sent.low[
            m.end():m.end() + 1] in (")", "）")
        inside = clause[0] <= m.start() < clause[1] or paren_year  # "US$ 220 bilhões (2021)"
        if not inside and m.start() > rs:
            continue
        when = doc.published or (_written_before(doc) if m.group("mon") and not m.group("mony") else None)
        p = _period_of(m, when, doc.default_quarter)
        if p is not None and re.fullmatch(r"Q[1-4]", p) and doc.max_year:
            p = f"{doc.max_year}-{p}"  # undated story: the latest year it names
        if p is None or not re.match(r"\d{4}", p):
            continue
        d = abs(m.start() - rs) + (0 if inside else 200) + (0 if m.start() < rs else 20)
        if m.end() <= rs and any(o is not a and 0 <= m.start() - ((o.conv_end or o.end) - sent.start) <= 5
                                 and o.end <= a.start and (o.scaled or o.unit != "count") for o in group or []):
            d += 40  # "raised $3bn in 2019 and $350m in 2017": the date right after another figure is that one's
        if best is None or d < best[0]:
            best = (d, p, m.start())
    period = best[1] if best else None
    if (period is None or (best is not None and best[0] >= 200)) and doc.published is not None:
        for delta, rx in _RELATIVE_YEAR:  # "next year" in the figure's clause beats a date in another
            if first(rx, sent.low[clause[0]:clause[1]]) is not None:
                period, best = str(doc.published.year + delta), None
                break
    if kind == "valuation" and best is not None and best[0] >= 200 and first(
            _NOW, sent.low[clause[0]:clause[1]]) is not None:
        period = None  # "which listed in February 2021, now has a market value of ...": today's value
    if period is None and first(_THIS_QUARTER, sent.low) is not None and doc.default_quarter:
        period = doc.default_quarter
    # the story's quarter is that of the results it reports: the group's revenue and users, the unit's revenue;
    # the unit's user counts told beside them ("可灵AI月活超150万") are milestones, not the quarter's figures
    if period is None and (kind == "revenue" or (kind == "users" and subject != "Kling")) and doc.default_quarter and first(
            _FULL_YEAR, sent.low) is None:
        period = doc.default_quarter
    if period is None and kind in ("round_size", "valuation", "investment") and si > 0:
        prev = doc.sents[si - 1]  # "In 2015, ... . The B round valued it at ..."
        opening = _PERIOD.match(prev.low.lstrip())
        if opening is not None and (opening.group("cy") or opening.group("y")):
            period = opening.group("cy") or opening.group("y")
    if period and "-Q" in period and first(_WHOLE_YEAR, sent.low[clause[0]:clause[1]]) is not None:
        period = period[:4]  # "在第三季度电话会上将全年收入预期上调至": the year
    if period and best and re.fullmatch(r"\d{4}-\d\d", period):
        if first(_ASOF, sent.low[max(0, best[2] - 12):best[2] + 1]) is not None:
            period = f"as-of {period}"
    return period


def _years(a: Amount) -> bool:
    """'2024-2025', '2025-2027': a range of years, not a count."""
    return a.unit == "count" and a.scale == 1.0 and a.range_high is not None and 1900 <= a.value < a.range_high <= 2100 \
        and a.value.is_integer() and a.range_high.is_integer()


def _dates_in(sent: Sentence, published: datetime | None) -> Iterator[tuple[int | None, int | None, int]]:
    """(year, month, offset) of each calendar date a sentence names, either part possibly missing
    (a year-less month is the story's year when it is dated)."""
    for m in period_matches(sent.low):
        g = m.groupdict()
        if g["my"]:
            yield int(g["my"]), int(g["mm"]), m.start()
        elif g["mon"]:
            mon = _MONTHS.get(g["mon"])
            if isinstance(mon, int):
                y = int(g["mony"]) if g["mony"] else None
                if y is None and published is not None:
                    y = published.year if mon <= published.month else published.year - 1
                yield y, mon, m.start()
        elif g["cy"] or g["y"]:
            yield int(g["cy"] or g["y"]), None, m.start()
    for m in _MONTH_DAY.finditer(sent.low):
        mon = int(m.group(1))
        y = None if published is None else published.year if mon <= published.month else published.year - 1
        yield y, mon, m.start()


def _written_before(doc: Doc) -> datetime | None:
    """For an undated story about a coming listing the watchlist knows ("plans to raise up to $5bn in an IPO"):
    the listing's month, which the story was written before; a month it names without a year ("as of July
    this year", "a settembre") is the last such month before it. None when the story names a later year, or
    the listing sentence names another watched company (Kuaishou listing Kling AI is another listing)."""
    if doc.before_listing:
        return doc.before_listing[0]
    found: datetime | None = None
    for entity, month in doc.known_listings.items():
        if doc.max_year is not None and doc.max_year > int(month[:4]):
            continue  # a story that names a later year is not from before the listing
        for sent in doc.sents:
            named = {m.entity for m in doc.mentions_in(sent.start, sent.end)}
            if named == {entity} and first(_LISTING, sent.low) is not None and first(_PLANNED, sent.low) is not None:
                found = datetime(int(month[:4]), int(month[5:7]), 1)
                break
        if found is not None:
            break
    doc.before_listing.append(found)
    return found


def dates_listing(doc: Doc, known: str) -> bool:
    """Whether the story dates the listing the watchlist knows ("2021-02"): a sentence that names the listing
    names a date that agrees with it, in full ("In February 2021, ... its IPO") or in part ("debuted ... in
    February of this year", "2 月 5 日开始交易", "listed in 2021", "今(5)日於港交所掛牌": today); not a date after
    "since" (another listing's record). A story that says nothing of when is left undated: the text, not the
    watchlist, dates a figure."""
    if known in doc.listed:
        return doc.listed[known]
    ky, km = int(known[:4]), int(known[5:7])
    found = False
    seen: set[int] = set()
    for h in hits(_LISTING, doc.low):
        si = doc.sent_index(h.start())
        if si in seen:
            continue
        seen.add(si)
        sent = doc.sents[si]
        if first(_TODAY, doc.low[max(sent.start, h.start() - 15):min(sent.end, h.end() + 15)]) is not None and (
                doc.published is None or (doc.published.year, doc.published.month) == (ky, km)):
            found = True  # the story is the listing day's; the watchlist knows which day that was
            break
        for y, mon, pos in _dates_in(sent, doc.published):
            if y in (None, ky) and mon in (None, km) and (y, mon) != (None, None) and first(
                    _SINCE, sent.low[max(0, pos - 80):pos]) is None:
                found = True
                break
        if found:
            break
    doc.listed[known] = found
    return found


def _paragraph(doc: Doc, sent: Sentence) -> str:
    """The lower-cased paragraph (between line breaks) that holds a sentence."""
    end = doc.low.find("\n", sent.end)
    return doc.low[doc.low.rfind("\n", 0, sent.start) + 1:len(doc.low) if end < 0 else end]


def listing_period(kind: str, basis: str | None, period: str | None, sent: Sentence, doc: Doc,
                   known: str) -> str | None:
    """The known listing month for a figure about the listing that the text dates only in part or in another
    sentence: its proceeds, its IPO valuation, a market value on its first day of trading (in an undated story,
    told in a paragraph about that day). None when the figure has its own date, is not the listing's, or the
    story does not date the listing."""
    if period is not None:
        return None  # the figure's own date ("in 2021", "Q3 2025") stands
    if kind == "round_size" and basis == "ipo":
        tied = True
    elif kind == "valuation" and basis == "implied":
        tied = first(_BASIS_IPO, sent.low) is not None
    elif kind == "valuation" and basis == "market_cap":  # "first day of trading" in its sentence (undated: paragraph)
        tied = first(_LISTING_DAY, sent.low) is not None or (
            doc.published is None and (doc.max_year is None or doc.max_year <= int(known[:4]))
            and first(_NOW, sent.low) is None and first(_LISTING_DAY, _paragraph(doc, sent)) is not None)
    else:
        tied = False
    if not tied or not dates_listing(doc, known):
        return None
    return f"as-of {known}" if basis == "market_cap" else known


# ---------------------------------------------------------------- status


def status_of(kind: str, sent: Sentence, clause: tuple[int, int], period: str | None, doc: Doc) -> str:
    low = sent.low
    if kind in ("round_size", "valuation") and first(_PLANNED, low) is not None:
        return "planned"
    if kind in ("revenue", "capex", "users"):
        if first(_GUIDANCE, low[clause[0]:clause[1]]) is not None:
            return "guidance"
        if re.fullmatch(r"\d{4}", period or "") and doc.published is not None and int(period or 0) > doc.published.year:
            return "guidance"  # a year still to come: the company's outlook
    y = re.match(r"(?:as-of )?(\d{4})", period or "")
    if y and kind in ("round_size", "valuation", "investment", "users", "revenue"):
        year = int(y.group(1))
        if doc.published is not None:
            if year <= doc.published.year - 1 and (doc.published.year - year >= 2 or kind in (
                    "round_size", "valuation", "investment")):
                return "historical"
        elif doc.max_year is not None and year <= doc.max_year - 3:
            return "historical"
    return "reported"


def stage_of(sent: Sentence) -> str | None:
    """The round's stage a sentence states (closed, signed, filed, committed), or 'reported' when attributed."""
    if first(_ATTRIBUTED, sent.low) is not None:
        return "reported"
    for name, rx in _STAGES:
        if first(rx, sent.low) is not None:
            return name
    return None


# ---------------------------------------------------------------- the stage


def _counted(a: Amount, sent: Sentence) -> str | None:
    """A bare count is a candidate only with a user or video noun beside it."""
    re_ = (a.conv_end or a.end) - sent.start
    after = sent.low[re_:re_ + 30]
    if _VIDEO_NOUN_AFTER.search(after):
        return "videos"
    if _USER_NOUN_AFTER.search(after):
        return "users"
    if _UNTRACKED_NOUN_AFTER.search(after):
        return "untracked"  # "1.5亿张图片", "20,000 employees"
    return None


def _extra_mentions(low: str, mentions: tuple[Mention, ...]) -> tuple[Mention, ...]:
    """Names of the watched companies the watchlist does not list (クアイショウ, 콰이쇼우): for whose figure it is."""
    taken = {m.start for m in mentions}
    extra = [Mention(entity=entity, alias=m.group(0), start=m.start(), end=m.end())
             for entity, rx in (("Kling", _KLING_NAMES), ("Kuaishou", _KUAISHOU_NAMES))
             for m in hits(rx, low) if not low[m.start()].isascii() and m.start() not in taken]
    return tuple(extra)


def _default_currency(amounts: list[Amount]) -> str:
    """The currency a story counts in: its most frequent one, else the renminbi Kuaishou reports in."""
    seen: dict[str, int] = {}
    for a in amounts:
        if a.is_money:
            seen[a.unit] = seen.get(a.unit, 0) + 1
    return max(seen, key=lambda u: seen[u]) if seen else "CNY"


_LIST_GAP = re.compile(r"\s*(?:[,，、/;；]|\band\b|和|及|与|與|\s)*\s*$")
_MONEY_KINDS = frozenset({"revenue", "capex", "valuation", "round_size", "investment"})


def find_facts(text: str, low: str, mentions: tuple[Mention, ...], published: datetime | None,
               listed: Mapping[str, str] | None = None) -> tuple[list[Fact], list[Dropped]]:
    """Every fact in the text, and every candidate figure dropped with its reason; `listed` gives the month
    each watched company listed (the watchlist's `ipo`), to complete a listing date the story gives in part."""
    scan = text.translate(FULLWIDTH) if _FULLWIDTH_DIGIT.search(text) else text
    amounts = [a for a in scan_amounts(scan) if not _years(a)]  # "for 2024-2025": years, not a count
    if not amounts:
        return [], []
    extra = _extra_mentions(low, mentions)
    doc = _doc(text, low, tuple(sorted(mentions + extra, key=lambda m: m.start)) if extra else mentions, published,
               amounts)
    doc.known_listings = listed or {}
    currency = _default_currency(amounts)
    by_sent: dict[int, list[Amount]] = {}
    for a in amounts:
        by_sent.setdefault(doc.sent_index(a.start), []).append(a)
    facts: list[Fact] = []
    dropped: list[Dropped] = []
    round_subject: str | None = None

    def drop(a: Amount, sent: Sentence, reason: str) -> None:
        dropped.append(Dropped(value=a.value, unit=a.unit, reason=reason, quote=sent.text.strip(), start=a.start,
                               end=a.end))

    for si, group in by_sent.items():
        sent = doc.sents[si]
        first_fact = len(facts)
        cues = cues_of(sent, _ALL_ROLES, [(o.start - sent.start, (o.conv_end or o.end) - sent.start) for o in group
                                          if o.scaled or o.unit != "count" or o.value >= 1000])
        # a prior-period figure ("from $100 million to ...") does not stand between a cue and the new figure
        blockers = [o for o in group if not _comparative(o, sent)]
        last: tuple[Amount, str | None, str | None] | None = None  # previous figure, its role, its drop reason
        for a in group:
            rs, re_ = a.start - sent.start, (a.conv_end or a.end) - sent.start
            if a.unit == "count" and a.value < 1000:
                continue  # small bare numbers: days, ranks, versions (never reported)
            if a.unit == "count" and not a.scaled and 1900 <= a.value <= 2100:
                continue  # a year
            prev, last = last, (a, None, None)
            if a.unit == "count" and _VAGUE_BEFORE.search(sent.low, max(0, rs - 2), rs):
                continue  # "数千家", "几万": a vague amount
            clause = clause_span(sent, rs, re_)
            found = role_of(a, sent, blockers, cues)
            noun = _counted(a, sent) if a.unit == "count" else None
            if noun is not None and (found is None or not found[0].startswith(noun)):
                found = (noun, rs)
            in_list = prev is not None and _LIST_GAP.match(sent.low, (prev[0].conv_end or prev[0].end) - sent.start, rs)
            if prev is not None and prev[2] is not None and in_list and noun is None and (
                    prev[0].is_money == a.is_money or (prev[0].is_money and a.scaled)
                    or (a.is_money and prev[0].scaled and prev[0].unit == "count")):  # "156.5 billion and 171 billion yuan"
                drop(a, sent, prev[2])  # "forecasts for 2025-2027 of 142.7, 156.5 and 171 billion"
                last = (a, None, prev[2])
                continue
            if a.unit == "count" and a.scaled and noun is None:
                count_score: list[int] = []
                if found is not None:
                    role_of(a, sent, blockers, cues, count_score)
                money_score: list[int] = []
                money = role_of(replace(a, unit=currency), sent, blockers, cues, money_score)
                if money is not None and ROLES[money[0]][0] in _MONEY_KINDS and abs(money[1] - rs) <= 45 and (
                        not count_score or money_score[0] < count_score[0]):
                    a = replace(a, unit=currency)  # "营收311亿", "revenue exceeded 300 million": the story's currency
                    found = money
            if found is None and prev is not None and prev[1] is not None and prev[0].is_money == a.is_money \
                    and prev[0].unit == a.unit and first(_PERIOD_WORD, sent.low[clause[0]:clause[1]]) is not None:
                found = (prev[1], rs)  # "Q1 revenue 150 million, Q2 over 250 million, Q3 over 300 million"
            if found is None:
                if a.unit in ("count", "percent"):
                    continue
                role, cue = "other", None
            else:
                role, cue = found
            if a.unit == "count" and role not in ("untracked", "spec") and noun is None:
                # a count needs its noun beside it or a cue right before it ("DAU of 408 million")
                if cue is None or not (0 <= rs - cue <= 60 or 0 <= cue - re_ <= 12):
                    continue
            last = (a, role, None)
            kind, reason = ROLES.get(role, ("other", None))
            if kind is None:
                drop(a, sent, reason or "not tracked")
                last = (a, None, reason)
                continue
            why = not_fact(a, sent, clause, cue, kind)
            if why == SEGMENT:
                kind, why = "other", None
            if why is None and a.is_money and a.value < 1e5 and kind in _MONEY_KINDS:
                why = "too small for a tracked figure (a share price or a unit price)"
            if why is not None:
                drop(a, sent, why)
                last = (a, None, why) if why in _LIST_REASONS else (a, None, None)
                continue
            if hedged(sent, clause):
                drop(a, sent, "hedged (could, may, if, whether)")
                continue
            if kind == "investment" and not _external_actor(sent, rs, doc.sents[si - 1] if si else None):
                kind = "round_size" if first(_ROLE_RX["round"], sent.low) is not None else "other"
            subject = subject_of(kind, role, a, sent, clause, doc, si, round_subject)
            if subject is None:
                continue
            if kind in ("round_size", "valuation"):
                round_subject = subject
            period = period_of(kind, a, sent, clause, doc, si, group, subject)
            status = status_of(kind, sent, clause, period, doc)
            basis = basis_of(kind, role, sent, clause, period, status) if kind in _BASIS_RX or kind == "revenue" \
                else None
            if period is None and subject != "Kling" and doc.default_year and (
                    (kind == "revenue" and basis is None) or (kind == "users" and basis in ("dau", "mau"))):
                period = doc.default_year  # "2024年,快手以1269亿元营收… ▪️月活用户7.36亿": the story's one year
                basis = basis_of(kind, role, sent, clause, period, status)
            if period is None and status == "guidance":
                prior = _PRIOR_YEAR_AFTER.match(sent.low, re_)
                year = _YEAR.search(prior.group(0)) if prior is not None else None
                if year is not None:
                    period = str(int(year.group(0)) + 1)
            known = listed.get(subject) if listed else None
            on_listing = listing_period(kind, basis, period, sent, doc, known) if known else None
            if on_listing is not None:
                period = on_listing
                status = status_of(kind, sent, clause, period, doc)
            period = _dated(kind, basis, status, period, doc)
            months = _each_month(sent, clause) if period is None or re.fullmatch(r"\d{4}(?:-\d\d)?", period) else []
            if months and period in (None, months[0][:4], months[0]):
                period = months[0]
            else:
                months = []
            facts.append(Fact(
                kind=kind, subject=subject, value=a.value, unit=a.unit, value_usd=a.value_usd,
                qualifier=a.qualifier, range_high=a.range_high, period=period, basis=basis,
                status=status, stage=stage_of(sent), quote=sent.text.strip(), start=a.start, end=a.end,
                alt_value=a.alt_value, alt_unit=a.alt_unit,
            ))
            facts.extend(replace(facts[-1], period=m) for m in months[1:])
        _valued_in_round(facts, first_fact)
    return dedupe(facts), dropped


def _valued_in_round(facts: list[Fact], lo: int) -> None:
    """An undated valuation set by the dated round its sentence names is that round's ("valued at $28.6bn in
    its last round, a $3bn series F in December 2019"): facts[lo:] are one sentence's."""
    rounds = {(f.period, f.status) for f in facts[lo:] if f.kind == "round_size" and f.period is not None}
    if len(rounds) != 1:
        return
    period, status = next(iter(rounds))
    for i in range(lo, len(facts)):
        f = facts[i]
        if f.kind == "valuation" and f.period is None and f.basis in ("private", "implied"):
            facts[i] = replace(f, period=period, status="historical" if status == "historical" else f.status)


def _each_month(sent: Sentence, clause: tuple[int, int]) -> list[str]:
    """The months of a range or pair the figure's clause gives each the figure ("2025年4-5月…均突破1億",
    "2025年4月和5月…均"), else []."""
    low = sent.low[clause[0]:clause[1]]
    m = _MONTH_RANGE.search(sent.low, max(0, clause[0] - 40), clause[1])
    if m is None or first(_EACH, low) is None:
        return []
    y, lo, hi = int(m.group(1)), int(m.group(2)), int(m.group(4))
    if lo >= hi:
        return []
    months = range(lo, hi + 1) if m.group(3) in "-~〜～至到" else (lo, hi)  # "4-6月": three; "4月和6月": two
    return [f"{y}-{mon:02d}" for mon in months]


def _dated(kind: str, basis: str | None, status: str, period: str | None, doc: Doc) -> str | None:
    """The period in the dev set's forms: 'as-of' only for running totals; a round's period is a year or a
    month; a market value or an IPO reported without a date is dated by the story."""
    if period and period.startswith("as-of ") and not (
            kind == "videos_generated" or basis in ("cumulative", "creators", "registered", "market_cap")):
        period = period[6:]
    if period and "-Q" in period and basis in ("monthly", "arr"):
        period = None  # a month's revenue or a run rate is not the quarter's
    if period and ("-Q" in period or "-H" in period) and (
            kind == "videos_generated" or basis in ("cumulative", "registered", "creators")):
        period = None  # a running total is dated by a month; a quarter beside it is the report's ("Q3 call")
    if kind in ("round_size", "valuation", "investment") and period and "-Q" in period or (
            kind in ("round_size", "valuation", "investment") and period and "-H" in period):
        period = None
    if period is None and status == "reported" and doc.published is not None:
        month = f"{doc.published.year}-{doc.published.month:02d}"
        if basis == "market_cap":
            return f"as-of {month}"
        if basis == "ipo":
            return month
    return period


_CAP_NAME = re.compile(r"\b[A-Z][\w&.-]+(?:\s+[A-Z][\w&.-]+)*")


def _external_actor(sent: Sentence, rs: int, before: Sentence | None = None) -> bool:
    """'Tencent invested $500 million': a company other than the watched ones acts before the figure
    ("5Y Capital holds a stake. Its initial $1.3m investment ...": the one the sentence before names)."""
    head = sent.text[:rs]
    if before is not None and first(_BACK_REFERENCE, sent.low) is not None and _external_actor(before, len(before.text)):
        return True
    for m in _CAP_NAME.finditer(head):
        w = m.group(0)
        if first(_KLING_NAMES, w.lower()) or first(_KUAISHOU_NAMES, w.lower()) or first(_GROUP_REFS, w.lower()):
            continue
        if m.start() == 0 and w.split()[0] in ("The", "A", "An", "Its", "It"):
            continue
        return True
    return (first(_ACTOR_NAMES, head.lower()) is not None or re.search(r"[A-Z]{2,}", head) is not None) \
        and "Kling" not in head[:2]


def dedupe(facts: list[Fact]) -> list[Fact]:
    """One fact per claim; an unclassified repeat of a classified figure ('the three billion dollars') goes."""
    classified = {(f.unit, round(f.value, 2)) for f in facts if f.kind != "other"}
    seen: dict[tuple[object, ...], int] = {}
    out: list[Fact] = []
    for f in facts:
        if f.kind == "other" and ((f.unit, round(f.value, 2)) in classified or (f.value_usd or f.value) < 1e6):
            continue
        key = (f.kind, f.subject, f.unit, round(f.value, 2), f.range_high, f.qualifier, f.period)
        if key in seen:
            first_fact = out[seen[key]]
            if first_fact.value_usd is None and f.value_usd is not None:
                out[seen[key]] = replace(first_fact, value_usd=f.value_usd, alt_value=f.alt_value, alt_unit=f.alt_unit)
            continue
        seen[key] = len(out)
        out.append(f)
    return _date_repeats(out)


def _date_repeats(facts: list[Fact]) -> list[Fact]:
    """A figure told undated and then again with its date in the same sentence ("ARR passed $100m: in March
    2025, Kling's ARR passed $100m") is one claim: the first telling keeps its words and takes the date; the
    repeat goes. Only when the repeats name a single date (two months' equal figures stay two claims)."""
    dated: dict[tuple[object, ...], set[str]] = {}
    for f in facts:
        if f.period is not None and f.kind != "other":
            dated.setdefault((f.kind, f.subject, f.unit, round(f.value, 2), f.range_high, f.quote), set()).add(f.period)
    if not dated:
        return facts
    out: list[Fact] = []
    taken: set[tuple[object, ...]] = set()
    for f in facts:
        key = (f.kind, f.subject, f.unit, round(f.value, 2), f.range_high, f.quote)
        periods = dated.get(key)
        if periods is None or len(periods) != 1 or f.kind == "other":
            out.append(f)
        elif key not in taken:
            taken.add(key)
            out.append(f if f.period is not None else replace(f, period=next(iter(periods))))
    return out
