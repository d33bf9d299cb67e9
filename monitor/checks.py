"""Checks of a setup against the real services: `check-config --online` and `test-send`.

`online_checks` proves each enabled transport can authenticate (Slack `auth.test`, an SMTP
login) without posting anything; `test_send` posts one message that says it is a test. Both
use the transports' own clients and the secrets the config names; neither logs a secret.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from monitor import __version__
from monitor.config import Config, EmailConfig, SlackConfig, secret
from monitor.errors import ConfigError, DeliveryError

TEST_MARK = "[TEST]"
TEST_TEXT = (f"{TEST_MARK} kling-monitor test message: delivery works. This is not an alert; "
             "nothing happened at Kling or Kuaishou.")


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.name}: {'ok' if self.ok else 'FAILED'}: {self.detail}"


def online_checks(cfg: Config) -> list[CheckResult]:
    """Authenticate against every enabled transport; one result each (none when all are off)."""
    out: list[CheckResult] = []
    if cfg.slack.enabled:
        out.append(_check_slack(cfg.slack))
    if cfg.email.enabled:
        out.append(_check_smtp(cfg.email))
    return out


def _slack_client(s: SlackConfig) -> WebClient:
    token = secret(s.token_env)
    if not token:
        raise ConfigError(f"slack: bot token not set (environment variable {s.token_env})")
    if s.base_url:
        return WebClient(token=token, timeout=15, base_url=s.base_url.rstrip("/") + "/")
    return WebClient(token=token, timeout=15)


def _check_slack(s: SlackConfig) -> CheckResult:
    if s.webhook_env:
        ok = bool(secret(s.webhook_env))
        return CheckResult("slack", ok, "incoming webhook URL is set; a webhook cannot be checked without posting "
                                        "(use `kling-monitor test-send slack`)" if ok else
                           f"webhook URL not set (environment variable {s.webhook_env})")
    try:
        resp = _slack_client(s).auth_test()
    except ConfigError as exc:
        return CheckResult("slack", False, str(exc))
    except SlackApiError as exc:
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        return CheckResult("slack", False, f"auth.test: {data.get('error') or exc.response.status_code}")
    except (SlackClientError, OSError) as exc:
        return CheckResult("slack", False, f"auth.test: {type(exc).__name__}: {exc}")
    return CheckResult("slack", True, f"auth.test: signed in as {resp.get('user')} in {resp.get('team')}")


def _smtp_connect(e: EmailConfig) -> smtplib.SMTP:
    """The digest's SMTP session; a half-configured login is an error here, not a silent anonymous session."""
    user, password = secret(e.username_env), secret(e.password_env)
    if (e.username_env or e.password_env) and not (user and password):
        raise ConfigError(f"email: credentials not set (environment variables {e.username_env}, "
                          f"{e.password_env})")
    from monitor.digest import smtp_session

    return smtp_session(e)


def _check_smtp(e: EmailConfig) -> CheckResult:
    try:
        smtp = _smtp_connect(e)
        with smtp:
            smtp.noop()
    except ConfigError as exc:
        return CheckResult("email", False, str(exc))
    except smtplib.SMTPAuthenticationError as exc:
        return CheckResult("email", False, f"{e.smtp_host}:{e.smtp_port}: login refused ({exc.smtp_code})")
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return CheckResult("email", False, f"{e.smtp_host}:{e.smtp_port}: {type(exc).__name__}: {exc}")
    how = "logged in" if secret(e.username_env) else "connected (no credentials configured)"
    return CheckResult("email", True, f"{e.smtp_host}:{e.smtp_port} ({e.security}): {how}")


def send_test_message(cfg: Config, transport: str) -> str:
    """Post one clearly marked test message; return where it went. Raise on failure."""
    if transport == "slack":
        return _send_slack(cfg.slack)
    if transport == "email":
        return _send_email(cfg)
    raise ConfigError(f"test-send: unknown transport {transport!r} (slack or email)")


def _send_slack(s: SlackConfig) -> str:
    if not s.enabled:
        raise ConfigError("slack: not enabled in the config (slack.enabled = true)")
    if s.webhook_env:
        url = secret(s.webhook_env)
        if not url:
            raise ConfigError(f"slack: webhook URL not set (environment variable {s.webhook_env})")
        try:
            resp = WebhookClient(url, timeout=15).send(text=TEST_TEXT)
        except (SlackClientError, OSError) as exc:
            raise DeliveryError(f"slack webhook: {type(exc).__name__}: {exc}") from None
        if resp.status_code != 200:
            raise DeliveryError(f"slack webhook: HTTP {resp.status_code} {(resp.body or '')[:100]}")
        return "slack incoming webhook"
    try:
        _slack_client(s).chat_postMessage(channel=s.channel, text=TEST_TEXT, unfurl_links=False)
    except SlackApiError as exc:
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        raise DeliveryError(f"slack chat.postMessage: {data.get('error') or exc.response.status_code}") from None
    except (SlackClientError, OSError) as exc:
        raise DeliveryError(f"slack chat.postMessage: {type(exc).__name__}: {exc}") from None
    return f"slack {s.channel}"


def _send_email(cfg: Config) -> str:
    e = cfg.email
    if not e.enabled:
        raise ConfigError("email: not enabled in the config (email.enabled = true)")
    msg = EmailMessage()
    msg["Subject"] = f"{TEST_MARK} kling-monitor test message"
    msg["From"] = e.sender
    msg["To"] = ", ".join(e.recipients)
    msg["Message-ID"] = make_msgid(domain=e.sender.rpartition("@")[2] or "localhost")
    msg["X-Kling-Monitor"] = "test"
    msg.set_content(f"{TEST_TEXT}\n\nSent by kling-monitor {__version__} from {cfg.path or 'its config'}.\n")
    try:
        smtp = _smtp_connect(e)
        with smtp:
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"email {e.smtp_host}:{e.smtp_port}: {type(exc).__name__}: {exc}") from None
    return f"email to {', '.join(e.recipients)}"
