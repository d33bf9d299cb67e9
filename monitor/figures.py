"""Number parsing: find money amounts, counts and percentages in text.

This module only knows about *numbers*: where an amount is, its value, its unit, its
qualifier (about / up to / at least / a range) and a parenthetical currency conversion.
What an amount *measures* (round size, capex, ...) is decided in `monitor.extract`.
Every pattern is compiled once at import; `scan_amounts` is on the hot path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from monitor import rules
from monitor.rules.patterns import factor, flatten, lower_outside_escapes, strip_leading_b, trie_alternation

# ------------------------------------------------------------------ vocab

_UNITS_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS_WORDS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
_NUMBER_WORDS = {**_UNITS_WORDS, **_TENS_WORDS}
# ... and every language file's `[facts.number_words]` ("fünf", "seis", "deux" ...)
_NUMBER_WORDS.update({k: int(v) for k, v in rules.table("facts", "number_words").items()})

# Latin scale words (case-insensitive); longest first so "mil millones" beats "mil".
_LATIN_SCALES: dict[str, float] = {
    "thousand": 1e3, "million": 1e6, "millions": 1e6, "billion": 1e9, "trillion": 1e12,
    "mln": 1e6, "mn": 1e6, "bln": 1e9, "bn": 1e9, "tn": 1e12, "trn": 1e12,
    "milhões": 1e6, "milhoes": 1e6, "milhão": 1e6, "milhao": 1e6,
    "bilhões": 1e9, "bilhoes": 1e9, "bilhão": 1e9, "bilhao": 1e9, "trilhões": 1e12, "trilhão": 1e12,
    "millones": 1e6, "millón": 1e6, "mil millones": 1e9, "miles de millones": 1e9,
    "milliard": 1e9, "milliards": 1e9, "milliarden": 1e9, "millionen": 1e6, "mio.": 1e6, "mio": 1e6,
    "mrd.": 1e9, "mrd": 1e9, "miliardi": 1e9, "milioni": 1e6,
}
# ... and every language file's `[facts.scales]` (word -> multiplier)
_LATIN_SCALES.update({k: float(v) for k, v in rules.table("facts", "scales").items()})
# Scales written the continental way ("18.000 millones", "4,4 bilhões"): a dot before three digits groups
# thousands, a comma is the decimal mark.
_CONTINENTAL_SCALES = frozenset(w for w, _ in rules.table("facts", "scales").items() if w not in (
    "million", "billion", "trillion", "thousand"))
# One-letter scales only directly after a currency-prefixed number ("$2B", "$767m", "$500k").
_SHORT_SCALES = {"k": 1e3, "m": 1e6, "b": 1e9, "mn": 1e6, "bn": 1e9}
_CJK_SCALE_CHARS = {
    "十": 10.0, "百": 100.0, "千": 1e3, "万": 1e4, "萬": 1e4, "亿": 1e8, "億": 1e8, "兆": 1e12,
    "천": 1e3, "만": 1e4, "억": 1e8, "조": 1e12,
}
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}

# Currency prefixes and suffixes -> ISO code. Order matters inside the regexes (longest first).
_PREFIX_UNITS: dict[str, str] = {
    "US$": "USD", "U.S.$": "USD", "USD": "USD", "HK$": "HKD", "HKD": "HKD", "NT$": "TWD", "S$": "SGD",
    "A$": "AUD", "C$": "CAD", "R$": "BRL", "RMB": "CNY", "Rmb": "CNY", "CNY": "CNY", "CN¥": "CNY",
    "JP¥": "JPY", "JPY": "JPY", "¥": "CNY", "￥": "CNY", "€": "EUR", "EUR": "EUR", "£": "GBP", "GBP": "GBP",
    "₩": "KRW", "KRW": "KRW", "$": "USD", "人民币": "CNY", "人民幣": "CNY",
}
_SUFFIX_UNITS: dict[str, str] = {
    "us dollars": "USD", "us dollar": "USD", "u.s. dollars": "USD", "u.s. dollar": "USD",
    "hong kong dollars": "HKD", "hong kong dollar": "HKD", "dollars": "USD", "dollar": "USD",
    "yuan": "CNY", "renminbi": "CNY", "rmb": "CNY", "usd": "USD", "hkd": "HKD", "cny": "CNY",
    "euros": "EUR", "euro": "EUR", "eur": "EUR", "yen": "JPY", "jpy": "JPY", "won": "KRW", "krw": "KRW",
    "reais": "BRL", "美元": "USD", "美金": "USD", "港元": "HKD", "港币": "HKD", "港幣": "HKD",
    "人民币": "CNY", "人民幣": "CNY", "日元": "JPY", "日圓": "JPY", "日円": "JPY", "円": "JPY",
    "元人民币": "CNY", "元人民幣": "CNY", "韩元": "KRW", "韓元": "KRW", "欧元": "EUR", "歐元": "EUR", "元": "CNY", "달러": "USD", "원": "KRW",
    "엔": "JPY", "ドル": "USD", "米ドル": "USD", "億ドル": "USD",
}
# ... and every language file's `[facts.currencies]` (word after the number -> ISO code)
_SUFFIX_UNITS.update(rules.table("facts", "currencies"))
_SCALE_UNITS: dict[str, str] = rules.table("facts", "scale_units")


def _alt(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_WORD = _alt(list(_NUMBER_WORDS))
_WORDNUM = rf"(?:(?:{_WORD})(?:[\s-](?:{_WORD}))?(?:\s+hundred(?:\s+(?:and\s+)?(?:{_WORD})(?:[\s-](?:{_WORD}))?)?)?)"
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?)"
_CNNUM = r"(?:[零〇一二两兩三四五六七八九十百千]+)"
_LATIN_SCALE = rf"(?:{_alt(list(_LATIN_SCALES))})(?![A-Za-zÀ-ÿ])"
_CJK_SCALE = r"(?:[十百千]?[万萬亿億兆](?:[万萬亿億])?|[천백]?[만억조]|千|천)"
# the rest of a compound after its first big scale: "5400万" in 355億5400万, "8천8백90만" in 4억8천8백90만
_CJK_TAIL = r"(?:\d[\d,]*(?:\.\d+)?(?:\s?[千百十천백십]\s?\d*)*\s?[万萬만천千亿億억])"
_CJK_SMALL = r"(?:\s?[千百천백]\s?\d+)*"
_PREFIX = r"(?:(?:US|U\.S\.)\s?\$|(?:HK|NT|S|A|C|R)\$|CN¥|JP¥|(?:USD|HKD|RMB|Rmb|CNY|JPY|EUR|GBP|KRW)(?![A-Za-z])|[$¥￥€£₩]|人民币|人民幣)"
_SUFFIX = (rf"(?:(?:de|di|d['’]|of)\s?)?(?:(?:{_alt([k for k in _SUFFIX_UNITS if k.isascii()])})(?![A-Za-z])"
           rf"|(?:{_alt([k for k in _SUFFIX_UNITS if not k.isascii()])}))")
_PCT = r"(?:%|％|\s?percent(?![A-Za-z])|\s?per\s+cent(?![A-Za-z]))"

_AMOUNT_RE = re.compile(
    rf"""
    (?:(?P<pre>{_PREFIX})\s?|(?<![A-Za-z0-9.,$¥€£]))
    (?P<num>{_DIGITS}(?={_CJK_SMALL}\s?[千百천백])(?:\s?[千百천백]\s?\d*)+|{_DIGITS}|(?<![A-Za-z]){_WORDNUM}(?![A-Za-z])|{_CNNUM})
    (?:\s?(?:-|–|—|~|to|至|到)\s?(?P<num2>{_DIGITS}|{_CNNUM}|(?<![A-Za-z]){_WORDNUM})(?=\s?(?:{_LATIN_SCALE}|{_CJK_SCALE}|%|％|{_SUFFIX})))?
    (?:
        (?P<pct>{_PCT})
      | (?:\s?(?P<scale>{_LATIN_SCALE})|\s?(?P<cjk>{_CJK_SCALE})(?P<tail>{_CJK_TAIL})?|(?P<short>[kKmMbB]|mn|bn)(?![A-Za-z]))?
        (?:\s?(?P<post>{_SUFFIX}))?
    )
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Fast pre-scan: where numbers start (a charset-led pattern, so `re` can skip ahead quickly);
# the full amount regex is then matched only at those places.
# Number words as one trie (shared heads merged) after a non-letter: `re` tries the alternation only at
# word starts and fails at the first character elsewhere (3x faster than the flat alternation).
_TRIGGER_RE = re.compile(rf"[0-9][0-9.,]*|[零〇一二两兩三四五六七八九十百千]+|"
                         rf"(?<![a-z])(?:{trie_alternation([re.escape(w) for w in _NUMBER_WORDS])})(?![a-z])")
