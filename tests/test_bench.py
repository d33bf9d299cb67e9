"""The realistic benchmark's generator and its in-process measurements stay runnable (a few feeds)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench_modules():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCH))
    try:
        import bench_poll_real
        import realfeeds

        yield bench_poll_real, realfeeds
    finally:
        sys.path.remove(str(BENCH))


def test_stages_parse_normalize_and_store_every_generated_entry(bench_modules) -> None:  # type: ignore[no-untyped-def]
    bench, realfeeds = bench_modules
    bodies = [realfeeds.feed_xml(i, 5, realfeeds.base_time()) for i in range(3)]
    stages = bench.measure_stages(bodies, repeat=1)
    assert stages.stored == 15
    assert stages.parse > 0 and stages.normalize > 0 and stages.store > 0
    floor = bench.measure_floor(bodies, repeat=1)
    assert floor.entries == 15
