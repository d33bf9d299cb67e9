"""Every word people read: Slack Block Kit, fallback text, the console line, the digest's lines,
`replay` and `ledger` listings. No I/O.

The ledger emits events as data (type, claim, previous value, evidence, sources, rule and the
rule's figures); this module is the one voice that words them, with one label table
(`TYPE_LABELS`, `KIND_LABELS`, `BASIS_LABELS`) and one figure formatter (`format_figure`).

Every piece of text that came from a feed is escaped by Slack's rules (`&`, `<`, `>`), so a
headline cannot ping `<!channel>` or forge a link; the only `<...>` markup in a message is the
links we generate from validated http(s) URLs. Block Kit limits are enforced here (a message
Slack rejects is a message lost), truncating with an ellipsis.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.models import Event
from monitor.units import amount, source_name

# Block Kit / chat.postMessage limits (https://api.slack.com/reference/block-kit/blocks).
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BLOCKS = 50
MAX_FALLBACK_TEXT = 4000
MAX_CONTEXT_ELEMENTS = 10
ELLIPSIS = "…"

# The metadata event_type every alert carries; look-before-resend searches for it.
METADATA_EVENT_TYPE = "kling_monitor_alert"

TYPE_LABELS: dict[str, tuple[str, str]] = {
    "new_figure": ("🆕", "New figure"),
    "revised_figure": ("🔁", "Revised figure"),
    "corroborated": ("✅", "Corroborated"),
    "conflict": ("⚠️", "Conflict"),
    "new_investor": ("💰", "New investor"),
    "cloud_partnership": ("☁️", "Cloud partnership"),
    "product_move": ("🚀", "Product move"),
    "status": ("📌", "Status"),
    "story_update": ("📰", "Story update"),
    "retracted": ("↩️", "Correction"),
}

KIND_LABELS: dict[str, str] = {
    "round_size": "Round size",
    "valuation": "Valuation",
    "capex": "Capex",
    "revenue": "Revenue",
    "users": "Users",
    "stake": "Stake",
    "investment": "Investment",
    "other": "Figure",
    "investor": "Investors",
    "cloud_partner": "Cloud partners",
    "product_move": "Product moves",
    "status": "Status",
}

# What a kind means when nothing is said: not worth a word ("Kling round size", not "round size (round)").
PLAIN_BASIS: dict[str, str] = {"round_size": "round", "valuation": "private"}

NAME_LABELS: dict[str, str] = {"investor": "investor", "cloud_partner": "cloud partner",
                               "product_move": "product move", "status": "round status"}

BASIS_LABELS: dict[str, str] = {
    "quarterly": "quarterly", "annual": "annual", "monthly": "monthly", "cumulative": "cumulative", "arr": "ARR",
    "guidance": "guidance", "dau": "daily active", "mau": "monthly active", "registered": "registered",
    "paying": "paying", "creators": "creators", "private": "private", "market_cap": "market value",
    "implied": "implied", "round": "round", "tranche": "tranche", "ipo": "IPO", "committed_total": "committed total",
    "cap": "cap",
}

_FOLD_WORDS = {2: "twofold", 3: "threefold", 4: "fourfold", 5: "fivefold", 6: "sixfold", 7: "sevenfold",
               8: "eightfold", 9: "ninefold", 10: "tenfold"}


_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,4}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# ------------------------------------------------------------------ escaping


def escape(text: str | None) -> str:
    """Slack mrkdwn escaping: only &, < and > are control characters."""
    if not text:
        return ""
    text = _CONTROL.sub("", str(text))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut to `limit` characters with an ellipsis, never leaving half an `&amp;` entity."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ELLIPSIS))]
    cut = _PARTIAL_ENTITY.sub("", cut)
    return cut.rstrip() + ELLIPSIS


def safe_url(url: str | None) -> str | None:
    """A URL fit to go inside `<url|label>`, or None: http(s) only, no '|', '<', '>' left raw."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    # Percent-encode the characters that would end or split the link markup; escape &.
    url = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
    return url.replace("&", "&amp;")


