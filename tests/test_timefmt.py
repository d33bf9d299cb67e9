"""The store's one timestamp format: iso() takes a fast path, held here to the strftime definition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.timefmt import iso, parse_iso

CASES = [
    datetime(2026, 11, 29, 19, 52, 37, tzinfo=UTC),
    datetime(2026, 11, 29, 19, 52, 37, 999999, tzinfo=UTC),  # microseconds are cut, not rounded
    datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=8))),  # converted to UTC: the day before
    datetime(2026, 3, 1, 12, 0),  # naive: taken as UTC
    datetime(1000, 1, 1, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),  # strftime's own (unpadded) year below 1000
    datetime(1, 1, 2, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
]


@pytest.mark.parametrize("dt", CASES, ids=[str(c) for c in CASES])
def test_iso_equals_its_strftime_definition(dt: datetime) -> None:
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    assert iso(dt) == aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_iso_round_trips_and_none_is_none() -> None:
    dt = datetime(2026, 11, 29, 19, 52, 37, tzinfo=UTC)
    assert parse_iso(iso(dt)) == dt
    assert iso(None) is None
