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

from monitor.facts import find_facts
from monitor.match import Watchlist, compile_watchlist, default_watchlist, match_text
from monitor.models import Document, Extraction, Mention, ProductMove
from monitor.rules.patterns import compile_lc as _lc
from monitor.rules.patterns import first as _first
from monitor.rules.patterns import hits as _hits
from monitor.rules.patterns import lower_same_length

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

# ---------------------------------------------------------------- round stages (see _statuses)

_STAGE_WORDS: list[tuple[str, re.Pattern[str]]] = [
    ("closed", _lc(r"\b(?:closed|closes|completed|completes|wrapped\s+up|finali[sz]ed)\b|完成了?(?:[^，。]{0,12})?(?:融资|融資)")),
    ("signed", _lc(r"\bsigned\b|签署|簽署|签约|簽約")),
    ("filed", _lc(r"\b(?:filed|files|has\s+filed|submitted)\b|递交|遞交|提交了?")),
    ("committed", _lc(r"\bcommitted\b|承诺|承諾")),
]
_STATUS_KINDS = ("filed", "signed", "closed")

# ---------------------------------------------------------------- names

_OUTLET_NAMES = frozenset(
    {
        "bloomberg", "reuters", "the business times", "business times", "south china morning post", "scmp", "caixin",
        "latepost", "36kr", "the information", "financial times", "ft", "wall street journal", "wsj", "cnbc",
        "techcrunch", "nikkei", "nikkei asia", "xinhua", "yicai", "jiemian", "sina", "sohu", "technode", "pandaily",
        "krasia", "the verge", "forbes", "cnn", "bbc", "ap", "afp", "associated press", "new york times",
        "the new york times", "the economist", "axios", "semafor", "the paper", "jingpost",
    }
)
_NOT_NAMES = frozenset(
    """the a an it its they this that these those he she we our their his her i chinese china hong kong beijing
    shanghai asia us u.s europe american western eastern silicon valley hkex hong kong stock exchange
    stock exchange first second third finally also both all each several six five four three two
    in on at for and but or so yet however meanwhile company group platform platforms investors entertainment
    january february march april may june july august september october november december monday tuesday
    wednesday thursday friday saturday sunday ceo cfo cto ai pe""".split()
)
_CANONICAL = {
    "alibaba group": "Alibaba", "alibaba group holding": "Alibaba", "alibaba holding": "Alibaba",
    "tencent holdings": "Tencent", "tencent holding": "Tencent", "baidu inc": "Baidu",
    "阿里巴巴": "Alibaba", "阿里": "Alibaba", "阿里巴巴集团": "Alibaba", "腾讯": "Tencent", "騰訊": "Tencent",
    "腾讯控股": "Tencent", "阿里云": "Alibaba Cloud", "阿里雲": "Alibaba Cloud", "百度": "Baidu",
    "字节跳动": "ByteDance", "字節跳動": "ByteDance", "中信证券": "CITIC Securities", "中信證券": "CITIC Securities",
    "华策影视": "Huace Film & TV", "華策影視": "Huace Film & TV", "红杉中国": "HongShan", "紅杉中國": "HongShan",
    "高瓴": "Hillhouse", "美团": "Meituan", "小米": "Xiaomi", "京东": "JD.com", "aliyun": "Alibaba Cloud",
    "amazon web services": "AWS", "azure": "Microsoft Azure", "volcengine": "Volcano Engine",
    "腾讯云": "Tencent Cloud", "騰訊雲": "Tencent Cloud", "百度智能云": "Baidu AI Cloud", "百度智能雲": "Baidu AI Cloud",
    "华为云": "Huawei Cloud", "華為雲": "Huawei Cloud", "火山引擎": "Volcano Engine", "baidu cloud": "Baidu AI Cloud",
    "oracle cloud": "Oracle", "vertex ai": "Google Cloud", "amazon bedrock": "AWS",
    "alibaba cloud model studio": "Alibaba Cloud",
    # Chinese investors as English-language outlets name them, so the ledger sees one investor, not two
    "cpe源峰": "CPE", "源峰": "CPE", "cpe源峰基金": "CPE", "国方创投": "Guofang Ventures", "國方創投": "Guofang Ventures",
    "中关村科学城基金": "Zhongguancun Science City Fund", "中關村科學城基金": "Zhongguancun Science City Fund",
    "中关村科学城": "Zhongguancun Science City Fund", "国科投资": "Guoke Investment", "國科投資": "Guoke Investment",
    "芒果超媒": "Mango Excellent Media", "红杉": "HongShan",
    "高瓴资本": "Hillhouse", "启明创投": "Qiming Venture Partners", "啟明創投": "Qiming Venture Partners",
    "君联资本": "Legend Capital", "深创投": "Shenzhen Capital Group", "国投创业": "SDIC Venture Capital",
}
_SUFFIXES = re.compile(r"(?:,?\s+(?:Inc\.?|Ltd\.?|Limited|Co\.?|Corp\.?|Corporation|Holdings?|PLC|LLC|L\.P\.))+$")

