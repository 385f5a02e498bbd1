"""The index mirrors the store: rebuild from blobs alone, drop rows whose blob is gone."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import ANYONE, small_pipeline
from visionary_app.models import Image, ImageKind
from visionary_app.services.gallery.catalog import Catalog, make_index_engine
from visionary_app.services.gallery.mirror import SyncRefused, reconcile
from visionary_app.services.generation.pipeline import GenerationPipeline, Recipe
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.generation.providers.offline import render_png
from visionary_app.services.generation.uploads import UploadLimits, clean_upload
from visionary_app.services.kit.database import upgrade_to_head
from visionary_app.services.storage.blob_names import companion_blob_names
from visionary_app.services.storage.local_blob_store import LocalBlobStore

NOW = timedelta(0)
VARIED_PROMPTS = [
    "🦊 a fox in the snow ❄️",
    "東京の夜景、ネオン、雨",
    'she said "hello" and it\'s fine',
    "first line\nsecond line\n\tindented",
    "<b>bold</b> & ../../etc/passwd",
    "a" * 2000,
    "狐" * 2000,  # too long for metadata: goes to a text blob
]


def _pipeline(store, catalog) -> GenerationPipeline:
    return small_pipeline(store, catalog)


def _fresh_catalog(tmp_path: Path, name: str) -> Catalog:
    url = f"sqlite:///{tmp_path / name}"
    upgrade_to_head(url)
    return Catalog(make_index_engine(url))


def _snapshot(images) -> list[dict]:
    return [image.as_dict() for image in images]  # records, as pages read them


async def test_rebuild_from_an_empty_index_gives_the_same_gallery(blob_store, tmp_path):
    original = _fresh_catalog(tmp_path, "original.db")
    for prompt in VARIED_PROMPTS:
        await _pipeline(blob_store, original).generate(prompt)
    before = await original.newest(50, viewer=ANYONE)

    rebuilt = _fresh_catalog(tmp_path, "rebuilt.db")  # "delete the database"
    report = await reconcile(blob_store, rebuilt, grace=NOW)

    assert len(report.indexed) == len(VARIED_PROMPTS)
    assert report.skipped == [] and report.removed_rows == []
    after = await rebuilt.newest(50, viewer=ANYONE)
    assert _snapshot(after) == _snapshot(before)
    assert [image.prompt for image in after] == list(reversed(VARIED_PROMPTS))
    again = await reconcile(blob_store, rebuilt, grace=NOW)
    assert again.indexed == [] and again.removed_rows == []


async def test_a_rebuild_keeps_kinds_and_lineage(blob_store, tmp_path):
    original = _fresh_catalog(tmp_path, "original.db")
    pipeline = _pipeline(blob_store, original)
    source = await pipeline.generate("a lantern", owner="user:alice")
    reference = await pipeline.generate("a moth", owner="user:alice")
    recipe = Recipe(ImageKind.EDITED, "add moths", ImageOptions(size="256x256"),
                    (source, reference))  # fmt: skip
    (edited,) = (await pipeline.make(recipe, owner="user:bob")).kept
    upload = await pipeline.keep_upload(
        "user:bob", "cat.png", clean_upload(render_png("a cat", 64, 64), UploadLimits())
    )
    before = await original.newest(50, viewer=ANYONE)

    rebuilt = _fresh_catalog(tmp_path, "rebuilt.db")
    await reconcile(blob_store, rebuilt, grace=NOW)
    after = await rebuilt.newest(50, viewer=ANYONE)
    assert _snapshot(after) == _snapshot(before)
    kinds = {image.id: (image.kind, image.sources) for image in after}
    assert kinds[edited.id] == ("edited", [source.id, reference.id])
    assert kinds[upload.id] == ("upload", [])


async def test_rows_whose_blob_is_gone_are_removed(blob_store, catalog):
    kept = await _pipeline(blob_store, catalog).generate("kept")
    lost = await _pipeline(blob_store, catalog).generate("lost")
    await blob_store.delete(lost.blob_name)

    report = await reconcile(blob_store, catalog, grace=NOW)
    assert report.removed_rows == [lost.blob_name]
    assert [image.id for image in await catalog.newest(10, viewer=ANYONE)] == [kept.id]


async def test_dry_run_reports_and_changes_nothing(blob_store, catalog, tmp_path):
    image = await _pipeline(blob_store, catalog).generate("orphan to be")
    await blob_store.delete(image.blob_name)
    empty = _fresh_catalog(tmp_path, "empty.db")
    await _pipeline(blob_store, empty).generate("unindexed")

    report = await reconcile(blob_store, catalog, dry_run=True, grace=NOW)
    assert report.removed_rows == [image.blob_name]
    assert len(report.indexed) == 1
    assert "dry run, nothing changed" in report.lines()[-1]
    assert all(line.startswith(("would ", "sync")) for line in report.lines())
    assert await catalog.count() == 1  # the orphan row is still there, nothing was added


async def test_young_blobs_are_left_for_the_running_generation(blob_store, tmp_path):
    await _pipeline(blob_store, _fresh_catalog(tmp_path, "a.db")).generate("just made")
    fresh = _fresh_catalog(tmp_path, "b.db")
    report = await reconcile(blob_store, fresh, grace=timedelta(minutes=5))
    assert len(report.in_flight) == 1 and report.indexed == []
    assert await fresh.count() == 0


async def test_undecodable_blobs_are_skipped_with_a_reason(blob_store, catalog, tmp_path):
    image = await _pipeline(blob_store, _fresh_catalog(tmp_path, "other.db")).generate("x")
    await blob_store.delete(image.blob_name)
    await blob_store.put(image.blob_name, b"png", "image/png", {"format": "1"})
    report = await reconcile(blob_store, catalog, grace=NOW)
    assert [name for name, _ in report.skipped] == [image.blob_name]
    assert "cannot be decoded" in report.skipped[0][1]
    assert await catalog.count() == 0


async def test_orphan_thumbnails_and_text_blobs_are_deleted(blob_store, catalog):
    image = await _pipeline(blob_store, catalog).generate("🦊" * 3000)
    companions = sorted(companion_blob_names(image.blob_name))
    for name in companions:
        assert await blob_store.exists(name)
    await blob_store.delete(image.blob_name)
    report = await reconcile(blob_store, catalog, grace=NOW, force=True)  # the only image
    assert report.removed_companions == companions
    for name in companions:
        assert not await blob_store.exists(name)


async def test_sync_racing_the_pipeline_never_loses_the_row(blob_store, catalog):
    # Sync indexes the blob between upload and insert: the pipeline must still succeed.
    class SyncingCatalog(Catalog):
        async def add(self, image):
            await reconcile(blob_store, catalog, grace=NOW)
            return await super().add(image)

    racing = SyncingCatalog(catalog._engine)
    image = await _pipeline(blob_store, racing).generate("racing")
    assert (await catalog.get(image.id)).prompt == "racing"
    assert await blob_store.exists(image.blob_name)


async def test_a_missing_store_is_refused_even_with_force(make_blob_store, catalog):
    indexed = await _pipeline(make_blob_store(), catalog).generate("kept")
    # A mistyped container or data directory: a store that does not exist at all.
    missing = make_blob_store()
    if isinstance(missing, LocalBlobStore):
        missing = LocalBlobStore(missing.root.parent / "mistyped", missing.signer)
    else:
        missing.container_name = f"mistyped-{missing.container_name}"
        missing._container = missing._service.get_container_client(missing.container_name)
    for force in (False, True):
        with pytest.raises(SyncRefused, match="blob store is missing"):
            await reconcile(missing, catalog, grace=NOW, force=force)
    assert [image.id for image in await catalog.newest(10, viewer=ANYONE)] == [indexed.id]


async def test_an_empty_listing_removes_nothing_without_force(blob_store, catalog):
    made = [await _pipeline(blob_store, catalog).generate(f"image {i}") for i in range(3)]
    for image in made:  # the container is there, and empty
        for name in (image.blob_name, *companion_blob_names(image.blob_name)):
            await blob_store.delete(name)
    with pytest.raises(SyncRefused, match="lists no images, so all 3 rows"):
        await reconcile(blob_store, catalog, grace=NOW)
    assert await catalog.count() == 3
    dry = await reconcile(blob_store, catalog, grace=NOW, dry_run=True)
    assert "a real run would refuse" in dry.lines()[-1]
    report = await reconcile(blob_store, catalog, grace=NOW, force=True)
    assert len(report.removed_rows) == 3 and await catalog.count() == 0


async def test_removing_more_than_a_quarter_needs_force(blob_store, catalog, tmp_path):
    # 40 rows, 12 of whose blobs are gone: more than 25 % and more than 10 rows.
    other = _fresh_catalog(tmp_path, "other.db")
    kept = [await _pipeline(blob_store, other).generate(f"kept {i}") for i in range(28)]
    rows = [Image(**image.model_dump()) for image in kept]
    rows += [Image(**{**image.model_dump(), "id": uuid.uuid4(), "blob_name": _gone(i)})
             for i, image in enumerate(kept[:12])]  # fmt: skip
    await catalog.add_many(rows)
    with pytest.raises(SyncRefused, match="12 of 40 rows would be removed"):
        await reconcile(blob_store, catalog, grace=NOW)
    assert await catalog.count() == 40
    report = await reconcile(blob_store, catalog, grace=NOW, force=True)
    assert len(report.removed_rows) == 12 and await catalog.count() == 28


def _gone(index: int) -> str:
    return f"images/2026/01/01/{uuid.UUID(int=index + 1)}.png"
