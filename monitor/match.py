"""Watchlist matching: is this text about Kling AI or Kuaishou, and where does it say so?

Latin aliases match on word boundaries (so "Klingon" and "Klingenberg" never hit); Chinese
aliases match as substrings. An *ambiguous* alias ("Kling" alone) counts only when it is not
shaped like a person's or a firm's name ("Senator Kling", "Brian Kling said", "Kling & Partners")
and there is AI/video context nearby or an unambiguous mention elsewhere in the text.
Every decision keeps its evidence as `Mention`s. Regexes are compiled once per Watchlist.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from monitor import rules
from monitor.models import Fact, Match, Mention, ProductMove
from monitor.rules.patterns import trie_alternation

_CJK_RE = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff]")  # any CJK/Hangul character


@dataclass(frozen=True, slots=True)
class WatchEntity:
    name: str  # "Kling" / "Kuaishou"
    aliases: tuple[str, ...]  # all aliases, English and Chinese, tickers
    ambiguous: tuple[str, ...] = ()  # aliases that count only with context (e.g. "Kling")
    ipo: str | None = None  # the month it listed ("2021-02"): completes a listing date a story gives in part


@dataclass(frozen=True, slots=True)
class Watchlist:
    entities: tuple[WatchEntity, ...]
    context_words: tuple[str, ...]  # AI/video context words that validate an ambiguous alias
    cloud_providers: tuple[str, ...]  # configurable list of cloud providers


def default_watchlist() -> Watchlist:
    """The built-in watchlist; config.toml may replace any part of it."""
    return Watchlist(
        entities=(
            WatchEntity(
                "Kling",
                ("Kling AI", "Kling", "Keling", "Beijing Keling", "Keling AI", "可灵", "可靈", "可灵AI", "可靈AI",
                 "클링", "커링", "クリング"),
                ambiguous=("Kling", "Keling", "커링"),
            ),
            WatchEntity(
                "Kuaishou",
                ("Kuaishou", "Kuaishou Technology", "Kwai", "快手", "快手科技", "1024.HK", "01024", "HKEX: 1024",
                 "HKG: 1024", "콰이쇼우", "콰이서우", "콰이셔우", "クアイショウ"),
                ambiguous=("Kwai",),
                ipo="2021-02",  # Hong Kong, 5 February 2021
            ),
        ),
        context_words=tuple(rules.words("names", "context_words")),  # monitor/rules/*.toml
        cloud_providers=tuple(rules.words("names", "cloud_providers")),  # monitor/rules/*.toml
    )


# A capitalised word right before an ambiguous alias is usually a first name ("Brian Kling"), unless
# it is one of these ordinary words.
_NOT_FIRST_NAMES = frozenset(
    """the a an and but or of for with by from on in at to as via like using use try than that this these those
    its their his her our your new latest chinese china china's beijing global international why how what when
    while where who which after before about into over under against between versus vs both all each every
    ai video generative startup unit app tool platform model rival rivals meet inside behind says said
    according also only even just however meanwhile today yesterday here there is are was were has have had
    meet introducing inside behind then now first next last new try tried tested testing compare compared
    will would could should may might can does did do if unlike including include includes plus""".split()
)
_TITLES = frozenset(w.lower() for w in rules.words("names", "person_titles"))  # monitor/rules/*.toml
# After the alias: reporting verbs (a person speaking) or a firm's name shape ("Kling & Partners").
_PERSON_AFTER = re.compile(
    r"^(?:,\s+(?:a|an|the)\s+(?:[\w-]+\s+){0,3}(?:senator|lawyer|attorney|professor|spokes(?:man|woman|person)|"
    r"resident|teacher|student|doctor|author|artist|player|coach|actor|actress|singer|official|analyst|mayor|"
    r"congress(?:man|woman)|representative|candidate|farmer|officer|economist|judge|historian|scientist|"
    r"researcher|engineer|writer|journalist|reporter|pastor|veteran|widow|father|mother|son|daughter)\b|"
    r"\s+(?:said|says|told|tells|wrote|writes|argued|added|explained|noted|recalled|testified|insisted|"
    r"replied|stated|commented)(?!\s+(?:it|its|in\s+a|on|via|through|that\s+(?:it|its)))\b|\s*,?\s+who\b|"
    r"\s+\((?:[DRI]|\w+-\w+)[,)]|,\s*\d{2}\s*,)",
)
_FIRM_AFTER = re.compile(
    r"^(?:\s*&|\s+and\s+(?:Partners|Associates|Sons|Co\b)|\s+(?:LLP|LLC|GmbH|AG|KG|Law|Partners|Associates|"
    r"Attorneys|Realty|Construction|Plumbing|Motors|Insurance|Family|Foundation|Hall|Street|Avenue|Road|Park|"
    r"School|Brothers|Bros\.?)\b)",
)
# Well-known collisions that no context rescues (Hong Kong districts named Kwai, Kraftwerk's Kling Klang ...).
_COLLISIONS = re.compile(rules.alternation("names", "collision_after", ("en", "de", "es", "pt", "fr", "it", "ru")))
_CJK_COLLISIONS = re.compile(rules.alternation("names", "collision_after", ("zh", "ja", "ko")))
_HANGUL = re.compile(r"[\uac00-\ud7af]")


@dataclass(frozen=True, slots=True)
class _Compiled:
    latin: re.Pattern[str] | None
    cjk: re.Pattern[str] | None
    alias_entity: dict[str, str]  # lower-cased alias -> entity name
    ambiguous: frozenset[str]  # lower-cased
    context: re.Pattern[str] | None
    entity_order: tuple[str, ...]
    context_low: re.Pattern[str] | None = None  # the same words for lower-cased text: ~10x faster to scan
    latin_low: re.Pattern[str] | None = None  # the Latin aliases for lower-cased text


def _is_cjk(s: str) -> bool:
    return any("\u3000" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uf900" <= ch <= "\ufaff" for ch in s)


def _word_alt(words: list[str]) -> str:
    # Latin-letter boundaries rather than \b: aliases ending in "." still work, and a Chinese or Korean
    # particle right after the name ("Kling AI는") does not hide it.
    return (r"(?<![A-Za-z0-9_À-ÿ])(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
            + r")(?![A-Za-z0-9_À-ÿ])")


@lru_cache(maxsize=32)
def compile_watchlist(watch: Watchlist) -> _Compiled:
    """Build (once per watchlist) the alias and context regexes."""
    alias_entity: dict[str, str] = {}
    ambiguous: set[str] = set()
    latin: list[str] = []
    cjk: list[str] = []
    for ent in watch.entities:
        for alias in (ent.name, *ent.aliases):
            key = _alias_key(alias)
            if key in alias_entity:
                continue
            alias_entity[key] = ent.name
            (cjk if _is_cjk(alias) else latin).append(alias)
        ambiguous.update(_alias_key(a) for a in ent.ambiguous)
    # The canonical name itself is ambiguous if it is listed as such under its aliases.
    ctx_latin = [w for w in watch.context_words if not _is_cjk(w)]
    ctx_cjk = [w for w in watch.context_words if _is_cjk(w)]
    ctx_parts = []
    if ctx_latin:
        ctx_parts.append(_word_alt(ctx_latin))
    if ctx_cjk:
        ctx_parts.append("|".join(re.escape(w) for w in sorted(ctx_cjk, key=len, reverse=True)))
    return _Compiled(
        latin=re.compile(_word_alt(latin), re.IGNORECASE) if latin else None,
        cjk=re.compile("|".join(re.escape(w) for w in sorted(cjk, key=len, reverse=True))) if cjk else None,
        alias_entity=alias_entity,
        ambiguous=frozenset(ambiguous),
        context=re.compile("|".join(ctx_parts), re.IGNORECASE) if ctx_parts else None,
        entity_order=tuple(e.name for e in watch.entities),
        context_low=re.compile("|".join(
            ([r"\b" + trie_alternation([re.escape(w.lower()) for w in ctx_latin]) + r"(?![a-z0-9_à-ÿ])"]
             if ctx_latin else []) + ([trie_alternation([re.escape(w) for w in ctx_cjk])] if ctx_cjk else [])))
        if ctx_parts else None,
        latin_low=re.compile(r"(?<![a-z0-9_à-ÿ])" + trie_alternation([re.escape(a.lower()) for a in latin])
                             + r"(?![a-z0-9_à-ÿ])") if latin else None,
    )


def _looks_like_other_name(text: str, start: int, end: int, comp: _Compiled) -> bool:
    """True when an ambiguous alias is shaped like a person's or a firm's name."""
    found = text[start:end]
    if found.islower():
        return True  # "kling" in running text is a word (German "klingen"), not the brand
    after = text[end:end + 40]
    if _FIRM_AFTER.match(after):
        return True
    before = text[max(0, start - 40):start]
    m = re.search(r"([A-Za-z][\w.'’-]*)(\s+)$", before)
    if m:
        prev = m.group(1)
        low = prev.lower().rstrip(".")
        if low in _TITLES:
            return True
        sentence_end = prev.endswith((".", "!", "?")) or "\n" in m.group(2)  # "... by September. Kling ..."
        if (
            not sentence_end
            and prev[0].isupper()
            and low not in _NOT_FIRST_NAMES
            and not low.endswith(("'s", "’s"))
            and low not in comp.alias_entity
            and not prev.isupper()  # "AI", "CEO" are not first names
        ):
            return True
    if _PERSON_AFTER.match(after):
        return True
    return False


def _alias_key(alias: str) -> str:
    """An alias as written, as the watchlist keys it: lower case, without the dot that "İ".lower() adds."""
    return alias.lower().replace("\u0307", "")


def match_text(text: str, watch: Watchlist) -> Match:
    """Find watchlist entities in `text`; the Match keeps each accepted alias and its offsets."""
    comp = compile_watchlist(watch)
    raw: list[tuple[int, int, str, str]] = []  # start, end, entity, alias as written
    low = text.lower()
    fast = len(low) == len(text) and comp.latin_low is not None
    if comp.latin is not None:
        for m in (comp.latin_low.finditer(low) if fast and comp.latin_low is not None else comp.latin.finditer(text)):
            alias = text[m.start():m.end()]
            if _alias_key(alias) in comp.ambiguous and _COLLISIONS.match(text, m.end()):
                continue
            entity = comp.alias_entity.get(_alias_key(alias))
            if entity is not None:
                raw.append((m.start(), m.end(), entity, alias))
    if comp.cjk is not None and _CJK_RE.search(text) is not None:
        for m in comp.cjk.finditer(text):
            if _CJK_COLLISIONS.match(text, m.end()) or (
                    _HANGUL.match(m.group(0)) and m.start() > 0 and _HANGUL.match(text, m.start() - 1)):
                continue  # "可灵活" (can flexibly), "사이클링" (cycling), "클링온" (Klingon): another word
            entity = comp.alias_entity.get(_alias_key(m.group(0)))
            if entity is not None:
                raw.append((m.start(), m.end(), entity, m.group(0)))
    if not raw:
        return Match(relevant=False, entities=(), mentions=())
    raw.sort()
    sure = [r for r in raw if _alias_key(r[3]) not in comp.ambiguous]
    mentions: list[Mention] = []
    context_at: list[int] | None = None  # where context words are, found once for all ambiguous mentions
    for start, end, entity, alias in raw:
        if _alias_key(alias) in comp.ambiguous:
            if _looks_like_other_name(text, start, end, comp):
                continue
            if context_at is None:
                rx, where = (comp.context_low, low) if len(low) == len(text) else (comp.context, text)
                context_at = [c.start() for c in rx.finditer(where)] if rx is not None else []
            i = bisect.bisect_left(context_at, max(0, start - 200))
            has_context = i < len(context_at) and context_at[i] < end + 200
            beside_other = any(s[2] != entity or _alias_key(s[3]) not in comp.ambiguous for s in sure)
            if not (has_context or beside_other):
                continue
        mentions.append(Mention(entity=entity, alias=alias, start=start, end=end))
    seen: list[str] = []
    for mn in mentions:
        if mn.entity not in seen:
            seen.append(mn.entity)
    return Match(relevant=bool(mentions), entities=tuple(seen), mentions=tuple(mentions))


_LATIN_LANGS = ("en", "de", "es", "pt", "fr", "it", "ru")
_CJK_LANGS = ("zh", "ja", "ko")
_NEWS_WORD = re.compile(rf"(?<![A-Za-z])(?:{rules.alternation('names', 'news_words', _LATIN_LANGS)})(?![A-Za-z])"
                        rf"|{rules.alternation('names', 'news_words', _CJK_LANGS)}", re.IGNORECASE)
_AMOUNT = re.compile(
    r"(?:US\$|HK\$|[$€£¥₩]|\b(?:RMB|CNY|USD|HKD|EUR)\s*)\s*\d"
    rf"|\d[\d,.]*\s*(?:(?:{rules.alternation('names', 'scale_words', _LATIN_LANGS)})(?![^\W\d_])"
    rf"|{rules.alternation('names', 'scale_words', _CJK_LANGS)})", re.IGNORECASE)
NEWS_REACH = 250  # characters around a mention searched for a figure and what it measures


def reports_news(facts: Sequence[Fact], investors: Sequence[str], cloud_partners: Sequence[str],
                 product_moves: Sequence[ProductMove], text: str = "", mentions: Sequence[Mention] = ()) -> bool:
    """Relevant means the story reports something tracked: a tracked figure the extractor read (not an "other" one), an investor, a partner
    or a product move. A story that only names Kling (a contest, a tutorial, a comparison) is not. When the
    extractor read no figure, an amount beside a metric word near a mention ("收入 ... 356 億元") still counts."""
    if investors or cloud_partners or product_moves or any(not f.speculative and f.kind != "other" for f in facts):
        return True
    for m in mentions:
        near = text[max(0, m.start - NEWS_REACH):m.end + NEWS_REACH]
        if _AMOUNT.search(near) and _NEWS_WORD.search(near):
            return True
    return False


_OFFICIAL_HOSTS = tuple(h.lower() for h in rules.words("names", "official_hosts"))


def reseller_host(url: str | None, watch: Watchlist) -> bool:
    """A site whose domain borrows a watched brand ("kling31api.org", "klingai-free.net") but is not one of
    the company's own hosts sells access under the name; it is not news about Kling."""
    if not url or "://" not in url:
        return False
    host = (urlsplit(url).hostname or "").lower()
    if not host or any(host == h or host.endswith("." + h) for h in _OFFICIAL_HOSTS):
        return False
    labels = host.split(".")
    site = labels[-3] if len(labels) >= 3 and labels[-2] in ("co", "com", "net", "org") else labels[-2] if len(labels) >= 2 else host
    brands = {a.lower().replace(" ", "") for e in watch.entities for a in (e.name, *e.aliases)
              if a.isascii() and a.replace(" ", "").isalpha() and len(a) >= 5}
    return any(site.startswith(b) or re.search(rf"[-\d]{re.escape(b)}", site) for b in brands)  # not "sprinkling"