_NAME = r"(?:The\s+)?(?:[A-Z]|[ie][A-Z])[\w'’.\-]*(?:\s+(?:&\s+|of\s+|de\s+)?[A-Z0-9][\w'’.\-]*)*"
_ITEM = (
    rf"(?:[A-Z][\w'’]*(?:\s+[a-z][\w-]*){{1,3}}\s*[(（]{_NAME}[)）]"
    rf"|{_NAME}(?:\s*[(（](?:with\s+|via\s+|through\s+|and\s+|incl\.\s+)?{_NAME}[)）])?)"
)
_SEP = r"(?:\s*,\s*(?:and\s+|as\s+well\s+as\s+)?|\s+and\s+|\s+as\s+well\s+as\s+|\s*、\s*)"
_LIST_FWD = re.compile(rf"{_ITEM}(?:{_SEP}{_ITEM})*")
_LIST_BACK = re.compile(rf"{_ITEM}(?:{_SEP}{_ITEM})*\s*$")
_ITEM_RE = re.compile(_ITEM)
_NAME_RE = re.compile(_NAME)

_INV_FWD = _lc(
    r"\b(?:(?:co-)?led\s+by|backed\s+by|joined\s+by|(?:with\s+)?participation\s+(?:from|by|of)|"
    r"(?:strategic\s+)?investors?\s+(?:include|includes|included|including|such\s+as|like)|"
    r"(?:co-leads?|lead\s+investors?|(?:strategic\s+|new\s+|other\s+)?investors|backers|participants)\s*(?::|include|included|are|were)|"
    r"lead\s+investors?|also\s+participated\s*:|participated\s*:|from\s+(?:investors\s+)?(?:including|such\s+as)|"
    # "Tencent led the round alongside CPE and CITIC Securities"
    r"(?:co-)?led\s+(?:the\s+)?(?:round|financing|funding|deal|investment)\s+(?:alongside|with|together\s+with))\s*:?\s*")
_INV_BACK = _lc(
    r"\s+(?:(?:have|has|had|also|both|all|reportedly|will|jointly|together|each)\s+)*(?:"
    r"joined|join|participated|participate|invested|invests|co-led|co-lead|led|backed|"
    r"(?:are|is|were|was)\s+(?:also\s+)?(?:participating|investing|joining|among\s+the\s+investors)|joining|"
    r"participating|investing|(?:all\s+)?on\s+the\s+cap\s+table|took\s+part|contributed|poured)\b(?!\s+by\b)")
_ROUND_CONTEXT = _lc(
    r"\b(?:round|financing|funding|fund-?rais\w*|rais(?:e|ed|es|ing)|invest\w*|cap\s+table|stake|co-leads?|tranche)\b"
    r"|融资|融資|投资|投資|领投|領投|跟投|参投")