def link(url: str | None, label: str) -> str:
    """`<url|label>` for a valid http(s) URL; otherwise the escaped label alone."""
    u = safe_url(url)
    lab = escape(label).replace("|", "¦")
    return f"<{u}|{lab}>" if u else lab


# ------------------------------------------------------------------ figures


def format_figure(fact: dict[str, Any] | None, *, approx: str = "~", stage: bool = True,
                  reported: bool = True) -> str:
    """One figure as a person reads it: '~$2.8B', 'up to $3B', 'RMB 13.8B (~$2.028B)', 'about $3.6B (≈ RMB 26B)'.

    `stage` adds the round's stage ('closed'); `reported=False` leaves out the plain 'reported'.
    """
    if not fact:
        return ""
    value, unit = fact.get("value"), fact.get("unit")
    qualifier = fact.get("qualifier") or "exact"
    text = amount(value, unit)
    if qualifier == "range" and fact.get("range_high") is not None:
        text = f"{text}–{amount(fact.get('range_high'), unit)}"
    elif qualifier == "approx":
        text = f"{approx}{text}" if approx == "~" else f"{approx} {text}"
    elif qualifier == "up_to":
        text = f"up to {text}"
    elif qualifier == "at_least":
        text = f"at least {text}"
    usd = fact.get("value_usd")
    usd_shown = usd is not None and (unit or "").upper() != "USD"
    if usd_shown:
        text += f" (~{amount(usd, 'USD')})"
    alt, alt_unit = fact.get("alt_value"), fact.get("alt_unit")
    if alt is not None and not (usd_shown and (alt_unit or "").upper() == "USD"):
        text += f" (≈ {amount(alt, alt_unit)})"
    st = fact.get("stage")
    if stage and st and (reported or st != "reported"):
        text += f" {st}"
    return text


def label(fact: dict[str, Any], *, period: bool = True) -> str:
    """'Kling round size', 'Kuaishou daily active users for 2025-Q3', 'Kling revenue (ARR) for 2025'."""
    kind = fact.get("kind") or "other"
    text = f"{fact.get('subject') or ''} {KIND_LABELS.get(kind, kind.replace('_', ' ')).lower()}".strip()
    basis = fact.get("basis")
    if basis and PLAIN_BASIS.get(kind) != basis:
        text += f" ({BASIS_LABELS.get(basis, basis.replace('_', ' '))})"
    if period and fact.get("period"):
        text += f" for {fact['period']}"
    return text


def _fold(f: float, up: bool) -> str:
    n = round(f)
    word = _FOLD_WORDS.get(n, f"{f:.0f}x") if abs(f - n) < 0.25 else f"{f:.1f}x"
    return f"{word} {'rise' if up else 'fall'}"


def _outlets(facts: Iterable[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(f.get("outlet") or f.get("source") or "?") for f in facts))


def _source(fact: dict[str, Any] | None, ev: Event) -> str:
    fact = fact or {}
    outlet = fact.get("outlet") or ev.detail.get("outlet") or (source_name(ev.doc) if ev.doc else "?")
    tier = fact.get("tier") or ev.detail.get("tier") or "other"
    return f"source: {outlet} ({tier})" if tier != "other" else f"source: {outlet}"


def _since(facts: Sequence[dict[str, Any]]) -> str:
    dates = sorted(str(f["published"])[:10] for f in facts if f.get("published"))
    return f" since {dates[0]}" if dates else ""


def _terms(fact: dict[str, Any]) -> str:
    """'; with tranche ~RMB 13.8B (~$2.028B), committed total ~$2.8B, cap up to RMB 20.45B (~$3B)'."""
    parts = [f"{BASIS_LABELS.get(str(p.get('basis')), str(p.get('basis')))} {format_figure(p, stage=False)}"
             for p in fact.get("parts") or []]
    return f"; with {', '.join(parts)}" if parts else ""


def _status_note(fact: dict[str, Any]) -> str:
    st = fact.get("status")
    return f" ({st})" if st in ("planned", "guidance") and fact.get("basis") != st else ""