_PREFIX_TAIL_RE = re.compile(rf"(?:{_PREFIX})\s?$")
_USERS_AFTER = re.compile(r"\s*(?:users|maus?|daus?|subscribers|creators|members)\b", re.IGNORECASE)
_CHINESE_PCT_RE = re.compile(r"百分之(?P<num>[零〇一二两兩三四五六七八九十百点點]+|\d+(?:\.\d+)?)")


# ------------------------------------------------------------------ parsing


def parse_digits(s: str) -> float:
    """'2,028' -> 2028, '2.028' -> 2.028, '4,4' -> 4.4 (a decimal comma is any comma not before 3 digits)."""
    if "," in s:
        head, _, tail = s.rpartition(",")
        if len(tail) == 3 and "." not in tail and re.fullmatch(r"\d{1,3}(?:,\d{3})*", head):
            return float(s.replace(",", ""))
        if "." not in s and s.count(",") == 1:
            return float(s.replace(",", "."))
        return float(s.replace(",", ""))
    return float(s)


def parse_words(s: str) -> float | None:
    """'three' -> 3, 'twenty-two' -> 22, 'one hundred and five' -> 105."""
    total = 0.0
    current = 0.0
    for tok in re.split(r"[\s-]+", s.lower()):
        if tok in _NUMBER_WORDS:
            current += _NUMBER_WORDS[tok]
        elif tok == "hundred":
            current = (current or 1) * 100
        elif tok == "and":
            continue
        else:
            return None
    return total + current


