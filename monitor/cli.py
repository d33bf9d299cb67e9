"""The `kling-monitor` command line: parse arguments, call the library, map errors to exit codes.

Kept thin on purpose: every subcommand is a few lines over a library function, so the
same behaviour is reachable from tests and from the daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor import __version__, redact
from monitor.errors import EXIT_ATTENTION, EXIT_CONFIG, EXIT_FAILURE, EXIT_IOERR, EXIT_OK, MonitorError
from monitor.models import ANNOUNCED_TYPES
from monitor.units import text_table

log = logging.getLogger("monitor")

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level or ("DEBUG" if args.verbose else "INFO"))
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_OK
    try:
        return handler(args)
    except MonitorError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:  # a config may have several errors
            print(f"kling-monitor: error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `kling-monitor entries list | head`
        return EXIT_OK
    except OSError as exc:  # a file the command reads or writes (a preview, an export): one line, no traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"kling-monitor: error: {redact.scrub(exc.strerror or str(exc))}{where}", file=sys.stderr)
        return EXIT_IOERR


def setup_logging(level: str) -> None:
    """One event per line on stderr with level and logger; journald adds the timestamp."""
    fmt = "%(levelname)s %(name)s: %(message)s"
    if sys.stderr.isatty():
        fmt = "%(asctime)s " + fmt
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(fmt))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    redact.install()  # on the root handler: it sees every library's records
    # slack_sdk logs request URLs (a webhook URL is a secret) at INFO and DEBUG.
    for noisy in ("apscheduler", "trafilatura", "htmldate", "charset_normalizer", "aiohttp.access", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now, not the stream at set-up time (which may be closed)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kling-monitor",
        description="News-intelligence daemon for Kling AI and Kuaishou: polls feeds, extracts figures, "
                    "keeps a claim ledger and announces only what is new.",
    )
    p.add_argument("--version", action="version", version=f"kling-monitor {__version__}")
    p.add_argument("-c", "--config",
                   help="TOML config (default: $KLING_MONITOR_CONFIG, ./config/monitor.toml, "
                        "$XDG_CONFIG_HOME/kling-monitor/monitor.toml, /etc/kling-monitor/monitor.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level (default INFO)")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    s = sub.add_parser("run", help="run the daemon: polls, alerts and digests on their schedules",
                       description="Run the daemon until SIGTERM/SIGINT; SIGHUP reloads the config.")
    s.set_defaults(handler=cmd_run)

    s = sub.add_parser("poll", help="poll feeds once and store their entries",
                       description="Poll feeds once, store new and changed entries, understand them and queue "
                                   "alerts; then deliver them. Without --once only the feeds that are due.")
    s.add_argument("--once", action="store_true", help="poll every feed now, due or not")
    s.add_argument("--feed", action="append", metavar="NAME", help="only this feed (repeatable)")
    s.add_argument("--no-process", action="store_true", help="store entries but do not extract or alert")
    s.add_argument("--no-send", action="store_true", help="queue alerts but do not deliver them")
    s.add_argument("--digest-if-due", action="store_true",
                   help="then send the daily digest if its time has come (at most once per day; for timers)")
    s.set_defaults(handler=cmd_poll)

    s = sub.add_parser("check-config", help="validate the configuration and exit",
                       description="Validate the config and that each enabled transport's secret is set; "
                                   "exit 0 if valid, 78 listing every error with its file and key if not.")
    s.add_argument("--online", action="store_true",
                   help="also sign in to each enabled transport (Slack auth.test, SMTP login); posts nothing")
    s.set_defaults(handler=cmd_check_config)

    s = sub.add_parser("init", help="write a commented starter config to the user's config folder",
                       description="Write a starter config to $XDG_CONFIG_HOME/kling-monitor/monitor.toml "
                                   "(or -c FILE), its store under $XDG_STATE_HOME/kling-monitor/.")
    s.add_argument("--force", action="store_true", help="replace an existing file")
    s.set_defaults(handler=cmd_init)

    s = sub.add_parser("demo", help="see the product work offline: local sample feeds, alerts, a digest",
                       description="Start a feed server on 127.0.0.1 with sample stories written for the demo, "
                                   "poll it, print the alerts and write a digest preview; no network, no tokens. "
                                   "Needs no config.")
    s.add_argument("--dir", help="where the demo's store, alerts and digest go "
                                 "(default: $XDG_STATE_HOME/kling-monitor/demo)")
    s.set_defaults(handler=cmd_demo)

    s = sub.add_parser("test-send", help="send one clearly marked test message to Slack or by email",
                       description="Send one message marked [TEST] through a configured transport.")
    s.add_argument("transport", choices=["slack", "email"])
    s.set_defaults(handler=cmd_test_send)

    s = sub.add_parser("check-store", help="check the store's integrity (PRAGMA integrity_check)",
                       description="Read every page of the store; exit 0 if sound, 74 naming the problems if not.")
    s.set_defaults(handler=cmd_check_store)

    feeds = sub.add_parser("feeds", help="list, import and export feeds",
                           description="Feeds: their health, and OPML import/export.")
    fsub = feeds.add_subparsers(title="feeds commands", metavar="COMMAND")
    s = fsub.add_parser("list", help="feeds with their health: last success, last error, next poll, back-off",
                        description="Feeds with their health.")
    s.add_argument("--json", action="store_true", help="JSON output")
    s.set_defaults(handler=cmd_feeds_list)
    s = fsub.add_parser("import-opml", help="add an OPML file's feeds to the config",
                        description="Append the OPML file's feeds (new URLs only) to the config file.")
    s.add_argument("file", help="OPML file")
    s.set_defaults(handler=cmd_feeds_import)
    s = fsub.add_parser("export-opml", help="write the configured feeds as OPML",
                        description="Write the configured feeds as OPML to standard output or a file.")
    s.add_argument("-o", "--output", help="file to write (default: standard output)")
    s.set_defaults(handler=cmd_feeds_export)
    s = fsub.add_parser("pause", help="stop polling a feed, for a while or until resumed",
                        description="Pause a feed (stored: survives restarts; shown by status).")
    s.add_argument("name", help="feed name")
    s.add_argument("--for", dest="duration", type=_duration, metavar="DURATION", help="e.g. 30m, 6h, 2d (default: until resumed)")
    s.set_defaults(handler=cmd_feeds_pause)
    s = fsub.add_parser("resume", help="poll a paused feed again", description="Resume a paused feed.")
    s.add_argument("name", help="feed name")
    s.set_defaults(handler=cmd_feeds_resume)
    feeds.set_defaults(handler=lambda a: _help(feeds))

    entries = sub.add_parser("entries", help="list stored entries", description="Stored entries.")
    esub = entries.add_subparsers(title="entries commands", metavar="COMMAND")
    s = esub.add_parser("list", help="stored entries, newest first", description="Stored entries, newest first.")
    s.add_argument("--since", help="ISO date/time, or a duration like 24h, 7d")
    s.add_argument("--feed", help="only this feed")
    s.add_argument("--relevant", action="store_true", help="only entries that match the watchlist")
    s.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    s.set_defaults(handler=cmd_entries_list)
    entries.set_defaults(handler=lambda a: _help(entries))

    s = sub.add_parser("extract", help="show what the matcher and extractor find in documents",
                       description="Match and extract from .txt, .html, .json files or - (stdin).")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--json", action="store_true", help="one JSON object per document")
    s.add_argument("--explain", action="store_true",
                   help="also list each candidate figure that was dropped, and why (key \"dropped\")")
    s.set_defaults(handler=cmd_extract)

    s = sub.add_parser("replay", help="run the offline pipeline over documents in order, sending nothing",
                       description="Match, cluster, extract and record documents in order (a directory: by "
                                   "file name) against a fresh temporary store; print the events.")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--json", action="store_true", help="one JSON line per document")
    s.set_defaults(handler=cmd_replay)

    ledger = sub.add_parser("ledger", help="the claims, source by source, with their ids; correct them by hand",
                            description="Claims in the ledger with their ids, grouped by subject, kind, basis "
                                        "and period. `ledger reject ID` and `ledger confirm ID` correct them.")
    ledger.add_argument("--subject", help="Kling or Kuaishou")
    ledger.add_argument("--kind", help="round_size, valuation, capex, revenue, users, stake, investment, investor, ...")
    ledger.add_argument("--json", action="store_true", help="JSON output")
    ledger.set_defaults(handler=cmd_ledger)
    lsub = ledger.add_subparsers(title="ledger commands", metavar="COMMAND")
    s = lsub.add_parser("reject", help="retract a wrong claim: its figure stops counting",
                        description="Retract a claim: its figure stops counting, a short correction goes to its "
                                    "Slack thread and the digest lists it. Survives restarts; replay honours it.")
    s.add_argument("claim_id", type=int, metavar="CLAIM_ID")
    s.add_argument("--why", help="a short reason, shown with the correction")
    s.set_defaults(handler=cmd_ledger_review, verdict="rejected")
    s = lsub.add_parser("confirm", help="mark a claim settled by hand",
                        description="Confirm a claim: it settles its figure as a primary source would.")
    s.add_argument("claim_id", type=int, metavar="CLAIM_ID")
    s.set_defaults(handler=cmd_ledger_review, verdict="confirmed", why=None)

    outbox = sub.add_parser("outbox", help="inspect and retry queued alerts", description="The alert outbox.")
    osub = outbox.add_subparsers(title="outbox commands", metavar="COMMAND")
    s = osub.add_parser("list", help="queued, parked and recent messages", description="Outbox messages.")
    s.add_argument("--status", choices=["pending", "sending", "sent", "parked"], help="only this status")
    s.add_argument("--json", action="store_true", help="JSON output")
    s.set_defaults(handler=cmd_outbox_list)
    s = osub.add_parser("retry", help="send a parked message (or all of them) again",
                        description="Re-queue a parked message, or every parked message with --all.")
    s.add_argument("id", type=int, nargs="?")
    s.add_argument("--all", action="store_true", help="every parked message")
    s.set_defaults(handler=cmd_outbox_retry)
    s = osub.add_parser("drain", help="deliver due messages now", description="Deliver due outbox messages now.")
    s.set_defaults(handler=cmd_outbox_drain)
    outbox.set_defaults(handler=lambda a: _help(outbox))

    s = sub.add_parser("digest", help="preview or send the daily email digest",
                       description="Render the digest of everything since the last one.")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--preview", metavar="FILE.html", help="write the HTML digest to a file")
    g.add_argument("--send", action="store_true", help="send the digest now by SMTP")
    s.set_defaults(handler=cmd_digest)

    s = sub.add_parser("mute", help="no Slack alerts for an entity and/or alert type for a while",
                       description="Mute Slack alerts (stored: survives restarts; shown by status). Muted alerts "
                                   "still reach the console and the digest. Neither --entity nor --type: all.")
    s.add_argument("--entity", help="e.g. Kling or Kuaishou")
    s.add_argument("--type", choices=sorted(ANNOUNCED_TYPES), help="alert type")
    s.add_argument("--for", dest="duration", type=_duration, required=True, metavar="DURATION", help="e.g. 30m, 6h, 2d")
    s.set_defaults(handler=cmd_mute)
    s = sub.add_parser("unmute", help="end mutes (those with these filters, or all)",
                       description="Remove the mutes with exactly these filters; with neither, every mute.")
    s.add_argument("--entity")
    s.add_argument("--type", choices=sorted(ANNOUNCED_TYPES))
    s.set_defaults(handler=cmd_unmute)

    s = sub.add_parser("status", help="health: what needs a person first, then feeds, outbox, digest, controls",
                       description="The daemon's health as read from the store. Exit 0 when healthy, 3 when a "
                                   "person must act (parked alerts, a failed digest, every feed failing).")
    s.add_argument("--json", action="store_true", help="JSON output")
    s.set_defaults(handler=cmd_status)
    return p


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_OK


# ---------------------------------------------------------------- helpers


def _config(args: argparse.Namespace) -> Any:
    from monitor.config import load_config

    return load_config(args.config)


def _store(cfg: Any) -> Any:
    from monitor.store import Store

    return Store(cfg.store.path)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _duration(text: str) -> timedelta:
    """argparse type for --for: 30m, 6h, 2d, 1w (a bad one is a usage error, exit 2)."""
    if text[-1:] in _UNITS and text[:-1].isdigit() and int(text[:-1]) > 0:
        return timedelta(**{_UNITS[text[-1]]: int(text[:-1])})
    raise argparse.ArgumentTypeError(f"expected a duration like 30m, 6h, 2d or 1w, got {text!r}")


def _parse_since(text: str) -> datetime:
    from monitor.errors import InputError

    if text[-1:] in _UNITS and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{_UNITS[text[-1]]: int(text[:-1])})
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--since: expected an ISO date or a duration like 24h, got {text!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# ---------------------------------------------------------------- commands


def cmd_check_config(args: argparse.Namespace) -> int:
    from monitor.config import missing_secrets
    from monitor.errors import ConfigError

    cfg = _config(args)
    missing = missing_secrets(cfg)
    if missing:
        raise ConfigError("\n".join(missing))
    print(f"{cfg.path}: ok ({len(cfg.feeds)} feeds, {len(cfg.watch.watchlist().entities)} watched entities, "
          f"slack {'on' if cfg.slack.enabled else 'off'}, email {'on' if cfg.email.enabled else 'off'})")
    if not args.online:
        return EXIT_OK
    from monitor.checks import online_checks

    results = online_checks(cfg)
    for r in results:
        print(r.line())
    if not results:
        print("online: nothing to check (slack and email are off)")
    return EXIT_OK if all(r.ok for r in results) else EXIT_CONFIG


def cmd_init(args: argparse.Namespace) -> int:
    from monitor.starter import write_starter

    path = write_starter(Path(args.config) if args.config else None, force=args.force)
    print(f"wrote {path}")
    print("next: kling-monitor check-config, kling-monitor demo (offline), kling-monitor run")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.config import user_state_dir
    from monitor.demo import run_demo

    if not (args.verbose or args.log_level):
        logging.getLogger().setLevel(logging.WARNING)  # the alerts are the show
    folder = Path(args.dir) if args.dir else user_state_dir() / "demo"
    r = run_demo(folder, out=sys.stdout)
    print(f"\ndemo: {r.stories} stories, {r.events} events, {r.alerts} alerts on the console in {r.seconds:.1f}s")
    print(f"digest preview: {r.digest}")
    print(f"alerts as JSON Lines: {r.folder / 'alerts.jsonl'}")
    print("next: kling-monitor init, then kling-monitor check-config and kling-monitor run")
    return EXIT_OK


def cmd_test_send(args: argparse.Namespace) -> int:
    from monitor.checks import send_test_message
    from monitor.config import missing_secrets
    from monitor.errors import ConfigError

    cfg = _config(args)
    missing = [m for m in missing_secrets(cfg) if f": {args.transport}." in m]
    if missing:
        raise ConfigError("\n".join(missing))
    print(f"test message sent: {send_test_message(cfg, args.transport)}")
    return EXIT_OK


def cmd_check_store(args: argparse.Namespace) -> int:
    from monitor.errors import StoreError

    cfg = _config(args)
    if cfg.store.path != ":memory:" and not Path(cfg.store.path).exists():
        raise StoreError(f"store: {cfg.store.path} does not exist")
    with _store(cfg) as store:
        problems = store.integrity_problems()
    if problems:
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        raise StoreError(f"store: {cfg.store.path} failed the integrity check ({len(problems)} problems listed "
                         "above): restore a backup, or move it aside and let kling-monitor start a new store")
    print(f"store: {cfg.store.path}: ok")
    return EXIT_OK


def cmd_poll(args: argparse.Namespace) -> int:
    from monitor.config import missing_secrets
    from monitor.ingest import poll_feeds, process_pending
    from monitor.progress import progress_display

    cfg = _config(args)
    parked = 0
    feeds = [cfg.feed(n) for n in args.feed] if args.feed else list(cfg.feeds)
    with _store(cfg) as store:
        # One display on a terminal for both phases; log lines print above it, never glued to it.
        with progress_display() as show:
            summary = asyncio.run(poll_feeds(store, cfg, feeds=feeds, due_only=not args.once, progress=show.poll))
            ps = None if args.no_process else asyncio.run(process_pending(store, cfg, progress=show.understand))
        for o in summary.outcomes:
            if o.status == "error":
                print(f"  failed  {o.name}: {o.error}", file=sys.stderr)
        print(summary.line())
        if ps is not None:
            print(f"{ps.processed} entries understood: {ps.relevant} relevant, {ps.events} events, "
                  f"{ps.pages_fetched} article pages fetched")
            if not args.no_send:
                from monitor.notify import drain

                ds = drain(store, cfg)
                print(f"alerts: {ds.sent} sent, {ds.failed} to retry, {ds.parked} parked, {ds.held} held")
                parked = ds.parked
        digest = ""
        if args.digest_if_due:
            from monitor.digest import send_due_digest

            digest = send_due_digest(store, cfg, now=datetime.now(UTC))
            print(f"digest: {digest}")
        if args.digest_if_due:  # the timer unit's run: alerts parked earlier need a person too
            parked = max(parked, store.outbox_counts().get("parked", 0))
        last_parked = store.outbox_rows("parked")[-1:] if parked else []
    # Failures retrying cannot fix come last, one line each, with an exit code a timer unit shows.
    missing = missing_secrets(cfg) if not args.no_send else []
    for line in missing:
        print(f"kling-monitor: error: {line}", file=sys.stderr)
    if parked:
        why = last_parked[0]["last_error"] if last_parked else "see kling-monitor outbox list --status parked"
        print(f"kling-monitor: error: {parked} alert(s) parked ({why}); fix the cause, then "
              "`kling-monitor outbox retry --all`", file=sys.stderr)
    if digest.startswith("failed"):
        print(f"kling-monitor: error: digest {digest}", file=sys.stderr)
    failed = summary.count("error")
    if missing:
        return EXIT_CONFIG
    if parked or digest.startswith("failed"):
        return EXIT_ATTENTION
    return EXIT_FAILURE if summary.outcomes and failed == len(summary.outcomes) else EXIT_OK


def cmd_feeds_list(args: argparse.Namespace) -> int:
    cfg = _config(args)
    with _store(cfg) as store:
        store.sync_feeds((f.name, f.url, f.interval) for f in cfg.feeds)
        rows = store.feeds()
        paused = store.paused_feeds(datetime.now(UTC))
    configured = {f.name for f in cfg.feeds}
    rows = [{**r, "paused": r["name"] in paused, "paused_until": paused.get(r["name"])}
            for r in rows if r["name"] in configured]
    if args.json:
        for r in rows:
            _print_json(r)
        return EXIT_OK
    print(text_table([[r["name"], "paused" if r["paused"] else r["last_status"] or "never",
                       r["last_success"] or "-", r["error_count"],
                   (r["last_error"] or "-")[:60], r["next_poll"] or "-",
                   r["effective_interval"] or r["interval"]] for r in rows],
                 ["feed", "status", "last success", "errors", "last error", "next poll", "interval s"]))
    return EXIT_OK


def cmd_feeds_import(args: argparse.Namespace) -> int:
    from monitor.config import find_config
    from monitor.opml import import_into_config

    target = find_config(args.config)
    added = import_into_config(args.file, target)
    for f in added:
        print(f"added {f.name}: {f.url}")
    print(f"{len(added)} feeds added to {target}")
    return EXIT_OK


def cmd_feeds_export(args: argparse.Namespace) -> int:
    from monitor.opml import export_opml

    text = export_opml(_config(args).feeds)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_entries_list(args: argparse.Namespace) -> int:
    cfg = _config(args)
    since = _parse_since(args.since) if args.since else None
    with _store(cfg) as store:
        rows = store.list_entries(since=since, relevant_only=args.relevant, feed=args.feed, limit=args.limit)
    if args.json:
        for r in rows:
            r["entities"] = json.loads(r["entities"]) if r["entities"] else []
            r["facts"] = json.loads(r["facts"]) if r["facts"] else None
            _print_json(r)
        return EXIT_OK
    print(text_table([[r["published"][:16], r["feed"][:24], "*" if r["relevant"] else "", r["title"][:80]]
                  for r in rows], ["published", "feed", "rel", "title"]))
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    from monitor.documents import load_documents
    from monitor.extract import extract, format_table

    watch = _watchlist(args)
    for doc in load_documents(args.paths):
        ex = extract(doc, watch)
        if args.json:
            out = ex.to_json()
            if args.explain:
                out["dropped"] = [d.to_json() for d in ex.dropped]
            _print_json(out)
        else:
            print(format_table(ex))
            if args.explain:
                for d in ex.dropped:
                    print(f"  dropped {d.value:g} {d.unit}: {d.reason} -- {d.quote[:80]}")
    return EXIT_OK


def _watchlist(args: argparse.Namespace) -> Any:
    from monitor.match import default_watchlist

    try:
        return _config(args).watch.watchlist()
    except MonitorError:
        if args.config:
            raise
        return default_watchlist()


def cmd_replay(args: argparse.Namespace) -> int:
    from monitor.config import Config
    from monitor.pipeline import replay
    from monitor.render import format_replay

    try:
        cfg = _config(args)
    except MonitorError:
        if args.config:
            raise
        cfg = Config()
    for line in replay(args.paths, cfg):
        if args.json:
            _print_json(line)
        else:
            print(format_replay(line))
    return EXIT_OK


def cmd_ledger(args: argparse.Namespace) -> int:
    from monitor.ledger import history
    from monitor.render import format_history

    cfg = _config(args)
    with _store(cfg) as store:
        rows = history(store, subject=args.subject, kind=args.kind)
    if args.json:
        for r in rows:
            _print_json(r)
    else:
        print(format_history(rows))
    return EXIT_OK


def cmd_ledger_review(args: argparse.Namespace) -> int:
    from monitor.ledger import review_claim
    from monitor.notify import drain, enqueue

    cfg = _config(args)
    now = datetime.now(UTC)
    with _store(cfg) as store:
        try:
            with store.atomic():
                ev = review_claim(store, args.claim_id, args.verdict, why=args.why, now=now)
                if ev is not None:
                    enqueue(store, [ev], cfg, now=now)
        except KeyError:
            print(f"kling-monitor: error: no claim {args.claim_id} (see `kling-monitor ledger`)", file=sys.stderr)
            return EXIT_FAILURE
        if ev is not None:
            drain(store, cfg, now=now)
    print(f"claim {args.claim_id} {args.verdict}" + (": correction queued" if ev is not None else ""))
    return EXIT_OK


def cmd_outbox_list(args: argparse.Namespace) -> int:
    from monitor.notify import format_outbox, outbox_list

    cfg = _config(args)
    with _store(cfg) as store:
        rows = outbox_list(store, status=args.status)
    if args.json:
        for r in rows:
            _print_json(r)
    else:
        print(format_outbox(rows))
    return EXIT_OK


def cmd_feeds_pause(args: argparse.Namespace) -> int:
    cfg = _config(args)
    cfg.feed(args.name)  # a ConfigError for an unknown name
    now = datetime.now(UTC)
    until = now + args.duration if args.duration else None
    with _store(cfg) as store:
        store.pause_feed(args.name, until=until, now=now)
    print(f"feed {args.name} paused " + (f"until {_iso(until)}" if until else "until resumed"))
    return EXIT_OK


def cmd_feeds_resume(args: argparse.Namespace) -> int:
    cfg = _config(args)
    cfg.feed(args.name)
    with _store(cfg) as store:
        was = store.resume_feed(args.name)
    print(f"feed {args.name} resumed" if was else f"feed {args.name} was not paused")
    return EXIT_OK


def cmd_mute(args: argparse.Namespace) -> int:
    cfg = _config(args)
    now = datetime.now(UTC)
    until = now + args.duration
    with _store(cfg) as store:
        store.add_mute(entity=args.entity, type=args.type, until=until, now=now)
    what = " ".join(x for x in (args.type and f"{args.type} alerts", args.entity and f"about {args.entity}") if x)
    print(f"slack: {what or 'all alerts'} muted until {_iso(until)} (they still reach the console and digest)")
    return EXIT_OK


def cmd_unmute(args: argparse.Namespace) -> int:
    cfg = _config(args)
    with _store(cfg) as store:
        n = store.remove_mutes(entity=args.entity, type=args.type)
    print(f"{n} mute(s) removed")
    return EXIT_OK


def _iso(dt: datetime | None) -> str:
    from monitor.store import iso

    return iso(dt) or "-"


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    from monitor.errors import UsageError
    from monitor.notify import outbox_retry

    if args.all == (args.id is not None):
        raise UsageError("outbox retry: give a message ID or --all")
    cfg = _config(args)
    if args.all:
        with _store(cfg) as store:
            n = store.outbox_retry_all(datetime.now(UTC))
        print(f"{n} parked message(s) queued again")
        return EXIT_OK
    with _store(cfg) as store:
        if not outbox_retry(store, args.id):
            print(f"kling-monitor: error: outbox message {args.id} is not parked", file=sys.stderr)
            return EXIT_FAILURE
    print(f"outbox message {args.id} queued again")
    return EXIT_OK


def cmd_outbox_drain(args: argparse.Namespace) -> int:
    from monitor.notify import drain

    cfg = _config(args)
    with _store(cfg) as store:
        s = drain(store, cfg)
    print(f"alerts: {s.sent} sent, {s.failed} to retry, {s.parked} parked, {s.held} held")
    return EXIT_OK


def cmd_digest(args: argparse.Namespace) -> int:
    from monitor import digest

    cfg = _config(args)
    now = datetime.now(UTC)
    with _store(cfg) as store:
        if args.preview:
            digest.preview(store, cfg, args.preview, now=now)
            print(f"digest written to {args.preview}")
            return EXIT_OK
        result = digest.send_now(store, cfg, now=now)
    print(f"digest: {result}")
    return EXIT_FAILURE if str(result).startswith("failed") else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.status import format_status, gather_status

    cfg = _config(args)
    with _store(cfg) as store:
        status = gather_status(store, cfg)
    if args.json:
        _print_json(status)
    else:
        print(format_status(status))
    return EXIT_ATTENTION if status["needs_attention"] else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.schedule import run_daemon

    return run_daemon(args.config)
