"""Budgets in money: per user, per team, for all visitors together and for the whole app.

A job's spend is its cost once it ended, and its estimate until then (the reservation). The
check runs when a job is submitted, in the transaction that inserts its row while the queue's
lock is held, so jobs submitted at once on any number of workers can never spend past a budget.
Budgets run by the calendar in UTC: a day from midnight, a month from its first day.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import GenerationJob
from visionary_app.services.access.ownership import ANONYMOUS_PREFIX
from visionary_app.services.access.teams import teams_in
from visionary_app.services.limits.image_limits import LimitReached
from visionary_app.services.limits.prices import MICROS, format_usd

__all__ = ["BudgetLeft", "Budgets", "budget_refusal", "budgets_left", "parse_team_budgets"]

USER_PREFIX = "user:"
# What a job counts against a budget: what it cost once ended, its estimate until then.
_SPEND = sa.func.coalesce(col(GenerationJob.cost_micros), col(GenerationJob.estimated_micros))


@dataclass(frozen=True)
class Budgets:
    """Limits in micro-dollars (0: none). Teams are sets of user names."""

    user_per_day: int = 0
    user_per_month: int = 0
    app_per_day: int = 0
    app_per_month: int = 0
    visitors_per_day: int = 0
    teams: dict[str, frozenset[str]] = field(default_factory=dict)
    team_per_day: dict[str, int] = field(default_factory=dict)
    team_per_month: dict[str, int] = field(default_factory=dict)

    def with_teams(self, recorded: dict[str, frozenset[str]]) -> Budgets:
        """These budgets, their teams joined by those recorded from single sign-on."""
        if not recorded:
            return self
        teams = dict(self.teams)
        for team, members in recorded.items():
            teams[team] = teams.get(team, frozenset()) | members
        return replace(self, teams=teams)

    def teams_of(self, owner: str) -> list[str]:
        """The teams an owner (`user:<name>`) is in."""
        if not owner.startswith(USER_PREFIX):
            return []
        name = owner.removeprefix(USER_PREFIX).lower()
        return sorted(team for team, members in self.teams.items() if name in members)

    @property
    def any(self) -> bool:
        """Whether any budget is set."""
        return bool(
            self.user_per_day or self.user_per_month or self.app_per_day
            or self.app_per_month or self.visitors_per_day or self.team_per_day
            or self.team_per_month
        )  # fmt: skip


@dataclass(frozen=True)
class BudgetLeft:
    """One budget as its owner sees it."""

    label: str  # "your daily budget", "team design's monthly budget", ...
    limit: int
    spent: int
    resets_at: datetime

    @property
    def left(self) -> int:
        """What may still be spent (never below 0)."""
        return max(0, self.limit - self.spent)


def _window(now: datetime, period: str) -> tuple[datetime, datetime]:
    """The start of the day or month `now` is in, and when the next one starts (UTC)."""
    now = now.astimezone(UTC)
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def _checks(budgets: Budgets, owner: str) -> list[tuple[str, int, str, object]]:
    """(label, limit, period, who) for every budget that applies to `owner`."""
    checks: list[tuple[str, int, str, object]] = []
    mine = col(GenerationJob.owner) == owner
    if owner.startswith(ANONYMOUS_PREFIX):
        visitors = col(GenerationJob.owner).startswith(ANONYMOUS_PREFIX)
        checks.append(("the visitors' shared daily budget", budgets.visitors_per_day, "day",
                       visitors))  # fmt: skip
    else:
        checks += [("your daily budget", budgets.user_per_day, "day", mine),
                   ("your monthly budget", budgets.user_per_month, "month", mine)]  # fmt: skip
    for team in budgets.teams_of(owner):
        members = [USER_PREFIX + name for name in sorted(budgets.teams[team])]
        in_team = col(GenerationJob.owner).in_(members)
        checks += [
            (f"team {team}'s daily budget", budgets.team_per_day.get(team, 0), "day", in_team),
            (f"team {team}'s monthly budget", budgets.team_per_month.get(team, 0), "month",
             in_team),
        ]  # fmt: skip
    checks += [("the studio's daily budget", budgets.app_per_day, "day", None),
               ("the studio's monthly budget", budgets.app_per_month, "month", None)]  # fmt: skip
    return [check for check in checks if check[1] > 0]


def _spent(session: Session, who, since: datetime) -> int:
    query = select(sa.func.coalesce(sa.func.sum(_SPEND), 0)).where(
        col(GenerationJob.created_at) >= since
    )
    if who is not None:
        query = query.where(who)
    return int(session.exec(query).one())


def budgets_left(session: Session, budgets: Budgets, owner: str, now: datetime) -> list[BudgetLeft]:
    """Every budget that applies to `owner`, with what is spent and reserved in it.

    Teams are those of the settings and those single sign-on recorded.
    """
    if budgets.team_per_day or budgets.team_per_month:
        budgets = budgets.with_teams(teams_in(session))
    found = []
    for label, limit, period, who in _checks(budgets, owner):
        start, resets = _window(now, period)
        found.append(BudgetLeft(label, limit, _spent(session, who, start), resets))
    return found


def budget_refusal(
    session: Session, budgets: Budgets, owner: str, now: datetime, cost: int
) -> LimitReached | None:
    """Why a job just added to `session` (its estimate, `cost`, reserved) would pass a budget."""
    for budget in budgets_left(session, budgets, owner, now):
        if budget.spent <= budget.limit:
            continue
        left = max(0, budget.limit - (budget.spent - cost))
        soon = budget.resets_at - now <= timedelta(days=1)
        when = f"{budget.resets_at:%H:%M} UTC" if soon else f"{budget.resets_at:%Y-%m-%d} UTC"
        return LimitReached(
            f"Not generated: this would pass {budget.label} of {format_usd(budget.limit)} "
            f"({format_usd(left)} left; this costs about {format_usd(cost)}). "
            f"It resets at {when}.",
            budget.resets_at,
        )
    return None


def parse_team_budgets(teams: str, budgets: str) -> tuple[dict, dict, dict]:
    """`design:alice,bob;ops:carol` and `design:20/day,200/month` as (teams, daily, monthly).

    Amounts are dollars. Raises ValueError naming what is wrong.
    """
    members: dict[str, frozenset[str]] = {}
    for entry in filter(None, (part.strip() for part in teams.split(";"))):
        team, separator, names = entry.partition(":")
        if not separator or not team.strip():
            msg = "VISIONARY_TEAMS must look like design:alice,bob;ops:carol"
            raise ValueError(msg)
        members[team.strip()] = frozenset(
            name.strip().lower() for name in names.split(",") if name.strip()
        )
    daily: dict[str, int] = {}
    monthly: dict[str, int] = {}
    for entry in filter(None, (part.strip() for part in budgets.split(";"))):
        team, _, amounts = entry.partition(":")
        for amount in filter(None, (piece.strip() for piece in amounts.split(","))):
            value, _, period = amount.partition("/")
            try:
                micros = round(float(value) * MICROS)
            except ValueError:
                micros = -1
            if micros < 0 or period not in ("day", "month"):
                msg = "VISIONARY_TEAM_BUDGETS must look like design:20/day,200/month;ops:5/day"
                raise ValueError(msg)
            (daily if period == "day" else monthly)[team.strip()] = micros
    return members, daily, monthly
