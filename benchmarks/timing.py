"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Timings", "interleaved_timings_ms", "p50_ms", "timings_ms"]

K = TypeVar("K")


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


async def interleaved_timings_ms(
    works: dict[K, Callable[[], Awaitable[object]]], repeats: int, rounds: int = 10
) -> dict[K, Timings]:
    """Wall times of each of `works`, measured in turns of `repeats / rounds` runs each.

    Taking turns spreads whatever else the machine does over all of them alike, so their
    figures can be compared with each other.
    """
    samples: dict[K, list[float]] = {name: [] for name in works}
    per_round = max(1, repeats // rounds)
    for _ in range(rounds):
        for name, work in works.items():
            samples[name].extend((await timings_ms(work, per_round, warmup=2)).samples)
    return {name: Timings(tuple(values)) for name, values in samples.items()}


async def p50_ms(work: Callable[[], Awaitable[object]], repeats: int, warmup: int = 5) -> float:
    """Median wall time of `work` in milliseconds, after `warmup` untimed runs."""
    return (await timings_ms(work, repeats, warmup)).p50
