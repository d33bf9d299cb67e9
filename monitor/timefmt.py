"""The store's timestamp format, apart from the store so that modules which only format times (and the
parse workers) need not import sqlite-utils."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    """The one timestamp format in the store: UTC, second precision, `Z`."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    if dt.year >= 1000:  # isoformat is C and several times faster than strftime (which leaves year 999 unpadded)
        return dt.isoformat(timespec="seconds")[:19] + "Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
