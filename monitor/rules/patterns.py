"""Regex compilation for the rule vocabularies, and the rewriting that keeps the compiled patterns fast.

Patterns run on lower-cased text (several times faster for `re` than IGNORECASE). A leading `\\b` is
dropped from each alternative and re-checked by `hits`/`first`, and `(?:a|b)x` groups are flattened to
`ax|bx`, so that every alternative starts with a literal and `re` can skip ahead with its prefix scan;
then the literal heads alternatives share are merged (`factor`), keeping which alternative wins.
The rewrites are tested in tests/test_patterns.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


def strip_leading_b(p: str) -> str:
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
            j = class_end(p, i)
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


def class_end(p: str, i: int) -> int:
    """Index just past the ']' closing the character class opened at p[i] == '['."""
    j = i + 1
    if j < len(p) and p[j] == "^":
        j += 1
    if j < len(p) and p[j] == "]":
        j += 1
    while p[j] != "]":
        j += 2 if p[j] == "\\" else 1
    return j + 1


def group_end(p: str, i: int) -> int:
    """Index just past the ')' that closes the group opened at p[i] == '('."""
    depth = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = class_end(p, i)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced pattern: {p!r}")


def split_alts(p: str) -> list[str]:
    """Top-level alternatives of a pattern."""
    alts: list[str] = []
    start = i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
        elif c == "[":
            i = class_end(p, i)
        elif c == "(":
            i = group_end(p, i)
        elif c == "|":
            alts.append(p[start:i])
            i += 1
            start = i
        else:
            i += 1
    alts.append(p[start:])
    return alts


def flatten(p: str, budget: int = 400) -> str:
    """Rewrite '(?:a|b)x|c' as 'ax|bx|c' and '(?:a)?x' as 'ax|x' so that every alternative starts
    with a literal: `re` then skips ahead with a first-character set, ~4x faster on long texts."""
    out: list[str] = []
    todo = split_alts(p)
    while todo and budget > 0:
        budget -= 1
        alt = todo.pop(0)
        if alt.startswith("(?:"):
            end = group_end(alt, 0)
            inner, rest = alt[3:end - 1], alt[end:]
            if rest[:1] == "?" and rest[1:2] != "?":
                todo[:0] = [inner_alt + rest[1:] for inner_alt in split_alts(inner)] + [rest[1:]]
                continue
            if rest[:1] not in ("*", "+", "{", "?"):
                todo[:0] = [inner_alt + rest for inner_alt in split_alts(inner)]
                continue
        out.append(alt)
    if todo:
        return p  # too many combinations: keep the original
    return "|".join(out)


_ESCAPE_OR_TEXT = re.compile(r"\\.|[^\\]+", re.S)


def lower_outside_escapes(pattern: str) -> str:
    """Lower-case a pattern but not its escapes: '\\W' and '\\S' keep their meaning."""
    return "".join(t if t[0] == "\\" else t.lower() for t in _ESCAPE_OR_TEXT.findall(pattern))


def factor(p: str) -> str:
    """Merge the literal heads that alternatives share ('revenue|rev(?:s)|sales' -> 'rev(?:enue|(?:s))|sales'),
    so that `re` tests each first character once instead of once per alternative (2x faster on the long
    vocabularies). The match found is the same: only alternatives with different next characters, which can
    never both match at one place, change order; one that starts with a class, a group or an escape stays
    between the same neighbours. Patterns with capturing groups are returned as they are (their numbers
    would move)."""
    alts = split_alts(p)
    if len(alts) < 2 or "(" in p and re.compile(p).groups:
        return p
    return _merge_heads([head(a) for a in alts])


def _merge_heads(items: list[tuple[str, str]]) -> str:
    """One alternation of (literal head, rest) items in priority order, heads that share a first character
    merged within each run of items that have a head."""
    out: list[str] = []
    i = 0
    while i < len(items):
        if not items[i][0]:
            out.append(items[i][1])  # no literal head: it keeps its place between the runs
            i += 1
            continue
        j = i
        while j < len(items) and items[j][0]:
            j += 1
        buckets: dict[str, list[tuple[str, str]]] = {}
        for h, rest in items[i:j]:
            buckets.setdefault(h[0], []).append((h, rest))
        for bucket in buckets.values():
            if len(bucket) == 1:
                out.append(re.escape(bucket[0][0]) + bucket[0][1])
                continue
            n = len(_common_prefix([h for h, _ in bucket]))
            out.append(re.escape(bucket[0][0][:n]) + "(?:" + _merge_heads([(h[n:], r) for h, r in bucket]) + ")")
        i = j
    return "|".join(out)


def _common_prefix(words: list[str]) -> str:
    lo, hi = min(words), max(words)
    n = 0
    while n < len(lo) and lo[n] == hi[n]:
        n += 1
    return lo[:n]


def compile_lc(pattern: str) -> re.Pattern[str]:
    """Compile a case-insensitive pattern for *lower-cased* text, which `re` scans several times faster.

    Use with `hits` / `first`, which re-check the word boundary that `strip_leading_b` removed."""
    p = strip_leading_b(lower_outside_escapes(pattern).replace("(?p<", "(?P<"))
    try:
        return re.compile(factor(flatten(p)))
    except re.error:  # e.g. a named group would be duplicated
        return re.compile(p)


def finditer_at(rx: re.Pattern[str], places: re.Pattern[str], s: str, pos: int = 0,
                endpos: int | None = None) -> Iterator[re.Match[str]]:
    """`rx.finditer(s, pos, endpos)` with `rx` tried only where `places` matches. For a pattern `re` has to try
    at every character (its alternatives start with groups or look-behinds) and a `places` made of the literal
    heads of its alternatives, which `re` skips to. Exact when `places` matches wherever `rx` does (a head of
    each alternative, without its look-arounds) and `rx` never matches an empty string."""
    end = len(s) if endpos is None else endpos
    while pos <= end and (place := places.search(s, pos, end)) is not None:
        m = rx.match(s, place.start(), end)
        if m is None:
            pos = place.start() + 1
        else:
            yield m
            pos = m.end()


@dataclass(frozen=True)
class PatternSet:
    """Several `compile_lc` patterns looked for in the same text with one scan: `places` (all their
    alternatives in one merged alternation) finds every place where any of them can match, and each is tried
    only there, and only where the text has one of the characters its alternatives start with."""

    patterns: dict[str, re.Pattern[str]]
    places: re.Pattern[str]
    starts: dict[str, frozenset[str] | None]  # None: an alternative without a literal head, tried everywhere


def pattern_set(patterns: dict[str, re.Pattern[str]]) -> PatternSet:
    starts: dict[str, frozenset[str] | None] = {}
    for name, rx in patterns.items():
        heads = [head(a)[0] for a in split_alts(rx.pattern)]
        starts[name] = frozenset(h[0] for h in heads) if all(heads) else None
    places = re.compile(factor("|".join(rx.pattern for rx in patterns.values())))
    return PatternSet(patterns, places, starts)


def hits_each(ps: PatternSet, names: tuple[str, ...], low: str, pos: int = 0,
              endpos: int | None = None) -> dict[str, list[tuple[int, int]]]:
    """{name: [(start, end) for m in hits(ps.patterns[name], low, pos, endpos)]} for each name."""
    end = len(low) if endpos is None else endpos
    places: list[int] = []
    at = pos
    while at <= end and (place := ps.places.search(low, at, end)) is not None:
        places.append(place.start())
        at = place.start() + 1
    out: dict[str, list[tuple[int, int]]] = {}
    for name in names:
        rx, starts = ps.patterns[name], ps.starts[name]
        found: list[tuple[int, int]] = []
        nxt = pos
        for q in places:
            if q < nxt or (starts is not None and (q >= end or low[q] not in starts)):
                continue
            m = rx.match(low, q, end)
            if m is None:
                continue
            if m.end() == q:  # an empty match: let finditer's own rules decide what follows
                found = [(h.start(), h.end()) for h in hits(rx, low, pos, end)]
                break
            nxt = m.end()
            if _ok_start(low, q):
                found.append((q, nxt))
        out[name] = found
    return out


def _ok_start(low: str, s: int) -> bool:
    if s == 0 or not low[s].isascii() or not low[s].isalpha():
        return True
    prev = low[s - 1]
    return not (prev.isascii() and prev.isalnum())


def hits(rx: re.Pattern[str], low: str, pos: int = 0, endpos: int | None = None) -> Iterator[re.Match[str]]:
    for m in rx.finditer(low, pos, len(low) if endpos is None else endpos):
        if _ok_start(low, m.start()):
            yield m


def first(rx: re.Pattern[str], low: str) -> re.Match[str] | None:
    """next(hits(rx, low), None), without a generator (a quarter of a million calls a thousand articles)."""
    m = rx.search(low)
    while m is not None and not _ok_start(low, m.start()):
        if m.end() == m.start():
            return next(hits(rx, low), None)  # after an empty match finditer has rules of its own
        m = rx.search(low, m.end())
    return m


def lower_same_length(text: str) -> str:
    """text.lower(), keeping offsets valid (a few characters grow when lower-cased, e.g. 'İ')."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


