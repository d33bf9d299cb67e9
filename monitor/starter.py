"""`kling-monitor init`: a commented starter config in the user's config folder.

The store, the alerts file and digest previews go under `$XDG_STATE_HOME/kling-monitor/`,
written as absolute paths so the file means the same from any working directory.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from string import Template

from monitor.config import load_config, user_config_path, user_state_dir
from monitor.errors import ConfigError


def starter_text(state_dir: Path) -> str:
    """The starter config with its paths under `state_dir` (JSON strings are TOML basic strings)."""
    template = Template(files("monitor").joinpath("templates/starter.toml").read_text(encoding="utf-8"))
    return template.substitute(store=json.dumps(str(state_dir / "monitor.db")),
                               jsonl=json.dumps(str(state_dir / "alerts.jsonl")),
                               previews=json.dumps(str(state_dir)))


def write_starter(path: Path | None = None, *, state_dir: Path | None = None, force: bool = False) -> Path:
    """Write the starter config (never over an existing file unless `force`); return its path."""
    target = path or user_config_path()
    state = (state_dir or user_state_dir()).absolute()
    if target.exists() and not force:
        raise ConfigError(f"{target}: already exists; edit it, or pass --force to replace it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        state.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(starter_text(state), encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write the starter config: {exc.strerror or exc}") from None
    load_config(target)  # the starter must always be valid; a broken template is a bug, caught here
    return target
