"""`kling-monitor status`: the daemon's health as the store records it.

Read-only and independent of a running daemon: feeds' health comes from the feeds table, the
backlog from the outbox, the last digest from the digests table, and whether a daemon is alive
from the heartbeat it writes to `meta` every few seconds (see monitor.schedule).

What needs a person comes first and sets the exit code (EXIT_ATTENTION): parked alerts, a failed
digest, every feed failing. Other problems (a stopped daemon, some feeds failing) are warnings.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from monitor.config import Config
from monitor.schedule import (
    META_HEARTBEAT,
    META_HEARTBEAT_INTERVAL,
    META_PID,
    META_STARTED,
    META_STOPPED,
    next_digest_run,
)
from monitor.store import Store, iso, parse_iso, utcnow
from monitor.units import relative_time, text_table

PARKED_SHOWN = 20
HEALTHY_FEEDS_SHOWN = 20  # beyond this, healthy feeds are counted, not listed (`feeds list` lists all)
MIN_STALE_AFTER = 60.0  # seconds without a heartbeat before a daemon counts as not running


def daemon_state(store: Store, now: datetime) -> dict[str, Any]:
    """Is a daemon running against this store? Judged by the age of its last heartbeat."""
    beat = parse_iso(store.get_meta(META_HEARTBEAT))
    stopped = parse_iso(store.get_meta(META_STOPPED))
    started = parse_iso(store.get_meta(META_STARTED))
    try:
        interval = float(store.get_meta(META_HEARTBEAT_INTERVAL) or 15)
    except ValueError:
        interval = 15.0
    age = (now - beat).total_seconds() if beat else None
    stale_after = max(MIN_STALE_AFTER, 3 * interval)
    cleanly_stopped = stopped is not None and beat is not None and stopped >= beat
    running = age is not None and age <= stale_after and not cleanly_stopped
    pid = store.get_meta(META_PID)
    if running:
        state = "running"
    elif beat is None:
        state = "never started"
    elif cleanly_stopped:
        state = "stopped"
    else:
        state = "not running (no heartbeat)"
    return {"running": running, "state": state, "heartbeat": iso(beat), "heartbeat_age_s": _round(age),
            "started": iso(started), "stopped": iso(stopped) if cleanly_stopped else None,
            "pid": int(pid) if pid and pid.isdigit() else None}


def gather_status(store: Store, cfg: Config, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything `status` shows, as a JSON-ready dict."""
    now = now or utcnow()
    rows = {r["name"]: r for r in store.feeds()}
    feeds: list[dict[str, Any]] = []
    for f in cfg.feeds:
        r = rows.get(f.name) or {}
        nxt = parse_iso(r.get("next_poll"))
        errors = int(r.get("error_count") or 0)
        feeds.append({
            "name": f.name,
            "url": r.get("url") or f.url,
            "status": r.get("last_status") or "never polled",
            "last_poll": r.get("last_poll"),
            "last_success": r.get("last_success"),
            "last_error": r.get("last_error"),
            "last_error_at": r.get("last_error_at"),
            "error_count": errors,
            "backing_off": errors > 0,
            "next_poll": r.get("next_poll"),
            "next_poll_in_s": _round((nxt - now).total_seconds()) if nxt else None,
            "interval": f.interval,
            "effective_interval": r.get("effective_interval") or f.interval,
            "entries": int(r.get("entries_total") or 0),
        })
    paused = store.paused_feeds(now)
    for fd in feeds:
        fd["paused"] = fd["name"] in paused
        fd["paused_until"] = paused.get(fd["name"])
    mutes = store.active_mutes(now)
    counts = store.outbox_counts()
    oldest = store.query("SELECT min(created) AS c FROM outbox WHERE status IN ('pending', 'sending')")
    parked = [{"id": r["id"], "transport": r["transport"], "target": r["target"], "attempts": r["attempts"],
               "last_error": r["last_error"], "created": r["created"], "event_key": r["event_key"]}
              for r in store.outbox_rows("parked", limit=PARKED_SHOWN)]
    digests = store.digest_rows(limit=1)
    last = digests[0] if digests else None
    last_sent = store.query("SELECT max(sent_at) AS s FROM digests WHERE status = 'sent'")
    nxt_digest = next_digest_run(cfg, now)
    attention: list[str] = []  # a person must act; the exit code says so
    warnings: list[str] = []
    daemon = daemon_state(store, now)
    active = [f for f in feeds if not f["paused"]]
    failing = [f["name"] for f in active if f["error_count"]]
    polled = [f for f in active if f["last_poll"]]
    all_failing = bool(polled) and len(failing) == len(polled)
    if all_failing:
        attention.append(f"every feed is failing ({len(failing)} of {len(polled)} polled): check the network "
                         "and `kling-monitor feeds list`")
    elif failing:
        warnings.append(f"{len(failing)} feed(s) failing: {', '.join(failing[:5])}"
                        + (f" and {len(failing) - 5} more" if len(failing) > 5 else ""))
    if counts.get("parked"):
        why = parked[-1]["last_error"] if parked else None
        attention.append(f"{counts['parked']} parked alert(s)" + (f" (last: {why})" if why else "")
                         + ": fix the cause, then `kling-monitor outbox retry --all`")
    if last is not None and last["status"] == "failed":
        attention.append(f"last digest failed: {last['last_error']}")
    if not daemon["running"]:
        warnings.append(f"daemon {daemon['state']}")
    problems = attention + warnings
    return {
        "now": iso(now),
        "config": cfg.path,
        "store": store.path,
        "daemon": daemon,
        "feeds": feeds,
        "feeds_failing": len(failing),
        "all_feeds_failing": all_failing,
        "entries": store.count_entries(),
        "outbox": {
            "pending": counts.get("pending", 0),
            "sending": counts.get("sending", 0),
            "sent": counts.get("sent", 0),
            "parked": counts.get("parked", 0),
            "oldest_unsent": oldest[0]["c"] if oldest else None,
        },
        "parked": parked,
        "digest": {
            "enabled": cfg.email.enabled,
            "schedule": f"{cfg.digest.time} {cfg.digest.timezone}",
            "last": ({k: last[k] for k in ("scheduled_for", "status", "sent_at", "attempts", "last_error")}
                     if last else None),
            "last_sent": last_sent[0]["s"] if last_sent else None,
            "next": iso(nxt_digest),
        },
        "paused": paused,
        "mutes": mutes,
        "attention": attention,
        "warnings": warnings,
        "problems": problems,
        "needs_attention": bool(attention),
        "ok": not problems,
    }


