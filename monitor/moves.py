"""Product moves: what Kling shipped, opened, priced, plugged into, expanded to or reached.

Six kinds: model_launch, api, pricing, integration, expansion, milestone. Pure functions over the
extractor's sentences (see `monitor/names.py` for the context they read); the cues for each kind are
the `[names]` table's `<kind>_cues` in every `monitor/rules/<lang>.toml`, compiled once at import.

A move needs a cue in a sentence that is about Kling or Kuaishou (it names one, or follows a sentence
that does and names no one else, or sits on a short page whose opening names Kling), and no hedge
("may launch", "watch for"). A model launch is counted once per model version the sentence names
("Kling 2.0", "可灵2.1", "version 2.0", "2.1버전"), or once for Kling itself ("launched Kling").
"""

from __future__ import annotations

import re

from monitor import rules
from monitor.models import ProductMove
from monitor.names import NAME_RE, NOT_NAMES, Context, _Sent, canonical_name, find_cues

KINDS = ("model_launch", "api", "pricing", "integration", "expansion", "milestone")


def _cue_hits(ctx: Context, kind: str) -> list[re.Match[str]]:
    """The kind's cues in the document (`<kind>_cues` of the rules; model_launch reads `launch_cues`)."""
    return find_cues(ctx.low)["launch_cues" if kind == "model_launch" else f"{kind}_cues"]


_KLING = r"(?:Kling|Keling|KlingAI|可灵|可靈|클링|커링|クリング)"
_EDITION = r"(?:\s*(?:Turbo|Master|Pro|Lite|Omni|Standard|大师版|大師版))?"
# "Kling 2.1", "Kling AI 2.5 Turbo", "Kling VIDEO O1", "可灵数字人2.0", "可灵AI推出2.5Turbo"
VERSION = re.compile(
    rf"{_KLING}\s*(?:AI\s*)?(?:[-‑]?\s*(?:[A-Za-z][a-z]*[-\s]?){{0,3}}?|[\u3400-\u9fff]{{0,4}}?)\s*[vV]?"
    rf"(?P<v>\d+(?:\.\d+)+|\d(?=\s*(?:Turbo|Master|Pro|系列|模型|版)))(?!\d|\.\d|%){_EDITION}|"
    rf"{_KLING}\s*(?:AI\s*)?(?:VIDEO\s+|Video\s+)?(?P<name>O1|o1|Omni|Avatar)\b",
)
# a model named without the brand in a launch list: "模型o1", "o1图片模型", "the O1 image model"
MODEL_NAME = re.compile(r"(?<![A-Za-z0-9])[oO]1(?![A-Za-z0-9])(?:\s*(?P<n>图片|圖片|图像|圖像|视频|視頻|image|video))?")
_VWORDS = rules.alternation("names", "version_words")
# "version 2.0", "actualización 2.0", "2.1버전", "2.0 版本", "1.6版本"
BARE_VERSION = re.compile(
    rf"(?<![^\W\d_])(?:{_VWORDS})\s*(?P<v>\d+\.\d+)(?!\d|\.\d|%)|(?P<w>\d+\.\d+)\s*(?:{_VWORDS})", re.IGNORECASE)
_SUBJECTLESS_OK = frozenset("the a an its this that these those their his her our".split())
_CLAUSE_BREAK = re.compile(r"[,;:—–()（），；：]\s|[，；：（）—]")
_LEADING_JOINER = re.compile(r"^(?:and|but|while|as|also|then|，|,|;|而且|并且|並且|并|並|同时|同時)\s*", re.I)
_NOT_PRICING = re.compile(rules.alternation("names", "pricing_not"), re.IGNORECASE)
_SINCE_LAUNCH = re.compile(rules.alternation("names", "since_launch_after"), re.IGNORECASE)
_SINCE_LAUNCH_BEFORE = re.compile(rules.alternation("names", "since_launch_before") + r"\s*$", re.IGNORECASE)
_LIST_SPLIT = re.compile(r"、|，|,|以及|和|及")


def _version_key(m: re.Match[str]) -> str:
    if m.groupdict().get("name"):
        return m.group("name").upper()
    v = m.group("v") if m.group("v") else m.group("w")
    return v if "." in v else f"{v}.0"