# ------------------------------------------------------------------ messages


MOVE_LABELS = {"model_launch": "model launch", "api": "API", "pricing": "pricing", "integration": "integration",
               "expansion": "expansion", "milestone": "milestone"}


def move_label(f: dict[str, Any]) -> str:
    """A product move's kind as words ("model launch", not "model_launch")."""
    return MOVE_LABELS.get(str(f.get("move")), str(f.get("move")))


def message(ev: Event) -> str:
    """The sentence a person reads for one event."""
    f = ev.fact or {}
    t = ev.type
    if t == "new_figure":
        return (f"New figure: {label(f)} {format_figure(f, approx='about', stage=False)}{_status_note(f)}"
                f"{_terms(f)} — {_source(f, ev)}")
    if t == "revised_figure":
        prev = ev.previous
        if ev.rule == "planned_closed" and prev:
            noun = "round" if f.get("kind") == "round_size" else label(f, period=False).removeprefix(
                f"{f.get('subject')} ")
            period = f" for {f['period']}" if f.get("period") else ""
            return (f"Revised: {f.get('subject')} {noun}{period} {f.get('stage') or 'reported'} at "
                    f"{format_figure(f, stage=False)} (was {format_figure(prev, stage=False)}, planned)"
                    f"{_terms(f)} — {_source(f, ev)}")
        was = ("was " + format_figure(prev) if prev.get("stage") == "reported" else
               "was " + format_figure(prev, reported=False)) if prev else "was unknown"
        d = ev.detail.get("delta")
        if isinstance(d, (int, float)):
            delta = f", {d:+.0%}" if abs(d) >= 0.005 else ""
        else:
            moved = change(f, prev)
            delta = f", {moved}" if moved and moved != "unchanged" else ""
        return (f"Revised: {label(f)} {format_figure(f, reported=False)}{_status_note(f)} ({was}{delta})"
                f"{_terms(f)} — {_source(f, ev)}")
    if t == "corroborated":
        if f.get("names") is not None:
            what = "investors" if f.get("kind") == "investor" else "cloud partners"
            return f"Corroborated: {ev.subject} {what} {', '.join(f['names'])} ({ev.detail.get('outlet')})"
        if f.get("kind") == "product_move":
            first = ", ".join(str(x) for x in ev.detail.get("first") or [])
            return (f"Corroborated: {ev.subject} {move_label(f)} — {f.get('what')} ({ev.detail.get('outlet')};"
                    f" first: {first})")
        by_outlet: dict[str, list[str]] = {}
        for p in ev.against:
            texts = by_outlet.setdefault(str(p.get("outlet")), [])
            if format_figure(p, reported=False) not in texts:
                texts.append(format_figure(p, reported=False))
        agree = "; ".join(f"{', '.join(x[:3])} ({o})" for o, x in list(by_outlet.items())[-3:])
        n = int(ev.detail.get("n_sources") or 1)
        return (f"Corroborated: {label(f)} {format_figure(f, reported=False)} ({f.get('outlet')}) agrees with "
                f"{agree} — {n} source{'s' if n != 1 else ''}")
    if t == "conflict":
        return _conflict_message(ev, f)
    if t in ("new_investor", "cloud_partnership"):
        names = f.get("names") or []
        title = "New investor" if t == "new_investor" else "Cloud partnership"
        return f"{title}{'s' if len(names) > 1 else ''}: {ev.subject} — {', '.join(names)} — {_source(None, ev)}"
    if t == "product_move":
        return f"Product move: {ev.subject} {move_label(f)} — {f.get('what')} — {_source(None, ev)}"
    if t == "status":
        return f"Status: {ev.subject} round {f.get('stage')} — {_source(None, ev)}"
    if t == "story_update":
        fresh = [str(x) for x in f.get("new_sentences") or []] or [""]
        first = fresh[0] if len(fresh[0]) <= 160 else fresh[0][:159] + "…"
        n = len(fresh)
        return (f"Story update: {ev.detail.get('title')} — {n} new sentence{'s' if n != 1 else ''}: “{first}”"
                f" — {_source(None, ev)}")
    if t == "retracted":
        kind = str(f.get("kind"))
        what = (f"{label(f)} {format_figure(f, reported=False)}" if f.get("value") is not None
                else f"{ev.subject} {NAME_LABELS.get(kind, kind)} {', '.join(str(n) for n in f.get('names') or [])}")
        why = ev.detail.get("why")
        return (f"Correction: {what} ({f.get('outlet')}) was rejected by hand and no longer counts"
                + (f": {why}" if why else ""))
    return f"{t.replace('_', ' ').capitalize()}: {ev.subject}"


