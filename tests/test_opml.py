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


def test_parse_flattens_outlines_and_keeps_categories() -> None:
    feeds = parse_opml(OPML)
    assert [(f.name, f.url, f.tags) for f in feeds] == [
        ("pandaily-co", "https://pandaily.com/feed/", ("China tech",)),
        ("36kr", "https://36kr.com/feed", ("China tech", "zh", "startups")),
        ("kling-search", "https://news.google.com/rss/search?q=Kling&hl=en", ()),
    ]
    assert feeds[0].language == "en"


def test_export_then_parse_round_trips() -> None:
    feeds = [FeedConfig(url="https://a.example/rss?x=1&y=<2>", name="a & b", language="zh", tags=("t1", "t2")),
             FeedConfig(url="https://b.example/atom", name="b")]
    back = parse_opml(export_opml(feeds).encode())
    assert [(f.url, f.language, f.tags) for f in back] == [(f.url, f.language, f.tags) for f in feeds]


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
    assert [f.url for f in parse_opml(out.read_bytes())] == [f.url for f in loaded.feeds]


@pytest.mark.parametrize("data", [b"<html><body>nope</body></html>", b"<opml", b"",
                                  b'<!DOCTYPE x [<!ENTITY a "aaaa">]><opml><body/></opml>'])
def test_bad_opml_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(InputError, match="<opml>: "):
        parse_opml(data)
