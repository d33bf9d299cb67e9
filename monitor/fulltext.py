"""Article main text: trafilatura first, a paragraph scrape as the fallback.

Used when a feed gives only a teaser and the figures live in the article body. Never raises:
a page we cannot read yields "". The input is capped so that one giant page cannot stall a worker.
trafilatura needs lxml's HTML cleaner (the `lxml_html_clean` package); without it the import
fails and every page goes through the paragraph fallback.
"""

from __future__ import annotations

import logging
import re
import warnings

MAX_INPUT_BYTES = 2 * 1024 * 1024
_MIN_PARAGRAPH = 40  # characters; shorter <p> are usually captions, bylines, buttons
_WS_RE = re.compile(r"[ \t\r\f\v]+")
_BOILERPLATE_PARENTS = frozenset({"nav", "header", "footer", "aside", "form", "figcaption"})

# trafilatura logs ERROR ("empty HTML tree") for ordinary junk pages; "" already says that.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def _clean(text: str) -> str:
    text = text.replace("\x00", "")  # a NUL is removed, never the end of the text
    lines = [_WS_RE.sub(" ", ln).strip() for ln in text.splitlines()]
    return "\n".join(ln for ln in lines if ln)


def _decode(html: bytes) -> str:
    """Bytes to text: a declared meta/XML charset if any, else UTF-8, else charset-normalizer."""
    head = html[:4096]
    m = re.search(rb"""charset\s*=\s*["']?([A-Za-z0-9._:\-]+)""", head, re.IGNORECASE)
    if m:
        try:
            return html.decode(m.group(1).decode("ascii"), "strict")
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(html[: 256 * 1024]).best()
        if best is not None and best.encoding:
            return html.decode(best.encoding, "replace")
    except Exception:
        pass
    return html.decode("utf-8", "replace")


def _trafilatura(html: str, url: str | None) -> str:
    try:
        import trafilatura

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a library warning must not become our exception
            text = trafilatura.extract(
                html,
                url=url,
                favor_precision=True,
                include_comments=False,
                include_tables=False,
                include_images=False,
                include_links=False,
                deduplicate=True,
                with_metadata=False,
            )
    except Exception:
        return ""
    return _clean(text) if text else ""


def _paragraphs(html: str) -> str:
    """Fallback: the longer <p> texts outside nav/header/footer/aside, in page order."""
    try:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(html, "lxml")
    except Exception:
        try:
            from bs4 import BeautifulSoup

            soup = BeautifulSoup(html, "html.parser")
        except Exception:
            return ""
    try:
        for tag in soup(["script", "style", "noscript", "template"]):
            tag.decompose()
        out: list[str] = []
        for p in soup.find_all("p"):
            if any(parent.name in _BOILERPLATE_PARENTS for parent in p.parents):
                continue
            text = _WS_RE.sub(" ", p.get_text(" ")).strip()
            if len(text) >= _MIN_PARAGRAPH:
                out.append(text)
        return "\n".join(out)
    except Exception:
        return ""


def extract_main_text(html: bytes | str, url: str | None = None) -> str:
    """The article's main text, one paragraph per line; "" when there is none."""
    try:
        if not html:
            return ""
        if isinstance(html, bytes):
            text = _decode(html[:MAX_INPUT_BYTES])
        else:
            text = html[:MAX_INPUT_BYTES]
        if not text.strip():
            return ""
        return _trafilatura(text, url) or _paragraphs(text)
    except Exception:  # never raise: a page we cannot read has no main text
        return ""