def _conflict_message(ev: Event, f: dict[str, Any]) -> str:
    d = ev.detail
    sides = []
    mode = d.get("mode") or "USD"
    if d.get("consensus") is not None and ev.against:
        earlier = ", ".join(_outlets(ev.against)[:3])
        sides.append(f"{amount(d['consensus'], mode)} ({earlier}{_since(ev.against)})")
    imp = d.get("implied")
    if imp:
        sides.append(f"~{amount(imp['value'], 'USD')} implied by {amount(imp['round_usd'], 'USD')} "
                     f"for {imp['stake']:g}%")
    base = d.get("consensus") if d.get("consensus") is not None else (imp["value"] if imp else None)
    tail = "flagged"
    if base:
        fmode = mode if d.get("consensus") is not None else "USD"
        x = _value_in(f, fmode)
        if x:
            tail = f"flagged, not a {_fold(max(x / base, base / x), x > base)}"
    support = d.get("support") or []
    who = ", ".join(_outlets([f, *support]))
    return (f"Conflict: {label(f)} {format_figure(f, stage=False)} ({who}) vs "
            f"{' and '.join(sides) or 'earlier claims'} — {tail}")


def _value_in(f: dict[str, Any], mode: str) -> float | None:
    """The claim's headline value in USD or in its own unit (a range by its middle, a bound by itself)."""
    v = f.get("value")
    if v is None:
        return None
    v = float(v)
    if f.get("qualifier") == "range" and f.get("range_high") is not None:
        v = (v + float(f["range_high"])) / 2
    if mode == "USD":
        if (f.get("unit") or "").upper() == "USD":
            return v
        if f.get("value_usd") is not None and f.get("value"):
            return v * float(f["value_usd"]) / float(f["value"])
        return None
    return v if (f.get("unit") or "") == mode else None


def corroboration_line(ev: Event, n: int) -> str:
    """The digest's one line for all the corroborations of one claim: 'Kling round size $3B — 12 sources'."""
    f = ev.fact or {}
    if f.get("names") is not None:
        what = f"{ev.subject} {KIND_LABELS.get(str(f.get('kind')), str(f.get('kind'))).lower()} {', '.join(f['names'])}"
    elif f.get("kind") == "product_move":
        what = f"{ev.subject} {move_label(f)} — {f.get('what')}"
    else:
        what = f"{label(f)} {format_figure(f, reported=False)}"
    return f"{what} — {n} source{'s' if n != 1 else ''}"


_RULE_WORDS = {
    "first_claim": "first claim for this figure",
    "planned_closed": "an actual figure after only planned ones: the plan came true",
    "lower_bound_raised": "lower bound raised",
    "stage_moved": "stage moved",
    "figure_moved": "figure moved",
    "consistent": "consistent within tolerance or known bounds",
    "off_consensus": "off the consensus",
    "off_implied": "off the implied value",
    "off_consensus+off_implied": "off the consensus and off the implied value",
    "primary_settled": "primary source settled it",
}


