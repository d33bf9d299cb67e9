"""Typed configuration: TOML into frozen dataclasses, every default in one place.

Unknown keys are errors (a misspelt key must not be silently ignored), and every error
names the file and the key path (`feeds[3].intervl`); one load reports all of them at once.
Secrets never live in the file: the config names an environment variable
(`token_env = "SLACK_BOT_TOKEN"`) and `secret()` reads it.

Where the config is found (`find_config`): `-c`, `$KLING_MONITOR_CONFIG`, `./config/monitor.toml`,
`$XDG_CONFIG_HOME/kling-monitor/monitor.toml`, `/etc/kling-monitor/monitor.toml`. Relative paths
inside a config file are relative to that file's folder, so a command gives the same store from
any working directory.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor import redact
from monitor.errors import ConfigError

if typing.TYPE_CHECKING:
    from monitor.match import Watchlist  # the matcher compiles its rules on import: loaded when first needed

# The repository's documented reference config (absent from an installed wheel).
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "monitor.toml"
CONFIG_ENV = "KLING_MONITOR_CONFIG"
APP_DIR = "kling-monitor"
SYSTEM_CONFIG = Path("/etc") / APP_DIR / "monitor.toml"


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
    # Entries older than this (seconds), and a new feed's backlog, are understood silently: 0 alerts on all.
    max_entry_age: int = 3 * 24 * 3600
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
    title: str | None = None  # the display title (as a feed reader shows it); name is the short key
    folder: str | None = None  # a feed reader's folder, "/" between nested folders (OPML outlines)
    html_url: str | None = None  # the site the feed belongs to (OPML htmlUrl)


@dataclass(frozen=True, slots=True)
class WatchEntityConfig:
    name: str
    aliases: tuple[str, ...]
    ambiguous: tuple[str, ...] = ()
    ipo: str | None = None  # "YYYY-MM", the month the company listed


@dataclass(frozen=True, slots=True)
class WatchConfig:
    entities: tuple[WatchEntityConfig, ...] = ()
    context_words: tuple[str, ...] = ()
    cloud_providers: tuple[str, ...] = ()

    def watchlist(self) -> Watchlist:
        """The matcher's watchlist; empty sections fall back to the built-in defaults."""
        from monitor.match import WatchEntity, Watchlist, default_watchlist

        base = default_watchlist()
        return Watchlist(
            entities=tuple(WatchEntity(e.name, e.aliases, e.ambiguous, e.ipo) for e in self.entities) or base.entities,
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
    path: str = ""  # where it was loaded from; relative paths in it were resolved against its folder

    def feed(self, name: str) -> FeedConfig:
        for f in self.feeds:
            if f.name == name:
                return f
        raise ConfigError(f"config: no feed named {name!r}")


# ------------------------------------------------------------------- where things live


def xdg_config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def xdg_state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")


def user_config_path() -> Path:
    """Where `kling-monitor init` writes the starter config."""
    return xdg_config_home() / APP_DIR / "monitor.toml"


def user_state_dir() -> Path:
    """Where the starter config keeps the store, the alerts file and digest previews."""
    return xdg_state_home() / APP_DIR


def search_path() -> list[Path]:
    """The files looked for, in order, when neither -c nor $KLING_MONITOR_CONFIG names one."""
    return [Path("config") / "monitor.toml", user_config_path(), SYSTEM_CONFIG]


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: -c, then $KLING_MONITOR_CONFIG, then the first file of search_path()."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    for candidate in search_path():
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in search_path())
    raise ConfigError(f"no config file: none given (-c, ${CONFIG_ENV}) and none found in {looked}; "
                      "`kling-monitor init` writes a starter config")


# ------------------------------------------------------------------- loading

_BAD: Any = object()  # a value that failed to convert; its error is already recorded


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a TOML config; raise ConfigError naming the file and key of every error."""
    p = find_config(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    cfg = config_from_dict(data, source=str(p))
    cfg = resolve_paths(cfg, p.parent)
    remember_secrets(cfg)
    return cfg


def resolve_paths(cfg: Config, base: Path) -> Config:
    """Relative file paths in a config are relative to the config file's folder (`~` expanded)."""

    def at(value: str) -> str:
        if not value or value == ":memory:":
            return value
        return os.path.normpath(base.absolute() / Path(value).expanduser())

    return dataclasses.replace(
        cfg,
        store=dataclasses.replace(cfg.store, path=at(cfg.store.path)),
        console=dataclasses.replace(cfg.console, jsonl=at(cfg.console.jsonl)),
        digest=dataclasses.replace(cfg.digest, preview_dir=at(cfg.digest.preview_dir)),
    )


