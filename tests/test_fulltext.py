"""Fulltext: an article page with navigation and boilerplate gives its main paragraphs."""

from __future__ import annotations

import time

from monitor.fulltext import _paragraphs, extract_main_text

P1 = (
    "Kuaishou Technology said on Monday that its video generation unit Kling AI has raised new capital "
    "from a group of investors, valuing the business at about $2 billion."
)
P2 = (
    "The round was led by a state-backed fund, the company said in a filing with the Hong Kong stock "
    "exchange, adding that proceeds would be used for computing power and research."
)
P3 = (
    "Kling, launched in June last year, has more than 22 million users worldwide and generated revenue "
    "of over 100 million yuan in the first quarter."
)
PAGE = f"""<!doctype html><html><head><meta charset="utf-8"><title>Kling raises</title>
<style>body {{ font-family: sans-serif }}</style><script>window.tracker = "load";</script></head>
<body><header><nav><a href="/">Home</a> | <a href="/tech">Tech</a> | <a href="/login">Sign in</a></nav></header>
<aside><p>Subscribe to our newsletter for the latest updates every single morning in your inbox.</p></aside>
<main><article><h1>Kuaishou's Kling AI raises funds at $2 billion valuation</h1>
<p>{P1}</p><p>{P2}</p><p>{P3}</p></article></main>
<footer><p>Copyright 2025 Example News Ltd. All rights reserved. Terms of use and privacy policy apply.</p></footer>
</body></html>"""


def test_article_main_paragraphs_without_boilerplate() -> None:
    for page in (PAGE, PAGE.encode("utf-8")):
        text = extract_main_text(page, "https://news.example.com/kling")
        assert P1 in text and P2 in text and P3 in text
        assert "Sign in" not in text and "newsletter" not in text and "Copyright" not in text
        assert "window.tracker" not in text and "font-family" not in text


def test_fallback_scrapes_paragraphs_outside_boilerplate() -> None:
    text = _paragraphs(PAGE)
    assert text.split("\n") == [P1, P2, P3]


def test_gbk_page_bytes_are_decoded() -> None:
    para = (
        "快手旗下的可灵人工智能视频生成模型发布了新版本，用户数量突破两千万，年化收入超过一亿美元，公司表示将继续加大投入。"
        * 3
    )
    page = f'<html><head><meta charset="gbk"></head><body><article><p>{para}</p><p>{para}</p></article></body></html>'
    assert para in extract_main_text(page.encode("gbk"))


def test_nothing_to_extract_gives_empty_string() -> None:
    for junk in (
        b"",
        "",
        "   ",
        "<html></html>",
        b"\xff\xfe\x00garbage",
        "<html><body><script>x()</script></body></html>",
    ):
        assert extract_main_text(junk) == ""


def test_huge_input_is_capped() -> None:
    page = "<html><body>" + f"<p>{P1}</p>" * 100_000 + "</body></html>"  # ~17 MB
    t = time.monotonic()
    text = extract_main_text(page)
    assert time.monotonic() - t < 30
    assert isinstance(text, str)
