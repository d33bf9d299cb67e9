"""The digest over STARTTLS and implicit TLS, with SMTP AUTH, against aiosmtpd with a test CA."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from smtpserver import Inbox, free_port

from monitor.config import Config, DigestConfig, EmailConfig
from monitor.digest import send_now
from monitor.store import Store


class Auth:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"digest-bot", b"s3cret")
        if isinstance(data, LoginPassword):
            self.seen.append((data.login.decode(), mechanism))
        return AuthResult(success=ok)


@pytest.fixture
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    authority = trustme.CA()
    pem = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))  # the client's default context trusts the test CA
    monkeypatch.setenv("KM_SMTP_USER", "digest-bot")
    monkeypatch.setenv("KM_SMTP_PASSWORD", "s3cret")
    return authority


def server_context(authority: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


def run(controller: Controller) -> Iterator[None]:
    controller.start()
    try:
        yield
    finally:
        controller.stop()


def cfg(port: int, security: str) -> Config:
    return Config(email=EmailConfig(enabled=True, smtp_host="127.0.0.1", smtp_port=port, security=security,
                                    username_env="KM_SMTP_USER", password_env="KM_SMTP_PASSWORD",
                                    sender="monitor@example.org", recipients=("a@example.org",), timeout=5),
                  digest=DigestConfig(time="08:00", timezone="UTC", send_empty=True))


NOW = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)


def test_starttls_with_auth(ca: trustme.CA, tmp_path: Path) -> None:
    inbox, auth, port = Inbox(), Auth(), free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_context(ca),
                     require_starttls=True, authenticator=auth, auth_require_tls=True)
    for _ in run(ctl):
        with Store(tmp_path / "m.db") as store:
            assert send_now(store, cfg(port, "starttls"), now=NOW) == "sent"
    assert len(inbox.messages) == 1 and auth.seen and auth.seen[0][0] == "digest-bot"


def test_implicit_tls_with_auth(ca: trustme.CA, tmp_path: Path) -> None:
    inbox, auth, port = Inbox(), Auth(), free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_context(ca),
                     authenticator=auth, auth_require_tls=False)
    for _ in run(ctl):
        with Store(tmp_path / "m.db") as store:
            assert send_now(store, cfg(port, "tls"), now=NOW) == "sent"
    assert len(inbox.messages) == 1 and auth.seen[0][0] == "digest-bot"


def test_untrusted_certificate_is_refused_and_nothing_is_sent(ca: trustme.CA, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
    inbox, port = Inbox(), free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_context(ca),
                     require_starttls=True)
    for _ in run(ctl):
        with Store(tmp_path / "m.db") as store:
            result = send_now(store, cfg(port, "starttls"), now=NOW)
            assert result.startswith("failed") and "CERTIFICATE_VERIFY_FAILED" in result
            later = send_now(store, cfg(port, "starttls"), now=NOW + timedelta(minutes=1))
            assert later.startswith("failed")
    assert inbox.messages == []


def test_plain_text_auth_under_security_none_is_warned_about(ca: trustme.CA, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    inbox, auth, port = Inbox(), Auth(), free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=auth, auth_require_tls=False)
    caplog.set_level(logging.WARNING, logger="monitor.digest")
    for _ in run(ctl):
        with Store(tmp_path / "m.db") as store:
            assert send_now(store, cfg(port, "none"), now=NOW) == "sent"
    assert len(inbox.messages) == 1
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "monitor.digest"]
    assert "plain-text SMTP AUTH" in warning and f"127.0.0.1:{port}" in warning
    assert "s3cret" not in warning


def test_no_warning_without_credentials(ca: trustme.CA, tmp_path: Path, smtp: tuple[Inbox, int],
                                                    caplog: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KM_SMTP_PASSWORD")
    inbox, port = smtp
    caplog.set_level(logging.WARNING, logger="monitor.digest")
    with Store(tmp_path / "m.db") as store:
        assert send_now(store, cfg(port, "none"), now=NOW) == "sent"
    assert len(inbox.messages) == 1
    assert not [r for r in caplog.records if r.name == "monitor.digest"]
