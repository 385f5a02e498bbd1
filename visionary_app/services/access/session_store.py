"""Sessions on the server: one row per signed-in browser, so that signing out really ends it.

A token (see sessions.py) is checked in two steps: its signature, expiry and password tag
here and now, then its row: a session that was ended (signed out, signed out everywhere, or
ended by an admin) opens nothing, whoever holds a copy of the cookie. Rows are read at most
once a second per session on each worker (`recheck_s`), so an event costs no query; an end
on this worker is seen here at once, and on the others within that second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import UserSession
from visionary_app.services.access.sessions import AccessControl, Claims
from visionary_app.services.kit.database import in_session, in_session_now

__all__ = ["SessionStore", "SessionsUnavailable"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
_CACHE_LIMIT = 20_000
# Ended and expired rows are kept this long (a record of who was signed in), then removed.
_KEEP_ENDED = timedelta(days=30)


class SessionsUnavailable(Exception):
    """The session table could not be read or written."""


class SessionStore:
    """Opens, checks and ends sessions; tokens from `access`, rows in `engine`'s database."""

    def __init__(
        self,
        engine: sa.Engine,
        access: AccessControl,
        *,
        recheck_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self.access = access
        self.recheck_s = recheck_s
        self._clock = clock
        self._alive: dict[str, tuple[float, bool]] = {}  # session id -> (read at, alive)

    async def _run(self, work: Callable[[Session], T]) -> T:
        return await in_session(self._engine, work, SessionsUnavailable)

    async def open(
        self, principal: str, *, single_sign_on_admin: bool | None = None, client: str = ""
    ) -> str:
        """A new session for `principal` (its row written first); the token for the cookie."""
        now = self._clock()
        token = self.access.issue(principal, now, single_sign_on_admin=single_sign_on_admin)
        claims = self.access.claims(token, now)
        assert claims is not None  # just issued
        created = datetime.fromtimestamp(now, UTC)

        def work(session: Session) -> None:
            session.add(
                UserSession(
                    id=claims.session_id, principal=principal, created_at=created,
                    expires_at=datetime.fromtimestamp(claims.expires, UTC),
                    client=client[:64] or None,
                )
            )  # fmt: skip
            session.exec(
                sa.delete(UserSession).where(col(UserSession.expires_at) < created - _KEEP_ENDED)
            )
            session.commit()

        await self._run(work)
        self._alive[claims.session_id] = (now, True)
        return token

    def _read_alive(self, session_id: str) -> bool:
        def work(session: Session) -> bool:
            row = session.get(UserSession, session_id)
            return row is not None and row.ended_at is None

        return in_session_now(self._engine, work, SessionsUnavailable)

    def _remember(self, session_id: str, alive: bool) -> None:
        if len(self._alive) > _CACHE_LIMIT:
            self._alive.clear()
        self._alive[session_id] = (self._clock(), alive)

    def _fresh(self, session_id: str) -> bool | None:
        known = self._alive.get(session_id)
        if known is not None and self._clock() - known[0] < self.recheck_s:
            return known[1]
        return None

    def check_now(self, token: str) -> Claims | None:
        """The claims of a token whose session is open, or None (blocks on a row read)."""
        claims = self.access.claims(token)
        if claims is None:
            return None
        alive = self._fresh(claims.session_id)
        if alive is None:
            try:
                alive = self._read_alive(claims.session_id)
            except SessionsUnavailable as exc:
                logger.error("could not read session %s…: %s", claims.session_id[:6], exc)
                return None
            self._remember(claims.session_id, alive)
        return claims if alive else None

    async def check(self, token: str) -> Claims | None:
        """`check_now`, with the row read off the event loop."""
        claims = self.access.claims(token)
        if claims is None:
            return None
        if self._fresh(claims.session_id) is None:
            return await asyncio.to_thread(self.check_now, token)
        return self.check_now(token)

    async def end(self, token: str) -> bool:
        """End the token's session (signing out); False if it was not open."""
        claims = self.access.claims(token)
        if claims is None:
            return False
        ended = await self._end(col(UserSession.id) == claims.session_id)
        self._remember(claims.session_id, False)
        return ended > 0

    async def end_all(self, principal: str) -> int:
        """End every open session of `principal` (everywhere, or an admin's doing); how many."""
        ended = await self._end(col(UserSession.principal) == principal)
        self._alive.clear()  # rather than look up which were theirs
        return ended

    async def _end(self, condition) -> int:
        now = datetime.fromtimestamp(self._clock(), UTC)

        def work(session: Session) -> int:
            result = session.exec(
                sa.update(UserSession)
                .where(condition, col(UserSession.ended_at).is_(None))
                .values(ended_at=now)
            )
            session.commit()
            return result.rowcount

        return await self._run(work)

    async def open_sessions(self, principal: str) -> list[UserSession]:
        """The principal's sessions that are open now, newest first."""
        now = datetime.fromtimestamp(self._clock(), UTC)

        def work(session: Session) -> list[UserSession]:
            query = select(UserSession).where(
                col(UserSession.principal) == principal,
                col(UserSession.ended_at).is_(None),
                col(UserSession.expires_at) > now,
            )
            return list(session.exec(query.order_by(col(UserSession.created_at).desc())).all())

        return await self._run(work)
