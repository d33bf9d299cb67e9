"""Bugs injected into the pipeline's own code, met on one feed's data only: module-level, so a parse
worker process (which imports what it runs by name) runs them too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor import ingest

REAL_PARSE = ingest.parse_and_normalize
REAL_PARSE_MANY = ingest.parse_many


def parse_failing_on_bad_feeds(body: bytes, headers: dict[str, str], feed: str, language: str | None,
                               fetched_at: datetime) -> Any:
    if feed.startswith("bad"):
        raise RuntimeError(f"injected parser bug on {feed}")
    return REAL_PARSE(body, headers, feed, language, fetched_at)


def parse_many_failing_on_bad_feeds(jobs: list[Any]) -> Any:
    """The real parse_many, run where the parser has the bug (in a worker process: its own module)."""
    ingest.parse_and_normalize = parse_failing_on_bad_feeds  # type: ignore[assignment]
    return REAL_PARSE_MANY(jobs)


def parse_many_dying_on_crash_feeds(jobs: list[Any]) -> Any:
    """A worker process that dies (a segfault in a C parser, the OOM killer) on a feed named crash*."""
    import os
    import time

    if any(job[2].startswith("crash") for job in jobs):
        time.sleep(0.3)  # while the other feeds queue up for the workers
        os._exit(70)
    return REAL_PARSE_MANY(jobs)