def parse_chinese(s: str) -> float | None:
    """'三十' -> 30, '一百二十' -> 120, '两千' -> 2000 (the 万/亿 scales are handled as units)."""
    total = 0
    digit = 0
    seen = False
    for ch in s:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
            seen = True
        elif ch in ("十", "百", "千"):
            mult = {"十": 10, "百": 100, "千": 1000}[ch]
            total += (digit or 1) * mult
            digit = 0
            seen = True
        else:
            return None
    return float(total + digit) if seen else None


_BIG_CJK = {"万": 1e4, "萬": 1e4, "만": 1e4, "亿": 1e8, "億": 1e8, "억": 1e8, "兆": 1e12, "조": 1e12}
_SMALL_CJK = {"十": 10.0, "百": 100.0, "千": 1e3, "십": 10.0, "백": 100.0, "천": 1e3}
_CJK_TOKEN = re.compile(r"\d[\d,]*(?:\.\d+)?|[万萬만亿億억兆조十百千십백천]")


def parse_cjk_compound(s: str) -> float | None:
    """'355億5400万' -> 35554000000, '4억8천8백90만' -> 488900000, '1.39万亿' -> 1.39e12, '4천5백만' -> 45000000.

    Digits and small units (千百十, 천백십) add up to a section; a big unit (万, 亿, 兆 and Hangul 만, 억, 조)
    scales everything before it when it is the largest yet, else only its own section."""
    total = section = 0.0
    num: float | None = None
    last_big = 0.0
    seen = False
    for tok in _CJK_TOKEN.findall(s):
        if tok[0].isdigit():
            num = float(tok.replace(",", ""))
            seen = True
        elif tok in _SMALL_CJK:
            section += (num if num is not None else 1.0) * _SMALL_CJK[tok]
            num = None
            seen = True
        else:
            unit = _BIG_CJK[tok]
            section += num or 0.0
            if section == 0.0:
                section = 1.0 if total == 0.0 else 0.0
            if unit > last_big:
                total = (total + section) * unit
                last_big = unit
            else:
                total += section * unit
            section, num = 0.0, None
    return float(f"{total + section + (num or 0.0):.12g}") if seen else None


