"""Loading documents for the `extract` and `replay` commands.

Accepted inputs: `.txt` (first non-empty line is the title), `.html`/`.htm` (an article page;
main text via trafilatura, BeautifulSoup as fallback), `.json` ({"title", "text", "url",
"published", "lang"}), `-` (standard input, read as .txt) and directories (their files, sorted
by name). Anything unreadable or malformed raises InputError naming the file, so the CLI can
exit with a data-error code instead of a traceback.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from monitor.errors import InputError
from monitor.models import Document

SUFFIXES = (".txt", ".text", ".md", ".html", ".htm", ".json")


def load_documents(paths: list[str], stdin: TextIO = sys.stdin) -> list[Document]:
    """Documents from files, directories and '-' in the order given."""
    docs: list[Document] = []
    for p in paths:
        if p == "-":
            docs.append(text_document("<stdin>", stdin.read()))
            continue
        path = Path(p)
        if path.is_dir():
            files = sorted((f for f in path.iterdir() if f.is_file() and f.suffix.lower() in SUFFIXES),
                           key=lambda f: f.name)
            docs.extend(load_file(f) for f in files)
        else:
            docs.append(load_file(path))
    return docs


def load_file(path: Path) -> Document:
    """One file, by its suffix (unknown suffixes are read as text)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    text = _decode(raw, path)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        return html_document(str(path), text)
    if suffix == ".json":
        return json_document(str(path), text)
    return text_document(str(path), text)


def _decode(raw: bytes, path: Path) -> str:
    for enc in ("utf-8-sig",):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
    except Exception:  # noqa: BLE001 - any detector failure means "not text"
        best = None
    if best is None or b"\x00" in raw[:4096]:
        raise InputError(f"{path}: not a text file (unknown encoding)")
    return str(best)


def text_document(source: str, text: str) -> Document:
    """Plain text: the first non-empty line is the title, the rest the body."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            return Document(source=source, title=line.strip(), text="\n".join(lines[i + 1:]).strip())
    raise InputError(f"{source}: empty document")


def json_document(source: str, text: str) -> Document:
    """A JSON object with title/text (required: at least one), url, published (ISO-8601), lang."""
    try:
        obj: Any = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{source}: invalid JSON: {e.msg} (line {e.lineno})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{source}: expected a JSON object with title and text")
    title, body = obj.get("title", ""), obj.get("text", "")
    if not isinstance(title, str) or not isinstance(body, str):
        raise InputError(f"{source}: 'title' and 'text' must be strings")
    if not title.strip() and not body.strip():
        raise InputError(f"{source}: no 'title' or 'text'")
    url = obj.get("url")
    if url is not None and not isinstance(url, str):
        raise InputError(f"{source}: 'url' must be a string")
    lang = obj.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise InputError(f"{source}: 'lang' must be a string")
    published = parse_published(obj.get("published"), source)
    return Document(source=source, title=title.strip(), text=body.strip(), url=url, published=published, lang=lang)


def parse_published(value: Any, source: str) -> datetime | None:
    """ISO-8601 -> aware UTC datetime; a naive time is taken as UTC; None stays None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"{source}: 'published' must be an ISO-8601 string")
    s = value.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise InputError(f"{source}: 'published' is not ISO-8601: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def html_document(source: str, html: str) -> Document:
    """An article page: title from og:title or <title>, main text via trafilatura or BeautifulSoup."""
    if not html.strip():
        raise InputError(f"{source}: empty document")
    try:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(html, "lxml")
    except Exception as e:  # noqa: BLE001 - a parser crash is a malformed input
        raise InputError(f"{source}: cannot parse HTML: {e}") from None
    title = ""
    og = soup.find("meta", attrs={"property": "og:title"}) or soup.find("meta", attrs={"name": "og:title"})
    if og is not None and og.get("content"):
        title = str(og.get("content")).strip()
    if not title and soup.title is not None and soup.title.string:
        title = soup.title.string.strip()
    url = None
    canon = soup.find("link", attrs={"rel": "canonical"})
    if canon is not None and canon.get("href"):
        url = str(canon.get("href"))
    lang = None
    if soup.html is not None and soup.html.get("lang"):
        lang = str(soup.html.get("lang"))
    body = _trafilatura_text(html) or _soup_text(soup)
    if not body and not title:
        raise InputError(f"{source}: no article text found")
    return Document(source=source, title=title, text=body, url=url, lang=lang)


_TRAFILATURA: list[Any] = []  # [module] or [None] once the import was tried


def _trafilatura() -> Any:
    """The trafilatura module, imported once; None when it cannot be imported (e.g. lxml.html.clean missing)."""
    if not _TRAFILATURA:
        mod: Any
        try:
            import trafilatura as mod
        except Exception:  # noqa: BLE001 - any import failure means: use the BeautifulSoup fallback
            mod = None
        _TRAFILATURA.append(mod)
    return _TRAFILATURA[0]


def _trafilatura_text(html: str) -> str:
    """trafilatura's main-text extraction; '' when it is unavailable or finds nothing."""
    mod = _trafilatura()
    if mod is None:
        return ""
    try:
        out = mod.extract(html, include_comments=False, include_tables=True, favor_recall=True)
    except Exception:  # noqa: BLE001 - trafilatura raises assorted errors on odd markup
        return ""
    return (out or "").strip()


def _soup_text(soup: Any) -> str:
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside", "form"]):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    paras = [p.get_text(" ", strip=True) for p in root.find_all(["h1", "h2", "h3", "p", "li"])]
    paras = [p for p in paras if p]
    text = "\n".join(paras) if paras else root.get_text("\n", strip=True)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