_RIVAL_BEFORE = _lc(r"\b(?:rivals?|competitors?|competing\s+with|compete\s+with|peers?)\s*(?:like|such\s+as|including|,|:)?\s*$")
_CN_INV = re.compile(
    r"由(?P<a>[^，。；：,;:]{2,80}?)(?:联合|共同|聯合)?(?:领投|領投|参投|參投|跟投|投资|投資)"
    r"|(?:投资方|投资者|投资人|投資方|投資者|领投方|跟投方|参投方)(?:包括|包含|为|為|有|是|：|:)(?P<b>[^。；;]{2,120})"
    # "腾讯、CPE源峰、中信证券等担任联合领投方": a list naming its role after it
    r"|(?:^|[，,；;。！？\n])(?P<e>[^，。；：,;:]{2,120}?)(?:担任|擔任|作为|作為|为|為)(?:联合|共同|聯合)?"
    r"(?:领投方|領投方|领投机构|領投機構|跟投方|投资方|投資方|战略投资者|戰略投資者)"
    r"|(?:^|[，,；;。！？\n])(?P<c>[^，。；：,;:由]{2,12}?)(?:联合|共同|聯合)?(?:领投|領投|参投|參投|跟投"
    r"|(?:均有|均|亦有|也有|亦|也)?(?:参与|參與)(?:了)?(?:本轮|本輪|此轮|此輪)?(?:投资|投資|融资|融資)?(?=[，。；,;]|$)|入股)"
)
_CN_SPLIT = re.compile(r"、|，|,|以及|和|及|与|與")

# ---------------------------------------------------------------- product moves

_LAUNCH = _lc(
    r"\b(?:launch(?:ed|es)|unveil(?:ed|s)|releas(?:ed|es)|roll(?:ed|s)\s+out|debut(?:ed|s)|introduc(?:ed|es)|"
    r"(?:is|are|will|has|have)\s+(?:launching|releasing|unveiling|launch|release|roll\s+out|unveil|rolled\s+out))\b"
    r"|发布|發布|推出|上线|上線")
_VERSION = re.compile(
    r"(?:Kling|可灵|可靈)\s*(?:AI\s*)?(?:v|V)?(?P<v>\d+(?:\.\d+)*)(?:\s+(?P<ed>Turbo|Master|Pro|Lite|Omni|Standard))?"
    r"|\b(?:Kling|可灵|可靈)\s+(?P<name>O1|Omni|Video\s+O1|Avatar)\b"
)
_API = _lc(
    r"\bAPIs?\b(?=[^.]{0,80}?\b(?:launch|open|available|offer|releas|roll|access|now)\w*)|"
    r"\b(?:launch|open|offer|releas|roll(?:ed|s)?\s+out|made\s+available|introduc)\w*\b[^.]{0,60}?\bAPIs?\b|开放平台|API接口|开放API")
_PRICING = _lc(
    r"\b(?:cut|cuts|cutting|slash(?:ed|es|ing)?|lower(?:ed|s|ing)?|reduc(?:ed|es|ing)|rais(?:ed|es|ing)|hik(?:ed|es|ing)|increas(?:ed|es|ing)|"
    r"introduc(?:ed|es)|launch(?:ed|es)|start(?:ed|s)\s+charging|charg(?:es|ed)|priced\s+at|now\s+costs?|costs?)\b"
    r"[^.]{0,60}?\b(?:prices?|pricing|subscriptions?|membership|plans?|tiers?|credits|per\s+month|a\s+month|/month|fees?)\b"
    r"|\b(?:prices?|pricing|subscriptions?|membership|plans?)\b[^.]{0,40}?\b(?:cut|slashed|lowered|reduced|raised|"
    r"increased|start(?:s|ed)?\s+at|costs?|priced\s+at)\b|降价|涨价|定价|会员价|訂閱價")
_INTEGRATION = _lc(
    r"\bintegrat(?:ed|es)\s+(?:\w+\s+){0,8}?(?:into|with|in|across)\b|\b(?:is|are|has\s+been|have\s+been)\s+integrating\b|"
    r"\bintegration\s+(?:\w+\s+){0,3}?(?:is|was|has\s+been)\s+(?:already\s+|now\s+)?(?:happening|live|underway|complete|"
    r"completed|rolling\s+out|rolled\s+out|under\s+way)\b|\bnow\s+(?:available|built)\s+(?:in|inside|within)\b|"
    r"\bembedded\s+(?:in|into)\b|接入|集成到|整合进|整合進")
_EXPANSION = _lc(
    r"\b(?:expand(?:ed|s|ing)?|launch(?:ed|es)?\s+in|enter(?:ed|s|ing)?|roll(?:ed|s)?\s+out\s+(?:in|to)|"
    r"(?:became|now)\s+available\s+in|opened\s+(?:an?\s+)?office)\b[^.]{0,60}?\b(?:international(?:ly)?|global(?:ly)?|"
    r"overseas|abroad|worldwide|markets|countries|regions|Japan|Korea|Europe|the\s+U\.?S\.?|United\s+States|"
    r"Middle\s+East|Southeast\s+Asia|Latin\s+America|Brazil|India|Indonesia|Singapore)\b|出海|海外市场|海外上线|进军海外")
