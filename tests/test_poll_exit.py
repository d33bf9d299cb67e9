"""`poll --digest-if-due` (the timer unit's command) fails when something needs a person."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from feedserver import FeedServer
from slackserver import Reply, SlackServer

import monitor.ingest  # noqa: F401 - imported outside capsys: terminal_progress binds sys.stderr at import
from monitor.cli import main
from monitor.digest import EPOCH_META
from monitor.store import Store

STORY = ("<item><title>Kling AI raises $2 billion</title><link>https://news.example.com/k</link>"
         "<description>Kuaishou's Kling AI raised $2 billion at an $18 billion valuation.</description>"
         "<pubDate>Mon, 23 Nov 2026 08:00:00 +0000</pubDate></item>")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(tmp_path: Path, feed_url: str, extra: str) -> str:
    p = tmp_path / "m.toml"
    p.write_text(f'[store]\npath = "{tmp_path}/m.db"\n[fetch]\nallow_private = true\nfull_text_for_matches = false\nmax_entry_age = 0\n'
                 f'[console]\nenabled = false\n[digest]\ntime = "00:00"\nsend_empty = true\n{extra}\n'
                 f'[[feeds]]\nname = "news"\nurl = "{feed_url}"\n', encoding="utf-8")
    return str(p)


@pytest.mark.parametrize("case", ["fine", "parked", "digest failed"])
def test_poll_digest_if_due_exits_non_zero_when_something_needs_a_person(
        case: str, feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    feed_server.add("/feed.xml", f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{STORY}'
                                 "</channel></rss>")
    monkeypatch.setenv("KM_TOKEN", "xoxb-test-token")
    with SlackServer() as slack:
        slack.fail_always("chat.postMessage", Reply(200, {"ok": False, "error": "invalid_auth"}))  # permanent
        extra = {
            "fine": "",
            "parked": f'[slack]\nenabled = true\ntoken_env = "KM_TOKEN"\nbase_url = "{slack.base_url}"\n',
            "digest failed": (f'[email]\nenabled = true\nsmtp_host = "127.0.0.1"\nsmtp_port = {closed_port()}\n'
                              'security = "none"\nrecipients = ["a@example.org"]\ntimeout = 2\n'),
        }[case]
        with Store(tmp_path / "m.db") as store:  # a store that has seen a digest slot go by
            store.set_meta(EPOCH_META, "2000-01-01T00:00:00Z")
        code = main(["-c", config(tmp_path, feed_server.url("/feed.xml"), extra), "poll", "--once",
                     "--digest-if-due"])
    out, err = capsys.readouterr()
    attention = [ln for ln in err.splitlines() if ln.startswith("kling-monitor: error:")]
    if case == "fine":
        assert (code, attention) == (0, [])
    elif case == "parked":
        assert code == 3 and len(attention) == 1 and "alert(s) parked" in attention[0], err
    else:
        assert code == 3 and len(attention) == 1 and "digest failed" in attention[0], out + err
        assert "digest: failed" in out