def parse_number(s: str) -> float | None:
    s = s.strip()
    if not s:
        return None
    if s[0].isdigit():
        try:
            return parse_digits(s)
        except ValueError:
            return None
    if s[0] in _CN_DIGITS or s[0] in "十百千":
        return parse_chinese(s)
    return parse_words(s)


def _cjk_scale(s: str) -> float:
    v = 1.0
    for ch in s:
        v *= _CJK_SCALE_CHARS.get(ch, 1.0)
    return v


# ------------------------------------------------------------------ amounts


@dataclass(frozen=True, slots=True)
class Amount:
    """One figure in the text. `unit` is an ISO currency, 'count' (no unit) or 'percent'."""

    start: int
    end: int
    value: float
    unit: str
    scaled: bool  # a scale word (billion, 亿, bn) was present
    qualifier: str = "exact"
    range_high: float | None = None
    value_usd: float | None = None
    conv_end: int | None = None  # end of a folded parenthetical conversion
    scale: float = 1.0
    alt_value: float | None = None  # the folded conversion's amount and currency
    alt_unit: str | None = None

    @property
    def is_money(self) -> bool:
        return self.unit not in ("count", "percent")


def _qual_words(concept: str) -> str:
    """Qualifier words from the rule files, for the end of the text before a figure ("über", "más de", "약")."""
    items = sorted(rules.words("facts", concept), key=len, reverse=True)
    return "|".join(items) if items else "(?!)"


_QUAL_BEFORE = [
    ("up_to", re.compile(
        rf"(?:{_qual_words('qual_up_to')}|\bup\s+to|\bas\s+much\s+as|\bas\s+high\s+as|\bcapped\s+at|\ba\s+cap\s+of|\bcap\s+of|\bat\s+most|"
        r"\bno\s+more\s+than|\bnot\s+(?:to\s+)?exceed(?:ing)?|\bmaximum\s+of|\ba\s+maximum\s+of|最高|最多|不超过|不超過|上限)"
        r"\s*(?:为|為|达|達|是)?\s*$",
        re.IGNORECASE)),
    ("at_least", re.compile(
        rf"(?:{_qual_words('qual_at_least')}|\bat\s+least|\bmore\s+than|\bjust\s+over|\bover|\babove|\bexceeding|\bin\s+excess\s+of|\bupwards?\s+of|"
        r"\bnorth\s+of|\bno\s+less\s+than|\bminimum\s+of|\bsurpass(?:ed|es|ing)?|\bexceed(?:ed|s)|\btop(?:ped|s)|"
        r"\bcrossed|超过|超過|逾|至少|不少于|不少於|突破)\s*(?:了)?\s*$",
        re.IGNORECASE)),
    ("approx", re.compile(
        rf"(?:{_qual_words('qual_approx')}|\babout|\baround|\broughly|\bapproximately|\bapprox\.?|\bnearly|\balmost|\bclose\s+to|\bsome|"
        r"\bjust\s+under|\bestimated(?:\s+at)?|\ban\s+estimated|\bexpected\s+to\s+(?:reach|be|hit|top|total|exceed)|"
        r"\bprojected\s+(?:to\s+(?:reach|be)|at)|\bnearer|~|≈|约|約|大约|大約|将近|將近|接近|近)\s*(?:为|為|达|達|是)?\s*$",
        re.IGNORECASE)),
]
_QUAL_AFTER = [
    ("approx", re.compile(r"^\s*(?:左右|上下|or\s+so\b)", re.IGNORECASE)),
    ("at_least", re.compile(r"^\s*(?:[本人名个個件家건명개]?\s*(?:以上|이상|超|を?突破|[을를]?\s*돌파)|\+)", re.IGNORECASE)),
    ("at_least", re.compile(r"^\s*(?:以上|多|\bor\s+more\b|\bplus\b)", re.IGNORECASE)),
]

