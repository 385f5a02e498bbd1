"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

__all__ = ["p50_ms"]


async def p50_ms(work: Callable[[], Awaitable[object]], repeats: int, warmup: int = 5) -> float:
    """Median wall time of `work` in milliseconds, after `warmup` untimed runs."""
    for _ in range(warmup):
        await work()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)