_MILESTONE = _lc(
    r"\b(?:reach(?:ed|es|ing)?|hit(?:s|ting)?|surpass(?:ed|es|ing)?|pass(?:ed|es)|cross(?:ed|es)|top(?:ped|s)|"
    r"exceed(?:ed|s)|broke\s+through|crossed)\b[^.;$¥€£]{0,60}?\b(?:users?|user\s+base|milestone|subscribers?|MAUs?|DAUs?|"
    r"creators|downloads)\b|(?:用户|用戶|创作者|月活)[^。；]{0,12}(?:突破|达到|達到|超过|超過)|里程碑")
_SUBJECTLESS_OK = frozenset("the a an its this that these those their his her our".split())

# ---------------------------------------------------------------- watchlist-derived


@dataclass(frozen=True, slots=True)
class _WatchRegex:
    alias_names: frozenset[str]  # lower-cased aliases: never reported as investors


@lru_cache(maxsize=32)
def _watch_regex(watch: Watchlist) -> _WatchRegex:
    return _WatchRegex(alias_names=frozenset(compile_watchlist(watch).alias_entity))


_CLOUD_CUE = _lc(
    r"\b(?:partner(?:s|ship|ships|ed|ing)?|host(?:s|ed|ing)?|provider|distribut(?:e|es|ed|ing|ion|or|ors)|"
    r"available\s+(?:on|via|through|in)|runs?\s+on|running\s+on|deploy(?:s|ed|ing)?\s+(?:on|via|through)|"
    r"powered\s+by|offers?|offering|serves?|cloud\s+services?|marketplace|model\s+(?:studio|garden|hub))\b"
    r"|合作|上线|上線|接入|托管|部署|提供")

# ---------------------------------------------------------------- helpers


def canonical_name(name: str) -> str:
    """'Alibaba Group Holding Ltd.' -> 'Alibaba'; '腾讯' -> 'Tencent'; otherwise the name, tidied."""
    n = name.strip().strip(".,;:’'\"()（）").strip()
    n = re.sub(r"['’]s$", "", n)
    n = re.sub(r"\s+", " ", n)
    low = n.lower()
    if low in _CANONICAL:
        return _CANONICAL[low]
    stripped = _SUFFIXES.sub("", n).strip()
    return _CANONICAL.get(stripped.lower(), stripped)


def _is_name(name: str, aliases: frozenset[str]) -> bool:
    low = name.lower()
    if not name or low in _NOT_NAMES or low in _OUTLET_NAMES or low in aliases:
        return False
    if any(a in low.split() for a in aliases if " " not in a and a.isascii() and len(a) > 3):
        return False  # "Kuaishou Technology", "Kling AI"
    first = low.split()[0]
    if first in _NOT_NAMES and first not in ("the",):
        return False
    return True


def _split_item(item: str) -> list[str]:
    """'Zhongguancun Science City Fund (with Guoke Investment)' -> both; "Mango's industry investor (Houwei Capital)" -> the name."""
    m = re.match(r"^(?P<out>[^(（]*?)\s*[(（](?:with\s+|via\s+|through\s+|and\s+|incl\.\s+)?(?P<in>[^)）]+)[)）]\s*$", item)
    if not m:
        return [item]
    out, inner = m.group("out").strip(), m.group("in").strip()
    if _NAME_RE.fullmatch(out) and not re.search(r"['’]s\b", out):
        return [out, inner]
    return [inner]


def _list_items(span: str, backward: bool) -> list[str]:
    items = list(_ITEM_RE.finditer(span))
    if not items:
        return []
    if not backward:
        return [x for it in items for x in _split_item(it.group(0))]
    keep: list[str] = []
    saw_and = False
    comma_cut = len(items)
    accepted: list[tuple[int, str]] = []
    for k in range(len(items) - 1, -1, -1):
        accepted.append((k, items[k].group(0)))
        if k == 0:
            break
        sep = span[items[k - 1].end():items[k].start()]
        if re.search(r"\band\b|as\s+well\s+as", sep):
            if saw_and:
                accepted = [(i, s) for i, s in accepted if i >= comma_cut]
                break
            saw_and = True
        if "," in sep or "、" in sep:
            comma_cut = k
    for _, s in sorted(accepted):
        keep.extend(_split_item(s))
    return keep


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


