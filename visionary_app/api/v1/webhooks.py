"""Webhooks: register a URL for the ends of your jobs, see each delivery, remove it."""

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from visionary_app.api.v1.auth import CurrentStudio, Generator, Reader
from visionary_app.api.v1.errors import Problem, answers, unavailable
from visionary_app.models import Webhook, WebhookDelivery
from visionary_app.services.studio import Studio
from visionary_app.services.webhooks import WebhookRefused, Webhooks, WebhooksUnavailable

__all__ = ["router"]

router = APIRouter()
_DOWN = "Webhooks cannot be read right now (the database did not answer); try again."


class WebhookIn(BaseModel):
    """Where to POST your jobs' ends."""

    url: str = Field(max_length=2000, examples=["https://example.com/visionary-hook"])


class WebhookOut(BaseModel):
    """A registered webhook."""

    id: uuid.UUID
    url: str
    created_at: datetime


class NewWebhookOut(WebhookOut):
    """A webhook just registered, with the secret its deliveries are signed with."""

    secret: str = Field(
        description="`whsec_…`: check each delivery's `webhook-signature` with it "
        "(Standard Webhooks). Shown only now."
    )


class WebhookList(BaseModel):
    """Your webhooks, newest first."""

    webhooks: list[WebhookOut]


class DeliveryOut(BaseModel):
    """One job end told to a webhook, and how that went."""

    id: uuid.UUID = Field(description="The `webhook-id` header; the same on every attempt.")
    webhook_id: uuid.UUID
    url: str
    job_id: uuid.UUID
    event: str = Field(examples=["job.succeeded"])
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    response_status: int | None = Field(description="The receiver's last HTTP status.")
    error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None


class DeliveryList(BaseModel):
    """The latest deliveries, newest first."""

    deliveries: list[DeliveryOut]


def _webhooks(studio: Studio) -> Webhooks:
    if studio.webhooks is None:
        raise Problem(404, "Webhooks are not available here.")
    return studio.webhooks


def _out(webhook: Webhook) -> WebhookOut:
    return WebhookOut(id=webhook.id, url=webhook.url, created_at=webhook.created_at)


def _delivery_out(delivery: WebhookDelivery, url: str) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id, webhook_id=delivery.webhook_id, url=url, job_id=delivery.job_id,
        event=delivery.event, status=delivery.status, attempts=delivery.attempts,
        response_status=delivery.response_status, error=delivery.error,
        created_at=delivery.created_at, last_attempt_at=delivery.last_attempt_at,
        next_attempt_at=delivery.next_attempt_at,
    )  # fmt: skip


@router.post(
    "/webhooks",
    status_code=201,
    response_model=NewWebhookOut,
    responses=answers(401, 403, 422, 503),
    summary="Register a webhook for the ends of your jobs",
)
async def create_webhook(
    body: WebhookIn, holder: Generator, response: Response, studio: CurrentStudio
):
    webhooks = _webhooks(studio)
    try:
        webhook = await webhooks.register(holder.owner, body.url)
    except WebhookRefused as exc:
        raise Problem(422, f"url: {exc}") from exc
    except WebhooksUnavailable as exc:
        raise unavailable(_DOWN) from exc
    response.headers["Location"] = f"webhooks/{webhook.id}"
    return NewWebhookOut(**_out(webhook).model_dump(), secret=webhooks.secret(webhook.id))


@router.get(
    "/webhooks",
    response_model=WebhookList,
    responses=answers(401, 403, 503),
    summary="List your webhooks",
)
async def list_webhooks(holder: Reader, studio: CurrentStudio):
    try:
        found = await _webhooks(studio).list(holder.owner)
    except WebhooksUnavailable as exc:
        raise unavailable(_DOWN) from exc
    return WebhookList(webhooks=[_out(webhook) for webhook in found])


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    responses=answers(401, 403, 404, 503),
    summary="Remove a webhook and its delivery log",
)
async def delete_webhook(webhook_id: uuid.UUID, holder: Generator, studio: CurrentStudio):
    try:
        removed = await _webhooks(studio).remove(holder.owner, webhook_id)
    except WebhooksUnavailable as exc:
        raise unavailable(_DOWN) from exc
    if not removed:
        raise Problem(404, "No such webhook (or it is not yours).")
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=DeliveryList,
    responses=answers(401, 403, 404, 503),
    summary="The latest deliveries to a webhook: each job end, its attempts and answers",
)
async def list_deliveries(webhook_id: uuid.UUID, holder: Reader, studio: CurrentStudio):
    webhooks = _webhooks(studio)
    try:
        if await webhooks.get(holder.owner, webhook_id) is None:
            raise Problem(404, "No such webhook (or it is not yours).")
        found = await webhooks.deliveries(holder.owner, webhook_id)
    except WebhooksUnavailable as exc:
        raise unavailable(_DOWN) from exc
    return DeliveryList(deliveries=[_delivery_out(delivery, url) for delivery, url in found])