# The connector between two amounts that makes them one range.
_RANGE_TO = rules.alternation("facts", "range_to")  # "to", "à", "bis", "a", "至"
_RANGE_AND = rules.alternation("facts", "range_and")  # "and", "e os", "y", "und": only after "between"
_RANGE_JOIN = re.compile(
    rf"^\s*(?:-|–|—|~|{_RANGE_TO}|{_RANGE_AND})\s*(?:(?:about|around|roughly|nearly|almost|approximately|as\s+much\s+as|"
    r"up\s+to|over|more\s+than|约|近)\s+)?$",
    re.IGNORECASE,
)
_RANGE_AND_RE = re.compile(rf"^\s*{_RANGE_AND}", re.IGNORECASE)
_FROM_CHANGE = re.compile(
    r"\b(?:r(?:ose|ise|ises|ising)|gr(?:ew|ow|ows|owing)|increas\w*|jump\w*|climb\w*|soar\w*|surg\w*|f(?:ell|all|alls|alling)|"
    r"declin\w*|dropp?\w*|went|lift\w*|boost\w*|cut|rais(?:ed|es|ing)|swell\w*|expand\w*|doubl\w*|tripl\w*)\s+"
    r"(?:[\w'’-]+\s+){0,4}?from\s+(?:about\s+|around\s+|roughly\s+|nearly\s+)?$",
    re.IGNORECASE,
)
_BETWEEN = re.compile(rf"{rules.alternation('facts', 'range_between')}\s+(?:\w+\s+)?$", re.IGNORECASE)
# "(~$2.028 billion)", "(roughly RMB 26 billion)", ", or about $3.6 billion", "，约合2.8亿美元"
_CONV_OPEN = re.compile(
    r"^\s*(?:[(（]\s*(?:~|≈|about|approx\.?|approximately|roughly|around|nearly|some|or|equivalent\s+to|"
    r"约合|折合|约|約|合)?\s*|,\s*or\s+(?:about|roughly|around|approximately|nearly|some\s+)?\s*|[,，]?\s*(?:约合|折合|約合)\s*)$",
    re.IGNORECASE,
)
_CONV_CLOSE = re.compile(r"\s*[)）]")


_QUAL_BEFORE_ONE = re.compile(
    "|".join(f"(?P<{name}>{rx.pattern})" for name, rx in _QUAL_BEFORE), re.IGNORECASE
)
# Where _QUAL_BEFORE_ONE can match, found ten times faster: the same words lower-cased (for lower-cased text),
# their leading \b dropped (so every alternative starts with a literal `re` can skip to) and their heads merged.
# It matches wherever the full pattern does, and at a few more places (a word inside another); the full
# pattern decides at each place it finds, leftmost first, so the answer is the same.
_QUAL_PLACES = re.compile(factor(flatten(strip_leading_b(lower_outside_escapes(
    "|".join(rx.pattern for _, rx in _QUAL_BEFORE))))))
# Text whose only non-ASCII characters have no case reads the same lower-cased as under IGNORECASE, unless the
# pattern holds one of the few letters that IGNORECASE folds onto an ASCII one.
_DROP_ASCII = dict.fromkeys(range(128))
assert not set("ıſKİ") & set(_QUAL_PLACES.pattern)


def _lowers_like_ignorecase(s: str) -> bool:
    if s.isascii():
        return True
    rest = s.translate(_DROP_ASCII)
    return rest.lower() == rest == rest.upper()