_META = set(".^$*+?{}[]()|\\")


def head(branch: str) -> tuple[str, str]:
    """('launch', '(?:ed|es)') for 'launch(?:ed|es)': the literal characters a branch starts with."""
    i = 0
    while i < len(branch) and branch[i] not in _META:
        i += 1
    if i < len(branch) and branch[i] in "*+?{" and i > 0:
        i -= 1  # 'prices?': the 's' is optional, not part of the head
    return branch[:i], branch[i:]


def trie_alternation(branches: list[str]) -> str:
    """One alternation of `branches` with shared literal heads merged; longer literal continuations first."""
    root: dict[str, Any] = {}
    for b in dict.fromkeys(branches):
        head_, rest = head(b)
        node = root
        for ch in head_:
            node = node.setdefault(ch, {})
        node.setdefault("", []).append(rest)

    def emit(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        alts += sorted(node.get("", []), key=len, reverse=True)
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(root)


def expand(entry: str, budget: int = 64) -> list[str]:
    """Alternatives of `entry` that each start with a literal: '(?:a|b)x' -> 'ax', 'bx'; '(?:a)?x' -> 'x', 'ax';
    '[üu]ber' -> 'über', 'uber'. An entry that cannot be expanded within the budget is returned as it is."""
    if budget <= 0:
        return [entry]
    if entry.startswith("["):
        end = class_end(entry, 0)
        cls, rest = entry[1:end - 1], entry[end:]
        if cls[:1] == "^" or "-" in cls or "\\" in cls or rest[:1] in ("*", "+", "?", "{"):
            return [entry]
        return [x for c in cls for x in expand(c + rest, budget // max(1, len(cls)))]
    if not entry.startswith("(?:"):
        return [entry]
    end = group_end(entry, 0)
    inner, rest = entry[3:end - 1], entry[end:]
    if rest[:1] in ("*", "+", "{") or rest[:2] in ("??", "?+"):
        return [entry]
    alts = split_alts(inner)
    heads = ([""] if rest[:1] == "?" else []) + alts
    rest = rest[1:] if rest[:1] == "?" else rest
    return [x for h in heads for x in expand(h + rest, budget // max(1, len(heads)))]
