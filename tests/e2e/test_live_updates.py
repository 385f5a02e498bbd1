"""Pushed, not polled: open tabs learn of new, hidden and deleted images without asking.

Every tab here is a headless client on the app's real websocket protocol. After it has loaded,
a tab sends nothing of its own; whatever reaches it was pushed by the server. The database is
watched through the worker's own statement counter while nothing happens.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import RunningApp, launch_app, run_in_thread
from tests.support.reflex_client import ReflexClient
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState
from visionary_app.state.lightbox import LightboxState

METRICS_TOKEN = "metrics-token-for-the-live-update-test-0123456789"


@pytest.fixture(scope="module")
def live_app(tmp_path_factory) -> Iterator[RunningApp]:
    with launch_app(
        tmp_path_factory.mktemp("app-live"), metrics_token=METRICS_TOKEN, offline_latency_ms="300"
    ) as running:
        yield running


def _statements(app: RunningApp) -> float:
    """SQL statements the worker has sent so far (its Prometheus counter)."""
    text = httpx.get(
        f"{app.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    ).text
    match = re.search(r"^visionary_db_statements_total ([0-9.e+]+)$", text, re.MULTILINE)
    assert match is not None, text[:500]
    return float(match.group(1))


def _tab(app: RunningApp) -> ReflexClient:
    return ReflexClient(app.url, cookies={"visionary_visitor": uuid.uuid4().hex})


def _prompts(client: ReflexClient) -> list[str]:
    return [tile["prompt"] for tile in client.get(GalleryState, "images", []) or []]


async def _wait_for(client: ReflexClient, condition, what: str, timeout_s: float = 30) -> None:
    try:
        await client.wait_for(condition, timeout_s)
    except TimeoutError:
        pytest.fail(f"{what}: the tab shows {_prompts(client)!r}")


def test_new_hidden_and_deleted_images_reach_other_tabs_unasked(live_app: RunningApp):
    word = f"harbour{uuid.uuid4().hex[:6]}"

    async def scenario() -> None:
        alice, bob, searching, elsewhere = (_tab(live_app) for _ in range(4))
        for tab in (alice, bob, searching, elsewhere):
            await tab.connect()
        await searching.send(GalleryState, "set_search", value=word)
        await elsewhere.send(GalleryState, "set_search", value="nothing-like-it")
        await asyncio.sleep(2)  # loaded, and greeted by the worker as new arrivals

        # Nothing happens: the worker sends (almost) nothing to the database.
        before, started = _statements(live_app), time.monotonic()
        await asyncio.sleep(6)
        idle = _statements(live_app) - before
        idle_rate = idle / (time.monotonic() - started)
        # Four tabs polling every 3 s sent about 3 statements a second; what is left is the
        # watcher of abandoned jobs (one query every 15 s).
        assert idle_rate < 0.5, f"{idle} statements in 6 s with four idle tabs"

        prompt = f"a {word} at dawn"
        await alice.send(GenerationState, "generate", form_data={"prompt": prompt})
        await _wait_for(alice, lambda: prompt in _prompts(alice), "Alice's own image")
        await _wait_for(bob, lambda: prompt in _prompts(bob), "pushed to Bob")
        await _wait_for(searching, lambda: prompt in _prompts(searching), "pushed to a search")
        await asyncio.sleep(1)
        assert prompt not in _prompts(elsewhere), "a search for something else got it"

        # Alice makes it private: it leaves every other tab, and stays in hers.
        image_id = next(t["id"] for t in alice.get(GalleryState, "images") if t["prompt"] == prompt)
        await alice.send(LightboxState, "open_image", image_id=image_id)
        await alice.send(LightboxState, "toggle_visibility")
        await _wait_for(bob, lambda: prompt not in _prompts(bob), "made private, gone from Bob")
        await _wait_for(searching, lambda: prompt not in _prompts(searching), "gone from search")
        assert prompt in _prompts(alice)

        # Shared again, it comes back; deleted, it goes for good.
        await alice.send(LightboxState, "toggle_visibility")
        await _wait_for(bob, lambda: prompt in _prompts(bob), "shared again, back for Bob")
        await alice.send(LightboxState, "delete")
        await _wait_for(bob, lambda: prompt not in _prompts(bob), "deleted, gone from Bob")
        await _wait_for(alice, lambda: prompt not in _prompts(alice), "deleted, gone from Alice")
        for tab in (alice, bob, searching, elsewhere):
            await tab.close()

    run_in_thread(scenario, timeout_s=120)
