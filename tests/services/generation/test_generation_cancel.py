"""A cancelled generation keeps nothing, whatever step it was in when the cancel came."""

import asyncio
from pathlib import Path

import pytest

from tests.conftest import small_pipeline
from visionary_app.services.gallery.catalog import Catalog
from visionary_app.services.generation.providers import OfflineProvider
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.storage.local_blob_store import LocalBlobStore


def _blob_files(store: LocalBlobStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()] if store.root.exists() else []


class GatedStore(LocalBlobStore):
    """A real local store whose puts of one kind wait at a gate, to cancel mid-upload."""

    def __init__(self, *args, gate_suffix: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gate_suffix = gate_suffix
        self.reached = asyncio.Event()

    async def put(self, name, data, content_type, metadata):
        await super().put(name, data, content_type, metadata)
        if name.endswith(self.gate_suffix):
            self.reached.set()
            await asyncio.sleep(3600)


class GatedCatalog(Catalog):
    """A real catalog whose second insert waits until released (the first goes through)."""

    def __init__(self, engine, hold_from: int) -> None:
        super().__init__(engine)
        self.hold_from, self.adds = hold_from, 0
        self.reached, self.release = asyncio.Event(), asyncio.Event()

    async def add(self, image):
        self.adds += 1
        if self.adds >= self.hold_from:
            self.reached.set()
            await self.release.wait()
        return await super().add(image)


async def _cancel_when(task: asyncio.Task, reached: asyncio.Event) -> None:
    await asyncio.wait_for(reached.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancel_during_the_provider_call_stores_nothing(store, catalog):
    pipeline = small_pipeline(store, catalog, OfflineProvider(latency_ms=5000))
    task = asyncio.create_task(pipeline.generate("a slow fox"))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await catalog.count() == 0 and _blob_files(store) == []


async def test_cancel_mid_upload_removes_what_was_uploaded(tmp_path, signer, catalog):
    store = GatedStore(tmp_path / "blobs", signer, gate_suffix=".png")
    pipeline = small_pipeline(store, catalog)
    task = asyncio.create_task(pipeline.generate("a fox"))
    await _cancel_when(task, store.reached)
    assert await catalog.count() == 0 and _blob_files(store) == []


async def test_cancel_while_indexing_lets_the_insert_finish_then_discards_it(
    tmp_path, signer, engine
):
    store = LocalBlobStore(tmp_path / "blobs", signer)
    catalog = GatedCatalog(engine, hold_from=1)
    pipeline = small_pipeline(store, catalog)
    task = asyncio.create_task(pipeline.generate("a fox"))
    await asyncio.wait_for(catalog.reached.wait(), 10)
    task.cancel()
    await asyncio.sleep(0.05)
    catalog.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await catalog.count() == 0 and _blob_files(store) == []


async def test_cancel_after_part_of_a_batch_was_kept_discards_the_kept_ones(
    tmp_path, signer, engine
):
    store = LocalBlobStore(tmp_path / "blobs", signer)
    catalog = GatedCatalog(engine, hold_from=2)
    pipeline = small_pipeline(store, catalog)
    options = ImageOptions(size="256x256", n=2)
    task = asyncio.create_task(pipeline.generate_batch("two foxes", options, owner="user:alice"))
    await asyncio.wait_for(catalog.reached.wait(), 10)
    assert await catalog.count() == 1  # the first image was kept before the cancel
    task.cancel()
    catalog.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await catalog.count() == 0 and _blob_files(store) == []
