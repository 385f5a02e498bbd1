"""How often anyone may try to sign in, so that guessing is slow and nobody can lock a user out.

Attempts (not only failures: concurrent guesses must count before they are checked) are
counted in moving windows by the `limits` library, in Redis when the app runs on several
workers and in memory on one:

- per name *and* client address: a few quick tries, then a minute's wait, then an hour's.
  Someone guessing Alice's password from their machine waits; Alice, from hers, does not.
- per client address, whatever the name: one machine cannot spray every name.
- per name from everywhere: past `per_name_per_hour` the name is under attack from many
  addresses. Its attempts are then slowed (`Verdict.slow`: the caller makes them wait, one at
  a time), never refused, so the owner's right password still works from a fresh address.
- overall: a ceiling for the whole app. Attempts at a name under attack are not counted
  there, so failures against one name cannot use up everyone's budget.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

__all__ = ["SignInLimiter", "SignInUnavailable", "Verdict"]

logger = logging.getLogger(__name__)

OVERALL = (parse("300/minute"),)
PER_ADDRESS = (parse("30/minute"), parse("200/hour"))
_NAMESPACE = "visionary-sign-in"


class SignInUnavailable(Exception):
    """The attempt counter (Redis) cannot be reached: nobody is let in unchecked."""


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may go ahead.

    `wait`: refused, try again in this many seconds. `slow`: its name is under attack from
    many addresses; let it through, but slowly.
    """

    wait: int | None = None
    slow: bool = False


class SignInLimiter:
    """Counts sign-in attempts; says how long to wait when there were too many."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        per_minute: int = 5,
        per_hour: int = 20,
        per_name_per_hour: int = 100,
    ) -> None:
        """Limits: `per_minute`, `per_hour` at one name from one address.

        `per_name_per_hour`: attempts at one name from everywhere before they are slowed.
        """
        self.per_name_here = (parse(f"{per_minute}/minute"), parse(f"{per_hour}/hour"))
        self.per_name = parse(f"{per_name_per_hour}/hour")
        uri = f"async+{redis_url}" if redis_url else "async+memory://"
        options = {"implementation": "redispy"} if redis_url else {}
        self._limiter = MovingWindowRateLimiter(storage_from_string(uri, **options))

    async def _refused(self, checks: list[tuple[RateLimitItem, str]]) -> int | None:
        for item, who in checks:
            if not await self._limiter.hit(item, _NAMESPACE, who):
                stats = await self._limiter.get_window_stats(item, _NAMESPACE, who)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None

    async def attempt(self, name: str, address: str = "") -> Verdict:
        """Count one attempt at `name` from `address`; whether it may go ahead."""
        key, address = name.strip().lower(), address or "unknown"
        try:
            here = [(item, f"name+address:{key}:{address}") for item in self.per_name_here]
            here += [(item, f"address:{address}") for item in PER_ADDRESS]
            if (wait := await self._refused(here)) is not None:
                return Verdict(wait=wait)
            if not await self._limiter.hit(self.per_name, _NAMESPACE, f"name:{key}"):
                logger.warning("sign-in attempts at %r from many addresses: slowing them", key)
                return Verdict(slow=True)
            if (wait := await self._refused([(item, "*") for item in OVERALL])) is not None:
                return Verdict(wait=wait)
        except Exception as exc:  # redis errors have many classes; all mean "cannot count"
            logger.error("sign-in attempts cannot be counted: %r", exc)
            raise SignInUnavailable from exc
        return Verdict()
