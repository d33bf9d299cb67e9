"""No secret reaches a log line, an error, a store row or a file, whatever transport fails and how."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from feedserver import FeedServer
from slackserver import Reply, SlackServer
from smtpserver import Inbox, free_port

from monitor import redact
from monitor.cli import setup_logging
from monitor.config import secret
from monitor.errors import DeliveryError
from monitor.notify import WebhookTransport

TOKEN = "xoxb-4242-SECRETtokenVALUE"
USER = "smtp-user-SECRET7"
PASSWORD = "smtp-pass-SECRET9"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once closed: connection refused


def webhook_url() -> str:
    return f"http://127.0.0.1:{closed_port()}/services/T0SECRETAA/B0SECRETBB/WebhookSecretValue42"


@pytest.fixture(autouse=True)
def _no_known_secrets() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def leaks(text: str, *secrets: str) -> list[str]:
    """Which secrets (or their distinctive SECRET part) show in `text`."""
    found = [s for s in secrets if s in text]
    return found + (["SECRET"] if "SECRET" in text and not found else [])


@pytest.mark.parametrize(("text", "masked"), [
    ("token xoxb-4242-SECRETtokenVALUE failed", "token [redacted] failed"),
    ("POST http://h/services/T0SECRETAA/B0SECRETBB/WebhookSecretValue42: refused", "POST http://h[redacted]: refused"),
    ("url=http%3A%2F%2Fh%2Fservices", "url=http%3A%2F%2Fh%2Fservices"),  # unrelated text stays
])
def test_scrub_masks_values_and_the_secret_part_of_urls(text: str, masked: str) -> None:
    redact.remember(TOKEN)
    redact.remember("https://hooks.example/services/T0SECRETAA/B0SECRETBB/WebhookSecretValue42")
    assert redact.scrub(text) == masked


def test_secret_read_from_a_file_is_masked_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    monkeypatch.setenv("KM_PW_FILE", str(tmp_path / "pw"))
    assert secret("KM_PW") == PASSWORD
    assert str(DeliveryError(f"smtp: login {PASSWORD} refused")) == "smtp: login [redacted] refused"


def test_a_failing_webhook_logs_no_url_whatever_the_library_log_level(capfd: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe's case: slack-sdk's retry handler logs the webhook URL at INFO."""
    url = webhook_url()
    monkeypatch.setenv("KM_WEBHOOK", url)
    setup_logging("DEBUG")
    transport = WebhookTransport(secret("KM_WEBHOOK") or "", timeout=2)
    with pytest.raises(OSError):  # urllib's URLError: connection refused, after slack_sdk's one retry
        transport.client.send(text="x")
    err = capfd.readouterr().err
    assert "A retry handler found" not in err  # slack_sdk is quieted to WARNING
    assert not leaks(err, url)
    # A library logging a secret at a level that passes is masked, not dropped.
    logging.getLogger("slack_sdk").setLevel(logging.DEBUG)
    try:
        with pytest.raises(OSError):
            transport.client.send(text="x")
    finally:
        logging.getLogger("slack_sdk").setLevel(logging.WARNING)
    err = capfd.readouterr().err
    assert "A retry handler found" in err and "[redacted]" in err
    assert not leaks(err, url)


def test_filter_masks_message_args_and_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO")
    redact.remember(TOKEN)
    log = logging.getLogger("some.library")
    log.warning("auth with %s failed", TOKEN)
    log.warning("headers: %(h)s", {"h": {"Authorization": f"Bearer {TOKEN}"}})
    try:
        raise RuntimeError(f"bad token {TOKEN}")
    except RuntimeError:
        log.exception("request failed")
    err = capfd.readouterr().err
    assert err.count("[redacted]") == 3 and "request failed" in err
    assert not leaks(err, TOKEN)


# ---------------------------------------------------------------- end to end


class RejectAll:
    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)


STORY = ("<item><title>Kling AI raises $2 billion at an $18 billion valuation</title>"
         "<link>https://news.example.com/kling-round</link><description>Kuaishou's video-generation unit Kling "
         "AI raised $2 billion at an $18 billion valuation, people familiar with the matter said.</description>"
         "<pubDate>Mon, 23 Nov 2026 08:00:00 +0000</pubDate></item>")


