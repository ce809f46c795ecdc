"""The bench's latency histogram: percentiles within its 1% bucket error, merging across processes,
and a JSON round trip (how load processes hand their latencies to the parent)."""
from __future__ import annotations

import random

import pytest

from app.bench.histogram import LatencyHistogram, bucket_of, value_of


def test_percentiles_are_within_one_percent_of_the_exact_ones():
    generator = random.Random(11)
    samples_us = sorted(int(generator.lognormvariate(8, 1.2)) + 1 for _ in range(20_000))
    histogram = LatencyHistogram()
    for value in samples_us:
        histogram.record_ns(value * 1000)
    for percent in (50.0, 99.0, 99.9):
        exact_ms = samples_us[int(-(-len(samples_us) * percent // 100)) - 1] / 1000
        assert histogram.percentile_ms(percent) == pytest.approx(exact_ms, rel=0.01)


def test_small_values_are_exact_and_buckets_cover_their_values():
    assert [value_of(bucket_of(v)) for v in range(128)] == list(range(128))
    for value in (128, 1_000, 123_456, 10**9):
        assert abs(value_of(bucket_of(value)) - value) / value < 0.01


def test_histograms_merge_and_survive_json():
    first, second = LatencyHistogram(), LatencyHistogram()
    for value_ms in (1, 2, 3):
        first.record_ns(value_ms * 1_000_000)
    second.record_ns(100 * 1_000_000)
    merged = LatencyHistogram.merged([LatencyHistogram.from_json(first.to_json()), second])
    assert merged.total == 4
    assert merged.percentile_ms(50) == pytest.approx(2, rel=0.01)
    assert merged.percentile_ms(100) == pytest.approx(100, rel=0.01)
    assert LatencyHistogram().percentile_ms(50) is None
