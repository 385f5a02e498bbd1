"""Metered actions other than generating, such as prompt suggestions (a paid chat call each).

A use is recorded before the paid call starts, in the transaction that checks the limits, so
concurrent uses from any number of tabs and workers cannot overshoot them; like a job whose
provider call started, a use counts whatever happens after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import Usage
from visionary_app.services.access.ownership import ANONYMOUS_PREFIX
from visionary_app.services.kit.database import database_now, in_session
from visionary_app.services.kit.metrics import LIMIT_REFUSALS
from visionary_app.services.limits.image_limits import LimitReached, QueueUnavailable, describe_wait

__all__ = ["UsageMeter"]

T = TypeVar("T")
_HOUR = timedelta(hours=1)
_POSTGRES_USAGE_LOCK = 0x55534147  # "USAG"


class UsageMeter:
    """Counts uses of one kind per owner and hour, and all anonymous visitors' together."""

    def __init__(
        self, engine: sa.Engine, kind: str, *, per_owner_per_hour: int, anonymous_per_hour: int
    ) -> None:
        self._engine = engine
        self.kind = kind
        self.per_owner_per_hour = per_owner_per_hour
        self.anonymous_per_hour = anonymous_per_hour

    async def _run(self, work: Callable[[Session], T]) -> T:
        def failure(error: str) -> QueueUnavailable:
            return QueueUnavailable(f"usage could not be recorded: {error}")

        return await in_session(self._engine, work, failure)

    async def take(self, owner: str, what: str) -> None:
        """Record one use by `owner`, or raise LimitReached (`what` names it in the message)."""

        def work(session: Session) -> None:
            if self._engine.dialect.name == "postgresql":
                session.exec(sa.select(sa.func.pg_advisory_xact_lock(_POSTGRES_USAGE_LOCK)))
            now = database_now(session)
            session.add(Usage(kind=self.kind, owner=owner, created_at=now))
            session.flush()
            refusal = self._over_limit(session, owner, now, what)
            if refusal is not None:
                session.rollback()
                LIMIT_REFUSALS.labels(self.kind).inc()
                raise refusal
            session.commit()

        await self._run(work)

    def _over_limit(self, session: Session, owner: str, now: datetime, what: str):
        checks = [(self.per_owner_per_hour, col(Usage.owner) == owner,
                   f"you have reached your limit of {{limit}} {what} per hour")]  # fmt: skip
        if owner.startswith(ANONYMOUS_PREFIX):
            checks.append((self.anonymous_per_hour, col(Usage.owner).startswith(ANONYMOUS_PREFIX),
                           f"visitors without an account have together reached their limit of "
                           f"{{limit}} {what} per hour"))  # fmt: skip
        for limit, who, reason in checks:
            if not limit:
                continue
            times = list(
                session.exec(
                    select(Usage.created_at)
                    .where(col(Usage.kind) == self.kind, col(Usage.created_at) > now - _HOUR, who)
                    .order_by(col(Usage.created_at))
                )
            )
            if len(times) <= limit:
                continue
            retry_at = times[len(times) - limit - 1].astimezone(UTC) + _HOUR
            message = f"{reason.format(limit=limit)}. {describe_wait(retry_at, now)}"
            return LimitReached(message, retry_at)
        return None
