"""Fixtures shared by every test: a migrated SQLite index and a local blob store in tmp_path."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from benchmarks.databases import LOCAL_POSTGRES, fresh_schema
from tests.support.azurite import Azurite
from visionary_app.api.media import media_api
from visionary_app.models import Image
from visionary_app.services.access.ownership import Viewer
from visionary_app.services.gallery.catalog import Catalog, make_index_engine
from visionary_app.services.kit.database import upgrade_to_head
from visionary_app.services.storage.azure_blob_store import AzureBlobStore
from visionary_app.services.storage.blob_names import make_blob_name
from visionary_app.services.storage.local_blob_store import LocalBlobStore
from visionary_app.services.storage.url_signing import UrlSigner

SIGNING_KEY = b"test-signing-key-0123456789abcdef"
# A viewer who owns nothing: sees exactly the shared images (every image tests make by default).
ANYONE = Viewer(owner="visitor:anyone")


def indexed_image(created_at: datetime, prompt: str = "p", **fields) -> Image:
    """An index row (with no blob behind it) for catalog, search and gallery tests."""
    image_id = uuid.uuid4()
    values = {
        "id": image_id, "blob_name": make_blob_name(image_id, created_at, "image/png"),
        "prompt": prompt, "created_at": created_at, "provider": "offline",
        "model": "offline-preview", "width": 64, "height": 64, "content_type": "image/png",
        "byte_size": 10,
    }  # fmt: skip
    values.update(fields)
    return Image(**values)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A SQLite index at the latest migration."""
    url = f"sqlite:///{tmp_path / 'index.db'}"
    upgrade_to_head(url)
    return url


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    engine = make_index_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def catalog(engine: sa.Engine) -> Catalog:
    return Catalog(engine)


@pytest.fixture
def signer() -> UrlSigner:
    return UrlSigner(SIGNING_KEY, ttl_seconds=1800)


@pytest.fixture
def store(tmp_path: Path, signer: UrlSigner) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", signer)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run browser tests last: the fast tests report first, and Playwright's sync API keeps an
    event loop on the main thread for the rest of the session, which async tests cannot share.
    """
    items.sort(key=lambda item: "/e2e/" in str(item.path))


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite for the session (tests that stop or freeze it start their own)."""
    with Azurite(tmp_path_factory.mktemp("azurite")) as emulator:
        yield emulator


@pytest.fixture(params=["local", "azure"])
async def make_blob_store(request, tmp_path: Path) -> AsyncIterator:
    """Factory of stores of one backend (local directory, or a fresh Azurite container)."""
    made: list = []

    def make(ttl_seconds: int = 1800):
        if request.param == "local":
            store = LocalBlobStore(tmp_path / "blobs", UrlSigner(SIGNING_KEY, ttl_seconds))
        else:
            emulator = request.getfixturevalue("azurite")
            store = AzureBlobStore.from_connection_string(
                emulator.connection_string,
                f"t-{uuid.uuid4().hex[:16]}" if not made else made[0].container_name,
                ttl_seconds,
                timeout_s=5,
                retries=1,
            )
        made.append(store)
        return store

    yield make
    for store in made:
        if isinstance(store, AzureBlobStore):
            await store.close()


@pytest.fixture
def blob_store(make_blob_store):
    """A store of each backend, for contract tests."""
    return make_blob_store()


async def fetch(store, url: str) -> tuple[int, bytes]:
    """GET a signed URL the way a browser would: through the app for local URLs."""
    if url.startswith("/"):
        client = TestClient(media_api(lambda: store))
        response = client.get(url)
        return response.status_code, response.content
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
        return response.status_code, response.content


def small_pipeline(store, catalog, provider=None, max_prompt_length: int = 4000):
    """A pipeline on the offline provider making small (256 px) images, for fast tests."""
    from visionary_app.services.generation.pipeline import GenerationPipeline
    from visionary_app.services.generation.providers import OfflineProvider

    return GenerationPipeline(
        provider or OfflineProvider(),
        store,
        catalog,
        max_prompt_length=max_prompt_length,
        default_size="256x256",
    )


POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", LOCAL_POSTGRES)


@contextlib.contextmanager
def fresh_postgres_schema(prefix: str = "visionary_test") -> Iterator[str]:
    """The URL of a new, empty schema (dropped afterwards, with the search schema beside it).

    Skips when PostgreSQL is unreachable, except under CI, where that is a failure.
    """
    server = make_index_engine(POSTGRES_URL)
    try:
        server.connect().close()
    except sa.exc.OperationalError as exc:
        server.dispose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    server.dispose()
    with fresh_schema(POSTGRES_URL, prefix) as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A migrated index in a fresh Postgres schema (skips if Postgres is unreachable, not in CI)."""
    with fresh_postgres_schema() as url:
        upgrade_to_head(url)
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    """A migrated index on each database in turn."""
    return request.getfixturevalue("database_url" if request.param == "sqlite" else "postgres_url")
