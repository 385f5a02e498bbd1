"""How many images an owner, all visitors together and the whole app may make, and the caps.

A job's images are counted against these when it is submitted, in the transaction that inserts
its row (the queue holds its lock there), so concurrent submissions from any number of
workers cannot overshoot them. A job that ended before its provider call counts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import GenerationJob
from visionary_app.services.access.ownership import ANONYMOUS_PREFIX

__all__ = [
    "JobLimits",
    "LimitReached",
    "QueueUnavailable",
    "describe_wait",
    "image_limit_refusal",
]

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class JobLimits:
    """The caps and cost limits; 0 means no limit for the two cost limits."""

    max_concurrent: int = 4
    max_running_per_owner: int = 2
    max_queued_per_owner: int = 0  # waiting or running jobs one owner may have; 0: no cap
    images_per_owner_per_hour: int = 0
    images_per_day: int = 0
    # Anonymous visitors together (a new cookie is a new visitor, so this is what holds).
    anonymous_images_per_hour: int = 0
    anonymous_images_per_address_per_hour: int = 0


class LimitReached(Exception):
    """A cost limit would be exceeded; the message says which and when to try again."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class QueueUnavailable(Exception):
    """The database holding the jobs (and what they spent) could not be reached or refused."""


def describe_wait(retry_at: datetime, now: datetime) -> str:
    """When to try again, as a sentence for the user."""
    minutes = max(1, round((retry_at - now).total_seconds() / 60))
    when = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"Try again in about {when} (at {retry_at:%H:%M} UTC)."


def _window(session: Session, since: datetime, who) -> list[tuple]:
    query = select(GenerationJob.created_at, GenerationJob.images).where(
        col(GenerationJob.created_at) > since, col(GenerationJob.images) > 0
    )
    if who is not None:
        query = query.where(who)
    return list(session.exec(query.order_by(col(GenerationJob.created_at))))


def image_limit_refusal(
    session: Session,
    limits: JobLimits,
    owner: str,
    now: datetime,
    *,
    active: int,
    client: str | None = None,
) -> LimitReached | None:
    """Why a new job of `owner` (who has `active` others waiting or running) is refused.

    Reads the jobs in `session`, which already holds the new job's row. A visitor without an
    account submitting from `client` (an address) shares an hourly limit with every other
    visitor there: a fresh cookie is a fresh visitor, but not a fresh address.
    """
    anonymous = owner.startswith(ANONYMOUS_PREFIX)
    from_here = col(GenerationJob.client) == client
    checks = (
        (limits.images_per_owner_per_hour, _HOUR, col(GenerationJob.owner) == owner,
         "you have reached your limit of {limit} images per hour"),
        (limits.anonymous_images_per_address_per_hour if anonymous and client else 0, _HOUR,
         sa.and_(from_here, col(GenerationJob.owner).startswith(ANONYMOUS_PREFIX)),
         "visitors from your address have reached their limit of {limit} images per hour "
         "(sign in for your own)"),
        (limits.anonymous_images_per_hour if anonymous else 0, _HOUR,
         col(GenerationJob.owner).startswith(ANONYMOUS_PREFIX),
         "visitors without an account have together reached their limit of {limit} images "
         "per hour (sign in for your own)"),
        (limits.images_per_day, _DAY, None, "the studio has reached its limit of "
         "{limit} images per day"),
    )  # fmt: skip
    queued_cap = limits.max_queued_per_owner
    if queued_cap and active >= queued_cap:
        return LimitReached(
            f"Not generated: you already have {queued_cap} jobs waiting or running. "
            "Wait for one to finish, or cancel one.",
            now,
        )
    for limit, window, who, reason in checks:
        if not limit:
            continue
        rows = _window(session, now - window, who)
        used = sum(images for _, images in rows)
        if used <= limit:
            continue
        # Rows leave the window oldest first; find when enough have left.
        excess, retry_at = used - limit, now + window
        for created_at, images in rows:
            excess -= images
            if excess <= 0:
                retry_at = created_at + window
                break
        wait = describe_wait(retry_at, now)
        return LimitReached(f"Not generated: {reason.format(limit=limit)}. {wait}", retry_at)
    return None
