"""Where the project's shared test material lives (seeds, corpus, devset): outside the repository.

`$KLING_MONITOR_SHARED` wins; else `../shared` beside the repository (relative to this file, never
an absolute path). Tests that need it skip when it is absent, so a clean clone still runs the rest.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_root() -> Path:
    """The shared folder, whether or not it exists (callers skip on a missing one)."""
    env = os.environ.get("KLING_MONITOR_SHARED")
    return Path(env).resolve() if env else ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    return shared_root().joinpath(*parts)
