"""OPML import and export."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import FeedConfig, load_config
from monitor.errors import InputError
from monitor.opml import export_opml, parse_opml

OPML = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="China tech">
    <outline type="rss" text="Pandaily &amp; co" xmlUrl="https://pandaily.com/feed/" language="en"/>
    <outline type="rss" text="36Kr" xmlUrl="https://36kr.com/feed" category="zh,startups"/>
  </outline>
  <outline type="rss" title="Kling search" xmlUrl="https://news.google.com/rss/search?q=Kling&amp;hl=en"/>
</body></opml>"""


def test_parse_keeps_titles_folders_and_categories() -> None:
    feeds = parse_opml(OPML)
    assert [(f.name, f.title, f.url, f.folder, f.tags) for f in feeds] == [
        ("pandaily-co", "Pandaily & co", "https://pandaily.com/feed/", "China tech", ()),
        ("36kr", "36Kr", "https://36kr.com/feed", "China tech", ("zh", "startups")),
        ("kling-search", "Kling search", "https://news.google.com/rss/search?q=Kling&hl=en", None, ()),
    ]
    assert feeds[0].language == "en"


FULL = [
    FeedConfig(url="https://a.example/rss?x=1&y=<2>", name="a-b", title="🍺 IceBeer & \"Friends\"", language="zh",
               tags=("t1", "t2"), folder="Tech/China", html_url="https://a.example/?p=1&q=2", interval=1800,
               tier="major", full_text=True),
    FeedConfig(url="https://b.example/atom", name="b"),
    FeedConfig(url="https://c.example/feed", name="c", title="可灵新闻", folder="Tech", interval=600, tier="primary"),
    FeedConfig(url="https://d.example/feed", name="d", folder="Tech/China/Video"),
    FeedConfig(url="https://e.example/feed", name="e", folder="Finance", tier="other"),
]


def test_export_then_parse_round_trips_every_field() -> None:
    text = export_opml(FULL)
    back = parse_opml(text.encode())
    assert sorted(back, key=lambda f: f.url) == sorted(FULL, key=lambda f: f.url)
    assert "icebeer" not in text.lower().replace("🍺 icebeer", "")  # the title is written, not a slug
    assert 'htmlUrl="https://a.example/?p=1&amp;q=2"' in text


def test_export_nests_folders_as_outlines() -> None:
    import xml.etree.ElementTree as ET

    body = ET.fromstring(export_opml(FULL).encode()).find("body")
    assert body is not None
    tops = {o.get("text"): o for o in body.findall("outline")}
    assert set(tops) == {"b", "Tech", "Finance"}
    china = next(o for o in tops["Tech"].findall("outline") if o.get("text") == "China")
    assert [o.get("km:name") or o.get("{urn:x-kling-monitor:opml:1}name") for o in china.iter("outline")
            if o.get("xmlUrl")] == ["a-b", "d"]
    assert [o.get("text") for o in china.findall("outline/outline")] == ["d"]  # Tech/China/Video


# What three popular readers export (their shape: folders as outlines, titles, htmlUrl), including the
# bare "&" and HTML entity that real exports contain.
FEEDLY = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Alice subscriptions in feedly Cloud</title></head>
  <body>
    <outline text="China Tech" title="China Tech">
      <outline type="rss" text="36Kr &nbsp;Global" title="36Kr &nbsp;Global" xmlUrl="https://36kr.com/feed" htmlUrl="https://36kr.com"/>
      <outline type="rss" text="Pandaily" title="Pandaily" xmlUrl="https://pandaily.com/feed/" htmlUrl="https://pandaily.com/"/>
    </outline>
  </body>
