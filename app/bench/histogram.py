"""A small HdrHistogram-style latency histogram: log-linear buckets with 7 significant bits
(relative error under 1%), fixed memory whatever the number of samples, mergeable across processes."""
from __future__ import annotations

from collections.abc import Iterable

SIGNIFICANT_BITS = 7


def bucket_of(value_us: int) -> int:
    """The bucket key of a latency in microseconds (exact below 128 us)."""
    value_us = max(0, value_us)
    bits = value_us.bit_length()
    if bits <= SIGNIFICANT_BITS:
        return value_us
    shift = bits - SIGNIFICANT_BITS
    return (shift << SIGNIFICANT_BITS) | (value_us >> shift)


def value_of(bucket: int) -> float:
    """The middle of a bucket's range, in microseconds."""
    shift = bucket >> SIGNIFICANT_BITS
    if shift == 0:
        return float(bucket)
    mantissa = bucket & ((1 << SIGNIFICANT_BITS) - 1)
    return (mantissa << shift) + (1 << shift) / 2


class LatencyHistogram:
    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: dict[int, int] = dict(counts or {})
        self.total = sum(self.counts.values())

    def record_ns(self, elapsed_ns: int) -> None:
        key = bucket_of(elapsed_ns // 1000)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.total += 1

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        for key, count in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + count
        self.total += other.total
        return self

    def percentile_ms(self, percent: float) -> float | None:
        """The latency (ms) at or below which `percent` of the samples lie; None without samples."""
        if self.total == 0:
            return None
        rank = max(1, -(-self.total * percent // 100))  # ceiling: the sample at that rank
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return value_of(key) / 1000.0
        return value_of(max(self.counts)) / 1000.0

    def to_json(self) -> dict[str, int]:
        return {str(key): count for key, count in self.counts.items()}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> LatencyHistogram:
        return cls({int(key): count for key, count in data.items()})

    @classmethod
    def merged(cls, histograms: Iterable[LatencyHistogram]) -> LatencyHistogram:
        result = cls()
        for histogram in histograms:
            result.merge(histogram)
        return result
