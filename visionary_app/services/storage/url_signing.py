"""Expiring, tamper-proof URLs for the local store: HMAC over a blob name and an expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

__all__ = ["UrlSigner"]


class UrlSigner:
    """HMAC-SHA256 signatures over a blob name and an expiry time."""

    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        if len(key) < 16:
            msg = "URL signing key must be at least 16 bytes"
            raise ValueError(msg)
        self._key = key
        self.ttl_seconds = ttl_seconds

    def _signature(self, name: str, expires_at: int, download_as: str) -> str:
        message = f"{name}\n{expires_at}\n{download_as}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, name: str, now: float | None = None, download_as: str = "") -> tuple[int, str]:
        """Return (expires_at, signature) for a URL to `name` issued at `now`.

        `download_as`, when given, is a file name the URL serves the blob as an attachment under;
        it is covered by the signature so nobody can change it.
        """
        expires_at = int(now if now is not None else time.time()) + self.ttl_seconds
        return expires_at, self._signature(name, expires_at, download_as)

    def verify(
        self,
        name: str,
        expires_at: str,
        signature: str,
        now: float | None = None,
        download_as: str = "",
    ) -> bool:
        """Whether the signature is genuine and not yet expired (constant-time compare)."""
        try:
            expiry = int(expires_at)
        except (TypeError, ValueError):
            return False
        expected = self._signature(name, expiry, download_as)
        if not hmac.compare_digest(expected.encode(), (signature or "").encode()):
            return False
        return (now if now is not None else time.time()) < expiry
