"""Azure storage outages reach the user as clear errors, in bounded time, with nothing stored."""

import time
import uuid
from datetime import UTC, datetime

import pytest

from tests.conftest import small_pipeline
from tests.support.azurite import Azurite
from visionary_app.services.gallery.catalog import Catalog, make_index_engine
from visionary_app.services.generation.pipeline import GenerationFailed, GenerationPipeline
from visionary_app.services.storage.azure_blob_store import AzureBlobStore
from visionary_app.services.storage.blob_names import is_image_blob_name, make_blob_name
from visionary_app.services.storage.blob_store import StorageError

TIMEOUT_S = 1.5
RETRIES = 1
# Each attempt may spend the connect plus the read timeout; one linear backoff in between.
BOUND_S = (RETRIES + 1) * 2 * TIMEOUT_S + RETRIES * 0.5 + 2.0


@pytest.fixture
def own_azurite(tmp_path):
    with Azurite(tmp_path / "azurite") as emulator:
        yield emulator


@pytest.fixture
async def store(own_azurite):
    store = AzureBlobStore.from_connection_string(
        own_azurite.connection_string, "images", 1800, timeout_s=TIMEOUT_S, retries=RETRIES
    )
    yield store
    await store.close()


def _pipeline(store, catalog) -> GenerationPipeline:
    return small_pipeline(store, catalog)


async def _all_blobs(store) -> list[str]:
    return [blob.name async for blob in store.list_blobs()]


async def test_stopped_storage_fails_fast_and_stores_nothing(store, own_azurite, catalog):
    await _pipeline(store, catalog).generate("works before the outage")
    own_azurite.stop()
    started = time.monotonic()
    with pytest.raises(GenerationFailed, match="storage is unavailable"):
        await _pipeline(store, catalog).generate("during the outage")
    assert time.monotonic() - started < BOUND_S
    assert await catalog.count() == 1

    own_azurite.start()  # same location and port: the earlier blobs are still there
    images = [name for name in await _all_blobs(store) if is_image_blob_name(name)]
    assert len(images) == 1


async def test_frozen_storage_answers_within_the_configured_bound(store, own_azurite, catalog):
    await store.ensure_container()
    own_azurite.freeze()
    try:
        started = time.monotonic()
        with pytest.raises(StorageError):
            await store.put(
                make_blob_name(uuid.uuid4(), datetime.now(UTC), "image/png"), b"x", "image/png", {}
            )
        elapsed = time.monotonic() - started
    finally:
        own_azurite.thaw()
    assert TIMEOUT_S <= elapsed < BOUND_S
    assert await catalog.count() == 0


async def test_index_failure_after_upload_removes_the_blob(store, tmp_path):
    unmigrated = Catalog(make_index_engine(f"sqlite:///{tmp_path / 'no-tables.db'}"))
    with pytest.raises(GenerationFailed, match="discarded"):
        await _pipeline(store, unmigrated).generate("indexed never")
    assert await _all_blobs(store) == []


async def test_long_prompt_text_blob_is_removed_when_the_image_upload_fails(
    store, own_azurite, catalog
):
    uploaded: list[str] = []

    class ImageUploadFails(AzureBlobStore):
        async def put(self, name, data, content_type, metadata):
            uploaded.append(content_type)
            if content_type == "image/png":
                raise StorageError("simulated failure of the second upload")
            await super().put(name, data, content_type, metadata)

    failing = ImageUploadFails.from_connection_string(
        own_azurite.connection_string, "images", 1800, timeout_s=TIMEOUT_S, retries=RETRIES
    )
    try:
        with pytest.raises(GenerationFailed):
            await _pipeline(failing, catalog).generate("🦊" * 3000)
    finally:
        await failing.close()
    # The thumbnail and text blob went up first...
    assert uploaded == ["image/webp", "application/json", "image/png"]
    assert await _all_blobs(store) == []  # ...and was removed with the failed image
    assert await catalog.count() == 0