def _clause(sent: _Sent, rs: int, re_: int) -> str:
    """The comma/semicolon-delimited clause of `sent` around [rs, re_): a short 'what' for a move."""
    lo = 0
    for m in _CLAUSE_BREAK.finditer(sent.text, 0, rs):
        lo = m.end()
    hi_m = _CLAUSE_BREAK.search(sent.text, re_)
    hi = hi_m.start() if hi_m else len(sent.text)
    return sent.text[lo:hi].strip().rstrip(".。")


def tidy_clause(what: str) -> str:
    """'and cut the price of ...' -> 'Cut the price of ...': a clause lifted out of its sentence."""
    what = _LEADING_JOINER.sub("", what.strip(), count=1).strip()
    return what[:1].upper() + what[1:] if what[:1].isascii() else what


def _short_page(ctx: Context) -> bool:
    """A model or API page: short, and Kling named in its opening."""
    return len(ctx.text) < 2500 and bool(ctx.mentions) and ctx.mentions[0].start < 300


def _subject_ok(ctx: Context, si: int, cue_pos: int, kind: str) -> bool:
    sent = ctx.sents[si]
    if ctx.mentions_in(sent.start, sent.end):
        return True
    if kind in ("model_launch", "api", "pricing", "integration") and _short_page(ctx):
        return not _other_actor(ctx, sent.start, sent.end)  # "OpenAI opened its Sora API" is OpenAI's
    if si == 0 or not ctx.mentions_in(ctx.sents[si - 1].start, ctx.sents[si - 1].end):
        return False
    # carry the previous sentence's subject only when this one names nobody else
    head = ctx.text[sent.start:cue_pos].split()
    caps = [w for w in head[1:] + head[:1] if w[:1].isupper() and not (w.isupper() and len(w) <= 3)
            and w.lower() not in _SUBJECTLESS_OK]
    return not caps


def _kling_near(ctx: Context, sent: _Sent, cue: re.Match[str], span: int = 100) -> bool:
    """Kling itself (not only its parent) is what the launch cue is about: named within `span` characters
    of it with no other company's name in between ("Runway released Gen-4 while Kling AI ..." is not)."""
    for mn in ctx.mentions_in(sent.start, sent.end):
        if mn.entity != "Kling":
            continue
        if mn.end <= cue.start() and cue.start() - mn.end <= span:
            lo, hi, skip = mn.end, cue.start(), mn.end + 1
        elif mn.start >= cue.end() and mn.start - cue.end() <= span:
            lo, hi, skip = cue.end(), mn.start, -1
        else:
            continue
        if not _other_company(ctx, lo, hi, skip):
            return True
    return False


def _other_actor(ctx: Context, lo: int, hi: int) -> bool:
    """Another company acts in text[lo:hi]: a name that owns something or does something ("OpenAI opened",
    "Runway's"), not a capitalised label on a model page ("Status: api-only", "Release Date")."""
    for n in NAME_RE.finditer(ctx.text, lo, hi):
        if ctx.mentions_in(n.start(), n.end()) or canonical_name(n.group(0)).lower() in NOT_NAMES:
            continue
        if _ACTS.match(ctx.text, n.end()) or re.search(r"[a-z][A-Z]", n.group(0)):
            return True
    return False


_ACTS = re.compile(r"['’]s\b|\s+(?:has\s+|have\s+|also\s+)?[a-z]+(?:ed|es|s)\b(?!\s*:)")


def _other_company(ctx: Context, lo: int, hi: int, skip: int = -1) -> bool:
    """A company other than the watched ones is named in text[lo:hi] ("Runway", "OpenAI"; not "48FPS", "AI",
    an ordinary capitalised word, or a name starting at `skip`, right after a mention: "Kling Video")."""
    return any(n.start() > skip and re.match(r"[A-Z][a-z]", n.group(0)) and not ctx.mentions_in(n.start(), n.end())
               and canonical_name(n.group(0)).lower() not in NOT_NAMES and n.group(0).split()[0].lower() not in NOT_NAMES
               for n in NAME_RE.finditer(ctx.text, lo, hi))


