"""Optional access control: a shared password or a list of users, and signed session tokens.

With neither configured the app is open, as it always was. Passwords are compared in
constant time (and an unknown name costs the same as a wrong password). A successful sign-in
gets a token `<principal>.<expiry>.<HMAC>`: the browser keeps it in a cookie, the server
checks it on every event, and no password or key ever leaves the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

__all__ = ["SHARED", "AccessControl"]

# The principal of everyone who knows the shared password (each browser is its own user).
SHARED = "shared"


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass
class AccessControl:
    """Who may use the app, and the key that signs their session tokens."""

    key: bytes
    shared_password: str | None = None
    users: dict[str, str] = field(default_factory=dict)
    session_seconds: int = 12 * 3600

    @property
    def enabled(self) -> bool:
        """Whether signing in is required at all."""
        return bool(self.shared_password or self.users)

    @property
    def asks_for_name(self) -> bool:
        """Whether the sign-in form needs a user name (a list of users is configured)."""
        return bool(self.users)

    def check(self, name: str, password: str) -> str | None:
        """The principal these credentials sign in as, or None. Constant time per attempt."""
        offered = _digest(password)
        if self.users:
            known = self.users.get(name.strip().lower())
            # An unknown name is compared against a dummy so that it takes as long.
            expected = _digest(known if known is not None else "\x00unknown user")
            matched = hmac.compare_digest(offered, expected)
            return f"user:{name.strip().lower()}" if matched and known is not None else None
        if self.shared_password:
            matched = hmac.compare_digest(offered, _digest(self.shared_password))
            return SHARED if matched else None
        return None

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode("utf-8"), hashlib.sha256).digest())

    def issue(self, principal: str, now: float | None = None) -> str:
        """A session token for `principal`, valid for `session_seconds`."""
        expires = int((now if now is not None else time.time()) + self.session_seconds)
        payload = f"{_b64(principal.encode('utf-8'))}.{expires}"
        return f"{payload}.{self._signature(payload)}"

    def verify(self, token: str, now: float | None = None) -> str | None:
        """The principal of a valid, unexpired token, or None.

        A token stops working when it expires, when the key changes, and when its user is
        removed from the list (or the shared password is switched off).
        """
        try:
            encoded, expires_text, signature = token.split(".")
            payload = f"{encoded}.{expires_text}"
            if not hmac.compare_digest(signature, self._signature(payload)):
                return None
            if int(expires_text) < (now if now is not None else time.time()):
                return None
            padded = encoded + "=" * (-len(encoded) % 4)
            principal = base64.urlsafe_b64decode(padded).decode("utf-8")
        except (ValueError, UnicodeError):
            return None
        if principal == SHARED:
            return principal if self.shared_password and not self.users else None
        name = principal.removeprefix("user:")
        return principal if name in self.users else None