def _qualifier_before(text: str, start: int) -> re.Match[str] | None:
    """_QUAL_BEFORE_ONE.search(text, start - 32, start), screened by _QUAL_PLACES."""
    lo = max(0, start - 32)
    before = max(0, lo - 1)  # the character before the window, for a look-behind
    window = text[before:start]
    if not _lowers_like_ignorecase(window):
        return _QUAL_BEFORE_ONE.search(text, lo, start)
    low = window.lower()
    pos = lo - before
    while (place := _QUAL_PLACES.search(low, pos)) is not None:
        m = _QUAL_BEFORE_ONE.match(text, before + place.start(), start)
        if m is not None:
            return m
        pos = place.start() + 1
    return None


def _qualifier(text: str, start: int, end: int) -> str:
    m = _qualifier_before(text, start)
    if m is not None:
        return m.lastgroup or "exact"
    after = text[end:end + 12]
    for name, rx in _QUAL_AFTER:
        if rx.search(after):
            return name
    return "exact"


def _atom(m: re.Match[str], text: str) -> Amount | None:
    """Turn one regex hit into an Amount, or None when it is a bare number (a year, a version)."""
    raw = m.group("num")
    cjk_all = (raw + (m.group("cjk") or "") + (m.group("tail") or "")) if m.group("cjk") or not raw[-1].isdigit() else ""
    value = parse_cjk_compound(cjk_all) if cjk_all and raw[0].isdigit() else parse_number(raw)
    scale_word = m.group("scale")
    if scale_word and raw[0].isdigit() and scale_word.lower() in _CONTINENTAL_SCALES and re.fullmatch(
            r"\d{1,3}(?:\.\d{3})+", raw):
        value = float(raw.replace(".", ""))  # "18.000 millones": the dot groups thousands
    if value is None:
        return None
    is_word = raw[0].isalpha() and raw[0] not in _CN_DIGITS and raw[0] not in "十百千"
    pre, post, pct = m.group("pre"), m.group("post"), m.group("pct")
    scale_word, cjk, short = m.group("scale"), m.group("cjk"), m.group("short")
    start, end = m.start(), m.end()
    if pre:
        start = m.start("pre")
    if pct:
        unit = "percent"
        scale = 1.0
    else:
        scale = 1.0
        if scale_word:
            scale = _LATIN_SCALES.get(re.sub(r"\s+", " ", scale_word.lower()), 1.0)
        elif cjk:
            scale = 1.0 if cjk_all and raw[0].isdigit() else _cjk_scale(cjk)
        elif short:
            if not pre:
                if not _USERS_AFTER.match(text, m.end()):
                    return None  # "3m" without a currency is metres, not millions; "12M users" is a count
            scale = _SHORT_SCALES[short.lower()]
        unit = "count"
        if pre:
            unit = _PREFIX_UNITS.get(pre.replace(" ", ""), _PREFIX_UNITS.get(pre.strip(), "USD"))
        if post:
            word = re.sub(r"^(?:de|di|d['’]|of)\s?", "", re.sub(r"\s+", " ", post.lower()))
            unit = _SUFFIX_UNITS.get(word, unit)
        if scale_word and scale_word.lower() in _SCALE_UNITS:
            unit = _SCALE_UNITS[scale_word.lower()]  # "mdd": millones de dólares
        if is_word and unit == "count" and not scale_word:
            return None  # "three users" is not worth a figure; "three billion" is
        if unit == "count" and scale == 1.0 and not cjk:
            # bare digits: keep only as a possible count (the caller requires a user noun)
            pass
    value *= scale
    bare = unit == "count" and scale == 1.0 and (value < 1000 or (1900 <= value <= 2100 and raw.isdigit()))
    q = "exact" if bare else _qualifier(text, start, end)
    num2 = m.group("num2")
    high = None
    if num2:
        h = parse_number(num2)
        if h is not None and cjk_all and num2[0].isdigit():
            h = parse_cjk_compound(num2 + (m.group("cjk") or "") + (m.group("tail") or ""))  # "100-150亿"
        if h is not None and h * scale < value:
            # "from 100 million in December 2019 to 170 million": a year then the figure, not a range
            return Amount(m.start("num2"), end, h * scale, unit, scaled=scale != 1.0 or bool(cjk),
                          qualifier=_qualifier(text, m.start("num2"), end), scale=scale)
        if h is not None:
            high = h * scale
            q = "range"
    return Amount(start, end, value, unit, scaled=scale != 1.0 or bool(cjk), qualifier=q, range_high=high, scale=scale)


