"""Backends stopped under load, behind Caddy: every job succeeds, none doubled or orphaned.

The same runs as `make bench ARGS="chaos"` and `ARGS="chaos --rolling"`, smaller: ten tabs on
two backends (Redis and PostgreSQL). One backend killed with SIGKILL while it runs jobs (they
run once more on the other), or each restarted in turn with SIGTERM (each drains).
"""

from __future__ import annotations

import json

import pytest

from benchmarks.chaos import run_chaos
from tests.conftest import fresh_postgres_schema
from tests.e2e.conftest import E2E_SETTINGS, run_in_thread
from tests.support.services import REDIS_URL, redis_or_skip


@pytest.mark.parametrize("rolling", [False, True], ids=["sigkill", "rolling-sigterm"])
def test_backends_stopped_mid_load_fail_no_job_and_their_tabs_carry_on(tmp_path, rolling):
    redis_or_skip("the chaos run")
    messages: list[str] = []
    results: list[dict] = []
    with fresh_postgres_schema("visionary_chaos") as database_url:

        async def chaos() -> None:
            results.append(
                await run_chaos(
                    clients=10, latency_ms=1000, stale_s=20, redis_url=REDIS_URL,
                    database_url=database_url, env=dict(E2E_SETTINGS), log=messages.append,
                    work=tmp_path / "cluster", rolling=rolling,
                )
            )  # fmt: skip

        run_in_thread(chaos, timeout_s=600)
    (result,) = results
    report = json.dumps(result) + "\n" + "\n".join(messages)
    assert result["jobs"] == 10, report
    assert result["jobs_on_killed_backend"] >= 1, report  # the stop hit running work
    assert result["jobs_ok"] == 10 and result["jobs_lost"] == 0, report
    assert result["jobs_unfinished_in_index"] == 0, report
    assert result["duplicates"] == 0 and result["orphans"] == 0, report
    assert result["tabs_that_lost_their_backend"] >= 1, report
    assert result["reconnected_tabs"] == result["tabs_that_lost_their_backend"], report
    if rolling:  # each drained: what ran there finished there
        assert result["jobs_retried"] == 0, report
    else:  # what ran on the killed one ran again on the survivor, once
        assert 1 <= result["jobs_retried"] <= result["jobs_on_killed_backend"], report
        assert result["wall_s"] < result["stale_timeout_s"] + 60, report
