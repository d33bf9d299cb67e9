"""Names: who invested in Kling or Kuaishou, and which clouds and model hosts serve Kling's models.

Pure functions over the sentences and watchlist mentions that `monitor/extract.py` has already found
(its context object is passed in; nothing is segmented twice). The vocabulary (investor cues and verbs,
role nouns, list separators, shareholder phrases, provider names, partner cues, canonical names) is data:
the `[names]` table of each `monitor/rules/<lang>.toml`, compiled here once at import.

An investor is a name in a list that a cue introduces ("backed by Tencent and Baidu", "Parmi ses
actionnaires figurent ...", "由腾讯领投") or that a verb closes ("Tencent led", "DST 股东共同持有"), in a
sentence that names Kling or Kuaishou or follows one that does, never in a hedged sentence and never
after a rival cue ("rivals like ByteDance"). Names come out in their canonical English form when one is
known ("Tencent Holdings Ltd." and "腾讯" are both "Tencent"), otherwise as written.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from monitor import rules
from monitor.rules.patterns import expand, lower_outside_escapes, split_alts, trie_alternation
from monitor.rules.patterns import head as _head

if TYPE_CHECKING:
    from monitor.models import Mention


class _Sent(Protocol):
    start: int
    end: int
    text: str
    low: str
    speculative: bool


class Context(Protocol):
    """What names and product moves read from the extractor's context (monitor/extract.py `_Ctx`)."""

    text: str
    low: str
    sents: list
    mentions: tuple[Mention, ...]

    def sent_index(self, pos: int) -> int: ...

    def mentions_in(self, start: int, end: int) -> list[Mention]: ...


_LATIN = ("en", "es", "pt", "fr", "de", "it", "ru")
_CJK = ("zh", "ja", "ko")


def _alt(concept: str, langs: tuple[str, ...] | None = None) -> str:
    return rules.alternation("names", concept, langs)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")

# ---------------------------------------------------------------- compiling cue lists for speed
#
# `re` scans fastest when every alternative starts with a literal and alternatives sharing a first
# character are grouped: a cue list is lower-cased (it is matched on lower-cased text, without IGNORECASE),
# each entry's leading group or character class is expanded ("(?:co-)?led" -> "led", "co-led"), and the
# literal heads are merged into a trie ("launch|launched|leads" -> "l(?:aunch(?:ed|)|eads)"). The rewrite
# keeps what matches; tests/test_names_regex.py checks it against the plain alternation. The rewriting
# itself (expand, split_alts, trie_alternation) lives in monitor/rules/patterns.py beside `flatten`.


def cue_pattern(section: str, concept: str, langs: tuple[str, ...] | None = None) -> str:
    """A concept's entries as one lower-case, literal-first, trie-merged alternation (see above)."""
    branches = [x for e in rules.words(section, concept, langs) for a in split_alts(lower_outside_escapes(e))
                for x in expand(a)]
    return trie_alternation(branches) if branches else "(?!)"


# ---------------------------------------------------------------- canonical names

CANONICAL: dict[str, str] = {k.lower(): v for k, v in rules.table("names", "canonical").items()}
NOT_NAMES = frozenset(w.lower() for w in rules.words("names", "not_names"))
OUTLETS = frozenset(w.lower() for w in rules.words("names", "outlets"))
_PLACES = frozenset(w.lower() for w in rules.words("names", "place_words"))  # "China Asset Management"
_SUFFIXES = re.compile(r"(?:,?\s+(?:Inc\.?|Ltd\.?|Limited|Co\.?|Corp\.?|Corporation|Holdings?|PLC|LLC|L\.P\.|"
                       r"S\.?A\.?|AG|GmbH|SpA))+\.?$")
_TICKER = re.compile(r"\s*[(（]\s*(?:[A-Z]{2,6}\s*:\s*[A-Z0-9.]{1,8}|[A-Z0-9.]{1,8}\s*:\s*[A-Z]{2,6})\s*[)）]")
_GEO_TAIL = re.compile(r"(?:中国|中國|香港|亚洲|亞洲)$")


