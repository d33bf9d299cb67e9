"""Shared test setup: tests import helper servers (feedserver, slackserver) from this folder.

`shared_dir` is the one way to reach the shared material (../shared or $KLING_MONITOR_SHARED);
modules that parametrize over it at collection time use `shared.shared_path()` directly.
Slow tests (`@pytest.mark.slow`) are deselected by the default `-m "not slow"` in pyproject.toml;
`.ci/run` runs them with `-m slow`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feedserver import feed_server  # noqa: E402,F401  (fixtures, for every test module)
from shared import shared_root  # noqa: E402
from smtpserver import smtp  # noqa: E402,F401


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder (seeds, corpus, devset); the test skips when it is not there."""
    root = shared_root()
    if not root.is_dir():
        pytest.skip(f"shared test material not found at {root} (set KLING_MONITOR_SHARED)")
    return root