def scan_amounts(text: str) -> list[Amount]:
    """All amounts in `text`, with ranges and parenthetical currency conversions folded in."""
    atoms: list[Amount] = []
    if "百分之" in text:
        for pm in _CHINESE_PCT_RE.finditer(text):
            raw = pm.group("num").replace("点", ".").replace("點", ".")
            v = parse_digits(raw) if raw[0].isdigit() else parse_chinese(raw.split(".")[0])
            if v is not None:
                atoms.append(Amount(pm.start(), pm.end(), v, "percent", scaled=False))
    taken = [(a.start, a.end) for a in atoms]
    lowered = text.lower()
    low = lowered if len(lowered) == len(text) else text
    cursor = 0
    for t in _TRIGGER_RE.finditer(low):
        p = t.start()
        if p < cursor or (p > 0 and low[p - 1].isalpha() and low[p - 1].isascii() and not t.group(0)[0].isdigit()):
            continue
        start = p
        tail = _PREFIX_TAIL_RE.search(text, max(0, p - 8), p)
        if tail is not None and tail.start() >= cursor:
            start = tail.start()
        m = _AMOUNT_RE.match(text, start)
        if m is None and start != p:
            m = _AMOUNT_RE.match(text, p)
        if m is None or m.end() <= p:
            continue
        cursor = m.end()
        if taken and any(s < m.end() and m.start() < e for s, e in taken):
            continue
        a = _atom(m, text)
        if a is not None:
            atoms.append(a)
    atoms.sort(key=lambda a: a.start)
    out: list[Amount] = []
    i = 0
    while i < len(atoms):
        a = atoms[i]
        b = atoms[i + 1] if i + 1 < len(atoms) else None
        if b is not None:
            gap = text[a.end:b.start]
            # a range: "$2 billion to nearly $3 billion", "between $2 and $3 billion", "$2 to $3 billion"
            same_kind = a.unit == b.unit or (a.unit == "count" and b.is_money)
            if same_kind and _RANGE_JOIN.match(gap) and (not _RANGE_AND_RE.match(gap)
                                                          or _BETWEEN.search(text[max(0, a.start - 30):a.start])):
                low_value = a.value if a.scaled or not b.scaled else a.value * b.scale
                if _FROM_CHANGE.search(text[max(0, a.start - 60):a.start]):
                    out.append(b)  # "rose from $10 billion to $18 billion": the new total only
                    i += 2
                    continue
                if low_value <= b.value:
                    q = "range"
                    out.append(replace(a, value=low_value, unit=b.unit, end=b.end, qualifier=q, range_high=b.value,
                                       scaled=True))
                    i += 2
                    continue
            # a conversion: "RMB 13.8 billion (~$2.028 billion)"
            if a.is_money and b.is_money and a.unit != b.unit and _CONV_OPEN.match(gap):
                close = _CONV_CLOSE.match(text, b.end) if "(" in gap or "（" in gap else None
                if close is not None or ("(" not in gap and "（" not in gap):
                    usd = a.value if a.unit == "USD" else (b.value if b.unit == "USD" else None)
                    conv_end = close.end() if close is not None else b.end
                    out.append(replace(a, value_usd=usd, conv_end=conv_end, alt_value=b.value, alt_unit=b.unit))
                    i += 2
                    continue
        if a.unit == "USD" and a.value_usd is None:
            a = replace(a, value_usd=a.value)
        out.append(a)
        i += 1
    return [replace(a, value_usd=a.value) if a.unit == "USD" and a.value_usd is None else a for a in out]