def why(ev: Event) -> str:
    """Which claims, which sources, which rule: the line under an alert."""
    f = ev.fact or {}
    d = ev.detail
    words = _RULE_WORDS.get(ev.rule, ev.rule.replace("_", " "))
    src = f"{f.get('outlet') or d.get('outlet')}, tier {f.get('tier') or d.get('tier') or 'other'}"
    if ev.type == "new_figure" and ev.rule == "another_metric":
        return (f"an unclassified {label(f, period=False)} far from the known figure is taken for another metric"
                f" (rule: new figure); claim from {src}")
    if ev.type == "new_figure":
        return f"first claim for {label(f)} (rule: new figure); claim from {src}"
    if ev.type == "revised_figure":
        earlier = ", ".join(f"{format_figure(p, reported=False)} ({p.get('outlet')})" for p in ev.against[-4:])
        if ev.rule == "stage_moved" and ev.previous:
            words = f"stage moved {ev.previous.get('stage')} -> {f.get('stage')}"
        return f"{words} (rule: revised figure); earlier: {earlier}"
    if ev.type == "corroborated":
        if f.get("names") is not None or f.get("kind") == "product_move":
            return f"rule: known again, first from {', '.join(str(x) for x in d.get('first') or []) or 'earlier'}"
        n = int(d.get("n_sources") or 1)
        return (f"{words} (rule: corroborated, tolerance ±{float(d.get('tolerance') or 0):.0%});"
                f" {n} distinct sources")
    if ev.type == "conflict":
        text = (f"rule: conflict ({words}); factor {float(d.get('factor') or 0):.1f} vs threshold "
                f"{float(d.get('threshold') or 0):g}; new claim from {f.get('outlet')} ({f.get('tier')}) vs "
                f"{', '.join(_outlets(ev.against)) or 'implied value'}")
        if d.get("weight") == "low":
            text += "; a single ordinary source so far: low severity, in the thread and the digest, not broadcast"
        elif d.get("support"):
            text += f"; repeated by {', '.join(_outlets(d['support']))}"
        return text
    if ev.type in ("new_investor", "cloud_partnership"):
        names = f.get("names") or []
        what = "investor" if ev.type == "new_investor" else "cloud partner"
        return (f"rule: first claim naming {len(names)} {what}{'s' if len(names) > 1 else ''} for {ev.subject};"
                f" source {d.get('outlet')} ({d.get('tier')})")
    if ev.type == "product_move":
        text = f"rule: first report of this {move_label(f)}; source {d.get('outlet')} ({d.get('tier')})"
        return text + ("; a milestone without a figure: low priority" if ev.rule == "first_move_no_figure" else "")
    if ev.type == "status":
        return (f"rule: stage '{f.get('stage')}' is new for {ev.subject} (known: "
                f"{', '.join(d.get('known') or []) or 'none'}); source {d.get('outlet')} ({d.get('tier')})")
    if ev.type == "story_update":
        n = len(f.get("new_sentences") or [])
        return f"rule: a story seen before changed; {n} sentence(s) not in the earlier text, no figure changed"
    if ev.type == "retracted":
        return f"rule: claim {d.get('claim_id')} rejected by hand" + (f" ({d['why']})" if d.get("why") else "")
    return f"rule: {ev.rule}"


def comparable(fact: dict[str, Any] | None) -> tuple[float, str] | None:
    """(value, unit) to compare figures: USD where given, a range by its midpoint."""
    if not fact or fact.get("value") is None:
        return None
    value, unit = float(fact["value"]), (fact.get("unit") or "").upper()
    if fact.get("qualifier") == "range" and fact.get("range_high") is not None:
        mid = (value + float(fact["range_high"])) / 2
    else:
        mid = value
    if fact.get("value_usd") is not None:
        usd = float(fact["value_usd"])
        return (usd * mid / value if value else usd), "USD"
    return mid, unit


def change(fact: dict[str, Any] | None, previous: dict[str, Any] | None) -> str | None:
    """'+40%' between two figures in the same unit (USD where both give it), else None."""
    if not fact or not previous:
        return None
    a, b = comparable(fact), comparable(previous)
    if a is None or b is None or a[1] != b[1] or b[0] == 0:
        return None
    pct = (a[0] - b[0]) / abs(b[0]) * 100
    if abs(pct) < 0.05:
        return "unchanged"
    if abs(pct) >= 1000:
        return f"{a[0] / b[0]:+.0f}×".replace("+", "")
    return f"{pct:+.0f}%"


