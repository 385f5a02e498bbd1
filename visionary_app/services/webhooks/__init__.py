"""Webhooks: job ends POSTed to URLs their owners registered, signed, retried and logged."""

from visionary_app.services.webhooks.addresses import AddressRefused, check_url
from visionary_app.services.webhooks.signing import SignatureInvalid, derive_secret, verify
from visionary_app.services.webhooks.webhooks import (
    MAX_PER_OWNER,
    DeliveryStatus,
    WebhookRefused,
    Webhooks,
    WebhooksUnavailable,
)

__all__ = [
    "MAX_PER_OWNER",
    "AddressRefused",
    "DeliveryStatus",
    "SignatureInvalid",
    "WebhookRefused",
    "Webhooks",
    "WebhooksUnavailable",
    "check_url",
    "derive_secret",
    "verify",
]