def remember_secrets(cfg: Config) -> None:
    """Read every secret the config names now, so that logs mask them before any transport runs."""
    for env_name in (cfg.slack.token_env, cfg.slack.webhook_env, cfg.email.username_env, cfg.email.password_env):
        secret(env_name)


def config_from_dict(data: dict[str, Any], *, source: str = "<config>") -> Config:
    errors: list[str] = []
    cfg = _build(Config, {k: v for k, v in data.items()}, source, "", errors)
    if cfg is _BAD:
        cfg = Config()
    cfg = dataclasses.replace(cfg, path=source)
    _check(cfg, source, errors)
    if errors:
        raise ConfigError("\n".join(errors))
    return cfg


def secret(env_name: str | None) -> str | None:
    """A secret from the environment variable the config names (or `<NAME>_FILE`, a path)."""
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if value:
        redact.remember(value)  # from now on no log line, error or store row can show it
        return value.strip()
    file_path = os.environ.get(f"{env_name}_FILE")
    if file_path:
        try:
            value = Path(file_path).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        redact.remember(value)
        return value or None
    return None


def missing_secrets(cfg: Config) -> list[str]:
    """One line per enabled transport whose secret is not set (the key and the variable named)."""
    out: list[str] = []
    s = cfg.slack
    if s.enabled:
        key, env = ("slack.webhook_env", s.webhook_env) if s.webhook_env else ("slack.token_env", s.token_env)
        what = "webhook URL" if s.webhook_env else "bot token"
        if not secret(env):
            out.append(f"{cfg.path}: {key}: slack is enabled but its {what} is not set "
                       f"(environment variable {env} or {env}_FILE)")
    e = cfg.email
    if e.enabled:
        for key in ("username_env", "password_env"):
            env = getattr(e, key)
            if env and not secret(env):
                out.append(f"{cfg.path}: email.{key}: email is enabled but {env} is not set "
                           f"(environment variable {env} or {env}_FILE)")
    return out


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """Once per class, not once per [[feeds]] table: resolving them is most of loading 1,000 feeds."""
    return typing.get_type_hints(cls)


def _build(cls: type, data: Any, source: str, where: str, errors: list[str]) -> Any:
    if not isinstance(data, dict):
        errors.append(f"{source}: {where or 'top level'}: expected a table, got {_tname(data)}")
        return _BAD
    hints = _type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "path" or cls is not Config}
    for name in sorted(set(data) - set(fields)):
        key = f"{where}.{name}" if where else name
        errors.append(f"{source}: {key}: unknown key (known: {', '.join(sorted(fields))})")
    kwargs: dict[str, Any] = {}
    complete = True
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                errors.append(f"{source}: {key}: required key is missing")
                complete = False
            continue
        value = _convert(hints[name], data[name], source, key, errors)
        if value is _BAD:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                complete = False
            continue  # the default stands in, so the checks after this still run
        kwargs[name] = value
    return cls(**kwargs) if complete else _BAD


