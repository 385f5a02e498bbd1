"""Limits that hold against a client speaking the websocket protocol, not the page's buttons.

A cookie is whatever the client says it is, so visitors are limited per address as well as
per cookie (and together); and a job whose provider call started counts its images even when
it is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import RunningApp, launch_app, run_in_thread
from tests.support.reflex_client import ReflexClient
from visionary_app.state.generation import GenerationState


@pytest.fixture(scope="module")
def limited_app(tmp_path_factory) -> Iterator[RunningApp]:
    with launch_app(
        tmp_path_factory.mktemp("app-limits"),
        images_per_user_per_hour="4",
        anonymous_images_per_address_per_hour="2",
        anonymous_images_per_hour="3",
        offline_latency_ms="1500",
    ) as running:
        yield running


def _jobs(app: RunningApp) -> list[tuple[str, str, int]]:
    with contextlib.closing(sqlite3.connect(app.data_dir / "visionary.db")) as connection:
        return connection.execute("SELECT owner, status, images FROM generation_job").fetchall()


def test_new_cookies_do_not_multiply_the_visitors_budget_and_cancelling_refunds_nothing(
    limited_app: RunningApp,
):
    toasts: list[tuple[str, str]] = []

    async def rotate_cookies() -> None:
        # Five "visitors", each a fresh cookie on its own socket; one image each asked for.
        for _ in range(5):
            cookie = {"visionary_visitor": uuid.uuid4().hex}
            client = ReflexClient(limited_app.url, cookies=cookie)
            await client.connect()
            await client.send(GenerationState, "generate", form_data={"prompt": "a free image"})
            await asyncio.sleep(0.5)
            # Cancel while the provider is working: the image was paid for all the same.
            for card in client.get(GenerationState, "jobs", []) or []:
                await client.send(GenerationState, "cancel_job", job_id=card["job_id"])
            await asyncio.sleep(0.3)
            toasts.extend(client.toasts)
            await client.close()

    run_in_thread(rotate_cookies, timeout_s=120)
    jobs = [job for job in _jobs(limited_app) if job[0].startswith("visitor:")]
    counted = sum(images for _, _, images in jobs)
    # One address: its visitors' 2 images an hour, however many cookies it makes up (not 5,
    # nor the 3 all visitors share).
    assert len(jobs) == 2 and counted == 2, jobs
    assert any("visitors from your address have reached" in text for _, text in toasts)
    assert {status for _, status, _ in jobs} == {"cancelled"}  # each cancelled mid-call
