"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Timings", "p50_ms", "timings_ms"]


@dataclass(frozen=True)
class Timings:
    """Wall times of repeated runs of one piece of work, in milliseconds."""

    samples: tuple[float, ...]

    @property
    def p50(self) -> float:
        """The median."""
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        """Nearest-rank 95th percentile."""
        ordered = sorted(self.samples)
        return ordered[max(0, round(0.95 * len(ordered)) - 1)]

    def __str__(self) -> str:
        return f"p50 {self.p50:.3f} ms, p95 {self.p95:.3f} ms"


async def timings_ms(
    work: Callable[[], Awaitable[object]], repeats: int, warmup: int = 5
) -> Timings:
    """Wall times of `work` in milliseconds, after `warmup` untimed runs."""
    for _ in range(warmup):
        await work()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    return Timings(tuple(samples))


async def p50_ms(work: Callable[[], Awaitable[object]], repeats: int, warmup: int = 5) -> float:
    """Median wall time of `work` in milliseconds, after `warmup` untimed runs."""
    return (await timings_ms(work, repeats, warmup)).p50
