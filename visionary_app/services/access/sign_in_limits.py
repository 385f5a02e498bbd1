"""How often anyone may try to sign in: per name and overall, across tabs and workers.

Attempts (not only failures: concurrent guesses must count before they are checked) are
counted in moving windows by the `limits` library, in Redis when the app runs on several
workers and in memory on one. Short and long windows together make a backoff: a few quick
tries, then a minute's wait, then an hour's.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

__all__ = ["SignInLimiter", "SignInUnavailable"]

logger = logging.getLogger(__name__)

OVERALL = (parse("300/minute"),)
_NAMESPACE = "visionary-sign-in"


class SignInUnavailable(Exception):
    """The attempt counter (Redis) cannot be reached: nobody is let in unchecked."""


class SignInLimiter:
    """Counts sign-in attempts; says how long to wait when there were too many."""

    def __init__(
        self, redis_url: str | None = None, *, per_minute: int = 5, per_hour: int = 20
    ) -> None:
        """`per_minute` and `per_hour` are the attempts allowed for one name."""
        self.per_name = (parse(f"{per_minute}/minute"), parse(f"{per_hour}/hour"))
        uri = f"async+{redis_url}" if redis_url else "async+memory://"
        options = {"implementation": "redispy"} if redis_url else {}
        self._limiter = MovingWindowRateLimiter(storage_from_string(uri, **options))

    async def attempt(self, name: str) -> int | None:
        """Count one attempt for `name`; None if it may go ahead, else seconds to wait."""
        key = name.strip().lower()
        checks: list[tuple[RateLimitItem, str]] = [(item, "*") for item in OVERALL]
        checks += [(item, key) for item in self.per_name]
        try:
            for item, who in checks:
                if not await self._limiter.hit(item, _NAMESPACE, who):
                    stats = await self._limiter.get_window_stats(item, _NAMESPACE, who)
                    return max(1, math.ceil(stats.reset_time - time.time()))
        except Exception as exc:  # redis errors have many classes; all mean "cannot count"
            logger.error("sign-in attempts cannot be counted: %r", exc)
            raise SignInUnavailable from exc
        return None
