"""Webhooks in the page: register a URL (its secret shown once), see each delivery, remove one."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import reflex as rx

from visionary_app.services.studio import get_studio
from visionary_app.services.webhooks import WebhookRefused, WebhooksUnavailable
from visionary_app.state.visitor import VisitorState

logger = logging.getLogger(__name__)
_UNREADABLE = "Your webhooks could not be read; try again."


@dataclass
class WebhookRow:
    """A registered webhook as the list shows it (never its secret)."""

    id: str
    url: str
    created_at: str


@dataclass
class DeliveryRow:
    """One job end told to a webhook, as the log shows it."""

    id: str
    when: str
    url: str
    event: str
    status: str
    attempts: int
    answer: str  # the receiver's status, or why it was not reached


class WebhooksState(VisitorState):
    """The signed-in user's webhooks and delivery log; a new secret is kept until closing."""

    is_open: bool = False
    hooks: list[WebhookRow] = []
    deliveries: list[DeliveryRow] = []
    new_secret: str = ""  # shown to its owner once, then forgotten

    async def _reload(self, owner: str) -> None:
        webhooks = get_studio().webhooks
        self.hooks = [
            WebhookRow(hook.id.hex, hook.url, f"{hook.created_at:%Y-%m-%d %H:%M} UTC")
            for hook in await webhooks.list(owner)
        ]
        self.deliveries = [
            DeliveryRow(
                id=delivery.id.hex,
                when=f"{delivery.created_at:%Y-%m-%d %H:%M:%S} UTC",
                url=url,
                event=delivery.event,
                status=delivery.status,
                attempts=delivery.attempts,
                answer=str(delivery.response_status or "") if not delivery.error
                else delivery.error,
            )
            for delivery, url in await webhooks.deliveries(owner, limit=20)
        ]  # fmt: skip

    @rx.event
    async def set_open(self, value: bool):
        """Open (and load) or close the dialog; closing forgets a new secret."""
        self.is_open = value
        self.new_secret = ""
        if not value:
            return None
        owner = self._named_owner()
        if owner is None:
            self.is_open = False
            return rx.toast.error("Sign in with a named account to use webhooks.")
        return await self.refresh()

    @rx.event
    async def refresh(self):
        """Read the webhooks and the latest deliveries again."""
        owner = self._named_owner()
        if owner is None:
            return None
        try:
            await self._reload(owner)
        except WebhooksUnavailable as exc:
            logger.error("listing webhooks failed: %s", exc)
            return rx.toast.error(_UNREADABLE)
        return None

    @rx.event
    async def create(self, form_data: dict[str, Any]):
        """Register the URL; its signing secret is shown once."""
        owner = self._named_owner()
        if owner is None:
            return rx.toast.error("Sign in with a named account to use webhooks.")
        webhooks = get_studio().webhooks
        try:
            hook = await webhooks.register(owner, str(form_data.get("url", ""))[:4000])
            await self._reload(owner)
        except WebhookRefused as exc:
            return rx.toast.error(str(exc))
        except WebhooksUnavailable as exc:
            logger.error("registering a webhook failed: %s", exc)
            return rx.toast.error("The webhook could not be registered; try again.")
        self.new_secret = webhooks.secret(hook.id)
        return None

    @rx.event
    async def remove(self, webhook_id: str):
        """Remove one of this user's webhooks (someone else's id does nothing)."""
        owner = self._named_owner()
        if owner is None:
            return rx.toast.error("Sign in with a named account to use webhooks.")
        try:
            removed = await get_studio().webhooks.remove(owner, uuid.UUID(hex=webhook_id))
            await self._reload(owner)
        except (WebhooksUnavailable, ValueError) as exc:
            logger.error("removing a webhook failed: %s", exc)
            return rx.toast.error("The webhook could not be removed; try again.")
        if not removed:
            return rx.toast.info("That webhook was already removed.")
        return rx.toast.success("Webhook removed.")
