"""Typed configuration: TOML into frozen dataclasses, every default in one place.

Unknown keys are errors (a misspelt key must not be silently ignored), and every error
names the file and the key path (`feeds[3].intervl`). Secrets never live in the file: the
config names an environment variable (`token_env = "SLACK_BOT_TOKEN"`) and `secret()` reads it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import ConfigError
from monitor.match import WatchEntity, Watchlist, default_watchlist

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "monitor.toml"


@dataclass(frozen=True, slots=True)
class StoreConfig:
    path: str = "./data/monitor.db"
    retention_days: int = 180  # entries older than this lose their text; claims are kept


@dataclass(frozen=True, slots=True)
class FetchConfig:
    concurrency: int = 100
    per_host: int = 4
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 45.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    min_interval: int = 300  # seconds; adaptive intervals stay within these bounds
    max_interval: int = 6 * 3600
    max_backoff: int = 24 * 3600
    full_text_for_matches: bool = True  # fetch the article page when a matching entry is only a teaser
    parse_workers: int = -1  # processes parsing feeds: -1 auto (spare cores, big polls only), 0 never
    allow_private: bool = False  # fetch from loopback, private, link-local addresses (tests, intranets)
    # A relevant story's page is re-checked (conditional GET) this many seconds after it was first
    # seen, within recheck_window seconds; also whenever its feed entry changes.
    recheck_after: tuple[int, ...] = (900, 3600, 4 * 3600, 24 * 3600)
    recheck_window: int = 48 * 3600


@dataclass(frozen=True, slots=True)
class FeedConfig:
    url: str
    name: str
    interval: int = 900
    language: str | None = None
    full_text: bool = False
    tags: tuple[str, ...] = ()
    tier: str | None = None  # overrides the tier that [sources] would give
    allow_private: bool = False  # this feed's URL may resolve to a private or loopback address


@dataclass(frozen=True, slots=True)
class WatchEntityConfig:
    name: str
    aliases: tuple[str, ...]
    ambiguous: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WatchConfig:
    entities: tuple[WatchEntityConfig, ...] = ()
    context_words: tuple[str, ...] = ()
    cloud_providers: tuple[str, ...] = ()

    def watchlist(self) -> Watchlist:
        """The matcher's watchlist; empty sections fall back to the built-in defaults."""
        base = default_watchlist()
        return Watchlist(
            entities=tuple(WatchEntity(e.name, e.aliases, e.ambiguous) for e in self.entities) or base.entities,
            context_words=self.context_words or base.context_words,
            cloud_providers=self.cloud_providers or base.cloud_providers,
        )


@dataclass(frozen=True, slots=True)
class SourcesConfig:
    """Source tiers by host: a primary source settles a figure; major outlets outrank the rest."""

    primary: tuple[str, ...] = ("ir.kuaishou.com", "hkexnews.hk", "www1.hkexnews.hk")
    major: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LedgerConfig:
    tolerance: float = 0.05  # relative difference under which two figures agree
    conflict_factor: float = 5.0  # a claim this many times off the consensus is a conflict
    window: int = 20000  # stories kept in the clustering index (bounded memory and store)
    cluster_threshold: float = 0.5  # estimated Jaccard similarity for the same story


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    enabled: bool = True
    jsonl: str = "./data/alerts.jsonl"


@dataclass(frozen=True, slots=True)
class SlackRoute:
    channel: str
    types: tuple[str, ...] = ()  # empty: every announced type
    entities: tuple[str, ...] = ()  # empty: every entity
    min_severity: int = 1


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: str = "22:00"
    end: str = "07:00"
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class SlackConfig:
    enabled: bool = False
    token_env: str = "SLACK_BOT_TOKEN"
    webhook_env: str | None = None  # use an incoming webhook instead of a bot token
    base_url: str | None = None  # Slack Web API base URL (tests point it at a local server)
    channel: str = "#kling-monitor"
    routes: tuple[SlackRoute, ...] = ()
    min_severity: int = 2
    cooldown_minutes: int = 30  # per figure: later changes within it are threaded, not re-announced
    quiet_hours: QuietHours | None = None


@dataclass(frozen=True, slots=True)
class EmailConfig:
    enabled: bool = False
    smtp_host: str = "localhost"
    smtp_port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username_env: str | None = None
    password_env: str | None = None
    sender: str = "kling-monitor@localhost"
    recipients: tuple[str, ...] = ()
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class DigestConfig:
    time: str = "08:00"
    timezone: str = "UTC"
    send_empty: bool = False
    preview_dir: str = "./data"


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    max_attempts: int = 8
    base_delay: float = 30.0  # seconds; doubles per failure
    max_delay: float = 3600.0


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0  # 0: no HTTP endpoint
    drain_interval: int = 30
    housekeeping_hours: int = 24
    shutdown_deadline: float = 20.0
    jitter: int = 30


