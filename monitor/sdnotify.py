"""sd_notify(3) without a dependency: datagrams to $NOTIFY_SOCKET.

systemd's Type=notify units learn that the daemon is ready (READY=1), alive (WATCHDOG=1),
busy shutting down (STOPPING=1) or what it is doing (STATUS=...) from one datagram each.
Everything here is a no-op returning False when the daemon does not run under systemd, and
never raises: a monitoring side channel must not take the daemon down.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("monitor.sdnotify")


def _address(raw: str) -> str | None:
    """'@name' is an abstract socket ('\\0name'); an absolute path is a filesystem socket."""
    if raw.startswith("@"):
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    return None  # vsock and other forms are not used by systemd for services


def notify(*assignments: str, unset_environment: bool = False) -> bool:
    """Send 'KEY=VALUE' lines (e.g. notify("READY=1", "STATUS=polling")); True when sent."""
    raw = os.environ.get("NOTIFY_SOCKET")
    if unset_environment:
        os.environ.pop("NOTIFY_SOCKET", None)
    if not raw or not assignments:
        return False
    address = _address(raw)
    if address is None:
        log.debug("sd_notify: unsupported NOTIFY_SOCKET %r", raw)
        return False
    # One assignment per line: a newline inside a value (a STATUS text) would start a new one.
    message = "\n".join(a.replace("\n", " ") for a in assignments).encode("utf-8", "replace")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message)
        return True
    except OSError as exc:
        log.debug("sd_notify to %r failed: %s", raw, exc)
        return False


def ready(status: str | None = None) -> bool:
    return notify("READY=1", *([f"STATUS={status}"] if status else []))


def stopping(status: str | None = None) -> bool:
    return notify("STOPPING=1", *([f"STATUS={status}"] if status else []))


def reloading(status: str | None = None) -> bool:
    return notify("RELOADING=1", *([f"STATUS={status}"] if status else []))


def watchdog() -> bool:
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings: half of $WATCHDOG_USEC, or None when no watchdog is set.

    $WATCHDOG_PID, when set, names the process the watchdog is meant for; a child that inherited
    the environment must not ping on the parent's behalf.
    """
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    if value <= 0:
        return None
    return value / 1_000_000 / 2
