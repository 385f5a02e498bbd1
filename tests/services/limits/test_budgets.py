"""Budgets in money, held in the database: per user, team, visitors and app, across workers."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from visionary_app.models import JobStatus
from visionary_app.services.access.teams import TeamDirectory
from visionary_app.services.gallery.catalog import make_index_engine
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.generation.queue import JobQueue
from visionary_app.services.limits.budgets import Budgets, parse_team_budgets
from visionary_app.services.limits.image_limits import JobLimits, LimitReached

ONE = ImageOptions(size="256x256")
NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
CENT = 10_000  # micro-dollars


@pytest.fixture
def make_queue(db_url):
    """Queues on their own engines, as separate workers would have, at noon UTC."""
    engines: list[sa.Engine] = []

    def make(budgets: Budgets) -> JobQueue:
        engine = make_index_engine(db_url)
        engines.append(engine)
        return JobQueue(engine, JobLimits(max_concurrent=100, max_running_per_owner=100),
                        clock=lambda: NOON, budgets=budgets)  # fmt: skip

    yield make
    for engine in engines:
        engine.dispose()


async def test_cheap_jobs_go_through_until_the_budget_is_used(make_queue):
    queue = make_queue(Budgets(user_per_day=10 * CENT))
    for _ in range(3):
        await queue.submit("user:alice", "a fox", ONE, estimated_micros=3 * CENT)
    with pytest.raises(LimitReached) as refused:
        await queue.submit("user:alice", "a big one", ONE, estimated_micros=2 * CENT)
    message = str(refused.value)
    assert "your daily budget of $0.10" in message and "$0.01 left" in message
    assert "resets at 00:00 UTC" in message
    assert refused.value.retry_at == datetime(2026, 12, 5, tzinfo=UTC)
    await queue.submit("user:alice", "a small one", ONE, estimated_micros=1 * CENT)  # fits
    await queue.submit("user:bob", "bob's own budget", ONE, estimated_micros=9 * CENT)
    (left,) = await queue.budgets_left("user:alice")
    assert (left.spent, left.left) == (10 * CENT, 0)


async def test_the_settled_cost_replaces_the_reservation(make_queue):
    queue = make_queue(Budgets(user_per_day=10 * CENT))
    cancelled = await queue.submit("user:alice", "never ran", ONE, estimated_micros=8 * CENT)
    assert await queue.cancel(cancelled.id, "user:alice")  # before it started: costs nothing
    job = await queue.submit("user:alice", "ran", ONE, estimated_micros=8 * CENT)
    assert [claimed.id for claimed in await queue.claim(10)] == [job.id]
    await queue.finish(job.id, JobStatus.SUCCEEDED, cost_micros=3 * CENT)  # cheaper than feared
    (left,) = await queue.budgets_left("user:alice")
    assert left.spent == 3 * CENT
    await queue.submit("user:alice", "fits now", ONE, estimated_micros=7 * CENT)


async def test_visitors_teams_and_the_whole_studio(make_queue):
    teams, daily, monthly = parse_team_budgets("design:alice,bob", "design:0.10/day,1/month")
    queue = make_queue(Budgets(visitors_per_day=5 * CENT, teams=teams, team_per_day=daily,
                               team_per_month=monthly, app_per_month=30 * CENT))  # fmt: skip
    await queue.submit("visitor:one", "x", ONE, estimated_micros=3 * CENT)
    with pytest.raises(LimitReached, match="visitors' shared daily budget"):
        await queue.submit("visitor:two", "x", ONE, estimated_micros=3 * CENT)
    await queue.submit("user:alice", "x", ONE, estimated_micros=6 * CENT)
    with pytest.raises(LimitReached, match="team design's daily budget"):
        await queue.submit("user:bob", "x", ONE, estimated_micros=6 * CENT)
    await queue.submit("user:carol", "x", ONE, estimated_micros=20 * CENT)
    with pytest.raises(
        LimitReached, match=r"the studio's monthly budget of \$0\.30.*2027-01-01 UTC"
    ):
        await queue.submit("user:carol", "x", ONE, estimated_micros=2 * CENT)


async def test_many_jobs_at_once_on_two_workers_never_spend_past_a_budget(make_queue):
    budget = 50 * CENT
    here, there = make_queue(Budgets(user_per_day=budget)), make_queue(Budgets(user_per_day=budget))
    rng = random.Random(7)
    estimates = [rng.randrange(1, 8) * CENT for _ in range(40)]

    async def attempt(index: int, estimate: int):
        queue = (here, there)[index % 2]
        try:
            return await queue.submit("user:alice", f"job {index}", ONE, estimated_micros=estimate)
        except LimitReached:
            return None

    accepted = [job for job in await asyncio.gather(
        *(attempt(i, e) for i, e in enumerate(estimates))) if job]  # fmt: skip
    reserved = sum(job.estimated_micros for job in accepted)
    assert reserved <= budget < reserved + max(estimates)  # full up to the last that fits
    (left,) = await here.budgets_left("user:alice")
    assert left.spent == reserved


def test_team_settings_are_checked():
    assert parse_team_budgets("", "") == ({}, {}, {})
    with pytest.raises(ValueError, match="VISIONARY_TEAMS"):
        parse_team_budgets("design", "")
    with pytest.raises(ValueError, match="VISIONARY_TEAM_BUDGETS"):
        parse_team_budgets("design:alice", "design:lots/week")


async def test_teams_from_single_sign_on_share_their_budget(make_queue):
    queue = make_queue(Budgets(team_per_day={"design": 10 * CENT}))
    directory = TeamDirectory(queue._engine)
    await directory.record("alice", ["design"])
    await directory.record("bob", ["design", "ops"])
    await queue.submit("user:alice", "x", ONE, estimated_micros=6 * CENT)
    with pytest.raises(LimitReached, match="team design's daily budget"):
        await queue.submit("user:bob", "x", ONE, estimated_micros=6 * CENT)
    await directory.record("bob", ["ops"])  # left the team at his next sign-in
    await queue.submit("user:bob", "x", ONE, estimated_micros=6 * CENT)
