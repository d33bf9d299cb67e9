"""Where things live and whether a setup works: config look-up, `init`, all errors at once, secrets,
`check-config --online` and `test-send` against the local Slack and SMTP servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from slackserver import TOKEN, SlackServer
from smtpserver import Inbox, free_port

from monitor.checks import TEST_MARK
from monitor.cli import main
from monitor.config import find_config, load_config, search_path
from monitor.errors import EXIT_CONFIG, ConfigError

FEED = '[[feeds]]\nname = "a"\nurl = "https://example.com/feed"\n'


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder with its own XDG folders and no config in the environment."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.delenv("KLING_MONITOR_CONFIG", raising=False)
    for var in ("SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "KLING_SMTP_USER", "KLING_SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- look-up order


def test_look_up_order(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system, user = search_path()[2], home / "xdg-config" / "kling-monitor" / "monitor.toml"
    assert search_path() == [Path("config/monitor.toml"), user, system]
    if not system.exists():
        with pytest.raises(ConfigError, match="kling-monitor init"):
            find_config()
    write(user, FEED)
    assert find_config() == user
    local = write(home / "work" / "config" / "monitor.toml", FEED)
    assert find_config().resolve() == local
    env = write(home / "env.toml", FEED)
    monkeypatch.setenv("KLING_MONITOR_CONFIG", str(env))
    assert find_config() == env
    assert find_config(str(home / "explicit.toml")) == home / "explicit.toml"


def test_relative_paths_resolve_against_the_config_folder(home: Path) -> None:
    cfg_path = write(home / "etc" / "m.toml", '[store]\npath = "state/m.db"\n[console]\njsonl = "~/alerts.jsonl"\n')
    cfg = load_config(cfg_path)
    assert cfg.store.path == str(home / "etc" / "state" / "m.db")
    assert cfg.digest.preview_dir == str(home / "etc" / "data")  # a default is relative to the file too
    assert cfg.console.jsonl == os.path.expanduser("~/alerts.jsonl")


def test_init_writes_a_valid_commented_starter_and_refuses_to_overwrite(home: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 0
    target = home / "xdg-config" / "kling-monitor" / "monitor.toml"
    assert str(target) in capsys.readouterr().out
    text = target.read_text(encoding="utf-8")
    assert text.count("\n#") >= 5  # commented
    cfg = load_config(find_config())
    assert cfg.store.path == str(home / "xdg-state" / "kling-monitor" / "monitor.db")
    assert cfg.console.jsonl.startswith(str(home / "xdg-state" / "kling-monitor"))
    assert cfg.feeds and not cfg.slack.enabled
    assert main(["init"]) == EXIT_CONFIG
    assert "already exists" in capsys.readouterr().err
    assert main(["init", "--force"]) == 0
    assert main(["check-config"]) == 0  # found at the user location
    assert "xdg-config" in capsys.readouterr().out
    assert not (home / "work" / "data").exists()  # nothing created in the working folder


def test_starter_keys_are_all_documented_keys() -> None:
    import tomllib

    from test_cli import config_keys

    from monitor.config import DEFAULT_CONFIG
    from monitor.starter import starter_text

    starter = config_keys(tomllib.loads(starter_text(Path("/var/lib/x"))))
    reference = config_keys(tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8")))
    assert starter - reference <= {"feeds[].title", "feeds[].folder"}


# ---------------------------------------------------------------- every error in one run


def test_check_config_reports_every_error_in_one_run(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(home / "bad.toml", FEED + FEED.replace('"a"', '"a"') + 'interval = 5\n'
                '[fetch]\nconcurrency = "lots"\n[slack]\nchanel = "#x"\n[digest]\ntime = "8am"\n')
    assert main(["-c", str(bad), "check-config"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    for expected in ("feeds[1].name: duplicate feed name 'a'", "feeds[1].interval: must be at least 60",
                     "fetch.concurrency: expected an integer", "slack.chanel: unknown key",
                     "digest.time: must be HH:MM"):
        assert f"kling-monitor: error: {bad}: {expected}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("section", "env", "message"),
    [
        ('[slack]\nenabled = true\n', {}, "slack.token_env: slack is enabled but its bot token is not set "
                                          "(environment variable SLACK_BOT_TOKEN"),
        ('[slack]\nenabled = true\nwebhook_env = "SLACK_WEBHOOK_URL"\n', {},
         "slack.webhook_env: slack is enabled but its webhook URL is not set"),
        ('[email]\nenabled = true\nrecipients = ["a@example.org"]\nusername_env = "KLING_SMTP_USER"\n'
         'password_env = "KLING_SMTP_PASSWORD"\n', {"KLING_SMTP_USER": "u"},
         "email.password_env: email is enabled but KLING_SMTP_PASSWORD is not set"),
    ],
)
def test_check_config_wants_each_enabled_transports_secret(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str], section: str,
                                                           env: dict[str, str], message: str) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cfg = write(home / "m.toml", section)
    assert main(["-c", str(cfg), "check-config"]) == EXIT_CONFIG
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------- online checks and test messages


@pytest.fixture
def slack(home: Path) -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


def slack_config(home: Path, slack: SlackServer, extra: str = "") -> Path:
    return write(home / "slack.toml", f'[slack]\nenabled = true\nbase_url = "{slack.base_url}"\n'
                                      f'channel = "#alerts"\n{extra}')


def test_check_config_online_calls_slack_auth_test(home: Path, slack: SlackServer, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    cfg = slack_config(home, slack)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    assert main(["-c", str(cfg), "check-config", "--online"]) == 0
    assert "slack: ok: auth.test: signed in as kling-monitor" in capsys.readouterr().out
    assert len(slack.calls("auth.test")) == 1 and not slack.messages
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
    assert main(["-c", str(cfg), "check-config", "--online"]) == EXIT_CONFIG
    out = capsys.readouterr()
    assert "slack: FAILED: auth.test: invalid_auth" in out.out
    assert "xoxb-wrong" not in out.out + out.err


def test_test_send_slack_posts_one_marked_message(home: Path, slack: SlackServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = slack_config(home, slack)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    assert main(["-c", str(cfg), "test-send", "slack"]) == 0
    assert len(slack.messages) == 1
    assert slack.messages[0].text.startswith(TEST_MARK) and slack.messages[0].channel == slack.channel_id("#alerts")


def test_test_send_slack_webhook(home: Path, slack: SlackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = slack_config(home, slack, 'webhook_env = "SLACK_WEBHOOK_URL"\n')
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.webhook_url)
    assert main(["-c", str(cfg), "test-send", "slack"]) == 0
    assert [m["text"][:6] for m in slack.webhook_messages] == [TEST_MARK]


def test_test_send_without_token_is_a_config_error(home: Path, slack: SlackServer,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(slack_config(home, slack)), "test-send", "slack"]) == EXIT_CONFIG
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err
    assert not slack.requests


class _Auth:
    """Accepts one user and password (aiosmtpd authenticator)."""

    def __call__(self, server: object, session: object, envelope: object, mechanism: str, auth_data: object) -> object:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"u", b"pw")
        return AuthResult(success=ok)


@pytest.fixture
def smtp_auth() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_Auth(), auth_require_tls=False)
    ctl.start()
    try:
        yield inbox, port
    finally:
        ctl.stop()


def email_config(home: Path, port: int) -> Path:
    return write(home / "email.toml", f'[email]\nenabled = true\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
                                      'security = "none"\nusername_env = "KLING_SMTP_USER"\n'
                                      'password_env = "KLING_SMTP_PASSWORD"\nsender = "m@example.org"\n'
                                      'recipients = ["team@example.org"]\ntimeout = 5\n')


def test_check_config_online_logs_in_to_smtp_and_test_send_email(home: Path, smtp_auth: tuple[Inbox, int],
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    inbox, port = smtp_auth
    cfg = email_config(home, port)
    monkeypatch.setenv("KLING_SMTP_USER", "u")
    monkeypatch.setenv("KLING_SMTP_PASSWORD", "wrong")
    assert main(["-c", str(cfg), "check-config", "--online"]) == EXIT_CONFIG
    assert "email: FAILED" in capsys.readouterr().out and not inbox.messages
    monkeypatch.setenv("KLING_SMTP_PASSWORD", "pw")
    assert main(["-c", str(cfg), "check-config", "--online"]) == 0
    assert "email: ok: 127.0.0.1" in capsys.readouterr().out and not inbox.messages
    assert main(["-c", str(cfg), "test-send", "email"]) == 0
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert msg["Subject"].startswith(TEST_MARK) and msg["To"] == "team@example.org"


def test_poll_with_a_missing_or_rejected_token_exits_non_zero(home: Path, slack: SlackServer, feed_server: object,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.errors import EXIT_ATTENTION

    cfg = write(home / "p.toml", f'[store]\npath = "m.db"\n[console]\nenabled = false\n'
                                 f'[slack]\nenabled = true\nbase_url = "{slack.base_url}"\nmin_severity = 1\n'
                                 '[fetch]\nallow_private = true\n')
    assert main(["-c", str(cfg), "poll", "--once"]) == EXIT_CONFIG
    assert "slack.token_env: slack is enabled but its bot token is not set" in capsys.readouterr().err
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
    _queue_one_alert(home / "m.db")
    assert main(["-c", str(cfg), "poll", "--once"]) == EXIT_ATTENTION
    err = capsys.readouterr().err
    assert "1 alert(s) parked (slack chat.postMessage: invalid_auth)" in err
    assert "xoxb-revoked" not in err


def _queue_one_alert(db: Path) -> None:
    from datetime import UTC, datetime

    from monitor.config import Config, ConsoleConfig, SlackConfig
    from monitor.models import Event
    from monitor.notify import enqueue
    from monitor.store import Store

    ev = Event(key="k1", type="new_figure", subject="Kling", kind="round_size", rule="test", severity=3,
               fact={"kind": "round_size", "subject": "Kling", "value": 1e9, "unit": "USD"})
    cfg = Config(console=ConsoleConfig(enabled=False), slack=SlackConfig(enabled=True, min_severity=1))
    now = datetime.now(UTC)
    with Store(db) as store:  # as the pipeline does: the event is recorded, the outbox refers to it
        store.insert_event(key=ev.key, type=ev.type, subject=ev.subject, kind=ev.kind, severity=ev.severity,
                           payload=ev.to_dict(), doc=None, created=now)
        assert enqueue(store, [ev], cfg, now=now) == 1


def test_poll_digest_if_due_exits_non_zero_when_the_digest_failed(home: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime, timedelta

    from monitor.digest import EPOCH_META
    from monitor.errors import EXIT_ATTENTION
    from monitor.store import Store, iso

    closed = free_port()  # nothing listens there: the SMTP connection is refused
    cfg = write(home / "d.toml", f'[store]\npath = "m.db"\n[email]\nenabled = true\nsmtp_host = "127.0.0.1"\n'
                                 f'smtp_port = {closed}\nsecurity = "none"\nrecipients = ["t@example.org"]\n'
                                 'timeout = 2\n[digest]\nsend_empty = true\n')
    with Store(home / "m.db") as store:  # the scheduler has been running for two days: a digest is due
        store.set_meta(EPOCH_META, iso(datetime.now(UTC) - timedelta(days=2)) or "")
    assert main(["-c", str(cfg), "poll", "--digest-if-due"]) == EXIT_ATTENTION
    captured = capsys.readouterr()
    assert "digest: failed: ConnectionRefusedError" in captured.out
    assert "kling-monitor: error: digest failed: ConnectionRefusedError" in captured.err
    assert main(["-c", str(cfg), "status"]) == EXIT_ATTENTION
    assert capsys.readouterr().out.startswith("NEEDS ATTENTION:\n  ! last digest failed: ConnectionRefusedError")
