"""Sign-in attempts are counted per name and address, per address, per name and overall,
shared by every worker through Redis, so guessing is slow and nobody is locked out."""

from __future__ import annotations

import uuid

import pytest

from tests.support.services import REDIS_URL, redis_or_skip
from visionary_app.services.access import sign_in_limits
from visionary_app.services.access.sign_in_limits import SignInLimiter, SignInUnavailable, Verdict


async def test_a_name_gets_a_few_tries_from_one_address_then_waits():
    limiter = SignInLimiter(per_minute=3, per_hour=10)
    assert [await limiter.attempt("Alice", "10.0.0.1") for _ in range(3)] == [Verdict()] * 3
    refused = await limiter.attempt("alice", "10.0.0.1")  # names are case-insensitive
    assert refused.wait is not None and 1 <= refused.wait <= 60
    # The owner, from her own address, is not kept out; another name is not either.
    assert await limiter.attempt("alice", "192.0.2.7") == Verdict()
    assert await limiter.attempt("bob", "10.0.0.1") == Verdict()


async def test_one_address_cannot_spray_every_name(monkeypatch):
    monkeypatch.setattr(sign_in_limits, "PER_ADDRESS", (sign_in_limits.parse("4/minute"),))
    limiter = SignInLimiter()
    outcomes = [await limiter.attempt(f"user{i}", "10.0.0.9") for i in range(5)]
    assert outcomes[:4] == [Verdict()] * 4 and outcomes[4].wait is not None
    assert await limiter.attempt("user9", "10.0.0.10") == Verdict()


async def test_a_name_under_attack_is_slowed_not_refused_and_spends_nobody_elses_budget(
    monkeypatch,
):
    monkeypatch.setattr(sign_in_limits, "OVERALL", (sign_in_limits.parse("6/minute"),))
    limiter = SignInLimiter(per_name_per_hour=3)
    attack = [await limiter.attempt("alice", f"203.0.113.{i}") for i in range(10)]
    assert attack[:3] == [Verdict()] * 3
    assert all(verdict == Verdict(slow=True) for verdict in attack[3:])
    # Alice from a fresh address: slowed like the attackers, but never refused.
    assert await limiter.attempt("alice", "198.51.100.1") == Verdict(slow=True)
    # Ten attempts at alice took 3 of the overall 6: everyone else still signs in.
    assert [await limiter.attempt(f"user{i}", f"198.51.100.{i + 2}") for i in range(3)] == [
        Verdict()
    ] * 3
    assert (await limiter.attempt("user9", "198.51.100.99")).wait is not None


async def test_workers_share_the_count_through_redis():
    redis_or_skip("sharing sign-in limits")
    name = f"mallory-{uuid.uuid4().hex[:8]}"  # a fresh name: Redis outlives the test
    workers = [SignInLimiter(REDIS_URL, per_minute=4, per_hour=10) for _ in range(2)]
    outcomes = [await workers[i % 2].attempt(name, "10.1.1.1") for i in range(5)]
    assert outcomes[:4] == [Verdict()] * 4 and outcomes[4].wait is not None


async def test_an_unreachable_counter_lets_nobody_in_unchecked():
    limiter = SignInLimiter("redis://127.0.0.1:1/0")
    with pytest.raises(SignInUnavailable):
        await limiter.attempt("alice", "10.0.0.1")