def _config(path: Path, feed_url: str, *, slack: str, smtp_port: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""
[store]
path = "{path.parent / 'm.db'}"
[fetch]
allow_private = true
max_entry_age = 0
full_text_for_matches = false
[console]
jsonl = "{path.parent / 'alerts.jsonl'}"
{slack}
[email]
enabled = true
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
security = "none"
username_env = "KM_SMTP_USER"
password_env = "KM_SMTP_PASSWORD"
recipients = ["a@example.org"]
timeout = 5
[digest]
send_empty = true
preview_dir = "{path.parent}"
[outbox]
base_delay = 0.0
[[feeds]]
name = "news"
url = "{feed_url}"
""", encoding="utf-8")
    return path


@pytest.mark.slow
def test_no_secret_in_output_store_or_files_when_every_transport_fails(feed_server: FeedServer,
                                                                        tmp_path: Path) -> None:
    feed_server.add("/news.xml", f'<?xml version="1.0"?><rss version="2.0"><channel><title>n</title>{STORY}'
                                 "</channel></rss>")
    webhook = webhook_url()
    keys = tmp_path / "keys"  # the password file is the one place the password may be
    keys.mkdir()
    (keys / "pw").write_text(PASSWORD)
    env = {**os.environ, "KM_SLACK_TOKEN": TOKEN, "KM_WEBHOOK": webhook, "KM_SMTP_USER": USER,
           "KM_SMTP_PASSWORD_FILE": str(keys / "pw")}
    env.pop("KM_SMTP_PASSWORD", None)
    work = tmp_path / "work"
    outputs: list[str] = []
    port = free_port()
    ctl = Controller(Inbox(), hostname="127.0.0.1", port=port, authenticator=RejectAll(), auth_require_tls=False)
    ctl.start()
    with SlackServer() as slack_server:
        slack_server.fail_always("chat.postMessage", Reply(500, {"ok": False, "error": "internal_error"}))
        token_cfg = _config(work / "token" / "m.toml", feed_server.url("/news.xml"), smtp_port=port, slack=(
            f'[slack]\nenabled = true\ntoken_env = "KM_SLACK_TOKEN"\nbase_url = "{slack_server.base_url}"'))
        hook_cfg = _config(work / "hook" / "m.toml", feed_server.url("/news.xml"), smtp_port=port,
                           slack='[slack]\nenabled = true\nwebhook_env = "KM_WEBHOOK"')
        try:
            for cfg, args in [(token_cfg, ["poll", "--once"]), (token_cfg, ["digest", "--send"]),
                              (hook_cfg, ["poll", "--once"]), (hook_cfg, ["outbox", "drain"])]:
                proc = subprocess.run([sys.executable, "-m", "monitor", "-c", str(cfg), "--log-level", "DEBUG",
                                       *args], capture_output=True, text=True, env=env, timeout=120, cwd=work)
                outputs.append(f"$ {args}\n{proc.stdout}\n{proc.stderr}")
        finally:
            ctl.stop()
        assert slack_server.calls("chat.postMessage"), "the Slack transport was never tried"
    everything = "\n".join(outputs)
    # Every transport did fail, and said so.
    assert "slack chat.postMessage" in everything and "slack webhook" in everything, everything
    assert "SMTPAuthenticationError" in everything, everything
    stored: list[str] = []
    for db in work.glob("*/m.db"):
        with sqlite3.connect(db) as conn:
            stored.extend(conn.iterdump())
    assert any("SMTPAuthenticationError" in line for line in stored)
    files = {p: p.read_bytes().decode("utf-8", "replace") for p in work.rglob("*") if p.is_file()}
    assert any(p.name == "alerts.jsonl" for p in files)
    for where, text in [("output", everything), ("store", "\n".join(stored)),
                        *((str(p), t) for p, t in files.items())]:
        assert not leaks(text, TOKEN, webhook, USER, PASSWORD), f"secret in {where}"


def test_loading_the_config_is_enough_for_its_secrets_to_be_masked(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.config import load_config

    for name, value in (("KM_T", TOKEN), ("KM_U", USER), ("KM_P", PASSWORD), ("KM_W", webhook_url())):
        monkeypatch.setenv(name, value)
    cfg = tmp_path / "m.toml"
    cfg.write_text('[slack]\ntoken_env = "KM_T"\nwebhook_env = "KM_W"\n'
                   '[email]\nusername_env = "KM_U"\npassword_env = "KM_P"\n', encoding="utf-8")
    setup_logging("INFO")
    load_config(cfg)  # nothing sends: slack and email are off
    logging.getLogger("any.library").warning("env: %s", {k: os.environ[k] for k in ("KM_T", "KM_U", "KM_P", "KM_W")})
    err = capfd.readouterr().err
    assert "env: {" in err and not leaks(err, TOKEN, USER, PASSWORD, os.environ["KM_W"])


def test_a_short_secret_is_masked_as_a_whole_word_only() -> None:
    from monitor import redact

    redact.forget_all()
    try:
        redact.remember("u")
        redact.remember("s3cr3t-password")
        assert redact.scrub("user u logged in; run; s3cr3t-password") == "user [redacted] logged in; run; [redacted]"
    finally:
        redact.forget_all()