def _clause(sent: _Sentence, rs: int, re_: int) -> str:
    """The comma/semicolon-delimited clause of `sent` around [rs, re_): a short 'what' for a product move."""
    lo = 0
    for m in _CLAUSE_BREAK.finditer(sent.text, 0, rs):
        lo = m.end()
    hi_m = _CLAUSE_BREAK.search(sent.text, re_)
    hi = hi_m.start() if hi_m else len(sent.text)
    return sent.text[lo:hi].strip().rstrip(".。")


def _investors(ctx: _Ctx) -> list[str]:
    text = ctx.text
    found: list[tuple[int, str]] = []
    aliases = ctx.wre.alias_names

    def ok_sentence(si: int) -> bool:
        s = ctx.sents[si]
        if s.speculative:
            return False
        return any(_first(_ROUND_CONTEXT, x.low) for x in ctx.sents[max(0, si - 2):si + 1])

    def add(names: list[str], list_start: int, sent: _Sentence) -> None:
        if _first(_RIVAL_BEFORE, ctx.low[max(sent.start, list_start - 40):list_start]):
            return
        for k, raw in enumerate(names):
            name = canonical_name(raw)
            if _is_name(name, aliases):
                found.append((list_start + k, name))

    for m in _hits(_INV_FWD, ctx.low):
        si = ctx.sent_index(m.start())
        sent = ctx.sents[si]
        if not ok_sentence(si):
            continue
        lm = _LIST_FWD.match(text, m.end(), sent.end)
        if lm:
            add(_list_items(lm.group(0), backward=False), lm.start(), sent)
    for m in _hits(_INV_BACK, ctx.low):
        si = ctx.sent_index(m.start())
        sent = ctx.sents[si]
        if not ok_sentence(si):
            continue
        before = text[max(sent.start, m.start() - 200):m.start()]
        lm = _LIST_BACK.search(before)
        if lm:
            add(_list_items(lm.group(0), backward=True), m.start() - len(before) + lm.start(), sent)
    if _CJK_RE.search(text) is not None:
        for m in _CN_INV.finditer(text):
            si = ctx.sent_index(m.start())
            if ctx.sents[si].speculative:
                continue
            seg = m.group("a") or m.group("b") or m.group("c") or m.group("e") or ""
            for part in _CN_SPLIT.split(seg):
                # "百度等战略投资者" -> "百度": a list's tail names the group, not another investor
                part = re.sub(r"等(?:[^、，,]{0,8}(?:投资者|投資者|投资方|投資方|机构|機構|股东|股東))?$", "", part.strip())
                part = re.sub(r"(?:等|等机构|等多家机构|机构|公司|基金等)$", "", part)
                if part:
                    name = canonical_name(part)
                    if _is_name(name, aliases) and len(name) <= 30:
                        found.append((m.start() + len(found), name))
    out: list[str] = []
    for _, name in sorted(found):
        if name not in out:
            out.append(name)
    return out


def _provider_hits(text: str, providers: tuple[str, ...]) -> list[tuple[int, str]]:
    """(offset, provider) for each provider named in `text`; the longest name wins where they overlap
    ("Microsoft Azure" over "Azure"). Plain substring search: faster than one big regex."""
    hits: list[tuple[int, int, str]] = []
    for p in sorted((p for p in providers if p and p in text), key=len, reverse=True):
        i = text.find(p)
        while i >= 0:
            j = i + len(p)
            bounded = not p.isascii() or (
                (i == 0 or not text[i - 1].isalnum()) and (j >= len(text) or not text[j].isalnum())
            )
            if bounded and not any(s <= i < e or s < j <= e for s, e, _ in hits):
                hits.append((i, j, p))
            i = text.find(p, i + 1)
    return [(i, p) for i, _, p in sorted(hits)]


