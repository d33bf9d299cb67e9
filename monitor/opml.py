"""OPML import and export: how feed readers exchange subscriptions.

Import appends `[[feeds]]` tables to the TOML config as text, so the user's comments and
layout survive; the result is validated before anything is written.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

from monitor.config import FeedConfig, load_config
from monitor.errors import ConfigError, InputError

MAX_OPML_BYTES = 5 * 1024 * 1024


def parse_opml(data: bytes, *, source: str = "<opml>") -> list[FeedConfig]:
    """Feeds from an OPML document (nested outlines flattened; categories become tags)."""
    if len(data) > MAX_OPML_BYTES:
        raise InputError(f"{source}: OPML larger than {MAX_OPML_BYTES} bytes")
    if b"<!ENTITY" in data:
        raise InputError(f"{source}: OPML with entity declarations refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(f"{source}: not valid OPML: {exc}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise InputError(f"{source}: not an OPML document (no <opml><body>)")
    feeds: list[FeedConfig] = []

    def walk(node: ET.Element, tags: tuple[str, ...]) -> None:
        for outline in node.findall("outline"):
            url = outline.get("xmlUrl")
            title = outline.get("title") or outline.get("text") or ""
            if url:
                extra = tuple(t.strip() for t in (outline.get("category") or "").split(",") if t.strip())
                feeds.append(FeedConfig(url=url.strip(), name=slug(title or url), language=outline.get("language"),
                                        tags=tuple(dict.fromkeys(tags + extra))))
            else:
                walk(outline, tags + ((title,) if title else ()))

    walk(body, ())
    return feeds


def export_opml(feeds: Iterable[FeedConfig], *, title: str = "kling-monitor feeds") -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "  <head>",
             f"    <title>{_esc(title)}</title>",
             f"    <dateCreated>{datetime.now(UTC).strftime('%a, %d %b %Y %H:%M:%S GMT')}</dateCreated>",
             "  </head>", "  <body>"]
    for f in feeds:
        attrs = {"type": "rss", "text": f.name, "title": f.name, "xmlUrl": f.url}
        if f.language:
            attrs["language"] = f.language
        if f.tags:
            attrs["category"] = ",".join(f.tags)
        lines.append("    <outline " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items()) + "/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def import_into_config(opml_path: str | Path, config_path: str | Path) -> list[FeedConfig]:
    """Append the OPML's feeds that the config lacks (by URL); return the ones added."""
    path = Path(opml_path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    incoming = parse_opml(data, source=str(path))
    cfg = load_config(config_path)
    known_urls = {f.url for f in cfg.feeds}
    names = {f.name for f in cfg.feeds}
    added: list[FeedConfig] = []
    for f in incoming:
        if f.url in known_urls:
            continue
        name, n = f.name, 2
        while name in names:
            name, n = f"{f.name}-{n}", n + 1
        names.add(name)
        known_urls.add(f.url)
        added.append(FeedConfig(url=f.url, name=name, language=f.language, tags=f.tags))
    if not added:
        return []
    text = Path(config_path).read_text(encoding="utf-8")
    block = "".join(feed_toml(f) for f in added)
    new_text = text.rstrip("\n") + "\n\n# imported from " + path.name + "\n" + block
    # Validate before writing: an import must never leave a broken config behind.
    import tomllib

    from monitor.config import config_from_dict

    try:
        config_from_dict(tomllib.loads(new_text), source=str(config_path))
    except (tomllib.TOMLDecodeError, ConfigError) as exc:
        raise ConfigError(f"{config_path}: import would make the config invalid: {exc}") from None
    Path(config_path).write_text(new_text, encoding="utf-8")
    return added


def feed_toml(f: FeedConfig) -> str:
    """A `[[feeds]]` table; JSON string escapes are valid TOML basic strings."""
    out = ["[[feeds]]", f"name = {json.dumps(f.name, ensure_ascii=False)}",
           f"url = {json.dumps(f.url, ensure_ascii=False)}", f"interval = {f.interval}"]
    if f.language:
        out.append(f"language = {json.dumps(f.language)}")
    if f.full_text:
        out.append("full_text = true")
    if f.tags:
        out.append("tags = [" + ", ".join(json.dumps(t, ensure_ascii=False) for t in f.tags) + "]")
    return "\n".join(out) + "\n\n"


def slug(text: str) -> str:
    s = re.sub(r"[^\w]+", "-", text.strip().lower(), flags=re.UNICODE).strip("-")
    return s[:60] or "feed"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
