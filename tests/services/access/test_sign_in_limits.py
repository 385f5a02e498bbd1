"""Sign-in attempts are counted per name and overall, shared by every worker through Redis."""

from __future__ import annotations

import uuid

import pytest

from tests.support.services import REDIS_URL, redis_or_skip
from visionary_app.services.access.sign_in_limits import SignInLimiter, SignInUnavailable


async def test_a_name_gets_a_few_tries_then_waits():
    limiter = SignInLimiter(per_minute=3, per_hour=10)
    assert [await limiter.attempt("Alice") for _ in range(3)] == [None, None, None]
    wait = await limiter.attempt("alice")  # names are case-insensitive
    assert wait is not None and 1 <= wait <= 60
    assert await limiter.attempt("bob") is None


async def test_workers_share_the_count_through_redis():
    redis_or_skip("sharing sign-in limits")
    name = f"mallory-{uuid.uuid4().hex[:8]}"  # a fresh name: Redis outlives the test
    workers = [SignInLimiter(REDIS_URL, per_minute=4, per_hour=10) for _ in range(2)]
    outcomes = [await workers[i % 2].attempt(name) for i in range(5)]
    assert outcomes[:4] == [None] * 4 and outcomes[4] is not None


async def test_an_unreachable_counter_lets_nobody_in_unchecked():
    limiter = SignInLimiter("redis://127.0.0.1:1/0")
    with pytest.raises(SignInUnavailable):
        await limiter.attempt("alice")