def figure_name(fact: dict[str, Any]) -> str:
    """'Round size (2026)', 'Users, daily active (2025-Q3)': a figure's name in a list of figures."""
    kind = fact.get("kind") or "other"
    name = KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())
    basis = fact.get("basis")
    if basis and PLAIN_BASIS.get(kind) != basis:
        name = f"{name}, {BASIS_LABELS.get(basis, basis)}"
    return f"{name} ({fact['period']})" if fact.get("period") else name


def digest_subject(day: str, *, empty: bool, events: int, figures: int, conflicts: int) -> str:
    """The digest's subject line."""
    if empty:
        return f"Kling monitor digest, {day}: nothing new"
    head = f"{figures} figure{'s' if figures != 1 else ''}" if figures else f"{events} updates"
    if conflicts:
        head += f", {conflicts} conflict{'s' if conflicts != 1 else ''}"
    return f"Kling monitor digest, {day}: {head}"


def figure_line(event: Event) -> str:
    """'*Round size:* ~$2.8B committed (was ~$2B reported, +40%)' (mrkdwn, escaped)."""
    if not event.fact or event.fact.get("value") is None:
        return ""
    name = figure_name({**event.fact, "kind": event.kind or event.fact.get("kind") or "other"})
    text = f"*{escape(name)}:* {escape(format_figure(event.fact))}"
    if event.previous and event.previous.get("value") is not None:
        was = escape(format_figure(event.previous))
        delta = change(event.fact, event.previous)
        text += f" (was {was}, {escape(delta)})" if delta else f" (was {was})"
    return text


# ------------------------------------------------------------------ Slack


def _header(event: Event) -> str:
    emoji, label = TYPE_LABELS.get(event.type, ("🔔", event.type.replace("_", " ").capitalize()))
    subject = _CONTROL.sub("", event.subject or "")
    return truncate(f"{emoji} {label}: {subject}" if subject else f"{emoji} {label}", MAX_HEADER_TEXT)


def sources_line(event: Event, budget: int = MAX_SECTION_TEXT) -> str:
    """'Sources: <url|outlet> · ... · cluster of N stories', never cutting a link in half."""
    parts: list[str] = []
    tail = f" · cluster of {event.cluster_size} stories" if event.cluster_size > 1 else ""
    used = len("Sources: ") + len(tail)
    seen: set[str] = set()
    for i, src in enumerate(event.sources):
        if src in seen:
            continue
        seen.add(src)
        piece = link(src, source_name(src))
        more = f" · and {len(event.sources) - i} more"
        if used + len(piece) + 3 + len(more) > budget:
            parts.append(more.removeprefix(" · "))
            break
        parts.append(piece)
        used += len(piece) + 3
    if not parts:
        return truncate(f"Sources: none{tail}", budget) if tail else ""
    return "Sources: " + " · ".join(parts) + tail


def fallback_text(event: Event) -> str:
    """The notification / screen-reader text: escaped, within the 4000-character limit."""
    emoji, label = TYPE_LABELS.get(event.type, ("🔔", event.type))
    text = f"{emoji} {label} — {escape(event.subject)}: {escape(message(event))}"
    return truncate(text, MAX_FALLBACK_TEXT)


