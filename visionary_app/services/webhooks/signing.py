"""How a webhook's POST is signed, as the Standard Webhooks spec (standardwebhooks.com) says.

Headers: `webhook-id` (the delivery, the same on every retry), `webhook-timestamp` (Unix
seconds), `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the
webhook's secret (`whsec_<base64 key>`), and `content-digest` (RFC 9530, the body's SHA-256).
Stripe and GitHub sign the same way (a timestamp against replays, a MAC over the body), and
libraries for every language check it. Each webhook's secret is derived from the app's key and
its id, so it is never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

__all__ = ["SignatureInvalid", "derive_secret", "signed_headers", "verify"]

_SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
_TOLERANCE_S = 300


class SignatureInvalid(ValueError):
    """A delivery whose signature, digest or timestamp does not hold."""


def derive_secret(app_key: bytes, webhook_id: uuid.UUID) -> str:
    """The webhook's signing secret, `whsec_…`, the same on every worker."""
    raw = hmac.new(app_key, b"webhook\x00" + webhook_id.bytes, hashlib.sha256).digest()
    return _SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(_SECRET_PREFIX))


def _signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def content_digest(body: bytes) -> str:
    """RFC 9530's `Content-Digest` value for `body`."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def signed_headers(
    secret: str, message_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The headers that go with `body`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "user-agent": "VisionaryAI-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{_signature(secret, message_id, timestamp, body)}",
        "content-digest": content_digest(body),
    }


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> None:
    """Check a delivery as a receiver would; raises SignatureInvalid saying what is wrong.

    `headers` with lower-case names.
    """
    try:
        message_id = headers["webhook-id"]
        timestamp = int(headers["webhook-timestamp"])
        given = headers["webhook-signature"]
    except (KeyError, ValueError) as exc:
        raise SignatureInvalid("a signature header is missing or malformed") from exc
    now = time.time() if now is None else now
    if abs(now - timestamp) > _TOLERANCE_S:
        raise SignatureInvalid("the timestamp is too old or in the future")
    if headers.get("content-digest") != content_digest(body):
        raise SignatureInvalid("the body's digest does not match")
    wanted = _signature(secret, message_id, timestamp, body)
    signatures = [part.partition(",")[2] for part in given.split() if part.startswith("v1,")]
    if not any(hmac.compare_digest(wanted, signature) for signature in signatures):
        raise SignatureInvalid("no signature matches")