def canonical_name(name: str) -> str:
    """'Alibaba Group Holding Ltd.' -> 'Alibaba'; '腾讯' -> 'Tencent'; 'Temasek淡马锡' -> 'Temasek'; else tidied."""
    n = _TICKER.sub("", name).strip().strip(".,;:’'\"()（）「」“”-–").strip()
    n = re.sub(r"['’]s$", "", n)
    n = re.sub(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])", "", n)  # "百 度": a stray space in a CJK name
    n = re.sub(r"\s+", " ", n)
    m = re.fullmatch(r"([A-Za-z][\w .&'-]*?)\s*([\u3400-\u9fff]{2,})", n)
    if m and not _GEO_TAIL.search(n):
        n = m.group(1)  # "Temasek淡马锡": the Latin name and its Chinese gloss
    low = n.lower()
    if low in CANONICAL:
        return CANONICAL[low]
    stripped = _SUFFIXES.sub("", n).strip()
    return CANONICAL.get(stripped.lower(), stripped)


@lru_cache(maxsize=8)
def _alias_kinds(aliases: frozenset[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The aliases that are one long Latin word, and the non-Latin ones (sorted once per watchlist)."""
    return (frozenset(a for a in aliases if " " not in a and a.isascii() and len(a) > 3),
            tuple(a for a in aliases if not a.isascii()))


def is_name(name: str, aliases: frozenset[str]) -> bool:
    """A plausible investor or partner name: not a common word, an outlet, or a watched alias."""
    low = name.lower()
    if not name or low in NOT_NAMES or low in OUTLETS or low in aliases:
        return False
    one_word, non_latin = _alias_kinds(aliases)
    words = low.split()
    if not one_word.isdisjoint(words):
        return False  # "Kuaishou Technology", "Kling AI"
    if any(a in low for a in non_latin):
        return False  # "快手科技"
    if words[0] in NOT_NAMES and words[0] not in ("the",) and not (len(words) >= 3 and words[0] in _PLACES):
        return False  # "Chinese regulators", but "China Asset Management"
    if len(name) > 60 or not re.search(r"[^\W\d_]", name):
        return False
    return True


# ---------------------------------------------------------------- Latin-script lists

_CONNECT = _alt("name_connectors", _LATIN)
_AND = _alt("list_and", _LATIN)
NAME = (rf"(?:The\s+)?(?:[A-Z]|[ie][A-Z]|\d+[A-Z])[\w'’.\-]*"
        rf"(?:\s+(?:{_CONNECT}\s+)?(?:&\s+)?[A-Z0-9][\w'’.\-]*)*")
# a descriptor before a name: "Singapore investment company Temasek", "el gigante digital chino Tencent"
_DESC = (rf"(?:[A-Z][\w-]*\s+)?(?:(?!(?:{_AND}|{_CONNECT}|or|with|plus|which|who|that)\b)"
         r"[a-zà-ÿ][\w-]*\s+){1,4}(?=[A-Z0-9])")
# a later item's descriptor starts with a capital ("BlackRock, Singapore investment company Temasek"), so that
# the next clause ("Tencent, geht an die Börse") is not read as another item
_CAP_DESC = (rf"[A-Z][\w-]*\s+(?:(?!(?:{_AND}|{_CONNECT}|or|with|plus|which|who|that)\b)"
             r"[a-zà-ÿ][\w-]*\s+){1,4}(?=[A-Z0-9])")
_PAREN = r"\s*[(（](?:with\s+|via\s+|through\s+|and\s+|incl\.\s+)?" + NAME + r"[)）]"
_ITEM = rf"(?<![\w'’-])(?:[A-Z][\w'’]*(?:\s+[a-z][\w-]*){{1,3}}\s*[(（]{NAME}[)）]|(?:{_DESC})?{NAME}(?:{_PAREN})?)"
_BACK_ITEM = rf"(?<![\w'’-])(?:[A-Z][\w'’]*(?:\s+[a-z][\w-]*){{1,3}}\s*[(（]{NAME}[)）]|{NAME}(?:{_PAREN})?)"
_SEP = rf"(?:\s*,\s*(?:(?:{_AND})\s+)?|\s+(?:{_AND})\s+|\s*、\s*)"
_NEXT_ITEM = rf"(?<![\w'’-])(?:[A-Z][\w'’]*(?:\s+[a-z][\w-]*){{1,3}}\s*[(（]{NAME}[)）]|(?:{_CAP_DESC})?{NAME}(?:{_PAREN})?)"
LIST_FWD = re.compile(rf"{_ITEM}(?:{_SEP}{_NEXT_ITEM})*")
LIST_BACK = re.compile(rf"{_BACK_ITEM}(?:{_SEP}{_BACK_ITEM})*[\s…]*$")
ITEM_RE = re.compile(_ITEM)
BACK_ITEM_RE = re.compile(_BACK_ITEM)
NAME_RE = re.compile(NAME)
_DESC_RE = re.compile(rf"^{_DESC}")

_LETTER_AFTER = r"(?![a-zà-ÿа-яё])"
# cue concepts found in one pass over the lower-cased text (find_cues), investors' and product moves'
CUE_CONCEPTS = ("investor_cues", "holder_cues", "investor_verbs", "holder_verbs", "investor_roles",
                "launch_cues", "api_cues", "pricing_cues", "integration_cues", "expansion_cues", "milestone_cues")
CUE_RX: dict[str, re.Pattern[str]] = {c: re.compile(cue_pattern("names", c, _LATIN) + _LETTER_AFTER) for c in CUE_CONCEPTS}
CJK_CUE_RX: dict[str, re.Pattern[str]] = {c: re.compile(cue_pattern("names", c, _CJK)) for c in CUE_CONCEPTS
                                         if rules.words("names", c, _CJK)}
_SCAN = re.compile(r"\b(?=" + trie_alternation([x for c in CUE_CONCEPTS for e in rules.words("names", c, _LATIN)
                                              for a in split_alts(lower_outside_escapes(e)) for x in expand(a)]) + ")")
_CJK_SCAN = re.compile("(?=" + trie_alternation([x for c in CJK_CUE_RX for e in rules.words("names", c, _CJK)
                                         for a in split_alts(lower_outside_escapes(e)) for x in expand(a)]) + ")")


@lru_cache(maxsize=4)
def find_cues(low: str) -> dict[str, list[re.Match[str]]]:
    """Every cue of every concept in `low` (lower-cased text), by concept: one scan (zero-width, so that no cue
    hides another that starts inside it) for candidate positions, then each concept tried there. Cached:
    names and moves read the same document."""
    out: dict[str, list[re.Match[str]]] = {c: [] for c in CUE_CONCEPTS}
    for m in _SCAN.finditer(low):
        for c, rx in CUE_RX.items():
            hit = rx.match(low, m.start())
            if hit:
                out[c].append(hit)
    if CJK_RE.search(low) is not None:
        for m in _CJK_SCAN.finditer(low):
            for c, rx in CJK_CUE_RX.items():
                hit = rx.match(low, m.start())
                if hit:
                    out[c].append(hit)
        for c in CJK_CUE_RX:
            out[c].sort(key=lambda h: h.start())
    return out


_INTRO = re.compile(rf"(?:\s+[\w-]+){{0,2}}?\s*,?\s*(?:{cue_pattern('names', 'list_intros', _LATIN)}){_LETTER_AFTER}")
_CUE_TAIL = re.compile(r"\s*:?\s*")
_ADVERBS = cue_pattern("names", "investor_adverbs", _LATIN)
_ASIDE = r"(?:\s*,\s*[a-zà-ÿ][^,.;]{0,25},)?"
_VERB_LEAD = re.compile(rf"{_ASIDE}\s*,?\s+(?:(?:{_ADVERBS})\s+)*$")  # "Tencent, for its part, has also | invested"
_NOT_BY = re.compile(r"\s+by\b")
BACKED = re.compile(rf"(?:{_alt('backed_suffixes', _LATIN)})\b", re.IGNORECASE)
_ROLES = _alt("investor_roles", _LATIN)
# "DCM Ventures, Kuaishou's second outside investor"; "early-stage backer 5Y Capital"
APPOSITION = re.compile(rf",\s+(?:[A-Z][\w-]*['’]s)\s+(?:[\w-]+\s+){{0,3}}?(?:{_ROLES})\b")
APPOSITION_BY = re.compile(r",\s*(?:[\w-]+\s+){0,2}?(?:by|pela|pelo|por|par|von|da|dal|dalla)\s*$")
ROLE_BEFORE = re.compile(r"\b(?:backer|investor|shareholder)\s+(?=[A-Z0-9])")
SHAREHOLDER_HEADER = _rx(rf"^\s*(?:{_alt('shareholder_headers', _LATIN)})\s*[:：]?\s*$")
SHARE_LINE = re.compile(rf"^\s*(?P<name>{NAME})\s*[:：|]\s*\d+(?:[.,]\d+)?\s*%")
ROUND_CONTEXT = re.compile(rf"\b{cue_pattern('names', 'round_context', _LATIN)}{_LETTER_AFTER}"
                           rf"|{cue_pattern('names', 'round_context', _CJK)}")
RIVAL_BEFORE = _rx(rf"\b(?:{_alt('rival_cues')})\s*(?:like|such\s+as|including|,|:)?\s*$")
_RIVAL_WORD = re.compile(rf"{cue_pattern('names', 'rival_cues')}")


def split_item(item: str) -> list[str]:
    """'Zhongguancun Science City Fund (with Guoke Investment)' -> both; "Mango's industry investor (Houwei Capital)" -> the name."""
    m = re.match(r"^(?P<out>[^(（]*?)\s*[(（](?:with\s+|via\s+|through\s+|and\s+|incl\.\s+)?(?P<in>[^)）]+)[)）]\s*$", item)
    if not m:
        return [_DESC_RE.sub("", item)]
    out, inner = _DESC_RE.sub("", m.group("out").strip()), m.group("in").strip()
    if NAME_RE.fullmatch(out) and not re.search(r"['’]s\b", out):
        return [out, inner]
    return [inner]


def list_items(span: str, backward: bool) -> list[str]:
    """The names of a list; read backwards, a list stops at a second 'and' (the start of another clause)."""
    items = list((BACK_ITEM_RE if backward else ITEM_RE).finditer(span))
    if not items:
        return []
    if not backward:
        return [x for it in items for x in split_item(it.group(0))]
    keep: list[str] = []
    saw_and = False
    comma_cut = len(items)
    accepted: list[tuple[int, str]] = []
    for k in range(len(items) - 1, -1, -1):
        accepted.append((k, items[k].group(0)))
        if k == 0:
            break
        sep = span[items[k - 1].end():items[k].start()]
        if re.search(rf"\b(?:{_AND})\b", sep):
            if saw_and:
                accepted = [(i, s) for i, s in accepted if i >= comma_cut]
                break
            saw_and = True
        elif not re.fullmatch(_SEP, sep):
            accepted.pop()  # not a separator: the list started after this item
            break
        if "," in sep or "、" in sep:
            comma_cut = k
    for _, s in sorted(accepted):
        keep.extend(split_item(s))
    return keep


# ---------------------------------------------------------------- CJK lists

# where a CJK name can start: after punctuation, "IPO 前," ..., the Japanese topic particle, or a space in
# Korean, which separates words
_CJK_BOUND = r"(?:^|[，,；;。！？\n：:、]|(?<=前|后|後|外|中|は)|(?<=[\uac00-\ud7af]\s))"
# a particle after a name ends it: "テンセントが主導", "バイドゥが含まれる" (Japanese: the rest of the clause goes
# too); "텐센트가" (Korean: only the particle)
_JA_PARTICLE_TAIL = re.compile(rf"(?<=[^\W\d_])(?:{_alt('name_particles', ('ja',))})[\u3040-\u309f\u4e00-\u9fff]*$")
_KO_PARTICLE_END = re.compile(rf"(?<=[\uac00-\ud7af])(?:{_alt('name_particles', ('ko',))})$")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_CJK_SEG = r"[^，。；：,;:！？\n]"
CN_SPLIT = re.compile(_alt("list_separators", _CJK))
_OWNER_PREFIX = re.compile(rf"^.{{1,8}}?(?:{_alt('owner_prefixes', _CJK)})")
CN_INV = re.compile(
    # "由腾讯、阿里巴巴领投"
    rf"由(?P<a>{_CJK_SEG}{{2,80}}?)(?:联合|共同|聯合)?(?:{_alt('by_verbs', _CJK)})"
    # "投资方包括中信证券、华策影视"
    rf"|(?:{_alt('investor_nouns', _CJK)})(?:{_alt('noun_intros', _CJK)})(?P<b>[^。；;\n]{{2,120}})"
    # "腾讯、CPE源峰等担任联合领投方"
    rf"|{_CJK_BOUND}(?P<e>{_CJK_SEG}{{2,120}}?)(?:担任|擔任|作为|作為|为|為)(?:联合|共同|聯合)?(?:{_alt('role_nouns', _CJK)})"
    # "百度跟投", "腾讯、阿里巴巴参与了本轮融资"
    rf"|{_CJK_BOUND}(?P<c>[^，。；：,;:由！？\n]{{2,12}}?)(?:联合|共同|聯合)?(?:{_alt('lead_verbs', _CJK)}"
    r"|(?:均有|均|亦有|也有|亦|也)?(?:参与|參與)(?:了)?(?:本轮|本輪|此轮|此輪)?(?:投资|投資|融资|融資)?(?=[，。；,;]|$))"
    # "腾讯持股为 21.567%", "DST 股东共同持有快手 6.43% 股权"
    rf"|{_CJK_BOUND}\s*(?P<h>[^，。；：,;:！？\n\s]{{1,12}}(?:\s[^，。；：,;:！？\n\s]{{1,12}})?)\s*(?:股东|股東)?(?:共同)?"
    rf"(?:{_alt('holding_verbs', _CJK)})"
    # "获得五源资本的 200 万元天使轮融资", "接受了 DCM 的投资"
    rf"|(?:{_alt('receive_verbs', _CJK)})\s*(?P<g>[^，。；：,;:！？\n的]{{2,80}}?)\s*(?:等{_CJK_SEG}{{0,10}})?的{_CJK_SEG}{{0,24}}?"
    rf"(?:{_alt('funding_nouns', _CJK)})"
    # "云锋基金、Temasek淡马锡等几家创投加入快手F轮融资"
    rf"|{_CJK_BOUND}(?P<j>{_CJK_SEG}{{2,80}}?)等{_CJK_SEG}{{0,8}}(?:{_alt('join_verbs', _CJK)}){_CJK_SEG}{{0,12}}?"
    rf"(?:{_alt('funding_nouns', _CJK)})"
)
_CN_TAIL = re.compile(r"等(?:[^、，,]{0,8}(?:投资者|投資者|投资方|投資方|机构|機構|股东|股東|创投|創投|大佬们?))?$")


# ---------------------------------------------------------------- investors


def _window_names_entity(ctx: Context, si: int, back: int = 2, reach: int = 500) -> bool:
    """Kling or Kuaishou named in this sentence, the `back` before it, or the `reach` characters before it."""
    s = ctx.sents[max(0, si - back)]
    return bool(ctx.mentions_in(min(s.start, max(0, ctx.sents[si].start - reach)), ctx.sents[si].end))


def _round_context(ctx: Context, si: int) -> bool:
    return any(ROUND_CONTEXT.search(x.low) for x in ctx.sents[max(0, si - 2):si + 1])


# a passive cue ("backed by", "led by", "apoyada por") whose subject comes before it
_AGENT_CUE = re.compile(r"(?:\b(?:by|from|por|pela|pelo|par|von|da|с)|由)\s*:?\s*$", re.IGNORECASE)
_NOT_INVESTORS_AFTER = re.compile(rf"\s*,?\s*{cue_pattern('names', 'not_investors_after', _LATIN)}", re.IGNORECASE)


def _other_subject(ctx: Context, sent: _Sent, pos: int, aliases: frozenset[str], known: set[str]) -> bool:
    """The company a passive cue is about (the list of names nearest before it in its sentence) is none of
    the watched ones. Investors already found are transparent ("led by Tencent and Alibaba, with
    participation from ...")."""
    other = False
    prev_start: int | None = None
    for nm in reversed(list(NAME_RE.finditer(ctx.text, max(sent.start, pos - 120), pos))):
        name = canonical_name(nm.group(0))
        low = name.lower()
        if (low in NOT_NAMES or low.endswith("-based") or low.split()[0] in NOT_NAMES or len(low) < 2
                or not re.match(r"[A-Z][a-z]", name)):
            continue  # not a company's name ("China-based", "RMB", "The")
        if prev_start is not None and not re.fullmatch(_SEP, ctx.text[nm.end():prev_start]):
            break  # the list nearest the cue has ended
        prev_start = nm.start()
        if name in known:
            continue
        if low in aliases or any(a in low.split() for a in aliases if a.isascii() and len(a) > 3):
            return False
        other = True
    return other


def investors(ctx: Context, aliases: frozenset[str]) -> list[str]:
    """Investors and shareholders named in the document, in order of first mention."""
    text = ctx.text
    found: list[tuple[int, str]] = []

    def add(names: list[str], pos: int, sent: _Sent) -> None:
        lo = max(sent.start, pos - 40)
        if _RIVAL_WORD.search(ctx.low, lo, pos) and RIVAL_BEFORE.search(text[lo:pos]):
            return
        for k, raw in enumerate(names):
            name = canonical_name(raw)
            if is_name(name, aliases):
                found.append((pos + k, name))

    def usable(si: int, needs_round: bool, cue_pos: int | None = None) -> bool:
        sent = ctx.sents[si]
        # an ownership statement opening its sentence ("… 22% do capital está nas mãos da Tencent") is about
        # the company the story is about, even a few paragraphs after its name
        reach = 1500 if cue_pos is not None and cue_pos - sent.start <= 30 else 500
        if sent.speculative or not _window_names_entity(ctx, si, reach=reach):
            return False
        if cue_pos is not None and cue_pos - sent.start > 30 and not ctx.mentions_in(sent.start, sent.end):
            return False  # "the platform owned by ByteDance": an ownership cue about someone else
        return not needs_round or _round_context(ctx, si)

    cues = find_cues(ctx.low)
    forward = [(m, True, False) for m in cues["investor_cues"]] + [(m, False, False) for m in cues["holder_cues"]]
    for m in cues["investor_roles"]:  # "investors include", "10 cornerstone investors, including"
        intro = _INTRO.match(ctx.low, m.end())
        if intro:
            forward.append((intro, True, True))
    forward.sort(key=lambda f: f[0].start())
    for m, needs_round, _ in forward:
        si = ctx.sent_index(m.start())
        sent = ctx.sents[si]
        if not usable(si, needs_round, None if needs_round else m.start()):
            continue
        if _AGENT_CUE.search(m.group(0)) and _other_subject(ctx, sent, m.start(), aliases, {n for _, n in found}):
            continue  # "ByteDance, which is backed by Sequoia": the cue is about another company
        tail = _CUE_TAIL.match(text, m.end())
        lm = LIST_FWD.match(text, tail.end() if tail else m.end(), sent.end)
        if lm and _NOT_INVESTORS_AFTER.match(text, lm.end()):
            continue  # "led by Morgan Stanley and CICC as joint sponsors": banks, not investors
        if lm:
            add(list_items(lm.group(0), backward=False), lm.start(), sent)
    backward: list[tuple[int, bool]] = [(m.start(), True) for m in cues["investor_verbs"]
                                        if not _NOT_BY.match(ctx.low, m.end())]
    backward += [(m.start(), False) for m in cues["holder_verbs"]]
    backward += [(m.start(), False) for m in APPOSITION.finditer(text)]
    for pos, needs_round in backward:
        si = ctx.sent_index(pos)
        sent = ctx.sents[si]
        if not usable(si, needs_round):
            continue
        lead = _VERB_LEAD.search(text, max(sent.start, pos - 80), pos)
        start = lead.start() if lead else pos
        before = text[max(sent.start, start - 200):start]
        lm = LIST_BACK.search(before)
        ap = APPOSITION_BY.search(before, 0, lm.start()) if lm else None
        if lm and ap:
            # "Fundo X, controlada pela Administração Y, é dona de parte": the owner is X, not Y
            before = before[:ap.start()]
            lm = LIST_BACK.search(before)
        if lm:
            add(list_items(lm.group(0), backward=True), start - len(before) + lm.start(), sent)
    for m in BACKED.finditer(text):  # "Tencent-backed", "Tencent Holdings (OTC:TCEHY) Ltd.-backed"
        si = ctx.sent_index(m.start())
        sent = ctx.sents[si]
        if not usable(si, False):
            continue
        before = _TICKER.sub(lambda t: " " * len(t.group(0)), text[max(sent.start, m.start() - 80):m.start()])
        lm = re.search(rf"(?:{NAME})$", before.rstrip() if before.endswith(" ") else before)
        if lm:
            add([lm.group(0)], m.start() - len(before) + lm.start(), sent)
    for m in ROLE_BEFORE.finditer(text):  # "early-stage backer 5Y Capital", "lead investor Tencent"
        si = ctx.sent_index(m.start())
        if not usable(si, True):
            continue
        nm = NAME_RE.match(text, m.end(), ctx.sents[si].end)
        if nm:
            add([nm.group(0)], nm.start(), ctx.sents[si])
    _shareholder_lines(ctx, add)
    if CJK_RE.search(text) is not None:
        _cjk_investors(ctx, found, aliases)
    out: list[str] = []
    for _, name in sorted(found):
        if name not in out:
            out.append(name)
    return out


def _shareholder_lines(ctx: Context, add) -> None:  # noqa: ANN001 - the caller's collector
    """'Major Shareholders:' then one 'Tencent Holdings Ltd: 18.9%' line per holder."""
    lines = ctx.text.split("\n")
    pos = 0
    header = False
    for line in lines:
        if SHAREHOLDER_HEADER.match(line):
            header = bool(ctx.mentions)
        elif header:
            m = SHARE_LINE.match(line)
            if m:
                si = ctx.sent_index(pos)
                add([m.group("name")], pos + m.start("name"), ctx.sents[si])
            else:
                header = False
        pos += len(line) + 1


# words one of which every CN_INV pattern contains: a sentence without any is not searched (CN_INV is slow)
_CN_KEYS = tuple(dict.fromkeys(_head(lower_outside_escapes(x))[0] for c in (
    "lead_verbs", "by_verbs", "investor_nouns", "role_nouns", "holding_verbs", "receive_verbs", "join_verbs")
    for e in rules.words("names", c, _CJK) for a in split_alts(e) for x in expand(a)))


def _cn_matches(ctx: Context) -> list[re.Match[str]]:
    out: list[re.Match[str]] = []
    for sent in ctx.sents:
        if any(k and k in sent.text for k in _CN_KEYS):
            out.extend(CN_INV.finditer(ctx.text, max(0, sent.start - 1), sent.end))  # the boundary before it too
    return out


def _cjk_investors(ctx: Context, found: list[tuple[int, str]], aliases: frozenset[str]) -> None:
    for m in _cn_matches(ctx):
        si = ctx.sent_index(m.start())
        if ctx.sents[si].speculative or not _window_names_entity(ctx, si):
            continue
        seg = next((g for g in m.groups() if g), "")
        after = ctx.text[m.end():m.end() + 16]
        if m.group("h") and not ("%" in m.group(0) or m.group(0).endswith(("持股", "出資", "出资"))
                                 or "%" in after or any(a in after for a in aliases if not a.isascii())):
            continue  # "持有" something else than a stake in the company
        for part in CN_SPLIT.split(seg):
            part = _CN_TAIL.sub("", part.strip())
            part = re.sub(r"(?:等|等机构|等多家机构|机构|公司|基金等)$", "", part)
            part = _OWNER_PREFIX.sub("", part).strip()
            if _HANGUL.search(part):
                part = part.split()[-1] if part.split() else part  # Korean: the name is the word before the verb
            if len(part) > 2:
                part = (_KO_PARTICLE_END if _HANGUL.search(part) else _JA_PARTICLE_TAIL).sub("", part).strip()
            if part:
                name = canonical_name(part)
                if is_name(name, aliases) and len(name) <= 30:
                    found.append((m.start() + len(found), name))


# ---------------------------------------------------------------- cloud partners

PARTNER_CUE = re.compile(rf"\b{cue_pattern('names', 'partner_cues', _LATIN)}{_LETTER_AFTER}"
                         rf"|{cue_pattern('names', 'partner_cues', _CJK)}")


_AS_CUSTOMER_AFTER = re.compile(r"[^。；，.;]{0,12}?等[^。；，]{0,10}?(?:企业|企業|客户|客戶|公司|品牌)")
_AS_CUSTOMER_BEFORE = re.compile(r"\b(?:customers|clients|users|enterprises)\s+(?:include|including|such\s+as|like)\b[^.;]{0,60}$",
                                 re.IGNORECASE)


def provider_hits(text: str, providers: tuple[str, ...]) -> list[tuple[int, str]]:
    """(offset, provider) for each provider named in `text`; the longest name wins where they overlap
    ("Microsoft Azure" over "Azure"). Plain substring search: faster than one big regex."""
    hits: list[tuple[int, int, str]] = []
    for p in sorted((p for p in providers if p and p in text), key=len, reverse=True):
        i = text.find(p)
        while i >= 0:
            j = i + len(p)
            # ASCII neighbours only: "fal.aiのAPI", "Replicate를" (a Japanese or Korean particle) still bound it
            bounded = not p.isascii() or (
                (i == 0 or not (text[i - 1].isascii() and text[i - 1].isalnum())) and (j >= len(text) or not (
                    (text[j].isascii() and text[j].isalnum())
                    or (text[j] == "." and j + 1 < len(text) and text[j + 1].isascii() and text[j + 1].isalpha())))
            )
            if bounded and not any(s <= i < e or s < j <= e for s, e, _ in hits):
                hits.append((i, j, p))
            i = text.find(p, i + 1)
    return [(i, p) for i, _, p in sorted(hits)]


def _host_provider(url: str | None, providers: tuple[str, ...]) -> str | None:
    """The provider whose own site the page is on ("runware.ai/docs/models/klingai-video-o1-pro")."""
    if not url or "://" not in url:
        return None
    labels = (urlsplit(url).hostname or "").lower().split(".")
    site = labels[-2] if len(labels) >= 2 else ""
    for p in providers:
        if p.isascii() and re.sub(r"[^a-z0-9]", "", p.lower().split(".")[0]) == site and len(site) >= 3:
            return p
    return None


def cloud_partners(ctx: Context, providers: tuple[str, ...], url: str | None = None) -> list[str]:
    """Providers that host, serve or distribute Kling's models: a provider and a partner cue in a sentence
    about Kling (or right after one, on a page about it), or a provider's own model or API page about Kling;
    not an investor, rival or a hedge."""
    out: list[str] = []
    host = _host_provider(url, providers)
    if host and any(m.entity == "Kling" for m in ctx.mentions) and (
            find_cues(ctx.low)["api_cues"] or find_cues(ctx.low)["pricing_cues"] or PARTNER_CUE.search(ctx.low)):
        out.append(canonical_name(host))
    for pos, prov in provider_hits(ctx.text, providers):
        si = ctx.sent_index(pos)
        sent = ctx.sents[si]
        if sent.speculative or not (ctx.mentions_in(sent.start, sent.end) or _page_about_kling(ctx, si)):
            continue
        if not PARTNER_CUE.search(sent.low):
            continue
        cues = find_cues(ctx.low)
        if (any(sent.start <= h.start() < sent.end for c in ("investor_cues", "investor_verbs", "holder_cues")
                for h in cues[c]) or RIVAL_BEFORE.search(ctx.text[max(sent.start, pos - 40):pos])):
            continue  # named as an investor or a rival here, not as a host
        if _AS_CUSTOMER_AFTER.match(ctx.text, pos + len(prov)) or _AS_CUSTOMER_BEFORE.search(
                ctx.text[max(sent.start, pos - 80):pos]):
            continue  # "已与小米、亚马逊云科技等数千家企业建立合作": a customer, not a host
        name = canonical_name(prov)
        if name not in out:
            out.append(name)
    return out


def _page_about_kling(ctx: Context, si: int) -> bool:
    """A model or API page: Kling named in its first lines, and no other company's model in between."""
    first = ctx.sents[0]
    return bool(ctx.mentions) and ctx.mentions[0].start < first.start + 400 and si < 40
