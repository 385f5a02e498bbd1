"""What was spent: by day, user, team, provider and model, for the usage page and the API.

A job's spend is what budgets count: its cost once it ended, its estimate while it runs.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import GenerationJob
from visionary_app.services.access.teams import teams_in
from visionary_app.services.kit.database import in_session
from visionary_app.services.limits.budgets import USER_PREFIX, Budgets
from visionary_app.services.limits.image_limits import QueueUnavailable

__all__ = ["SpendLedger", "SpendReport"]

T = TypeVar("T")
_SPEND = sa.func.coalesce(col(GenerationJob.cost_micros), col(GenerationJob.estimated_micros))


@dataclass(frozen=True)
class SpendReport:
    """Spend in micro-dollars since `since`, each list largest first (days oldest first)."""

    since: datetime
    days: list[tuple[str, int]]
    by_user: list[tuple[str, int]]
    by_team: list[tuple[str, int]]
    by_provider: list[tuple[str, int]]
    by_model: list[tuple[str, int]]
    total: int

    def csv(self) -> str:
        """Every figure as CSV rows: dimension, key, usd."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["dimension", "key", "usd"])
        for dimension in ("days", "by_user", "by_team", "by_provider", "by_model"):
            for key, micros in getattr(self, dimension):
                writer.writerow([dimension.removeprefix("by_"), key, f"{micros / 1e6:.6f}"])
        writer.writerow(["total", "", f"{self.total / 1e6:.6f}"])
        return out.getvalue()


def _largest_first(totals: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


class SpendLedger:
    """Reads the jobs' money back out of the index database."""

    def __init__(self, engine: sa.Engine, budgets: Budgets, default_model: str) -> None:
        self._engine = engine
        self.budgets = budgets
        self.default_model = default_model

    async def _run(self, work: Callable[[Session], T]) -> T:
        def failure(error: str) -> QueueUnavailable:
            return QueueUnavailable(f"the spend could not be read: {error}")

        return await in_session(self._engine, work, failure)

    async def report(self, *, owner: str | None, now: datetime, days: int = 30) -> SpendReport:
        """The last `days` days' spend: of one owner, or (None) of everyone."""
        since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        query = select(
            GenerationJob.created_at, GenerationJob.owner, GenerationJob.model, _SPEND
        ).where(col(GenerationJob.created_at) >= since, _SPEND > 0)
        if owner is not None:
            query = query.where(col(GenerationJob.owner) == owner)

        def read(session: Session) -> tuple[list, Budgets]:
            return list(session.exec(query)), self.budgets.with_teams(teams_in(session))

        rows, budgets = await self._run(read)
        by_day = {(since + timedelta(days=i)).date().isoformat(): 0 for i in range(days)}
        users: dict[str, int] = defaultdict(int)
        teams: dict[str, int] = defaultdict(int)
        providers: dict[str, int] = defaultdict(int)
        models: dict[str, int] = defaultdict(int)
        for created_at, job_owner, model, micros in rows:
            day = created_at.date().isoformat()
            if day in by_day:
                by_day[day] += micros
            users[job_owner] += micros
            for team in budgets.teams_of(job_owner):
                teams[team] += micros
            key = model or self.default_model
            providers[key.partition("/")[0]] += micros
            models[key] += micros
        return SpendReport(
            since=since,
            days=list(by_day.items()),
            by_user=_largest_first({k.removeprefix(USER_PREFIX): v for k, v in users.items()}),
            by_team=_largest_first(teams),
            by_provider=_largest_first(providers),
            by_model=_largest_first(models),
            total=sum(micros for *_, micros in rows),
        )
