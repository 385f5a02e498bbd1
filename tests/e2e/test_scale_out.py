"""Scale-out: the production layout, two browsers through Caddy to two backends.

Caddy (deploy/Caddyfile, TLS on) serves the exported frontend and balances two backend
processes on Redis and PostgreSQL. Each browser's websocket lands on a backend; the test makes
sure the two land on different ones (by the worker that ran each job), then checks that what
one backend does, the other sees: images pushed to both galleries, the concurrency cap, and the
daily limit.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, expect

from tests.conftest import fresh_postgres_schema
from tests.e2e.conftest import E2E_SETTINGS, ITEM, JOB_CARD, generate, studio_page, unique
from tests.support.app_server import AppStartFailed
from tests.support.cluster import Cluster, run_cluster
from tests.support.services import REDIS_URL, redis_or_skip
from visionary_app.services.gallery.catalog import make_index_engine

DAILY_LIMIT = 16
LATENCY_MS = 2000


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for the app (its workers migrate it at start-up)."""
    redis_or_skip("scale-out")
    with fresh_postgres_schema("visionary_scale") as url:
        yield url


@pytest.fixture(scope="module")
def scaled_app(database_url: str, tmp_path_factory) -> Iterator[Cluster]:
    env = {
        **E2E_SETTINGS,
        "REFLEX_REDIS_URL": REDIS_URL,
        "VISIONARY_DATABASE_URL": database_url,
        "VISIONARY_IMAGES_PER_DAY": str(DAILY_LIMIT),
        "VISIONARY_MAX_CONCURRENT_GENERATIONS": "1",
        "VISIONARY_OFFLINE_LATENCY_MS": str(LATENCY_MS),
    }
    try:
        with run_cluster(tmp_path_factory.mktemp("app-scaled"), env, backends=2) as cluster:
            yield cluster
    except AppStartFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def index(database_url: str) -> Iterator[sa.Engine]:
    engine = make_index_engine(database_url)
    yield engine
    engine.dispose()


def _worker_of(index: sa.Engine, prompt: str, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with index.connect() as connection:
            worker = connection.execute(
                sa.text(
                    "SELECT worker FROM generation_job WHERE prompt = :p AND status <> 'queued'"
                ),
                {"p": prompt},
            ).scalar()
        if worker:
            return worker
        time.sleep(0.2)
    raise AssertionError(f"no worker started {prompt!r}")


def _images(index: sa.Engine) -> int:
    with index.connect() as connection:
        return connection.execute(sa.text("SELECT count(*) FROM image")).scalar_one()


def test_two_browsers_on_two_workers_share_images_caps_and_limits(
    browser: Browser, scaled_app: Cluster, index: sa.Engine
):
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(studio_page(browser, scaled_app.url, timeout_ms=30_000))
        first_prompt = unique("made by the first browser")
        generate(first, first_prompt)
        first_worker = _worker_of(index, first_prompt)

        # Open browsers until one is served by the other worker (each costs one image).
        second = second_prompt = None
        for attempt in range(10):  # each lands on either worker; ten tries miss 1 in 1,000
            page = stack.enter_context(studio_page(browser, scaled_app.url, timeout_ms=30_000))
            prompt = unique(f"made by another browser, try {attempt}")
            generate(page, prompt)
            if _worker_of(index, prompt) != first_worker:
                second, second_prompt = page, prompt
                break
        assert second is not None, "every browser landed on the same worker"

        # Each gallery shows the other's image without a reload.
        for page in (first, second):
            for prompt in (first_prompt, second_prompt):
                expect(page.locator(ITEM).filter(has_text=prompt)).to_have_count(1, timeout=30_000)

        # One provider call at a time, app-wide: the second worker's job waits for the first's.
        running, waiting = unique("cap: runs"), unique("cap: waits")
        generate(first, running)
        expect(first.locator(JOB_CARD).filter(has_text=running)).to_have_attribute(
            "data-status", "running"
        )
        generate(second, waiting)
        expect(second.locator(JOB_CARD).filter(has_text=waiting)).to_have_attribute(
            "data-status", "queued"
        )
        expect(second.locator(ITEM).filter(has_text=waiting)).to_have_count(1, timeout=30_000)

        # The daily limit counts the images of both workers.
        for number in range(DAILY_LIMIT - _images(index)):
            generate((first, second)[number % 2], unique("filling the day"))
        for page in (first, second):
            expect(page.locator(JOB_CARD)).to_have_count(0, timeout=90_000)
        assert _images(index) == DAILY_LIMIT
        generate(second, unique("one more than the day allows"))
        warning = second.locator('[data-sonner-toast][data-type="warning"]')
        expect(warning).to_contain_text(f"limit of {DAILY_LIMIT} images per day")
        assert _images(index) == DAILY_LIMIT
        with index.connect() as connection:
            workers = connection.execute(
                sa.text("SELECT count(DISTINCT worker) FROM generation_job")
            ).scalar_one()
        assert workers == 2