</opml>"""
MINIFLUX = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Miniflux</title><dateCreated>Sun, 29 Nov 2026 10:00:00 UTC</dateCreated></head>
  <body>
    <outline text="AI">
      <outline title="Kling search" text="Kling search" xmlUrl="https://news.google.com/rss/search?q=Kling&hl=en" htmlUrl="https://news.google.com/search?q=Kling&hl=en" description=""></outline>
      <outline title="R&D blog" text="R&D blog" xmlUrl="https://rd.example/feed.xml" htmlUrl="https://rd.example/"></outline>
    </outline>
  </body>
</opml>"""
INOREADER = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Subscriptions of Bob from Inoreader [https://www.inoreader.com]</title></head>
  <body>
    <outline text="TechCrunch" title="TechCrunch" type="rss" xmlUrl="https://techcrunch.com/feed/" htmlUrl="https://techcrunch.com/"/>
    <outline title="快手" text="快手">
      <outline text="可灵 AI" title="可灵 AI" type="rss" xmlUrl="https://example.cn/keling.xml" htmlUrl="https://example.cn/"/>
    </outline>
  </body>
</opml>""".encode()


@pytest.mark.parametrize(("data", "expected"), [
    (FEEDLY, [("36Kr \u00a0Global", "https://36kr.com/feed", "China Tech", "https://36kr.com"),
              ("Pandaily", "https://pandaily.com/feed/", "China Tech", "https://pandaily.com/")]),
    (MINIFLUX, [("Kling search", "https://news.google.com/rss/search?q=Kling&hl=en", "AI",
                 "https://news.google.com/search?q=Kling&hl=en"),
                ("R&D blog", "https://rd.example/feed.xml", "AI", "https://rd.example/")]),
    (INOREADER, [("TechCrunch", "https://techcrunch.com/feed/", None, "https://techcrunch.com/"),
                 ("可灵 AI", "https://example.cn/keling.xml", "快手", "https://example.cn/")]),
], ids=["feedly", "miniflux", "inoreader"])
def test_reader_exports_round_trip(data: bytes, expected: list[tuple[str, str, str | None, str]],
                                   tmp_path: Path) -> None:
    feeds = parse_opml(data)
    assert [(f.title, f.url, f.folder, f.html_url) for f in feeds] == expected
    again = parse_opml(export_opml(feeds).encode())
    assert again == feeds
    # and through the config file: import, load, export, parse
    cfg = tmp_path / "monitor.toml"
    cfg.write_text("", encoding="utf-8")
    opml = tmp_path / "in.opml"
    opml.write_bytes(data)
    assert main(["-c", str(cfg), "feeds", "import-opml", str(opml)]) == 0
    assert list(load_config(cfg).feeds) == feeds


def test_import_appends_new_feeds_and_keeps_the_config_valid(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text('# my comment\n[[feeds]]\nname = "pandaily"\nurl = "https://pandaily.com/feed/"\n')
    opml = tmp_path / "subs.opml"
    opml.write_bytes(OPML)
    assert main(["-c", str(cfg), "feeds", "import-opml", str(opml)]) == 0
    assert "2 feeds added" in capsys.readouterr().out
    loaded = load_config(cfg)
    assert [f.url for f in loaded.feeds] == ["https://pandaily.com/feed/", "https://36kr.com/feed",
                                             "https://news.google.com/rss/search?q=Kling&hl=en"]
    assert cfg.read_text().startswith("# my comment")
    # importing again adds nothing
    assert main(["-c", str(cfg), "feeds", "import-opml", str(opml)]) == 0
    assert "0 feeds added" in capsys.readouterr().out
    out = tmp_path / "out.opml"
    assert main(["-c", str(cfg), "feeds", "export-opml", "-o", str(out)]) == 0
    assert sorted(f.url for f in parse_opml(out.read_bytes())) == sorted(f.url for f in loaded.feeds)


@pytest.mark.parametrize("data", [b"<html><body>nope</body></html>", b"<opml", b"",
                                  b'<!DOCTYPE x [<!ENTITY a "aaaa">]><opml><body/></opml>'])
def test_bad_opml_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(InputError, match="<opml>: "):
        parse_opml(data)
