"""Start-up stays cheap (issue 14): loading a module does not load the heavy ones it needs only later.

Each row runs a fresh interpreter, imports one module and lists which of the heavy modules came with it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("aiohttp", "sqlite_utils", "numpy", "monitor.names", "monitor.match", "monitor.extract")


@pytest.mark.parametrize(("module", "may_load"), [
    ("monitor.config", ()),  # check-config: the matcher's rules compile only when the watchlist is asked for
    ("monitor.ingest", ()),  # also what each parse worker imports
    ("monitor.cli", ()),
    ("monitor.store", ("sqlite_utils", "numpy")),
    ("monitor.fetch", ("aiohttp",)),
])
def test_importing_does_not_load_what_is_needed_later(module: str, may_load: tuple[str, ...]) -> None:
    code = f"import json, sys; import {module}; print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert set(json.loads(out)) <= set(may_load)


def test_the_watchlist_still_comes_from_the_matcher() -> None:
    from monitor.config import WatchConfig
    from monitor.match import Watchlist, default_watchlist

    w = WatchConfig().watchlist()
    assert isinstance(w, Watchlist) and w.entities == default_watchlist().entities