def _convert(tp: Any, value: Any, source: str, key: str, errors: list[str]) -> Any:
    def bad(msg: str) -> Any:
        errors.append(f"{source}: {key}: {msg}")
        return _BAD

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(args[0], value, source, key, errors)
    if origin is tuple:
        (item_tp, _ellipsis) = typing.get_args(tp)
        if not isinstance(value, list):
            return bad(f"expected a list, got {_tname(value)}")
        items = [_convert(item_tp, v, source, f"{key}[{i}]", errors) for i, v in enumerate(value)]
        return tuple(v for v in items if v is not _BAD)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, source, key, errors)  # type: ignore[arg-type]
    if tp is bool:
        return value if isinstance(value, bool) else bad(f"expected true or false, got {_tname(value)}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return bad(f"expected an integer, got {_tname(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return bad(f"expected a number, got {_tname(value)}")
        if not math.isfinite(value):  # TOML allows inf and nan; no setting means either
            return bad(f"must be a finite number, got {value}")
        return float(value)
    if tp is str:
        return value if isinstance(value, str) else bad(f"expected a string, got {_tname(value)}")
    return bad("unsupported type")  # pragma: no cover - a bug in this module


def _tname(value: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_SECRET_LIKE = re.compile(r"^(xox[abposr]-|https://hooks\.slack\.com/)")


def _check(cfg: Config, source: str, errors: list[str]) -> None:
    """Cross-field checks that types alone cannot express; every failure is recorded, none stops."""

    def fail(key: str, msg: str) -> None:
        errors.append(f"{source}: {key}: {msg}")

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
    if fc.max_entry_age < 0:
        fail("fetch.max_entry_age", "must be 0 (every entry may alert) or a number of seconds")
    if fc.parse_workers < -1:
        fail("fetch.parse_workers", "must be -1 (auto), 0 (in-process) or a number of processes")
    if any(d < 60 for d in fc.recheck_after):
        fail("fetch.recheck_after", "each re-check delay must be at least 60 seconds")
    if fc.recheck_window < 0:
        fail("fetch.recheck_window", "must be 0 (no scheduled re-checks) or a number of seconds")
    if fc.min_interval > fc.max_interval:
        fail("fetch.min_interval", "must not exceed fetch.max_interval")
    for key in ("connect_timeout", "read_timeout", "total_timeout"):
        if getattr(fc, key) <= 0:
            fail(f"fetch.{key}", "must be positive")
    for i, e in enumerate(cfg.watch.entities):
        if not e.aliases:
            fail(f"watch.entities[{i}].aliases", "must list at least one alias")
        if e.ipo is not None and not re.fullmatch(r"(?:19|20)\d\d-(?:0[1-9]|1[0-2])", e.ipo):
            fail(f"watch.entities[{i}].ipo", f"must be a month, YYYY-MM, got {e.ipo!r}")
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
    _check_ranges(cfg, fail)


DAY = 86400
# Sane bounds for the numbers: a typo (an extra zero, a negative) fails here, naming the key,
# rather than as an OverflowError or a feed polled every second. "feeds[]." applies to every feed.
_RANGES: dict[str, tuple[float, float]] = {
    "store.retention_days": (1, 36500),
    "fetch.concurrency": (1, 10000),
    "fetch.per_host": (1, 1000),
    "fetch.connect_timeout": (0, 3600),
    "fetch.read_timeout": (0, 3600),
    "fetch.total_timeout": (0, 3600),
    "fetch.max_bytes": (1, 1 << 30),
    "fetch.max_redirects": (1, 50),
    "fetch.min_interval": (60, 30 * DAY),
    "fetch.max_interval": (60, 30 * DAY),
    "fetch.max_backoff": (60, 30 * DAY),
    "fetch.parse_workers": (-1, 256),
    "feeds[].interval": (60, 30 * DAY),
    "ledger.tolerance": (0, 1),
    "ledger.conflict_factor": (1, 1e6),
    "ledger.window": (1, 10_000_000),
    "slack.min_severity": (1, 3),
    "slack.cooldown_minutes": (0, 7 * 24 * 60),
    "slack.routes[].min_severity": (1, 3),
    "email.smtp_port": (1, 65535),
    "email.timeout": (0.1, 3600),
    "outbox.max_attempts": (1, 1000),
    "outbox.base_delay": (0, 30 * DAY),
    "outbox.max_delay": (0, 30 * DAY),
    "daemon.metrics_port": (0, 65535),
    "daemon.drain_interval": (1, DAY),
    "daemon.housekeeping_hours": (1, 366 * 24),
    "daemon.shutdown_deadline": (0.1, 3600),
    "daemon.jitter": (0, 3600),
}


def _check_ranges(cfg: Config, fail: typing.Callable[[str, str], None]) -> None:
    for path, (lo, hi) in _RANGES.items():
        for key, value in _values_at(cfg, path):
            if not lo <= value <= hi:
                fail(key, f"must be between {_num(lo)} and {_num(hi)}, got {_num(value)}")


def _num(x: float) -> str:
    """2592000 rather than 2.592e+06; 0.1 stays 0.1."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _values_at(obj: Any, path: str, where: str = "") -> list[tuple[str, float]]:
    """(key, value) for a dotted path; `name[]` walks every item of a list."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        name = head[:-2]
        out: list[tuple[str, float]] = []
        for i, item in enumerate(getattr(obj, name, ()) or ()):
            out += _values_at(item, rest, f"{where}{name}[{i}].")
        return out
    value = getattr(obj, head, None)
    if rest:
        return [] if value is None else _values_at(value, rest, f"{where}{head}.")
    return [(f"{where}{head}", value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def _check_zone(name: str, key: str, fail: typing.Callable[[str, str], None]) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(key, f"unknown time zone {name!r}")
