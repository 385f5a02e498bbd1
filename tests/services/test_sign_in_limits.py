"""Sign-in attempts are counted per name and overall, shared by every worker through Redis."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from visionary_app.services.sign_in_limits import SignInLimiter, SignInUnavailable

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"sign-in limits need Redis at {REDIS_URL} under CI: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")


async def test_a_name_gets_a_few_tries_then_waits():
    limiter = SignInLimiter(per_minute=3, per_hour=10)
    assert [await limiter.attempt("Alice") for _ in range(3)] == [None, None, None]
    wait = await limiter.attempt("alice")  # names are case-insensitive
    assert wait is not None and 1 <= wait <= 60
    assert await limiter.attempt("bob") is None


async def test_workers_share_the_count_through_redis():
    _redis_or_skip()
    name = f"mallory-{uuid.uuid4().hex[:8]}"  # a fresh name: Redis outlives the test
    workers = [SignInLimiter(REDIS_URL, per_minute=4, per_hour=10) for _ in range(2)]
    outcomes = [await workers[i % 2].attempt(name) for i in range(5)]
    assert outcomes[:4] == [None] * 4 and outcomes[4] is not None


async def test_an_unreachable_counter_lets_nobody_in_unchecked():
    limiter = SignInLimiter("redis://127.0.0.1:1/0")
    with pytest.raises(SignInUnavailable):
        await limiter.attempt("alice")
