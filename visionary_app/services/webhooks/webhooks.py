"""Webhooks: register a URL, and every end of your jobs is POSTed there, signed, retried, logged.

A job's end writes one delivery row per webhook of its owner in the very transaction that
ends the job (`record_job_end`, called by the queue), so no end is lost to a crash between
the two. Any worker then sends due deliveries: it takes one by moving its next attempt on
(a lease other workers respect), POSTs the body, and records the answer. A failure (no
answer, a timeout, a status other than 2xx) is tried again after each of `retry_after_s`,
then the delivery is marked failed. Redirects are not followed, and the answer's body is
not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

import httpcore
import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import GenerationJob, JobStatus, Webhook, WebhookDelivery, split_ids
from visionary_app.services.kit.database import in_session
from visionary_app.services.webhooks.addresses import (
    AddressRefused,
    GuardedNetwork,
    check_url,
    vetted_addresses,
)
from visionary_app.services.webhooks.signing import derive_secret, signed_headers

__all__ = ["DeliveryStatus", "WebhookRefused", "Webhooks", "WebhooksUnavailable"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PER_OWNER = 10
DEFAULT_RETRY_AFTER_S = (10, 60, 300, 1800, 7200)
_BATCH = 20


class DeliveryStatus:
    """Where a delivery is: waiting for its (next) attempt, or done either way."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookRefused(ValueError):
    """A webhook cannot be registered as asked; the message is for the user."""


