"""`sync_feeds` writes only what changed (issue 14) and leaves the same state as writing everything."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.models import FetchResult
from monitor.store import Store

A, B = "https://a.example/feed", "https://b.example/feed"


def _state(store: Store) -> dict[str, tuple[object, ...]]:
    rows = store.query("SELECT name, url, interval, etag FROM feeds ORDER BY name")
    return {r["name"]: (r["url"], r["interval"], r["etag"], store.get_meta(f"feed_url:{r['name']}")) for r in rows}


@pytest.mark.parametrize(("second", "expected"), [
    ([("a", A, 600)], {"a": (A, 600, '"e1"', A)}),  # unchanged: the feed keeps its ETag
    ([("a", A, 900)], {"a": (A, 900, '"e1"', A)}),  # a new interval
    ([("a", B, 600)], {"a": (B, 600, None, B)}),  # a new URL: the conditional-GET state is dropped
    ([("a", A, 600), ("b", B, 300)], {"a": (A, 600, '"e1"', A), "b": (B, 300, None, B)}),  # a feed added
    ([("a", A, 600), ("a", B, 600)], {"a": (B, 600, None, B)}),  # the same name twice: the last wins
])
def test_sync_feeds(tmp_path: Path, second: list[tuple[str, str, int]],
                    expected: dict[str, tuple[object, ...]]) -> None:
    with Store(tmp_path / "m.db") as store:
        store.sync_feeds([("a", A, 600)])
        with store.atomic():
            store.record_fetch("a", FetchResult(url=A, final_url=A, status="ok", etag='"e1"'),
                               at=datetime(2026, 1, 1, tzinfo=UTC), next_poll=datetime(2026, 1, 1, 1, tzinfo=UTC))
        assert _state(store)["a"] == (A, 600, '"e1"', A)
        store.sync_feeds(second)
        assert _state(store) == expected
