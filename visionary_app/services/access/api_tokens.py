"""Personal API tokens: made by signed-in users, shown once, kept only as a SHA-256 digest.

A request with a token acts as the token's owner, within the token's scopes, under the same
limits and permissions as in the browser. Tokens are long random strings, so one hash
suffices (no salt or slow hash is needed for 256 bits of entropy), and it can be looked up by
an index. With sign-in off there are no users to own tokens: the API then takes only the
tokens an admin configured (`VISIONARY_API_TOKENS`), and with none it is closed to everyone.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import ApiToken
from visionary_app.services.access.ownership import Viewer
from visionary_app.services.kit.database import in_session

__all__ = [
    "SCOPES",
    "ApiTokens",
    "TokenHolder",
    "TokenRefused",
    "TokensUnavailable",
    "parse_configured_tokens",
]

T = TypeVar("T")
SCOPES = ("read", "generate", "delete")
_PREFIX = "vai_"
_MAX_PER_OWNER = 50
_MIN_CONFIGURED_CHARS = 32
# A token's "last used" is written at most this often (not on every request).
_USE_GRANULARITY = timedelta(minutes=1)


class TokenRefused(ValueError):
    """A token cannot be made as asked; the message is for the user."""


class TokensUnavailable(Exception):
    """The token table could not be read or written."""


@dataclass(frozen=True)
class TokenHolder:
    """Who a request with a valid token acts as, and what it may do."""

    viewer: Viewer
    scopes: frozenset[str]
    token_id: uuid.UUID | None = None  # None for a token from the settings

    @property
    def owner(self) -> str:
        """The owner key jobs, images and limits are filed under."""
        return self.viewer.owner


def digest(token: str) -> str:
    """What is kept of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_configured_tokens(text: str) -> dict[str, str]:
    """`name=token` pairs (commas or new lines) as {digest: name}; tokens of 32+ characters."""
    tokens: dict[str, str] = {}
    for entry in text.replace("\n", ",").split(","):
        if not entry.strip():
            continue
        name, separator, token = entry.strip().partition("=")
        if not separator or not name.strip() or len(token.strip()) < _MIN_CONFIGURED_CHARS:
            msg = (
                "API tokens must look like name=token, separated by commas, each token at "
                f"least {_MIN_CONFIGURED_CHARS} characters (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`)"
            )
            raise ValueError(msg)
        tokens[digest(token.strip())] = name.strip().lower()
    return tokens


class ApiTokens:
    """Makes, lists, revokes and checks API tokens."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        users_may_have_tokens: bool,
        configured: dict[str, str] | None = None,
        admins: frozenset[str] = frozenset(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self.users_may_have_tokens = users_may_have_tokens
        self._configured = configured or {}
        self._admins = admins
        self._clock = clock

    @property
    def enabled(self) -> bool:
        """Whether any token can work at all (else the API answers 401 to everything)."""
        return self.users_may_have_tokens or bool(self._configured)

    async def _run(self, work: Callable[[Session], T]) -> T:
        def failure(error: str) -> TokensUnavailable:
            return TokensUnavailable(f"API tokens could not be read or written: {error}")

        return await in_session(self._engine, work, failure)

    def _viewer(self, owner: str) -> Viewer:
        return Viewer(owner=owner, admin=owner.removeprefix("user:") in self._admins)

    async def create(
        self, owner: str, name: str, scopes: list[str] | tuple[str, ...]
    ) -> tuple[str, ApiToken]:
        """A new token for a signed-in user: (the token itself, shown once; its row)."""
        if not owner.startswith("user:") or not self.users_may_have_tokens:
            raise TokenRefused("Sign in with a named account to make API tokens.")
        name = " ".join(name.split())[:100]
        if not name:
            raise TokenRefused("Give the token a name, so you know it again.")
        chosen = [scope for scope in SCOPES if scope in set(scopes)]
        if not chosen:
            raise TokenRefused("Choose at least one scope: read, generate or delete.")
        token = _PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            owner=owner, name=name, digest=digest(token), scopes=" ".join(chosen),
            created_at=self._clock(),
        )  # fmt: skip

        def work(session: Session) -> ApiToken:
            held = session.exec(
                select(sa.func.count()).where(
                    col(ApiToken.owner) == owner, col(ApiToken.revoked_at).is_(None)
                )
            ).one()
            if held >= _MAX_PER_OWNER:
                raise TokenRefused(f"You have {_MAX_PER_OWNER} tokens; revoke one first.")
            session.add(row)
            session.commit()
            session.refresh(row)
            return row

        return token, await self._run(work)

    async def list(self, owner: str) -> list[ApiToken]:
        """The owner's tokens that still work, newest first."""
        query = (
            select(ApiToken)
            .where(col(ApiToken.owner) == owner, col(ApiToken.revoked_at).is_(None))
            .order_by(col(ApiToken.created_at).desc())
        )
        return await self._run(lambda session: list(session.exec(query)))

    async def revoke(self, owner: str, token_id: uuid.UUID) -> bool:
        """Revoke one of the owner's tokens; False if it is not theirs or already revoked."""
        now = self._clock()

        def work(session: Session) -> bool:
            result = session.exec(
                sa.update(ApiToken)
                .where(
                    col(ApiToken.id) == token_id,
                    col(ApiToken.owner) == owner,
                    col(ApiToken.revoked_at).is_(None),
                )
                .values(revoked_at=now)
            )
            session.commit()
            return result.rowcount == 1

        return await self._run(work)

    async def authenticate(self, token: str) -> TokenHolder | None:
        """Who the token acts for, or None if it is unknown, revoked, or tokens are off."""
        if not token:
            return None
        key = digest(token)
        name = self._configured.get(key)
        if name is not None:
            return TokenHolder(self._viewer(f"user:{name}"), frozenset(SCOPES))
        if not self.users_may_have_tokens or not token.startswith(_PREFIX):
            return None
        now = self._clock()

        def work(session: Session) -> ApiToken | None:
            row = session.exec(
                select(ApiToken).where(
                    col(ApiToken.digest) == key, col(ApiToken.revoked_at).is_(None)
                )
            ).first()
            if row is not None and (
                row.last_used_at is None or now - row.last_used_at >= _USE_GRANULARITY
            ):
                row.last_used_at = now
                session.add(row)
                session.commit()
                session.refresh(row)
            return row

        row = await self._run(work)
        if row is None:
            return None
        return TokenHolder(self._viewer(row.owner), frozenset(row.scopes.split()), row.id)
