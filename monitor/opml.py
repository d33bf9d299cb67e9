"""OPML import and export: how feed readers exchange subscriptions, without losing anything.

Export writes each feed's title (text and title), `htmlUrl`, language and tags (`category`), its
folder as nested outlines (Feedly, Miniflux and Inoreader import folders only that way), and
what only kling-monitor knows (name, interval, tier, full_text) as attributes in the `km`
namespace, which other readers ignore. Import reads all of that back, and tolerates what real
files contain: a bare `&` in a URL (Miniflux writes and accepts it), HTML entities like `&nbsp;`.

Import appends `[[feeds]]` tables to the TOML config as text, so the user's comments and
layout survive; the result is validated before anything is written. An imported feed never
gets `allow_private`: a file from elsewhere must not open the SSRF guard.
"""

from __future__ import annotations

import html
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
KM_NS = "urn:x-kling-monitor:opml:1"  # the namespace of kling-monitor's own outline attributes
_KM = f"{{{KM_NS}}}"
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_AMP = re.compile(rb"&(?!#[0-9]+;|#x[0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
_NAMED = re.compile(rb"&([A-Za-z][A-Za-z0-9]*);")


def _repair(data: bytes) -> bytes:
    """Bare `&` -> `&amp;`; HTML named entities (`&nbsp;`, `&eacute;`) -> numeric references."""
    data = _AMP.sub(b"&amp;", data)

    def named(m: re.Match[bytes]) -> bytes:
        name = m.group(1).decode("ascii")
        if name in _XML_ENTITIES:
            return m.group(0)
        text = html.unescape(f"&{name};")
        return "".join(f"&#{ord(c)};" for c in text).encode() if text != f"&{name};" else b"&amp;" + m.group(0)[1:]

    return _NAMED.sub(named, data)


def parse_opml(data: bytes, *, source: str = "<opml>") -> list[FeedConfig]:
    """Feeds from an OPML document; folders (nested outlines) become `folder` ("A/B")."""
    if len(data) > MAX_OPML_BYTES:
        raise InputError(f"{source}: OPML larger than {MAX_OPML_BYTES} bytes")
    if b"<!ENTITY" in data:
        raise InputError(f"{source}: OPML with entity declarations refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as first:
        try:
            root = ET.fromstring(_repair(data))
        except ET.ParseError:
            raise InputError(f"{source}: not valid OPML: {first}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise InputError(f"{source}: not an OPML document (no <opml><body>)")
    feeds: list[FeedConfig] = []

    def walk(node: ET.Element, folders: tuple[str, ...]) -> None:
        for outline in node.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            title = (outline.get("title") or outline.get("text") or "").strip()
            if url:
                feeds.append(_feed(outline, url, title, folders, source))
            else:
                walk(outline, folders + ((title.replace("/", "∕"),) if title else ()))

    walk(body, ())
    return feeds


def _feed(outline: ET.Element, url: str, title: str, folders: tuple[str, ...], source: str) -> FeedConfig:
    tags = tuple(dict.fromkeys(t.strip() for t in (outline.get("category") or "").split(",")
                               if t.strip() and not t.strip().startswith("/")))
    km = {k.removeprefix(_KM): v for k, v in outline.attrib.items() if k.startswith(_KM)}
    interval = 900
    if km.get("interval"):
        try:
            interval = int(km["interval"])
        except ValueError:
            raise InputError(f"{source}: {url}: km:interval must be a number of seconds") from None
    name = km.get("name") or slug(title or url)
    return FeedConfig(url=url, name=name, title=title if title and title != name else None,
                      folder="/".join(folders) or None, html_url=(outline.get("htmlUrl") or "").strip() or None,
                      language=outline.get("language") or None, tags=tags, interval=interval,
                      tier=km.get("tier") or None, full_text=km.get("full_text") == "true")


def export_opml(feeds: Iterable[FeedConfig], *, title: str = "kling-monitor feeds") -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<opml version="2.0" xmlns:km="{KM_NS}">', "  <head>",
             f"    <title>{_esc(title)}</title>",
             f"    <dateCreated>{datetime.now(UTC).strftime('%a, %d %b %Y %H:%M:%S GMT')}</dateCreated>",
             "  </head>", "  <body>"]
    # Group by folder path, keeping the config's order of first appearance; nest "A/B" in "A".
    tree: dict[str, list[FeedConfig]] = {}
    for f in feeds:
        tree.setdefault(f.folder or "", []).append(f)
    opened: list[str] = []
    for folder, members in sorted(tree.items(), key=lambda kv: (kv[0] != "", kv[0].split("/"))):
        parts = folder.split("/") if folder else []
        while opened and opened != parts[: len(opened)]:
            opened.pop()
            lines.append("    " + "  " * len(opened) + "</outline>")
        for part in parts[len(opened):]:
            lines.append("    " + "  " * len(opened) + f"<outline text={quoteattr(part)} title={quoteattr(part)}>")
            opened.append(part)
        indent = "    " + "  " * len(opened)
        lines += [indent + _outline(f) for f in members]
    while opened:
        opened.pop()
        lines.append("    " + "  " * len(opened) + "</outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _outline(f: FeedConfig) -> str:
    shown = f.title or f.name
    attrs = {"type": "rss", "text": shown, "title": shown, "xmlUrl": f.url}
    if f.html_url:
        attrs["htmlUrl"] = f.html_url
    if f.language:
        attrs["language"] = f.language
    if f.tags:
        attrs["category"] = ",".join(f.tags)
    attrs["km:name"] = f.name
    attrs["km:interval"] = str(f.interval)
    if f.tier:
        attrs["km:tier"] = f.tier
    if f.full_text:
        attrs["km:full_text"] = "true"
    return "<outline " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items()) + "/>"


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
        added.append(FeedConfig(url=f.url, name=name, language=f.language, tags=f.tags, title=f.title,
                                folder=f.folder, html_url=f.html_url, interval=f.interval, tier=f.tier,
                                full_text=f.full_text))
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

    def s(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    out = ["[[feeds]]", f"name = {s(f.name)}", f"url = {s(f.url)}", f"interval = {f.interval}"]
    for key in ("title", "folder", "html_url", "language", "tier"):
        value = getattr(f, key)
        if value:
            out.append(f"{key} = {s(value)}")
    if f.full_text:
        out.append("full_text = true")
    if f.tags:
        out.append("tags = [" + ", ".join(s(t) for t in f.tags) + "]")
    return "\n".join(out) + "\n\n"


def slug(text: str) -> str:
    s = re.sub(r"[^\w]+", "-", text.strip().lower(), flags=re.UNICODE).strip("-")
    return s[:60] or "feed"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
