"""A backend killed with SIGKILL under load, behind Caddy: nothing lost, doubled or orphaned.

The same run as `make bench ARGS="chaos"`, smaller: ten tabs on two backends (Redis and
PostgreSQL), one backend killed while it runs jobs.
"""

from __future__ import annotations

import json

from benchmarks.chaos import run_chaos
from tests.conftest import fresh_postgres_schema
from tests.e2e.conftest import E2E_SETTINGS, run_in_thread
from tests.support.services import REDIS_URL, redis_or_skip


def test_a_backend_killed_mid_load_loses_no_job_and_its_tabs_carry_on(tmp_path):
    redis_or_skip("the chaos run")
    messages: list[str] = []
    results: list[dict] = []
    with fresh_postgres_schema("visionary_chaos") as database_url:

        async def chaos() -> None:
            results.append(
                await run_chaos(
                    clients=10, latency_ms=1000, stale_s=30, redis_url=REDIS_URL,
                    database_url=database_url, env=dict(E2E_SETTINGS), log=messages.append,
                    work=tmp_path / "cluster",
                )
            )  # fmt: skip

        run_in_thread(chaos, timeout_s=600)
    (result,) = results
    report = json.dumps(result) + "\n" + "\n".join(messages)
    assert result["jobs"] == 10, report
    assert result["jobs_on_killed_backend"] >= 1, report  # the kill hit running work
    assert result["jobs_lost"] == 0 and result["jobs_unfinished_in_index"] == 0, report
    assert result["jobs_ok"] + result["jobs_failed_with_reason"] == 10, report
    assert result["jobs_failed_with_reason"] >= 1, report
    assert result["duplicates"] == 0 and result["orphans"] == 0, report
    assert result["tabs_that_lost_their_backend"] >= 1, report
    assert result["reconnected_tabs"] == result["tabs_that_lost_their_backend"], report
    assert result["wall_s"] < result["stale_timeout_s"] + 30, report
