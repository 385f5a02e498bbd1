"""The load benchmark's client works against the real app (small, so it stays a test)."""

from __future__ import annotations

import asyncio
import threading

from benchmarks.load import JOB_TIMEOUT_S, run_load
from tests.e2e.conftest import RunningApp


def test_a_small_load_run_brings_every_job_back_exactly_once(app: RunningApp):
    result: dict = {}

    def run() -> None:
        result.update(
            asyncio.run(
                run_load(
                    clients=3, images_per_client=2, latency_ms=0, url=app.url, env={},
                    log=lambda _message: None,
                )
            )
        )  # fmt: skip

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    # The run gives up on a job after JOB_TIMEOUT_S; wait for that, so that a stuck run fails
    # here, with its own report, and not inside a later test.
    thread.join(JOB_TIMEOUT_S + 60)
    assert not thread.is_alive(), "the load run did not end"
    assert result, "the load run raised (see the thread's exception above)"
    assert result["jobs"] == 6
    assert (result["jobs_ok"], result["jobs_lost"], result["duplicates"]) == (6, 0, 0)
    assert result["events_timed"] > 0 and result["event_latency_ms_p95"] is not None


def test_a_small_api_run_brings_every_job_back_exactly_once():
    from benchmarks.api import clients_at_once, page_cost

    result: dict = {}
    env = {"VISIONARY_PROVIDER": "offline", "VISIONARY_IMAGE_SIZE": "256x256",
           "VISIONARY_IMAGES_PER_USER_PER_HOUR": "0", "VISIONARY_IMAGES_PER_DAY": "0"}  # fmt: skip

    def run() -> None:
        log = lambda _message: None  # noqa: E731
        result["load"] = asyncio.run(clients_at_once(3, 0, None, env, log))
        result["page"] = asyncio.run(page_cost(200, 3, log))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(240)
    load = result["load"]
    assert (load["jobs_ok"], load["jobs_lost"], load["duplicates"]) == (3, 0, 0)
    assert result["page"]["api_page_ms_p50"] > 0 and result["page"]["ui_page_ms_p50"] > 0
