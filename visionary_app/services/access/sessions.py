"""Optional access control: a shared password or a list of users, and signed session tokens.

With neither configured the app is open, as it always was. A user's password may be given as
an argon2 hash (`python -m visionary_app hash-password`) or, flagged in the log, as plain
text; either is checked in constant time, and an unknown name costs the same as a wrong
password. A successful sign-in gets a token `<session id>.<principal>.<expiry>.<password
tag>.<HMAC>`: the browser keeps it in an HttpOnly cookie (no page script reads it), the server
checks it on every event, and no password or key ever leaves the server. The password tag is
derived from the user's current password (or its hash), so changing a password ends every
session signed in with the old one; the session id names a row on the server
(`SessionStore`), so signing out ends the session for every copy of the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, field
from functools import cached_property

from pwdlib import PasswordHash

__all__ = [
    "SESSION_COOKIE",
    "SHARED",
    "VISITOR_COOKIE",
    "AccessControl",
    "Claims",
    "hash_password",
    "is_password_hash",
]

logger = logging.getLogger(__name__)

# The cookies, both HttpOnly: the session's token, and a visitor's random id.
SESSION_COOKIE = "visionary_session"
VISITOR_COOKIE = "visionary_visitor"
# The principal of everyone who knows the shared password (each browser is its own user).
SHARED = "shared"
_HASHER = PasswordHash.recommended()  # argon2id


def hash_password(password: str) -> str:
    """An argon2id hash of `password`, for VISIONARY_ACCESS_USERS."""
    return _HASHER.hash(password)


def is_password_hash(value: str) -> bool:
    """Whether a configured password is a hash (argon2) rather than the password itself."""
    return value.startswith("$argon2")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Claims:
    """What a valid token says.

    Who, whether the identity provider made them an admin, which session (a row on the
    server), and until when.
    """

    principal: str
    admin_by_claim: bool
    session_id: str
    expires: int


@dataclass
class AccessControl:
    """Who may use the app, and the key that signs their session tokens."""

    key: bytes
    shared_password: str | None = None
    users: dict[str, str] = field(default_factory=dict)  # name -> password or its hash
    session_seconds: int = 12 * 3600
    single_sign_on: bool = False  # an OpenID Connect provider signs people in

    def __post_init__(self) -> None:
        plain = sorted(name for name, value in self.users.items() if not is_password_hash(value))
        if plain:
            logger.warning(
                "passwords of %s are configured in plain text; store hashes instead "
                "(python -m visionary_app hash-password)",
                ", ".join(plain),
            )

    @cached_property
    def _dummy_hash(self) -> str:
        return hash_password("\x00no such user")

    @property
    def enabled(self) -> bool:
        """Whether signing in is required at all."""
        return bool(self.shared_password or self.users or self.single_sign_on)

    @property
    def asks_for_name(self) -> bool:
        """Whether the sign-in form needs a user name (a list of users is configured)."""
        return bool(self.users)

    def check(self, name: str, password: str) -> str | None:
        """The principal these credentials sign in as, or None. Constant time per attempt."""
        if self.users:
            wanted = name.strip().lower()
            known = self.users.get(wanted)
            matched = _matches(password, known if known is not None else self._dummy_hash)
            return f"user:{wanted}" if matched and known is not None else None
        if self.shared_password:
            matched = hmac.compare_digest(_digest(password), _digest(self.shared_password))
            return SHARED if matched else None
        return None

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode("utf-8"), hashlib.sha256).digest())

    def _password_tag(self, principal: str) -> str | None:
        """A short tag of the principal's current password; None if they cannot sign in."""
        if principal == SHARED:
            secret = self.shared_password if not self.users else None
        else:
            secret = self.users.get(principal.removeprefix("user:"))
        if not secret:
            return None
        return self._signature(f"password\x00{principal}\x00{secret}")[:16]

    def _sign_on_tag(self, principal: str, admin: bool) -> str:
        """The tag of a session the identity provider vouched for (admin or not)."""
        return self._signature(f"single sign-on\x00{principal}\x00{admin}")[:16]

    def issue(
        self,
        principal: str,
        now: float | None = None,
        *,
        single_sign_on_admin: bool | None = None,
        session_id: str | None = None,
    ) -> str:
        """A session token for `principal`, valid for `session_seconds`.

        `single_sign_on_admin` is given for a session from the identity provider: whether its
        claims made the person an admin. `session_id` (random if not given) names the
        session's row on the server.
        """
        expires = int((now if now is not None else time.time()) + self.session_seconds)
        if single_sign_on_admin is not None:
            tag = self._sign_on_tag(principal, single_sign_on_admin)
        else:
            tag = self._password_tag(principal) or ""
        session_id = session_id or secrets.token_urlsafe(16)
        payload = f"{session_id}.{_b64(principal.encode('utf-8'))}.{expires}.{tag}"
        return f"{payload}.{self._signature(payload)}"

    def verify(self, token: str, now: float | None = None) -> str | None:
        """The principal of a valid, unexpired token, or None.

        A token stops working when it expires, when the key changes, when its user is removed
        from the list (or the shared password is switched off), when their password changes,
        and (single sign-on) when single sign-on is switched off. Whether its session was
        ended is the `SessionStore`'s to say.
        """
        claims = self.claims(token, now)
        return claims.principal if claims is not None else None

    def claims(self, token: str, now: float | None = None) -> Claims | None:
        """What a valid token says, or None."""
        try:
            session_id, encoded, expires_text, tag, signature = token.split(".")
            payload = f"{session_id}.{encoded}.{expires_text}.{tag}"
            if not session_id or not hmac.compare_digest(signature, self._signature(payload)):
                return None
            expires = int(expires_text)
            if expires < (now if now is not None else time.time()):
                return None
            padded = encoded + "=" * (-len(encoded) % 4)
            principal = base64.urlsafe_b64decode(padded).decode("utf-8")
        except (ValueError, UnicodeError):
            return None
        current = self._password_tag(principal)
        if current is not None and hmac.compare_digest(tag, current):
            return Claims(principal, False, session_id, expires)
        if self.single_sign_on and principal.startswith("user:"):
            for admin in (False, True):
                if hmac.compare_digest(tag, self._sign_on_tag(principal, admin)):
                    return Claims(principal, admin, session_id, expires)
        return None


def _matches(password: str, stored: str) -> bool:
    if is_password_hash(stored):
        try:
            return _HASHER.verify(password, stored)
        except ValueError:  # a damaged hash in the settings
            logger.error("a configured password hash cannot be read")
            return False
    return hmac.compare_digest(_digest(password), _digest(stored))
