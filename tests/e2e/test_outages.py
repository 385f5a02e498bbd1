"""Storage and database outages in the middle of a load: clear failures, nothing half-written,
and the app back by itself when the service is.

Six headless tabs (the app's websocket protocol) generate at once; while their provider calls
run, Azurite is stopped, or PostgreSQL stops taking connections and the app's are cut. Every
tab hears what went wrong, `sync --dry-run` finds nothing to repair, `/readyz` names the
failing service meanwhile, and once the service returns the same tabs generate again without
anyone restarting anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL, fresh_postgres_schema
from tests.e2e.conftest import RunningApp, launch_app, run_in_thread
from tests.support.app_server import ROOT
from tests.support.azurite import Azurite
from tests.support.reflex_client import ReflexClient
from visionary_app.services.gallery.catalog import make_index_engine
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState

TABS = 6
LATENCY_MS = 2500  # long enough to cut a service while every provider call is under way


@pytest.fixture(scope="module")
def azurite_for_outages(tmp_path_factory) -> Iterator[Azurite]:
    with Azurite(tmp_path_factory.mktemp("azurite-outages")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with fresh_postgres_schema("visionary_outage") as url:
        yield url


@pytest.fixture(scope="module")
def outage_app(azurite_for_outages, database_url, tmp_path_factory) -> Iterator[RunningApp]:
    with launch_app(
        tmp_path_factory.mktemp("app-outages"),
        azurite=azurite_for_outages,
        extra_env={"VISIONARY_DATABASE_URL": database_url},
        offline_latency_ms=str(LATENCY_MS),
        storage_timeout_seconds="1.5",
        storage_retries="1",
        max_concurrent_generations=str(TABS),
        max_running_jobs_per_user="2",
    ) as running:
        yield running


def _ready(app: RunningApp) -> tuple[int, dict]:
    response = httpx.get(f"{app.url}/readyz", timeout=10)
    return response.status_code, response.json()


def _wait_ready(app: RunningApp, timeout_s: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        with contextlib.suppress(httpx.HTTPError):
            if _ready(app)[0] == 200:
                return time.monotonic() - started
        time.sleep(0.5)
    pytest.fail(f"the app did not report ready {timeout_s} s after the service came back")


def _nothing_to_repair(app: RunningApp) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "visionary_app", "sync", "--dry-run", "--grace-seconds", "0"],
        cwd=ROOT, env=app.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert "0 indexed, 0 rows removed, 0 orphan" in summary, done.stdout
    return summary


def _shown(tab: ReflexClient, prompt: str) -> bool:
    return any(t.get("prompt") == prompt for t in tab.get(GalleryState, "images", []) or [])


def _told(tab: ReflexClient, prompt: str, words: str) -> bool:
    return any(
        kind == "error" and (prompt[:30] in text or words in text) for kind, text in tab.toasts
    )


async def _tabs(app: RunningApp) -> list[ReflexClient]:
    tabs = [
        ReflexClient(app.url, cookies={"visionary_visitor": uuid.uuid4().hex}) for _ in range(TABS)
    ]
    await asyncio.gather(*(tab.connect() for tab in tabs))
    return tabs


async def _generate_all(tabs: list[ReflexClient], label: str) -> list[str]:
    prompts = [f"{label} {i} {uuid.uuid4().hex[:6]}" for i in range(len(tabs))]
    for tab, prompt in zip(tabs, prompts, strict=True):
        await tab.send(GenerationState, "generate", form_data={"prompt": prompt})
    return prompts


async def _all_shown(tabs: list[ReflexClient], prompts: list[str], timeout_s: float = 60):
    for tab, prompt in zip(tabs, prompts, strict=True):
        await tab.wait_for(lambda t=tab, p=prompt: _shown(t, p), timeout_s)


async def _wait_running(app: RunningApp, database_url: str, prompts: list[str]) -> None:
    """Until every one of these jobs has called the provider."""
    engine = make_index_engine(database_url)
    try:
        for _ in range(200):
            with engine.connect() as connection:
                running = connection.execute(
                    sa.text("SELECT count(*) FROM generation_job WHERE status = 'running' "
                            "AND prompt = ANY(:prompts)"),
                    {"prompts": prompts},
                ).scalar_one()  # fmt: skip
            if running == len(prompts):
                return
            await asyncio.sleep(0.05)
    finally:
        engine.dispose()
    pytest.fail("the jobs did not all start")


def test_storage_outage_mid_load_fails_clearly_and_recovers(
    outage_app: RunningApp, azurite_for_outages: Azurite, database_url: str
):
    async def scenario() -> None:
        tabs = await _tabs(outage_app)
        await _all_shown(tabs, await _generate_all(tabs, "before the outage"))

        during = await _generate_all(tabs, "storage goes down")
        await _wait_running(outage_app, database_url, during)
        azurite_for_outages.stop()
        try:
            status, body = _ready(outage_app)
            assert status == 503 and not body["checks"]["blob_store"]["ok"], body
            for tab, prompt in zip(tabs, during, strict=True):
                await tab.wait_for(
                    lambda t=tab, p=prompt: _told(t, p, "storage is unavailable"), 60
                )
                assert not _shown(tab, prompt)
        finally:
            azurite_for_outages.start()
        print(f"ready again {_wait_ready(outage_app):.1f} s after Azurite came back")
        await _all_shown(tabs, await _generate_all(tabs, "after the outage"))
        await asyncio.gather(*(tab.close() for tab in tabs))

    run_in_thread(scenario, timeout_s=240)
    print(_nothing_to_repair(outage_app))


@contextlib.contextmanager
def _database_refusing(database_url: str) -> Iterator[None]:
    """The app's database takes no connections, and the app's open ones are cut."""
    database = make_index_engine(database_url).url.database
    admin = make_index_engine(POSTGRES_URL.rsplit("/", 1)[0] + "/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false'))
        connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": database},
        )
        try:
            yield
        finally:
            connection.execute(sa.text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true'))
    admin.dispose()


def test_database_outage_mid_load_fails_clearly_and_recovers(
    outage_app: RunningApp, database_url: str
):
    async def scenario() -> None:
        tabs = await _tabs(outage_app)
        await _all_shown(tabs, await _generate_all(tabs, "before the database goes"))

        during = await _generate_all(tabs, "database goes down")
        await _wait_running(outage_app, database_url, during)
        with _database_refusing(database_url):
            status, body = _ready(outage_app)
            assert status == 503 and not body["checks"]["database"]["ok"], body
            # Jobs whose images cannot be indexed say so; nothing is kept without its row.
            for tab, prompt in zip(tabs, during, strict=True):
                await tab.wait_for(lambda t=tab, p=prompt: _told(t, p, "gallery index"), 60)
                assert not _shown(tab, prompt)
            # A new job cannot even be queued, and says why.
            refused = f"refused while down {uuid.uuid4().hex[:6]}"
            await tabs[0].send(GenerationState, "generate", form_data={"prompt": refused})
            await tabs[0].wait_for(lambda: _told(tabs[0], refused, "job queue is unavailable"), 30)
        print(f"ready again {_wait_ready(outage_app):.1f} s after PostgreSQL came back")
        await _all_shown(tabs, await _generate_all(tabs, "after the database is back"))
        await asyncio.gather(*(tab.close() for tab in tabs))

    run_in_thread(scenario, timeout_s=240)
    print(_nothing_to_repair(outage_app))
