"""Formatting of events for people: Slack Block Kit, fallback text, a console line. No I/O.

Every piece of text that came from a feed is escaped by Slack's rules (`&`, `<`, `>`), so a
headline cannot ping `<!channel>` or forge a link; the only `<...>` markup in a message is the
links we generate from validated http(s) URLs. Block Kit limits are enforced here (a message
Slack rejects is a message lost), truncating with an ellipsis.
"""

from __future__ import annotations

import re
import unicodedata
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
}


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


def format_figure(fact: dict[str, Any] | None) -> str:
    """One figure as a person reads it: '~$2.8B', 'up to $3B', 'RMB 13.8B (~$2.03B)'."""
    if not fact:
        return ""
    value, unit = fact.get("value"), fact.get("unit")
    qualifier = fact.get("qualifier") or "exact"
    text = amount(value, unit)
    if qualifier == "range" and fact.get("range_high") is not None:
        text = f"{text}–{amount(fact.get('range_high'), unit)}"
    elif qualifier == "approx":
        text = f"~{text}"
    elif qualifier == "up_to":
        text = f"up to {text}"
    elif qualifier == "at_least":
        text = f"at least {text}"
    usd = fact.get("value_usd")
    if usd is not None and (unit or "").upper() != "USD":
        text += f" (~{amount(usd, 'USD')})"
    if fact.get("stage"):
        text += f" {fact['stage']}"
    return text


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


def figure_line(event: Event) -> str:
    """'*Round size:* ~$2.8B committed (was ~$2B reported, +40%)' (mrkdwn, escaped)."""
    if not event.fact or event.fact.get("value") is None:
        return ""
    kind = event.kind or event.fact.get("kind") or "other"
    label = KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())
    period = event.fact.get("period")
    if period:
        label = f"{label} ({period})"
    text = f"*{escape(label)}:* {escape(format_figure(event.fact))}"
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
    text = f"{emoji} {label} — {escape(event.subject)}: {escape(event.message)}"
    return truncate(text, MAX_FALLBACK_TEXT)


def slack_blocks(event: Event) -> list[dict[str, Any]]:
    """The Block Kit blocks of one alert (<= 50 blocks, every text within its limit)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header(event), "emoji": True}},
    ]
    message = escape(event.message)
    if event.type == "conflict":
        message = f"⚠️ *Conflict:* {message}"
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": truncate(message, MAX_SECTION_TEXT)}})
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
    if event.why:
        context.append({"type": "mrkdwn", "text": truncate(f"Why: {escape(event.why)}", MAX_SECTION_TEXT)})
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
    msg = " ".join(_CONTROL.sub("", event.message or "").split())
    line = f"{emoji} [{label}] {event.subject}: {msg}"
    if event.fact and event.fact.get("value") is not None:
        fig = format_figure(event.fact)
        if event.previous:
            delta = change(event.fact, event.previous)
            fig += f" (was {format_figure(event.previous)}{', ' + delta if delta else ''})"
        line += f" | {fig}"
    n = len(set(event.sources))
    if n:
        line += f" | {n} source{'s' if n != 1 else ''}"
    return line
