"""Formatting of alerts: escaping, links, figures, Block Kit limits, console line."""

from __future__ import annotations

import json

from monitor.models import Event
from monitor.render import (
    MAX_BLOCKS,
    MAX_FALLBACK_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    change,
    console_line,
    escape,
    fallback_text,
    figure_line,
    format_figure,
    link,
    safe_url,
    slack_blocks,
    slack_message,
    truncate,
)


def _event(**kw: object) -> Event:
    base: dict[str, object] = dict(
        type="revised_figure", subject="Kling", key="k1", rule="figure_moved", kind="round_size",
        fact={"kind": "round_size", "subject": "Kling", "value": 2.8e9, "unit": "USD", "qualifier": "approx",
              "stage": "committed", "outlet": "Kling round revised"},
        previous={"kind": "round_size", "value": 2e9, "unit": "USD", "qualifier": "approx", "stage": "reported"},
        sources=("https://www.reuters.com/a", "https://scmp.com/b"), cluster_size=3, thread_key="Kling:round_size:")
    outlet = kw.pop("outlet", None)  # feed text the rendered message carries
    base.update(kw)
    if outlet is not None:
        base["fact"] = {**base["fact"], "outlet": outlet}  # type: ignore[dict-item]
    return Event(**base)  # type: ignore[arg-type]


def _all_text(blocks: list[dict]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_escape_neutralises_mentions_and_forged_links() -> None:
    assert escape("a & b <!channel> <http://evil.example|click>") == (
        "a &amp; b &lt;!channel&gt; &lt;http://evil.example|click&gt;")


def test_feed_text_in_blocks_is_escaped() -> None:
    ev = _event(outlet="Breaking <!channel> see <http://evil.example|click>", title="<!here> & more",
                against=({"outlet": "<@U123>", "value": 2e9, "unit": "USD"},))
    blocks = slack_blocks(ev)
    text = _all_text(blocks)
    assert "<!channel>" not in text and "<!here>" not in text and "<@U123>" not in text
    assert "<http://evil.example|click>" not in text
    assert "&lt;!channel&gt;" in text and "&lt;http://evil.example|click&gt;" in text
    assert "<!channel>" not in fallback_text(ev)


def test_safe_url_only_http_and_no_markup_breakers() -> None:
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("ftp://x.example/a") is None
    assert safe_url("file:///etc/passwd") is None
    assert safe_url("https://a.example/x y") is None
    u = safe_url("https://a.example/p?a=1&b=2|x>y")
    assert u is not None and "|" not in u and ">" not in u and "&amp;" in u
    assert link("https://a.example/x", "A|B>") == "<https://a.example/x|A¦B&gt;>"
    assert link("javascript:x", "<!channel>") == "&lt;!channel&gt;"


def test_figure_line_with_change() -> None:
    line = figure_line(_event())
    assert line == "*Round size:* ~$2.8B committed (was ~$2B reported, +40%)"


def test_format_figure_variants() -> None:
    assert format_figure({"value": 3e9, "unit": "USD", "qualifier": "up_to"}) == "up to $3B"
    assert format_figure({"value": 1.38e10, "unit": "CNY", "value_usd": 2.028e9, "qualifier": "approx"}) == \
        "~RMB 13.8B (~$2.028B)"
    assert format_figure({"value": 16.67, "unit": "percent"}) == "16.67%"
    assert format_figure({"value": 2e9, "unit": "USD", "qualifier": "range", "range_high": 3e9}) == "$2B–$3B"
    assert change({"value": 1.8e11, "unit": "USD"}, {"value": 1.8e10, "unit": "USD"}) == "+900%"
    assert change({"value": 1, "unit": "USD"}, {"value": 1, "unit": "CNY"}) is None
    assert change({"value": 3e9, "unit": "USD"},
                  {"value": 2e9, "unit": "USD", "qualifier": "range", "range_high": 3e9}) == "+20%"  # midpoint
    assert change({"value": 2.04471e10, "unit": "CNY", "value_usd": 3e9}, {"value": 2e9, "unit": "USD"}) == "+50%"


def test_blocks_have_sources_cluster_and_conflict_marker() -> None:
    ev = _event(type="conflict", rule="off_consensus")
    blocks = slack_blocks(ev)
    text = _all_text(blocks)
    assert blocks[0]["type"] == "header" and "⚠️" in blocks[0]["text"]["text"]
    assert "⚠️ *Conflict:*" in text
    assert "<https://www.reuters.com/a|reuters.com>" in text
    assert "cluster of 3 stories" in text


def test_limits_are_respected() -> None:
    long = "x & y " * 2000
    ev = _event(outlet=long, title=long, subject="K" * 400, against=({"outlet": long},),
                sources=tuple(f"https://s{i}.example/{'p' * 200}" for i in range(100)))
    blocks = slack_blocks(ev)
    assert len(blocks) <= MAX_BLOCKS
    assert len(blocks[0]["text"]["text"]) <= MAX_HEADER_TEXT
    for b in blocks:
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= MAX_SECTION_TEXT
        if b["type"] == "context":
            for el in b["elements"]:
                assert len(el["text"]) <= MAX_SECTION_TEXT
    src = next(el["text"] for b in blocks if b["type"] == "context" for el in b["elements"]
               if el["text"].startswith("Sources"))
    assert src.count("<") == src.count(">")  # no link cut in half
    assert "more" in src
    assert len(fallback_text(ev)) <= MAX_FALLBACK_TEXT
    assert fallback_text(ev).endswith("…")


def test_truncate_never_splits_an_entity() -> None:
    t = truncate(escape("a" * 8 + "&&&&"), 12)
    assert t.endswith("…") and not t[:-1].endswith("&am") and "&a…" not in t


def test_slack_message_carries_metadata() -> None:
    m = slack_message(_event(), idempotency_key="k1:slack:#x")
    assert m["metadata"]["event_type"] == "kling_monitor_alert"
    assert m["metadata"]["event_payload"]["idempotency_key"] == "k1:slack:#x"
    assert m["text"] and m["blocks"]


def test_console_line_is_one_readable_line() -> None:
    line = console_line(_event(outlet="two\nlines\x07"))
    assert "\n" not in line and "\x07" not in line
    assert "[Revised figure] Kling: Revised: Kling round size ~$2.8B committed (was ~$2B reported, +40%)" in line
    assert "source: two lines" in line
    assert "~$2.8B committed (was ~$2B reported, +40%)" in line and "2 sources" in line
