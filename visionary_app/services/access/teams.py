"""Teams a user is in, as single sign-on's groups claim said at their last sign-in."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import TeamMember
from visionary_app.services.kit.database import in_session

__all__ = ["TeamDirectory", "TeamsUnavailable", "teams_in"]


class TeamsUnavailable(Exception):
    """The teams could not be recorded (the database did not answer)."""


def teams_in(session: Session) -> dict[str, frozenset[str]]:
    """Every team recorded from sign-ins, with its members' names."""
    found: dict[str, set[str]] = {}
    for user, team in session.exec(select(TeamMember.user, TeamMember.team)):
        found.setdefault(team, set()).add(user)
    return {team: frozenset(users) for team, users in found.items()}


class TeamDirectory:
    """Records each user's teams when they sign in (replacing what the last sign-in said)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    async def record(self, name: str, teams: Iterable[str]) -> None:
        """`name` is in exactly these teams from now on."""
        now = datetime.now(UTC)

        def work(session: Session) -> None:
            session.exec(sa.delete(TeamMember).where(col(TeamMember.user) == name))
            for team in sorted(set(teams)):
                session.add(TeamMember(user=name, team=team, updated_at=now))
            session.commit()

        await in_session(self._engine, work, lambda error: TeamsUnavailable(error))