@lru_cache(maxsize=32)
def _screen(watch: Watchlist) -> tuple[re.Pattern[str], Any, re.Pattern[bytes] | None]:
    """The screen: every alias case-insensitively (for the texts lower() changes in length), an
    Aho-Corasick automaton of every alias lower-cased, which finds any of them in one C pass, and
    the same aliases as one bytes pattern for UTF-8 text lower-cased byte by byte (None when an
    alias has a cased letter outside ASCII, which only str.lower() folds)."""
    import ahocorasick

    aliases = list(dict.fromkeys(a for e in watch.entities for a in (e.name, *e.aliases)))
    folded = re.compile(trie_alternation([re.escape(a) for a in aliases]) if aliases else "(?!)", re.IGNORECASE)
    automaton = ahocorasick.Automaton()
    for alias in aliases:
        if alias:
            automaton.add_word(alias.lower(), alias)
    automaton.make_automaton()
    lowered = list(dict.fromkeys(a.lower() for a in aliases if a))
    in_bytes = None
    if not any(_cased_beyond_ascii(ch) for a in lowered for ch in a):
        # An alias that holds another ("kling ai") is found whenever it is: the shorter is enough.
        # latin-1 carries each UTF-8 byte as one character through re.escape and trie_alternation.
        needles = [a for a in lowered if not any(b != a and b in a for b in lowered)]
        alternation = trie_alternation([re.escape(a.encode().decode("latin-1")) for a in needles])
        in_bytes = re.compile(alternation.encode("latin-1") if needles else b"(?!)")
    return folded, automaton, in_bytes


