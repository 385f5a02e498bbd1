"""Fixtures shared by every test: a migrated SQLite index and a local blob store in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from visionary_app.bench.azurite import Azurite
from visionary_app.services.blob_store import LocalBlobStore, UrlSigner
from visionary_app.services.catalog import Catalog
from visionary_app.services.database import make_engine, upgrade_to_head

SIGNING_KEY = b"test-signing-key-0123456789abcdef"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A SQLite index at the latest migration."""
    url = f"sqlite:///{tmp_path / 'index.db'}"
    upgrade_to_head(url)
    return url


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    engine = make_engine(database_url)
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