def _cloud_partners(ctx: _Ctx) -> list[str]:
    out: list[str] = []
    for pos, prov in _provider_hits(ctx.text, ctx.watch.cloud_providers):
        sent = ctx.sents[ctx.sent_index(pos)]
        if sent.speculative or not ctx.mentions_in(sent.start, sent.end):
            continue
        if not _first(_CLOUD_CUE, sent.low):
            continue
        if _first(_INV_BACK, sent.low) or _first(_INV_FWD, sent.low) or _first(
                _RIVAL_BEFORE, ctx.low[max(sent.start, pos - 40):pos]):
            continue  # named as an investor or a rival here, not as a host
        name = canonical_name(prov)
        if name not in out:
            out.append(name)
    return out


def _product_moves(ctx: _Ctx) -> list[ProductMove]:
    moves: list[tuple[int, ProductMove]] = []
    keys: set[tuple[str, str]] = set()

    def subject_ok(si: int, cue_pos: int) -> bool:
        sent = ctx.sents[si]
        if ctx.mentions_in(sent.start, sent.end):
            return True
        if si == 0 or not ctx.mentions_in(ctx.sents[si - 1].start, ctx.sents[si - 1].end):
            return False
        # carry the previous sentence's subject only when this one names nobody else
        head = ctx.text[sent.start:cue_pos].split()
        caps = [w for w in head[1:] + head[:1] if w[:1].isupper() and not (w.isupper() and len(w) <= 3)
                and w.lower() not in _SUBJECTLESS_OK]
        return not caps

    for kind, rx in (("launch", _LAUNCH), ("api", _API), ("pricing", _PRICING), ("integration", _INTEGRATION),
                     ("expansion", _EXPANSION), ("milestone", _MILESTONE)):
        for m in _hits(rx, ctx.low):
            si = ctx.sent_index(m.start())
            sent = ctx.sents[si]
            if sent.speculative or not subject_ok(si, m.start()):
                continue
            what = _clause(sent, m.start() - sent.start, m.end() - sent.start)
            if kind == "launch":
                v = _VERSION.search(sent.text)
                if v is None:
                    if not re.search(r"(?:launch\w*|unveil\w*|releas\w*|debut\w*|introduc\w*|roll\w*\s+out|发布|推出)\s+"
                                     r"(?:the\s+|its\s+|a\s+new\s+)?(?:Kling|可灵|可靈)", sent.text, re.I):
                        continue
                    key = "Kling"
                    what = "Kling"
                else:
                    key = re.sub(r"\s+", " ", v.group(0).replace("可灵", "Kling ").replace("可靈", "Kling ")).strip()
                    what = key
            elif kind == "milestone":
                if re.search(r"revenue|sales|营收|收入", m.group(0)):
                    continue  # "hits $240 million revenue as users climb" is a revenue story
                nums = re.findall(r"\d[\d.,]*\s*(?:million|billion|万|萬|亿|億)?", sent.text)
                key = " ".join(nums)
            else:
                key = what
            if (kind, key) in keys:
                continue
            keys.add((kind, key))
            moves.append((m.start(), ProductMove(kind=kind, what=_tidy_clause(what)[:200], quote=sent.text.strip())))
    return [mv for _, mv in sorted(moves, key=lambda x: x[0])]


_LEADING_JOINER = re.compile(r"^(?:and|but|while|as|also|then|，|,|;|而且|并且|並且|并|並|同时|同時)\s*", re.I)


def _tidy_clause(what: str) -> str:
    """'and cut the price of ...' -> 'Cut the price of ...': a clause lifted out of its sentence."""
    what = _LEADING_JOINER.sub("", what.strip(), count=1).strip()
    return what[:1].upper() + what[1:] if what[:1].isascii() else what


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
    if not match.relevant:
        return Extraction(source=doc.source, relevant=False, entities=())
    ctx = _build_ctx(text, match.mentions, w, doc.published)
    facts, dropped = find_facts(text, ctx.low, match.mentions, doc.published)
    investors = _investors(ctx)
    clouds = _cloud_partners(ctx)
    return Extraction(
        source=doc.source,
        relevant=True,
        entities=match.entities,
        facts=tuple(facts),
        investors=tuple(investors),
        cloud_partners=tuple(clouds),
        product_moves=tuple(_product_moves(ctx)),
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
