"""The index mirrors the store: rebuild from blobs alone, drop rows whose blob is gone."""

from datetime import timedelta
from pathlib import Path

from tests.conftest import small_pipeline
from visionary_app.services.blob_names import companion_blob_names
from visionary_app.services.catalog import Catalog
from visionary_app.services.database import make_engine, upgrade_to_head
from visionary_app.services.generation import GenerationPipeline
from visionary_app.services.mirror import reconcile

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
    return Catalog(make_engine(url))


def _snapshot(images) -> list[dict]:
    return [image.model_dump() for image in images]


async def test_rebuild_from_an_empty_index_gives_the_same_gallery(blob_store, tmp_path):
    original = _fresh_catalog(tmp_path, "original.db")
    for prompt in VARIED_PROMPTS:
        await _pipeline(blob_store, original).generate(prompt)
    before = await original.newest(50)

    rebuilt = _fresh_catalog(tmp_path, "rebuilt.db")  # "delete the database"
    report = await reconcile(blob_store, rebuilt, grace=NOW)

    assert len(report.indexed) == len(VARIED_PROMPTS)
    assert report.skipped == [] and report.removed_rows == []
    after = await rebuilt.newest(50)
    assert _snapshot(after) == _snapshot(before)
    assert [image.prompt for image in after] == list(reversed(VARIED_PROMPTS))
    again = await reconcile(blob_store, rebuilt, grace=NOW)
    assert again.indexed == [] and again.removed_rows == []


async def test_rows_whose_blob_is_gone_are_removed(blob_store, catalog):
    kept = await _pipeline(blob_store, catalog).generate("kept")
    lost = await _pipeline(blob_store, catalog).generate("lost")
    await blob_store.delete(lost.blob_name)

    report = await reconcile(blob_store, catalog, grace=NOW)
    assert report.removed_rows == [lost.blob_name]
    assert [image.id for image in await catalog.newest(10)] == [kept.id]


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
    report = await reconcile(blob_store, catalog, grace=NOW)
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
