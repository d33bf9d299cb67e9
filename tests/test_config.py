"""Config: the default is valid; every error names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import DEFAULT_CONFIG, load_config, secret
from monitor.errors import EXIT_CONFIG, ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "monitor.toml"
    p.write_text(text, encoding="utf-8")
    return p


FEED = '[[feeds]]\nname = "a"\nurl = "https://example.com/feed"\n'


def test_default_config_is_valid_and_has_search_feeds() -> None:
    cfg = load_config(DEFAULT_CONFIG)
    assert cfg.store.path == str(DEFAULT_CONFIG.parents[1] / "data" / "monitor.db")  # the repository's ./data
    names = [f.name for f in cfg.feeds]
    assert len(names) == len(set(names)) >= 8
    urls = " ".join(f.url for f in cfg.feeds)
    assert "news.google.com/rss/search" in urls and "bing.com/news/search" in urls
    assert {"zh", "en"} <= {f.language for f in cfg.feeds}
    assert not cfg.slack.enabled and not cfg.email.enabled and cfg.console.enabled


def test_unknown_key_names_its_path(tmp_path: Path) -> None:
    p = write(tmp_path, FEED + '[[feeds]]\nname = "b"\nurl = "https://example.com/b"\nintervl = 60\n')
    with pytest.raises(ConfigError, match=r"monitor\.toml: feeds\[1\]\.intervl: unknown key"):
        load_config(p)


def test_wrong_type_names_key_and_type(tmp_path: Path) -> None:
    p = write(tmp_path, '[fetch]\nconcurrency = "lots"\n')
    with pytest.raises(ConfigError, match=r"fetch\.concurrency: expected an integer, got a string"):
        load_config(p)


def test_missing_required_key(tmp_path: Path) -> None:
    p = write(tmp_path, '[[feeds]]\nname = "a"\n')
    with pytest.raises(ConfigError, match=r"feeds\[0\]\.url: required key is missing"):
        load_config(p)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[digest]\ntimezone = "Mars/Olympus"\n', r"digest\.timezone: unknown time zone"),
        ('[digest]\ntime = "8am"\n', r"digest\.time: must be HH:MM"),
        ('[slack]\ntoken_env = "xoxb-123-456"\n', r"slack\.token_env: looks like a secret"),
        (FEED + FEED, r"feeds\[1\]\.name: duplicate feed name 'a'"),
        ('[[feeds]]\nname = "a"\nurl = "ftp://x/y"\n', r"feeds\[0\]\.url: must be an http\(s\) URL"),
        ('[email]\nenabled = true\n', r"email\.recipients: must list at least one address"),
        ('[fetch]\nmin_interval = 900\nmax_interval = 60\n', r"fetch\.min_interval: must not exceed"),
        ('[fetch]\nrecheck_after = [900, 0]\n', r"fetch\.recheck_after: each re-check delay must be at least 60"),
        ('[fetch]\nrecheck_window = -1\n', r"fetch\.recheck_window: must be 0"),
        ("[store\npath = 1", r"not valid TOML"),
        ("watch = 3\n", r"watch: expected a table, got an integer"),
        ('[[watch.entities]]\nname = "K"\naliases = ["K"]\nipo = "Feb 2021"\n',
         r"watch\.entities\[0\]\.ipo: must be a month, YYYY-MM, got 'Feb 2021'"),
    ],
)
def test_invalid_values_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read config"):
        load_config(tmp_path / "nope.toml")


def test_check_config_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(DEFAULT_CONFIG), "check-config"]) == 0
    assert "ok" in capsys.readouterr().out
    bad = write(tmp_path, '[slack]\nchanel = "#x"\n')
    assert main(["-c", str(bad), "check-config"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert str(bad) in err and "slack.chanel: unknown key" in err


def test_secrets_come_from_the_environment_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KM_TEST_TOKEN", raising=False)
    monkeypatch.delenv("KM_TEST_TOKEN_FILE", raising=False)
    assert secret("KM_TEST_TOKEN") is None
    f = tmp_path / "token"
    f.write_text("from-file\n")
    monkeypatch.setenv("KM_TEST_TOKEN_FILE", str(f))
    assert secret("KM_TEST_TOKEN") == "from-file"
    monkeypatch.setenv("KM_TEST_TOKEN", "from-env")
    assert secret("KM_TEST_TOKEN") == "from-env"
    assert secret(None) is None


def test_watch_section_builds_the_watchlist(tmp_path: Path) -> None:
    p = write(tmp_path, '[[watch.entities]]\nname = "Kling"\naliases = ["Kling AI", "可灵"]\nipo = "2027-03"\n')
    wl = load_config(p).watch.watchlist()
    assert [(e.name, e.aliases, e.ipo) for e in wl.entities] == [("Kling", ("Kling AI", "可灵"), "2027-03")]
    assert wl.cloud_providers  # falls back to the built-in provider list


def test_default_config_watchlist_is_the_built_in_one() -> None:
    from monitor.match import default_watchlist

    assert load_config(DEFAULT_CONFIG).watch.watchlist() == default_watchlist()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[fetch]\ntotal_timeout = inf\n", r"fetch\.total_timeout: must be a finite number, got inf"),
        ("[fetch]\nread_timeout = nan\n", r"fetch\.read_timeout: must be a finite number, got nan"),
        ("[outbox]\nbase_delay = -inf\n", r"outbox\.base_delay: must be a finite number, got -inf"),
        ("[fetch]\ntotal_timeout = 1e12\n", r"fetch\.total_timeout: must be between 0 and 3600, got 1000000000000$"),
        ("[fetch]\nconcurrency = 1000000000\n", r"fetch\.concurrency: must be between 1 and 10000"),
        ("[store]\nretention_days = -5\n", r"store\.retention_days: must be between 1 and 36500, got -5"),
        ('[[feeds]]\nname = "a"\nurl = "https://e.com/f"\ninterval = 99999999999\n',
         r"feeds\[0\]\.interval: must be between 60 and 2592000"),
        ("[email]\nsmtp_port = 70000\n", r"email\.smtp_port: must be between 1 and 65535"),
        ('[[slack.routes]]\nchannel = "#x"\nmin_severity = 9\n', r"slack\.routes\[0\]\.min_severity: must be between 1 and 3"),
        ("[daemon]\nhousekeeping_hours = 0\n", r"daemon\.housekeeping_hours: must be between 1 and 8784"),
    ],
)
def test_non_finite_and_absurd_numbers_are_rejected_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_check_config_and_poll_reject_an_infinite_timeout_in_one_line(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The probe's case: `total_timeout = inf` made `poll --once` die with an OverflowError traceback."""
    p = write(tmp_path, f'[store]\npath = "{tmp_path}/m.db"\n[fetch]\ntotal_timeout = inf\n' + FEED)
    for command in (["check-config"], ["poll", "--once"]):
        assert main(["-c", str(p), *command]) == EXIT_CONFIG
        err = capsys.readouterr().err
        assert err.strip() == f"kling-monitor: error: {p}: fetch.total_timeout: must be a finite number, got inf"
