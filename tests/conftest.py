"""Shared test setup: tests import helper servers (feedserver, slackserver) from this folder."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feedserver import feed_server  # noqa: E402,F401  (fixtures, for every test module)
from smtpserver import smtp  # noqa: E402,F401
