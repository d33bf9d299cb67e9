"""Loading .txt, .html, .json, stdin and directories for `extract` / `replay`."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.documents import load_documents
from monitor.errors import InputError

ARTICLE_HTML = """<!doctype html>
<html lang="en"><head>
<title>Page title | Site</title>
<meta property="og:title" content="Kling AI raises $2 billion">
<link rel="canonical" href="https://example.com/kling">
</head><body>
<nav>Home | World | Tech</nav>
<article>
<h1>Kling AI raises $2 billion</h1>
<p>Kuaishou's Kling AI has raised $2 billion in a funding round led by Tencent, the company said on Monday.</p>
<p>The round values the video-generation unit at $18 billion, according to people familiar with the matter.</p>
<p>Kling AI was launched in June 2024 and now has more than 22 million users around the world.</p>
</article>
<footer>Copyright 2025</footer>
<script>var x = "Kling & Partners";</script>
</body></html>
"""


def test_txt_first_nonempty_line_is_title(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text("\n\n  Kling AI raises money  \nBody line one.\nBody line two.\n", encoding="utf-8")
    (doc,) = load_documents([str(p)])
    assert doc.title == "Kling AI raises money"
    assert doc.text == "Body line one.\nBody line two."
    assert doc.source == str(p)
    assert doc.full_text == "Kling AI raises money\n\nBody line one.\nBody line two."


def test_txt_crlf_and_bom(tmp_path: Path) -> None:
    p = tmp_path / "b.txt"
    p.write_bytes("\ufeffTitle\r\nBody\r\n".encode())
    (doc,) = load_documents([str(p)])
    assert (doc.title, doc.text) == ("Title", "Body")


def test_stdin_dash() -> None:
    (doc,) = load_documents(["-"], stdin=io.StringIO("快手可灵完成融资\n正文内容。\n"))
    assert (doc.source, doc.title, doc.text) == ("<stdin>", "快手可灵完成融资", "正文内容。")


def test_json_document(tmp_path: Path) -> None:
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"title": "T", "text": "Body", "url": "https://x.test/a",
                             "published": "2025-07-02T10:00:00+08:00", "lang": "en"}), encoding="utf-8")
    (doc,) = load_documents([str(p)])
    assert (doc.title, doc.text, doc.url, doc.lang) == ("T", "Body", "https://x.test/a", "en")
    assert doc.published == datetime(2025, 7, 2, 2, 0, tzinfo=UTC)
    assert doc.published.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("2025-07-02T02:00:00Z", datetime(2025, 7, 2, 2, 0, tzinfo=UTC)),
        ("2025-07-02T02:00:00", datetime(2025, 7, 2, 2, 0, tzinfo=UTC)),  # naive -> UTC
        ("2025-07-02", datetime(2025, 7, 2, tzinfo=UTC)),
        (None, None),
    ],
)
def test_json_published(tmp_path: Path, published: str | None, expected: datetime | None) -> None:
    p = tmp_path / "d.json"
    p.write_text(json.dumps({"title": "T", "text": "B", "published": published}), encoding="utf-8")
    (doc,) = load_documents([str(p)])
    assert doc.published == expected
    if doc.published is not None:
        assert doc.published.tzinfo is not None
        assert doc.published.tzinfo.utcoffset(doc.published) == UTC.utcoffset(None)


def test_html_document(tmp_path: Path) -> None:
    p = tmp_path / "e.html"
    p.write_text(ARTICLE_HTML, encoding="utf-8")
    (doc,) = load_documents([str(p)])
    assert doc.title == "Kling AI raises $2 billion"  # og:title beats <title>
    assert doc.url == "https://example.com/kling"
    assert doc.lang == "en"
    assert "funding round led by Tencent" in doc.text
    assert "22 million users" in doc.text
    assert "Home | World" not in doc.text and "var x" not in doc.text and "Copyright" not in doc.text


def test_html_title_fallback(tmp_path: Path) -> None:
    p = tmp_path / "f.htm"
    p.write_text("<html><head><title>Only title</title></head><body><p>Kling AI text here.</p></body></html>",
                 encoding="utf-8")
    (doc,) = load_documents([str(p)])
    assert doc.title == "Only title"
    assert "Kling AI text here." in doc.text


def test_directory_sorted_by_name(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("B title\nb", encoding="utf-8")
    (tmp_path / "a.json").write_text(json.dumps({"title": "A title", "text": "a"}), encoding="utf-8")
    (tmp_path / "c.txt").write_text("C title\nc", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    docs = load_documents([str(tmp_path)])
    assert [d.title for d in docs] == ["A title", "B title", "C title"]


def test_order_of_arguments_is_kept(tmp_path: Path) -> None:
    (tmp_path / "z.txt").write_text("Z\nz", encoding="utf-8")
    (tmp_path / "y.txt").write_text("Y\ny", encoding="utf-8")
    docs = load_documents([str(tmp_path / "z.txt"), str(tmp_path / "y.txt")])
    assert [d.title for d in docs] == ["Z", "Y"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", "{not json", "invalid JSON"),
        ("list.json", "[1, 2]", "expected a JSON object"),
        ("notext.json", json.dumps({"url": "https://x"}), "no 'title' or 'text'"),
        ("types.json", json.dumps({"title": 3, "text": "x"}), "must be strings"),
        ("date.json", json.dumps({"title": "t", "text": "x", "published": "yesterday"}), "not ISO-8601"),
        ("empty.txt", "   \n\n", "empty document"),
        ("empty.html", "", "empty document"),
    ],
)
def test_malformed_inputs_raise_input_error(tmp_path: Path, name: str, content: str, message: str) -> None:
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_documents([str(p)])


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_documents([str(tmp_path / "nope.txt")])


def test_binary_file_raises_input_error(tmp_path: Path) -> None:
    p = tmp_path / "bin.txt"
    p.write_bytes(b"\x00\x01\x02\xff\xfe\x00" * 100)
    with pytest.raises(InputError):
        load_documents([str(p)])


def test_input_error_exit_code() -> None:
    assert InputError("x").exit_code == 65
