"""sd_notify over real Unix datagram sockets: filesystem path and abstract namespace."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor import sdnotify


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_no_socket_is_a_quiet_noop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.ready() is False
    assert sdnotify.watchdog() is False


def test_ready_status_and_stopping(listener: socket.socket) -> None:
    assert sdnotify.ready("watching 3 feeds")
    assert listener.recv(4096) == b"READY=1\nSTATUS=watching 3 feeds"
    assert sdnotify.watchdog()
    assert listener.recv(4096) == b"WATCHDOG=1"
    assert sdnotify.stopping()
    assert listener.recv(4096) == b"STOPPING=1"


def test_newline_in_status_cannot_inject_an_assignment(listener: socket.socket) -> None:
    assert sdnotify.status("line one\nREADY=1")
    assert listener.recv(4096) == b"STATUS=line one READY=1"


def test_abstract_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"kling-monitor-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind("\0" + name)
    except OSError as exc:  # pragma: no cover - non-Linux
        pytest.skip(f"no abstract Unix sockets here: {exc}")
    sock.settimeout(2)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("READY=1")
        assert sock.recv(4096) == b"READY=1"
    finally:
        sock.close()


def test_dead_socket_does_not_raise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    assert sdnotify.watchdog() is False


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert sdnotify.watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "120000000")
    assert sdnotify.watchdog_interval() == 60.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 60.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert sdnotify.watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_PID")
    monkeypatch.setenv("WATCHDOG_USEC", "garbage")
    assert sdnotify.watchdog_interval() is None


def test_daemon_reports_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    """The real daemon under a fake systemd: READY=1, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1."""
    import signal
    import time

    from test_schedule import DaemonProc, write_config

    name = f"kling-monitor-daemon-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(0.2)
    config = write_config(tmp_path / "m.toml", store=tmp_path / "m.db", feeds=[])
    d = DaemonProc(config, cwd=tmp_path, env={"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "600000"})
    got: list[str] = []

    def collect(until: float) -> None:
        while time.monotonic() < until:
            try:
                got.extend(sock.recv(4096).decode().split("\n"))
            except TimeoutError:
                pass

    try:
        d.wait_for("daemon started")
        collect(time.monotonic() + 1.6)
        d.signal(signal.SIGTERM)
        assert d.wait(10) == 0, d.log()
        collect(time.monotonic() + 0.3)
    finally:
        d.kill()
        sock.close()
    assert got[0] == "READY=1", got
    assert any(g.startswith("STATUS=watching") for g in got)
    assert 2 <= got.count("WATCHDOG=1") <= 8, got  # every 0.3 s while healthy
    assert "STOPPING=1" in got
    assert got.index("STOPPING=1") > got.index("WATCHDOG=1")