@dataclass(frozen=True, slots=True)
class Config:
    store: StoreConfig = field(default_factory=StoreConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    feeds: tuple[FeedConfig, ...] = ()
    watch: WatchConfig = field(default_factory=WatchConfig)
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    ledger: LedgerConfig = field(default_factory=LedgerConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    path: str = ""  # where it was loaded from; relative paths in it are relative to the working dir

    def feed(self, name: str) -> FeedConfig:
        for f in self.feeds:
            if f.name == name:
                return f
        raise ConfigError(f"config: no feed named {name!r}")


# ------------------------------------------------------------------- loading


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a TOML config; raise ConfigError naming the file and key."""
    p = Path(path) if path else Path(os.environ.get("KLING_MONITOR_CONFIG", DEFAULT_CONFIG))
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return config_from_dict(data, source=str(p))


def config_from_dict(data: dict[str, Any], *, source: str = "<config>") -> Config:
    cfg = _build(Config, {k: v for k, v in data.items()}, source, "")
    cfg = dataclasses.replace(cfg, path=source)
    _check(cfg, source)
    return cfg


def secret(env_name: str | None) -> str | None:
    """A secret from the environment variable the config names (or `<NAME>_FILE`, a path)."""
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if value:
        return value.strip()
    file_path = os.environ.get(f"{env_name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None
    return None


def _build(cls: type, data: Any, source: str, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where or 'top level'}: expected a table, got {_tname(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "path" or cls is not Config}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"{source}: {key}: unknown key (known: {', '.join(sorted(fields))})")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{source}: {key}: required key is missing")
            continue
        kwargs[name] = _convert(hints[name], data[name], source, key)
    return cls(**kwargs)


def _convert(tp: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(args[0], value, source, key)
    if origin is tuple:
        (item_tp, _ellipsis) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {key}: expected a list, got {_tname(value)}")
        return tuple(_convert(item_tp, v, source, f"{key}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, source, key)  # type: ignore[arg-type]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key}: expected true or false, got {_tname(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {key}: expected an integer, got {_tname(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {key}: expected a number, got {_tname(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {key}: expected a string, got {_tname(value)}")
        return value
    raise ConfigError(f"{source}: {key}: unsupported type")  # pragma: no cover - a bug in this module


def _tname(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_SECRET_LIKE = re.compile(r"^(xox[abposr]-|https://hooks\.slack\.com/)")


def _check(cfg: Config, source: str) -> None:
    """Cross-field checks that types alone cannot express."""

    def fail(key: str, msg: str) -> None:
        raise ConfigError(f"{source}: {key}: {msg}")

    names: set[str] = set()
    for i, f in enumerate(cfg.feeds):
        if not re.match(r"^https?://[^\s/]+", f.url):
            fail(f"feeds[{i}].url", f"must be an http(s) URL, got {f.url!r}")
        if not f.name.strip():
            fail(f"feeds[{i}].name", "must not be empty")
        if f.name in names:
            fail(f"feeds[{i}].name", f"duplicate feed name {f.name!r}")
        names.add(f.name)
        if f.interval < 60:
            fail(f"feeds[{i}].interval", "must be at least 60 seconds")
        if f.tier is not None and f.tier not in ("primary", "major", "other"):
            fail(f"feeds[{i}].tier", "must be primary, major or other")
    fc = cfg.fetch
    for key in ("concurrency", "per_host", "max_bytes", "max_redirects"):
        if getattr(fc, key) < 1:
            fail(f"fetch.{key}", "must be at least 1")
    if fc.parse_workers < -1:
        fail("fetch.parse_workers", "must be -1 (auto), 0 (in-process) or a number of processes")
    if fc.min_interval > fc.max_interval:
        fail("fetch.min_interval", "must not exceed fetch.max_interval")
    for key in ("connect_timeout", "read_timeout", "total_timeout"):
        if getattr(fc, key) <= 0:
            fail(f"fetch.{key}", "must be positive")
    for i, e in enumerate(cfg.watch.entities):
        if not e.aliases:
            fail(f"watch.entities[{i}].aliases", "must list at least one alias")
    _check_zone(cfg.digest.timezone, "digest.timezone", fail)
    if not _HHMM.match(cfg.digest.time):
        fail("digest.time", f"must be HH:MM (24h), got {cfg.digest.time!r}")
    if cfg.slack.quiet_hours is not None:
        q = cfg.slack.quiet_hours
        _check_zone(q.timezone, "slack.quiet_hours.timezone", fail)
        for k in ("start", "end"):
            if not _HHMM.match(getattr(q, k)):
                fail(f"slack.quiet_hours.{k}", "must be HH:MM (24h)")
    for k in ("token_env", "webhook_env"):
        v = getattr(cfg.slack, k)
        if v and _SECRET_LIKE.match(v):
            fail(f"slack.{k}", "looks like a secret: name an environment variable, never the secret itself")
    if cfg.email.security not in ("starttls", "tls", "none"):
        fail("email.security", "must be starttls, tls or none")
    if cfg.email.enabled and not cfg.email.recipients:
        fail("email.recipients", "must list at least one address when email is enabled")
    if cfg.ledger.conflict_factor <= 1:
        fail("ledger.conflict_factor", "must be greater than 1")
    if not 0 < cfg.ledger.cluster_threshold < 1:
        fail("ledger.cluster_threshold", "must be between 0 and 1")
    if cfg.outbox.max_attempts < 1:
        fail("outbox.max_attempts", "must be at least 1")


def _check_zone(name: str, key: str, fail: typing.Callable[[str, str], None]) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(key, f"unknown time zone {name!r}")
