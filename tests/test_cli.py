"""The command line: every subcommand has --help and is documented; the README matches CI."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from monitor.cli import build_parser, main
from monitor.config import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append(prefix + (name,))
                out += subcommands(sub, prefix + (name,))
    return out


COMMANDS = subcommands(build_parser())


def test_there_are_the_documented_commands() -> None:
    assert {c[0] for c in COMMANDS} == {"run", "poll", "check-config", "check-store", "feeds", "entries", "extract", "replay",
                                        "ledger", "outbox", "digest", "status", "init", "test-send", "mute", "unmute", "demo"}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_subcommand_has_help(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage: kling-monitor " + " ".join(command) in capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_subcommand_is_in_the_readme(command: tuple[str, ...]) -> None:
    assert f"kling-monitor {' '.join(command)}" in README


def config_keys(data: object, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    if isinstance(data, dict):
        for k, v in data.items():
            path = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                keys |= config_keys(v, path)
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    keys |= config_keys(item, f"{path}[]")
            else:
                keys.add(path)
    return keys


def test_readme_documents_every_default_config_key() -> None:
    keys = config_keys(tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8")))
    missing = sorted(k for k in keys if f"`{k}`" not in README and not _documented_in_group(k))
    assert missing == []


def _documented_in_group(key: str) -> bool:
    # "`fetch.connect_timeout`, `fetch.read_timeout`" rows and "`slack.routes[].channel`, `.types`" rows
    head, _, last = key.rpartition(".")
    return f"`.{last}`" in README and f"`{head}." in README


def test_readme_test_command_is_what_ci_runs() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)
    assert "kling-monitor run" in blocks[0]
    test_command = blocks[1].strip()
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_python_dash_m_monitor_is_the_console_script() -> None:
    out = subprocess.run([sys.executable, "-m", "monitor", "--version"], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.startswith("kling-monitor ")


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "commands" in capsys.readouterr().out


def test_a_plain_pytest_leaves_the_slow_tests_out_and_ci_runs_them() -> None:
    opts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert "not slow" in opts["addopts"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^\.venv/bin/python -m pytest -q -m slow$", ci, flags=re.M)


def test_tests_reach_the_shared_material_only_through_one_helper() -> None:
    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name not in ("shared.py", Path(__file__).name) and re.search(r"""["']/work/|/ ["']shared["']""", text):
            offenders.append(path.name)
    assert offenders == []


def test_shared_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared import shared_path, shared_root

    monkeypatch.delenv("KLING_MONITOR_SHARED", raising=False)
    assert shared_root() == ROOT.parent / "shared"
    monkeypatch.setenv("KLING_MONITOR_SHARED", str(tmp_path))
    assert shared_path("seeds") == tmp_path / "seeds"