def slack_blocks(event: Event) -> list[dict[str, Any]]:
    """The Block Kit blocks of one alert (<= 50 blocks, every text within its limit)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header(event), "emoji": True}},
    ]
    text = escape(message(event))
    if event.type == "conflict":
        text = f"⚠️ *Conflict:* {text}"
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT)}})
    fig = figure_line(event)
    if fig:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": truncate(fig, MAX_SECTION_TEXT)}})
    if event.title:
        story_url = event.doc if safe_url(event.doc) else (event.sources[0] if event.sources else None)
        title = truncate(escape(" ".join(event.title.split())), 300)  # some feeds put a paragraph here
        u = safe_url(story_url)
        story = f"*Story:* <{u}|{title}>" if u else f"*Story:* {title}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": story}})
    context: list[dict[str, Any]] = []
    src = sources_line(event)
    if src:
        context.append({"type": "mrkdwn", "text": src})
    reason = why(event)
    if reason:
        context.append({"type": "mrkdwn", "text": truncate(f"Why: {escape(reason)}", MAX_SECTION_TEXT)})
    if context:
        blocks.append({"type": "context", "elements": context[:MAX_CONTEXT_ELEMENTS]})
    return blocks[:MAX_BLOCKS]


def slack_message(event: Event, *, idempotency_key: str) -> dict[str, Any]:
    """chat.postMessage arguments (text, blocks, metadata) for one alert.

    The metadata carries the outbox idempotency key so a sender that crashed between the
    send and the mark can find its message in the channel instead of posting it twice.
    """
    return {
        "text": fallback_text(event),
        "blocks": slack_blocks(event),
        "metadata": {
            "event_type": METADATA_EVENT_TYPE,
            "event_payload": {"idempotency_key": idempotency_key, "event_key": event.key, "type": event.type},
        },
        "unfurl_links": False,
        "unfurl_media": False,
    }


# ------------------------------------------------------------------ console


def console_line(event: Event) -> str:
    """One readable line for standard output."""
    emoji, label = TYPE_LABELS.get(event.type, ("🔔", event.type))
    msg = " ".join(_CONTROL.sub("", message(event)).split())
    line = f"{emoji} [{label}] {event.subject}: {msg}"  # the message already states the figure and its change
    n = int(event.detail.get("n_sources") or 0) or len(set(event.sources))
    if n:
        line += f" | {n} source{'s' if n != 1 else ''}"
    return line


# ------------------------------------------------------------------ listings


def format_history(rows: Sequence[dict[str, Any]]) -> str:
    """`kling-monitor ledger`: one block per claim identity (subject, kind, basis, period), claim ids first."""
    if not rows:
        return "(no claims)"
    lines: list[str] = []
    cols = ("id", "date", "outlet", "tier", "value", "qualifier", "status", "stage", "decision", "quote")
    widths = {"id": 5, "date": 10, "outlet": 22, "tier": 7, "value": 28, "qualifier": 9, "status": 10, "stage": 9,
              "decision": 22}
    current = None
    for r in rows:
        group = (r["subject"], r["kind"], r.get("basis"), r["period"])
        if group != current:
            current = group
            if lines:
                lines.append("")
            lines.append(label({"subject": r["subject"], "kind": r["kind"], "basis": r.get("basis"),
                                "period": r["period"]}, period=False) + (f" ({r['period']})" if r["period"] else ""))
            lines.append("  ".join(c.ljust(widths.get(c, 0)) for c in cols).rstrip())
        cells = []
        for c in cols:
            v = "" if r.get(c) is None else str(r[c])
            if c == "decision" and r.get("review"):
                v = f"{v}, {r['review']}"
            if c == "quote":
                v = " ".join(v.split())
                v = (v[:77] + "…") if len(v) > 78 else v
            else:
                w = widths[c]
                v = (v[: w - 1] + "…") if len(v) > w else v.ljust(w)
            cells.append(v)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_replay(d: dict[str, Any]) -> str:
    """One document's replay as text: its name, cluster, and one line per event."""
    head = Path(str(d["doc"])).name if "://" not in str(d["doc"]) else str(d["doc"])
    if not d["relevant"]:
        return f"{head}: not relevant"
    where = f"cluster {d['cluster']}"
    if d.get("duplicate_of"):
        dup = str(d["duplicate_of"])
        where += f", same story as {dup if '://' in dup else Path(dup).name}"
    lines = [f"{head} ({where})"]
    if not d["events"]:
        lines.append("  (nothing new)")
    for e in d["events"]:
        lines.append(f"  {e['type']:<17} {e['message']}")
    return "\n".join(lines)
