"""Parse stage, JSON Feed: jsonfeed.org 1.0 and 1.1 documents into feedparser-shaped entries.

feedparser 6.0 reads XML only, and some publishers offer only a JSON Feed. A JSON Feed is already
structured, so this is a mapping, not a parser: the normalizer then treats its items like any
other entries. Field by field (https://www.jsonfeed.org/version/1.1/):

    id -> id            url (else external_url) -> link       title -> title (plain text)
    summary -> summary (plain text)     content_html / content_text -> content (HTML / text)
    date_published / date_modified -> published / updated (RFC 3339, feedparser's date parser)
    authors[0].name (1.1) or author.name (1.0) -> author      language -> language
    attachments[].url -> enclosure links

Values of the wrong JSON type are ignored, never guessed at; a document that is not a JSON Feed
(no jsonfeed.org version, or no item list) is not a feed.
"""

from __future__ import annotations

import json
from typing import Any

from feedparser.datetimes import _parse_date

_VERSIONS = {"https://jsonfeed.org/version/1": "json1", "https://jsonfeed.org/version/1.1": "json11"}


def looks_like_json(body: bytes) -> bool:
    """A body whose first non-space character opens a JSON object."""
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def read_json_feed(body: bytes) -> dict[str, Any] | None:
    """feedparser-shaped {'feed', 'entries', 'version', ...} for a JSON Feed; None if it is not one.

    JSON is UTF-8 (RFC 8259); a body that does not decode or parse is not a JSON Feed either.
    """
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    version = _VERSIONS.get(str(doc.get("version", "")).rstrip("/"))
    items = doc.get("items")
    if version is None or not isinstance(items, list):
        return None
    feed: dict[str, Any] = {}
    for key in ("title", "language"):
        if isinstance(doc.get(key), str):
            feed[key] = doc[key]
    entries = [_entry(item) for item in items if isinstance(item, dict)]
    return {"feed": feed, "entries": entries, "version": version, "encoding": "utf-8", "bozo": False}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) else None


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    raw_id = item.get("id")
    if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool):  # 1.0 allowed numbers
        entry["id"] = str(raw_id).strip()
    link = _text(item.get("url")) or _text(item.get("external_url"))
    if link:
        entry["link"] = link
    title = _text(item.get("title"))
    if title is not None:
        entry["title"] = title
        entry["title_detail"] = {"type": "text/plain", "value": title}
    summary = _text(item.get("summary"))
    if summary is not None:
        entry["summary"] = summary
        entry["summary_detail"] = {"type": "text/plain", "value": summary}
    content = []
    for key, kind in (("content_html", "text/html"), ("content_text", "text/plain")):
        value = _text(item.get(key))
        if value:
            content.append({"type": kind, "value": value})
    if content:
        entry["content"] = content
    for key, field in (("date_published", "published"), ("date_modified", "updated")):
        value = _text(item.get(key))
        if value:
            entry[field] = value
            entry[field + "_parsed"] = _parse_date(value)
    author = _author(item)
    if author:
        entry["author"] = author
    language = _text(item.get("language"))
    if language:
        entry["language"] = language
    attachments = item.get("attachments")
    if isinstance(attachments, list):
        links = [
            {"rel": "enclosure", "href": a["url"], "type": a.get("mime_type")}
            for a in attachments
            if isinstance(a, dict) and isinstance(a.get("url"), str)
        ]
        if links:
            entry["links"] = links
    return entry


def _author(item: dict[str, Any]) -> str | None:
    authors = item.get("authors")
    candidates = authors if isinstance(authors, list) else []
    candidates = [*candidates, item.get("author")]
    for person in candidates:
        if isinstance(person, dict):
            name = _text(person.get("name"))
            if name:
                return name
    return None
