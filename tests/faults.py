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