def format_status(d: dict[str, Any]) -> str:
    """A terse human view of gather_status(): what needs a person first, times relative to now."""
    now = parse_iso(d["now"]) or utcnow()

    def rel(value: str | None) -> str:
        return relative_time(parse_iso(value), now)

    out: list[str] = []
    if d["attention"]:
        out.append("NEEDS ATTENTION:")
        out += [f"  ! {a}" for a in d["attention"]]
    if d["warnings"]:
        out.append("warnings:")
        out += [f"  - {w}" for w in d["warnings"]]
    if not d["problems"]:
        out.append("ok: nothing needs attention")
    out.append("")
    dm = d["daemon"]
    beat = f", last heartbeat {rel(dm['heartbeat'])}" if dm["heartbeat"] else ""
    pid = f", pid {dm['pid']}" if dm.get("pid") and dm["running"] else ""
    out.append(f"daemon: {dm['state']}{pid}{beat}")
    out.append(f"store: {d['store']} ({d['entries']} entries)")
    ob = d["outbox"]
    backlog = f"outbox: {ob['pending']} pending, {ob['sending']} sending, {ob['parked']} parked, {ob['sent']} sent"
    if ob["oldest_unsent"]:
        backlog += f" (oldest unsent {rel(ob['oldest_unsent'])})"
    out.append(backlog)
    dg = d["digest"]
    last = dg["last"]
    last_txt = (f"last {last['status']} {rel(last['sent_at'] or last['scheduled_for'])}"
                + (f" ({last['last_error']})" if last["last_error"] else "")) if last else "none yet"
    out.append(f"digest: {'on' if dg['enabled'] else 'off (email disabled)'}, {dg['schedule']}; {last_txt}; "
               f"next {rel(dg['next'])}")
    if d["paused"]:
        out.append("paused feeds: " + ", ".join(
            f"{name} ({'until ' + rel(until) if until else 'until resumed'})" for name, until in d["paused"].items()))
    for m in d["mutes"]:
        what = " ".join(x for x in (m["type"], m["entity"] and f"about {m['entity']}") if x) or "all alerts"
        out.append(f"slack muted: {what}, ends {rel(m['until'])} (kling-monitor unmute)")
    out.append("")

    def rank(f: dict[str, Any]) -> int:
        return 0 if f["error_count"] else 1 if f["paused"] or not f["last_poll"] else 2

    feeds = sorted(d["feeds"], key=rank)  # failing feeds first; sorted() keeps the config order within
    shown = [f for f in feeds if rank(f) < 2] + [f for f in feeds if rank(f) == 2][:HEALTHY_FEEDS_SHOWN]
    headers = ["feed", "status", "last success", "errors", "next poll", "interval s", "last error"]
    rows = [[f["name"], ("paused" if f["paused"] else f["status"]) + (" (backing off)" if f["backing_off"] else ""),
             rel(f["last_success"]), str(f["error_count"]), rel(f["next_poll"]) if not f["paused"] else "-",
             str(f["effective_interval"]), (f["last_error"] or "-")[:60]] for f in shown]
    out.append(text_table(rows, headers) if rows else "no feeds configured")
    if len(shown) < len(feeds):
        out.append(f"… and {len(feeds) - len(shown)} more feeds ok (kling-monitor feeds list)")
    if d["parked"]:
        out.append("")
        out.append("parked messages (kling-monitor outbox retry ID, or --all):")
        for p in d["parked"]:
            out.append(f"  #{p['id']} {p['transport']} -> {p['target'] or '-'} after {p['attempts']} attempts: "
                       f"{(p['last_error'] or '-')[:100]}")
    return "\n".join(out)


def status_json(d: dict[str, Any]) -> str:
    return json.dumps(d, ensure_ascii=False, default=str)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)