class WebhooksUnavailable(Exception):
    """The webhook tables could not be read or written."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def job_body(job: GenerationJob, delivery_id: uuid.UUID, now: datetime) -> str:
    """What a webhook is told of a job's end (JSON)."""
    return json.dumps(
        {
            "id": str(delivery_id),
            "type": f"job.{JobStatus(job.status).value}",
            "timestamp": now.isoformat(),
            "data": {
                "job_id": str(job.id),
                "status": JobStatus(job.status).value,
                "kind": job.kind,
                "model": job.model,
                "prompt": job.prompt,
                "n": job.n,
                "image_ids": [str(image_id) for image_id in split_ids(job.image_ids)],
                "error": job.error,
                "cost_usd": None if job.cost_micros is None else job.cost_micros / 1_000_000,
                "created_at": job.created_at.isoformat(),
                "finished_at": job.finished_at.isoformat() if job.finished_at else None,
                "links": {"job": f"/api/v1/jobs/{job.id}"},
            },
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


class Webhooks:
    """Registered webhooks, their deliveries, and the sender that works through them."""

    def __init__(
        self,
        engine: sa.Engine,
        key: bytes,
        *,
        allow_private: bool = False,
        retry_after_s: tuple[float, ...] = DEFAULT_RETRY_AFTER_S,
        timeout_s: float = 10.0,
        poll_s: float = 60.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Webhooks in `engine`'s tables, signed with secrets derived from `key`.

        `allow_private`: whether URLs may reach private, loopback and link-local addresses
        (an admin's choice, for a receiver inside the network). `retry_after_s`: the wait
        before each further attempt; `poll_s`: the longest the sender sleeps between looks.
        """
        self._engine = engine
        self._key = key
        self.allow_private = allow_private
        self.retry_after_s = tuple(retry_after_s)
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._clock = clock
        self._due = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _run(self, work: Callable[[Session], T]) -> T:
        return await in_session(self._engine, work, WebhooksUnavailable)

    def secret(self, webhook_id: uuid.UUID) -> str:
        """The secret a webhook's deliveries are signed with (for its owner to verify them)."""
        return derive_secret(self._key, webhook_id)

    async def register(self, owner: str, url: str) -> Webhook:
        """Register `url` for `owner`'s job ends; raises WebhookRefused saying why not."""
        try:
            url = check_url(url)
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            await vetted_addresses(parts.hostname or "", port, allow_private=self.allow_private)
        except AddressRefused as exc:
            raise WebhookRefused(str(exc)) from exc
        now = self._clock()

        def work(session: Session) -> Webhook:
            count = session.exec(
                select(sa.func.count()).select_from(Webhook).where(col(Webhook.owner) == owner)
            ).one()
            if count >= MAX_PER_OWNER:
                msg = f"You have {MAX_PER_OWNER} webhooks already; remove one first."
                raise WebhookRefused(msg)
            webhook = Webhook(owner=owner, url=url, created_at=now)
            session.add(webhook)
            session.commit()
            session.refresh(webhook)
            return webhook

        return await self._run(work)

    async def list(self, owner: str) -> list[Webhook]:
        """The owner's webhooks, newest first."""

        def work(session: Session) -> list[Webhook]:
            query = select(Webhook).where(col(Webhook.owner) == owner)
            return list(session.exec(query.order_by(col(Webhook.created_at).desc())).all())

        return await self._run(work)

    async def get(self, owner: str, webhook_id: uuid.UUID) -> Webhook | None:
        """The owner's webhook with this id (None for anyone else's)."""

        def work(session: Session) -> Webhook | None:
            webhook = session.get(Webhook, webhook_id)
            return webhook if webhook is not None and webhook.owner == owner else None

        return await self._run(work)

    async def remove(self, owner: str, webhook_id: uuid.UUID) -> bool:
        """Remove the owner's webhook and its log; False if there was none of theirs."""

        def work(session: Session) -> bool:
            webhook = session.get(Webhook, webhook_id)
            if webhook is None or webhook.owner != owner:
                return False
            session.exec(
                sa.delete(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == webhook_id)
            )
            session.delete(webhook)
            session.commit()
            return True

        return await self._run(work)

    async def deliveries(
        self, owner: str, webhook_id: uuid.UUID | None = None, limit: int = 50
    ) -> list[tuple[WebhookDelivery, str]]:
        """The latest deliveries to the owner's webhooks (or one of them), with each URL."""

        def work(session: Session) -> list[tuple[WebhookDelivery, str]]:
            query = (
                select(WebhookDelivery, Webhook.url)
                .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
                .where(col(Webhook.owner) == owner)
            )
            if webhook_id is not None:
                query = query.where(col(Webhook.id) == webhook_id)
            query = query.order_by(col(WebhookDelivery.created_at).desc()).limit(limit)
            return [(delivery, url) for delivery, url in session.exec(query).all()]

        return await self._run(work)

    def record_job_end(self, session: Session, job_id: uuid.UUID) -> None:
        """Queue a delivery of this job's end to each of its owner's webhooks.

        Called inside the transaction that ends the job: both are kept, or neither.
        """
        job = session.get(GenerationJob, job_id)
        if job is None:
            return
        hooks = session.exec(select(Webhook.id).where(col(Webhook.owner) == job.owner)).all()
        if not hooks:
            return
        now = self._clock()
        for webhook_id in hooks:
            delivery_id = uuid.uuid4()
            session.add(
                WebhookDelivery(
                    id=delivery_id, webhook_id=webhook_id, job_id=job.id,
                    event=f"job.{JobStatus(job.status).value}",
                    body=job_body(job, delivery_id, now), status=DeliveryStatus.PENDING,
                    created_at=now, next_attempt_at=now,
                )
            )  # fmt: skip
        sa.event.listen(session, "after_commit", lambda _session: self._wake(), once=True)

    def _wake(self) -> None:
        """Have the sender look for due deliveries now (from any thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._due.set)

    async def run(self) -> None:
        """Send due deliveries as they come, until cancelled.

        Between passes it sleeps until the next retry is due, or a job end here wakes it, or
        at most `poll_s` (a retry another worker scheduled, then stopped): an idle studio
        reads the table once per `poll_s`.
        """
        self._loop = asyncio.get_running_loop()
        while True:
            self._due.clear()
            wait = self.poll_s
            try:
                await self.deliver_due()
                next_due = await self._next_due()
            except WebhooksUnavailable as exc:
                logger.warning("could not look for webhook deliveries: %s", exc)
            else:
                if next_due is not None:
                    until = (next_due - self._clock()).total_seconds()
                    wait = min(self.poll_s, max(0.05, until))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._due.wait()

    async def _next_due(self) -> datetime | None:
        """When the next pending delivery is due (None if there is none)."""

        def work(session: Session) -> datetime | None:
            return session.exec(
                select(sa.func.min(WebhookDelivery.next_attempt_at)).where(
                    col(WebhookDelivery.status) == DeliveryStatus.PENDING
                )
            ).one()

        due = await self._run(work)
        if due is not None and due.tzinfo is None:  # SQLite hands back a naive UTC time
            due = due.replace(tzinfo=UTC)
        return due

    async def deliver_due(self) -> int:
        """Send every delivery due now (taken from other workers by a lease); how many."""
        sent = 0
        while taken := await self._take_due():
            await asyncio.gather(*(self._send(delivery, url) for delivery, url in taken))
            sent += len(taken)
        return sent

    async def _take_due(self) -> list[tuple[WebhookDelivery, str]]:
        now = self._clock()
        lease = now + timedelta(seconds=self.timeout_s * 3 + 30)

        def work(session: Session) -> list[tuple[WebhookDelivery, str]]:
            due = session.exec(
                select(WebhookDelivery, Webhook.url)
                .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
                .where(
                    col(WebhookDelivery.status) == DeliveryStatus.PENDING,
                    col(WebhookDelivery.next_attempt_at) <= now,
                )
                .order_by(col(WebhookDelivery.next_attempt_at))
                .limit(_BATCH)
            ).all()
            taken = []
            for delivery, url in due:
                moved = session.exec(
                    sa.update(WebhookDelivery)
                    .where(
                        col(WebhookDelivery.id) == delivery.id,
                        col(WebhookDelivery.status) == DeliveryStatus.PENDING,
                        col(WebhookDelivery.next_attempt_at) == delivery.next_attempt_at,
                    )
                    .values(next_attempt_at=lease)
                )
                if moved.rowcount == 1:
                    taken.append((delivery, url))
            session.commit()
            return taken

        return await self._run(work)

    async def _send(self, delivery: WebhookDelivery, url: str) -> None:
        body = delivery.body.encode("utf-8")
        headers = signed_headers(self.secret(delivery.webhook_id), str(delivery.id), body)
        status, error = None, None
        timeout = {"connect": self.timeout_s, "read": self.timeout_s, "write": self.timeout_s}
        try:
            async with httpcore.AsyncConnectionPool(
                network_backend=GuardedNetwork(allow_private=self.allow_private)
            ) as pool:
                async with asyncio.timeout(self.timeout_s * 2):
                    async with pool.stream(
                        "POST", url, headers=list(headers.items()), content=body,
                        extensions={"timeout": timeout | {"pool": self.timeout_s}},
                    ) as response:  # fmt: skip
                        status = response.status
        except AddressRefused as exc:
            error = str(exc)
        except TimeoutError:
            error = "No answer in time."
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            error = f"Could not deliver: {type(exc).__name__}."
        except Exception as exc:  # an odd URL or answer must not stop the sender
            logger.exception("delivering webhook %s failed", delivery.id)
            error = f"Could not deliver: {type(exc).__name__}."
        if status is not None and not 200 <= status < 300:
            error = f"The receiver answered {status}."
        await self._record(delivery, status, error)

    async def _record(self, delivery: WebhookDelivery, status: int | None, error: str | None):
        now = self._clock()
        attempts = delivery.attempts + 1
        if error is None:
            values = {"status": DeliveryStatus.DELIVERED, "next_attempt_at": None}
        elif attempts > len(self.retry_after_s):
            values = {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
            logger.warning("webhook delivery %s failed for good: %s", delivery.id, error)
        else:
            wait = timedelta(seconds=self.retry_after_s[attempts - 1])
            values = {"status": DeliveryStatus.PENDING, "next_attempt_at": now + wait}
        values |= {
            "attempts": attempts, "response_status": status, "error": error,
            "last_attempt_at": now,
        }  # fmt: skip

        def work(session: Session) -> None:
            session.exec(
                sa.update(WebhookDelivery)
                .where(col(WebhookDelivery.id) == delivery.id)
                .values(**values)
            )
            session.commit()

        try:
            await self._run(work)
        except WebhooksUnavailable as exc:  # the lease runs out and it is sent again
            logger.error("could not record webhook delivery %s: %s", delivery.id, exc)
