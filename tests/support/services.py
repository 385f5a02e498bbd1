"""Services that run on this machine (Redis), and what a test does when one is missing."""

from __future__ import annotations

import os

import pytest
import redis

__all__ = ["REDIS_URL", "redis_or_skip"]

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def redis_or_skip(needed_for: str) -> None:
    """Skip without Redis on a developer's machine; under CI, its absence is a failure."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{needed_for} needs Redis at {REDIS_URL} under CI: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
