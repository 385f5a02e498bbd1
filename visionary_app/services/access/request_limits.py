"""How often one address may ask for something public (share pages), in moving windows.

Counted by the `limits` library, in Redis on several workers and in memory on one.
"""

from __future__ import annotations

import logging
import math
import time

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

__all__ = ["AddressLimiter"]

logger = logging.getLogger(__name__)


class AddressLimiter:
    """Counts requests per client address against one rate (e.g. "120/minute")."""

    def __init__(self, redis_url: str | None, rate: str, namespace: str) -> None:
        """Count in Redis at `redis_url` (else in memory) under `namespace`."""
        self.rate = parse(rate)
        self._namespace = namespace
        uri = f"async+{redis_url}" if redis_url else "async+memory://"
        options = {"implementation": "redispy"} if redis_url else {}
        self._limiter = MovingWindowRateLimiter(storage_from_string(uri, **options))

    async def wait(self, address: str) -> int | None:
        """Count one request; None if it may go ahead, else how many seconds to wait.

        If the counter cannot be reached the request goes ahead (logged): these pages show
        what their links allow to anyone, and an outage of the counter should not hide them.
        """
        who = address or "unknown"
        try:
            if await self._limiter.hit(self.rate, self._namespace, who):
                return None
            stats = await self._limiter.get_window_stats(self.rate, self._namespace, who)
        except Exception as exc:  # redis.ConnectionError and the like
            logger.warning("could not count a request from %s: %r", who, exc)
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))