def _cased_beyond_ascii(ch: str) -> bool:
    """A character outside ASCII that lower() or upper() changes: lower-casing a text can make one."""
    return not ch.isascii() and (ch.lower() != ch or ch.upper() != ch)


# The characters outside ASCII whose lower() has an ASCII character in it (KELVIN SIGN is "k",
# "İ" is "i" and a combining dot): lower-casing only the ASCII bytes would not find "Kling" there.
_LOWERS_INTO_ASCII = ("\u212a", "\u0130")


def may_mention(text: str, watch: Watchlist) -> bool:
    """A cheap screen (~16 µs for 2 KB of text with curly quotes): False only when no alias of any
    watched entity occurs anywhere in the text, case-folded, in any script, boundaries ignored. Then
    `match_text` finds nothing and the text names no watched entity, so the understanding stages can
    skip it. Never False where either would hit.

    When no alias has a cased letter outside ASCII, the UTF-8 bytes lower-cased (ASCII letters
    only, C-fast) hold a lower-cased alias exactly where the text lower-cased does, unless the text
    has a character that lowers into ASCII; one bytes regex then finds them (lower() and the
    automaton took ~27 µs on such a text: lower-casing text beyond ASCII is slow).
    """
    folded_rx, automaton, in_bytes = _screen(watch)
    if in_bytes is not None and not any(ch in text for ch in _LOWERS_INTO_ASCII):
        return in_bytes.search(text.encode("utf-8", "surrogatepass").lower()) is not None
    low = text.lower()
    if len(automaton) and next(automaton.iter(low), None) is not None:
        return True
    # lower() changed the length ("İ"): match_text then searches the original text case-insensitively.
    return len(low) != len(text) and folded_rx.search(text) is not None