def _launches(ctx: Context, si: int, m: re.Match[str]) -> list[tuple[str, str]]:
    """(key, what) for each model the launch sentence names, in text order."""
    sent = ctx.sents[si]
    scope = sent.text
    if sent.text.rstrip().endswith((":", "：")) and si + 1 < len(ctx.sents):
        scope += " " + ctx.sents[si + 1].text  # "brought three models:\n o1, Kling 2.6, ..."
    about = bool(ctx.mentions_in(sent.start, sent.end)) or _short_page(ctx)
    out: list[tuple[int, str, str]] = [(v.start(), _version_key(v), v.group(0)) for v in VERSION.finditer(scope)]
    if about:
        for n in MODEL_NAME.finditer(scope):
            if not any(p <= n.start() < p + len(w) for p, _, w in out):
                out.append((n.start(), "O1 " + (n.group("n") or "").lower(), "Kling " + n.group(0)))
    if not out and about:
        out = [(v.start(), _version_key(v), v.group(0)) for v in BARE_VERSION.finditer(scope)]
    if not out and _short_page(ctx) and si < 40 and not ctx.mentions_in(sent.start, sent.end):
        head = VERSION.search(ctx.text[:300])  # "# Kling VIDEO O1 Pro" ... "Release Date: December 1, 2025"
        if head:
            out.append((0, _version_key(head), head.group(0)))
    app = any(h.start() < m.end() + 20 and m.start() - 20 < h.end() for h in find_cues(ctx.low)["expansion_cues"])
    if not out and _kling_near(ctx, sent, m) and not app:
        out.append((0, "Kling", "Kling"))  # "launched Kling"; not "launched a standalone Kling app" (an expansion)
    return [(k, re.sub(r"\s+", " ", w.replace("可灵", "Kling ").replace("可靈", "Kling ")).strip())
            for _, k, w in sorted(out)]


def product_moves(ctx: Context) -> list[ProductMove]:
    """Every product move the document reports, in text order: one per model launched, per partner named in
    a list of integrations and per milestone sentence; one api, pricing, integration or expansion move per
    document otherwise (a story repeats its move; the ledger needs it once)."""
    moves: list[tuple[int, ProductMove]] = []
    keys: set[tuple[str, str]] = set()
    for kind in KINDS:
        for m in _cue_hits(ctx, kind):
            si = ctx.sent_index(m.start())
            sent = ctx.sents[si]
            if sent.speculative or not _subject_ok(ctx, si, m.start(), kind):
                continue
            rs, re_ = m.start() - sent.start, m.end() - sent.start
            what = _clause(sent, rs, re_)
            found: list[tuple[str, str]]
            if kind == "model_launch":
                if _SINCE_LAUNCH.match(ctx.low, m.end()) or _SINCE_LAUNCH_BEFORE.search(ctx.low, sent.start, m.start()):
                    continue  # "自2024年6月发布以来", "10 months after launch": the launch is background
                found = _launches(ctx, si, m)
            elif kind == "pricing" and _NOT_PRICING.search(sent.low):
                continue  # a target price, a share or offer price: markets, not the product's pricing
            elif kind == "integration" and re.search(r"合作案例", m.group(0)):
                # "通过《逆水寒》手游、设计领域Agent Lovart、创意素材平台Freepik等合作案例": one per partner
                head = re.sub(r"^.*?(?:通过|通過|包括|如)", "", sent.text[:rs])
                head = re.sub(r"等$", "", head.strip())
                found = [(p.strip(), p.strip()) for p in _LIST_SPLIT.split(head) if p.strip()]
            elif kind == "milestone":
                before = ctx.mentions_in(max(0, m.start() - 300), m.start())
                inside = ctx.mentions_in(m.start(), min(sent.end, m.end() + 30))
                if not any(x.entity == "Kling" for x in inside) and (not before or before[-1].entity != "Kling"):
                    continue  # the parent's traffic records are figures, not Kling milestones
                found = [(f"sentence {si}", what)]
            else:
                found = [("", what)]  # once per document
            for key, w in found:
                if (kind, key) in keys:
                    continue
                keys.add((kind, key))
                moves.append((m.start(), ProductMove(kind=kind, what=tidy_clause(w)[:200], quote=sent.text.strip())))
    return [mv for _, mv in sorted(moves, key=lambda x: x[0])]
