"""The systemd units: required settings present, and `systemd-analyze verify` accepts them.

`systemd-analyze verify` checks that ExecStart= binaries exist, and /opt/kling-monitor/venv is
not installed here; the test copies the units to a temporary directory and points ExecStart=
at /bin/true (keeping the arguments), which verifies everything else unchanged. Skipped with a
reason when systemd-analyze is missing (Debian: `apt-get install -y systemd`).
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
SERVICE = UNITS / "kling-monitor.service"
ONESHOT = UNITS / "kling-monitor-oneshot.service"
TIMER = UNITS / "kling-monitor-oneshot.timer"
ENV_EXAMPLE = UNITS / "kling-monitor.env.example"
EXEC = "/opt/kling-monitor/venv/bin/kling-monitor"


def _settings(path: Path) -> dict[str, list[str]]:
    """key -> every value it is given in the unit (systemd keys may repeat)."""
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_daemon_unit_settings() -> None:
    s = _settings(SERVICE)
    expect = {
        "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "120", "Restart": "on-failure",
        "DynamicUser": "yes", "StateDirectory": "kling-monitor", "WorkingDirectory": "/var/lib/kling-monitor",
        "EnvironmentFile": "-/etc/kling-monitor/env", "ExecReload": "/bin/kill -HUP $MAINPID",
        "ProtectSystem": "strict", "ProtectHome": "yes", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
        "PrivateDevices": "yes", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "SystemCallArchitectures": "native", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "RestrictNamespaces": "yes",
        "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "RestrictRealtime": "yes",
        "RestrictSUIDSGID": "yes", "CapabilityBoundingSet": "", "UMask": "0077",
    }
    for key, value in expect.items():
        assert value in s.get(key, []), f"{key}={value} missing from {SERVICE.name}"
    assert "@system-service" in s["SystemCallFilter"]
    assert s["ExecStart"] == [f"{EXEC} -c /etc/kling-monitor/monitor.toml run"]
    assert "RestartSec" in s


def test_stop_timeout_is_above_the_shutdown_deadline() -> None:
    from monitor.config import DaemonConfig

    timeout = float(_settings(SERVICE)["TimeoutStopSec"][0])
    assert timeout >= DaemonConfig().shutdown_deadline + 5


def test_oneshot_and_timer() -> None:
    s = _settings(ONESHOT)
    assert s["Type"] == ["oneshot"]
    assert s["ExecStart"] == [f"{EXEC} -c /etc/kling-monitor/monitor.toml poll --digest-if-due"]
    from monitor.cli import build_parser

    args = build_parser().parse_args(s["ExecStart"][0].split()[1:])  # the unit's command line is valid
    assert args.digest_if_due and not args.once
    assert s["StateDirectory"] == ["kling-monitor"]
    t = _settings(TIMER)
    assert t["Unit"] == [ONESHOT.name]
    assert "OnUnitActiveSec" in t or "OnCalendar" in t


def test_env_example_has_no_real_secret() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert "SLACK_BOT_TOKEN=" in text
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert "REPLACE" in line.split("=", 1)[1], line


def test_units_parse_as_ini() -> None:
    for unit in (SERVICE, ONESHOT, TIMER):
        cp = configparser.RawConfigParser(strict=False, interpolation=None)
        cp.optionxform = str  # type: ignore[assignment,method-assign]
        cp.read_string(unit.read_text(encoding="utf-8"))
        assert "Unit" in cp.sections()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed (Debian: apt-get install -y systemd)")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    for unit in (SERVICE, ONESHOT, TIMER):
        text = unit.read_text(encoding="utf-8").replace(EXEC, "/bin/true")
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    files = [str(tmp_path / u.name) for u in (SERVICE, ONESHOT, TIMER)]
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", *files], capture_output=True, text=True,
                          timeout=60)
    # verify exits 0 even for unknown keys ("Unknown key ..., ignoring"): look at what it said
    # about our files, ignoring noise about the host (no running systemd in a container).
    ours = [ln for ln in (proc.stdout + proc.stderr).splitlines()
            if "kling-monitor" in ln or "Unknown" in ln or "ignoring" in ln]
    assert proc.returncode == 0 and not ours, proc.stdout + proc.stderr


@pytest.mark.parametrize("unit", [SERVICE, ONESHOT], ids=lambda p: p.name)
def test_units_deny_link_local_addresses(unit: Path) -> None:
    # the metadata address stays out of reach even with fetch.allow_private on
    assert _settings(unit)["IPAddressDeny"] == ["169.254.0.0/16 fe80::/10"]
